"""Is the given label wrong? One verdict per source of evidence. Pure functions.

Data contract (store order, N images, M models, C classes): ``labels (N,)`` int, -1 unknown;
``topk (N, M, k)`` int, ranked predictions, -1 padding; ``probs (N, C)`` float, rows summing
to 1; ``counts (N, C)`` int, how many people chose each class.

Every source returns :class:`SourceScores`: per image the log-odds that the given label is
wrong (NaN where the source says nothing, e.g. the label is unknown or nobody voted) and the
*suggested* label, the most likely class other than the given one (-1 when the source names
none). The sources:

- :func:`model_scores`, many models' predictions: a posterior over the true class from every
  model's prediction, each model weighted by its errors on the *other* images
  (leave-one-out): with ``k=1`` its confusion matrix ``P(predicted | true)``, with ``k > 1``
  how often it puts the true class at each rank. Models make correlated errors, so the
  evidence is tempered by ``1 / M_eff``, ``M_eff = M / (1 + (M - 1) rho)`` with ``rho`` the
  mean correlation of the models' error indicators (the design effect of correlated
  observations); 30 models that all miss a hard image count as about two.
- :func:`probability_scores`, confident learning through cleanlab on a probability matrix
  (one model's, or the mean of several): ``1 - `` cleanlab's label quality score, and
  cleanlab's ``find_label_issues`` flags.
- :func:`vote_scores`, people's votes: the share of people who did not choose the given label,
  shrunk towards the overall share by two pseudo-votes.
- :func:`review_scores`, review decisions: reviewers who marked the given label wrong, or
  flagged the image problematic, against those who marked it correct.

>>> labels = np.array([0, 0, 1, 1])
>>> counts = np.array([[9, 1], [10, 0], [0, 10], [10, 0]])
>>> v = vote_scores(labels, counts)
>>> v.score.round(3).tolist(), v.suggested.tolist()
([0.129, 0.046, 0.046, 0.879], [1, -1, -1, 0])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from misclass.errors import InputError

#: Pseudo-images that pull a model's per-class statistics towards its overall accuracy.
SMOOTHING = 10.0
#: Pseudo-votes that pull a vote share towards the share over all images.
VOTE_PRIOR = 2.0


def sigmoid(x: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-x))`` without overflow; NaN stays NaN."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=np.float64)))


@dataclass(frozen=True)
class SourceScores:
    """One source's verdict on N images.

    Attributes
    ----------
    name : str
    logit : (N,) float64
        Log-odds that the given label is wrong; NaN where the source says nothing.
    suggested : (N,) int64
        The most likely class other than the given label; -1 where the source names none.
    flagged : (N,) bool or None
        Images the source itself flags as label issues (cleanlab's ``find_label_issues``).
    info : dict
        How the scores were made (temperature, effective number of models, ...).
    """

    name: str
    logit: np.ndarray
    suggested: np.ndarray
    flagged: np.ndarray | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def score(self) -> np.ndarray:
        """Probability-like score in [0, 1] that the label is wrong, ``sigmoid(logit)``."""
        return sigmoid(self.logit)

    @property
    def has_score(self) -> np.ndarray:
        return ~np.isnan(self.logit)


def _labels(labels: np.ndarray, n_classes: int, n: int | None = None) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1 or (n is not None and len(labels) != n):
        raise InputError(f"labels have shape {labels.shape}; expected ({n if n is not None else 'N'},)")
    labels = labels.astype(np.int64)
    if (labels >= n_classes).any() or (labels < -1).any():
        bad = int(labels[(labels >= n_classes) | (labels < -1)][0])
        raise InputError(f"labels: class {bad} is outside 0..{n_classes - 1} (-1: unknown)")
    return labels


def _group_argmax(rows: np.ndarray, classes: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Per row, the class with the largest finite value (ties: the lowest class); -1 if none."""
    out = np.full(n, -1, dtype=np.int64)
    ok = np.isfinite(values)
    if not ok.any():
        return out
    r, c, v = rows[ok], classes[ok], values[ok]
    order = np.lexsort((c, -v, r))
    first = np.ones(len(order), dtype=bool)
    first[1:] = r[order][1:] != r[order][:-1]
    pick = order[first]
    out[r[pick]] = c[pick]
    return out


# --------------------------------------------------------------------------- models
def error_temperature(labels: np.ndarray, top1: np.ndarray) -> tuple[float, float, float]:
    """``(temperature, effective models, mean error correlation)`` of ``top1 (N, M)``.

    ``M_eff = M / (1 + (M - 1) rho)`` with ``rho`` the mean Pearson correlation of the models'
    error indicators on the labelled images (clipped to [0, 1]; models without errors or
    without mistakes left out); temperature ``1 / M_eff``.
    """
    top1 = np.asarray(top1)
    m = top1.shape[1]
    known = np.asarray(labels) >= 0
    if m < 2 or known.sum() < 3:
        return 1.0, float(m), 0.0
    wrong = (top1[known] != np.asarray(labels)[known, None]).astype(np.float64)
    varies = wrong.std(axis=0) > 0
    if varies.sum() < 2:
        return 1.0, float(m), 0.0
    corr = np.corrcoef(wrong[:, varies].T)
    off = corr[~np.eye(len(corr), dtype=bool)]
    rho = float(np.clip(np.nanmean(off), 0.0, 1.0))
    m_eff = m / (1.0 + (m - 1) * rho)
    return 1.0 / m_eff, float(m_eff), rho


def _candidates(labels: np.ndarray, topk: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """``(row, class)`` pairs, sorted and unique: each labelled image with its label and every
    class a model ranked."""
    idx = np.flatnonzero(labels >= 0)
    pool = np.concatenate([labels[idx, None], topk[idx].reshape(len(idx), -1)], axis=1)
    rows = np.repeat(idx, pool.shape[1])
    cls = pool.ravel().astype(np.int64)
    ok = cls >= 0
    keys = np.unique(rows[ok] * n_classes + cls[ok])
    return keys // n_classes, keys % n_classes


def _count_lookup(keys: np.ndarray, query: np.ndarray) -> np.ndarray:
    """How often each ``query`` value occurs in ``keys``."""
    uniq, counts = np.unique(keys, return_counts=True)
    if len(uniq) == 0:
        return np.zeros(len(query), dtype=np.float64)
    pos = np.minimum(np.searchsorted(uniq, query), len(uniq) - 1)
    return np.where(uniq[pos] == query, counts[pos], 0).astype(np.float64)


def model_scores(labels: np.ndarray, topk: np.ndarray, *, n_classes: int, k: int = 1,
                 smoothing: float = SMOOTHING, temperature: float | None = None,
                 name: str = "models") -> SourceScores:
    """How strongly the models' predictions say the given label is wrong.

    Parameters
    ----------
    labels : (N,) int, -1 unknown (no score)
    topk : (N, M, k') int, -1 padding (a model without a prediction for an image is left out there)
    n_classes : int
    k : int
        1: each model's top-1 prediction, weighed by its leave-one-out confusion matrix
        ``P(p | c) = (n(c, p) + s * q(p | c)) / (n(c) + s)``, ``q`` the symmetric confusion at the
        model's accuracy. ``k > 1``: the rank at which each model puts each candidate class,
        weighed by how often (leave-one-out, per true class, smoothed towards the model's
        overall profile) it ranks the true class there.
    smoothing : pseudo-images ``s`` of the smoothing.
    temperature : multiplies the summed log-likelihoods; default ``1 / M_eff``
        (:func:`error_temperature`).

    The posterior is over the given label, every class a model ranked, and one bucket for all
    other classes (symmetric confusion); the score is its log-odds against the given label.
    """
    topk = np.asarray(topk)
    if topk.ndim == 2:
        topk = topk[:, :, None]
    if topk.ndim != 3:
        raise InputError(f"topk has shape {topk.shape}; expected (N, M, k)")
    n, m, kk = topk.shape
    labels = _labels(labels, n_classes, n)
    if m == 0:
        raise InputError("model_scores: no models")
    if k < 1:
        raise InputError(f"k = {k}: must be at least 1")
    k = min(k, kk)
    topk = topk[:, :, :k].astype(np.int64)
    top1 = topk[:, :, 0]
    known = labels >= 0
    if temperature is None:
        temperature, m_eff, rho = error_temperature(labels, top1)
    else:
        m_eff, rho = float("nan"), float("nan")
    counts = np.bincount(labels[known], minlength=n_classes).astype(np.float64)
    log_prior = np.log((counts + 1.0) / (counts.sum() + n_classes))
    pi, pc = _candidates(labels, topk, n_classes)
    evidence = np.zeros(len(pi))
    other = np.zeros(n)
    y = labels[pi]
    own = pc == y  # the candidate is the image's label: leave its own prediction out
    for j in range(m):
        pred = topk[:, j, :]
        valid_img = known & (pred[:, 0] >= 0)
        if not valid_img.any():
            continue
        acc = float(np.clip((pred[valid_img, 0] == labels[valid_img]).mean(), 1e-3, 1 - 1e-3))
        off = (1.0 - acc) / max(n_classes - 1, 1)
        n_c = np.bincount(labels[valid_img], minlength=n_classes).astype(np.float64)
        v = valid_img[pi]
        if k == 1:
            p = pred[pi, 0]
            pair_counts = _count_lookup(labels[valid_img] * n_classes + pred[valid_img, 0],
                                        pc * n_classes + p)
            q = np.where(p == pc, acc, off)
            prob = (pair_counts - own + smoothing * q) / (n_c[pc] - own + smoothing)
            other += np.where(valid_img, np.log(off), 0.0)
        else:
            hit = pred[pi] == pc[:, None]
            rank = np.where(hit.any(axis=1), hit.argmax(axis=1), k)
            lab_hit = pred[valid_img] == labels[valid_img, None]
            lab_rank = np.where(lab_hit.any(axis=1), lab_hit.argmax(axis=1), k)
            table = np.bincount(labels[valid_img] * (k + 1) + lab_rank,
                                minlength=n_classes * (k + 1)).astype(np.float64)
            pooled = (np.bincount(lab_rank, minlength=k + 1) + 1.0) / (len(lab_rank) + k + 1)
            prob = ((table[pc * (k + 1) + rank] - own + smoothing * pooled[rank])
                    / (n_c[pc] - own + smoothing))
            other += np.where(valid_img, np.log(pooled[k]), 0.0)
        evidence += np.where(v, np.log(np.maximum(prob, 1e-300)), 0.0)
    evidence = log_prior[pc] + temperature * evidence
    # the bucket of classes no model ranked: their prior mass times symmetric evidence
    mass = np.bincount(pi, weights=np.exp(log_prior[pc]), minlength=n)
    other = np.log(np.clip(1.0 - mass, 1e-300, None)) + temperature * other
    other[mass >= 1.0 - 1e-12] = -np.inf
    given = np.full(n, np.nan)
    given[pi[own]] = evidence[own]
    alt = np.where(own, -np.inf, evidence)
    top = np.full(n, -np.inf)
    np.maximum.at(top, pi, alt)
    top = np.maximum(top, other)
    with np.errstate(invalid="ignore", over="ignore"):
        sums = np.bincount(pi, weights=np.exp(alt - top[pi]), minlength=n)
        rest = top + np.log(sums + np.exp(other - top))
    logit = np.where(known, rest - given, np.nan)
    suggested = _group_argmax(pi, pc, alt, n)
    info = {"temperature": float(temperature), "effective_models": m_eff, "error_correlation": rho,
            "models": m, "k": k}
    return SourceScores(name, logit, suggested, None, info)


# --------------------------------------------------------------------------- probabilities
def mean_probabilities(probs: list[np.ndarray]) -> np.ndarray:
    """The mean of several (N, C) probability matrices, float64, rows renormalised."""
    if not probs:
        raise InputError("mean_probabilities: no probability matrices")
    shapes = {np.shape(p) for p in probs}
    if len(shapes) != 1:
        raise InputError(f"probability matrices of different shapes: {sorted(shapes)}")
    total = np.zeros(np.shape(probs[0]), dtype=np.float64)
    for p in probs:
        total += np.asarray(p, dtype=np.float64)
    return total / total.sum(axis=1, keepdims=True)


def probability_scores(labels: np.ndarray, probs: np.ndarray, *, method: str = "self_confidence",
                       flag: bool = True, name: str = "cleanlab") -> SourceScores:
    """Confident learning (cleanlab) on out-of-sample probabilities ``probs (N, C)``.

    The score is ``1 - q`` with ``q`` :func:`cleanlab.rank.get_label_quality_scores`
    (``method``: self_confidence, normalized_margin or confidence_weighted_entropy); with
    ``flag``, :func:`cleanlab.filter.find_label_issues` marks the images confident learning
    counts as label issues (``flagged``). The suggested label is the most probable other class.
    """
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2:
        raise InputError(f"probabilities have shape {probs.shape}; expected (N, C)")
    n, c = probs.shape
    labels = _labels(labels, c, n)
    known = np.flatnonzero(labels >= 0)
    logit = np.full(n, np.nan)
    suggested = np.full(n, -1, dtype=np.int64)
    flagged = np.zeros(n, dtype=bool) if flag else None
    if len(known) == 0:
        return SourceScores(name, logit, suggested, flagged, {"method": method})
    y = labels[known]
    p = probs[known] / probs[known].sum(axis=1, keepdims=True)
    q = np.clip(get_label_quality_scores(y, p, method=method), 1e-12, 1 - 1e-12)
    logit[known] = np.log1p(-q) - np.log(q)
    masked = p.copy()
    masked[np.arange(len(y)), y] = -1.0
    suggested[known] = masked.argmax(axis=1)
    if flag and len(np.unique(y)) > 1:
        flagged[known] = find_label_issues(y, p, n_jobs=1)
    return SourceScores(name, logit, suggested, flagged, {"method": method})


# --------------------------------------------------------------------------- people
def check_vote_counts(counts: np.ndarray, n: int, n_classes: int, source: str = "votes") -> np.ndarray:
    """``counts`` as an (n, n_classes) int64 matrix of non-negative counts, or one InputError."""
    counts = np.asarray(counts)
    if counts.shape != (n, n_classes):
        raise InputError(f"{source}: vote counts have shape {counts.shape}; expected ({n}, {n_classes}) "
                         "(one row per image of the store, in store order; one column per class)")
    if not np.issubdtype(counts.dtype, np.number) or not np.isfinite(counts).all():
        raise InputError(f"{source}: vote counts must be finite numbers")
    if (counts < 0).any():
        row = int(np.flatnonzero((counts < 0).any(axis=1))[0])
        raise InputError(f"{source}: row {row + 1}: negative vote count")
    rounded = np.rint(counts)
    if not np.array_equal(rounded, counts):
        row = int(np.flatnonzero((rounded != counts).any(axis=1))[0])
        raise InputError(f"{source}: row {row + 1}: vote counts must be whole numbers")
    return rounded.astype(np.int64)


def vote_scores(labels: np.ndarray, counts: np.ndarray, *, prior: float = VOTE_PRIOR,
                name: str = "votes") -> SourceScores:
    """People's votes against the given label.

    ``score = (n - n_label + a p0) / (n + a)``: the share of the image's ``n`` voters who chose
    another class, shrunk by ``a = prior`` pseudo-votes towards ``p0``, that share over all
    labelled images. The suggested label is the most voted other class (-1 if nobody chose one).
    Images without votes or label: no score.
    """
    counts = np.asarray(counts)
    if counts.ndim != 2:
        raise InputError(f"vote counts have shape {counts.shape}; expected (N, C)")
    counts = check_vote_counts(counts, counts.shape[0], counts.shape[1], name)
    n_img, c = counts.shape
    labels = _labels(labels, c, n_img)
    total = counts.sum(axis=1).astype(np.float64)
    use = (labels >= 0) & (total > 0)
    yes = np.where(use, counts[np.arange(n_img), np.maximum(labels, 0)], 0).astype(np.float64)
    no = total - yes
    p0 = float(no[use].sum() / total[use].sum()) if use.any() else 0.5
    p0 = min(max(p0, 1e-6), 1 - 1e-6)
    logit = np.where(use, np.log(no + prior * p0) - np.log(yes + prior * (1 - p0)), np.nan)
    masked = counts.astype(np.float64)
    masked[np.arange(n_img), np.maximum(labels, 0)] = -1.0
    best = masked.argmax(axis=1)
    suggested = np.where(use & (masked[np.arange(n_img), best] > 0), best, -1).astype(np.int64)
    return SourceScores(name, logit, suggested, None, {"overall_share": p0, "prior_votes": prior})


@dataclass(frozen=True)
class ReviewVotes:
    """Review decisions tallied per (image, class): ``sample (D,)`` store index, ``klass (D,)``,
    ``yes (D,)`` reviewers who marked the class correct, ``no (D,)`` who marked it wrong; and
    ``flags (N,)``, how many reviewers flagged each image problematic."""

    sample: np.ndarray
    klass: np.ndarray
    yes: np.ndarray
    no: np.ndarray
    flags: np.ndarray

    @classmethod
    def from_decisions(cls, n: int, samples, classes, values, flagged=()) -> ReviewVotes:
        """Tally ``(sample, class, value)`` decisions (value correct / wrong; others count for
        nothing) and the store indices of problematic flags (one per flagging reviewer)."""
        samples = np.asarray(samples, dtype=np.int64)
        classes = np.asarray(classes, dtype=np.int64)
        values = np.asarray(values, dtype=object)
        flags = np.bincount(np.asarray(flagged, dtype=np.int64), minlength=n)[:n]
        if len(samples) == 0:
            z = np.zeros(0, dtype=np.int64)
            return cls(z, z, z, z, flags)
        width = int(max(classes.max(), 0)) + 1
        keys, inverse = np.unique(samples * width + classes, return_inverse=True)
        yes = np.bincount(inverse, weights=(values == "correct"), minlength=len(keys))
        no = np.bincount(inverse, weights=(values == "wrong"), minlength=len(keys))
        return cls(keys // width, keys % width, yes.astype(np.int64), no.astype(np.int64), flags)


def review_scores(labels: np.ndarray, votes: ReviewVotes, *, name: str = "review") -> SourceScores:
    """Reviewers against the given label: ``log((no + 1/2) / (yes + 1/2))``, ``no`` counting
    "wrong" decisions on the given label and problematic flags, ``yes`` "correct" ones. The
    suggested label is the class other than the given one with the most net "correct" votes
    (-1 if none has more correct than wrong). Images nobody judged: no score."""
    labels = np.asarray(labels, dtype=np.int64)
    n = len(labels)
    if len(votes.flags) != n:
        raise InputError(f"review: flags for {len(votes.flags)} images; the store has {n}")
    yes = np.zeros(n)
    no = votes.flags.astype(np.float64).copy()
    on_label = labels[votes.sample] == votes.klass if len(votes.sample) else np.zeros(0, dtype=bool)
    np.add.at(yes, votes.sample[on_label], votes.yes[on_label])
    np.add.at(no, votes.sample[on_label], votes.no[on_label])
    use = (labels >= 0) & (yes + no > 0)
    logit = np.where(use, np.log(no + 0.5) - np.log(yes + 0.5), np.nan)
    net = (votes.yes - votes.no).astype(np.float64)
    net = np.where(~on_label & (net > 0), net, -np.inf)
    suggested = _group_argmax(votes.sample, votes.klass, net, n)
    suggested = np.where(labels >= 0, suggested, -1)
    return SourceScores(name, logit, suggested, None, {"reviewed": int(use.sum())})
