"""Label-issue sources, their combination and the ranking checks, on hand-made cases and
against references (cleanlab's own scores, direct counts)."""

from __future__ import annotations

import numpy as np
import pytest

from misclass.analysis.label_issues import (
    check_ranking,
    combine_sources,
    corrected_accuracy,
    corrected_label_sets,
    fixed_weights,
    learn_weights,
    plant_label_errors,
    rank_by_score,
)
from misclass.analysis.label_sources import (
    ReviewVotes,
    SourceScores,
    error_temperature,
    mean_probabilities,
    model_scores,
    probability_scores,
    review_scores,
    sigmoid,
    vote_scores,
)
from misclass.errors import InputError

C = 4


def hand_case(n: int = 60, m: int = 6, seed: int = 0):
    """``n`` images of 4 classes, ``m`` models that are right on 90% of the images and 30
    people per image who mostly agree with the label; image 0 carries a planted wrong label
    (truly class 2, labelled 0: every model and person says 2); image 1 is hard (labelled 1 and
    truly 1 as people say, but every model predicts 3)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % C
    top1 = np.where(rng.random((n, m)) < 0.9, labels[:, None], rng.integers(0, C, (n, m)))
    counts = np.zeros((n, C), dtype=np.int64)
    counts[np.arange(n), labels] = 28
    counts[np.arange(n), (labels + 1) % C] += 2
    top1[0], counts[0] = 2, [0, 0, 30, 0]
    top1[1], counts[1] = 3, [0, 30, 0, 0]
    labels[0], labels[1] = 0, 1
    return labels, top1, counts


def test_wrong_label_that_every_model_and_person_contradicts_ranks_first():
    labels, top1, counts = hand_case()
    models = model_scores(labels, top1, n_classes=C)
    votes = vote_scores(labels, counts)
    combined = combine_sources([models, votes], fixed_weights(["models", "votes"]), n_classes=C)
    order = rank_by_score(combined.logit)
    assert order[0] == 0
    assert combined.suggested[0] == 2 and models.suggested[0] == 2 and votes.suggested[0] == 2
    # the hard image: models miss it, people agree with its label: it is not above the planted one
    assert list(order).index(1) > 0
    assert votes.logit[1] < 0 < models.logit[1]
    assert rank_by_score(models.logit)[0] in (0, 1)  # models alone cannot tell the two apart


def test_the_hard_image_stays_below_with_learned_weights_too():
    labels, top1, counts = hand_case(n=400)
    scorers = {"models": lambda y: model_scores(y, top1, n_classes=C),
               "votes": lambda y: vote_scores(y, counts)}
    planted_labels, planted = plant_label_errors(labels, top1, C, rate=0.1, seed=1)
    w = learn_weights([f(planted_labels) for f in scorers.values()], planted)
    assert w.method == "planted" and w.fitted.all() and (w.weights >= 0).all()
    combined = combine_sources([f(labels) for f in scorers.values()], w, n_classes=C)
    order = rank_by_score(combined.logit)
    assert order[0] == 0 and list(order).index(1) > 0


def test_ties_keep_store_order():
    logit = np.array([1.0, 3.0, 1.0, np.nan, 3.0, 1.0])
    assert rank_by_score(logit).tolist() == [1, 4, 0, 2, 5]
    # whole rankings of identical images: store order too
    labels = np.array([0, 0, 0, 1, 1, 1])
    top1 = np.array([[1], [1], [1], [1], [1], [1]])
    counts = np.tile([3, 3], (6, 1))
    combined = combine_sources([model_scores(labels, top1, n_classes=2), vote_scores(labels, counts)],
                               fixed_weights(["models", "votes"]), n_classes=2)
    assert rank_by_score(combined.logit).tolist() == [0, 1, 2, 3, 4, 5]


def test_model_scores_leave_the_image_itself_out():
    # one model, 3 classes: it always predicts class 1 for class 0 images; on its own image the
    # confusion count must not include that image's own prediction
    labels = np.array([0, 0, 1, 1, 2, 2])
    top1 = np.array([[1], [1], [1], [1], [2], [2]])
    res = model_scores(labels, top1, n_classes=3, smoothing=1.0, temperature=1.0)
    acc = 4 / 6
    # image 0: P(pred 1 | true 0) leave-one-out = (1 + 1 * off) / (1 + 1), off = (1 - acc) / 2
    off = (1 - acc) / 2
    p_given = (1 + off) / 2
    # candidate class 1: P(pred 1 | true 1) = (2 + acc) / (2 + 1); prior (n_c + 1) / (6 + 3) = 3/9 each
    p_alt = (2 + acc) / 3
    other = 1 - 2 * (3 / 9)  # prior mass of class 2, which no model predicted here
    expected = np.log((3 / 9) * p_alt + other * off) - np.log((3 / 9) * p_given)
    assert res.logit[0] == pytest.approx(expected)
    assert res.suggested[0] == 1


def test_model_scores_topk_mode_and_unknown_labels():
    labels = np.array([0, 1, 2, -1, 0, 1, 2, 0])
    topk = np.array([[[1, 0]], [[1, 2]], [[2, 0]], [[0, 1]], [[0, 1]], [[1, 0]], [[2, 1]], [[1, 2]]])
    res = model_scores(labels, topk, n_classes=3, k=2)
    assert np.isnan(res.logit[3]) and res.suggested[3] == -1
    assert np.isfinite(np.delete(res.logit, 3)).all()
    assert res.logit[7] > res.logit[4]  # label absent from the list vs ranked first
    assert res.info["k"] == 2
    with pytest.raises(InputError, match="at least 1"):
        model_scores(labels, topk, n_classes=3, k=0)


def test_error_temperature_counts_correlated_models_once():
    labels = np.zeros(100, dtype=int)
    wrong = np.random.default_rng(0).random(100) < 0.3
    same = np.where(wrong, 1, 0)[:, None].repeat(5, axis=1)  # five copies of one model
    t, m_eff, rho = error_temperature(labels, same)
    assert rho == pytest.approx(1.0) and m_eff == pytest.approx(1.0) and t == pytest.approx(1.0)
    rng = np.random.default_rng(1)
    independent = np.where(rng.random((20000, 5)) < 0.3, 1, 0)
    t, m_eff, rho = error_temperature(np.zeros(20000, dtype=int), independent)
    assert abs(rho) < 0.02 and m_eff == pytest.approx(5.0, rel=0.05)


def test_probability_scores_are_cleanlabs_quality():
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    rng = np.random.default_rng(0)
    labels = np.tile(np.arange(C), 30)
    logits = rng.normal(size=(len(labels), C))
    logits[np.arange(len(labels)), labels] += 2.0
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    res = probability_scores(labels, probs)
    q = get_label_quality_scores(labels, probs)
    np.testing.assert_allclose(res.score, 1 - q, atol=1e-12)
    np.testing.assert_array_equal(res.flagged, find_label_issues(labels, probs))
    masked = probs.copy()
    masked[np.arange(len(labels)), labels] = -1
    np.testing.assert_array_equal(res.suggested, masked.argmax(axis=1))
    with_unknown = labels.copy()
    with_unknown[0] = -1
    res = probability_scores(with_unknown, probs, method="normalized_margin")
    assert np.isnan(res.logit[0]) and not res.flagged[0]
    assert mean_probabilities([probs, probs]) == pytest.approx(probs)


def test_vote_scores_by_hand():
    labels = np.array([0, 1, 1, -1])
    counts = np.array([[8, 2, 0], [0, 0, 0], [1, 3, 6], [5, 0, 0]])
    res = vote_scores(labels, counts)
    p0 = (2 + 7) / (10 + 10)  # other-class votes over all votes of labelled images with votes
    assert res.score[0] == pytest.approx((2 + 2 * p0) / (10 + 2))
    assert res.score[2] == pytest.approx((7 + 2 * p0) / (10 + 2))
    assert np.isnan(res.logit[1]) and np.isnan(res.logit[3])
    assert res.suggested.tolist() == [1, -1, 2, -1]
    with pytest.raises(InputError, match="negative"):
        vote_scores(labels, -counts)
    with pytest.raises(InputError, match="whole numbers"):
        vote_scores(labels, counts + 0.5)


def test_review_scores_count_flags_against_the_label():
    labels = np.array([0, 1, 2, 0])
    votes = ReviewVotes.from_decisions(
        4, samples=[0, 0, 0, 1, 1, 3], classes=[0, 0, 2, 1, 1, 0],
        values=["wrong", "wrong", "correct", "correct", "unclear", "correct"], flagged=[3, 3])
    res = review_scores(labels, votes)
    assert res.logit[0] == pytest.approx(np.log(2.5 / 0.5)) and res.suggested[0] == 2
    assert res.logit[1] == pytest.approx(np.log(0.5 / 1.5)) and res.suggested[1] == -1
    assert np.isnan(res.logit[2])
    assert res.logit[3] == pytest.approx(np.log(2.5 / 1.5))  # two flags against one "correct"


def test_plant_label_errors_follow_the_confusion_and_the_seed():
    labels = np.repeat(np.arange(3), 200)
    top1 = labels.copy()[:, None].repeat(2, axis=1)
    top1[labels == 0, 0] = np.where(np.arange(200) < 40, 1, 0)  # class 0 is confused with 1 only
    new, planted = plant_label_errors(labels, top1, 3, rate=0.1, seed=4)
    assert planted.sum() == 60 and (new[planted] != labels[planted]).all()
    assert (new[~planted] == labels[~planted]).all()
    assert set(new[planted & (labels == 0)]) == {1}
    again, planted2 = plant_label_errors(labels, top1, 3, rate=0.1, seed=4)
    assert np.array_equal(again, new) and np.array_equal(planted, planted2)
    uniform, _ = plant_label_errors(labels, None, 3, rate=0.1, seed=4)
    assert (uniform >= 0).all() and (uniform < 3).all()
    with pytest.raises(InputError, match="between 0 and 1"):
        plant_label_errors(labels, top1, 3, rate=1.0)


def test_learn_weights_favour_the_source_that_finds_planted_errors():
    rng = np.random.default_rng(0)
    planted = rng.random(2000) < 0.05
    good = SourceScores("good", np.where(planted, 3.0, -3.0) + rng.normal(0, 1, 2000), np.zeros(2000, int))
    noise = SourceScores("noise", rng.normal(0, 3, 2000), np.zeros(2000, int))
    sparse = SourceScores("sparse", np.full(2000, np.nan), np.full(2000, -1))
    w = learn_weights([good, noise, sparse], planted)
    assert w.weight("good") > 5 * w.weight("noise") and w.weight("sparse") == 1.0
    assert w.fitted.tolist() == [True, True, False] and w.auroc[0] > 0.99
    d = w.to_dict()
    assert d["method"] == "planted" and set(d["sources"]) == {"good", "noise", "sparse"}
    few = learn_weights([good], np.zeros(2000, dtype=bool))
    assert few.method == "equal" and few.weights.tolist() == [1.0]


def test_fixed_weights_need_every_source():
    assert fixed_weights(["a", "b"], {"a": 2, "b": 0}).weights.tolist() == [2.0, 0.0]
    with pytest.raises(InputError, match="missing b"):
        fixed_weights(["a", "b"], {"a": 1})
    with pytest.raises(InputError, match="not a source here: c"):
        fixed_weights(["a"], {"a": 1, "c": 1})
    with pytest.raises(InputError, match="non-negative"):
        fixed_weights(["a"], {"a": -1})


def test_combined_suggestion_is_the_weighted_vote():
    n = 3
    a = SourceScores("a", np.array([2.0, -2.0, np.nan]), np.array([1, 2, -1]))
    b = SourceScores("b", np.array([1.0, 3.0, np.nan]), np.array([2, 1, -1]))
    w = fixed_weights(["a", "b"], {"a": 1.0, "b": 3.0})
    out = combine_sources([a, b], w, n_classes=n)
    assert out.logit[:2].tolist() == [5.0, 7.0] and np.isnan(out.logit[2])
    assert out.suggested.tolist() == [2, 1, -1]
    assert sigmoid(np.array([0.0, np.nan]))[0] == 0.5


def test_check_ranking_by_hand():
    order = np.array([3, 0, 2, 1])
    confirmed = np.array([False, True, False, True])
    checked = np.array([True, True, False, True])
    frame = check_ranking(order, confirmed, checked, ks=(1, 2, 4))
    assert frame["recall"].tolist() == [0.5, 0.5, 1.0]
    assert frame["checked"].tolist() == [1, 2, 3]
    assert frame["confirmed_share"].tolist() == [1.0, 0.5, 2 / 3]
    with pytest.raises(InputError, match="nobody checked"):
        check_ranking(order, confirmed, np.zeros(4, dtype=bool))


def test_corrected_accuracy_and_rank_changes():
    labels = np.array([0, 1, 1, 2, -1])
    combined = SourceScores("combined", np.array([-5.0, 5.0, -5.0, 5.0, np.nan]), np.array([1, 2, 0, -1, -1]))
    sets = corrected_label_sets(labels, combined, reviewed=[None, None, [0, 1], None, None],
                                problematic=np.array([False, False, False, False, False]))
    assert [sets.set_of(i) for i in range(4)] == [[0], [2], [0, 1], []]
    assert not sets.has_set[4]
    top1 = np.array([[0, 0, 1], [1, 2, 2], [1, 0, 1], [2, 2, 2], [0, 0, 0]])
    frame = corrected_accuracy(["a", "b", "h"], ["model", "model", "human"], top1, labels, sets)
    assert frame["original"].tolist() == [1.0, 0.5, 0.5]
    assert frame["corrected"].tolist() == pytest.approx([2 / 3, 1.0, 2 / 3])  # image 3: no valid label
    assert frame["rank_original"].tolist()[:2] == [1, 2] and frame["rank_corrected"].tolist()[:2] == [2, 1]
    assert frame["rank_change"].tolist()[:2] == [-1, 1] and np.isnan(frame.loc["h", "rank_change"])


def test_corrected_accuracy_of_a_random_person_is_an_expectation():
    labels = np.array([0, 1, 1])
    sets = corrected_label_sets(labels, SourceScores("c", np.array([-1.0, -1.0, 1.0]), np.array([1, 0, 0])))
    shares = np.array([[0.75, 0.25], [0.5, 0.5], [1.0, 0.0]])
    frame = corrected_accuracy(["h"], ["human"], np.array([[0], [0], [0]]), labels, sets, expected=[shares])
    assert frame.loc["h", "original"] == pytest.approx((0.75 + 0.5 + 0.0) / 3)
    assert frame.loc["h", "corrected"] == pytest.approx((0.75 + 0.5 + 1.0) / 3)  # image 2 now labelled 0
