"""Image galleries for report sections: thumbnails from array datasets or image files."""

from __future__ import annotations

import html
from collections.abc import Sequence

from misclass.data.store_images import StoreImages, fit_image
from misclass.errors import InputError
from misclass.report.registry import ReportContext

THUMB = 128


def gallery_html(ctx: ReportContext, indices: Sequence[int], captions: Sequence[str], *,
                 max_images: int = 48) -> str:
    """Thumbnails of the images at ``indices`` (store order) with captions, as HTML.

    Returns a note instead when the store holds no images it can show (e.g. imported
    predictions without image files).
    """
    images = ctx.options.get("_images")
    if images is None:
        images = ctx.options["_images"] = StoreImages(ctx.store)
    if not images.available:
        return ("<p class=note>No images to show: this store holds predictions only (no image "
                "arrays or file paths).</p>")
    folder = ctx.out_dir / "images"
    folder.mkdir(parents=True, exist_ok=True)
    items = []
    for i, caption in list(zip(indices, captions, strict=True))[:max_images]:
        name = f"{int(i)}.png"
        if not (folder / name).exists():
            try:
                image = images.load(int(i))
            except InputError:
                continue
            fit_image(image, THUMB).save(folder / name)
        text = html.escape(caption)
        items.append(f'<figure><img src="images/{name}" alt="{text}"><figcaption>{text}'
                     "</figcaption></figure>")
    if not items:
        return "<p class=note>None of these images could be read from disk.</p>"
    more = f"<p class=note>Showing {len(items)} of {len(indices)}.</p>" if len(indices) > len(items) else ""
    return f'<div class="gallery">{"".join(items)}</div>{more}'
