"""Saliency maps of torch models through captum: vanilla gradients, SmoothGrad, Integrated
Gradients and Grad-CAM, towards any class per image.

Each method is one function ``method(model, x, target) -> (B, H, W)`` float32 numpy maps on
the input grid, registered in :data:`SALIENCY_METHODS` (adding a method is adding one
function here). ``x`` is the normalised model input ``(B, C, H, W)``; ``target`` the class
per image.

- ``gradient``: |d score / d pixel|, the largest over the channels (Simonyan et al. 2014);
- ``smoothgrad``: the same, averaged over noisy copies of the input (Smilkov et al. 2017);
- ``integrated-gradients``: |attribution| summed over the channels, from a black image
  (zero pixels, normalised like the input) to the input (Sundararajan et al. 2017);
- ``gradcam``: Grad-CAM on the last ``Conv2d`` layer, rectified and upsampled bilinearly to
  the input size (Selvaraju et al. 2017).

torch and captum are imported inside the functions (``pip install 'misclass[torch]'``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from misclass.errors import InputError
from misclass.extras import require

SaliencyMethod = Callable[..., np.ndarray]
SALIENCY_METHODS: dict[str, SaliencyMethod] = {}
TARGETS = ("predicted", "true")


def register_saliency(name: str) -> Callable[[SaliencyMethod], SaliencyMethod]:
    """Register a saliency method under ``name`` (see the module docstring)."""

    def deco(fn: SaliencyMethod) -> SaliencyMethod:
        SALIENCY_METHODS[name] = fn
        return fn

    return deco


def _captum():
    require("torch", "torch", feature="saliency maps")
    return require("captum.attr", "torch", feature="saliency maps (captum)")


def _targets(target, x):
    import torch

    return torch.as_tensor(np.asarray(target, dtype=np.int64), device=x.device)


@register_saliency("gradient")
def gradient_saliency(model, x, target, **_) -> np.ndarray:
    """Absolute input gradients of the target score, max over channels."""
    attr = _captum()

    a = attr.Saliency(model).attribute(x, target=_targets(target, x), abs=True)
    return a.amax(dim=1).detach().cpu().numpy().astype(np.float32)


@register_saliency("smoothgrad")
def smoothgrad_saliency(model, x, target, *, samples: int = 16, noise: float = 0.15, seed: int = 0,
                        **_) -> np.ndarray:
    """SmoothGrad: gradients averaged over ``samples`` noisy copies (std ``noise`` times the
    input's value range), max over channels."""
    attr = _captum()
    import torch

    stdev = float(noise * (x.max() - x.min()).item()) or noise
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        a = attr.NoiseTunnel(attr.Saliency(model)).attribute(
            x, target=_targets(target, x), nt_type="smoothgrad", nt_samples=samples,
            nt_samples_batch_size=samples, stdevs=stdev, abs=True)
    return a.abs().amax(dim=1).detach().cpu().numpy().astype(np.float32)


@register_saliency("integrated-gradients")
def integrated_gradients(model, x, target, *, baseline=None, steps: int = 32, **_) -> np.ndarray:
    """Integrated Gradients from ``baseline`` (default: zeros; pass the normalised black image),
    absolute values summed over channels."""
    attr = _captum()
    import torch

    base = torch.zeros_like(x) if baseline is None else baseline.expand_as(x)
    a = attr.IntegratedGradients(model).attribute(x, baselines=base, target=_targets(target, x),
                                                  n_steps=steps, internal_batch_size=max(len(x), 1) * 8)
    return a.abs().sum(dim=1).detach().cpu().numpy().astype(np.float32)


def last_conv_layer(model):
    """The last ``nn.Conv2d`` of ``model`` (Grad-CAM's layer), or an :class:`InputError`."""
    import torch

    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    if not convs:
        raise InputError("gradcam: the model has no Conv2d layer; choose --method gradient, smoothgrad "
                         "or integrated-gradients")
    return convs[-1]


@register_saliency("gradcam")
def gradcam_saliency(model, x, target, **_) -> np.ndarray:
    """Grad-CAM on the last convolution, ReLU, upsampled to the input size."""
    attr = _captum()

    cam = attr.LayerGradCam(model, last_conv_layer(model)).attribute(
        x, target=_targets(target, x), relu_attributions=True)
    up = attr.LayerAttribution.interpolate(cam, tuple(x.shape[-2:]), interpolate_mode="bilinear")
    return up.sum(dim=1).clamp_min(0).detach().cpu().numpy().astype(np.float32)


def compute_saliency(model, x, target, method: str = "gradient", **kwargs) -> np.ndarray:
    """Saliency maps ``(B, H, W)`` of ``model`` on normalised inputs ``x`` towards ``target``.

    The model is put in eval mode; in-place ReLUs are switched off for the call, as captum
    needs (and restored after).
    """
    if method not in SALIENCY_METHODS:
        raise InputError(f"--method {method!r}: expected {', '.join(SALIENCY_METHODS)}")
    import torch

    inplace = [m for m in model.modules() if isinstance(m, torch.nn.ReLU | torch.nn.ReLU6) and m.inplace]
    for m in inplace:
        m.inplace = False
    was_training = model.training
    model.eval()
    try:
        x = x.detach().clone().requires_grad_(True)
        return SALIENCY_METHODS[method](model, x, target, **kwargs)
    finally:
        for m in inplace:
            m.inplace = True
        model.train(was_training)


def saliency_mass(saliency: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Share of each map's total saliency inside ``region`` (``(N, H, W)`` bool or one
    ``(H, W)`` mask for all); NaN for an all-zero map.

    >>> s = np.array([[[1.0, 3.0], [0.0, 0.0]]])
    >>> saliency_mass(s, np.array([[False, True], [False, False]])).tolist()
    [0.75]
    """
    s = np.abs(np.asarray(saliency, dtype=np.float64))
    r = np.broadcast_to(np.asarray(region, dtype=bool), s.shape)
    total = s.reshape(len(s), -1).sum(axis=1)
    inside = np.where(r, s, 0).reshape(len(s), -1).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, inside / total, np.nan)
