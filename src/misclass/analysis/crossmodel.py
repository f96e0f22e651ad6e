"""Does another model get it right? Correction rates, virtual accuracy, shared failures.

With ``T_A`` the images model A classifies correctly, ``F_A`` those it misses and ``V`` all
images with a known label:

- potential correction rate ``PCR(A, B) = |F_A ∩ T_B| / |F_A|`` (rows: base model A,
  columns: corrector B; a row is NaN when A makes no mistakes);
- virtual (oracle) accuracy ``|T_A ∪ T_B| / |V|`` (diagonal: each model's accuracy);
- error consistency: Cohen's kappa of the correct/incorrect vectors of two models;
- the rate of equal top-1 predictions.

All pair quantities come from one Gram matrix ``correct.T @ correct`` (popcounts of the
bit-packed columns) and a comparison of top-1 predictions on the images not every model gets
right; combinations of more models are in :mod:`misclass.analysis.combinations`, real
ensembles in :mod:`misclass.analysis.ensembles`. :func:`compare_models` runs everything.

Data contract: ``labels (N,)`` int (-1 unknown: such images are left out), ``top1 (N, M)``
int, ``correct (N, M)`` bool.

>>> import numpy as np
>>> labels = np.array([0, 1, 2, 0])
>>> top1 = np.array([[0, 0], [1, 0], [1, 2], [2, 2]])
>>> pm = pair_matrices(labels, top1, models=["a", "b"])
>>> pm.accuracy.tolist(), pm.correction_rate.tolist(), pm.virtual_accuracy.tolist()
([0.5, 0.5], [[0.0, 0.5], [0.5, 0.0]], [[0.5, 0.75], [0.75, 0.5]])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from misclass.analysis.combinations import (
    LIST_LIMIT,
    MAX_COMBINATIONS,
    CombinationSearch,
    Progress,
    pack_columns,
    popcount,
    search_combinations,
)
from misclass.analysis.ensembles import EnsembleResult, evaluate_ensembles
from misclass.errors import InputError

HARD_CLASS_ACCURACY = 0.5


def _nan_to_none(a: np.ndarray) -> list:
    return [[None if np.isnan(x) else float(x) for x in row] for row in np.asarray(a, dtype=float)]


def _check_inputs(labels: np.ndarray, top1: np.ndarray,
                  models: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
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


def _gram(correct: np.ndarray, bits: np.ndarray | None = None) -> np.ndarray:
    """``correct.T @ correct``: images each pair of models both get right (int64 counts),
    by popcounts of the packed columns (``bits = pack_columns(correct)`` when the caller has
    them)."""
    bits = pack_columns(correct) if bits is None else bits
    m = bits.shape[0]
    gram = np.empty((m, m), dtype=np.int64)
    for a in range(m):  # one vectorised popcount per model, over the later models
        row = popcount(bits[a:] & bits[a])
        gram[a, a:] = row
        gram[a:, a] = row
    return gram


def _correction_rate(gram: np.ndarray, n: int) -> np.ndarray:
    right = np.diag(gram)
    wrong = n - right
    fixed = right[None, :] - gram  # |F_A ∩ T_B| = |T_B| - |T_A ∩ T_B|
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(wrong[:, None] > 0, fixed / np.maximum(wrong, 1)[:, None], np.nan)


def _virtual_accuracy(gram: np.ndarray, n: int) -> np.ndarray:
    right = np.diag(gram)
    return (right[:, None] + right[None, :] - gram) / n


def _error_consistency(gram: np.ndarray, n: int) -> np.ndarray:
    right = np.diag(gram)
    both_wrong = n - right[:, None] - right[None, :] + gram
    p_o = (gram + both_wrong) / n
    a = right / n
    p_e = a[:, None] * a[None, :] + (1 - a[:, None]) * (1 - a[None, :])
    denom = 1 - p_e
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(np.abs(denom) > 1e-12, (p_o - p_e) / np.where(denom == 0, 1, denom), np.nan)


# --------------------------------------------------------------------------- pairs
@dataclass(frozen=True)
class PairMatrices:
    """Pairwise comparison of M models on ``n`` labelled images (all matrices (M, M)).

    Attributes
    ----------
    accuracy : (M,) fraction correct
    correction_rate : PCR, rows = base model A, columns = corrector B; NaN rows for a model
        without mistakes; the diagonal is 0
    virtual_accuracy : oracle accuracy of each pair; the diagonal is the accuracy
    error_consistency : Cohen's kappa of the correct/incorrect vectors (NaN when undefined:
        both vectors constant)
    equal_top1 : share of images on which the two models predict the same class
    both_correct : ``|T_A ∩ T_B|`` counts (the Gram matrix)
    """

    models: tuple[str, ...]
    n: int
    accuracy: np.ndarray
    correction_rate: np.ndarray
    virtual_accuracy: np.ndarray
    error_consistency: np.ndarray
    equal_top1: np.ndarray
    both_correct: np.ndarray

    def to_dict(self) -> dict:
        return {
            "models": list(self.models),
            "n": self.n,
            "accuracy": {m: float(a) for m, a in zip(self.models, self.accuracy, strict=True)},
            "correction_rate": _nan_to_none(self.correction_rate),
            "virtual_accuracy": _nan_to_none(self.virtual_accuracy),
            "error_consistency": _nan_to_none(self.error_consistency),
            "equal_top1": _nan_to_none(self.equal_top1),
        }


def correction_rate(correct: np.ndarray) -> np.ndarray:
    """PCR(A, B) = |F_A ∩ T_B| / |F_A| for every pair, rows A, columns B (NaN rows where A
    makes no mistakes).

    >>> c = np.array([[1, 1], [0, 1], [0, 0]], dtype=bool)
    >>> correction_rate(c).tolist()
    [[0.0, 0.5], [0.0, 0.0]]
    >>> correction_rate(np.ones((2, 2), dtype=bool))[0].tolist()
    [nan, nan]
    """
    correct = np.asarray(correct, dtype=bool)
    return _correction_rate(_gram(correct), correct.shape[0])


def virtual_accuracy(correct: np.ndarray) -> np.ndarray:
    """Oracle accuracy ``|T_A ∪ T_B| / N`` of every pair; the diagonal is each accuracy.

    >>> virtual_accuracy(np.array([[1, 0], [0, 1], [0, 0]], dtype=bool)).round(3).tolist()
    [[0.333, 0.667], [0.667, 0.333]]
    """
    correct = np.asarray(correct, dtype=bool)
    return _virtual_accuracy(_gram(correct), correct.shape[0])


def error_consistency(correct: np.ndarray) -> np.ndarray:
    """Cohen's kappa between the correct/incorrect vectors of every pair of models.

    ``kappa = (p_o - p_e) / (1 - p_e)`` with observed agreement ``p_o`` (both right or both
    wrong) and ``p_e = a_A a_B + (1 - a_A)(1 - a_B)`` expected from the accuracies; NaN where
    ``p_e = 1``. Equals :func:`sklearn.metrics.cohen_kappa_score` on the two columns.

    >>> c = np.array([[1, 1], [1, 0], [0, 0], [0, 1]], dtype=bool)
    >>> error_consistency(c).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    correct = np.asarray(correct, dtype=bool)
    return _error_consistency(_gram(correct), correct.shape[0])


