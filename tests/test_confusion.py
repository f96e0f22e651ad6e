import json
import time

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from helpers import require_imagenet_timm, run_cli
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn.metrics import confusion_matrix as sk_confusion_matrix

from misclass.analysis.confusion import (
    analyze_confusion,
    confusion_matrix,
    error_homogeneity,
    find_patterns,
    misclassification_network,
    most_confused_classes,
    top_confusions,
    worst_classes,
)
from misclass.analysis.confusion_scores import analyze_scores, class_scores
from misclass.errors import InputError
from misclass.store import Store
from misclass.validation import check_class_pairs

NAMES = ["cat", "dog", "frog", "bird"]
# 14 images: 5 cats, 4 dogs, 3 frogs, 2 birds; two models
LABELS = np.array([0] * 5 + [1] * 4 + [2] * 3 + [3] * 2)
PRED_A = np.array([0, 0, 1, 1, 2, 1, 0, 0, 1, 2, 2, 2, 3, 2])
PRED_B = np.array([0, 0, 0, 1, 1, 1, 0, 1, 2, 2, 2, 2, 3, 2])


@pytest.fixture
def hand():
    return analyze_confusion(LABELS, np.stack([PRED_A, PRED_B], axis=1), ("A", "B"), 4, threshold=0.4,
                             class_names=NAMES)


def test_hand_computed_u_v_d_edges(hand):
    a, b = hand.models["A"], hand.models["B"]
    assert a.counts.sum() == 14 and a.n.tolist() == [5, 4, 3, 2]
    assert a.errors.tolist() == [3, 2, 0, 1] and b.errors.tolist() == [2, 2, 0, 1]
    np.testing.assert_allclose(a.u, [3 / 5, 2 / 4, 0, 1 / 2])
    np.testing.assert_allclose(b.u, [2 / 5, 2 / 4, 0, 1 / 2])
    np.testing.assert_allclose(a.v, [[0, 2 / 3, 1 / 3, 0], [1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 1, 0]])
    np.testing.assert_allclose(b.v, [[0, 1, 0, 0], [.5, 0, .5, 0], [0, 0, 0, 0], [0, 0, 1, 0]])
    # threshold 0.4: A's cat -> frog (1/3) is not an edge
    assert a.edges[["source", "target", "count"]].values.tolist() == [[0, 1, 2], [1, 0, 2], [3, 2, 1]]
    np.testing.assert_allclose(a.edges["weight"], [2 / 3, 1, 1])
    assert b.edges[["source", "target"]].values.tolist() == [[0, 1], [1, 0], [1, 2], [3, 2]]
    np.testing.assert_allclose(a.in_degree, [1, 2 / 3, 1, 0])
    np.testing.assert_allclose(b.in_degree, [.5, 1, 1.5, 0])
    assert a.accuracy == pytest.approx(8 / 14)


def test_hand_computed_patterns(hand):
    p = hand.patterns
    got = p[["a", "b", "A", "B", "n_models", "pattern", "errors"]].values.tolist()
    assert got == [
        [0, 1, "symmetric", "symmetric", 2, "universal symmetric", 7],
        [2, 3, "b->a", "b->a", 2, "universal one-way", 2],
        [1, 2, "none", "a->b", 1, "model-specific one-way", 1],
    ]
    assert p["a_name"].tolist() == ["cat", "frog", "dog"]


def test_pattern_kinds_mixed_and_model_specific_symmetric():
    adj = np.zeros((3, 3, 3), dtype=bool)
    adj[0, 0, 1] = adj[1, 1, 0] = adj[2, 0, 1] = True                 # (0,1): a->b, b->a, a->b
    adj[0, 1, 2] = adj[0, 2, 1] = adj[1, 1, 2] = adj[1, 2, 1] = True  # (1,2): symmetric in 2 of 3
    p = find_patterns(adj, ["x", "y", "z"])
    rows = {(r.a, r.b): r for r in p.itertuples()}
    assert rows[(0, 1)].pattern == "universal mixed"
    assert rows[(1, 2)].pattern == "model-specific symmetric" and rows[(1, 2)].z == "none"
    assert len(p) == 2
    with pytest.raises(InputError, match="expected"):
        find_patterns(adj, ["x", "y"])


def test_homogeneity_drops_classes_without_errors_and_equals_scipy(hand):
    h = hand.homogeneity
    assert h.dropped_classes.tolist() == [2] and h.kept_classes.tolist() == [0, 1, 3]
    ref = stats.chi2_contingency(np.array([[3, 2, 1], [2, 2, 1]]))
    assert h.test.statistic == pytest.approx(ref.statistic)
    assert (h.test.dof, h.test.p) == (ref.dof, pytest.approx(ref.pvalue))
    d = h.to_dict()
    assert d["dropped_classes"] == [2] and d["dof"] == 2 and d["share_expected_below_5"] == 1.0


