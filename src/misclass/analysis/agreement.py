"""How well raters agree: pairwise agreement, Cohen's kappa, Fleiss' kappa. Pure functions.

Raters are reviewers (the review app) or models (error consistency in
:mod:`misclass.analysis.crossmodel`, the same kappa on right/wrong vectors).

One convention for every kappa in misclass: kappa = (p_o - p_e) / (1 - p_e), and it is
**undefined (NaN) when p_e = 1**, i.e. when every rating is one and the same value, even if the
raters agree throughout: chance alone explains that agreement, and 0/0 has no value. This is
scikit-learn's ``cohen_kappa_score`` convention. Views show NaN as "-" with that reason.

An *item* is one (image, candidate class); a *rating* is a reviewer's value for it
("correct", "wrong", "unclear", "unknown").

>>> a = ["correct", "wrong", "wrong", "correct"]
>>> b = ["correct", "wrong", "correct", "correct"]
>>> round(pairwise_agreement(a, b), 3), round(cohen_kappa(a, b), 3)
(0.75, 0.5)
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd

from misclass.errors import InputError


def _pair(a: Sequence, b: Sequence) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, dtype=object), np.asarray(b, dtype=object)
    if a.shape != b.shape or a.ndim != 1:
        raise InputError(f"ratings have shapes {a.shape} and {b.shape}; expected two equal (n,)")
    return a, b


def pairwise_agreement(a: Sequence, b: Sequence) -> float:
    """Share of items two raters gave the same value (NaN for no items)."""
    a, b = _pair(a, b)
    return float((a == b).mean()) if len(a) else float("nan")


def cohen_kappa(a: Sequence, b: Sequence) -> float:
    """Cohen's kappa of two raters: (p_o - p_e) / (1 - p_e).

    NaN when p_e = 1 (both raters use one and the same value throughout; see the module's
    convention) and for no items.

    >>> import math; math.isnan(cohen_kappa(["x", "x"], ["x", "x"]))
    True
    """
    a, b = _pair(a, b)
    if not len(a):
        return float("nan")
    cats = sorted(set(a.tolist()) | set(b.tolist()), key=str)
    p_o = float((a == b).mean())
    p_e = sum(float((a == c).mean()) * float((b == c).mean()) for c in cats)
    if p_e >= 1.0:
        return float("nan")
    return (p_o - p_e) / (1.0 - p_e)


def fleiss_kappa(counts: np.ndarray) -> float:
    """Fleiss' kappa from ``counts (n_items, n_categories)``: raters per category per item.

    Every item needs the same number of raters (at least 2). NaN when p_e = 1 (one value
    throughout), as for :func:`cohen_kappa`.
    """
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 2 or counts.shape[0] == 0:
        raise InputError(f"counts has shape {counts.shape}; expected (n_items, n_categories)")
    n = counts.sum(axis=1)
    if not np.all(n == n[0]) or n[0] < 2:
        raise InputError("Fleiss' kappa needs the same number (>= 2) of raters for every item")
    r = n[0]
    p_i = ((counts * (counts - 1)).sum(axis=1)) / (r * (r - 1))
    p_bar = p_i.mean()
    p_j = counts.sum(axis=0) / counts.sum()
    p_e = float((p_j ** 2).sum())
    if p_e >= 1.0:
        return float("nan")
    return float((p_bar - p_e) / (1.0 - p_e))


@dataclass(frozen=True)
class AgreementStats:
    """Agreement between reviewers.

    Attributes
    ----------
    pairs : DataFrame
        One row per pair of raters: ``a``, ``b``, ``n`` (items both rated), ``agreement``,
        ``kappa`` (Cohen).
    fleiss : float
        Fleiss' kappa over the items rated by ``fleiss_raters`` raters (the most common count
        of at least 2); NaN when no item has two raters.
    fleiss_items : int
    fleiss_raters : int
    n_items : int
        Items rated by anyone.
    """

    pairs: pd.DataFrame
    fleiss: float
    fleiss_items: int
    fleiss_raters: int
    n_items: int

    def to_dict(self) -> dict:
        return {"pairs": self.pairs.to_dict(orient="records"), "fleiss": self.fleiss,
                "fleiss_items": self.fleiss_items, "fleiss_raters": self.fleiss_raters,
                "n_items": self.n_items}


def reviewer_agreement(items: Sequence[Hashable], raters: Sequence[Hashable],
                       values: Sequence[str]) -> AgreementStats:
    """Agreement statistics from ratings ``(item, rater, value)``, one per item and rater."""
    df = pd.DataFrame({"item": list(items), "rater": list(raters), "value": list(values)})
    if df.duplicated(["item", "rater"]).any():
        row = df[df.duplicated(["item", "rater"])].iloc[0]
        raise InputError(f"rater {row.rater!r} rated item {row.item!r} twice")
    wide = df.pivot(index="item", columns="rater", values="value") if len(df) else pd.DataFrame()
    rows = []
    for a, b in combinations(sorted(wide.columns, key=str), 2):
        both = wide[[a, b]].dropna()
        rows.append({"a": a, "b": b, "n": len(both),
                     "agreement": pairwise_agreement(both[a], both[b]),
                     "kappa": cohen_kappa(both[a], both[b])})
    pairs = pd.DataFrame(rows, columns=["a", "b", "n", "agreement", "kappa"])
    n_raters = wide.notna().sum(axis=1) if len(wide) else pd.Series(dtype=int)
    multi = n_raters[n_raters >= 2]
    if len(multi):
        r = int(multi.value_counts().idxmax())
        sub = wide.loc[n_raters[n_raters == r].index]
        cats = sorted(pd.unique(df["value"]), key=str)
        counts = np.stack([(sub == c).sum(axis=1).to_numpy() for c in cats], axis=1)
        fk, n_f = fleiss_kappa(counts), len(sub)
    else:
        fk, n_f, r = float("nan"), 0, 0
    return AgreementStats(pairs, fk, n_f, r, int(len(wide)))
