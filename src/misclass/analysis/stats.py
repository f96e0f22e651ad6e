"""Generic statistical tests used by the analyses: chi-squared homogeneity and two-sample t-tests.

Each returns a frozen dataclass with ``to_dict()``. The numbers equal SciPy's
(``scipy.stats.chi2_contingency`` with its defaults, ``scipy.stats.ttest_ind``); SciPy is used
only for the distribution tails.

>>> t = ttest_two_sample([1.0, 2.0, 3.0], [2.0, 4.0, 6.0], equal_var=True)
>>> round(t.statistic, 4), t.dof
(-1.5492, 4.0)
>>> chi2_homogeneity([[10, 20], [20, 10]]).dof
1
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as _st

from misclass.errors import InputError


@dataclass(frozen=True)
class ChiSquared:
    """A chi-squared test of homogeneity on an (R, K) contingency table.

    ``statistic``, ``dof`` and ``p`` are those of ``scipy.stats.chi2_contingency(table)``
    (Yates' continuity correction when ``dof == 1``); ``expected`` holds the expected counts.
    """

    statistic: float
    dof: int
    p: float
    expected: np.ndarray
    corrected: bool

    def to_dict(self) -> dict:
        return {"chi2": self.statistic, "dof": self.dof, "p": self.p, "yates_correction": self.corrected}


@dataclass(frozen=True)
class TTest:
    """A two-sample t-test: ``statistic`` (mean of a minus mean of b, standardised), its degrees
    of freedom and two-sided ``p``. NaN with ``undefined`` saying why when a group has too few
    values or neither group varies.
    """

    statistic: float
    dof: float
    p: float
    equal_var: bool
    undefined: str = ""

    def to_dict(self) -> dict:
        return {"t": self.statistic, "dof": self.dof, "p": self.p,
                "test": "pooled-variance" if self.equal_var else "welch",
                "undefined": self.undefined or None}


def chi2_homogeneity(table: np.ndarray, *, correction: bool = True) -> ChiSquared:
    """Chi-squared test that the rows of ``table`` share one distribution over its columns.

    Parameters
    ----------
    table : (R, K) array of non-negative counts
        Every row and column needs a positive total (drop empty ones first).
    correction : bool
        Apply Yates' continuity correction when the test has one degree of freedom, as SciPy
        does by default.

    Returns
    -------
    ChiSquared
    """
    obs = np.asarray(table, dtype=np.float64)
    if obs.ndim != 2 or obs.shape[0] < 1 or obs.shape[1] < 1:
        raise InputError(f"chi-squared test: expected a 2-d table of counts, got shape {obs.shape}")
    if not np.isfinite(obs).all() or (obs < 0).any():
        raise InputError("chi-squared test: counts must be finite and non-negative")
    rows, cols = obs.sum(axis=1), obs.sum(axis=0)
    if (rows == 0).any() or (cols == 0).any():
        raise InputError("chi-squared test: a row or column of the table sums to zero; drop it first")
    expected = np.outer(rows, cols) / obs.sum()
    dof = (obs.shape[0] - 1) * (obs.shape[1] - 1)
    if dof == 0:
        return ChiSquared(0.0, 0, 1.0, expected, False)
    corrected = dof == 1 and correction
    if corrected:
        diff = expected - obs
        obs = obs + np.minimum(0.5, np.abs(diff)) * np.sign(diff)
    statistic = float(((obs - expected) ** 2 / expected).sum())
    return ChiSquared(statistic, dof, float(_st.chi2.sf(statistic, dof)), expected, corrected)


def ttest_two_sample(a, b, *, equal_var: bool) -> TTest:
    """Two-sided two-sample t-test of mean(a) == mean(b).

    ``equal_var=True`` is Student's test with the pooled variance; ``False`` is Welch's test
    with Welch-Satterthwaite degrees of freedom. Equal to ``scipy.stats.ttest_ind(a, b,
    equal_var=...)``. NaN values are an error (remove them first).
    """
    x = np.asarray(a, dtype=np.float64).ravel()
    y = np.asarray(b, dtype=np.float64).ravel()
    if np.isnan(x).any() or np.isnan(y).any():
        raise InputError("t-test: the samples contain NaN; remove unknown values first")
    na, nb = len(x), len(y)
    if na < 2 or nb < 2:
        return TTest(np.nan, np.nan, np.nan, equal_var,
                     f"needs at least 2 values per group (got {na} and {nb})")
    va, vb = x.var(ddof=1), y.var(ddof=1)
    diff = x.mean() - y.mean()
    if equal_var:
        dof = float(na + nb - 2)
        pooled = ((na - 1) * va + (nb - 1) * vb) / dof
        se2 = pooled * (1 / na + 1 / nb)
    else:
        qa, qb = va / na, vb / nb
        se2 = qa + qb
        # Welch-Satterthwaite, written with shares of se2 so that tiny variances do not underflow
        dof = float(1 / ((qa / se2) ** 2 / (na - 1) + (qb / se2) ** 2 / (nb - 1))) if se2 > 0 else np.nan
    if se2 == 0:
        return TTest(np.nan, dof, np.nan, equal_var, "neither group varies")
    t = float(diff / np.sqrt(se2))
    return TTest(t, dof, float(2 * _st.t.sf(abs(t), dof)), equal_var)