def test_homogeneity_undefined_cases():
    assert error_homogeneity(np.array([[1, 2]]), ["a"]).undefined == "needs at least two models"
    h = error_homogeneity(np.array([[0, 0, 0], [1, 0, 2]]), ["a", "b"])
    assert h.test is None and h.dropped_models == ("a",) and "fewer than two models" in h.undefined
    h = error_homogeneity(np.array([[0, 3], [0, 2]]), ["a", "b"])
    assert h.test is None and "two classes" in h.undefined and h.to_dict()["chi2"] is None


def test_class_without_images_and_unknown_labels():
    labels = np.array([0, 0, 1, -1, 1])
    top1 = np.array([[1], [0], [1], [2], [-1]])  # last: a labelled image without a prediction
    mc = analyze_confusion(labels, top1, ("m",), 3).models["m"]
    assert mc.counts.sum() == 3 and mc.unpredicted == 1
    assert np.isnan(mc.u[2]) and not np.isnan(mc.v).any() and mc.v[2].tolist() == [0, 0, 0]
    assert mc.to_dict()["u"] == [0.5, 0.0, None]


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 7), st.lists(st.tuples(st.integers(-1, 6), st.integers(-1, 6)), min_size=1,
                                   max_size=80), st.floats(0, 1))
def test_invariants(c, pairs, threshold):
    labels = np.array([min(a, c - 1) for a, _ in pairs])
    pred = np.array([min(b, c - 1) for _, b in pairs])
    res = analyze_confusion(labels, pred[:, None], ("m",), c, threshold=threshold)
    mc = res.models["m"]
    known = (labels >= 0) & (pred >= 0)
    assert mc.counts.sum() == known.sum()
    if known.any():
        np.testing.assert_array_equal(mc.counts, sk_confusion_matrix(labels[known], pred[known],
                                                                     labels=np.arange(c)))
    has = mc.n > 0
    assert ((mc.u[has] >= 0) & (mc.u[has] <= 1)).all() and np.isnan(mc.u[~has]).all()
    assert ((mc.v >= 0) & (mc.v <= 1)).all() and (np.diag(mc.v) == 0).all()
    np.testing.assert_allclose(mc.v.sum(axis=1), (mc.errors > 0).astype(float))
    assert (mc.v[mc.adjacency] >= threshold).all() and (mc.v[mc.adjacency] > 0).all()
    np.testing.assert_allclose(mc.in_degree, np.where(mc.adjacency, mc.v, 0).sum(axis=0))
    assert len(res.patterns) == np.triu(mc.adjacency | mc.adjacency.T, 1).sum()


def test_top_confusions_worst_classes_and_most_confused(hand):
    a = hand.models["A"]
    top = top_confusions(a, 2, class_names=NAMES)
    # equal counts: the higher v (dog -> cat, 2 of 2 errors) comes first
    assert top[["true_name", "predicted_name", "count"]].values.tolist() == [["dog", "cat", 2],
                                                                             ["cat", "dog", 2]]
    by_v = top_confusions(a, 3, by="v")
    assert by_v[["true", "predicted"]].values.tolist() == [[1, 0], [3, 2], [0, 1]]
    worst = worst_classes(a, 2, class_names=NAMES)
    assert worst["name"].tolist() == ["cat", "dog"] and worst["top_target_name"].tolist() == ["dog", "cat"]
    counts = np.stack([m.counts for m in hand.models.values()])
    assert most_confused_classes(counts, 2).tolist() == [0, 1]
    assert sorted(most_confused_classes(counts, 10).tolist()) == [0, 1, 2, 3]
    top_pairs = hand.top_pairs(2)
    assert top_pairs[["true", "predicted", "total", "A", "B"]].values.tolist() == [[0, 1, 4, 2, 2],
                                                                                  [1, 0, 3, 2, 1]]


def test_network_graph(hand):
    g = misclassification_network(hand.models["B"], NAMES)
    assert g.number_of_nodes() == 4 and g.number_of_edges() == 4
    assert g.nodes[2]["name"] == "frog" and g.nodes[2]["in_degree"] == pytest.approx(1.5)
    assert g.edges[1, 2]["weight"] == pytest.approx(0.5) and g.edges[1, 2]["count"] == 1


