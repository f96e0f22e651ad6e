"""Distribution shift: the same predictors on an original and a shifted test set.

Across models, shifted accuracy is close to a linear function of original accuracy once both
are put on logit axes (Recht et al. 2019; Taori et al. 2020). :func:`fit_shift` fits
``logit(shifted) = slope * logit(original) + intercept`` by least squares over the predictors of
kind "model" and reports, for every predictor (humans included), the accuracy the fit
predicts and its **effective robustness**: shifted accuracy minus that prediction (in accuracy
units; positive means more robust than models of the same original accuracy). The residual on
the logit axis is kept as ``residual_logit``.

Accuracies of exactly 0 or 1 have no logit; they are clipped to ``[0.5/n, 1 - 0.5/n]`` for the
``n`` images they were measured on.

>>> res = fit_shift(["a", "b", "c"], np.array([0.6, 0.7, 0.8]), np.array([0.5, 0.6, 0.7]),
...                 n_original=1000, n_shifted=1000)
>>> round(res.fit.slope, 3), res.table["drop"].round(3).tolist()
(0.862, [0.1, 0.1, 0.1])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from misclass.analysis.labels import MIN_IMAGES, ClassGroups, LinearFit, fit_line
from misclass.errors import InputError
from misclass.format import plural
from misclass.types import PREDICTOR_KINDS


def logit(p: np.ndarray, n: int | np.ndarray | None = None) -> np.ndarray:
    """``log(p / (1 - p))``; with ``n`` images, p is first clipped to ``[0.5/n, 1 - 0.5/n]``."""
    p = np.asarray(p, dtype=float)
    if n is not None:
        eps = 0.5 / np.maximum(np.asarray(n, dtype=float), 1.0)
        p = np.clip(p, eps, 1 - eps)
    with np.errstate(divide="ignore"):
        return np.log(p) - np.log1p(-p)


def expit(x: np.ndarray) -> np.ndarray:
    """Inverse of :func:`logit`."""
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=float)))


@dataclass(frozen=True)
class ShiftFit:
    """Accuracies on both test sets, the logit-axis fit and each predictor's effective robustness.

    ``table`` columns: ``name``, ``kind``, ``original``, ``shifted``, ``drop`` (original minus
    shifted), ``n_original``, ``n_shifted``, ``predicted`` (shifted accuracy the fit predicts),
    ``effective_robustness`` (shifted - predicted), ``residual_logit``. ``fit`` is None, and
    ``undefined`` says why, with fewer than two models of different accuracy or when either
    test set has fewer than :data:`~misclass.analysis.labels.MIN_IMAGES` images.
    """

    table: pd.DataFrame
    fit: LinearFit | None
    undefined: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"models": self.table.to_dict("records"),
                "fit": None if self.fit is None else self.fit.to_dict(),
                **({"undefined": self.undefined} if self.undefined else {})}


def fit_shift(names: Sequence[str], original: np.ndarray, shifted: np.ndarray, *,
              n_original: int | np.ndarray, n_shifted: int | np.ndarray,
              kinds: Sequence[str] | None = None) -> ShiftFit:
    """Fit shifted against original accuracy on logit axes over the models; residuals for all.

    Parameters
    ----------
    names : M predictor names
    original, shifted : (M,) accuracies in [0, 1] (NaN: not measured, left out of the fit)
    n_original, n_shifted : images each accuracy was measured on (scalar or (M,))
    kinds : M of "model" / "human"; only models are fitted (default: all models)
    """
    names = list(names)
    m = len(names)
    original = np.asarray(original, dtype=float)
    shifted = np.asarray(shifted, dtype=float)
    if original.shape != (m,) or shifted.shape != (m,):
        raise InputError(f"expected {m} original and shifted accuracies, "
                         f"got {original.shape} and {shifted.shape}")
    kinds = list(kinds) if kinds is not None else ["model"] * m
    if len(kinds) != m or any(k not in PREDICTOR_KINDS for k in kinds):
        raise InputError(f"kinds: expected {m} of {PREDICTOR_KINDS}, got {kinds}")
    n_o = np.broadcast_to(np.asarray(n_original), (m,))
    n_s = np.broadcast_to(np.asarray(n_shifted), (m,))
    x = logit(original, n_o)
    y = logit(shifted, n_s)
    is_model = np.array([k == "model" for k in kinds], dtype=bool)
    fewest = int(min(n_o.min(), n_s.min())) if m else 0
    if fewest < MIN_IMAGES:
        fit = None
        undefined = (f"no fit: accuracy measured on {plural(fewest, 'image')}; a fit needs at least "
                     f"{MIN_IMAGES} in each test set")
    else:
        fit = fit_line(x[is_model], y[is_model])
        undefined = "" if fit is not None else "no fit: it needs at least two models with different accuracy"
    if fit is not None:
        pred_logit = fit.predict(x)
        predicted = expit(pred_logit)
        residual = y - pred_logit
    else:
        predicted = residual = np.full(m, np.nan)
    table = pd.DataFrame({
        "name": names, "kind": kinds, "original": original, "shifted": shifted,
        "drop": original - shifted, "n_original": n_o.astype(np.int64), "n_shifted": n_s.astype(np.int64),
        "predicted": predicted, "effective_robustness": shifted - predicted, "residual_logit": residual,
    })
    return ShiftFit(table, fit, undefined)


@dataclass(frozen=True)
class ShiftAnalysis:
    """:class:`ShiftFit` over all images and per class group (``subsets``)."""

    overall: ShiftFit
    subsets: dict[str, ShiftFit] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = self.overall.to_dict()
        d["subsets"] = {g: s.to_dict() for g, s in self.subsets.items()}
        return d


def _accuracy(labels: np.ndarray, top1: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, int]:
    use = mask & (labels >= 0)
    n = int(use.sum())
    if n == 0:
        return np.full(top1.shape[1], np.nan), 0
    return (top1[use] == labels[use, None]).mean(axis=0), n


def analyze_shift(names: Sequence[str], labels_original: np.ndarray, top1_original: np.ndarray,
                  labels_shifted: np.ndarray, top1_shifted: np.ndarray, *,
                  groups: ClassGroups | None = None, kinds: Sequence[str] | None = None) -> ShiftAnalysis:
    """Top-1 accuracy of the same predictors on two test sets, fitted overall and per group.

    Parameters
    ----------
    names : M predictor names (columns of both ``top1`` arrays)
    labels_original : (N1,) int; top1_original : (N1, M) int
    labels_shifted : (N2,) int; top1_shifted : (N2, M) int
    groups : ClassGroups, optional
        Both test sets must share the class indices; an image is in the groups of its label.
    kinds : M of "model" / "human"
    """
    lo, ls = np.asarray(labels_original), np.asarray(labels_shifted)
    to, ts = np.asarray(top1_original), np.asarray(top1_shifted)
    m = len(names)
    if to.shape != (len(lo), m) or ts.shape != (len(ls), m):
        raise InputError(f"top1 arrays have shapes {to.shape} and {ts.shape}; expected (N, {m})")
    acc_o, n_o = _accuracy(lo, to, np.ones(len(lo), bool))
    acc_s, n_s = _accuracy(ls, ts, np.ones(len(ls), bool))
    if n_o == 0 or n_s == 0:
        which = "original" if n_o == 0 else "shifted"
        raise InputError(f"the {which} test set has no image with a known label")
    overall = fit_shift(names, acc_o, acc_s, n_original=n_o, n_shifted=n_s, kinds=kinds)
    subsets: dict[str, ShiftFit] = {}
    if groups is not None:
        for g, mo, ms in zip(groups.names, groups.image_masks(lo), groups.image_masks(ls), strict=True):
            ao, no = _accuracy(lo, to, mo)
            as_, ns = _accuracy(ls, ts, ms)
            subsets[g] = fit_shift(names, ao, as_, n_original=no, n_shifted=ns, kinds=kinds)
    return ShiftAnalysis(overall, subsets)
