"""Cross-model analysis: hand-computed cases, references (sklearn, brute force), CLI, report,
and the seven shared ImageNet models."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pandas as pd
import pytest
from _reference import check_against, generated
from helpers import require_imagenet_timm, run_cli
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.metrics import cohen_kappa_score

from misclass.analysis.class_corrections import class_corrections
from misclass.analysis.combinations import (
    best_combination,
    greedy_curve,
    pack_columns,
    popcount,
    search_combinations,
    virtual_accuracy_table,
)
from misclass.analysis.crossmodel import compare_models, error_consistency, pair_matrices
from misclass.analysis.ensembles import evaluate_ensembles, majority_vote
from misclass.analysis.shared_failures import find_shared_failures
from misclass.errors import InputError
from misclass.store import Store

# Hand-computed case: A makes no mistakes; B is right on rows 0, 2, 4; C on rows 1, 2, 5.
LABELS = np.array([0, 1, 2, 0, 1, 2])
TOP1 = np.array([[0, 0, 1], [1, 2, 1], [2, 2, 2], [0, 1, 1], [1, 1, 0], [2, 0, 2]])
MODELS = ("A", "B", "C")
CLASSES = ("cat", "dog", "frog")
NAN = float("nan")


def _eq(a, b) -> bool:
    return np.allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), equal_nan=True, atol=1e-12)


def test_pair_matrices_hand_case():
    pm = pair_matrices(LABELS, TOP1, models=MODELS)
    assert pm.n == 6
    assert _eq(pm.accuracy, [1, 0.5, 0.5])
    # row A undefined (no mistakes); B's mistakes {1,3,5}: A fixes all, C fixes 1 and 5
    assert _eq(pm.correction_rate, [[NAN, NAN, NAN], [1, 0, 2 / 3], [1, 2 / 3, 0]])
    assert _eq(pm.virtual_accuracy, [[1, 1, 1], [1, 0.5, 5 / 6], [1, 5 / 6, 0.5]])
    # B, C: observed agreement 2/6, expected 1/2 -> kappa -1/3; A is constant: 0 with others,
    # undefined with itself
    assert _eq(pm.error_consistency, [[NAN, 0, 0], [0, 1, -1 / 3], [0, -1 / 3, 1]])
    # B and C agree on row 2 (both right) and row 3 (both predict class 1, wrong)
    assert _eq(pm.equal_top1, [[1, 0.5, 0.5], [0.5, 1, 2 / 6], [0.5, 2 / 6, 1]])
    d = pm.to_dict()
    assert d["correction_rate"][0] == [None, None, None]
    assert d["error_consistency"][0][0] is None


def test_unknown_labels_are_left_out():
    labels = np.append(LABELS, -1)
    top1 = np.vstack([TOP1, [[5, 5, 5]]])
    assert _eq(pair_matrices(labels, top1, models=MODELS).virtual_accuracy,
               pair_matrices(LABELS, TOP1, models=MODELS).virtual_accuracy)
    res = compare_models(labels, top1, models=MODELS, class_names=CLASSES, ensembles=False)
    assert res.n == 6 and res.n_unlabelled == 1 and res.notes


def test_combinations_and_greedy_hand_case():
    correct = TOP1 == LABELS[:, None]
    res = search_combinations(correct, 3, models=MODELS)
    table = res.table
    assert [tuple(m) for m in table["models"]] == [("A", "B"), ("A", "C"), ("B", "C"), ("A", "B", "C")]
    assert _eq(table["virtual_accuracy"], [1, 1, 5 / 6, 1])
    assert res.best[1].models == ("A",) and res.best[1].virtual_accuracy == 1
    assert res.best[2].models == ("A", "B") and res.best[2].method == "exact"
    assert res.best[3].virtual_accuracy == 1
    assert res.greedy["added"].tolist() == ["A", "B", "C"]
    assert _eq(res.greedy["virtual_accuracy"], [1, 1, 1])
    # B and C only: the pair covers rows 0, 1, 2, 4, 5
    only_bc = search_combinations(correct[:, 1:], 2, models=["B", "C"])
    assert only_bc.best[2].virtual_accuracy == pytest.approx(5 / 6)


def test_search_falls_back_to_branch_and_bound_then_greedy():
    rng = np.random.default_rng(0)
    correct = rng.random((300, 9)) < 0.7
    names = [f"m{i}" for i in range(9)]
    exact = search_combinations(correct, 3, models=names)  # 84 combinations: listed
    bnb = search_combinations(correct, 3, models=names, list_limit=10)
    greedy = search_combinations(correct, 3, models=names, list_limit=10, max_combinations=50)
    assert exact.best[3].search == "exhaustive" and exact.listed_sizes == (2, 3)
    assert bnb.best[3].search == "branch-and-bound" and bnb.best[3].method == "exact"
    assert bnb.listed_sizes == () and len(bnb.table) == 0
    assert bnb.best[3].virtual_accuracy == exact.best[3].virtual_accuracy
    assert greedy.best[3].method == "greedy"
    assert greedy.best[3].virtual_accuracy <= exact.best[3].virtual_accuracy
    assert greedy.best[3].virtual_accuracy == greedy.greedy["virtual_accuracy"].iloc[2]


def test_many_models_take_the_projected_path():
    # more than PROJECT_ABOVE models: bit sets restricted to the first model's misses
    from misclass.analysis.combinations import PROJECT_ABOVE

    rng = np.random.default_rng(5)
    m = PROJECT_ABOVE + 2
    correct = rng.random((150, m)) < rng.uniform(0.4, 0.9, m)
    names = [f"m{i}" for i in range(m)]
    table = virtual_accuracy_table(correct, [2, 3], models=names)
    brute = [correct[:, list(c)].any(axis=1).mean()
             for s in (2, 3) for c in itertools.combinations(range(m), s)]
    assert len(table) == math.comb(m, 2) + math.comb(m, 3)
    assert _eq(table["virtual_accuracy"], brute)
    best = best_combination(correct, 3, models=names)
    assert best.virtual_accuracy == pytest.approx(max(brute[math.comb(m, 2):]))


def test_popcount_and_packing():
    mask = np.zeros((130, 2), dtype=bool)
    mask[[0, 63, 64, 129], 0] = True
    bits = pack_columns(mask)
    assert bits.shape == (2, 3) and bits.dtype == np.uint64
    assert popcount(bits).tolist() == [4, 0]
    assert popcount(bits[0] & ~bits[1]) == 4


@settings(max_examples=60, deadline=None)
@given(arrays(bool, st.tuples(st.integers(1, 70), st.integers(1, 7))), st.integers(1, 7))
def test_combinations_match_brute_force(correct, k):
    n, m = correct.shape
    names = [f"m{i}" for i in range(m)]
    for size in range(1, min(k, m) + 1):
        brute = {c: correct[:, list(c)].any(axis=1).mean() for c in itertools.combinations(range(m), size)}
        table = virtual_accuracy_table(correct, [size], models=names)
        assert _eq(table["virtual_accuracy"], list(brute.values()))
        assert [tuple(int(x[1:]) for x in t) for t in table["models"]] == list(brute)
        best = best_combination(correct, size, models=names)
        assert best.virtual_accuracy == pytest.approx(max(brute.values()))
        members = tuple(int(x[1:]) for x in best.models)
        assert brute[members] == pytest.approx(best.virtual_accuracy)
        greedy = best_combination(correct, size, models=names, method="greedy")
        assert greedy.virtual_accuracy <= best.virtual_accuracy + 1e-12
    curve = greedy_curve(correct, models=names)["virtual_accuracy"].to_numpy()
    assert np.all(np.diff(curve) >= 0) and curve[-1] == pytest.approx(correct.any(axis=1).mean())


@pytest.mark.filterwarnings("ignore::UserWarning")  # sklearn: kappa of constant vectors is undefined
@settings(max_examples=40, deadline=None)
@given(st.integers(2, 80), st.integers(2, 5), st.integers(0, 2**32 - 1))
def test_pairs_match_references(n, m, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    top1 = np.where(rng.random((n, m)) < rng.random(m), labels[:, None], rng.integers(0, 3, (n, m)))
    pm = pair_matrices(labels, top1, models=[str(i) for i in range(m)])
    correct = top1 == labels[:, None]
    for a in range(m):
        for b in range(m):
            wrong_a = ~correct[:, a]
            pcr = (wrong_a & correct[:, b]).sum() / wrong_a.sum() if wrong_a.any() else NAN
            assert _eq(pm.correction_rate[a, b], pcr)
            assert _eq(pm.virtual_accuracy[a, b], (correct[:, a] | correct[:, b]).mean())
            assert _eq(pm.equal_top1[a, b], (top1[:, a] == top1[:, b]).mean())
            ref = cohen_kappa_score(correct[:, a], correct[:, b])
            assert _eq(pm.error_consistency[a, b], ref), (a, b, ref)
            assert 0 <= pm.virtual_accuracy[a, b] <= 1


def test_kappa_matches_sklearn_on_larger_data():
    rng = np.random.default_rng(1)
    correct = rng.random((5000, 6)) < rng.uniform(0.5, 0.95, 6)
    correct[:, 5] = correct[:, 4] ^ (rng.random(5000) < 0.05)  # a strongly consistent pair
    kappa = error_consistency(correct)
    for a, b in itertools.combinations(range(6), 2):
        assert kappa[a, b] == pytest.approx(cohen_kappa_score(correct[:, a], correct[:, b]), abs=1e-9)
    assert kappa[4, 5] > 0.8


def test_class_corrections_hand_case():
    correct = TOP1 == LABELS[:, None]
    cc = class_corrections(LABELS, correct, models=MODELS, class_names=CLASSES)
    assert cc.corrected.tolist() == [[3, 1, 0], [2, 1, 1], [1, 0, 1]]
    assert cc.got_corrected.tolist() == [[0, 1, 3], [0, 2, 2], [0, 2, 0]]
    assert _eq(cc.class_accuracy, [[1, 0.5, 0], [1, 0.5, 0.5], [1, 0.5, 1]])
    assert cc.n_images.tolist() == [2, 2, 2]
    top = cc.top_corrected
    assert top[top["model"] == "A"]["class_name"].tolist() == ["cat", "dog", "frog"]
    assert top[top["model"] == "B"][["class_name", "corrected"]].values.tolist() == [["cat", 1], ["dog", 1]]
    assert top[top["model"] == "C"]["class_name"].tolist() == ["dog", "frog"]
    assert len(cc.hard_classes) == 0
    # two models, class 0 below 50% for both, class 1 not
    hard = class_corrections(np.array([0, 0, 1, 1]), np.array([[0, 0], [0, 0], [1, 0], [1, 1]], bool),
                             models=["x", "y"], class_names=["p", "q"]).hard_classes
    shown = hard[["class_index", "class_name", "n_images", "best_accuracy"]]
    assert shown.values.tolist() == [[0, "p", 2, 0.0]]


@pytest.mark.parametrize("m", [1, 2, 7, 9, 12])
def test_class_sum_paths_agree_with_a_loop(m, monkeypatch):
    """Every way of summing per class (a (class, pattern) table, a cell table for few
    models, weighted bincounts for many) equals the definition computed image by image."""
    from misclass.analysis import class_corrections as cc_mod
    from misclass.analysis import patterns

    rng = np.random.default_rng(m)
    n, c = 300, 6
    labels = rng.integers(0, c, n)
    correct = rng.random((n, m)) < rng.uniform(0.3, 0.9, m)
    correct[:20] = True  # images every model gets right
    correct[20:40] = False  # and images every model misses
    n_ok = correct.sum(axis=1)
    want = np.zeros((3, c, m), dtype=np.int64)
    for i in range(n):
        for j in range(m):
            if correct[i, j]:
                want[0, labels[i], j] += m - n_ok[i]  # the models it corrects on image i
                want[2, labels[i], j] += 1
            else:
                want[1, labels[i], j] += n_ok[i]  # the models that correct it
    n_right = cc_mod._row_counts(correct)
    fast = cc_mod._class_sums(labels, correct, c, n_right)
    monkeypatch.setattr(cc_mod, "_TABLE_BINS", 0)
    general = cc_mod._class_sums(labels, correct, c, n_right)
    code = (correct * (1 << np.arange(m))).sum(axis=1)
    by_pattern = patterns.class_pattern_sums(patterns.class_pattern_table(labels, code, m, c), m)
    assert by_pattern[3].tolist() == np.bincount(labels, minlength=c).tolist()
    for got in (fast, general, by_pattern[:3]):
        assert [g.tolist() for g in got] == [w.tolist() for w in want]


def test_shared_failures():
    sf = find_shared_failures(LABELS, TOP1, models=MODELS)
    assert len(sf.all_wrong) == 0
    assert sf.only_one_wrong[["index", "model", "prediction"]].values.tolist() == [
        [0, "C", 1], [1, "B", 2], [4, "C", 0], [5, "B", 0]]
    assert sf.unique_errors.tolist() == [0, 2, 2]
    # drop A: row 3 is missed by both B and C, predicting class 1
    sf2 = find_shared_failures(LABELS, TOP1[:, 1:], models=["B", "C"], sample_ids=list("uvwxyz"))
    assert sf2.all_wrong.to_dict("records") == [{"index": 3, "sample_id": "x", "label": 0, "B": 1, "C": 1}]
    assert sf2.to_dict()["all_wrong_images"][0]["predictions"] == {"B": 1, "C": 1}


def test_majority_vote_ties():
    top1 = np.array([[1, 2, 2], [1, 2, 3], [4, 5, 6]])
    assert majority_vote(top1, np.array([0.9, 0.5, 0.7])).tolist() == [2, 1, 4]
    assert majority_vote(top1, np.array([0.5, 0.9, 0.7])).tolist() == [2, 2, 5]
    assert majority_vote(top1[:, :2], np.array([0.5, 0.5])).tolist() == [1, 1, 4]  # equal: the earlier


def test_ensembles_hand_case():
    bc = evaluate_ensembles(LABELS, TOP1, [1, 2], models=MODELS, selector=False)
    assert bc.oracle == pytest.approx(5 / 6) and bc.best_single == "B"
    assert bc.majority_vote == 0.5 and bc.share(bc.majority_vote) == 0.0  # ties go to B
    assert bc.mean_probability is None and "no probabilities" in " ".join(bc.notes)
    # with top-1 probabilities B is confident where right: the mean probability hits the oracle
    topk = TOP1[:, :, None]
    tprobs = np.full((6, 3, 1), np.nan, dtype=np.float32)
    tprobs[:, 1, 0] = [0.9, 0.4, 0.9, 0.4, 0.9, 0.4]
    tprobs[:, 2, 0] = [0.3, 0.8, 0.8, 0.3, 0.3, 0.8]
    r = evaluate_ensembles(LABELS, TOP1, [1, 2], models=MODELS, topk=topk, topk_probs=tprobs, selector=False)
    assert r.probability_source == "topk_probs" and r.mean_probability == pytest.approx(5 / 6)
    assert r.share(r.mean_probability) == pytest.approx(1.0)
    # the same from full probability matrices
    full = {}
    for j, name in ((1, "B"), (2, "C")):
        p = np.zeros((6, 3), dtype=np.float32)
        p[np.arange(6), TOP1[:, j]] = tprobs[:, j, 0]
        p += (1 - p.sum(axis=1, keepdims=True)) / 3
        full[name] = p
    r_full = evaluate_ensembles(LABELS, TOP1, [1, 2], models=MODELS, probs=full, selector=False)
    assert r_full.probability_source == "probs" and r_full.mean_probability == pytest.approx(5 / 6)
    abc = evaluate_ensembles(LABELS, TOP1, [0, 1, 2], models=MODELS, selector=False)
    assert abc.majority_vote == pytest.approx(5 / 6) and abc.share(abc.majority_vote) is None  # no gain


def test_selector_learns_which_model_to_trust():
    rng = np.random.default_rng(3)
    labels = np.repeat([0, 1], 200)
    # x is right on class 0 (predicts 2 otherwise), y on class 1 (predicts 3 otherwise)
    top1 = np.column_stack([np.where(labels == 0, 0, 2), np.where(labels == 1, 1, 3)])
    flip = rng.random(400) < 0.05
    top1[flip, 0] = 1 - labels[flip]  # some noise
    r = evaluate_ensembles(labels, top1, [0, 1], models=["x", "y"], seed=7)
    assert r.oracle > 0.95 and r.best_single_accuracy < 0.55
    assert r.selector > 0.9 and r.share(r.selector) > 0.85
    assert r.majority_vote < 0.6
    again = evaluate_ensembles(labels, top1, [0, 1], models=["x", "y"], seed=7)
    assert again.selector == r.selector


def test_selector_folds_equal_one_sklearn_pipeline_per_member():
    """_fit_folds scales a fold's features once for all members (and fits in float32): the
    held-out scores are those of make_pipeline(StandardScaler(), FunctionTransformer(np.float32),
    LogisticRegression(...)) fitted per member."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import KFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    from misclass.analysis.ensembles import _fit_folds, _precision_feature

    def pipelines(base, top1, right, n_keys):
        score = np.zeros(top1.shape)
        for train, test in KFold(5, shuffle=True, random_state=1).split(base):
            prec = np.column_stack([_precision_feature(top1[:, j], right[:, j].astype(np.float64),
                                                       np.sort(train), n_keys) for j in range(top1.shape[1])])
            x = np.hstack([base, prec])
            for j in range(top1.shape[1]):
                y = right[train, j]
                if y.all() or not y.any():
                    score[test, j] = float(y.mean())
                    continue
                model = make_pipeline(StandardScaler(), FunctionTransformer(np.float32),
                                      LogisticRegression(solver="newton-cholesky", max_iter=100))
                score[test, j] = model.fit(x[train], y).predict_proba(x[test])[:, 1]
        return score

    def folds(base, top1, right, n_keys):
        score = np.zeros(top1.shape)
        _fit_folds(KFold(5, shuffle=True, random_state=1).split(base), base, top1, right, n_keys, score)
        return score

    def make(rng):
        n, k = int(rng.integers(40, 200)), int(rng.integers(2, 5))
        labels = rng.integers(0, 4, n)
        right = rng.random((n, k)) < rng.uniform(0.3, 0.9, k)
        top1 = np.where(right, labels[:, None], rng.integers(0, 4, (n, k)))
        top1[:, -1] = labels if rng.random() < 0.3 else top1[:, -1]  # sometimes a member always right
        base = np.column_stack([rng.random((n, k)), (top1[:, :1] == top1[:, 1:]).astype(float)])
        return base, top1, top1 == labels[:, None], int(top1.max()) + 2

    assert check_against(folds, pipelines, generated(make, n=20), rtol=0) == 20


