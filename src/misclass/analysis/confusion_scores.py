"""Scores of misclassified images: how far the true class's score falls behind the predicted
class's, and whether two groups of confusion pairs differ in that.

For a misclassified image with true class i predicted as j, ``ratio = s_i / s_j`` and
``difference = s_i - s_j`` (s the model's class scores; the difference is <= 0). The true
class's score comes from the full probabilities when the store has them, else from the stored
top-k; an image whose true class is outside the stored top-k has no known s_i, and is counted
in ``outside_topk`` instead of being dropped silently.

>>> import numpy as np
>>> labels = np.array([0, 1, 1, 2])
>>> topk = np.array([[1, 0], [0, 2], [1, 0], [0, 2]])
>>> probs = np.array([[.6, .3], [.5, .2], [.9, .1], [.7, .3]])
>>> true_s, pred_s = class_scores(labels, topk, probs)
>>> true_s.tolist(), pred_s.tolist()  # doctest: +ELLIPSIS
([0.3..., nan, nan, 0.3...], [0.6..., 0.5, nan, 0.7...])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from misclass.analysis.stats import TTest, ttest_two_sample
from misclass.errors import InputError

QUANTITIES = ("ratio", "difference")


def class_scores(labels: np.ndarray, topk: np.ndarray, topk_probs: np.ndarray | None,
                 probs: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The true class's and the predicted class's score of every misclassified image.

    Parameters
    ----------
    labels : (N,) int, -1 unknown
    topk : (N, k) int, one model's ranked predictions (-1 padding)
    topk_probs : (N, k) float or None, their probabilities (NaN where unknown)
    probs : (N, C) float or None, full probabilities (e.g. a memory-mapped float16 array);
        preferred when given. Only the rows of misclassified images are read.

    Returns
    -------
    (true_score, pred_score), each (N,) float64: NaN for correct or unlabelled images, for
    images without scores, and (true_score only) where the true class is outside the stored
    top-k and no full probabilities exist.
    """
    labels = np.asarray(labels, dtype=np.int64)
    topk = np.asarray(topk)
    if topk.ndim == 1:
        topk = topk[:, None]
    n = len(labels)
    true_s = np.full(n, np.nan)
    pred_s = np.full(n, np.nan)
    wrong = np.flatnonzero((labels >= 0) & (topk[:, 0] >= 0) & (topk[:, 0] != labels))
    if probs is not None:
        if probs.shape[0] != n:
            raise InputError(f"probabilities have {probs.shape[0]} rows for {n} images")
        rows = np.asarray(probs[wrong], dtype=np.float64)  # reads only these rows of a memmap
        true_s[wrong] = rows[np.arange(len(wrong)), labels[wrong]]
        pred_s[wrong] = rows[np.arange(len(wrong)), topk[wrong, 0]]
    elif topk_probs is not None:
        tp = np.asarray(topk_probs, dtype=np.float64)
        tp = tp[:, None] if tp.ndim == 1 else tp
        pred_s[wrong] = tp[wrong, 0]
        hit = topk[wrong] == labels[wrong, None]
        found = hit.any(axis=1)
        true_s[wrong[found]] = tp[wrong[found], hit[found].argmax(axis=1)]
    return true_s, pred_s


@dataclass(frozen=True)
class GroupComparison:
    """One quantity compared between groups A and B: sizes, means, standard deviations and
    both t-tests (A minus B)."""

    quantity: str
    n_a: int
    n_b: int
    mean_a: float
    mean_b: float
    std_a: float
    std_b: float
    pooled: TTest
    welch: TTest

    def to_dict(self) -> dict:
        return {"quantity": self.quantity, "n_a": self.n_a, "n_b": self.n_b, "mean_a": self.mean_a,
                "mean_b": self.mean_b, "std_a": self.std_a, "std_b": self.std_b,
                "pooled": self.pooled.to_dict(), "welch": self.welch.to_dict()}