def test_confusion_matrix_rejects_bad_input():
    with pytest.raises(InputError, match="equal length"):
        confusion_matrix(np.array([0, 1]), np.array([0]), 2)
    with pytest.raises(InputError, match="number of classes"):
        confusion_matrix(np.array([0, 2]), np.array([0, 1]), 2)
    with pytest.raises(InputError, match="threshold"):
        analyze_confusion(LABELS, PRED_A[:, None], ("A",), 4, threshold=1.5)


def test_class_pairs_parsing():
    names = ["cat", "dog", "crane", "crane"]
    assert check_class_pairs("cat:dog, dog:cat,0:2", names, "--group-a") == [(0, 1), (1, 0), (0, 2)]
    for text, msg in (("cat:crane", "shared by classes 2, 3"), ("cat-dog", "not a pair"),
                      ("cat:cow", "'cow' in 'cat:cow' is neither"), ("cat:0", "with itself"),
                      (",", "no pairs")):
        with pytest.raises(InputError, match=msg):
            check_class_pairs(text, names, "--group-a")


def test_scores_hand_computed():
    labels = np.array([0, 0, 1, 1, 2, 2])
    topk = np.array([[1, 0], [1, 2], [0, 1], [1, 0], [0, 2], [1, 2]])
    tprobs = np.array([[.6, .4], [.7, .2], [.8, .2], [.9, .1], [.5, .5], [.6, .3]])
    true_s, pred_s = class_scores(labels, topk, tprobs)
    # image 1: true class 0 outside the stored top-2; image 3 is correct
    np.testing.assert_allclose(true_s, [.4, np.nan, .2, np.nan, .5, .3])
    np.testing.assert_allclose(pred_s, [.6, .7, .8, np.nan, .5, .6])
    sa = analyze_scores("m", labels, topk[:, 0], true_s, pred_s, 3, group_a=[(0, 1), (1, 0)],
                        group_b=[(2, 0), (2, 1)])
    assert (sa.errors, sa.scored, sa.outside_topk, sa.no_scores) == (5, 4, 1, 0)
    np.testing.assert_allclose(sa.ratio, [.4 / .6, .2 / .8, 1, .3 / .6])
    np.testing.assert_allclose(sa.difference, [-.2, -.6, 0, -.3])
    assert sa.in_a.tolist() == [True, True, False, False] and sa.outside_a == 1 and sa.outside_b == 0
    ratio = sa.comparisons[0]
    for test, equal_var in ((ratio.pooled, True), (ratio.welch, False)):
        ref = stats.ttest_ind([.4 / .6, .2 / .8], [1, .5], equal_var=equal_var)
        assert test.statistic == pytest.approx(ref.statistic) and test.p == pytest.approx(ref.pvalue)
    # full probabilities win over the top-k and know every class
    probs = np.full((6, 3), 0.1)
    probs[np.arange(6), topk[:, 0]] = 0.8
    true_f, _ = class_scores(labels, topk, tprobs, probs)
    assert true_f[1] == pytest.approx(0.1)
    # no probabilities at all
    sa = analyze_scores("m", labels, topk[:, 0], *class_scores(labels, topk, None), 3)
    assert (sa.scored, sa.no_scores, sa.in_a) == (0, 5, None)
    with pytest.raises(InputError, match="both"):
        analyze_scores("m", labels, topk[:, 0], true_s, pred_s, 3, group_a=[(0, 1)])


@pytest.fixture
def hand_store(tmp_path) -> Store:
    samples = pd.DataFrame({"sample_id": [f"img{i}" for i in range(len(LABELS))], "label": LABELS})
    store = Store.create(tmp_path / "store", samples=samples, classes=pd.DataFrame({"name": NAMES}))
    rng = np.random.default_rng(0)
    for name, pred in (("A", PRED_A), ("B", PRED_B)):
        probs = rng.dirichlet(np.ones(4), size=len(pred))
        probs[np.arange(len(pred)), pred] += 2
        probs /= probs.sum(axis=1, keepdims=True)
        order = np.argsort(-probs, axis=1, kind="stable")[:, :2]
        order[:, 0] = pred
        store.write_model(name, order, np.take_along_axis(probs, order, axis=1), probs=probs)
    return store


