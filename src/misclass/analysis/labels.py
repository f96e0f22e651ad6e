"""Is the label the problem? Multi-label accuracy, class-group subsets and linear fits.

Data contract (store order, N images, M predictors, C classes):

- ``labels (N,)`` int, -1 unknown; ``topk (N, M, k)`` int, -1 padding; ``model_k (M,)``.
- :class:`LabelSets`: per image a set of correct class ids (CSR: ``indptr (N+1,)``,
  ``indices (nnz,)``), ``has_set (N,)`` (False: the source says nothing about the image) and
  ``problematic (N,)``.
- :class:`ClassGroups`: ``members (G, C)`` bool, a class may belong to several groups.
- ``kinds (M,)``: "model" or "human" for each predictor.

A top-1 prediction is *multi-label correct* when it is in the image's set. Images without a
set, with an empty set (no valid label) or flagged problematic are excluded, each counted once
under the first of those reasons.

>>> sets = LabelSets.from_lists([[0, 1], [], None, [2]], problematic=[False, False, False, True])
>>> top1 = np.array([[1], [0], [0], [2]])
>>> res = multilabel_accuracy(top1, sets)
>>> res.accuracy.tolist(), res.n, res.excluded
([1.0], 1, {'no_set': 1, 'empty': 1, 'problematic': 1})
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from misclass.analysis.summary import topk_accuracy
from misclass.errors import InputError
from misclass.types import ClassGroups, LabelSets

KINDS = ("model", "human")


@dataclass(frozen=True)
class MultiLabelAccuracy:
    """Multi-label accuracy of M predictors: ``accuracy (M,)`` over ``n`` images."""

    accuracy: np.ndarray
    n: int
    excluded: dict[str, int]


def multilabel_accuracy(top1: np.ndarray, sets: LabelSets, *, mask: np.ndarray | None = None
                        ) -> MultiLabelAccuracy:
    """Share of the evaluable images whose top-1 prediction is in the image's label set.

    Parameters
    ----------
    top1 : (N, M) int
    sets : LabelSets with N images
    mask : (N,) bool, optional
        Evaluate only these images (e.g. a class group); exclusions are counted within it.

    Returns
    -------
    MultiLabelAccuracy; accuracy is NaN when no image is evaluable.
    """
    top1 = np.asarray(top1)
    if top1.ndim == 1:
        top1 = top1[:, None]
    inside = np.ones(len(sets), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    use = sets.evaluable & inside
    n = int(use.sum())
    excluded = sets.exclusion_counts(inside)
    if n == 0:
        return MultiLabelAccuracy(np.full(top1.shape[1], np.nan), 0, excluded)
    hits = sets.contains(top1)[use]
    return MultiLabelAccuracy(hits.mean(axis=0), n, excluded)


def multilabel_correct(top1: np.ndarray, sets: LabelSets) -> np.ndarray:
    """``(N, M)`` bool: top-1 in the set; False for images that are not evaluable."""
    top1 = np.asarray(top1)
    return sets.contains(top1) & sets.evaluable[:, None]


# --------------------------------------------------------------------------- linear fit
@dataclass(frozen=True)
class LinearFit:
    """``y = slope * x + intercept`` by least squares; ``r`` is Pearson's correlation."""

    slope: float
    intercept: float
    r: float
    n: int

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.slope * np.asarray(x, dtype=float) + self.intercept

    def to_dict(self) -> dict[str, float]:
        return {"slope": self.slope, "intercept": self.intercept, "r": self.r,
                "r2": self.r * self.r if np.isfinite(self.r) else float("nan"), "n": self.n}


