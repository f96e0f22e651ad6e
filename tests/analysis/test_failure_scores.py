"""Failure scores (misclass.analysis.failure_scores) against independent references:
energy against scipy's logsumexp, Mahalanobis against scikit-learn's covariance estimators."""

from __future__ import annotations

import numpy as np
import pytest
from _reference import check_against, generated, mahalanobis_to_predicted_class
from scipy.special import logsumexp

from misclass.analysis.failure_scores import ScoreInputs, compute_scores

NO_FIT = np.array([], dtype=int)


# ----------------------------------------------------------------------------- energy
def _energy(logits: np.ndarray, apply: np.ndarray) -> np.ndarray:
    x = ScoreInputs(top1=np.asarray(logits).argmax(axis=1), labels=np.zeros(len(logits), int), logits=logits)
    values, skipped = compute_scores(x, NO_FIT, apply, ["energy"])
    assert not skipped, skipped
    return values["energy"]


def _minus_logsumexp(logits: np.ndarray, apply: np.ndarray) -> np.ndarray:
    """Energy (Liu et al., 2020) at temperature 1 is -logsumexp(logits); higher = less
    confident = more likely wrong, misclass's sign for every failure score."""
    return -logsumexp(np.asarray(logits, dtype=np.float64)[apply], axis=1)


def _logits(rng: np.random.Generator, scale: float, shift: float, dtype) -> tuple[np.ndarray, np.ndarray]:
    n, c = int(rng.integers(1, 40)), int(rng.integers(2, 300))
    z = (shift + scale * rng.standard_normal((n, c))).astype(dtype)
    apply = rng.permutation(n)[: int(rng.integers(1, n + 1))]  # a subset, in any order
    return z, apply


def _energy_cases():
    for scale, shift, dtype, kind in [
        (1.0, 0.0, np.float64, "ordinary"),
        (0.01, 0.0, np.float64, "near-uniform"),
        (1.0, 0.0, np.float32, "float32 logits"),
        (3.0, 0.0, np.float16, "float16 logits"),
        (1.0, 1e4, np.float64, "large offset: spread of 1 on 1e4, lost in float32"),
        (1e3, 0.0, np.float64, "large: exp overflows"),
        (1e5, 0.0, np.float64, "very large"),
        (1.0, -1e4, np.float64, "large negative: exp underflows"),
    ]:
        yield from generated(lambda rng, a=scale, b=shift, t=dtype: _logits(rng, a, b, t), n=15,
                             seed=5, kind=kind)
    yield "one dominant logit", (np.array([[800.0, 0.0, 0.0], [0.0, 0.0, 0.0]]), np.array([0, 1]))
    yield "equal huge logits", (np.full((1, 4), 1e300), np.array([0]))


def test_energy_is_minus_logsumexp():
    check_against(_energy, _minus_logsumexp, _energy_cases(), rtol=1e-13, atol=1e-13,
                  name="energy vs -scipy.special.logsumexp")


def test_energy_ranks_confident_images_lower():
    z = np.array([[10.0, 0.0, 0.0], [1.0, 0.0, 0.0]])  # the first image is the confident one
    e = _energy(z, np.arange(2))
    assert e[0] < e[1] and np.isfinite(e).all()


# ------------------------------------------------------------------------ mahalanobis
def _mahalanobis(features, labels, top1, fit, apply) -> np.ndarray:
    x = ScoreInputs(top1=top1, labels=labels, features=features)
    values, skipped = compute_scores(x, fit, apply, ["mahalanobis"])
    assert not skipped, skipped
    return values["mahalanobis"]


def _features(rng: np.random.Generator, n_fit: int, dim: int, dtype=np.float64):
    """Classes with different means and different covariances (so a per-class covariance
    differs from the shared one); predictions that are often neither the label nor the
    nearest class; one predicted class with no calibration image; unknown labels (-1) only
    outside the calibration set, as the failure workflow chooses it."""
    c = int(rng.integers(2, 6))
    n = n_fit + int(rng.integers(5, 60))
    labels = rng.integers(0, c, n)
    labels[:c] = np.arange(c)  # every class among the calibration images
    mix = {k: rng.standard_normal((dim, dim)) * rng.uniform(0.3, 2.0) for k in range(c)}
    centre = {k: rng.standard_normal(dim) * 3 for k in range(c)}
    f = np.stack([centre[k] + rng.standard_normal(dim) @ mix[k] for k in labels]).astype(dtype)
    top1 = np.where(rng.random(n) < 0.6, labels, rng.integers(0, c + 1, n))  # class c: never calibrated
    fit = rng.permutation(np.arange(c, n))[: n_fit - c]
    fit = np.sort(np.concatenate([np.arange(c), fit]))
    rest = np.setdiff1d(np.arange(n), fit)
    labels[rest[rng.random(len(rest)) < 0.2]] = -1
    apply = rng.permutation(n)[: int(rng.integers(1, n + 1))]  # calibration images may be scored too
    return f, labels, top1, fit, apply


def _mahalanobis_cases():
    yield from generated(lambda rng: _features(rng, int(rng.integers(12, 40)), int(rng.integers(2, 9))),
                         n=40, seed=6, kind="few calibration images: strong shrinkage")
    yield from generated(lambda rng: _features(rng, 300, int(rng.integers(2, 6))), n=20, seed=7,
                         kind="many calibration images")
    yield from generated(lambda rng: _features(rng, 100, 4, np.float32), n=10, seed=8, kind="float32")


def test_mahalanobis_against_ledoit_wolf_shared_covariance():
    """misclass's definition: squared distance to the predicted class's calibration mean under
    the pooled within-class covariance, Ledoit-Wolf shrunk."""
    check_against(_mahalanobis, mahalanobis_to_predicted_class, _mahalanobis_cases(), rtol=1e-7, atol=1e-9,
                  name="mahalanobis vs sklearn ShrunkCovariance(Ledoit-Wolf) of class-centred features")


def test_mahalanobis_near_the_unshrunk_empirical_covariance_with_many_images():
    """With many calibration images per dimension the Ledoit-Wolf shrinkage vanishes and the
    score approaches Lee et al.'s, with EmpiricalCovariance of the class-centred features."""
    def empirical(*case):
        return mahalanobis_to_predicted_class(*case, shrinkage=None)

    cases = generated(lambda rng: _features(rng, 20000, 3), n=4, seed=9, kind="20000 calibration images")
    check_against(_mahalanobis, empirical, cases, rtol=1e-2, atol=1e-6,
                  name="mahalanobis vs sklearn EmpiricalCovariance of class-centred features")


@pytest.mark.parametrize("dim", [1, 3])
def test_mahalanobis_is_zero_at_the_class_mean_and_grows_away(dim):
    rng = np.random.default_rng(dim)
    f = rng.standard_normal((50, dim))
    labels = np.zeros(50, int)
    query = np.vstack([f.mean(axis=0), f.mean(axis=0) + 1.0, f.mean(axis=0) + 3.0])
    x = np.vstack([f, query])
    d = _mahalanobis(x, np.concatenate([labels, [0, 0, 0]]), np.zeros(53, int), np.arange(50),
                     np.arange(50, 53))
    assert d[0] == pytest.approx(0.0, abs=1e-12) and d[0] < d[1] < d[2]
