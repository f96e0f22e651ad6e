"""Per class: which model corrects which, the classes each model corrects most, and the
classes on which every model is below 50%.

For class c and model A: *corrected* counts the images of c that A gets right where another
model is wrong, summed over the other models; *got corrected* counts the images of c that A
misses and another model gets right, summed likewise.

>>> import numpy as np
>>> cc = class_corrections(np.array([0, 0, 1]), np.array([[1, 0], [1, 1], [0, 1]], dtype=bool),
...                        models=["a", "b"], class_names=["x", "y"])
>>> cc.top_corrected[["model", "class_name", "corrected"]].values.tolist()
[['a', 'x', 1], ['b', 'y', 1]]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from misclass.errors import InputError

HARD_CLASS_ACCURACY = 0.5


@dataclass(frozen=True)
class ClassCorrections:
    """Per class and model (all arrays (C, M) except ``n_images`` (C,)).

    Attributes
    ----------
    corrected : images of the class the model gets right where another model is wrong,
        summed over the other models (an image right for A and wrong for two others counts 2)
    got_corrected : images of the class the model misses that another model gets right,
        summed over the other models
    class_accuracy : accuracy of each model on each class (NaN for classes without images)
    top_classes : (top, M) the classes each model corrects most, most first (ties: lower
        class index); ``top_corrected`` gives them as a table with names, without zero counts
    hard_class_index : classes on which every model is below 50%, lowest best accuracy first;
        ``hard_classes`` gives them as a table
    """

    models: tuple[str, ...]
    class_names: tuple[str, ...]
    n_images: np.ndarray
    corrected: np.ndarray
    got_corrected: np.ndarray
    class_accuracy: np.ndarray
    top_classes: np.ndarray
    hard_class_index: np.ndarray

    @property
    def top_corrected(self) -> pd.DataFrame:
        """``model``, ``rank``, ``class_index``, ``class_name``, ``corrected``."""
        order = self.top_classes
        m = len(self.models)
        counts = np.take_along_axis(self.corrected, order, axis=0)
        keep = (counts > 0).T.reshape(-1)
        flat = order.T.reshape(-1)[keep]
        return pd.DataFrame({
            "model": pd.array(np.repeat(np.asarray(self.models, dtype=object), len(order))[keep],
                              dtype=object),
            "rank": np.tile(np.arange(1, len(order) + 1), m)[keep],
            "class_index": flat,
            "class_name": pd.array(np.asarray(self.class_names, dtype=object)[flat], dtype=object),
            "corrected": counts.T.reshape(-1)[keep],
        })

    @property
    def hard_classes(self) -> pd.DataFrame:
        """``class_index``, ``class_name``, ``n_images``, ``best_accuracy``, ``best_model``
        (the model that does best on it), ``mean_accuracy``."""
        hard = self.hard_class_index
        acc = self.class_accuracy[hard]
        return pd.DataFrame({
            "class_index": hard,
            "class_name": pd.array(np.asarray(self.class_names, dtype=object)[hard], dtype=object),
            "n_images": self.n_images[hard],
            "best_accuracy": acc.max(axis=1) if len(hard) else np.zeros(0),
            "best_model": pd.array(np.asarray(self.models, dtype=object)[np.argmax(acc, axis=1)]
                                   if len(hard) else [], dtype=object),
            "mean_accuracy": acc.mean(axis=1) if len(hard) else np.zeros(0),
        })

    def table(self) -> pd.DataFrame:
        """Long table: one row per class and model."""
        c, m = self.corrected.shape
        return pd.DataFrame({
            "class_index": np.repeat(np.arange(c), m),
            "class_name": np.repeat(np.asarray(self.class_names, dtype=object), m),
            "model": np.tile(np.asarray(self.models, dtype=object), c),
            "n_images": np.repeat(self.n_images, m),
            "accuracy": self.class_accuracy.reshape(-1),
            "corrected": self.corrected.reshape(-1),
            "got_corrected": self.got_corrected.reshape(-1),
        })

    def to_dict(self) -> dict:
        top = self.top_corrected
        return {
            "corrected": {m: self.corrected[:, j].tolist() for j, m in enumerate(self.models)},
            "got_corrected": {m: self.got_corrected[:, j].tolist() for j, m in enumerate(self.models)},
            "top_corrected_classes": {
                m: top[top["model"] == m].drop(columns="model").to_dict("records") for m in self.models},
            "hard_classes": self.hard_classes.to_dict("records"),
        }


def class_corrections(labels: np.ndarray, correct: np.ndarray, *, models: Sequence[str],
                      class_names: Sequence[str], top: int = 5) -> ClassCorrections:
    """Corrected / got-corrected counts per class and model, the top corrected classes and
    the classes on which every model is below 50%.

    Parameters
    ----------
    labels : (N,) int in 0..C-1 (only images with a known label)
    correct : (N, M) bool
    class_names : C names

    >>> labels = np.array([0, 0, 1])
    >>> correct = np.array([[1, 0], [1, 1], [0, 1]], dtype=bool)
    >>> cc = class_corrections(labels, correct, models=["a", "b"], class_names=["x", "y"])
    >>> cc.corrected.tolist(), cc.got_corrected.tolist()
    ([[1, 0], [0, 1]], [[0, 1], [1, 0]])
    """
    labels = np.asarray(labels, dtype=np.int64)
    correct = np.asarray(correct, dtype=bool)
    c = len(class_names)
    if len(labels) and (labels.min() < 0 or labels.max() >= c):
        raise InputError(f"labels must lie in 0..{c - 1} (one per class name)")
    return _class_corrections(labels, correct, models, class_names, top, _row_counts(correct))


def _class_corrections(labels: np.ndarray, correct: np.ndarray, models: Sequence[str],
                       class_names: Sequence[str], top: int, n_right: np.ndarray) -> ClassCorrections:
    c = len(class_names)
    corrected, got_corrected, right = _class_sums(labels, correct, c, n_right)
    n_images = np.bincount(labels, minlength=c).astype(np.int64)
    return _summarise(models, class_names, top, n_images, corrected, got_corrected, right)


def _summarise(models: Sequence[str], class_names: Sequence[str], top: int, n_images: np.ndarray,
               corrected: np.ndarray, got_corrected: np.ndarray, right: np.ndarray) -> ClassCorrections:
    """Accuracies, top corrected classes and hard classes from the per-class sums."""
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.where(n_images[:, None] > 0, right / np.maximum(n_images, 1)[:, None], np.nan)
    order = _top_classes(corrected, top)
    hard = np.flatnonzero((n_images > 0) & (np.nan_to_num(acc, nan=1.0) < HARD_CLASS_ACCURACY).all(axis=1))
    best = acc[hard].max(axis=1) if len(hard) else np.zeros(0)
    hard = hard[np.lexsort((hard, best))]
    return ClassCorrections(tuple(models), tuple(class_names), n_images, corrected, got_corrected, acc,
                            order, hard)


def _top_classes(counts: np.ndarray, top: int) -> np.ndarray:
    """(top, M): the rows of the largest counts of each column, largest first, ties in row
    order (as a stable sort of ``-counts`` would give)."""
    c = counts.shape[0]
    if not 0 < top < c or counts.max(initial=0) >= np.iinfo(np.int64).max // (c + 1):
        return np.argsort(-counts, axis=0, kind="stable")[:top]
    # distinct keys (count, then earlier row) let a partial sort pick the top of every column
    key = counts.T * c + (c - 1 - np.arange(c))
    part = np.argpartition(-key, top - 1, axis=1)[:, :top]
    ranked = np.take_along_axis(part, np.argsort(-np.take_along_axis(key, part, axis=1), axis=1), axis=1)
    return np.ascontiguousarray(ranked.T)


def _row_counts(correct: np.ndarray) -> np.ndarray:
    """Each image's number of correct models (uint8 below 256 models)."""
    n, m = correct.shape
    n_right = np.zeros(n, dtype=np.uint8 if m < 256 else np.int64)
    for col in np.ascontiguousarray(correct.T).view(np.uint8):  # (M, N): contiguous per model
        n_right += col
    return n_right


