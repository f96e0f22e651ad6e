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

KINDS = ("model", "human")


# --------------------------------------------------------------------------- label sets
@dataclass(frozen=True)
class LabelSets:
    """A set of correct class ids per image (CSR layout) and a problematic flag.

    Attributes
    ----------
    indptr : (N+1,) int64
        Image ``i``'s classes are ``indices[indptr[i]:indptr[i+1]]``.
    indices : (nnz,) int64
        Class ids, sorted and unique within each image.
    has_set : (N,) bool
        False where the source gives no set for the image.
    problematic : (N,) bool
        Images flagged as problematic (excluded from multi-label accuracy).
    source : str
        Where the sets came from, for messages.
    n_unmatched : int
        Entries of the source whose sample id is not in the store (ignored).
    """

    indptr: np.ndarray
    indices: np.ndarray
    has_set: np.ndarray
    problematic: np.ndarray
    source: str = ""
    n_unmatched: int = 0

    @classmethod
    def from_lists(cls, sets: Sequence[Sequence[int] | None], *, problematic: Sequence[bool] | None = None,
                   source: str = "", n_unmatched: int = 0) -> LabelSets:
        """Build from one list of class ids per image (``None``: no set for that image)."""
        n = len(sets)
        sizes = np.zeros(n, dtype=np.int64)
        chunks = []
        for i, s in enumerate(sets):
            if s is not None and len(s):
                u = np.unique(np.asarray(s, dtype=np.int64))
                sizes[i] = len(u)
                chunks.append(u)
        indptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        indices = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64)
        has_set = np.array([s is not None for s in sets], dtype=bool)
        prob = np.zeros(n, dtype=bool) if problematic is None else np.asarray(problematic, dtype=bool)
        if prob.shape != (n,):
            raise InputError(f"{source or 'label sets'}: problematic has shape {prob.shape}; expected ({n},)")
        if (indices < 0).any():
            raise InputError(f"{source or 'label sets'}: negative class id in a label set")
        return cls(indptr, indices, has_set, prob, source, n_unmatched)

    def __len__(self) -> int:
        return len(self.has_set)

    @property
    def sizes(self) -> np.ndarray:
        """Number of classes in each image's set, (N,)."""
        return np.diff(self.indptr)

    def set_of(self, i: int) -> list[int]:
        """The class ids of image ``i``."""
        return self.indices[self.indptr[i]: self.indptr[i + 1]].tolist()

    @property
    def evaluable(self) -> np.ndarray:
        """Images with a non-empty set that are not problematic, (N,) bool."""
        return self.has_set & (self.sizes > 0) & ~self.problematic

    def exclusion_counts(self, mask: np.ndarray | None = None) -> dict[str, int]:
        """Excluded images (within ``mask``, default all) by first reason: ``no_set``, ``empty``
        (no valid label), ``problematic``.
        """
        inside = np.ones(len(self), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
        no_set = ~self.has_set & inside
        empty = self.has_set & (self.sizes == 0) & inside
        prob = self.has_set & (self.sizes > 0) & self.problematic & inside
        return {"no_set": int(no_set.sum()), "empty": int(empty.sum()), "problematic": int(prob.sum())}

    def contains(self, predictions: np.ndarray) -> np.ndarray:
        """Whether each prediction is in its image's set: ``predictions (N, ...)`` -> bool, same shape."""
        pred = np.asarray(predictions, dtype=np.int64)
        if pred.shape[0] != len(self):
            raise InputError(f"{self.source or 'label sets'}: {len(self)} sets for {pred.shape[0]} images")
        if len(self.indices) == 0:
            return np.zeros(pred.shape, dtype=bool)
        base = int(max(self.indices.max(initial=0), pred.max(initial=0))) + 2
        rows = np.repeat(np.arange(len(self), dtype=np.int64), self.sizes)
        keys = rows * base + self.indices  # sorted: rows ascend, indices ascend within a row
        flat = pred.reshape(len(self), -1)
        query = np.arange(len(self), dtype=np.int64)[:, None] * base + flat
        pos = np.searchsorted(keys, query)
        hit = (pos < len(keys)) & (keys[np.minimum(pos, len(keys) - 1)] == query) & (flat >= 0)
        return hit.reshape(pred.shape)


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


# --------------------------------------------------------------------------- class groups
@dataclass(frozen=True)
class ClassGroups:
    """Named groups of classes: ``members (G, C)`` bool; groups may overlap."""

    names: tuple[str, ...]
    members: np.ndarray
    source: str = ""

    @classmethod
    def from_assignments(cls, class_index: Sequence[int], group: Sequence[str], n_classes: int,
                         *, source: str = "", order: Sequence[str] | None = None) -> ClassGroups:
        """Build from (class, group) pairs; ``order`` fixes the group order (default: first seen)."""
        names: list[str] = list(order) if order is not None else list(dict.fromkeys(str(g) for g in group))
        pos = {g: i for i, g in enumerate(names)}
        members = np.zeros((len(names), n_classes), dtype=bool)
        for c, g in zip(class_index, group, strict=True):
            members[pos[str(g)], int(c)] = True
        return cls(tuple(names), members, source)

    def __add__(self, other: ClassGroups) -> ClassGroups:
        clash = set(self.names) & set(other.names)
        if clash:
            raise InputError(f"group names {sorted(clash)} occur in both {self.source} and {other.source}")
        return ClassGroups(self.names + other.names, np.vstack([self.members, other.members]),
                           f"{self.source}+{other.source}")

    def image_masks(self, labels: np.ndarray) -> np.ndarray:
        """``(G, N)`` bool: image ``n`` is in group ``g`` when its label is (unknown labels: none)."""
        labels = np.asarray(labels)
        known = labels >= 0
        out = np.zeros((len(self.names), len(labels)), dtype=bool)
        out[:, known] = self.members[:, labels[known]]
        return out


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
