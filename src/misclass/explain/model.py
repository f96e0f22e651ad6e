"""The torch model ``misclass explain`` explains, as a classifier of ``uint8`` pixels, and the
store's images as that model sees them."""

from __future__ import annotations

import numpy as np

from misclass.errors import InputError
from misclass.extras import require
from misclass.store import Store
from misclass.store.images import StoreImages
from misclass.validation import check_model_name


# --------------------------------------------------------------------------- the model
def load_explain_model(store: Store, text: str, *, seed: int = 0):
    """The torch model ``text`` names: a model in the store that ``misclass train`` or
    ``misclass predict`` wrote (its checkpoint or spec), or a model spec (``ckpt:PATH``,
    ``timm:NAME@PATH``, ...). A clear :class:`InputError` otherwise."""
    from misclass.engine.specs import SPEC_FORMS, load_model, parse_model_spec

    in_store = False
    try:
        in_store = store.has_model(check_model_name(text))
    except InputError:
        pass
    if in_store:
        meta = store.model_metadata(text)
        pretrained = bool(meta.get("pretrained", False))
        if meta.get("checkpoint"):
            spec = f"{text}=ckpt:{meta['checkpoint']}"
        elif meta.get("spec"):
            spec = _stored_spec(parse_model_spec(str(meta["spec"])), text, meta)
            seed = int(meta.get("seed", seed)) if meta.get("weights") == "random" else seed
        else:
            raise InputError(
                f"model {text!r} in {store.path} has no torch weights "
                f"(source: {meta.get('source', 'unknown')}); "
                "explain needs a torch model: one stored by 'misclass train' or 'misclass predict', or a "
                f"spec: {SPEC_FORMS}")
        loaded = load_model(spec, num_classes=store.n_classes, pretrained=pretrained, seed=seed)
    elif ":" in text:
        loaded = load_model(parse_model_spec(text), num_classes=store.n_classes, seed=seed)
    else:
        have = ", ".join(store.model_names()) or "none"
        raise InputError(f"--model {text!r}: no such model in {store.path} (models: {have}) and not a "
                         f"model spec ({SPEC_FORMS})")
    if loaded.preprocess.custom is not None:
        raise InputError(f"model {loaded.name!r}: its preprocessing is a custom transform; explain needs "
                         "one misclass can read (resize / crop / normalise), to erase pixels the model sees")
    return loaded


def _stored_spec(spec, name: str, meta: dict):
    """The spec a model was predicted with, named as in the store; an ``ARCH@PATH`` spec gets
    the weights' absolute path and the normalisation ``misclass predict`` recorded (a relative
    path named the file from where predict ran; ``--mean/--std`` are not in the spec)."""
    from dataclasses import replace

    spec = replace(spec, name=name)
    if spec.kind != "arch" or spec.at is None:
        return spec
    pre = meta.get("preprocess") or {}
    weights = meta.get("weights")
    return replace(spec, at=weights if weights and weights != "random" else spec.at,
                   mean=spec.mean or (tuple(pre["mean"]) if pre.get("mean") else None),
                   std=spec.std or (tuple(pre["std"]) if pre.get("std") else None))


class TorchClassifier:
    """A loaded model as ``classify(uint8 (B, H, W, C)) -> (B,)`` and ``inputs(...)`` tensors."""

    def __init__(self, loaded, device: str = "cpu", batch_size: int = 128):
        torch = require("torch", "torch", feature="saliency maps")
        from misclass.engine.device import select_device

        self.torch = torch
        self.loaded = loaded
        self.device = select_device(device)
        self.module = loaded.module.to(self.device).eval()
        self.batch_size = batch_size

    def inputs(self, images: np.ndarray):
        """Normalised float tensor (B, C, H, W) of uint8 (B, H, W[, C]) pixels."""
        from misclass.engine.preprocess import scale_batch

        x = self.torch.from_numpy(np.ascontiguousarray(images))
        x = x.unsqueeze(1) if x.ndim == 3 else x.permute(0, 3, 1, 2)
        return scale_batch(x.contiguous(), self.loaded.preprocess, self.device)

    def logits(self, images: np.ndarray) -> np.ndarray:
        out = []
        with self.torch.inference_mode():
            for i in range(0, len(images), self.batch_size):
                y = self.module(self.inputs(images[i:i + self.batch_size]))
                y = y[0] if isinstance(y, tuple | list) else getattr(y, "logits", y)
                out.append(y.float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float32)

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return self.logits(images).argmax(axis=1)


def model_view(store: Store, preprocess, *, indices: np.ndarray | None = None, console=None,
               progress: bool = True) -> np.ndarray:
    """The store's images (``indices``, default every one, in that order) after the model's
    geometric preprocessing: uint8 (n, H, W, C)."""
    out = None
    order = np.arange(store.n_samples) if indices is None else np.asarray(indices, dtype=np.int64)
    for j, t in enumerate(_view(store, preprocess, order, console, progress)):
        if out is None:
            out = np.empty((len(order), *t.shape), dtype=np.uint8)
        if t.shape != out.shape[1:]:
            raise InputError(f"image {order[j]} becomes {t.shape} after preprocessing, "
                             f"others {out.shape[1:]}")
        out[j] = t
    return out if out is not None else np.zeros((0, 1, 1, 1), dtype=np.uint8)


def view_mean(store: Store, preprocess, indices: np.ndarray, *, console=None, progress: bool = True
              ) -> np.ndarray:
    """Per-channel mean of the ``indices`` images after preprocessing (as
    :func:`misclass.analysis.erasure.dataset_mean` of their :func:`model_view`), one image at a
    time: the fill of ``--fill mean`` without holding every image."""
    total, count = None, 0
    for t in _view(store, preprocess, np.asarray(indices, dtype=np.int64), console, progress):
        x = t.astype(np.float64)
        s = x.sum(axis=(0, 1)) if x.ndim == 3 else np.array(x.sum())
        total = s if total is None else total + s
        count += x.shape[0] * x.shape[1]
    if total is None:
        raise InputError(f"{store.path}: no labelled images to average for --fill mean")
    return total / count


def _view(store: Store, preprocess, order: np.ndarray, console, progress: bool):
    from rich.progress import Progress

    from misclass.engine.preprocess import apply_geometry

    images = StoreImages(store)
    if not images.available:
        raise InputError(f"{store.path}: the store holds no images (no image array, no paths); explain "
                         "needs the images")
    with Progress(console=console, transient=True, disable=not progress) as bar:
        task = bar.add_task(f"preparing {len(order):,} images", total=len(order))
        for i in order:
            t = apply_geometry(images.load(int(i)), preprocess).numpy()
            yield np.moveaxis(t, 0, -1)
            bar.advance(task)
