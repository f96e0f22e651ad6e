"""The image of a sample as PNG bytes for the review pages.

Images are addressed by store index only; the file path comes from the store's samples
table (see :mod:`misclass.store.images`), never from a request.
"""

from __future__ import annotations

import io
from functools import lru_cache

from misclass.errors import InputError
from misclass.store import Store
from misclass.store.images import StoreImages, fit_image

SIZES = {"small": 256, "large": 768}


class ImageSource:
    """PNG renderings of a store's images, cached."""

    def __init__(self, store: Store):
        self.images = StoreImages(store)
        self.png = lru_cache(maxsize=512)(self._png)

    @property
    def available(self) -> bool:
        return self.images.available

    def _png(self, i: int, size: str) -> bytes | None:
        try:
            image = self.images.load(i)
        except InputError:
            return None
        buf = io.BytesIO()
        fit_image(image, SIZES[size]).save(buf, format="PNG")
        return buf.getvalue()

    def image_png(self, i: int, size: str = "small") -> bytes | None:
        """PNG bytes of sample ``i`` (``size`` small or large), or None when it cannot be read."""
        if size not in SIZES:
            raise InputError(f"size {size!r}: expected one of {', '.join(SIZES)}")
        return self.png(int(i), size)
