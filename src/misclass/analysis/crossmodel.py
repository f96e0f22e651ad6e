"""Does another model get it right? Correction rates, virtual accuracy, and everything at once.

With ``T_A`` the images model A classifies correctly, ``F_A`` those it misses and ``V`` all
images with a known label:

- potential correction rate ``PCR(A, B) = |F_A ∩ T_B| / |F_A|`` (rows: base model A,
  columns: corrector B; a row is NaN when A makes no mistakes);
- virtual (oracle) accuracy ``|T_A ∪ T_B| / |V|`` (diagonal: each model's accuracy);
- error consistency: Cohen's kappa of the correct/incorrect vectors of two models;
- the rate of equal top-1 predictions.

All pair quantities come from one Gram matrix ``correct.T @ correct`` (popcounts of the
bit-packed columns; for up to 12 models, :func:`compare_models` takes it, the combinations and
the per-class sums from the histogram of right/wrong patterns, :mod:`misclass.analysis.patterns`)
and a comparison of top-1 predictions on the images not every model gets right; combinations
of more models are in :mod:`misclass.analysis.combinations`, per-class corrections in
:mod:`misclass.analysis.class_corrections`, images all or one model miss in
:mod:`misclass.analysis.shared_failures`, real ensembles in :mod:`misclass.analysis.ensembles`.
:func:`compare_models` runs everything.

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

from misclass.analysis import patterns
from misclass.analysis.class_corrections import (
    ClassCorrections,
    _class_corrections,
    _row_counts,
    _summarise,
    class_corrections,
)
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
from misclass.analysis.shared_failures import (
    SharedFailures,
    _shared_failures,
    check_predictions,
    failure_rows,
    find_shared_failures,
)
from misclass.errors import InputError

__all__ = ["ClassCorrections", "ModelComparison", "PairMatrices", "SharedFailures", "class_corrections",
           "compare_models", "correction_rate", "equal_top1_rate", "error_consistency",
           "find_shared_failures", "pair_matrices", "virtual_accuracy"]

def _nan_to_none(a: np.ndarray) -> list:
    return [[None if np.isnan(x) else float(x) for x in row] for row in np.asarray(a, dtype=float)]


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
    ``p_e = 1`` (the convention of :mod:`misclass.analysis.agreement`). Equals
    :func:`sklearn.metrics.cohen_kappa_score` on the two columns.

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
    labels, top1 = check_predictions(labels, top1, models)
    known = labels >= 0
    if not known.any():
        raise InputError("no image has a known label: cross-model comparison needs labels")
    if not known.all():
        labels, top1 = labels[known], top1[known]
    correct = top1 == labels[:, None]
    return _pair_matrices(top1, models, _gram(correct), _row_counts(correct) == len(models))


def _pair_matrices(top1: np.ndarray, models: Sequence[str], gram: np.ndarray,
                   unanimous: np.ndarray) -> PairMatrices:
    """``gram``: ``correct.T @ correct``; ``unanimous``: the images every model gets right."""
    n = top1.shape[0]
    return PairMatrices(
        models=tuple(models),
        n=n,
        accuracy=np.diag(gram) / n,
        correction_rate=_correction_rate(gram, n),
        virtual_accuracy=_virtual_accuracy(gram, n),
        error_consistency=_error_consistency(gram, n),
        equal_top1=equal_top1_rate(top1, unanimous=unanimous),
        both_correct=gram,
    )


def _count_on_patterns(lab: np.ndarray, t1: np.ndarray, models: Sequence[str], class_names: Sequence[str],
                       options: dict) -> tuple:
    """The counts of :func:`compare_models` for few models, from the histogram of right/wrong
    patterns: Gram matrix, images every model gets right, combinations (``options`` for
    :func:`search_combinations`), per-class tables, failure rows."""
    m, c = len(models), len(class_names)
    correct, code = patterns.pattern_codes(t1, lab)
    table = patterns.class_pattern_table(lab, code, m, c) if c << m <= patterns.MAX_CLASS_CELLS else None
    hist = np.bincount(code, minlength=1 << m) if table is None else table.sum(axis=0)
    if table is not None:
        corrected, got, right, n_images = patterns.class_pattern_sums(table, m)
        classes = _summarise(models, class_names, 5, n_images, corrected, got, right)
    else:
        classes = _class_corrections(lab, correct, models, class_names, 5, patterns.right_counts(m)[code])
    search = search_combinations(correct, models=models, patterns=hist, **options)
    unanimous = code == (1 << m) - 1
    return patterns.pattern_gram(hist, m), unanimous, search, classes, patterns.pattern_failure_rows(code, m)


def _count_on_bits(lab: np.ndarray, t1: np.ndarray, models: Sequence[str], class_names: Sequence[str],
                   options: dict) -> tuple:
    """:func:`_count_on_patterns` for many models, on bit sets of the images."""
    correct = t1 == lab[:, None]
    bits = pack_columns(correct)
    n_right = _row_counts(correct)
    search = search_combinations(correct, models=models, bits=bits, **options)
    classes = _class_corrections(lab, correct, models, class_names, 5, n_right)
    return _gram(correct, bits), n_right == len(models), search, classes, failure_rows(correct, n_right)


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
    labels, top1 = check_predictions(labels, top1, models)
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
    count = _count_on_patterns if m <= patterns.MAX_PATTERN_MODELS else _count_on_bits
    gram, unanimous, search, classes, rows = count(
        lab, t1, models, class_names,
        {"k": k, "list_limit": list_limit, "max_combinations": max_combinations, "progress": progress})
    pairs = _pair_matrices(t1, models, gram, unanimous)
    failures = _shared_failures(lab, t1, *rows, models, ids, index)
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
