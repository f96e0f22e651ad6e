import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from misclass.analysis.stats import chi2_homogeneity, ttest_two_sample
from misclass.errors import InputError


@pytest.mark.parametrize("table", [
    [[3, 2, 1], [2, 2, 1]],
    [[10, 20], [20, 10]],          # one degree of freedom: Yates' correction
    [[10, 10], [10, 10]],          # observed == expected under correction
    [[5, 0, 7, 1], [2, 9, 3, 4], [8, 8, 1, 1]],
    [[7, 3, 9]],                   # one row: zero degrees of freedom
])
def test_chi2_equals_scipy(table):
    ours = chi2_homogeneity(table)
    ref = stats.chi2_contingency(np.array(table))
    assert ours.statistic == pytest.approx(ref.statistic, rel=1e-12, abs=1e-12)
    assert ours.dof == ref.dof
    assert ours.p == pytest.approx(ref.pvalue, rel=1e-10, abs=1e-15)
    np.testing.assert_allclose(ours.expected, ref.expected_freq)


def test_chi2_without_correction_equals_scipy():
    table = np.array([[10, 20], [20, 10]])
    ours = chi2_homogeneity(table, correction=False)
    ref = stats.chi2_contingency(table, correction=False)
    assert ours.statistic == pytest.approx(ref.statistic) and not ours.corrected
    # hand: expected 15 everywhere, chi2 = 4 * 25 / 15
    assert ours.statistic == pytest.approx(100 / 15)


@settings(max_examples=50, deadline=None)
@given(st.integers(2, 5), st.integers(2, 6), st.data())
def test_chi2_property_against_scipy(rows, cols, data):
    table = np.array(data.draw(st.lists(st.integers(1, 60), min_size=rows * cols, max_size=rows * cols)))
    table = table.reshape(rows, cols)
    ours, ref = chi2_homogeneity(table), stats.chi2_contingency(table)
    assert ours.statistic == pytest.approx(ref.statistic, rel=1e-9, abs=1e-12)
    assert ours.p == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-15)


def test_chi2_rejects_empty_rows_and_bad_counts():
    with pytest.raises(InputError, match="sums to zero"):
        chi2_homogeneity([[1, 0], [2, 0]])
    with pytest.raises(InputError, match="non-negative"):
        chi2_homogeneity([[1, -1], [2, 3]])


# Values below 1e-30 in magnitude (other than 0) are left out: variances near 1e-180 make
# SciPy's Welch degrees of freedom underflow to 0/0, which it replaces by 1 (see the next test).
_value = st.floats(-5, 5, allow_nan=False).filter(lambda v: v == 0 or abs(v) > 1e-30)


@pytest.mark.filterwarnings("ignore:Precision loss occurred")
@settings(max_examples=60, deadline=None)
@given(st.lists(_value, min_size=2, max_size=30), st.lists(_value, min_size=2, max_size=30))
def test_ttests_equal_scipy(a, b):
    for equal_var in (True, False):
        ours = ttest_two_sample(a, b, equal_var=equal_var)
        ref = stats.ttest_ind(a, b, equal_var=equal_var)
        if np.isnan(ref.statistic) or not np.isfinite(ref.statistic) or np.isnan(ours.statistic):
            # constant samples: SciPy gives nan or +-inf, we say why it is undefined
            assert np.isnan(ours.statistic) == bool(ours.undefined)
            continue
        assert ours.statistic == pytest.approx(ref.statistic, rel=1e-7, abs=1e-9)
        assert ours.p == pytest.approx(ref.pvalue, rel=1e-6, abs=1e-12)
        assert ours.dof == pytest.approx(ref.df, rel=1e-9)


def test_welch_dof_does_not_underflow():
    """One constant group: Welch's dof is the other group's n - 1, however small its variance."""
    w = ttest_two_sample([0.0, 0.0], [0.0, 0.0, 3.4e-91], equal_var=False)
    assert w.dof == pytest.approx(2.0)
    assert w.p == pytest.approx(2 * stats.t.sf(abs(w.statistic), 2))


def test_ttest_hand_computed():
    # a: mean 2, var 1; b: mean 4, var 4; pooled var 2.5, se^2 = 2.5 * 2/3
    t = ttest_two_sample([1, 2, 3], [2, 4, 6], equal_var=True)
    assert t.statistic == pytest.approx(-2 / np.sqrt(2.5 * 2 / 3)) and t.dof == 4
    w = ttest_two_sample([1, 2, 3], [2, 4, 6], equal_var=False)
    se2 = 1 / 3 + 4 / 3
    assert w.statistic == pytest.approx(-2 / np.sqrt(se2))
    assert w.dof == pytest.approx(se2**2 / ((1 / 3) ** 2 / 2 + (4 / 3) ** 2 / 2))


def test_ttest_undefined_cases():
    assert ttest_two_sample([1.0], [1.0, 2.0], equal_var=True).undefined.startswith("needs at least 2")
    flat = ttest_two_sample([1.0, 1.0], [1.0, 1.0], equal_var=False)
    assert np.isnan(flat.statistic) and flat.undefined == "neither group varies"
    assert flat.to_dict()["t"] != flat.to_dict()["t"]  # NaN until the JSON writer cleans it
    with pytest.raises(InputError, match="NaN"):
        ttest_two_sample([1.0, np.nan], [1.0, 2.0], equal_var=True)