def equal_top1_rate(top1: np.ndarray, *, unanimous: np.ndarray | None = None) -> np.ndarray:
    """Share of images on which each pair of models predicts the same class.

    Compares the models' rows of ``top1.T`` (contiguous, 16-bit where the class ids fit), one
    model against all later ones per step. ``unanimous`` (bool (N,), optional) marks images
    every model is known to predict alike (e.g. all right): they count for every pair and
    are skipped.

    >>> equal_top1_rate(np.array([[0, 0], [1, 2], [2, 2]])).round(3).tolist()
    [[1.0, 0.667], [0.667, 1.0]]
    """
    top1 = np.asarray(top1)
    n, m = top1.shape
    agreed = 0
    if unanimous is not None:
        agreed = int(np.count_nonzero(unanimous))
        top1 = top1.take(np.flatnonzero(~unanimous), axis=0)  # faster than a boolean row mask
    small = top1.size == 0 or (top1.min() >= -1 and top1.max() < 2**15)
    rows = np.ascontiguousarray(top1.T, dtype=np.int16 if small else np.int64)
    counts = np.full((m, m), agreed, dtype=np.int64)
    for a in range(m - 1):
        same = np.count_nonzero(rows[a + 1:] == rows[a], axis=1) + agreed
        counts[a, a + 1:] = same
        counts[a + 1:, a] = same
    np.fill_diagonal(counts, n)
    return counts / n


