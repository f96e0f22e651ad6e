"""Metrics of misclassification detection and selective classification.

Convention: a *failure score* is higher where the prediction is more likely wrong; errors are
the positive class. Metrics that are undefined for the given labels (e.g. AUROC of a model
without errors) are None, with the reason in ``undefined``.

Ties in a score are never broken by the order of the images: risk-coverage quantities are the
expectation over a random order of tied images, and ROC quantities use scikit-learn's tie
handling (a tied group enters at one threshold).

>>> import numpy as np
>>> errors = np.array([False, False, True, True])
>>> m = detection_metrics(np.array([0.1, 0.2, 0.3, 0.9]), errors)
>>> m.auroc, m.fpr95, round(m.aurc, 4), round(m.eaurc, 4)  # risks 0, 0, 1/3, 1/2
(1.0, 0.0, 0.2083, 0.0)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

COVERAGES = (0.5, 0.8, 0.9, 0.95)


def _check(scores: np.ndarray, errors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64)
    e = np.asarray(errors, dtype=bool)
    if s.shape != e.shape or s.ndim != 1:
        raise ValueError(f"scores {s.shape} and errors {e.shape} must be 1-d of equal length")
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite")
    return s, e


def risk_coverage(scores: np.ndarray, errors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Risk (error rate of the kept images) at every coverage i/N, i = 1..N.

    Images are kept most-confident first (lowest score first). Within a group of tied scores
    the risk is its expectation over a random order of the group.

    Returns ``coverage (N,)`` and ``risk (N,)``.

    >>> c, r = risk_coverage(np.array([0.1, 0.5, 0.5]), np.array([False, True, False]))
    >>> c.round(3).tolist(), r.round(3).tolist()
    ([0.333, 0.667, 1.0], [0.0, 0.25, 0.333])
    """
    s, e = _check(scores, errors)
    n = len(s)
    order = np.argsort(s, kind="stable")
    s_sorted, e_sorted = s[order], e[order].astype(np.float64)
    # tie groups: [start, end) in sorted order
    boundaries = np.flatnonzero(np.diff(s_sorted)) + 1
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [n]])
    group_err = np.add.reduceat(e_sorted, starts) if n else np.array([])
    err_before = np.concatenate([[0.0], np.cumsum(group_err)[:-1]])
    sizes = ends - starts
    group_of = np.repeat(np.arange(len(starts)), sizes)
    i = np.arange(1, n + 1, dtype=np.float64)
    within = i - starts[group_of]
    expected_errors = err_before[group_of] + within * group_err[group_of] / sizes[group_of]
    return i / n, expected_errors / i


def aurc(scores: np.ndarray, errors: np.ndarray) -> float:
    """Area under the risk-coverage curve: the mean risk over coverages 1/N..N/N."""
    return float(risk_coverage(scores, errors)[1].mean())


def optimal_aurc(errors: np.ndarray) -> float:
    """AURC of the ideal score, which keeps every correct image before any error.

    >>> round(optimal_aurc(np.array([False, True])), 4)   # risks 0 and 1/2
    0.25
    """
    e = np.asarray(errors, dtype=bool)
    n, n_correct = len(e), int((~e).sum())
    i = np.arange(1, n + 1, dtype=np.float64)
    return float((np.maximum(0.0, i - n_correct) / i).mean())


def selective_accuracy(scores: np.ndarray, errors: np.ndarray, coverage: float) -> float:
    """Accuracy on the ``round(coverage * N)`` most confident images (at least one)."""
    _, risk = risk_coverage(scores, errors)
    kept = max(1, int(round(coverage * len(risk))))
    return float(1.0 - risk[kept - 1])