_TABLE_BINS = 1 << 22  # (models x classes x (models + 1)) counts: 32 MiB of int64 at most


def _class_sums_by_table(lab: np.ndarray, n_ok: np.ndarray, columns: np.ndarray, c: int,
                         everyone: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_class_sums` for few models: per model, one bincount of the (class, number of
    correct models) cells of the images it gets right gives all three sums."""
    m = len(columns)
    cell = lab * (m + 1) + n_ok  # (class, n correct) of each mixed image (labels are int64)
    total = np.bincount(cell, minlength=c * (m + 1)).reshape(c, m + 1)
    right_cells = np.stack([np.bincount(cell[col], minlength=c * (m + 1)) for col in columns])
    right_cells = right_cells.reshape(m, c, m + 1)
    wrong_cells = total[None] - right_cells
    k = np.arange(m + 1)
    corrected = (right_cells @ (m - k)).T  # each right image corrects its m - n_ok wrong models
    got_corrected = (wrong_cells @ k).T  # each wrong image is corrected by its n_ok right models
    right = right_cells.sum(axis=2).T + everyone[:, None]
    return (np.ascontiguousarray(corrected), np.ascontiguousarray(got_corrected),
            np.ascontiguousarray(right))


def _class_sums(labels: np.ndarray, correct: np.ndarray, c: int,
                n_right: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per class and model: corrected, got-corrected and correct counts, each (C, M).

    Only images some models get right and others not can be corrected: the sums run over
    those; images every model gets right add to the correct counts by one bincount. For few
    models one bincount per model of (class, number of right models) cells gives all three
    sums (:func:`_class_sums_by_table`; its temporaries stay small); otherwise one weighted
    bincount per model and quantity.
    """
    n, m = correct.shape
    mixed = np.flatnonzero((n_right > 0) & (n_right < m))
    lab = labels[mixed]
    everyone = np.bincount(labels[n_right == m], minlength=c)
    columns = np.ascontiguousarray(correct.T[:, mixed])  # (M, mixed images)
    if m * c * (m + 1) <= _TABLE_BINS:
        return _class_sums_by_table(lab, n_right[mixed], columns, c, everyone)
    n_ok = n_right[mixed].astype(np.float64)
    n_bad = m - n_ok
    corrected = np.empty((c, m), dtype=np.int64)
    got_corrected = np.empty((c, m), dtype=np.int64)
    right = np.empty((c, m), dtype=np.int64)
    for j, col in enumerate(columns):
        right_j = col.astype(np.float64)
        corrected[:, j] = np.rint(np.bincount(lab, weights=right_j * n_bad, minlength=c))
        got_corrected[:, j] = np.rint(np.bincount(lab, weights=(1 - right_j) * n_ok, minlength=c))
        right[:, j] = np.bincount(lab[col], minlength=c) + everyone
    return corrected, got_corrected, right
