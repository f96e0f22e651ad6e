"""Image galleries for report sections: thumbnails from array datasets or image files."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from misclass.report.registry import ReportContext

THUMB = 128


def _thumbnail(image: Image.Image) -> Image.Image:
    if max(image.size) < THUMB:  # small images (digits, CIFAR): enlarge without blurring
        scale = THUMB // max(image.size)
        return image.resize((image.width * scale, image.height * scale), Image.NEAREST)
    image.thumbnail((THUMB, THUMB))
    return image


def _source_images(ctx: ReportContext):
    """A function index -> PIL image, or None when the store holds no images."""
    arrays = ctx.store.images()
    if arrays is not None:
        return lambda i: Image.fromarray(np.asarray(arrays[i]))
    samples = ctx.options.get("_samples")
    if samples is None:
        samples = ctx.store.samples()
        ctx.options["_samples"] = samples
    if "path" not in samples.columns:
        return None
    paths = samples["path"].astype(str).to_numpy()

    def load(i: int) -> Image.Image | None:
        p = Path(paths[i])
        if not p.is_file():
            return None
        with Image.open(p) as im:
            return im.convert("RGB")

    return load


def gallery_html(ctx: ReportContext, indices: Sequence[int], captions: Sequence[str], *,
                 max_images: int = 48) -> str:
    """Thumbnails of the images at ``indices`` (store order) with captions, as HTML.

    Returns a note instead when the store holds no images it can show (e.g. imported
    predictions without image files).
    """
    load = _source_images(ctx)
    if load is None:
        return ("<p class=note>No images to show: this store holds predictions only (no image "
                "arrays or file paths).</p>")
    folder = ctx.out_dir / "images"
    folder.mkdir(parents=True, exist_ok=True)
    items = []
    for i, caption in list(zip(indices, captions, strict=True))[:max_images]:
        name = f"{int(i)}.png"
        if not (folder / name).exists():
            image = load(int(i))
            if image is None:
                continue
            _thumbnail(image).save(folder / name)
        text = html.escape(caption)
        items.append(f'<figure><img src="images/{name}" alt="{text}"><figcaption>{text}'
                     "</figcaption></figure>")
    if not items:
        return "<p class=note>None of these images could be read from disk.</p>"
    more = f"<p class=note>Showing {len(items)} of {len(indices)}.</p>" if len(indices) > len(items) else ""
    return f'<div class="gallery">{"".join(items)}</div>{more}'
