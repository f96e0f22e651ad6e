"""Is the label the problem? Multi-label accuracy, class-group subsets and linear fits.

Data contract (store order, N images, M predictors, C classes):

- ``labels (N,)`` int, -1 unknown; ``topk (N, M, k)`` int, -1 padding; ``model_k (M,)``.
- :class:`LabelSets`: per image a set of correct class ids (CSR: ``indptr (N+1,)``,
  ``indices (nnz,)``), ``has_set (N,)`` (False: the source says nothing about the image) and
  ``problematic (N,)``.
- :class:`ClassGroups`: ``members (G, C)`` bool, a class may belong to several groups.
- ``kinds (M,)``: "model" or "human" for each predictor.
- ``expected``: predictors whose accuracy is an expectation (a person drawn at random from an
  image's voters), each with its ``(N, C)`` probabilities of answering each class.

A top-1 prediction is *multi-label correct* when it is in the image's set. Images without a
set, with an empty set (no valid label) or flagged problematic are excluded, each counted once:
a flagged image as problematic, whatever its set, else under the first of the other reasons.

Small samples: a predictor's *gain* (multi-label minus top-1 accuracy) compares the same
images, those with both a label and a usable set; it and the multi-label vs top-1 fit across
models are left undefined, with the reason, on fewer than :data:`MIN_IMAGES` such images.

>>> sets = LabelSets.from_lists([[0, 1], [], None, [2]], problematic=[False, False, False, True])
>>> top1 = np.array([[1], [0], [0], [2]])
>>> res = multilabel_accuracy(top1, sets)
>>> res.accuracy.tolist(), res.n, res.excluded
([1.0], 1, {'no_set': 1, 'empty': 1, 'problematic': 1})
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from misclass.analysis.summary import topk_accuracy
from misclass.errors import InputError
from misclass.format import plural
from misclass.types import PREDICTOR_KINDS, ClassGroups, LabelSets

#: No gain and no fit from fewer images than this with both a label and a usable label set.
MIN_IMAGES = 30


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


def set_probability(probs: np.ndarray, sets: LabelSets) -> np.ndarray:
    """``(N,)`` float64: the summed probability of each image's label set (0 for an empty set).

    The chance that an answer drawn from ``probs (N, C)`` is in the set: a random person's
    expected multi-label correctness.

    >>> sets = LabelSets.from_lists([[0, 1], [], [2]])
    >>> set_probability(np.array([[0.5, 0.25, 0.25], [1, 0, 0], [0.5, 0, 0.5]]), sets).tolist()
    [0.75, 0.0, 0.5]
    """
    probs = np.asarray(probs)
    if probs.ndim != 2 or probs.shape[0] != len(sets):
        raise InputError(f"probabilities have shape {probs.shape}; expected ({len(sets)}, C)")
    rows = np.repeat(np.arange(len(sets), dtype=np.int64), sets.sizes)
    inside = sets.indices < probs.shape[1]
    vals = np.asarray(probs[rows[inside], sets.indices[inside]], dtype=np.float64)
    return np.bincount(rows[inside], weights=vals, minlength=len(sets))


def label_probability(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``(N,)`` float64: ``probs[i, labels[i]]`` (0 where the label is unknown): a random
    person's expected top-1 correctness.

    >>> label_probability(np.array([[0.75, 0.25], [0.5, 0.5]]), np.array([0, -1])).tolist()
    [0.75, 0.0]
    """
    labels = np.asarray(labels)
    probs = np.asarray(probs)
    if probs.ndim != 2 or probs.shape[0] != len(labels):
        raise InputError(f"probabilities have shape {probs.shape}; expected ({len(labels)}, C)")
    known = labels >= 0
    out = np.zeros(len(labels), dtype=np.float64)
    out[known] = probs[np.flatnonzero(known), labels[known]]
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
        (NaN when k < 5), ``multilabel`` and ``n_multilabel`` (NaN / 0 without label sets), and
        ``accuracy``: "counted", or "expected" for a predictor whose accuracies are expectations
        (mean probability of the label, mean summed probability of the label set; top-5 NaN).
    summary : dict
        For ``top1``, ``top5``, ``multilabel``: ``best`` / ``worst`` ({name, value}) and ``median``
        across predictors of kind "model"; humans get the same under ``humans`` when present.
        ``gain``: multi-label minus top-1 accuracy on the same ``n_gain`` images (those with a
        label and a usable set; NaN on fewer than :data:`MIN_IMAGES`).
    fit : LinearFit or None
        Multi-label against top-1 accuracy across models (None on fewer than
        :data:`MIN_IMAGES` images with a usable set; ``undefined`` says why).
    excluded : dict or None
        Images excluded from multi-label accuracy, by reason.
    subsets : DataFrame
        Long format: ``group``, ``name``, ``n_images``, ``top1``, ``multilabel``, ``n_multilabel``.
    missed : dict
        Images that every model / every human / every predictor gets wrong (multi-label when
        label sets are given, else top-1; over the images where that is defined). Predictors
        with expected accuracy have no per-image right or wrong and are left out of it.
    """

    table: pd.DataFrame
    summary: dict[str, Any]
    fit: LinearFit | None
    excluded: dict[str, int] | None
    subsets: pd.DataFrame
    missed: dict[str, int | None] = field(default_factory=dict)
    label_source: str | None = None
    group_source: str | None = None
    undefined: dict[str, str] = field(default_factory=dict)

    @property
    def expected(self) -> tuple[str, ...]:
        """Predictors whose accuracies are expectations (left out of ``missed``)."""
        return tuple(self.table.loc[self.table["accuracy"] == "expected", "name"])

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
             "multilabel": r.multilabel, "n_multilabel": int(r.n_multilabel), "n": int(r.n),
             "gain": r.gain, "n_gain": int(r.n_gain)}
            | ({"accuracy": "expected"} if r.accuracy == "expected" else {})
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
            "undefined": dict(self.undefined),
            "min_images": MIN_IMAGES,
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
    expected: Mapping[str, np.ndarray] | None = None,
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
    expected : name -> (N, C) probabilities, optional
        Predictors whose accuracy is an expectation (a person drawn at random: the vote
        shares). Their top-1 accuracy is the mean probability of the label, their multi-label
        accuracy the mean summed probability of the label set (also per group), their top-5
        NaN; ``missed`` leaves them out (they have no per-image right or wrong).

    >>> labels = np.array([0, 1])
    >>> topk = np.array([[[0], [0]], [[1], [0]]])  # (N, M, 1): a model and the majority answer
    >>> shares = np.array([[0.75, 0.25], [0.5, 0.5]])
    >>> ev = evaluate_predictors(["m", "random"], labels, topk, np.array([1, 1]),
    ...                          kinds=["model", "human"], expected={"random": shares})
    >>> ev.table["top1"].tolist(), ev.expected, ev.missed["all_humans"]
    ([1.0, 0.625], ('random',), None)
    """
    names = list(names)
    labels = np.asarray(labels)
    topk = np.asarray(topk)
    m = len(names)
    if topk.ndim != 3 or topk.shape[:2] != (len(labels), m):
        raise InputError(f"topk has shape {topk.shape}; expected ({len(labels)}, {m}, k)")
    kinds = list(kinds) if kinds is not None else ["model"] * m
    bad = [k for k in kinds if k not in PREDICTOR_KINDS]
    if bad or len(kinds) != m:
        raise InputError(f"kinds: expected {m} of {PREDICTOR_KINDS}, got {kinds}")
    if label_sets is not None and len(label_sets) != len(labels):
        raise InputError(f"{label_sets.source}: {len(label_sets)} label sets for {len(labels)} images")
    expected = dict(expected or {})
    unknown = [n for n in expected if n not in names]
    if unknown:
        raise InputError(f"expected accuracy for {unknown}: not among the predictors {names}")
    is_expected = np.array([n in expected for n in names], dtype=bool)
    top1 = topk[:, :, 0]
    known = labels >= 0
    # per image and predictor: 1/0 for a counted prediction, the probability of being right for
    # an expected one
    top1_hit = ((top1 == labels[:, None]) & known[:, None]).astype(np.float64)
    for j in np.flatnonzero(is_expected):
        top1_hit[:, j] = label_probability(expected[names[j]], labels)
    table = pd.DataFrame({
        "name": names, "kind": kinds, "n": int(known.sum()),
        "top1": topk_accuracy(labels, topk, 1, model_k),
        "top5": topk_accuracy(labels, topk, 5, model_k),
        "multilabel": np.nan, "n_multilabel": 0, "gain": np.nan, "n_gain": 0,
        "accuracy": np.where(is_expected, "expected", "counted"),
    })
    if is_expected.any():
        table.loc[is_expected, "top1"] = (top1_hit[known][:, is_expected].mean(axis=0) if known.any()
                                          else np.nan)
        table.loc[is_expected, "top5"] = np.nan
    excluded = None
    ml_hit = None
    undefined: dict[str, str] = {}
    if label_sets is not None:
        ml = multilabel_accuracy(top1, label_sets)
        ml_hit = multilabel_correct(top1, label_sets).astype(np.float64)
        use = label_sets.evaluable
        for j in np.flatnonzero(is_expected):
            ml_hit[:, j] = np.where(use, set_probability(expected[names[j]], label_sets), 0.0)
        acc = ml.accuracy.copy()
        if ml.n:
            acc[is_expected] = ml_hit[use][:, is_expected].mean(axis=0)
        table["multilabel"] = acc
        table["n_multilabel"] = ml.n
        excluded = ml.excluded
        both = use & known  # the gain compares the same images: a label and a usable set
        n_both = int(both.sum())
        table["n_gain"] = n_both
        if n_both >= MIN_IMAGES:
            table["gain"] = (ml_hit[both] - top1_hit[both]).mean(axis=0)
        else:
            undefined["gain"] = (f"no gain: {plural(n_both, 'image')} with both a label and a usable "
                                 f"label set; a gain needs at least {MIN_IMAGES}")

    is_model = np.array([k == "model" for k in kinds])
    summary: dict[str, Any] = {}
    for who, sel in (("models", is_model), ("humans", ~is_model)):
        if sel.any():
            sel_names = [n for n, s in zip(names, sel, strict=True) if s]
            summary[who] = {col: _extremes(sel_names, table[col].to_numpy()[sel])
                            for col in ("top1", "top5", "multilabel")}
    fit = None
    if label_sets is not None:
        n_ml = int(table["n_multilabel"].iloc[0]) if m else 0
        if n_ml >= MIN_IMAGES:
            fit = fit_line(table["top1"].to_numpy()[is_model], table["multilabel"].to_numpy()[is_model])
            if fit is None:
                undefined["fit"] = "no fit: it needs at least two models with different top-1 accuracy"
        else:
            undefined["fit"] = (f"no fit: multi-label accuracy rests on {plural(n_ml, 'image')}; a fit "
                                f"needs at least {MIN_IMAGES}")

    rows = []
    if groups is not None:
        masks = groups.image_masks(labels)
        for g, mask in zip(groups.names, masks, strict=True):
            n_img = int(mask.sum())
            acc = top1_hit[mask].mean(axis=0) if n_img else np.full(m, np.nan)
            if label_sets is not None:
                use = label_sets.evaluable & mask
                mln = int(use.sum())
                mla = ml_hit[use].mean(axis=0) if mln else np.full(m, np.nan)
            else:
                mla, mln = np.full(m, np.nan), 0
            for j, name in enumerate(names):
                rows.append({"group": g, "name": name, "n_images": n_img, "top1": float(acc[j]),
                             "multilabel": float(mla[j]), "n_multilabel": mln})
    subsets = pd.DataFrame(rows, columns=["group", "name", "n_images", "top1", "multilabel", "n_multilabel"])

    if ml_hit is not None:
        correct, defined = ml_hit == 1, label_sets.evaluable
    else:
        correct, defined = top1_hit == 1, known
    missed: dict[str, int | None] = {}
    per_image = ~is_expected
    for who, sel in (("all_models", is_model & per_image), ("all_humans", ~is_model & per_image),
                     ("all", per_image)):
        missed[who] = int((~correct[defined][:, sel]).all(axis=1).sum()) if sel.any() else None
    return Evaluation(table, summary, fit, excluded, subsets, missed,
                      label_sets.source if label_sets is not None else None,
                      groups.source if groups is not None else None, undefined)
