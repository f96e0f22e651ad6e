"""Pure functions of the review app: selections, progress, candidates, aggregation, agreement."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score

from misclass.analysis.agreement import cohen_kappa, fleiss_kappa, pairwise_agreement, reviewer_agreement
from misclass.errors import InputError
from misclass.review.aggregate import aggregate_decisions, find_disagreements
from misclass.review.candidates import candidate_labels
from misclass.review.selection import (
    select_all_miss,
    select_class_pair,
    select_disagreement,
    select_ids,
    select_random,
    task_progress,
)

LABELS = np.array([0, 0, 1, 1, 2, 2])
TOP1 = np.array([[0, 0], [1, 0], [0, 0], [1, 1], [2, 1], [0, 1]])


def test_selections_by_hand():
    assert select_disagreement(TOP1).tolist() == [1, 4, 5]
    assert select_all_miss(LABELS, TOP1).tolist() == [2, 5]
    # class 0 vs 1: labeled 0 predicted 1 (row 1) or labeled 1 predicted 0 (row 2)
    assert select_class_pair(LABELS, TOP1, 0, 1).tolist() == [1, 2]
    assert select_class_pair(LABELS, TOP1, 1, 2).tolist() == [4, 5]
    r = select_random(100, 10, seed=3)
    assert len(r) == 10 and len(set(r.tolist())) == 10 and (np.diff(r) > 0).all()
    assert r.tolist() == select_random(100, 10, seed=3).tolist()
    assert select_random(5, 10).tolist() == [0, 1, 2, 3, 4]
    assert select_ids(["a", "b", "c"], [("f: line 1", "c"), ("f: line 2", "a")]).tolist() == [2, 0]


def test_selection_bad_input():
    with pytest.raises(InputError, match="line 2: sample id 'zz' is not in the store"):
        select_ids(["a"], [("f: line 1", "a"), ("f: line 2", "zz")])
    with pytest.raises(InputError, match="already listed at f: line 1"):
        select_ids(["a"], [("f: line 1", "a"), ("f: line 3", "a")])
    with pytest.raises(InputError, match="two different classes"):
        select_class_pair(LABELS, TOP1, 1, 1)
    with pytest.raises(InputError, match="size 0"):
        select_random(5, 0)


def test_progress_text_matches_the_issue():
    done = np.zeros(236, dtype=bool)
    done[:100] = True
    p = task_progress(done)
    assert p.text == "Completed 100 of 236 images (10 of 24 parts)"
    assert p.next_position == 100
    done[105] = True  # a lone image does not finish part 11
    assert task_progress(done).parts_done == 10
    assert task_progress(np.ones(3, dtype=bool)).text == "Completed 3 of 3 images (1 of 1 parts)"
    assert task_progress(np.ones(3, dtype=bool)).next_position is None


def test_candidates_union_counts_and_order():
    topk = np.array([[3, 1, 0, 4, 5], [3, 2, 0, 4, 5], [1, 3, 0, 4, 5]])
    c = candidate_labels(topk, label=2, names=["a", "b", "c", "d", "e", "f"],
                         descriptions=["", "", "", "the d", "", ""])
    assert [(x.index, x.n_top1, x.n_topk, x.is_label) for x in c] == [(3, 2, 3, False), (1, 1, 2, False),
                                                                      (2, 0, 1, True)]
    assert c[0].name == "d" and c[0].description == "the d"
    assert {x.index for x in candidate_labels(topk, label=2, top5=True)} == {0, 1, 2, 3, 4, 5}
    assert [x.index for x in candidate_labels(np.array([[-1]]), label=-1)] == []


def test_aggregate_majority_flags_and_reasons():
    out = aggregate_decisions(
        4, samples=[0, 0, 0, 0, 1, 1], classes=[5, 5, 5, 6, 2, 3],
        reviewers=["a", "b", "c", "a", "a", "a"],
        values=["correct", "correct", "wrong", "unclear", "wrong", "unknown"],
        flags=[(1, "b", True, "two objects"), (2, "a", False, ""), (3, "a", True, "")])
    assert out.sets == [[5], [], None, []]
    assert out.problematic.tolist() == [False, True, False, True]
    assert out.reasons[1] == "two objects"
    assert out.reviewers.tolist() == [3, 2, 0, 1]
    sets = out.label_sets()
    assert sets.set_of(0) == [5] and sets.has_set.tolist() == [True, True, False, True]
    # a tie is not enough
    tie = aggregate_decisions(1, [0, 0], [1, 1], ["a", "b"], ["correct", "wrong"])
    assert tie.sets == [[]]
    with pytest.raises(InputError, match="value 'maybe'"):
        aggregate_decisions(1, [0], [1], ["a"], ["maybe"])
    with pytest.raises(InputError, match="sample index 3"):
        aggregate_decisions(1, [3], [1], ["a"], ["correct"])


def test_disagreements_ignore_dont_know():
    got = find_disagreements([0, 0, 1, 1, 2, 2], [1, 1, 1, 1, 4, 4], ["a", "b", "a", "b", "a", "b"],
                             ["correct", "wrong", "correct", "unknown", "wrong", "unclear"])
    assert got == [(0, 1), (2, 4)]


def test_cohen_and_agreement_by_hand():
    a = ["correct", "correct", "wrong", "wrong", "correct", "unclear"]
    b = ["correct", "wrong", "wrong", "wrong", "correct", "correct"]
    # p_o = 4/6; p_e = (3/6)(3/6) + (2/6)(3/6) + (1/6)(0) = 15/36
    assert pairwise_agreement(a, b) == pytest.approx(4 / 6)
    assert cohen_kappa(a, b) == pytest.approx((4 / 6 - 15 / 36) / (1 - 15 / 36))
    assert np.isnan(cohen_kappa(["correct"] * 3, ["correct"] * 3))  # p_e = 1: undefined
    assert np.isnan(cohen_kappa([], []))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abcd"), st.sampled_from("abcd")), min_size=2, max_size=40))
def test_cohen_matches_sklearn(pairs):
    a, b = zip(*pairs, strict=True)
    ours = cohen_kappa(a, b)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = cohen_kappa_score(a, b)
    if np.isnan(ref):
        assert np.isnan(ours)
    else:
        assert ours == pytest.approx(ref, abs=1e-12)


def test_fleiss_kappa_wikipedia_example():
    # Fleiss (1971) as worked on Wikipedia: 10 subjects, 14 raters, 5 categories, kappa = 0.210
    counts = np.array([[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
                       [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]])
    assert fleiss_kappa(counts) == pytest.approx(0.20993, abs=1e-4)
    with pytest.raises(InputError, match="same number"):
        fleiss_kappa(np.array([[1, 1], [2, 1]]))


def test_fleiss_equals_two_rater_scott_pi():
    # with two raters Fleiss' kappa is Scott's pi: p_e from the pooled marginals
    a = ["c", "c", "w", "w", "c", "u", "w", "c"]
    b = ["c", "w", "w", "w", "c", "c", "w", "u"]
    cats = ["c", "w", "u"]
    counts = np.array([[(x == k) + (y == k) for k in cats] for x, y in zip(a, b, strict=True)])
    pooled = np.array([(np.array(a + b) == k).mean() for k in cats])
    p_o = np.mean([x == y for x, y in zip(a, b, strict=True)])
    pi = (p_o - (pooled ** 2).sum()) / (1 - (pooled ** 2).sum())
    assert fleiss_kappa(counts) == pytest.approx(pi)


def test_reviewer_agreement_table():
    items = ["i1", "i2", "i3", "i1", "i2", "i3", "i1", "i2"]
    raters = ["ann", "ann", "ann", "bob", "bob", "bob", "cy", "cy"]
    values = ["correct", "wrong", "wrong", "correct", "wrong", "correct", "correct", "correct"]
    st_ = reviewer_agreement(items, raters, values)
    pairs = st_.pairs.set_index(["a", "b"])
    assert pairs.loc[("ann", "bob"), "n"] == 3
    assert pairs.loc[("ann", "bob"), "agreement"] == pytest.approx(2 / 3)
    assert pairs.loc[("ann", "bob"), "kappa"] == pytest.approx(
        cohen_kappa_score(["correct", "wrong", "wrong"], ["correct", "wrong", "correct"]))
    assert pairs.loc[("ann", "cy"), "n"] == 2
    assert st_.fleiss_raters == 3 and st_.fleiss_items == 2 and st_.n_items == 3
    counts = np.array([[3, 0], [1, 2]])  # i1: 3 correct; i2: 1 correct, 2 wrong
    assert st_.fleiss == pytest.approx(fleiss_kappa(counts))
    with pytest.raises(InputError, match="twice"):
        reviewer_agreement(["i1", "i1"], ["ann", "ann"], ["correct", "wrong"])
    empty = reviewer_agreement([], [], [])
    assert np.isnan(empty.fleiss) and empty.n_items == 0


def test_one_kappa_convention_for_reviewers_and_models():
    from misclass.analysis.crossmodel import error_consistency

    same = np.array([[True, True]] * 4)  # two models right on every image: p_e = 1
    assert np.isnan(error_consistency(same)[0, 1])
    assert np.isnan(cohen_kappa(same[:, 0].tolist(), same[:, 1].tolist()))
    assert np.isnan(fleiss_kappa(np.array([[2, 0]] * 4)))
