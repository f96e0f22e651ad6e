"""Does another model get it right? Correction rates, virtual accuracy, shared failures.

With ``T_A`` the images model A classifies correctly, ``F_A`` those it misses and ``V`` all
images with a known label:

- potential correction rate ``PCR(A, B) = |F_A ∩ T_B| / |F_A|`` (rows: base model A,
  columns: corrector B; a row is NaN when A makes no mistakes);
- virtual (oracle) accuracy ``|T_A ∪ T_B| / |V|`` (diagonal: each model's accuracy);
- error consistency: Cohen's kappa of the correct/incorrect vectors of two models;
- the rate of equal top-1 predictions.

All pair quantities come from one Gram matrix ``correct.T @ correct`` (float32 BLAS, exact
for counts below 2**24) and a comparison of top-1 predictions restricted to each model's
mistakes; combinations of more models are in :mod:`misclass.analysis.combinations`, real
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
from scipy import sparse

from misclass.analysis.combinations import (
    LIST_LIMIT,
    MAX_COMBINATIONS,
    CombinationSearch,
    Progress,
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


def _gram(correct: np.ndarray) -> np.ndarray:
    """``correct.T @ correct`` as exact int64 counts, via float32 BLAS when that is exact."""
    dtype = np.float32 if correct.shape[0] < 2**24 else np.float64
    c = correct.astype(dtype)
    return np.rint(c.T @ c).astype(np.int64)


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
    gram = _gram(correct)
    right = np.diag(gram)
    wrong = correct.shape[0] - right
    fixed = right[None, :] - gram  # |F_A ∩ T_B| = |T_B| - |T_A ∩ T_B|
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(wrong[:, None] > 0, fixed / np.maximum(wrong, 1)[:, None], np.nan)


def virtual_accuracy(correct: np.ndarray) -> np.ndarray:
    """Oracle accuracy ``|T_A ∪ T_B| / N`` of every pair; the diagonal is each accuracy.

    >>> virtual_accuracy(np.array([[1, 0], [0, 1], [0, 0]], dtype=bool)).round(3).tolist()
    [[0.333, 0.667], [0.667, 0.333]]
    """
    correct = np.asarray(correct, dtype=bool)
    gram = _gram(correct)
    right = np.diag(gram)
    return (right[:, None] + right[None, :] - gram) / correct.shape[0]


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
    n = correct.shape[0]
    gram = _gram(correct)
    right = np.diag(gram)
    both_wrong = n - right[:, None] - right[None, :] + gram
    p_o = (gram + both_wrong) / n
    a = right / n
    p_e = a[:, None] * a[None, :] + (1 - a[:, None]) * (1 - a[None, :])
    denom = 1 - p_e
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(np.abs(denom) > 1e-12, (p_o - p_e) / np.where(denom == 0, 1, denom), np.nan)


def equal_top1_rate(top1: np.ndarray, correct: np.ndarray) -> np.ndarray:
    """Share of images on which each pair of models predicts the same class.

    Counted as ``|T_A ∩ T_B|`` plus, over the images A misses, those where B predicts the
    same wrong class, so the elementwise comparison runs on ``|F_A|`` rows only.

    >>> top1 = np.array([[0, 0], [1, 2], [2, 2]])
    >>> equal_top1_rate(top1, top1 == np.array([0, 1, 9])[:, None]).round(3).tolist()
    [[1.0, 0.667], [0.667, 1.0]]
    """
    top1 = np.asarray(top1)
    correct = np.asarray(correct, dtype=bool)
    n, m = top1.shape
    counts = _gram(correct).astype(np.int64)
    for a in range(m - 1):
        rows = np.flatnonzero(~correct[:, a])
        if len(rows) == 0:
            continue
        block = top1[rows]
        same_wrong = np.count_nonzero(block[:, a + 1:] == block[:, a:a + 1], axis=0)
        counts[a, a + 1:] += same_wrong
        counts[a + 1:, a] += same_wrong
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
    labels, top1 = labels[known], top1[known]
    correct = top1 == labels[:, None]
    n = len(labels)
    gram = _gram(correct)
    return PairMatrices(
        models=tuple(models),
        n=n,
        accuracy=np.diag(gram) / n,
        correction_rate=correction_rate(correct),
        virtual_accuracy=virtual_accuracy(correct),
        error_consistency=error_consistency(correct),
        equal_top1=equal_top1_rate(top1, correct),
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
    top_corrected : DataFrame ``model``, ``rank``, ``class_index``, ``class_name``,
        ``corrected``: the (up to) 5 classes each model corrects most
    hard_classes : DataFrame ``class_index``, ``class_name``, ``n_images``,
        ``best_accuracy``, ``best_model``, ``mean_accuracy``: classes where every model is
        below 50%
    """

    models: tuple[str, ...]
    class_names: tuple[str, ...]
    n_images: np.ndarray
    corrected: np.ndarray
    got_corrected: np.ndarray
    class_accuracy: np.ndarray
    top_corrected: pd.DataFrame
    hard_classes: pd.DataFrame

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
        return {
            "corrected": {m: self.corrected[:, j].tolist() for j, m in enumerate(self.models)},
            "got_corrected": {m: self.got_corrected[:, j].tolist() for j, m in enumerate(self.models)},
            "top_corrected_classes": {
                m: self.top_corrected[self.top_corrected["model"] == m]
                .drop(columns="model").to_dict("records") for m in self.models},
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
    n, m = correct.shape
    c = len(class_names)
    if len(labels) and (labels.min() < 0 or labels.max() >= c):
        raise InputError(f"labels must lie in 0..{c - 1} (one per class name)")
    n_right = correct.sum(axis=1, dtype=np.int64)
    n_wrong = m - n_right
    onehot = sparse.csr_matrix((np.ones(n), (labels, np.arange(n))), shape=(c, n))
    weights = np.concatenate([correct * n_wrong[:, None], ~correct * n_right[:, None], correct], axis=1)
    sums = np.rint(np.asarray(onehot @ weights.astype(np.float64))).astype(np.int64)
    corrected, got_corrected, right = sums[:, :m], sums[:, m:2 * m], sums[:, 2 * m:]
    n_images = np.bincount(labels, minlength=c).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.where(n_images[:, None] > 0, right / np.maximum(n_images, 1)[:, None], np.nan)
    names = np.asarray(list(class_names), dtype=object)
    rows = []
    for j, model in enumerate(models):
        order = np.lexsort((np.arange(c), -corrected[:, j]))[:top]
        for rank, ci in enumerate(order[corrected[order, j] > 0], start=1):
            rows.append({"model": model, "rank": rank, "class_index": int(ci),
                         "class_name": str(names[ci]), "corrected": int(corrected[ci, j])})
    top_corrected = pd.DataFrame(rows, columns=["model", "rank", "class_index", "class_name", "corrected"])
    hard = np.flatnonzero((n_images > 0) & np.all(np.nan_to_num(acc, nan=1.0) < HARD_CLASS_ACCURACY, axis=1))
    best_j = np.argmax(acc[hard], axis=1) if len(hard) else np.zeros(0, dtype=int)
    hard_classes = pd.DataFrame({
        "class_index": hard,
        "class_name": names[hard].astype(str) if len(hard) else np.zeros(0, dtype=str),
        "n_images": n_images[hard],
        "best_accuracy": acc[hard].max(axis=1) if len(hard) else np.zeros(0),
        "best_model": [models[j] for j in best_j],
        "mean_accuracy": acc[hard].mean(axis=1) if len(hard) else np.zeros(0),
    }).sort_values(["best_accuracy", "class_index"], kind="stable").reset_index(drop=True)
    return ClassCorrections(tuple(models), tuple(str(x) for x in names), n_images, corrected,
                            got_corrected, acc, top_corrected, hard_classes)


# --------------------------------------------------------------------------- images
@dataclass(frozen=True)
class SharedFailures:
    """Images every model misses and images exactly one model misses.

    Attributes
    ----------
    all_wrong : DataFrame ``index`` (row in the caller's order), ``sample_id``, ``label``,
        then one column per model with its top-1 prediction
    only_one_wrong : DataFrame ``index``, ``sample_id``, ``label``, ``model`` (the one that
        misses), ``prediction``
    unique_errors : (M,) images only this model misses
    """

    models: tuple[str, ...]
    all_wrong: pd.DataFrame
    only_one_wrong: pd.DataFrame
    unique_errors: np.ndarray

    def to_dict(self) -> dict:
        return {
            "all_wrong": len(self.all_wrong),
            "all_wrong_images": [
                {"index": int(r["index"]), "sample_id": str(r["sample_id"]), "label": int(r["label"]),
                 "predictions": {m: int(r[m]) for m in self.models}}
                for r in self.all_wrong.to_dict("records")],
            "only_one_wrong": len(self.only_one_wrong),
            "unique_errors": {m: int(x) for m, x in zip(self.models, self.unique_errors, strict=True)},
            "only_one_wrong_images": self.only_one_wrong.to_dict("records"),
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
    n, m = top1.shape
    index = np.arange(n) if index is None else np.asarray(index)
    ids = np.asarray([str(i) for i in index] if sample_ids is None else list(sample_ids), dtype=object)
    wrong = (top1 != labels[:, None]) & (labels[:, None] >= 0)
    n_wrong = wrong.sum(axis=1)
    every = np.flatnonzero((n_wrong == m) & (labels >= 0))
    all_wrong = pd.DataFrame({"index": index[every], "sample_id": ids[every], "label": labels[every]})
    for j, model in enumerate(models):
        all_wrong[model] = top1[every, j].astype(np.int64)
    one = np.flatnonzero(n_wrong == 1)
    who = np.argmax(wrong[one], axis=1) if len(one) else np.zeros(0, dtype=int)
    only_one = pd.DataFrame({
        "index": index[one], "sample_id": ids[one], "label": labels[one],
        "model": np.asarray(models, dtype=object)[who] if len(one) else np.zeros(0, dtype=object),
        "prediction": top1[one, who].astype(np.int64),
    })
    unique = np.bincount(who, minlength=m).astype(np.int64)
    return SharedFailures(tuple(models), all_wrong, only_one, unique)


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
    ids = None if sample_ids is None else np.asarray(list(sample_ids), dtype=object)[known]
    lab, t1 = labels[known], top1[known]
    correct = t1 == lab[:, None]
    pairs = pair_matrices(lab, t1, models=models)
    search = search_combinations(correct, k, models=models, list_limit=list_limit,
                                 max_combinations=max_combinations, progress=progress)
    classes = class_corrections(lab, correct, models=models, class_names=class_names)
    failures = find_shared_failures(lab, t1, models=models, sample_ids=ids, index=known)
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
