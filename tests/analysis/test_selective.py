"""Risk-coverage and AURC (misclass.analysis.selective) against the definition by brute force:
every order of the tied images enumerated, or every order of the images tried."""

from __future__ import annotations

import numpy as np
from _reference import (
    brute_force_aurc,
    brute_force_optimal_aurc,
    brute_force_risk_curve,
    check_against,
    generated,
    n_orders_within_ties,
)

from misclass.analysis.selective import aurc, detection_metrics, optimal_aurc, risk_coverage


def _tied_case(rng: np.random.Generator, max_orders: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    """1-9 images, scores from a few values (many ties), random errors; few enough orders of
    the tied images to enumerate them all."""
    while True:
        n = int(rng.integers(1, 10))
        scores = rng.integers(0, int(rng.integers(1, 5)), n).astype(np.float64) / 4
        if n_orders_within_ties(scores) <= max_orders:
            return scores, rng.random(n) < rng.uniform(0.1, 0.9)


def _distinct_case(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    n = int(rng.integers(1, 12))
    return rng.permutation(n) + rng.random(n) * 0.5, rng.random(n) < 0.4


def _cases():
    yield from generated(_tied_case, n=150, seed=1, kind="ties")
    yield from generated(_distinct_case, n=50, seed=2, kind="distinct scores")
    yield "all tied, one error", (np.zeros(6), np.array([1, 0, 0, 0, 0, 0], bool))
    yield "no errors", (np.arange(4.0), np.zeros(4, bool))
    yield "all errors", (np.ones(3), np.ones(3, bool))


def test_risk_curve_is_the_mean_over_orders_of_tied_images():
    check_against(lambda s, e: risk_coverage(s, e)[1], brute_force_risk_curve, _cases(), rtol=1e-12,
                  atol=1e-15, name="risk_coverage vs every order of the tied images")


def test_aurc_against_brute_force():
    check_against(aurc, brute_force_aurc, _cases(), rtol=1e-12, atol=1e-15,
                  name="aurc vs brute-force AURC")
    check_against(lambda s, e: detection_metrics(s, e).aurc, brute_force_aurc, _cases(), rtol=1e-12,
                  atol=1e-15, name="detection_metrics(...).aurc vs brute-force AURC")


def test_optimal_aurc_is_the_best_order():
    small = generated(lambda rng: (rng.random(int(rng.integers(1, 8))) < rng.uniform(0, 1),), n=60, seed=3)
    check_against(optimal_aurc, brute_force_optimal_aurc, small, rtol=1e-12, atol=1e-15,
                  name="optimal_aurc vs the best of every order")
