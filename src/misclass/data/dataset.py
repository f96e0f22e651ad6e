"""The :class:`Dataset` every loader returns."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Dataset:
    """Images with labels, in a fixed order.

    Attributes
    ----------
    name : str
        The spec it was loaded from, e.g. ``"digits"`` or ``"cifar10:/data/cifar"``.
    samples : DataFrame
        ``sample_id`` (str, unique), ``label`` (int), ``split`` (``"train"`` / ``"test"``),
        and ``path`` (str) for datasets read from files.
    classes : DataFrame
        ``name`` and ``id`` of each class, row i = class i.
    images : ndarray of uint8, shape (N, H, W) or (N, H, W, 3), or None
        The images, for datasets held in memory; None when they are files (``path``).
    root : Path or None
        Folder the ``path`` column is relative to.
    """

    name: str
    samples: pd.DataFrame
    classes: pd.DataFrame
    images: np.ndarray | None = None
    root: Path | None = None

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def labels(self) -> np.ndarray:
        return self.samples["label"].to_numpy(dtype=np.int64)

    def split(self, name: str) -> Dataset:
        """The samples of one split (``"train"`` or ``"test"``), in order."""
        mask = (self.samples["split"] == name).to_numpy()
        return Dataset(
            name=f"{self.name}[{name}]",
            samples=self.samples[mask].reset_index(drop=True),
            classes=self.classes,
            images=None if self.images is None else self.images[mask],
            root=self.root,
        )