def pair_matrices(labels: np.ndarray, top1: np.ndarray, *, models: Sequence[str]) -> PairMatrices:
    """Every pair matrix of :class:`PairMatrices` over the images with a known label.

    Parameters
    ----------
    labels : (N,) int, -1 for unknown (left out)
    top1 : (N, M) int
    models : M names
    """
    labels, top1 = _check_inputs(labels, top1, models)
    known = labels >= 0
    if not known.any():
        raise InputError("no image has a known label: cross-model comparison needs labels")
    if not known.all():
        labels, top1 = labels[known], top1[known]
    return _pair_matrices(top1 == labels[:, None], top1, models)


def _pair_matrices(correct: np.ndarray, top1: np.ndarray, models: Sequence[str],
                   bits: np.ndarray | None = None, n_right: np.ndarray | None = None) -> PairMatrices:
    n, m = correct.shape
    gram = _gram(correct, bits)
    n_right = _row_counts(correct) if n_right is None else n_right
    return PairMatrices(
        models=tuple(models),
        n=n,
        accuracy=np.diag(gram) / n,
        correction_rate=_correction_rate(gram, n),
        virtual_accuracy=_virtual_accuracy(gram, n),
        error_consistency=_error_consistency(gram, n),
        equal_top1=equal_top1_rate(top1, unanimous=n_right == m),
        both_correct=gram,
    )


# --------------------------------------------------------------------------- classes
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
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.where(n_images[:, None] > 0, right / np.maximum(n_images, 1)[:, None], np.nan)
    # the top classes of every model at once: a stable sort keeps ties in class order
    order = np.argsort(-corrected, axis=0, kind="stable")[:top]  # (top, M)
    hard = np.flatnonzero((n_images > 0) & (np.nan_to_num(acc, nan=1.0) < HARD_CLASS_ACCURACY).all(axis=1))
    best = acc[hard].max(axis=1) if len(hard) else np.zeros(0)
    hard = hard[np.lexsort((hard, best))]
    return ClassCorrections(tuple(models), tuple(class_names), n_images, corrected, got_corrected, acc,
                            order, hard)


def _row_counts(correct: np.ndarray) -> np.ndarray:
    """Each image's number of correct models (uint8 below 256 models)."""
    n, m = correct.shape
    n_right = np.zeros(n, dtype=np.uint8 if m < 256 else np.int64)
    for col in np.ascontiguousarray(correct.T).view(np.uint8):  # (M, N): contiguous per model
        n_right += col
    return n_right