def fpr_at_tpr(scores: np.ndarray, errors: np.ndarray, tpr: float = 0.95) -> float:
    """Fraction of correct predictions flagged when a threshold flags ``tpr`` of the errors.

    Errors are the positives; the lowest threshold-free point on the ROC curve whose TPR
    reaches ``tpr`` is used.
    """
    s, e = _check(scores, errors)
    fpr, tpr_curve, _ = roc_curve(e, s)
    return float(fpr[np.searchsorted(tpr_curve, tpr - 1e-12, side="left")])


@dataclass(frozen=True)
class DetectionMetrics:
    """How well one failure score separates errors from correct predictions."""

    n: int
    n_errors: int
    auroc: float | None
    aupr_error: float | None
    fpr95: float | None
    aurc: float
    eaurc: float
    selective_accuracy: dict[str, float]
    undefined: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def detection_metrics(scores: np.ndarray, errors: np.ndarray) -> DetectionMetrics:
    """AUROC, AUPR (errors positive), FPR at 95% TPR, AURC, E-AURC and selective accuracy.

    With no errors, or no correct predictions, the ranking metrics are None and
    ``undefined`` says why; AURC and E-AURC stay defined.
    """
    s, e = _check(scores, errors)
    n, n_err = len(e), int(e.sum())
    if n == 0:
        raise ValueError("no images to judge")
    a = aurc(s, e)
    sel = {f"{c:.2f}": selective_accuracy(s, e, c) for c in COVERAGES}
    if n_err == 0 or n_err == n:
        reason = "no errors" if n_err == 0 else "no correct predictions"
        return DetectionMetrics(n, n_err, None, None, None, a, a - optimal_aurc(e), sel,
                                f"{reason}: errors and correct predictions cannot be separated")
    return DetectionMetrics(
        n=n,
        n_errors=n_err,
        auroc=float(roc_auc_score(e, s)),
        aupr_error=float(average_precision_score(e, s)),
        fpr95=fpr_at_tpr(s, e, 0.95),
        aurc=a,
        eaurc=a - optimal_aurc(e),
        selective_accuracy=sel,
    )


@dataclass(frozen=True)
class Calibration:
    """Expected calibration error and the reliability diagram's bins."""

    ece: float
    bin_edges: np.ndarray
    bin_confidence: np.ndarray
    bin_accuracy: np.ndarray
    bin_count: np.ndarray
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"ece": self.ece, "bin_edges": self.bin_edges.tolist(),
                "bin_confidence": self.bin_confidence.tolist(),
                "bin_accuracy": self.bin_accuracy.tolist(), "bin_count": self.bin_count.tolist()}


def calibration(confidence: np.ndarray, correct: np.ndarray, *, bins: int = 15) -> Calibration:
    """ECE with ``bins`` equal-width confidence bins: sum over bins of |acc - conf| * n_b / N.

    Bin b holds confidences in (edge_b, edge_b+1]; the first bin also holds 0. Empty bins
    have NaN confidence and accuracy and weigh nothing.

    >>> cal = calibration(np.array([0.9, 0.9, 0.6, 0.6]), np.array([1, 1, 1, 0]), bins=10)
    >>> round(cal.ece, 4)   # |1 - .9| * 2/4 + |.5 - .6| * 2/4
    0.1
    """
    conf = np.asarray(confidence, dtype=np.float64)
    corr = np.asarray(correct, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, bins - 1)
    count = np.bincount(idx, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        bconf = np.bincount(idx, weights=conf, minlength=bins) / count
        bacc = np.bincount(idx, weights=corr, minlength=bins) / count
    gaps = np.where(count > 0, np.abs(bacc - bconf), 0.0)
    ece = float((gaps * count).sum() / max(1, len(conf)))
    return Calibration(ece, edges, bconf, bacc, count)


def roc_points(scores: np.ndarray, errors: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(FPR, TPR) of flagging errors by thresholding the score; None without both outcomes."""
    s, e = _check(scores, errors)
    if e.all() or not e.any():
        return None
    fpr, tpr, _ = roc_curve(e, s)
    return fpr, tpr