def test_cli_json_and_graphml(hand_store, tmp_path, capsys, hand):
    out, gdir = tmp_path / "c.json", tmp_path / "nets"
    code, stdout, err = run_cli(["confusion", "--store", hand_store.path, "--threshold", "0.4",
                                 "--json", out, "--graphml", gdir, "--group-a", "cat:dog,dog:cat",
                                 "--group-b", "bird:frog,1:2"], capsys)
    assert code == 0, err
    assert "A: worst classes" in stdout and "Chi-squared homogeneity" in stdout
    d = json.loads(out.read_text())
    assert set(d) >= {"models", "patterns", "homogeneity", "scores", "groups"}
    for name in ("A", "B"):
        mc = hand.models[name]
        got = d["models"][name]
        np.testing.assert_allclose(got["u"], mc.u)
        np.testing.assert_allclose(got["v"], mc.v)
        np.testing.assert_allclose(got["in_degree"], mc.in_degree)
        edges = [(e["source"], e["target"]) for e in got["edges"]]
        assert edges == list(zip(mc.edges["source"], mc.edges["target"], strict=True))
        assert sum(c[2] for c in got["counts"]) == 14
    assert [(p["a"], p["b"], p["pattern"]) for p in d["patterns"]] == [
        (0, 1, "universal symmetric"), (2, 3, "universal one-way"), (1, 2, "model-specific one-way")]
    assert d["homogeneity"]["dof"] == 2 and d["homogeneity"]["dropped_classes"] == [2]
    assert d["groups"] == {"a": [[0, 1], [1, 0]], "b": [[3, 2], [1, 2]]}
    assert d["scores"]["A"]["scored"] == 6 and len(d["scores"]["A"]["comparisons"]) == 2
    g = nx.read_graphml(gdir / "B.graphml")
    assert g.number_of_edges() == 4 and g.nodes["2"]["name"] == "frog"


def test_cli_errors(hand_store, capsys):
    code, _, err = run_cli(["confusion", "--store", hand_store.path, "--group-a", "cat:dog"], capsys)
    assert code == 2 and "go together" in err
    code, _, err = run_cli(["confusion", "--store", hand_store.path, "--group-a", "cat:cow",
                            "--group-b", "dog:cat"], capsys)
    assert code == 2 and "'cow'" in err
    code, _, err = run_cli(["confusion", "--store", hand_store.path, "--model", "nope"], capsys)
    assert code == 2 and "not in the store" in err
    code, out, _ = run_cli(["confusion", "--help"], capsys)
    assert code == 0 and "Example: misclass confusion" in out


def test_report_section(hand_store, tmp_path):
    from misclass.report.build import build_report

    index = build_report(hand_store, tmp_path / "report", only=["confusion"],
                         options={"threshold": 0.4, "top_classes": 3, "group_a": "cat:dog,dog:cat",
                                  "group_b": "bird:frog"})
    html = index.read_text()
    assert "Where each model fails" in html and "universal symmetric" in html and "χ² =" in html
    figs = {p.name for p in (tmp_path / "report" / "figures").iterdir()}
    for stem in ("confusion-heatmap-A", "confusion-network-B", "confusion-scores-A"):
        assert f"{stem}.png" in figs and f"{stem}.svg" not in figs  # SVG only with --svg


@pytest.mark.slow
def test_real_imagenet_seven_models(tmp_path, capsys):
    folder = require_imagenet_timm()
    pytest.importorskip("imagenet_x", reason="--labels imagenet-val needs misclass[imagenet]")
    store = tmp_path / "inet"
    code, _, err = run_cli(["import", "timm-csv", *sorted(folder.glob("*.csv")), "--labels", "imagenet-val",
                            "--store", store], capsys)
    assert code == 0, err
    start = time.perf_counter()
    code, stdout, err = run_cli(["confusion", "--store", store, "--json", tmp_path / "c.json"], capsys)
    elapsed = time.perf_counter() - start
    assert code == 0, err
    assert elapsed < 10, f"misclass confusion took {elapsed:.1f} s on 7 x 1000 classes"
    d = json.loads((tmp_path / "c.json").read_text())
    assert len(d["models"]) == 7 and len(d["classes"]) == 1000
    m = d["models"]["convit_small"]
    assert m["accuracy"] == pytest.approx(0.8141, abs=1e-4)  # the README's figure
    assert len(m["v"]) == 1000 and sum(m["n"]) == 50000
    rows = np.array(m["v"]).sum(axis=1)
    np.testing.assert_allclose(rows, (np.array(m["errors"]) > 0).astype(float))
    laptop = next(p for p in d["patterns"] if {p["a_name"], p["b_name"]} == {"laptop", "notebook"})
    assert laptop["pattern"] == "universal symmetric"
    assert d["homogeneity"]["dof"] == 6 * (1000 - len(d["homogeneity"]["dropped_classes"]) - 1)


@pytest.mark.slow
def test_demo_report_has_the_section(demo_dirs):
    _, report = demo_dirs  # the session's demo run, shared with test_demo_report.py
    html = (report / "index.html").read_text()
    assert "Where each model fails" in html and "Conditional confusion v(j|i)" in html
    assert (report / "figures" / "confusion-heatmap-svm-rbf.png").exists()
    assert (report / "figures" / "confusion-network-naive-bayes.png").exists()
