"""Which annotated factors of variation raise a predictor's errors (ImageNet-X style).

For predictor ``m`` and factor ``f`` (e.g. ``pose``, ``background``), the **error ratio** is the
error rate on the images annotated with ``f`` divided by the error rate on all annotated images
(Idrissi et al. 2022, ImageNet-X). A ratio above 1 means the factor makes errors more likely.

>>> correct = np.array([[True], [False], [True], [False]])
>>> factors = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], dtype=bool)
>>> res = factor_error_ratios(correct, factors, models=["m"], factor_names=["pose", "color"])
>>> res.overall_error.tolist(), res.error_ratio.tolist()
([0.5], [[1.0, 1.0]])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from misclass.errors import InputError


@dataclass(frozen=True)
class FactorErrors:
    """Error rates and error ratios of M predictors on F factors.

    Attributes
    ----------
    models : M names; kinds : M of "model" / "human"
    factors : F factor names
    error_rate : (M, F) float, error on the images with each factor (NaN: no such image)
    error_ratio : (M, F) float, ``error_rate / overall_error`` (NaN when either is undefined or
        the overall error is 0)
    overall_error : (M,) float, error on all the annotated images
    n_images : (F,) int, annotated images with each factor
    n_annotated : int, images the ratios are computed on
    """

    models: tuple[str, ...]
    kinds: tuple[str, ...]
    factors: tuple[str, ...]
    error_rate: np.ndarray
    error_ratio: np.ndarray
    overall_error: np.ndarray
    n_images: np.ndarray
    n_annotated: int

    def ratio_frame(self) -> pd.DataFrame:
        """Models x factors error ratios."""
        return pd.DataFrame(self.error_ratio, index=list(self.models), columns=list(self.factors))

    def top_factors(self, k: int = 3) -> dict[str, list[tuple[str, float]]]:
        """Per predictor, the ``k`` factors with the highest error ratio above 1, highest first."""
        out = {}
        for i, name in enumerate(self.models):
            r = self.error_ratio[i]
            order = [j for j in np.argsort(-np.nan_to_num(r, nan=-np.inf)) if np.isfinite(r[j]) and r[j] > 1]
            out[name] = [(self.factors[j], float(r[j])) for j in order[:k]]
        return out

    def to_dict(self, k: int = 3) -> dict[str, Any]:
        top = self.top_factors(k)
        return {
            "factors": list(self.factors),
            "n_annotated": self.n_annotated,
            "n_images": dict(zip(self.factors, self.n_images.tolist(), strict=True)),
            "models": [
                {"name": n, "kind": kd, "error": float(self.overall_error[i]),
                 "error_ratio": dict(zip(self.factors, self.error_ratio[i].tolist(), strict=True)),
                 "error_rate": dict(zip(self.factors, self.error_rate[i].tolist(), strict=True)),
                 "top_factors": [{"factor": f, "ratio": r} for f, r in top[n]]}
                for i, (n, kd) in enumerate(zip(self.models, self.kinds, strict=True))
            ],
        }


def factor_error_ratios(correct: np.ndarray, factors: np.ndarray, *, models: Sequence[str],
                        factor_names: Sequence[str], kinds: Sequence[str] | None = None) -> FactorErrors:
    """Error ratio of each factor for each predictor, over the annotated images given.

    Parameters
    ----------
    correct : (N, M) bool, whether each predictor is right on each annotated image
    factors : (N, F) bool, which factors each image is annotated with
    models : M names; factor_names : F names
    kinds : M of "model" / "human" (default: all "model")
    """
    correct = np.asarray(correct, dtype=bool)
    factors = np.asarray(factors, dtype=bool)
    if correct.ndim != 2 or factors.ndim != 2 or len(correct) != len(factors):
        raise InputError(f"correct {correct.shape} and factors {factors.shape}: expected (N, M) and (N, F)")
    if correct.shape[1] != len(models) or factors.shape[1] != len(factor_names):
        raise InputError(f"{len(models)} model names for {correct.shape[1]} columns, "
                         f"{len(factor_names)} factor names for {factors.shape[1]} columns")
    n = len(correct)
    errors = (~correct).astype(np.float64)
    n_images = factors.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        overall = errors.mean(axis=0) if n else np.full(correct.shape[1], np.nan)
        rate = (errors.T @ factors.astype(np.float64)) / n_images  # (M, F)
        ratio = np.where(overall[:, None] > 0, rate / overall[:, None], np.nan)
    kinds = tuple(kinds) if kinds is not None else ("model",) * len(models)
    return FactorErrors(tuple(models), kinds, tuple(factor_names), rate, ratio, overall,
                        n_images.astype(np.int64), n)
