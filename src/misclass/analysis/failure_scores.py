"""Failure scores: per image, higher means the model's prediction is more likely wrong.

Each score is one small entry in :data:`SCORES`: its name, what it needs, what it measures,
and a function. *Fitted* scores (feature space, class error rate) learn from a calibration
set of images with labels and are applied to other images; the others read one image's
outputs only. Adding a score is adding one entry. The probability scores (msp to doctor)
read the float64 softmax of the logits where they are stored (see :class:`ScoreInputs`).

==================  =========================================================================
score               definition (higher = more likely wrong)
==================  =========================================================================
msp                 1 - maximum softmax probability
margin              1 - (p1 - p2), the gap between the two highest probabilities
entropy             -sum p log p of the full probability vector (nats)
gini                1 - sum p^2 (Gini impurity)
doctor              (1 - sum p^2) / sum p^2: DOCTOR's D_alpha (Granese et al., 2021) without
                    input perturbation; a monotone function of gini, so it ranks identically
energy              -logsumexp(logits) (Liu et al., 2020): needs stored logits
mc_entropy          predictive entropy of the mean of T MC-dropout passes
mc_mutual_info      mutual information between prediction and weights (BALD) over the passes
mc_variance         variance over the passes of the top-1 class's probability
knn_distance        cosine distance to the k-th nearest calibration feature of the predicted
                    class (Sun et al., 2022), k = min(5, class size)
prototype_cosine    1 - cosine similarity to the predicted class's prototype (the mean of its
                    unit-length calibration features)
mahalanobis         squared Mahalanobis distance to the predicted class's mean under one
                    shared, Ledoit-Wolf-shrunk covariance (after Lee et al., 2018, who take
                    the closest class and the empirical covariance; see ``_mahalanobis``)
disagreement        fraction of the store's other models whose top-1 differs
class_error_rate    (errors + 1) / (predictions + 2) of the predicted class on the calibration
                    set (Laplace-smoothed)
==================  =========================================================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class ScoreInputs:
    """Everything a score may read for one model; None where the store lacks it.

    Shapes: ``top1 (N,)``, ``labels (N,)``, ``probs (N, C)``, ``topk_probs (N, k)``,
    ``logits (N, C)``, ``features (N, D)``, ``other_top1 (N, M-1)``, ``mc`` maps
    ``"entropy"``, ``"mutual_info"``, ``"variance"`` to (N,) arrays.

    Probability scores (msp, margin, entropy, gini, doctor) read the softmax of the logits,
    computed in float64, wherever ``logits`` are given and ``probs_from_logits`` (the model's
    probabilities are the softmax of its logits; False for MC dropout, whose probabilities
    are a mean over passes). Stored probabilities are float32 or float16, and the most
    confident images tie there (a maximum of exactly 1.0), which changes every rank metric.
    """

    top1: np.ndarray
    labels: np.ndarray
    probs: np.ndarray | None = None
    topk_probs: np.ndarray | None = None
    logits: np.ndarray | None = None
    features: np.ndarray | None = None
    other_top1: np.ndarray | None = None
    mc: dict[str, np.ndarray] = field(default_factory=dict)
    probs_from_logits: bool = True

    def errors(self) -> np.ndarray:
        """``(N,)`` bool: the prediction is wrong (False where the label is unknown, -1)."""
        labels = np.asarray(self.labels)
        return (np.asarray(self.top1) != labels) & (labels >= 0)

    def _use_logits(self) -> bool:
        return self.logits is not None and self.probs_from_logits

    def _topk_usable(self, min_k: int) -> bool:
        t = self.topk_probs
        return t is not None and t.shape[1] >= min_k and not np.isnan(t).all()

    def probabilities(self, rows: np.ndarray | None = None) -> np.ndarray | None:
        """Full probabilities of ``rows`` (all images when None) in float64: the softmax of
        the logits where they give the probabilities, else the stored ones; None without."""
        if self._use_logits():
            from scipy.special import softmax

            z = self.logits if rows is None else self.logits[rows]
            return softmax(np.asarray(z, dtype=np.float64), axis=1)
        if self.probs is None:
            return None
        return np.asarray(self.probs if rows is None else self.probs[rows], dtype=np.float64)

    def ranked_probs(self, min_k: int = 1, rows: np.ndarray | None = None) -> np.ndarray | None:
        """The highest probabilities of ``rows`` (all when None), descending, in float64, at
        least ``min_k`` columns: from the logits (float64 softmax) where they give the
        probabilities, else the stored top-k (float32) when it has enough columns, else the
        sorted full probabilities; None without any."""
        if not self._use_logits() and self._topk_usable(min_k):
            t = self.topk_probs if rows is None else self.topk_probs[rows]
            return np.nan_to_num(np.asarray(t, dtype=np.float64), nan=0.0)
        p = self.probabilities(rows)
        if p is None:
            return None
        k = min(min_k, p.shape[1])
        top = -np.partition(-p, k - 1, axis=1)[:, :k] if k < p.shape[1] else p
        return -np.sort(-top, axis=1)

    def probability_source(self) -> str | None:
        """What the probability scores read, for people: ``"logits (float64 softmax)"`` or
        the stored probabilities and their precision; None without probabilities."""
        if self._use_logits():
            return "logits (float64 softmax)"
        parts = ["top-k probabilities (float32)"] if self._topk_usable(1) else []
        if self.probs is not None:
            parts.append(f"full probabilities ({np.asarray(self.probs).dtype})")
        return " and ".join(parts) or None

    def has(self, need: str) -> bool:
        """Whether the input a score ``need``s is there (see :attr:`Score.needs`)."""
        if need in ("ranked_probs", "top2"):
            k = 2 if need == "top2" else 1
            return self._use_logits() or self._topk_usable(k) or self.probs is not None
        if need == "probs":
            return self._use_logits() or self.probs is not None
        return getattr(self, need) is not None


Plain = Callable[[ScoreInputs, np.ndarray], np.ndarray]
Fitted = Callable[[ScoreInputs, np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Score:
    """One failure score: ``needs`` names the inputs it reads; ``fitted`` scores take
    ``(inputs, fit_idx, apply_idx)``, plain ones ``(inputs, apply_idx)``."""

    name: str
    needs: tuple[str, ...]
    fn: Plain | Fitted
    fitted: bool = False

    def available(self, inputs: ScoreInputs) -> str | None:
        """None when the score can be computed, else why not."""
        for need in self.needs:
            if need.startswith("mc_"):
                if need[3:] not in inputs.mc:
                    return "needs MC-dropout outputs (--mc-dropout T)"
            elif not inputs.has(need):
                return {"ranked_probs": "needs probabilities",
                        "top2": "needs the top-2 probabilities",
                        "probs": "needs full probabilities or logits (--save-logits, --save-probs or "
                                 "a .npy import)",
                        "logits": "needs stored logits (--save-logits)",
                        "features": "needs penultimate features (--save-features)",
                        "other_top1": "needs other models in the store"}[need]
        return None


def _entropy(p: np.ndarray) -> np.ndarray:
    from scipy.special import entr

    return entr(p).sum(axis=1)  # -p log p, 0 at p = 0: no clipping, which would tie confident images


def _l2(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _per_predicted_class(inputs: ScoreInputs, fit: np.ndarray, apply: np.ndarray, per_class) -> np.ndarray:
    """Apply ``per_class(class_id, fit_rows_of_class, apply_rows)`` for each predicted class;
    classes without calibration images get the largest finite value seen (most suspicious)."""
    out = np.full(len(apply), np.nan)
    fit_labels = inputs.labels[fit]
    pred = inputs.top1[apply]
    for c in np.unique(pred):
        rows = np.flatnonzero(pred == c)
        members = fit[fit_labels == c]
        if len(members):
            out[rows] = per_class(c, members, apply[rows])
    finite = out[np.isfinite(out)]
    return np.where(np.isfinite(out), out, finite.max() if len(finite) else 1.0)


def _knn(inputs: ScoreInputs, fit: np.ndarray, apply: np.ndarray) -> np.ndarray:
    f = _l2(inputs.features)

    def per_class(c, members, rows):
        k = min(5, len(members))
        sims = f[rows] @ f[members].T
        kth = -np.partition(-sims, k - 1, axis=1)[:, k - 1]
        return 1.0 - kth

    return _per_predicted_class(inputs, fit, apply, per_class)


def _prototype(inputs: ScoreInputs, fit: np.ndarray, apply: np.ndarray) -> np.ndarray:
    f = _l2(inputs.features)

    def per_class(c, members, rows):
        proto = _l2(f[members].mean(axis=0, keepdims=True))[0]
        return 1.0 - f[rows] @ proto

    return _per_predicted_class(inputs, fit, apply, per_class)


def _mahalanobis(inputs: ScoreInputs, fit: np.ndarray, apply: np.ndarray) -> np.ndarray:
    """Squared Mahalanobis distance of each image's features to the mean of its *predicted*
    class, under one covariance shared by all classes and shrunk by Ledoit-Wolf.

    Exactly, with features ``f`` in float64: the class means ``mu_c`` are the means of the
    calibration (``fit``) images whose *label* is ``c``; the shared covariance ``S`` is
    scikit-learn's ``LedoitWolf().fit`` of the calibration features, each minus its label's
    mean (the maximum-likelihood covariance, dividing by the number of images, shrunk towards
    a scaled identity with the Ledoit-Wolf coefficient); the score of image ``x`` predicted
    as ``c`` is ``(f(x) - mu_c)^T S^-1 (f(x) - mu_c)``, not its square root. An image
    predicted as a class without calibration images gets the largest score among the other
    images scored.

    This differs from Lee et al. (2018), whose confidence score is the distance to the
    *closest* class mean (min over c) under the *empirical* (unshrunk) shared covariance;
    the two agree where the predicted class is the closest one and the calibration set is
    large enough for the shrinkage to vanish. tests/analysis/test_failure_scores.py checks
    it exactly against ``ShrunkCovariance`` with the Ledoit-Wolf coefficient, and within 1%
    of ``EmpiricalCovariance`` with many calibration images.
    """
    from sklearn.covariance import LedoitWolf

    f = np.asarray(inputs.features, dtype=np.float64)
    labels = inputs.labels[fit]
    classes = np.unique(labels)
    means = {c: f[fit[labels == c]].mean(axis=0) for c in classes}
    centred = np.concatenate([f[fit[labels == c]] - means[c] for c in classes])
    precision = LedoitWolf().fit(centred).precision_

    def per_class(c, members, rows):
        d = f[rows] - means[c]
        return np.einsum("ij,jk,ik->i", d, precision, d)

    return _per_predicted_class(inputs, fit, apply, per_class)


def _class_error_rate(inputs: ScoreInputs, fit: np.ndarray, apply: np.ndarray) -> np.ndarray:
    c = int(max(inputs.top1.max(), inputs.labels.max())) + 1
    pred_fit = inputs.top1[fit]
    wrong = (pred_fit != inputs.labels[fit]).astype(np.float64)
    n = np.bincount(pred_fit, minlength=c)
    e = np.bincount(pred_fit, weights=wrong, minlength=c)
    return ((e + 1.0) / (n + 2.0))[inputs.top1[apply]]


def _energy(inputs: ScoreInputs, apply: np.ndarray) -> np.ndarray:
    from scipy.special import logsumexp

    return -logsumexp(np.asarray(inputs.logits[apply], dtype=np.float64), axis=1)


def _gini(p: np.ndarray) -> np.ndarray:
    return 1.0 - (p ** 2).sum(axis=1)


def _msp(x: ScoreInputs, a: np.ndarray) -> np.ndarray:
    return 1.0 - x.ranked_probs(1, a)[:, 0]


def _margin(x: ScoreInputs, a: np.ndarray) -> np.ndarray:
    top = x.ranked_probs(2, a)
    return 1.0 - (top[:, 0] - top[:, 1])


def _doctor(x: ScoreInputs, a: np.ndarray) -> np.ndarray:
    g = _gini(x.probabilities(a))
    return g / np.maximum(1.0 - g, 1e-12)


SCORES: dict[str, Score] = {s.name: s for s in [
    Score("msp", ("ranked_probs",), _msp),
    Score("margin", ("top2",), _margin),
    Score("entropy", ("probs",), lambda x, a: _entropy(x.probabilities(a))),
    Score("gini", ("probs",), lambda x, a: _gini(x.probabilities(a))),
    Score("doctor", ("probs",), _doctor),
    Score("energy", ("logits",), _energy),
    Score("mc_entropy", ("mc_entropy",), lambda x, a: np.asarray(x.mc["entropy"])[a]),
    Score("mc_mutual_info", ("mc_mutual_info",), lambda x, a: np.asarray(x.mc["mutual_info"])[a]),
    Score("mc_variance", ("mc_variance",), lambda x, a: np.asarray(x.mc["variance"])[a]),
    Score("knn_distance", ("features",), _knn, fitted=True),
    Score("prototype_cosine", ("features",), _prototype, fitted=True),
    Score("mahalanobis", ("features",), _mahalanobis, fitted=True),
    Score("disagreement", ("other_top1",),
          lambda x, a: (x.other_top1[a] != x.top1[a, None]).mean(axis=1)),
    Score("class_error_rate", (), _class_error_rate, fitted=True),
]}


def compute_scores(inputs: ScoreInputs, fit: np.ndarray, apply: np.ndarray,
                   names: list[str] | None = None) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Compute the available scores for the images ``apply``, fitting on the images ``fit``.

    Returns ``(scores, skipped)``: score name -> (len(apply),) array, and score name -> the
    reason it was not computed.
    """
    fit = np.asarray(fit)
    apply = np.asarray(apply)
    out: dict[str, np.ndarray] = {}
    skipped: dict[str, str] = {}
    for name in names or list(SCORES):
        score = SCORES[name]
        reason = score.available(inputs)
        if reason is None and score.fitted and len(fit) == 0:
            reason = "needs calibration images"
        if reason:
            skipped[name] = reason
            continue
        values = score.fn(inputs, fit, apply) if score.fitted else score.fn(inputs, apply)
        out[name] = np.asarray(values, dtype=np.float64)
    return out, skipped
