"""People as predictors: vote summaries and model-vs-human error consistency. Pure functions.

From an (N, C) matrix of votes (how many people chose each class for each image):

- the **majority** class of an image is its most voted class; a tie goes to the lowest class id;
- a **random person**'s answer is drawn from the image's votes, so the probability that such a
  person is right is ``count[label] / total`` (:func:`expected_correct`) and a random person's
  accuracy is its mean over the labelled images: an expectation, never a sampled guess;
- **agreement** per image: the share of the top class, and the entropy of the vote shares in
  bits (0 when everybody chose one class, log2(C) when the votes are spread evenly).

**Error consistency** (Geirhos et al. 2020, "Beyond accuracy: quantifying trial-by-trial
behaviour of CNNs and humans by measuring error consistency"): Cohen's kappa of two
correct/incorrect vectors, ``(p_o - p_e) / (1 - p_e)`` with ``p_o`` the share of images both
get right or both get wrong and ``p_e = a_1 a_2 + (1 - a_1)(1 - a_2)`` from the two accuracies;
NaN when ``p_e = 1`` (the convention of :mod:`misclass.analysis.agreement`). The reference
vector may be fractional: against a person drawn at random on each image it is the
probability that the person is right, and ``p_o`` and ``a_2`` are then expectations (this is
Cohen's kappa with each image counted once as "right" with weight ``r`` and once as "wrong"
with weight ``1 - r``). Confidence intervals are percentile bootstraps over images, seeded.

>>> counts = np.array([[3, 1, 0], [2, 2, 0], [0, 0, 4]])
>>> v = vote_summary(counts)
>>> v.majority.tolist(), v.top_share.tolist(), v.tied.tolist()
([0, 0, 2], [0.75, 0.5, 1.0], [False, True, False])
>>> expected_correct(counts, np.array([0, 1, 2])).tolist()
[0.75, 0.5, 1.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from misclass.errors import InputError

#: Bootstrap replicates drawn at a time (fixed, so the numbers depend only on the seed).
_BLOCK = 100


def vote_shares(counts: np.ndarray) -> np.ndarray:
    """``counts / total`` per row, float64; rows without votes are all NaN."""
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, counts / np.where(total > 0, total, 1), np.nan)


@dataclass(frozen=True)
class VoteSummary:
    """Per image (N,): ``n_votes``, ``majority`` (top class, lowest id on a tie; -1 without
    votes), ``tied`` (another class has as many votes), ``top_share`` (the majority's share of
    the votes) and ``entropy_bits`` (of the vote shares); NaN without votes."""

    n_votes: np.ndarray
    majority: np.ndarray
    tied: np.ndarray
    top_share: np.ndarray
    entropy_bits: np.ndarray

    def to_frame(self) -> pd.DataFrame:
        """The per-image columns ``n_votes``, ``top_share``, ``entropy_bits``, ``tied``."""
        return pd.DataFrame({"n_votes": self.n_votes, "top_share": self.top_share,
                             "entropy_bits": self.entropy_bits, "tied": self.tied})


def vote_summary(counts: np.ndarray) -> VoteSummary:
    """Majority class and agreement of every image (see :class:`VoteSummary`)."""
    counts = np.asarray(counts)
    if counts.ndim != 2:
        raise InputError(f"vote counts have shape {counts.shape}; expected (N, C)")
    total = counts.sum(axis=1)
    top = counts.max(axis=1)
    majority = np.where(total > 0, counts.argmax(axis=1), -1)  # argmax: first (lowest id) of ties
    tied = ((counts == top[:, None]).sum(axis=1) > 1) & (total > 0)
    shares = vote_shares(counts)
    with np.errstate(invalid="ignore", divide="ignore"):
        logs = np.where(shares > 0, np.log2(np.where(shares > 0, shares, 1)), 0.0)
    entropy = -(shares * logs).sum(axis=1) + 0.0  # + 0.0: no negative zeros
    with np.errstate(invalid="ignore", divide="ignore"):
        top_share = np.where(total > 0, top / np.where(total > 0, total, 1), np.nan)
    return VoteSummary(total.astype(np.int64), majority.astype(np.int64), tied, top_share,
                       np.where(total > 0, entropy, np.nan))


def expected_correct(counts_or_shares: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Probability that a person drawn at random from an image's voters gives its label:
    ``count[label] / total`` (rows of shares are used as they are). NaN where the label is
    unknown (-1) or the image has no votes."""
    m = np.asarray(counts_or_shares, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if m.ndim != 2 or labels.shape != (len(m),):
        raise InputError(f"votes of shape {m.shape} and labels of shape {labels.shape}; expected "
                         "(N, C) and (N,)")
    shares = vote_shares(m)
    known = labels >= 0
    out = np.full(len(m), np.nan)
    out[known] = shares[np.flatnonzero(known), labels[known]]
    return out


# --------------------------------------------------------------------------- error consistency
def _kappa(a1: np.ndarray, a2: np.ndarray, p_o: np.ndarray) -> np.ndarray:
    p_e = a1 * a2 + (1 - a1) * (1 - a2)
    denom = 1 - p_e
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 1e-12, (p_o - p_e) / np.where(denom > 1e-12, denom, 1), np.nan)


