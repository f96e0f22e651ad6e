"""One way to test a function against an independent reference on many generated cases.

>>> import numpy as np
>>> check_against(np.cumsum, lambda x: [sum(x[:i + 1]) for i in range(len(x))],
...               generated(lambda rng: (rng.integers(0, 9, rng.integers(1, 6)),), n=20))
20

A failure names every case that disagreed (the first three in full), what went in (shapes,
dtypes, small arrays written out) and where the results differ:

>>> check_against(np.cumsum, np.sort, [("sorted", (np.array([1, 2]),)), ("one", (np.array([3]),))],
...               name="cumsum vs sort")
Traceback (most recent call last):
AssertionError: cumsum vs sort: 1 of 2 cases disagree; first 1:
  case 'sorted': 1 of 2 values differ (rtol=1e-09, atol=0.0): at (1,): 3 vs 2
    inputs: array([1, 2], int64)

The reference functions here are deliberately naive (brute force, or another library), so
that a check never compares a function with itself.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

Case = tuple[str, tuple]


def generated(make: Callable[[np.random.Generator], tuple], *, n: int = 50, seed: int = 0,
              kind: str = "") -> Iterator[Case]:
    """``n`` cases ``make(rng)`` from one seeded generator, labelled ``'seed S #i kind'``."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        yield f"seed {seed} #{i}{' ' + kind if kind else ''}", tuple(make(rng))


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        if value.size <= 24:
            return f"array({np.array2string(value, precision=17, separator=', ')}, {value.dtype})"
        return f"array(shape={value.shape}, dtype={value.dtype})"
    if isinstance(value, (list, tuple)) and len(value) > 24:
        return f"{type(value).__name__} of {len(value)}"
    return repr(value)


def _mismatch(got: Any, want: Any, rtol: float, atol: float) -> str | None:
    """None when ``got`` matches ``want`` (arrays, scalars, tuples of them), else how not."""
    if isinstance(want, tuple):
        if not isinstance(got, tuple) or len(got) != len(want):
            return f"got {type(got).__name__} {_describe(got)}, reference a {len(want)}-tuple"
        for j, (g, w) in enumerate(zip(got, want, strict=True)):
            why = _mismatch(g, w, rtol, atol)
            if why:
                return f"item {j}: {why}"
        return None
    g, w = np.asarray(got), np.asarray(want)
    if g.shape != w.shape:
        return f"shape {g.shape}, reference {w.shape}"
    if g.dtype == bool or w.dtype == bool or g.dtype.kind in "iuU" and w.dtype.kind in "iuU":
        bad = g != w
    else:
        g64, w64 = g.astype(np.float64), w.astype(np.float64)
        both_nan = np.isnan(g64) & np.isnan(w64)
        same_inf = np.isinf(w64) & (g64 == w64)
        with np.errstate(invalid="ignore"):
            close = np.abs(g64 - w64) <= atol + rtol * np.abs(w64)
        bad = ~(close | both_nan | same_inf)
    if not bad.any():
        return None
    where = np.argwhere(bad)[:3] if bad.ndim else [()]
    shown = "; ".join(f"at {tuple(int(x) for x in ix)}: {g[tuple(ix)].item()!r} vs {w[tuple(ix)].item()!r}"
                      for ix in where)
    return f"{int(bad.sum())} of {bad.size} values differ (rtol={rtol}, atol={atol}): {shown}"


def check_against(fn: Callable, reference: Callable, cases: Iterable[Case], *,
                  rtol: float = 1e-9, atol: float = 0.0, name: str | None = None) -> int:
    """Assert ``fn(*args) == reference(*args)`` (to ``rtol``/``atol``, NaN equal to NaN) for
    every ``(label, args)`` case; return how many cases ran.

    Every case runs; an AssertionError lists the disagreeing ones by label with their inputs.
    An exception raised by ``fn`` on a case counts as a disagreement, one raised by the
    reference is a broken test and propagates.
    """
    what = name or f"{getattr(fn, '__name__', 'fn')} vs {getattr(reference, '__name__', 'reference')}"
    failures, count = [], 0
    for label, args in cases:
        count += 1
        want = reference(*args)
        try:
            got = fn(*args)
        except Exception as exc:  # noqa: BLE001 - reported with the case that raised it
            why = f"raised {type(exc).__name__}: {exc}"
        else:
            why = _mismatch(got, want, rtol, atol)
        if why:
            inputs = ", ".join(_describe(a) for a in args)
            failures.append(f"  case {label!r}: {why}\n    inputs: {inputs}")
    assert count, f"{what}: no cases"
    if failures:
        raise AssertionError(f"{what}: {len(failures)} of {count} cases disagree; first "
                             f"{min(3, len(failures))}:\n" + "\n".join(failures[:3]))
    return count


# ----------------------------------------------------------------------------- references
def orders_within_ties(scores: np.ndarray) -> Iterator[np.ndarray]:
    """Every order of the images by ascending score, tied images in every order among
    themselves (``prod(size!)`` orders over the groups of equal scores)."""
    s = np.asarray(scores, dtype=np.float64)
    groups = [np.flatnonzero(s == v) for v in np.unique(s)]
    for parts in itertools.product(*(itertools.permutations(g) for g in groups)):
        yield np.concatenate(parts) if parts else np.array([], dtype=int)