def _class_sums(labels: np.ndarray, correct: np.ndarray, c: int,
                n_right: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per class and model: corrected, got-corrected and correct counts, each (C, M).

    Only images some models get right and others not can be corrected: the sums run over
    those (one weighted bincount per model and quantity); images every model gets right
    add to the correct counts by one bincount.
    """
    n, m = correct.shape
    mixed = np.flatnonzero((n_right > 0) & (n_right < m))
    lab = labels[mixed]
    n_ok = n_right[mixed].astype(np.float64)
    n_bad = m - n_ok
    everyone = np.bincount(labels[n_right == m], minlength=c)
    columns = np.ascontiguousarray(correct.T[:, mixed])  # (M, mixed images)
    corrected = np.empty((c, m), dtype=np.int64)
    got_corrected = np.empty((c, m), dtype=np.int64)
    right = np.empty((c, m), dtype=np.int64)
    for j, col in enumerate(columns):
        right_j = col.astype(np.float64)
        corrected[:, j] = np.rint(np.bincount(lab, weights=right_j * n_bad, minlength=c))
        got_corrected[:, j] = np.rint(np.bincount(lab, weights=(1 - right_j) * n_ok, minlength=c))
        right[:, j] = np.bincount(lab[col], minlength=c) + everyone
    return corrected, got_corrected, right


# --------------------------------------------------------------------------- images
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
    labels, top1 = _check_inputs(labels, top1, models)
    wrong = (top1 != labels[:, None]) & (labels[:, None] >= 0)
    return _shared_failures(labels, top1, wrong, wrong.sum(axis=1), models, sample_ids, index)


def _shared_failures(labels: np.ndarray, top1: np.ndarray, wrong: np.ndarray, n_wrong: np.ndarray,
                     models: Sequence[str], sample_ids: Sequence[str] | None,
                     index: np.ndarray | None) -> SharedFailures:
    n, m = top1.shape
    ids = None if sample_ids is None else np.asarray(sample_ids, dtype=object)

    def at(rows: np.ndarray) -> np.ndarray:
        return (rows if index is None else np.asarray(index)[rows]).astype(np.int64)

    every = np.flatnonzero(n_wrong == m)
    one = np.flatnonzero(n_wrong == 1)
    who = np.argmax(wrong[one], axis=1) if len(one) else np.zeros(0, dtype=np.int64)
    rows = {"ids": ids, "labels": labels, "all_wrong": every, "only_one": one}
    return SharedFailures(tuple(models), at(every), top1[every].astype(np.int64), at(one), who,
                          top1[one, who].astype(np.int64), np.bincount(who, minlength=m).astype(np.int64),
                          rows)


# --------------------------------------------------------------------------- everything
@dataclass(frozen=True)
class ModelComparison:
    """Everything :func:`compare_models` computes; ``to_dict()`` is the JSON of
    ``misclass compare``."""

    models: tuple[str, ...]
    n: int
    n_unlabelled: int
    pairs: PairMatrices
    combinations: CombinationSearch
    classes: ClassCorrections
    failures: SharedFailures
    ensembles: tuple[EnsembleResult, ...] = field(default=())
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict:
        pairs = self.pairs.to_dict()
        combos = self.combinations.to_dict()
        failures = self.failures.to_dict()
        return {
            "models": list(self.models),
            "n": self.n,
            "n_unlabelled": self.n_unlabelled,
            "accuracy": pairs["accuracy"],
            "correction_rate": pairs["correction_rate"],
            "virtual_accuracy": pairs["virtual_accuracy"],
            "combinations": [c for c in combos["combinations"] if len(c["models"]) >= 2],
            "best": combos["best"],
            "all_wrong": failures["all_wrong"],
            "ensembles": [e.to_dict() for e in self.ensembles],
            "error_consistency": pairs["error_consistency"],
            "equal_top1": pairs["equal_top1"],
            "greedy_curve": combos["greedy_curve"],
            "combinations_listed_sizes": combos["listed_sizes"],
            "all_wrong_images": failures["all_wrong_images"],
            "only_one_wrong": failures["only_one_wrong"],
            "unique_errors": failures["unique_errors"],
            "only_one_wrong_images": failures["only_one_wrong_images"],
            "per_class": self.classes.to_dict(),
            "notes": list(self.notes),
        }


def compare_models(
    labels: np.ndarray,
    top1: np.ndarray,
    *,
    models: Sequence[str],
    class_names: Sequence[str],
    k: int = 3,
    sample_ids: Sequence[str] | None = None,
    topk: np.ndarray | None = None,
    topk_probs: np.ndarray | None = None,
    probs: Mapping[str, np.ndarray | None] | None = None,
    ensembles: bool = True,
    seed: int = 0,
    list_limit: int = LIST_LIMIT,
    max_combinations: int = MAX_COMBINATIONS,
    progress: Progress | None = None,
) -> ModelComparison:
    """Compare M models image by image: pair matrices, combinations up to ``k``, per-class
    corrections, shared failures and real ensembles of the best combinations.

    Parameters
    ----------
    labels : (N,) int, -1 unknown (those images are left out of every quantity)
    top1 : (N, M) int
    models : M names; class_names : C names
    k : largest combination size
    sample_ids : (N,) ids for the image lists (default: row numbers)
    topk, topk_probs : (N, M, K) ranked ids and their probabilities (NaN where a model has
        none), optional: used by the mean-probability ensemble and the selector's confidence
    probs : {model: (N, C) full probabilities or None}, optional
    ensembles : whether to evaluate real ensembles (majority vote, mean probability, learned
        selector) for the best combination of each size 2..k and, for up to 12 models, all
    seed : seed of the selector's cross-validation folds
    list_limit, max_combinations : see :func:`~misclass.analysis.combinations.search_combinations`
    progress : ``progress(description, done, total)`` for long enumerations
    """
    labels, top1 = _check_inputs(labels, top1, models)
    m = len(models)
    if m < 2:
        raise InputError(f"comparing models needs at least two; got {m} ({', '.join(models) or 'none'})")
    if k < 1:
        raise InputError(f"k = {k}: the largest combination size must be at least 1")
    known = np.flatnonzero(labels >= 0)
    if len(known) == 0:
        raise InputError("no image has a known label: cross-model comparison needs labels")
    notes: list[str] = []
    if len(known) < len(labels):
        notes.append(f"{len(labels) - len(known)} images without a label are left out")
    if k > m:
        notes.append(f"k = {k} is more than the {m} models; combinations go up to {m}")
    ids = None if sample_ids is None else np.asarray(sample_ids, dtype=object)
    if len(known) == len(labels):
        lab, t1, index = labels, top1, None
    else:
        lab, t1, index = labels[known], top1[known], known
        ids = None if ids is None else ids[known]
    if lab.max() >= len(class_names):
        raise InputError(f"labels must lie in 0..{len(class_names) - 1} (one per class name)")
    correct = t1 == lab[:, None]
    bits = pack_columns(correct)
    n_right = _row_counts(correct)
    pairs = _pair_matrices(correct, t1, models, bits, n_right)
    search = search_combinations(correct, k, models=models, list_limit=list_limit,
                                 max_combinations=max_combinations, progress=progress, bits=bits)
    classes = _class_corrections(lab, correct, models, class_names, 5, n_right)
    failures = _shared_failures(lab, t1, ~correct, m - n_right, models, ids, index)
    results: list[EnsembleResult] = []
    if ensembles:
        sets = [search.best[s].models for s in sorted(search.best) if s >= 2]
        if m <= 12 and tuple(models) not in [tuple(sorted(s, key=list(models).index)) for s in sets]:
            sets.append(tuple(models))
        for members in sets:
            if progress is not None:
                progress(f"ensembles of {len(members)} models", 0, 1)
            results.append(evaluate_ensembles(
                labels, top1, [list(models).index(x) for x in members], models=models,
                topk=topk, topk_probs=topk_probs, probs=probs, seed=seed))
    return ModelComparison(tuple(models), len(known), len(labels) - len(known), pairs, search, classes,
                           failures, tuple(results), tuple(notes))
