"""Which images will fail: every failure score and a learned failure predictor, judged on
held-out images, plus the reject option.

The store's labelled images are split (seeded, stratified by error) into a *calibration*
split and a disjoint *test* split. Everything that is fitted (feature-space scores, the
class error rate, the learned predictor) is fitted on the calibration split only; every
metric is computed on the test split, the same images for every score. The learned
predictor is trained on calibration images whose fitted scores were computed out-of-fold
(K-fold within the calibration split), so its inputs look like those it gets on the test
split.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from misclass.analysis.failure_options import LEARNERS
from misclass.analysis.failure_scores import SCORES, ScoreInputs, compute_scores
from misclass.analysis.selective import Calibration, DetectionMetrics, calibration, detection_metrics


@dataclass(frozen=True)
class FailureAnalysis:
    """Failure detection for one model. Metrics are on ``test_index`` images only."""

    model: str
    calibration_index: np.ndarray
    test_index: np.ndarray
    metrics: dict[str, DetectionMetrics]
    skipped: dict[str, str]
    test_scores: dict[str, np.ndarray]
    test_errors: np.ndarray
    learned: DetectionMetrics | None
    learned_info: dict
    confidence_calibration: Calibration | None
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "scores": {k: _metric_dict(v) for k, v in self.metrics.items()},
            "skipped": self.skipped,
            "learned": dict(_metric_dict(self.learned) if self.learned else
                            {"auroc": None, "aupr_error": None, "fpr95": None, "aurc": None,
                             "eaurc": None}, **self.learned_info),
            "split": {"calibration": int(len(self.calibration_index)),
                      "test": int(len(self.test_index))},
            "calibration": None if self.confidence_calibration is None
            else self.confidence_calibration.to_dict(),
        }


def _metric_dict(m: DetectionMetrics) -> dict:
    d = m.to_dict()
    return d


def split_calibration(errors: np.ndarray, valid: np.ndarray, *, fraction: float, seed: int):
    """Indices of the calibration and test splits among ``valid`` images, stratified by error
    when both outcomes occur at least twice."""
    idx = np.flatnonzero(valid)
    if not 0 < fraction < 1:
        raise ValueError(f"calibration fraction must lie in (0, 1), got {fraction}")
    strat = errors[idx] if min(errors[idx].sum(), (~errors[idx]).sum()) >= 2 else None
    cal, test = train_test_split(idx, train_size=fraction, random_state=seed, stratify=strat)
    return np.sort(cal), np.sort(test)


def _out_of_fold(inputs: ScoreInputs, cal: np.ndarray, names: list[str], folds: int, seed: int):
    """Fitted scores of the calibration images, each from a fit that did not see it."""
    out = {n: np.full(len(cal), np.nan) for n in names}
    errors = inputs.top1[cal] != inputs.labels[cal]
    k = int(min(folds, max(2, min(errors.sum(), (~errors).sum()))))
    if min(errors.sum(), (~errors).sum()) >= k:
        splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(cal, errors)
    else:
        rng = np.random.default_rng(seed)
        perm = rng.permutation(len(cal))
        splitter = ((np.setdiff1d(np.arange(len(cal)), part), part) for part in np.array_split(perm, k))
    for fit_pos, apply_pos in splitter:
        values, _ = compute_scores(inputs, cal[fit_pos], cal[apply_pos], names)
        for n, v in values.items():
            out[n][apply_pos] = v
    return out


def _learner(kind: str, seed: int):
    if kind == "logistic":
        return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, class_weight="balanced",
                                                                  max_iter=2000))
    if kind == "boosting":
        return HistGradientBoostingClassifier(max_iter=150, learning_rate=0.05, max_leaf_nodes=8,
                                              l2_regularization=1.0, class_weight="balanced",
                                              random_state=seed)
    raise ValueError(f"learner {kind!r}: expected one of {LEARNERS}")


def analyze_failures(
    model: str,
    inputs: ScoreInputs,
    *,
    image_features: pd.DataFrame | None = None,
    calibration_fraction: float = 0.5,
    learner: str = "logistic",
    folds: int = 5,
    seed: int = 0,
) -> FailureAnalysis:
    """Score every image, fit the learned predictor on the calibration split and judge all
    scores and the predictor on the test split.

    ``image_features`` (N rows, store order) are extra inputs of the learned predictor only,
    e.g. :func:`misclass.analysis.image_stats.image_statistics`.
    """
    valid = np.asarray(inputs.labels) >= 0
    errors = inputs.errors()
    cal, test = split_calibration(errors, valid, fraction=calibration_fraction, seed=seed)
    plain = [n for n, s in SCORES.items() if not s.fitted]
    fitted = [n for n, s in SCORES.items() if s.fitted]
    test_scores, skipped = compute_scores(inputs, cal, test)
    cal_plain, _ = compute_scores(inputs, cal, cal, [n for n in plain if n in test_scores])
    cal_fitted = _out_of_fold(inputs, cal, [n for n in fitted if n in test_scores], folds, seed)
    cal_scores = {**cal_plain, **cal_fitted}
    metrics = {n: detection_metrics(v, errors[test]) for n, v in test_scores.items()}

    names = list(test_scores)
    x_cal = np.column_stack([cal_scores[n] for n in names])
    x_test = np.column_stack([test_scores[n] for n in names])
    feature_names = list(names)
    if image_features is not None and len(image_features.columns):
        x_cal = np.column_stack([x_cal, image_features.to_numpy(dtype=np.float64)[cal]])
        x_test = np.column_stack([x_test, image_features.to_numpy(dtype=np.float64)[test]])
        feature_names += [f"image:{c}" for c in image_features.columns]
    info = {"learner": learner, "features": feature_names, "fitted_on": "calibration",
            "judged_on": "test"}
    learned = None
    y_cal = errors[cal]
    if 0 < y_cal.sum() < len(y_cal) and np.isfinite(x_cal).all():
        clf = _learner(learner, seed).fit(x_cal, y_cal)
        learned_scores = clf.predict_proba(x_test)[:, 1]
        test_scores = {**test_scores, "learned": learned_scores}
        learned = detection_metrics(learned_scores, errors[test])
    else:
        info["undefined"] = ("the calibration split has no errors" if y_cal.sum() == 0 else
                             "the calibration split has no correct predictions")
    ranked = inputs.ranked_probs()
    cal_conf = None
    if ranked is not None:
        cal_conf = calibration(ranked[valid, 0], ~errors[valid])
    return FailureAnalysis(model, cal, test, metrics, skipped, test_scores, errors[test],
                           learned, info, cal_conf)


@dataclass(frozen=True)
class RejectRule:
    """Keep an image when its score is at most ``threshold``."""

    score: str
    coverage_target: float
    threshold: float
    calibration_coverage: float
    test_coverage: float
    test_accuracy_kept: float | None
    test_accuracy_all: float
    rejected: np.ndarray  # indices (store order) of every labelled or unlabelled image rejected

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in ("score", "coverage_target", "threshold",
                                           "calibration_coverage", "test_coverage",
                                           "test_accuracy_kept", "test_accuracy_all")}
        d["n_rejected"] = int(len(self.rejected))
        return d


def reject_rule(score_name: str, scores: np.ndarray, errors: np.ndarray, cal: np.ndarray,
                test: np.ndarray, coverage: float) -> RejectRule:
    """Choose the threshold that keeps ``coverage`` of the calibration images (the
    ``ceil(coverage * n)``-th smallest score), then apply it to the test split and to all.

    >>> s = np.array([0.1, 0.2, 0.3, 0.4, 0.1, 0.2, 0.3, 0.9])
    >>> e = np.array([0, 0, 0, 1, 0, 0, 1, 1], dtype=bool)
    >>> r = reject_rule("msp", s, e, np.arange(4), np.arange(4, 8), 0.75)
    >>> r.threshold, r.test_coverage, r.test_accuracy_kept, r.rejected.tolist()
    (0.3, 0.75, 0.6666666666666666, [3, 7])
    """
    if not 0 < coverage <= 1:
        raise ValueError(f"coverage must lie in (0, 1], got {coverage}")
    s = np.asarray(scores, dtype=np.float64)
    cal_sorted = np.sort(s[cal])
    threshold = float(cal_sorted[max(0, int(np.ceil(coverage * len(cal))) - 1)])
    keep = s <= threshold
    kept_test = keep[test]
    acc_kept = float((~errors[test][kept_test]).mean()) if kept_test.any() else None
    return RejectRule(score_name, coverage, threshold, float(keep[cal].mean()),
                      float(kept_test.mean()), acc_kept, float((~errors[test]).mean()),
                      np.flatnonzero(~keep))