def fit_line(x: np.ndarray, y: np.ndarray) -> LinearFit | None:
    """Least-squares line through the finite ``(x, y)`` pairs; None with fewer than 2 distinct x.

    >>> f = fit_line(np.array([0.0, 1.0, 2.0]), np.array([1.0, 3.0, 5.0]))
    >>> round(f.slope, 6), round(f.intercept, 6), round(f.r, 6)
    (2.0, 1.0, 1.0)
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) < 2 or np.ptp(x) == 0:
        return None
    xm, ym = x.mean(), y.mean()
    sxx = ((x - xm) ** 2).sum()
    sxy = ((x - xm) * (y - ym)).sum()
    syy = ((y - ym) ** 2).sum()
    slope = sxy / sxx
    r = sxy / np.sqrt(sxx * syy) if syy > 0 else float("nan")
    return LinearFit(float(slope), float(ym - slope * xm), float(r), int(len(x)))


# --------------------------------------------------------------------------- evaluation
def _extremes(names: Sequence[str], values: np.ndarray) -> dict[str, Any]:
    vals = np.asarray(values, dtype=float)
    ok = np.isfinite(vals)
    if not ok.any():
        return {"best": None, "worst": None, "median": None}
    idx = np.flatnonzero(ok)
    best = idx[np.argmax(vals[ok])]
    worst = idx[np.argmin(vals[ok])]
    return {"best": {"name": names[best], "value": float(vals[best])},
            "worst": {"name": names[worst], "value": float(vals[worst])},
            "median": float(np.median(vals[ok]))}


@dataclass(frozen=True)
class Evaluation:
    """Per-predictor accuracies, their summary across models, the multi-label vs top-1 fit, subsets.

    Attributes
    ----------
    table : DataFrame
        One row per predictor: ``name``, ``kind``, ``n`` (images with a label), ``top1``, ``top5``
        (NaN when k < 5), ``multilabel`` and ``n_multilabel`` (NaN / 0 without label sets).
    summary : dict
        For ``top1``, ``top5``, ``multilabel``: ``best`` / ``worst`` ({name, value}) and ``median``
        across predictors of kind "model"; humans get the same under ``humans`` when present.
    fit : LinearFit or None
        Multi-label against top-1 accuracy across models.
    excluded : dict or None
        Images excluded from multi-label accuracy, by reason.
    subsets : DataFrame
        Long format: ``group``, ``name``, ``n_images``, ``top1``, ``multilabel``, ``n_multilabel``.
    missed : dict
        Images that every model / every human / every predictor gets wrong (multi-label when
        label sets are given, else top-1; over the images where that is defined).
    """

    table: pd.DataFrame
    summary: dict[str, Any]
    fit: LinearFit | None
    excluded: dict[str, int] | None
    subsets: pd.DataFrame
    missed: dict[str, int | None] = field(default_factory=dict)
    label_source: str | None = None
    group_source: str | None = None

    @property
    def subset_metric(self) -> str:
        return "multilabel" if self.excluded is not None else "top1"

    def subset_matrix(self, metric: str | None = None) -> pd.DataFrame:
        """Groups x predictors accuracy table (``metric``: "top1" or "multilabel")."""
        metric = metric or self.subset_metric
        if self.subsets.empty:
            return pd.DataFrame()
        wide = self.subsets.pivot(index="group", columns="name", values=metric)
        groups = list(dict.fromkeys(self.subsets["group"]))
        names = list(dict.fromkeys(self.subsets["name"]))
        out = wide.loc[groups, names]
        out.columns.name = None
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON form: ``models``, ``summary``, ``subsets`` {group: {model: accuracy}}, and details."""
        models = [
            {"name": r.name, "kind": r.kind, "top1": r.top1, "top5": r.top5,
             "multilabel": r.multilabel, "n_multilabel": int(r.n_multilabel), "n": int(r.n)}
            for r in self.table.itertuples(index=False)
        ]
        subsets: dict[str, dict[str, float]] = {}
        sizes: dict[str, int] = {}
        metric = self.subset_metric
        for r in self.subsets.itertuples(index=False):
            subsets.setdefault(r.group, {})[r.name] = getattr(r, metric)
            sizes[r.group] = int(r.n_multilabel if metric == "multilabel" else r.n_images)
        return {
            "models": models,
            "summary": self.summary,
            "subsets": subsets,
            "subset_metric": metric,
            "subset_images": sizes,
            "subsets_top1": {g: dict(zip(d["name"], d["top1"], strict=True))
                             for g, d in self.subsets.groupby("group", sort=False)},
            "fit": None if self.fit is None else self.fit.to_dict(),
            "excluded": self.excluded,
            "missed": self.missed,
            "labels": self.label_source,
            "groups": self.group_source,
        }


