"""Thumbnails of a store's images, made once and kept in the store's ``thumbs/`` folder.

A thumbnail's file name is a hash of the sample id and of where its pixels come from (the
image array's row, or the file's path, size and modification time), so a changed image gets
a new thumbnail and a stale one is never shown. Files are written through
:func:`misclass.store.files.atomic_write`: a reader never sees half a file, and two servers
making the same thumbnail write the same bytes. On a read-only store thumbnails are made in
memory each time.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np

from misclass.errors import InputError, StoreError
from misclass.store import Store
from misclass.store.files import atomic_write
from misclass.store.images import StoreImages, fit_image

SIDE = 160
"""Pixels on the longer side of a thumbnail."""
FORMATS = {".png": "image/png", ".jpg": "image/jpeg"}


class Thumbnails:
    """Thumbnail bytes of image ``i`` (store order), cached under ``<store>/thumbs/<side>/``."""

    def __init__(self, store: Store, *, side: int = SIDE):
        self.images = StoreImages(store)
        self.side = int(side)
        self.folder = store.layout.thumbs / str(self.side)
        self.sample_ids = store.sample_ids().astype(str)
        self.read_only = False

    @property
    def available(self) -> bool:
        """Whether the store has pixels at all (an image array or file paths)."""
        return self.images.available

    def _key(self, i: int) -> str:
        h = hashlib.sha256(self.sample_ids[i].encode())
        if self.images.arrays is not None:
            h.update(np.ascontiguousarray(self.images.arrays[i]).tobytes())
        else:
            path = self.images.path(i)
            st = path.stat()
            h.update(f"\0{path.resolve()}\0{st.st_size}\0{st.st_mtime_ns}".encode())
        return h.hexdigest()[:40]

    def path_of(self, i: int) -> tuple[Path, Path]:
        """The two places thumbnail ``i`` may be kept (PNG for enlarged small images, JPEG else)."""
        key = self._key(i)
        base = self.folder / key[:2] / key
        return base.with_suffix(".png"), base.with_suffix(".jpg")

    def get(self, i: int) -> tuple[bytes, str] | None:
        """``(bytes, media type)`` of thumbnail ``i``, or None when its image cannot be read."""
        if not self.available or not 0 <= i < len(self.sample_ids):
            return None
        try:
            places = self.path_of(i)
        except OSError:
            return None
        for place in places:
            if place.is_file():
                return place.read_bytes(), FORMATS[place.suffix]
        try:
            image = self.images.load(i)
        except InputError:
            return None
        small = max(image.size) < self.side
        thumb = fit_image(image, self.side)
        buf = io.BytesIO()
        if small or thumb.mode not in ("RGB", "L"):
            thumb.save(buf, format="PNG", optimize=True)
            place = places[0]
        else:
            thumb.save(buf, format="JPEG", quality=85)
            place = places[1]
        data = buf.getvalue()
        if not self.read_only:
            try:
                atomic_write(place, lambda tmp: tmp.write_bytes(data))
            except StoreError:
                self.read_only = True  # a read-only store: serve from memory from now on
        return data, FORMATS[place.suffix]
