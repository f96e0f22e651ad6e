"""Likely label errors: the sources combined, ranked, and checked against people. Pure functions.

Each source (:mod:`misclass.analysis.label_sources`) gives per image the log-odds ``x_s``
that the given label is wrong. The combined log-odds is ``b + sum_s w_s x_s`` (a source
without a verdict on an image adds nothing). The weights are learned on *planted* label
errors (:func:`plant_label_errors`): a seeded share of the labelled images gets another
label, drawn from the classes the models confuse with the true one (so the planted errors
look like real ones: a cat labelled dog, not a cat labelled truck); every source scores the
planted labels again, and a logistic regression of planted-or-not on the sources' log-odds
gives ``w`` and ``b`` (:func:`learn_weights`). A source with too few verdicts on planted and on
other images to fit (review decisions on a few images) is left out of the fit and keeps
weight 1; a negative weight becomes 0.

The ranking puts the largest combined log-odds first; ties keep store order. The suggested
label is a vote of the sources' suggestions, each weighted by ``w_s * sigmoid(x_s)``.

>>> order = rank_by_score(np.array([0.2, np.nan, 0.9, 0.2]))
>>> order.tolist()
[2, 0, 3]
>>> confirmed = np.array([False, False, True, True])
>>> check = check_ranking(order, confirmed, ks=(1, 2))
>>> check["recall"].tolist(), check["confirmed_share"].tolist()
([0.5, 0.5], [1.0, 0.5])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from misclass.analysis.label_sources import SourceScores, sigmoid
from misclass.analysis.labels import label_probability, multilabel_accuracy, set_probability
from misclass.errors import InputError
from misclass.types import LabelSets

#: Share of the labelled images that get a planted wrong label to learn the weights.
PLANT_RATE = 0.05
#: A source needs at least this many verdicts on planted and on other images to be fitted.
MIN_FIT = 10
#: Log-odds beyond this are clipped when learning weights (saturated sources).
CLIP = 30.0


def plant_label_errors(labels: np.ndarray, top1: np.ndarray | None, n_classes: int, *,
                       rate: float = PLANT_RATE, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels with a seeded share ``rate`` of the labelled images relabelled, and the mask of them.

    A planted label is drawn from the models' wrong predictions on images of the true class
    (``top1 (N, M)``, models only), i.e. with the models' confusion; a class no model ever
    confuses, or without models, gets another class uniformly. At least one image is planted.
    """
    labels = np.asarray(labels, dtype=np.int64)
    if not 0 < rate < 1:
        raise InputError(f"plant rate {rate}: must lie strictly between 0 and 1")
    if n_classes < 2:
        raise InputError("planting label errors needs at least two classes")
    rng = np.random.default_rng(seed)
    known = np.flatnonzero(labels >= 0)
    size = min(len(known), max(1, int(round(rate * len(known)))))
    chosen = np.sort(rng.choice(known, size=size, replace=False)) if size else known[:0]
    new = labels.copy()
    y = labels[chosen]
    draw = rng.random(size)
    uniform = (y + 1 + (rng.random(size) * (n_classes - 1)).astype(np.int64)) % n_classes
    if top1 is not None and np.asarray(top1).size:
        top1 = np.asarray(top1, dtype=np.int64)
        true = np.repeat(labels, top1.shape[1])
        pred = top1.ravel()
        wrong = (true >= 0) & (pred >= 0) & (pred != true)
        true, pred = true[wrong], pred[wrong]
        order = np.argsort(true, kind="stable")
        true, pred = true[order], pred[order]
        start = np.searchsorted(true, y, side="left")
        count = np.searchsorted(true, y, side="right") - start
        pick = start + np.minimum((draw * count).astype(np.int64), np.maximum(count - 1, 0))
        confused = pred[np.minimum(pick, max(len(pred) - 1, 0))] if len(pred) else uniform
        new[chosen] = np.where(count > 0, confused, uniform)
    else:
        new[chosen] = uniform
    planted = np.zeros(len(labels), dtype=bool)
    planted[chosen] = True
    return new, planted


@dataclass(frozen=True)
class CombinationWeights:
    """How the sources are combined: ``b + sum_s w_s x_s``.

    ``method``: "planted" (learned on planted errors), "given" or "equal" (weight 1 each).
    ``fitted (S,)``: which weights the fit set; ``auroc (S,)``: how well each source alone
    tells planted from other labels (NaN when not measured); ``n_planted``: planted images.
    """

    sources: tuple[str, ...]
    weights: np.ndarray
    intercept: float
    method: str
    fitted: np.ndarray
    auroc: np.ndarray
    n_planted: int = 0

    def weight(self, source: str) -> float:
        return float(self.weights[self.sources.index(source)])

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"weight": self.weights, "fitted": self.fitted, "planted_auroc": self.auroc},
                            index=pd.Index(self.sources, name="source"))

    def to_dict(self) -> dict:
        return {"method": self.method, "intercept": self.intercept, "n_planted": self.n_planted,
                "sources": {s: {"weight": float(w), "fitted": bool(f), "planted_auroc": float(a)}
                            for s, w, f, a in zip(self.sources, self.weights, self.fitted, self.auroc,
                                                  strict=True)}}