def evaluate_predictors(
    names: Sequence[str],
    labels: np.ndarray,
    topk: np.ndarray,
    model_k: np.ndarray,
    *,
    label_sets: LabelSets | None = None,
    groups: ClassGroups | None = None,
    kinds: Sequence[str] | None = None,
) -> Evaluation:
    """Top-1, top-5 and multi-label accuracy per predictor, summaries, fit and subsets.

    Parameters
    ----------
    names : M predictor names
    labels : (N,) int, -1 unknown
    topk : (N, M, k) int
    model_k : (M,) int, how many predictions each stored
    label_sets : LabelSets, optional
        Multi-label ground truth; without it multi-label columns are NaN.
    groups : ClassGroups, optional
        Class groups; an image belongs to the groups of its label.
    kinds : M of "model" / "human", optional (default: all "model")
        Summaries and the fit use models only.
    """
    names = list(names)
    labels = np.asarray(labels)
    topk = np.asarray(topk)
    m = len(names)
    if topk.ndim != 3 or topk.shape[:2] != (len(labels), m):
        raise InputError(f"topk has shape {topk.shape}; expected ({len(labels)}, {m}, k)")
    kinds = list(kinds) if kinds is not None else ["model"] * m
    bad = [k for k in kinds if k not in KINDS]
    if bad or len(kinds) != m:
        raise InputError(f"kinds: expected {m} of {KINDS}, got {kinds}")
    if label_sets is not None and len(label_sets) != len(labels):
        raise InputError(f"{label_sets.source}: {len(label_sets)} label sets for {len(labels)} images")
    top1 = topk[:, :, 0]
    known = labels >= 0
    table = pd.DataFrame({
        "name": names, "kind": kinds, "n": int(known.sum()),
        "top1": topk_accuracy(labels, topk, 1, model_k),
        "top5": topk_accuracy(labels, topk, 5, model_k),
        "multilabel": np.nan, "n_multilabel": 0,
    })
    excluded = None
    if label_sets is not None:
        ml = multilabel_accuracy(top1, label_sets)
        table["multilabel"] = ml.accuracy
        table["n_multilabel"] = ml.n
        excluded = ml.excluded

    is_model = np.array([k == "model" for k in kinds])
    summary: dict[str, Any] = {}
    for who, sel in (("models", is_model), ("humans", ~is_model)):
        if sel.any():
            sel_names = [n for n, s in zip(names, sel, strict=True) if s]
            summary[who] = {col: _extremes(sel_names, table[col].to_numpy()[sel])
                            for col in ("top1", "top5", "multilabel")}
    fit = None
    if label_sets is not None:
        fit = fit_line(table["top1"].to_numpy()[is_model], table["multilabel"].to_numpy()[is_model])

    ml_correct = multilabel_correct(top1, label_sets) if label_sets is not None else None
    rows = []
    if groups is not None:
        masks = groups.image_masks(labels)
        for g, mask in zip(groups.names, masks, strict=True):
            n_img = int(mask.sum())
            acc = (top1[mask] == labels[mask, None]).mean(axis=0) if n_img else np.full(m, np.nan)
            if label_sets is not None:
                use = label_sets.evaluable & mask
                mln = int(use.sum())
                mla = ml_correct[use].mean(axis=0) if mln else np.full(m, np.nan)
            else:
                mla, mln = np.full(m, np.nan), 0
            for j, name in enumerate(names):
                rows.append({"group": g, "name": name, "n_images": n_img, "top1": float(acc[j]),
                             "multilabel": float(mla[j]), "n_multilabel": mln})
    subsets = pd.DataFrame(rows, columns=["group", "name", "n_images", "top1", "multilabel", "n_multilabel"])

    if ml_correct is not None:
        correct, defined = ml_correct, label_sets.evaluable
    else:
        correct, defined = (top1 == labels[:, None]) & known[:, None], known
    missed: dict[str, int | None] = {}
    for who, sel in (("all_models", is_model), ("all_humans", ~is_model), ("all", np.ones(m, bool))):
        missed[who] = int((~correct[defined][:, sel]).all(axis=1).sum()) if sel.any() else None
    return Evaluation(table, summary, fit, excluded, subsets, missed,
                      label_sets.source if label_sets is not None else None,
                      groups.source if groups is not None else None)
