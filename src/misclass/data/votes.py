"""People's votes: an (N, C) ``.npy`` matrix of how many people chose each class for each image,
rows in a given sample order (CIFAR-10H's ``cifar10h-counts.npy`` is one).

:func:`read_vote_counts` reads and checks one; ``misclass import votes`` turns it into
predictors (:mod:`misclass.importers.votes`) and ``--labels counts:FILE.npy`` into label sets
(:mod:`misclass.data.label_sets`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from misclass.data.arrays import read_npy_array, whole_numbers
from misclass.errors import InputError


def read_vote_counts(path: str | Path) -> np.ndarray:
    """An (N, C) matrix of non-negative whole vote counts from a ``.npy`` file, as int64.

    Every bad file is one :class:`InputError` naming the file and the first bad row: not a
    2-d array, fractions, negative counts.
    """
    path = Path(path)
    counts = read_npy_array(path)
    if counts.ndim != 2 or counts.shape[0] == 0 or counts.shape[1] < 2:
        raise InputError(f"{path}: expected an (N, C) matrix of vote counts (images x classes, "
                         f"C >= 2), found shape {counts.shape}")
    counts = whole_numbers(counts, str(path), "vote count")
    neg = (counts < 0).any(axis=1)
    if neg.any():
        row = int(np.argmax(neg))
        raise InputError(f"{path}: row {row + 1}: negative vote count {int(counts[row].min())}; "
                         f"counts must be >= 0 ({int(neg.sum())} rows affected)")
    return counts