def n_orders_within_ties(scores: np.ndarray) -> int:
    """How many orders :func:`orders_within_ties` yields."""
    _, sizes = np.unique(np.asarray(scores, dtype=np.float64), return_counts=True)
    return math.prod(math.factorial(int(k)) for k in sizes)


def brute_force_risk_curve(scores: np.ndarray, errors: np.ndarray) -> np.ndarray:
    """Risk at coverage i/N, i = 1..N (lowest score kept first), averaged over every order of
    the tied images by enumerating them: the definition, written out."""
    e = np.asarray(errors, dtype=np.float64)
    curves = [np.cumsum(e[order]) / np.arange(1, len(e) + 1) for order in orders_within_ties(scores)]
    return np.mean(curves, axis=0)


def brute_force_aurc(scores: np.ndarray, errors: np.ndarray) -> float:
    """Mean risk over coverages 1/N..N/N, by enumerating the orders of tied images."""
    return float(brute_force_risk_curve(scores, errors).mean())


def brute_force_optimal_aurc(errors: np.ndarray) -> float:
    """The smallest AURC of any order of the images, by trying every order."""
    e = np.asarray(errors, dtype=np.float64)
    steps = np.arange(1, len(e) + 1)
    return min(float((np.cumsum(e[list(p)]) / steps).mean()) for p in itertools.permutations(range(len(e))))


def sklearn_topk_accuracy(labels: np.ndarray, topk: np.ndarray, k: int, n_classes: int,
                          model_k: np.ndarray | None = None) -> np.ndarray:
    """Top-k accuracy of each model by scikit-learn's ``top_k_accuracy_score``: each model's
    ranked ids (N, K) become scores (rank r of K scores K - r, unranked classes 0) over the
    images with a known label; NaN where ``k`` exceeds what a model stored (or no label).
    A class listed twice keeps its first rank. Needs at least three classes, no -1 padding
    and k distinct ids in the first k of each row unless the label is among them: else
    scikit-learn fills the top k with unranked classes, ties broken by index, and could count
    an unranked label as a hit."""
    from sklearn.exceptions import UndefinedMetricWarning
    from sklearn.metrics import top_k_accuracy_score

    labels, topk = np.asarray(labels), np.asarray(topk)
    assert n_classes >= 3 and (topk >= 0).all(), "reference needs >= 3 classes and no padding"
    known = labels >= 0
    n, m, stored = topk.shape
    out = np.full(m, np.nan)
    if not known.any() or stored < k:
        return out
    for j in range(m):
        if model_k is not None and model_k[j] < k:
            continue
        first_k = np.sort(topk[known, j, :k], axis=1)
        short = (first_k[:, 1:] == first_k[:, :-1]).any(axis=1)
        assert not (short & ~(first_k == labels[known, None]).any(axis=1)).any(), \
            "reference needs k distinct ids in the first k, or the label among them"
        score = np.zeros((n, n_classes))
        for r in reversed(range(stored)):  # earlier ranks written last: a repeated class keeps its first
            score[np.arange(n), topk[:, j, r]] = stored - r
        with warnings.catch_warnings():  # k >= C: a perfect score, which is right here
            warnings.simplefilter("ignore", UndefinedMetricWarning)
            out[j] = top_k_accuracy_score(labels[known], score[known], k=k, labels=np.arange(n_classes))
    return out


def mahalanobis_to_predicted_class(features: np.ndarray, labels: np.ndarray, top1: np.ndarray,
                                   fit: np.ndarray, apply: np.ndarray, *,
                                   shrinkage: str | None = "ledoit-wolf") -> np.ndarray:
    """Squared Mahalanobis distance of each ``apply`` image's features to the calibration
    mean of its predicted class, under one covariance shared by the classes: that of the
    calibration features minus their class means (Lee et al., 2018), by scikit-learn's
    ``EmpiricalCovariance`` (``shrinkage=None``) or shrunk by the Ledoit-Wolf coefficient
    (``ShrunkCovariance``, an ``EmpiricalCovariance``). Images whose predicted class has no
    calibration image get the largest distance of the others."""
    from sklearn.covariance import EmpiricalCovariance, ShrunkCovariance, ledoit_wolf_shrinkage

    f = np.asarray(features, dtype=np.float64)
    fit_labels = np.asarray(labels)[fit]
    means = {int(c): f[fit[fit_labels == c]].mean(axis=0) for c in np.unique(fit_labels)}
    within = np.vstack([f[fit[fit_labels == c]] - means[c] for c in means])
    if shrinkage is None:
        est = EmpiricalCovariance().fit(within)
    elif shrinkage == "ledoit-wolf":
        est = ShrunkCovariance(shrinkage=ledoit_wolf_shrinkage(within)).fit(within)
    else:
        raise ValueError(shrinkage)
    pred = np.asarray(top1)[apply]
    out = np.full(len(apply), np.nan)
    for c in np.unique(pred):
        if int(c) in means:
            rows = np.flatnonzero(pred == c)
            out[rows] = est.mahalanobis(f[apply[rows]] - means[int(c)])
    finite = out[np.isfinite(out)]
    return np.where(np.isfinite(out), out, finite.max() if len(finite) else 1.0)
