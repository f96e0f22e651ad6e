"""A store's images as PIL images: from its image array (digits, CIFAR) or from the files its
samples table names.

Relative paths are resolved against the dataset folder the store records (``folder:PATH``
in ``store.json``), then the store folder. The report's gallery, the review app and
``misclass explain`` all read images this way.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from misclass.errors import InputError
from misclass.store import Store


def dataset_root(store: Store) -> Path | None:
    """The image folder of a store made from ``folder:PATH[,LABELS.csv]``, else None."""
    spec = str(store.info().get("dataset", ""))
    if spec.startswith("folder:"):
        return Path(spec[len("folder:"):].split(",")[0].split("[")[0])
    return None


class StoreImages:
    """Image ``i`` of a store (store order) as a PIL image."""

    def __init__(self, store: Store):
        self.store = store
        self.arrays = store.images()
        self.paths: list[str] | None = None
        if self.arrays is None:
            samples = store.samples()
            if "path" in samples.columns:
                self.paths = samples["path"].astype(str).tolist()
        self.root = dataset_root(store)

    @property
    def available(self) -> bool:
        """Whether the store has images at all (an array or file paths)."""
        return self.arrays is not None or self.paths is not None

    def path(self, i: int) -> Path:
        """Where image ``i``'s file is (the first candidate that exists, else the first)."""
        p = Path(self.paths[i])
        if p.is_absolute():
            return p
        tries = [x / p for x in (self.root, self.store.path) if x is not None]
        return next((t for t in tries if t.is_file()), tries[0])

    def load(self, i: int) -> Image.Image:
        """Image ``i``; an :class:`InputError` naming the file when it cannot be read."""
        if self.arrays is not None:
            return Image.fromarray(np.asarray(self.arrays[i]))
        if self.paths is None:
            raise InputError(f"{self.store.path}: the store holds no images (no image array, no paths)")
        path = self.path(i)
        try:
            with Image.open(path) as im:
                return im.convert("RGB")
        except OSError as exc:
            raise InputError(f"{path}: not a readable image ({exc})") from exc


def fit_image(image: Image.Image, side: int) -> Image.Image:
    """Fit ``image`` in a ``side`` x ``side`` square: small images (digits, CIFAR) are enlarged
    by a whole factor with sharp pixels, large ones shrunk keeping their aspect ratio."""
    if max(image.size) < side:
        scale = max(1, side // max(image.size))
        return image.resize((image.width * scale, image.height * scale), Image.NEAREST)
    image = image.copy()
    image.thumbnail((side, side))
    return image