def test_compare_models_checks_inputs():
    with pytest.raises(InputError, match="at least two"):
        compare_models(LABELS, TOP1[:, :1], models=["A"], class_names=CLASSES)
    with pytest.raises(InputError, match="known label"):
        compare_models(np.full(6, -1), TOP1, models=MODELS, class_names=CLASSES)
    with pytest.raises(InputError, match="3 columns"):
        compare_models(LABELS, TOP1, models=["A", "B"], class_names=CLASSES)


def test_compare_models_to_dict_is_json_ready():
    res = compare_models(LABELS, TOP1, models=MODELS, class_names=CLASSES, k=5)
    d = json.loads(json.dumps(res.to_dict()))
    assert d["models"] == list(MODELS) and d["all_wrong"] == 0
    assert [c["models"] for c in d["combinations"]] == [["A", "B"], ["A", "C"], ["B", "C"], ["A", "B", "C"]]
    assert set(d["best"]) == {"1", "2", "3"}
    assert any("k = 5" in n for n in d["notes"])
    assert d["ensembles"][0]["models"] == ["A", "B"]


# --------------------------------------------------------------------------- CLI and report
@pytest.fixture
def hand_store(tmp_path) -> Store:
    samples = pd.DataFrame({"sample_id": [f"img{i}" for i in range(6)], "label": LABELS})
    store = Store.create(tmp_path / "store", samples=samples, classes=pd.DataFrame({"name": CLASSES}))
    for j, name in enumerate(MODELS):
        store.write_model(name, TOP1[:, j])
    return store


