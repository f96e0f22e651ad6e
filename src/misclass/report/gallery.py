"""Image galleries for report sections: thumbnails from array datasets or image files."""

from __future__ import annotations

import html
from collections.abc import Sequence

from misclass.errors import InputError
from misclass.format import count
from misclass.report.registry import ReportContext
from misclass.store.images import StoreImages, fit_image

THUMB = 128
MAX_IMAGES = 48


def gallery_html(ctx: ReportContext, indices: Sequence[int], captions: Sequence[str], *,
                 max_images: int = MAX_IMAGES, total: int | None = None, order: str = "",
                 noun: str = "images") -> str:
    """Thumbnails of the images at ``indices`` (store order) with captions, as HTML; each
    caption starts with the image's sample id.

    Only the first ``max_images`` are shown, and only the thumbnails shown are written (under
    ``images/``, once per report). ``total`` (default: ``len(indices)``) is how many images
    the gallery stands for; when fewer are shown a note says "Showing 48 of 93 images
    (``order``)". Returns a note instead when the store holds no images it can show (e.g.
    imported predictions without image files).
    """
    from PIL import Image

    images = ctx.options.get("_images")
    if images is None:
        images = ctx.options["_images"] = StoreImages(ctx.store)
    if not images.available:
        return ("<p class=note>No images to show: this store holds predictions only (no image "
                "arrays or file paths).</p>")
    total = len(indices) if total is None else int(total)
    folder = ctx.out_dir / "images"
    folder.mkdir(parents=True, exist_ok=True)
    ids = ctx.predictions.sample_ids
    items = []
    for i, caption in list(zip(indices, captions, strict=True))[:max_images]:
        name = f"{int(i)}.png"
        path = folder / name
        if path.exists():  # drawn by another gallery of this report
            with Image.open(path) as thumb:
                width, height = thumb.size
        else:
            try:
                image = images.load(int(i))
            except InputError:
                continue
            thumb = fit_image(image, THUMB)
            thumb.save(path)
            width, height = thumb.size
        text = html.escape(f"{ids[int(i)]}: {caption}")
        items.append(f'<figure><img src="images/{name}" alt="{text}" title="{text}" width="{width}" '
                     f'height="{height}" loading="lazy"><figcaption><b>{html.escape(str(ids[int(i)]))}'
                     f"</b><br>{html.escape(caption)}</figcaption></figure>")
    if not items:
        return "<p class=note>None of these images could be read from disk.</p>"
    more = ""
    if total > len(items):
        more = (f"<p class=note>Showing {count(len(items))} of {count(total)} {noun}"
                + (f" ({html.escape(order)})" if order else "") + ".</p>")
    return f'{more}<div class="gallery">{"".join(items)}</div>'
