"""Right/wrong patterns of few models (misclass.analysis.patterns) against direct
computations, and compare_models on patterns against the same on bit sets."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from misclass.analysis import class_corrections as cc_mod
from misclass.analysis import patterns
from misclass.analysis.crossmodel import compare_models
from misclass.analysis.shared_failures import failure_rows


@pytest.mark.parametrize("dtype", [np.int8, np.uint16, np.int32, np.int64])
@pytest.mark.parametrize("m", [1, 3, 7, 8, 9, 12, 16])
def test_pattern_codes_match_the_bits(m, dtype):
    rng = np.random.default_rng(m)
    n = 257  # not a multiple of 8: the last row's word reads into the slack
    labels = rng.integers(0, 100, n)
    top1 = np.where(rng.random((n, m)) < 0.6, labels[:, None], rng.integers(0, 100, (n, m))).astype(dtype)
    want = [sum(1 << j for j in range(m) if top1[i, j] == labels[i]) for i in range(n)]
    for little_endian in (True, False):  # the word trick and the plain weighted sum
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(patterns, "_LITTLE_ENDIAN", little_endian)
            correct, code = patterns.pattern_codes(top1, labels)
        assert correct.dtype == bool and correct.tolist() == (top1 == labels[:, None]).tolist()
        assert code.dtype == np.uint16 and code.tolist() == want


def test_pattern_codes_compare_labels_outside_the_top1_type():
    """A label that does not fit top1's integer type is never equal to a prediction (no
    wrap-around: 300 must not match 44 in int8)."""
    top1 = np.array([[44, 1], [2, 2]], dtype=np.int8)
    correct, code = patterns.pattern_codes(top1, np.array([300, 2]))
    assert correct.tolist() == [[False, False], [True, True]] and code.tolist() == [0, 3]
    assert patterns.pattern_codes(np.zeros((0, 3), np.int32), np.zeros(0, np.int64))[1].tolist() == []
    with pytest.raises(ValueError, match="16 models"):
        patterns.pattern_codes(np.zeros((2, 17), np.int32), np.zeros(2, np.int64))


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 8), st.integers(0, 2**32 - 1))
def test_histogram_counts_match_brute_force(m, seed):
    rng = np.random.default_rng(seed)
    correct = rng.random((rng.integers(1, 60), m)) < rng.uniform(0.1, 0.9, m)
    code = (correct * (1 << np.arange(m))).sum(axis=1)
    hist = np.bincount(code, minlength=1 << m)
    assert patterns.pattern_gram(hist, m).tolist() == (correct.T.astype(int) @ correct).tolist()
    sums = patterns.subset_sums(hist, m)
    for size in range(1, m + 1):
        for combo in itertools.combinations(range(m), size):
            mask = sum(1 << j for j in combo)
            want = int((~correct[:, list(combo)]).all(axis=1).sum())
            assert patterns.missed_counts(sums, [mask], m).tolist() == [want]
    assert patterns.right_counts(m)[code].tolist() == correct.sum(axis=1).tolist()
    got = patterns.pattern_failure_rows(code.astype(np.uint16), m)
    want = failure_rows(correct, correct.sum(axis=1))
    assert [g.tolist() for g in got] == [w.tolist() for w in want]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=1, max_size=40), st.integers(0, 6), st.integers(1, 4))
def test_top_classes_equal_a_stable_sort(values, top, m):
    """The partial sort picks the same classes, in the same order, as a stable full sort
    (ties: the lower class first)."""
    counts = np.resize(np.asarray(values, dtype=np.int64), (len(values), m))
    counts = counts * np.arange(1, m + 1)
    want = np.argsort(-counts, axis=0, kind="stable")[:top]
    assert cc_mod._top_classes(counts, top).tolist() == want.tolist()


def _compare(labels, top1, c, **kw):
    models = [f"m{j}" for j in range(top1.shape[1])]
    res = compare_models(labels, top1, models=models, class_names=[f"c{i}" for i in range(c)], k=4,
                         ensembles=False, **kw)
    return json.dumps(res.to_dict(), sort_keys=True)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 9), st.integers(1, 7), st.integers(0, 2**32 - 1), st.booleans())
def test_compare_models_on_patterns_equals_bit_sets(m, c, seed, small_list):
    """Every number compare_models reports is the same whether it counts on the pattern
    histogram (few models) or on bit sets (the path for many models): pairs, every listed
    combination, best combinations (branch and bound when the list limit is small), greedy
    curve, per-class tables, images all / exactly one model miss."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 120))
    labels = rng.integers(-1, c, n)
    labels[0] = 0
    right = rng.random((n, m)) < rng.uniform(0.2, 0.95, m)
    top1 = np.where(right, labels[:, None], rng.integers(0, c, (n, m)))
    kw = {"list_limit": 3} if small_list else {}
    on_patterns = _compare(labels, top1, c, **kw)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(patterns, "MAX_CLASS_CELLS", 0)  # per-class sums by the general path
        on_patterns_general_classes = _compare(labels, top1, c, **kw)
        mp.setattr(patterns, "MAX_PATTERN_MODELS", 0)
        on_bits = _compare(labels, top1, c, **kw)
    assert on_patterns == on_bits
    assert on_patterns_general_classes == on_bits