def fixed_weights(sources: Sequence[str], given: dict[str, float] | None = None) -> CombinationWeights:
    """Weight 1 per source, or the weights ``given`` (every source must be named)."""
    sources = tuple(sources)
    if given is not None:
        missing = [s for s in sources if s not in given]
        unknown = [s for s in given if s not in sources]
        if missing or unknown:
            raise InputError(f"weights: give one weight per source ({', '.join(sources)}); "
                             + (f"missing {', '.join(missing)}" if missing else "")
                             + ("; " if missing and unknown else "")
                             + (f"not a source here: {', '.join(unknown)}" if unknown else ""))
        w = np.array([float(given[s]) for s in sources])
        if not np.isfinite(w).all() or (w < 0).any():
            raise InputError(f"weights: {given} must be finite and non-negative")
    else:
        w = np.ones(len(sources))
    return CombinationWeights(sources, w, 0.0, "given" if given is not None else "equal",
                              np.zeros(len(sources), dtype=bool), np.full(len(sources), np.nan))


def _auroc(score: np.ndarray, target: np.ndarray) -> float:
    """Mann-Whitney AUROC (ties count half); NaN without both classes."""
    pos, neg = int(target.sum()), int((~target).sum())
    if pos == 0 or neg == 0:
        return float("nan")
    ranks = pd.Series(score).rank(method="average").to_numpy()
    return float((ranks[target].sum() - pos * (pos + 1) / 2) / (pos * neg))


def learn_weights(planted_scores: Sequence[SourceScores], planted: np.ndarray, *,
                  min_fit: int = MIN_FIT) -> CombinationWeights:
    """Logistic regression of ``planted (N,)`` on each source's log-odds of the planted labels.

    scikit-learn's L2-penalised fit (C = 1) on the sources with at least ``min_fit`` verdicts
    on planted and on other images (log-odds clipped to +-30; no verdict counts 0); images
    with a verdict from no source are left out. The other sources keep weight 1 outside the
    fit; negative weights become 0. Without enough images of both kinds every weight is 1.
    """
    from sklearn.linear_model import LogisticRegression

    names = tuple(s.name for s in planted_scores)
    planted = np.asarray(planted, dtype=bool)
    x = np.column_stack([np.clip(s.logit, -CLIP, CLIP) for s in planted_scores])
    has = ~np.isnan(x)
    rows = has.any(axis=1)
    fit = np.array([(has[:, j] & planted).sum() >= min_fit and (has[:, j] & ~planted).sum() >= min_fit
                    for j in range(len(names))])
    auroc = np.array([_auroc(x[has[:, j], j], planted[has[:, j]]) if fit[j] else np.nan
                      for j in range(len(names))])
    weights = np.ones(len(names))
    intercept = 0.0
    target = planted[rows]
    if fit.any() and target.sum() >= min_fit and (~target).sum() >= min_fit:
        model = LogisticRegression(C=1.0, max_iter=1000)
        model.fit(np.where(has, x, 0.0)[rows][:, fit], target)
        weights[fit] = np.maximum(model.coef_[0], 0.0)
        intercept = float(model.intercept_[0])
        method = "planted"
    else:
        fit[:] = False
        method = "equal"
    return CombinationWeights(names, weights, float(intercept), method, fit, auroc, int(planted.sum()))


def combine_sources(sources: Sequence[SourceScores], weights: CombinationWeights, *,
                    n_classes: int, name: str = "combined") -> SourceScores:
    """The combined log-odds ``b + sum_s w_s x_s`` (NaN where no source has a verdict) and the
    weighted vote of the sources' suggestions (ties: the lowest class id)."""
    if not sources:
        raise InputError("combine_sources: no sources")
    names = tuple(s.name for s in sources)
    if names != weights.sources:
        raise InputError(f"combine_sources: sources {names} but weights for {weights.sources}")
    n = len(sources[0].logit)
    x = np.column_stack([s.logit for s in sources])
    has = ~np.isnan(x)
    logit = weights.intercept + np.where(has, x, 0.0) @ weights.weights
    logit = np.where(has.any(axis=1), logit, np.nan)
    rows, cls, votes = [], [], []
    for j, (s, w) in enumerate(zip(sources, weights.weights, strict=True)):
        ok = has[:, j] & (s.suggested >= 0)
        idx = np.flatnonzero(ok)
        rows.append(idx)
        cls.append(s.suggested[idx])
        votes.append(np.full(len(idx), max(float(w), 1e-9)) * sigmoid(s.logit[idx]))
    r, c, v = (np.concatenate(a) for a in (rows, cls, votes))
    suggested = np.full(n, -1, dtype=np.int64)
    if len(r):
        keys, inverse = np.unique(r * n_classes + c, return_inverse=True)
        total = np.bincount(inverse, weights=v)
        kr, kc = keys // n_classes, keys % n_classes
        order = np.lexsort((kc, -total, kr))
        first = np.ones(len(order), dtype=bool)
        first[1:] = kr[order][1:] != kr[order][:-1]
        suggested[kr[order][first]] = kc[order][first]
    return SourceScores(name, logit, suggested, None, {"weights": weights.to_dict()})


