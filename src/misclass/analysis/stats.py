"""Generic statistical tests used by the analyses: chi-squared homogeneity, two-sample t-tests
and McNemar's test of paired binary outcomes.

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


@dataclass(frozen=True)
class McNemar:
    """McNemar's test of two paired binary outcomes (``a`` and ``b`` on the same images).

    ``b``: images where only the first is true; ``c``: only the second. ``p_exact`` is the
    two-sided exact binomial p; ``chi2`` / ``p_chi2`` the chi-squared version (continuity
    corrected when ``correction``); ``p_greater`` the one-sided exact p that the first is true
    more often. All p are 1 and chi2 is 0 when there is no discordant pair.
    """

    b: int
    c: int
    p_exact: float
    p_greater: float
    chi2: float
    p_chi2: float
    correction: bool

    def to_dict(self) -> dict:
        return {"b": self.b, "c": self.c, "p_exact": self.p_exact, "p_one_sided": self.p_greater,
                "chi2": self.chi2, "p_chi2": self.p_chi2, "continuity_correction": self.correction}


def mcnemar_test(first: np.ndarray, second: np.ndarray, *, correction: bool = True) -> McNemar:
    """McNemar's test of ``first`` against ``second`` (bool (N,), paired by image).

    ``b`` counts pairs where only ``first`` is true, ``c`` where only ``second`` is. The exact
    test is the two-sided binomial test of ``b`` in ``b + c`` trials at 1/2 (as
    ``scipy.stats.binomtest``); the chi-squared version is ``(|b - c| - 1)^2 / (b + c)`` with
    one degree of freedom (no -1 when ``correction=False``; 0 when ``b == c``, as R's
    ``mcnemar.test``).

    >>> t = mcnemar_test(np.array([1, 1, 1, 1, 0, 0], bool), np.array([0, 0, 0, 1, 0, 1], bool))
    >>> t.b, t.c, round(t.p_exact, 4), round(t.chi2, 4)
    (3, 1, 0.625, 0.25)
    """
    a = np.asarray(first, dtype=bool)
    s = np.asarray(second, dtype=bool)
    if a.shape != s.shape or a.ndim != 1:
        raise InputError(f"McNemar: paired outcomes of shapes {a.shape} and {s.shape}; expected two (N,)")
    b, c = int((a & ~s).sum()), int((~a & s).sum())
    n = b + c
    if n == 0:
        return McNemar(b, c, 1.0, 1.0, 0.0, 1.0, correction)
    lo = min(b, c)
    p_exact = float(min(1.0, 2 * _st.binom.cdf(lo, n, 0.5)))
    p_greater = float(_st.binom.sf(b - 1, n, 0.5))
    diff = abs(b - c) - (1 if correction else 0)
    chi2 = float(max(diff, 0) ** 2 / n)
    return McNemar(b, c, p_exact, p_greater, chi2, float(_st.chi2.sf(chi2, 1)), correction)
