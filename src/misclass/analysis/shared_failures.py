"""Images every model misses and images exactly one model misses.

>>> import numpy as np
>>> sf = find_shared_failures(np.array([0, 1]), np.array([[1, 2], [1, 0]]), models=["a", "b"])
>>> sf.all_wrong_index.tolist(), sf.only_one_index.tolist(), sf.unique_errors.tolist()
([0], [1], [0, 1])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from misclass.errors import InputError


def check_predictions(labels: np.ndarray, top1: np.ndarray,
                      models: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Check ``labels (N,)``, ``top1 (N, M)`` and M distinct model names; return them as arrays
    (labels as int64)."""
    labels = np.asarray(labels)
    top1 = np.asarray(top1)
    if labels.ndim != 1:
        raise InputError(f"labels must be a vector (N,), got shape {labels.shape}")
    if top1.ndim != 2 or top1.shape[0] != labels.shape[0]:
        raise InputError(f"top1 must be (N, M) with N = {labels.shape[0]} labels, got shape {top1.shape}")
    if top1.shape[1] != len(models):
        raise InputError(f"{len(models)} model names for {top1.shape[1]} columns of top1")
    if len(set(models)) != len(models):
        raise InputError(f"a model is named twice in {list(models)}")
    if not np.issubdtype(labels.dtype, np.integer) or not np.issubdtype(top1.dtype, np.integer):
        raise InputError("labels and top1 must hold integer class ids")
    return labels.astype(np.int64, copy=False), top1



@dataclass(frozen=True)
class SharedFailures:
    """Images every model misses and images exactly one model misses.

    Attributes
    ----------
    all_wrong_index : (K,) rows (in the caller's order) of the images every model misses
    all_wrong_predictions : (K, M) each model's top-1 on them
    only_one_index : (L,) rows of the images exactly one model misses
    only_one_model : (L,) column of the model that misses it; ``only_one_prediction`` its top-1
    unique_errors : (M,) images only this model misses
    rows : the caller's sample ids and labels (and row map), read when tables are built

    ``all_wrong`` and ``only_one_wrong`` give the same as DataFrames.
    """

    models: tuple[str, ...]
    all_wrong_index: np.ndarray
    all_wrong_predictions: np.ndarray
    only_one_index: np.ndarray
    only_one_model: np.ndarray
    only_one_prediction: np.ndarray
    unique_errors: np.ndarray
    rows: dict = field(repr=False, default_factory=dict)

    def _ids_labels(self, which: str) -> tuple[np.ndarray, np.ndarray]:
        """Sample ids and labels of the ``all_wrong`` or ``only_one`` images."""
        local = self.rows[which]
        ids = self.rows["ids"]
        at = self.all_wrong_index if which == "all_wrong" else self.only_one_index
        sid = np.asarray([str(i) for i in at], dtype=object) if ids is None else ids[local]
        return sid, self.rows["labels"][local]

    @property
    def all_wrong(self) -> pd.DataFrame:
        """``index``, ``sample_id``, ``label``, then one column per model with its top-1."""
        ids, labels = self._ids_labels("all_wrong")
        frame = pd.DataFrame({"index": self.all_wrong_index, "sample_id": pd.array(ids, dtype=object),
                              "label": labels})
        preds = pd.DataFrame(self.all_wrong_predictions, columns=list(self.models))
        return pd.concat([frame, preds], axis=1)

    @property
    def only_one_wrong(self) -> pd.DataFrame:
        """``index``, ``sample_id``, ``label``, ``model`` (the one that misses), ``prediction``."""
        ids, labels = self._ids_labels("only_one")
        return pd.DataFrame({
            "index": self.only_one_index,
            "sample_id": pd.array(ids, dtype=object),
            "label": labels,
            "model": pd.array(np.asarray(self.models, dtype=object)[self.only_one_model]
                              if len(self.only_one_model) else [], dtype=object),
            "prediction": self.only_one_prediction,
        })

    def to_dict(self) -> dict:
        ids, labels = self._ids_labels("all_wrong")
        one_ids, one_labels = self._ids_labels("only_one")
        names = np.asarray(self.models, dtype=object)
        return {
            "all_wrong": len(self.all_wrong_index),
            "all_wrong_images": [
                {"index": int(i), "sample_id": str(s), "label": int(y),
                 "predictions": dict(zip(self.models, (int(x) for x in preds), strict=True))}
                for i, s, y, preds in zip(self.all_wrong_index, ids, labels, self.all_wrong_predictions,
                                          strict=True)],
            "only_one_wrong": len(self.only_one_index),
            "unique_errors": {m: int(x) for m, x in zip(self.models, self.unique_errors, strict=True)},
            "only_one_wrong_images": [
                {"index": int(i), "sample_id": str(s), "label": int(y), "model": str(names[j]),
                 "prediction": int(pr)}
                for i, s, y, j, pr in zip(self.only_one_index, one_ids, one_labels, self.only_one_model,
                                          self.only_one_prediction, strict=True)],
        }


def find_shared_failures(labels: np.ndarray, top1: np.ndarray, *, models: Sequence[str],
                         sample_ids: Sequence[str] | None = None,
                         index: np.ndarray | None = None) -> SharedFailures:
    """Images misclassified by every model and by exactly one model.

    ``index`` maps rows to the caller's row numbers (default 0..N-1); rows with label -1 are
    left out.

    >>> sf = find_shared_failures(np.array([0, 1, 2]), np.array([[1, 2], [1, 0], [2, 2]]),
    ...                           models=["a", "b"])
    >>> sf.all_wrong.to_dict("list"), sf.only_one_wrong[["index", "model", "prediction"]].values.tolist()
    ({'index': [0], 'sample_id': ['0'], 'label': [0], 'a': [1], 'b': [2]}, [[1, 'b', 0]])
    """
    labels, top1 = check_predictions(labels, top1, models)
    correct = (top1 == labels[:, None]) | (labels[:, None] < 0)  # unknown labels: never a failure
    return _shared_failures(labels, top1, *failure_rows(correct, correct.sum(axis=1)), models, sample_ids,
                            index)


def failure_rows(correct: np.ndarray, n_right: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows every model misses, rows exactly one model misses and that model's column, from
    ``correct`` (N, M) and its row sums ``n_right``."""
    every = np.flatnonzero(n_right == 0)
    one = np.flatnonzero(n_right == correct.shape[1] - 1)
    who = np.argmin(correct[one], axis=1) if len(one) else np.zeros(0, dtype=np.int64)
    return every, one, who


def _shared_failures(labels: np.ndarray, top1: np.ndarray, every: np.ndarray, one: np.ndarray,
                     who: np.ndarray, models: Sequence[str], sample_ids: Sequence[str] | None,
                     index: np.ndarray | None) -> SharedFailures:
    """The tables of :class:`SharedFailures` from the rows :func:`failure_rows` finds."""
    n, m = top1.shape
    ids = None if sample_ids is None else np.asarray(sample_ids, dtype=object)

    def at(rows: np.ndarray) -> np.ndarray:
        return (rows if index is None else np.asarray(index)[rows]).astype(np.int64)

    rows = {"ids": ids, "labels": labels, "all_wrong": every, "only_one": one}
    return SharedFailures(tuple(models), at(every), top1[every].astype(np.int64), at(one), who,
                          top1[one, who].astype(np.int64), np.bincount(who, minlength=m).astype(np.int64),
                          rows)