def rank_by_score(logit: np.ndarray) -> np.ndarray:
    """Store indices of the images with a score, highest first; ties keep store order."""
    logit = np.asarray(logit, dtype=np.float64)
    idx = np.flatnonzero(~np.isnan(logit))
    return idx[np.argsort(-logit[idx], kind="stable")]


def check_ranking(order: np.ndarray, confirmed: np.ndarray, checked: np.ndarray | None = None, *,
                  ks: Sequence[int] = (50, 100, 275, 500)) -> pd.DataFrame:
    """How a ranking fares against people's checks, per K (index ``k``).

    ``recall``: share of the ``confirmed (N,)`` label errors in the top K; ``confirmed_share``:
    among the images in the top K that people checked (``checked (N,)``, default: all), the
    share they confirmed as errors (NaN when none was checked); ``checked``: how many those are.
    """
    order = np.asarray(order, dtype=np.int64)
    confirmed = np.asarray(confirmed, dtype=bool)
    checked = np.ones_like(confirmed) if checked is None else np.asarray(checked, dtype=bool)
    if (confirmed & ~checked).any():
        raise InputError("check_ranking: a confirmed error that nobody checked")
    total = int(confirmed.sum())
    rows = []
    for k in ks:
        top = order[:k]
        n_checked = int(checked[top].sum())
        hits = int(confirmed[top].sum())
        rows.append({"k": int(k), "recall": hits / total if total else np.nan,
                     "confirmed_share": hits / n_checked if n_checked else np.nan,
                     "checked": n_checked, "confirmed": hits})
    return pd.DataFrame(rows).set_index("k")


def corrected_label_sets(labels: np.ndarray, combined: SourceScores, *, threshold: float = 0.5,
                         reviewed: Sequence[Sequence[int] | None] | None = None,
                         problematic: np.ndarray | None = None) -> LabelSets:
    """The labels after correction, as label sets: a reviewed image's set (``reviewed``, None
    where not reviewed; ``problematic`` excludes it), else the suggested label where the combined
    score is at least ``threshold`` (an empty set, no valid label, when nothing is suggested),
    else the given label. Unknown labels: no set."""
    labels = np.asarray(labels, dtype=np.int64)
    n = len(labels)
    score = combined.score
    fix = (score >= threshold) & (labels >= 0)
    sets: list[list[int] | None] = [None if y < 0 else [int(y)] for y in labels.tolist()]
    for i in np.flatnonzero(fix):
        s = int(combined.suggested[i])
        sets[i] = [s] if s >= 0 else []
    prob = np.zeros(n, dtype=bool)
    if reviewed is not None:
        if len(reviewed) != n:
            raise InputError(f"reviewed label sets for {len(reviewed)} images; expected {n}")
        for i, r in enumerate(reviewed):
            if r is not None and labels[i] >= 0:
                sets[i] = list(r)
        if problematic is not None:
            prob = np.asarray(problematic, dtype=bool) & (labels >= 0)
    return LabelSets.from_lists(sets, problematic=prob, source="corrected labels")


def corrected_accuracy(names: Sequence[str], kinds: Sequence[str], top1: np.ndarray, labels: np.ndarray,
                       corrected: LabelSets, *, expected: Sequence[np.ndarray | None] | None = None
                       ) -> pd.DataFrame:
    """Accuracy of each predictor (index ``predictor``) on the given and on the corrected labels.

    Columns: ``kind``, ``original`` (top-1 on the labelled images), ``corrected`` (top-1 in the
    corrected set, on its evaluable images), ``change`` (corrected - original), ``rank_original``,
    ``rank_corrected`` (1 = best, among models only; ties share the better rank) and
    ``rank_change`` (positive: moved up). ``expected``: per predictor None, or (N, C)
    probabilities of its answer (a person drawn at random: the vote shares) whose expected
    accuracy replaces the counted one: the mean probability of the label, or of the set.
    """
    top1 = np.asarray(top1)
    labels = np.asarray(labels)
    known = labels >= 0
    original = ((top1[known] == labels[known, None]).mean(axis=0) if known.any()
                else np.full(len(names), np.nan))
    after = multilabel_accuracy(top1, corrected).accuracy
    use = corrected.evaluable
    for j, probs in enumerate(expected or []):
        if probs is not None:
            original[j] = label_probability(probs, labels)[known].mean() if known.any() else np.nan
            after[j] = set_probability(probs, corrected)[use].mean() if use.any() else np.nan
    frame = pd.DataFrame({"kind": list(kinds), "original": original, "corrected": after},
                         index=pd.Index(list(names), name="predictor"))
    frame["change"] = frame["corrected"] - frame["original"]
    models = frame["kind"] == "model"
    for col in ("original", "corrected"):
        frame[f"rank_{col}"] = pd.Series(np.nan, index=frame.index)
        frame.loc[models, f"rank_{col}"] = frame.loc[models, col].rank(ascending=False, method="min")
    frame["rank_change"] = frame["rank_original"] - frame["rank_corrected"]
    return frame