@dataclass(frozen=True)
class ScoreAnalysis:
    """Scores of one model's misclassified images.

    Attributes
    ----------
    errors : misclassified labelled images
    scored : those with both scores known
    outside_topk : those whose true class is outside the stored top-k (no full probabilities)
    no_scores : those without any stored score (the model stored no probabilities)
    ratio, difference : (scored,) values, in store order of the images ``index``
    pairs : (scored, 2) int, (true, predicted) class of each
    in_a, in_b : (scored,) bool, membership of the groups (None without groups)
    outside_a, outside_b : images of each group whose true class is outside the top-k
    comparisons : one :class:`GroupComparison` per quantity when both groups are given
    """

    model: str
    errors: int
    scored: int
    outside_topk: int
    no_scores: int
    index: np.ndarray
    pairs: np.ndarray
    ratio: np.ndarray
    difference: np.ndarray
    in_a: np.ndarray | None = None
    in_b: np.ndarray | None = None
    outside_a: int = 0
    outside_b: int = 0
    comparisons: tuple[GroupComparison, ...] = ()

    def summary(self) -> dict:
        def desc(x: np.ndarray) -> dict:
            if not len(x):
                return {"mean": None, "median": None, "std": None}
            return {"mean": float(x.mean()), "median": float(np.median(x)),
                    "std": float(x.std(ddof=1)) if len(x) > 1 else None}

        return {"ratio": desc(self.ratio), "difference": desc(self.difference)}

    def to_dict(self) -> dict:
        out = {"errors": self.errors, "scored": self.scored, "outside_topk": self.outside_topk,
               "no_scores": self.no_scores, "all_errors": self.summary()}
        if self.in_a is not None:
            out["groups"] = {"a": {"images": int(self.in_a.sum()), "outside_topk": self.outside_a},
                             "b": {"images": int(self.in_b.sum()), "outside_topk": self.outside_b}}
            out["comparisons"] = [c.to_dict() for c in self.comparisons]
        return out

    def comparison_table(self) -> pd.DataFrame:
        """One row per quantity: group sizes, means and both t-tests."""
        return pd.DataFrame([{
            "model": self.model, "quantity": c.quantity, "n A": c.n_a, "mean A": c.mean_a,
            "n B": c.n_b, "mean B": c.mean_b, "pooled t": c.pooled.statistic, "pooled p": c.pooled.p,
            "Welch t": c.welch.statistic, "Welch dof": c.welch.dof, "Welch p": c.welch.p,
            "A outside top-k": self.outside_a, "B outside top-k": self.outside_b,
        } for c in self.comparisons])


def _pair_codes(pairs: Sequence[tuple[int, int]], n_classes: int) -> np.ndarray:
    return np.array([a * n_classes + b for a, b in pairs], dtype=np.int64)


def _compare(quantity: str, a: np.ndarray, b: np.ndarray) -> GroupComparison:
    def std(x):
        return float(x.std(ddof=1)) if len(x) > 1 else float("nan")

    return GroupComparison(quantity, len(a), len(b), float(a.mean()) if len(a) else float("nan"),
                           float(b.mean()) if len(b) else float("nan"), std(a), std(b),
                           ttest_two_sample(a, b, equal_var=True), ttest_two_sample(a, b, equal_var=False))


def analyze_scores(model: str, labels: np.ndarray, predictions: np.ndarray, true_score: np.ndarray,
                   pred_score: np.ndarray, n_classes: int, *,
                   group_a: Sequence[tuple[int, int]] | None = None,
                   group_b: Sequence[tuple[int, int]] | None = None) -> ScoreAnalysis:
    """Ratio and difference of the true and predicted class's scores for one model's errors,
    and their comparison between two groups of (true, predicted) confusion pairs.

    Parameters
    ----------
    labels, predictions : (N,) int, true class (-1 unknown) and top-1 (-1 none)
    true_score, pred_score : (N,) float, from :func:`class_scores`
    group_a, group_b : (true, predicted) class pairs, optional (both or neither)
    """
    labels = np.asarray(labels, dtype=np.int64)
    predictions = np.asarray(predictions, dtype=np.int64)
    if (group_a is None) != (group_b is None):
        raise InputError("score groups: give both group A and group B, or neither")
    wrong = (labels >= 0) & (predictions >= 0) & (predictions != labels)
    has_pred = wrong & ~np.isnan(pred_score) & (pred_score > 0)
    scored = has_pred & ~np.isnan(true_score)
    outside = has_pred & np.isnan(true_score)
    index = np.flatnonzero(scored)
    ratio = true_score[index] / pred_score[index]
    difference = true_score[index] - pred_score[index]
    pairs = np.stack([labels[index], predictions[index]], axis=1)
    kw: dict = {}
    if group_a is not None:
        codes = labels * n_classes + predictions
        code_a, code_b = _pair_codes(group_a, n_classes), _pair_codes(group_b, n_classes)
        in_a, in_b = np.isin(codes[index], code_a), np.isin(codes[index], code_b)
        comps = tuple(_compare(q, vals[in_a], vals[in_b])
                      for q, vals in (("ratio", ratio), ("difference", difference)))
        kw = {"in_a": in_a, "in_b": in_b, "outside_a": int(np.isin(codes[outside], code_a).sum()),
              "outside_b": int(np.isin(codes[outside], code_b).sum()), "comparisons": comps}
    return ScoreAnalysis(model, int(wrong.sum()), len(index), int(outside.sum()),
                         int((wrong & ~has_pred).sum()), index, pairs, ratio, difference, **kw)