def test_cli_compare_writes_json(hand_store, tmp_path, capsys):
    out = tmp_path / "c.json"
    code, stdout, _ = run_cli(["compare", "--store", hand_store.path, "--k", "3", "--json", out], capsys)
    assert code == 0, stdout
    d = json.loads(out.read_text())
    for key in ("models", "accuracy", "correction_rate", "virtual_accuracy", "combinations", "best",
                "all_wrong", "ensembles"):
        assert key in d
    assert d["models"] == ["A", "B", "C"]
    assert d["accuracy"] == {"A": 1.0, "B": 0.5, "C": 0.5}
    assert d["correction_rate"][0] == [None, None, None]
    assert d["correction_rate"][1][2] == pytest.approx(2 / 3)
    assert d["virtual_accuracy"][1][2] == pytest.approx(5 / 6)
    assert len(d["combinations"]) == 4
    assert d["best"]["2"] == {"models": ["A", "B"], "virtual_accuracy": 1.0, "method": "exact",
                              "search": "exhaustive"}
    assert "Potential correction rate" in stdout and "Best combination" in stdout


def test_cli_compare_selects_models_and_rejects_one(hand_store, tmp_path, capsys):
    out = tmp_path / "bc.json"
    code, _, _ = run_cli(["compare", "-s", hand_store.path, "--models", "B,C", "--no-ensembles",
                          "--json", out], capsys)
    assert code == 0
    d = json.loads(out.read_text())
    assert d["models"] == ["B", "C"] and d["all_wrong"] == 1 and d["ensembles"] == []
    code, _, err = run_cli(["compare", "-s", hand_store.path, "-m", "B"], capsys)
    assert code == 2 and "at least two models" in err
    code, _, err = run_cli(["compare", "-s", hand_store.path, "-m", "B", "-m", "nope"], capsys)
    assert code == 2 and "nope" in err


