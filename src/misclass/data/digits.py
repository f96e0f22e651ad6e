"""scikit-learn's 1,797 handwritten digits (8x8), split 80:20 with a seed."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.datasets import load_digits as _sk_load_digits
from sklearn.model_selection import train_test_split

from misclass.data.dataset import Dataset


def load_digits(*, seed: int = 0, test_size: float = 0.2) -> Dataset:
    """The digits dataset with a stratified train/test split.

    Images are 8x8 uint8 (scikit-learn's 0..16 intensities scaled to 0..255); sample ids
    are ``digits-<index>`` in scikit-learn's order.

    >>> ds = load_digits(seed=0)
    >>> len(ds), (ds.samples.split == "test").sum(), ds.images.shape[1:]
    (1797, np.int64(360), (8, 8))
    """
    bunch = _sk_load_digits()
    n = len(bunch.target)
    idx = np.arange(n)
    _, test_idx = train_test_split(idx, test_size=test_size, stratify=bunch.target,
                                   random_state=seed)
    split = np.full(n, "train", dtype=object)
    split[test_idx] = "test"
    images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)
    samples = pd.DataFrame({
        "sample_id": [f"digits-{i}" for i in idx],
        "label": bunch.target.astype(np.int64),
        "split": split,
    })
    classes = pd.DataFrame({"id": [str(i) for i in range(10)], "name": [str(i) for i in range(10)]})
    return Dataset("digits", samples, classes, images=images)
