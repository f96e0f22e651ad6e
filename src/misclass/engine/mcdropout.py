"""Monte Carlo dropout (Gal & Ghahramani, 2016): T stochastic forward passes with only the
dropout layers active (batch norm and everything else stay in eval mode).

Per image, from the T softmax vectors ``p_t`` (natural logarithms):

- mean probabilities ``p = mean_t p_t`` (what the store keeps as the model's prediction);
- predictive entropy ``H[p] = -sum_c p_c log p_c`` (column ``mc_entropy``);
- mutual information between the prediction and the weights (BALD)
  ``H[p] - mean_t H[p_t]`` (``mc_mutual_info``, >= 0);
- variance over the passes of the probability of the top-1 class of ``p``
  (``mc_variance``, population variance, divisor T).

The engine stores the three columns in ``models/<name>.per_image.parquet`` (read with
``Store.read_per_image``) and T in the model's metadata (``mc_dropout``).
"""

from __future__ import annotations

from misclass.errors import InputError

MC_COLUMNS = ("mc_entropy", "mc_mutual_info", "mc_variance")


def dropout_layers(model) -> list:
    """The model's dropout modules with a drop probability above zero."""
    import torch.nn as nn

    kinds = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout)
    return [m for m in model.modules() if isinstance(m, kinds) and float(getattr(m, "p", 0)) > 0]


def enable_mc_dropout(model, name: str) -> int:
    """Put ``model`` in eval mode with only its dropout layers in training mode; return how
    many there are. A model without dropout is an :class:`InputError`."""
    layers = dropout_layers(model)
    if not layers:
        raise InputError(
            f"--mc-dropout: model {name!r} has no dropout layers (torch.nn.Dropout with p > 0), so "
            "its passes would all be equal; use a model with dropout (e.g. torchvision's vgg16, "
            "mobilenet_v2, efficientnet_b0, or misclass's cnn-* zoo)"
        )
    model.eval()
    for m in layers:
        m.train()
    return len(layers)


def mc_statistics(samples):
    """From ``samples`` (T, B, C) softmax tensors: mean probabilities (B, C) and a dict of the
    per-image statistics (B,) named as in :data:`MC_COLUMNS`."""
    import torch

    p = samples.float()
    mean = p.mean(dim=0)
    entropy = -torch.special.xlogy(mean, mean).sum(dim=1)
    expected = -torch.special.xlogy(p, p).sum(dim=2).mean(dim=0)
    top1 = mean.argmax(dim=1)
    top1_probs = p.gather(2, top1.view(1, -1, 1).expand(p.shape[0], -1, 1)).squeeze(2)
    stats = {
        "mc_entropy": entropy,
        "mc_mutual_info": (entropy - expected).clamp_min(0.0),
        "mc_variance": top1_probs.var(dim=0, unbiased=False),
    }
    return mean, stats