def _moments(weights: np.ndarray, correct: np.ndarray, reference: np.ndarray, n: int):
    """Model accuracies (B, M), reference accuracy (B, 1) and observed agreement (B, M) under
    image weights (B, N) that sum to ``n`` per row."""
    a1 = weights @ correct / n
    a2 = (weights @ reference / n)[:, None]
    both = weights @ (correct * reference[:, None]) / n  # expected share right together
    return a1, a2, 1 - a1 - a2 + 2 * both


@dataclass(frozen=True)
class ErrorConsistency:
    """Error consistency (Cohen's kappa of correct/incorrect vectors) of M models with one
    reference, with percentile bootstrap intervals.

    Attributes
    ----------
    models : names, (M,)
    kappa, low, high : (M,) float; NaN where kappa is undefined (``p_e = 1``)
    accuracy : (M,) the models' accuracy on the ``n`` images
    reference_accuracy : the reference's (expected) accuracy
    n, n_boot, level, seed : images, replicates, interval level, the seed
    """

    models: tuple[str, ...]
    kappa: np.ndarray
    low: np.ndarray
    high: np.ndarray
    accuracy: np.ndarray
    reference_accuracy: float
    n: int
    n_boot: int
    level: float
    seed: int

    def to_frame(self) -> pd.DataFrame:
        """One row per model: ``kappa``, ``low``, ``high``, ``accuracy``."""
        return pd.DataFrame({"kappa": self.kappa, "low": self.low, "high": self.high,
                             "accuracy": self.accuracy}, index=pd.Index(self.models, name="model"))

    def to_dict(self) -> dict:
        return {"n": self.n, "n_boot": self.n_boot, "level": self.level, "seed": self.seed,
                "reference_accuracy": self.reference_accuracy,
                "models": [{"model": m, "kappa": float(k), "low": float(lo), "high": float(hi),
                            "accuracy": float(a)}
                           for m, k, lo, hi, a in zip(self.models, self.kappa, self.low, self.high,
                                                      self.accuracy, strict=True)]}


def error_consistency_ci(correct: np.ndarray, reference: np.ndarray, *,
                         models: Sequence[str] | None = None, n_boot: int = 1000,
                         level: float = 0.95, seed: int = 0) -> ErrorConsistency:
    """Error consistency of each model (columns of ``correct``, (N, M) bool) with ``reference``
    ((N,) bool, or the probability in [0, 1] that the reference is right on each image), with a
    percentile bootstrap interval over images (``n_boot`` resamples of the N images with
    replacement, every model resampled alike; ``seed`` fixes them).

    >>> c = np.array([[1, 1], [1, 0], [0, 0], [0, 1]], dtype=bool)
    >>> ec = error_consistency_ci(c, np.array([1, 1, 0, 0], dtype=bool), n_boot=50)
    >>> ec.kappa.tolist()
    [1.0, 0.0]
    """
    correct = np.asarray(correct)
    if correct.ndim == 1:
        correct = correct[:, None]
    ref = np.asarray(reference, dtype=np.float64)
    n, m = correct.shape
    if ref.shape != (n,):
        raise InputError(f"reference has shape {ref.shape}; expected ({n},) like the models")
    if n == 0:
        raise InputError("error consistency needs at least one image")
    if not np.isfinite(ref).all() or (ref < 0).any() or (ref > 1).any():
        raise InputError("reference: expected values in [0, 1] (right/wrong or the probability "
                         "of being right) on every image")
    if not 0 < level < 1:
        raise InputError(f"level {level}: expected a number between 0 and 1")
    if n_boot < 1:
        raise InputError(f"n_boot {n_boot}: expected at least 1 bootstrap replicate")
    names = tuple(models) if models is not None else tuple(f"model {j}" for j in range(m))
    if len(names) != m:
        raise InputError(f"{len(names)} model names for {m} columns")
    c = correct.astype(np.float64)
    a1, a2, p_o = _moments(np.ones((1, n)), c, ref, n)
    kappa = _kappa(a1, a2, p_o)[0]
    rng = np.random.default_rng(seed)
    reps = []
    for start in range(0, n_boot, _BLOCK):
        b = min(_BLOCK, n_boot - start)
        draws = rng.integers(0, n, size=(b, n))
        weights = np.bincount((draws + n * np.arange(b)[:, None]).ravel(),
                              minlength=b * n).reshape(b, n).astype(np.float64)
        reps.append(_kappa(*_moments(weights, c, ref, n)))
    boot = np.concatenate(reps, axis=0)
    alpha = (1 - level) / 2
    defined = np.isfinite(boot).any(axis=0)
    low = np.full(m, np.nan)
    high = np.full(m, np.nan)
    if defined.any():
        low[defined], high[defined] = np.nanquantile(boot[:, defined], [alpha, 1 - alpha], axis=0)
    return ErrorConsistency(names, kappa, low, high, a1[0], float(a2[0, 0]), n, n_boot, level, seed)
