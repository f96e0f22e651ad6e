"""A saliency map as a picture: the image the model saw, the map over a grey copy of it (the
colour map of the report's explain figures) and the image after erasure, side by side."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from misclass.store.images import fit_image


def _rgb(image: np.ndarray) -> np.ndarray:
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=-1)
    return np.clip(img, 0, 255).astype(np.uint8)


def saliency_strip(original: np.ndarray, saliency: np.ndarray, erased: np.ndarray, *, side: int = 256,
                   alpha: float = 0.65) -> bytes:
    """PNG bytes of original | saliency over grey | erased, each fitted in ``side`` pixels."""
    from matplotlib import colormaps

    orig = _rgb(original)
    sal = np.asarray(saliency, dtype=np.float32)
    span = float(np.nanmax(sal) - np.nanmin(sal)) if sal.size else 0.0
    norm = (sal - np.nanmin(sal)) / span if span > 0 else np.zeros_like(sal)
    heat = colormaps["inferno"](np.nan_to_num(norm))[..., :3] * 255
    grey = orig.mean(axis=-1, keepdims=True)
    over = (alpha * heat + (1 - alpha) * grey).astype(np.uint8)
    panels = [fit_image(Image.fromarray(a), side) for a in (orig, over, _rgb(erased))]
    gap = 6
    w = sum(p.width for p in panels) + gap * (len(panels) - 1)
    strip = Image.new("RGB", (w, max(p.height for p in panels)), (255, 255, 255))
    x = 0
    for p in panels:
        strip.paste(p.convert("RGB"), (x, 0))
        x += p.width + gap
    buf = io.BytesIO()
    strip.save(buf, format="PNG")
    return buf.getvalue()