def test_report_section(hand_store, tmp_path):
    from misclass.report.build import build_report

    index = build_report(hand_store, tmp_path / "report", only=["crossmodel"], options={"k": 3})
    page = index.read_text()
    assert "Does another model get it right?" in page and "Best combinations" in page
    figures = tmp_path / "report" / "figures"
    for stem in ("pcr", "virtual-accuracy", "greedy", "classes-0", "classes-2"):
        assert (figures / f"crossmodel-{stem}.png").exists()
    assert "No class has every model below 50%" in page
    assert "0 images (0.00%) are misclassified by all 3 models" in page
    # B and C both miss one image; this store holds no image files, so the gallery says so
    index = build_report(hand_store, tmp_path / "report-bc", models=["B", "C"], only=["crossmodel"])
    page = index.read_text()
    assert "1 image (16.67%) is misclassified by both models" in page and "predictions only" in page


# --------------------------------------------------------------------------- real data
@pytest.mark.slow
def test_seven_imagenet_models(tmp_path, capsys):
    folder = require_imagenet_timm()
    pytest.importorskip("imagenet_x", reason="the swin file has no targets: labels need misclass[imagenet]")
    store = tmp_path / "imagenet"
    code, out, err = run_cli(["import", "timm-csv", *sorted(folder.glob("*.csv")), "--labels",
                              "imagenet-val", "--store", store], capsys)
    assert code == 0, err
    result = tmp_path / "compare.json"
    code, out, err = run_cli(["compare", "--store", store, "--k", "3", "--no-ensembles", "--json", result],
                             capsys)
    assert code == 0, err
    d = json.loads(result.read_text())
    assert len(d["models"]) == 7
    sizes = [len(c["models"]) for c in d["combinations"]]
    assert sizes.count(2) == math.comb(7, 2) == 21 and sizes.count(3) == math.comb(7, 3) == 35
    assert d["accuracy"]["convit_small"] == pytest.approx(0.81408)
    assert d["accuracy"]["swin_base_patch4_window7_224"] == pytest.approx(0.85264)
    # every listed value against a direct pandas computation
    pred = Store(store).load()
    df = pd.DataFrame(pred.correct, columns=pred.models)
    for c in d["combinations"]:
        assert c["virtual_accuracy"] == pytest.approx(df[c["models"]].any(axis=1).mean())
    best3 = max((c for c in d["combinations"] if len(c["models"]) == 3), key=lambda c: c["virtual_accuracy"])
    assert d["best"]["3"]["virtual_accuracy"] == best3["virtual_accuracy"]
    assert d["all_wrong"] == int((~df).all(axis=1).sum())
    # accuracy-matched models still fix 15-55% of each other's mistakes (Shavit, 2022)
    pcr = np.array(d["correction_rate"], dtype=float)
    assert np.all((pcr[~np.eye(7, dtype=bool)] > 0.1) & (pcr[~np.eye(7, dtype=bool)] < 0.6))
