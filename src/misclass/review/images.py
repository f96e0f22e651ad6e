"""The image of a sample as PNG bytes, from the store's image array or the dataset's files.

Images are addressed by store index only; the file path comes from the store's samples
table (relative paths are resolved against the dataset folder recorded in ``store.json``,
then the store folder), never from a request.
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from misclass.errors import InputError
from misclass.store import Store

SIZES = {"small": 256, "large": 768}


class ImageSource:
    """PNG renderings of a store's images, cached."""

    def __init__(self, store: Store):
        self.store = store
        self.arrays = store.images()
        self.paths: list[str] | None = None
        if self.arrays is None:
            samples = store.samples()
            if "path" in samples.columns:
                self.paths = samples["path"].astype(str).tolist()
        dataset = str(store.info().get("dataset", ""))
        self.root = Path(dataset.split(":", 1)[1]) if dataset.startswith("folder:") else None
        self.png = lru_cache(maxsize=512)(self._png)

    @property
    def available(self) -> bool:
        return self.arrays is not None or self.paths is not None

    def _file(self, i: int) -> Path | None:
        p = Path(self.paths[i])
        tries = [p] if p.is_absolute() else [x / p for x in (self.root, self.store.path) if x is not None]
        return next((t for t in tries if t.is_file()), None)

    def _png(self, i: int, size: str) -> bytes | None:
        side = SIZES[size]
        if self.arrays is not None:
            image = Image.fromarray(np.asarray(self.arrays[i]))
        elif self.paths is not None:
            path = self._file(i)
            if path is None:
                return None
            with Image.open(path) as im:
                image = im.convert("RGB")
        else:
            return None
        if max(image.size) < side:  # digits, CIFAR: enlarge with sharp pixels
            scale = max(1, side // max(image.size))
            image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
        else:
            image.thumbnail((side, side))
        buf = io.BytesIO()
        image.save(buf, format="PNG")
        return buf.getvalue()

    def image_png(self, i: int, size: str = "small") -> bytes | None:
        """PNG bytes of sample ``i`` (``size`` small or large), or None when it cannot be read."""
        if size not in SIZES:
            raise InputError(f"size {size!r}: expected one of {', '.join(SIZES)}")
        return self.png(int(i), size)
