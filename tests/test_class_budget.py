"""Stores with many classes: confusion counted on the non-zero cells (no dense C x C matrix),
and a memory budget with one clear error for the dense matrices that are asked for."""

import json

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from helpers import run_cli
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from misclass import MemoryBudgetError, Store
from misclass.analysis import budget
from misclass.analysis.confusion import (
    analyze_confusion,
    class_error_rate,
    conditional_confusion,
    confusion_cells,
    confusion_matrix,
    find_patterns,
    most_confused_classes,
    network_edges,
    top_confusions,
    weighted_in_degree,
    worst_classes,
)
from misclass.errors import InputError

MANY, MILLION = 20_000, 1_000_000


def _make_store(path, n_classes: int, n: int, *, seed: int, models: int = 2) -> tuple:
    """Random labels; each model right on about half the images, else a random class."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, n)
    samples = pd.DataFrame({"sample_id": [f"s{i}" for i in range(n)], "label": labels})
    store = Store.create(path, samples=samples,
                         classes=pd.DataFrame({"name": [f"class{i}" for i in range(n_classes)]}))
    top1 = np.where(rng.random((n, models)) < 0.5, labels[:, None], rng.integers(0, n_classes, (n, models)))
    top1[0, 0] = n_classes - 1  # the largest id occurs
    for j in range(models):
        store.write_model(f"m{j}", top1[:, j : j + 1])
    return store, labels, top1


@pytest.fixture(scope="module")
def many(tmp_path_factory):
    return _make_store(tmp_path_factory.mktemp("many") / "store", MANY, 30_000, seed=1)


@pytest.fixture(scope="module")
def million(tmp_path_factory):
    return _make_store(tmp_path_factory.mktemp("million") / "store", MILLION, 40, seed=2)


@pytest.fixture(autouse=True)
def default_budget(monkeypatch):
    monkeypatch.delenv(budget.ENV_VAR, raising=False)


# --------------------------------------------------------------------------- the budget
def test_budget_sizes_and_environment(monkeypatch):
    assert budget.parse_bytes("4GiB") == 4 * 2**30 and budget.parse_bytes("500 mb") == 500 * 10**6
    assert budget.parse_bytes("123") == 123 and budget.parse_bytes("1.5TiB") == 3 * 2**39
    for bad in ("lots", "4 GiBs", "-1", "0", ""):
        with pytest.raises(InputError, match="MISCLASS_MEMORY_BUDGET"):
            budget.parse_bytes(bad)
    assert budget.memory_budget() == budget.DEFAULT_BUDGET == 2 * 2**30
    monkeypatch.setenv(budget.ENV_VAR, "1KiB")
    assert budget.memory_budget() == 1024
    assert budget.format_bytes(budget.dense_bytes(MILLION)) == "7.28 TiB"
    assert budget.format_bytes(512) == "512 B" and budget.format_bytes(3 * 2**30) == "3 GiB"


def test_dense_request_on_a_million_classes_is_one_clear_error():
    labels = np.array([0, 5, 999_999, 7])
    res = analyze_confusion(labels, np.array([[0], [999_999], [5], [7]]), ("m",), MILLION)
    mc = res.models["m"]
    assert mc.n.sum() == 4 and mc.errors.sum() == 2 and mc.n_edges == 2  # no dense matrix needed
    for ask in (lambda: mc.v, lambda: mc.counts, lambda: mc.adjacency, lambda: res.to_dict(),
                lambda: confusion_matrix(labels, labels, MILLION)):
        with pytest.raises(MemoryBudgetError) as info:
            ask()
        text = str(info.value)
        assert "1,000,000 x 1,000,000" in text and "over the memory budget of 2 GiB" in text
        assert "MISCLASS_MEMORY_BUDGET" in text and "--top-classes" in text and "\n" not in text
        assert info.value.n_classes == MILLION and info.value.budget == 2 * 2**30
    with pytest.raises(MemoryBudgetError, match="7.28 TiB"):
        confusion_matrix(labels, labels, MILLION)
    assert res.to_dict(include_v=False)["models"]["m"]["counts"] == [[0, 0, 1], [5, 999999, 1],
                                                                     [7, 7, 1], [999999, 5, 1]]


def test_budget_from_the_environment_refuses_small_dense_matrices(monkeypatch):
    labels = np.arange(20) % 10
    mc = analyze_confusion(labels, labels[::-1, None], ("m",), 10).models["m"]
    assert mc.v.shape == (10, 10)
    monkeypatch.setenv(budget.ENV_VAR, "100B")  # 10 x 10 float64 is 800 bytes
    with pytest.raises(MemoryBudgetError, match="800 B, over the memory budget of 100 B"):
        _ = mc.v


# --------------------------------------------------------------------------- sparse = dense
def _dense_top_pairs(counts: np.ndarray, k: int) -> list:
    total = counts.sum(axis=0)
    np.fill_diagonal(total, 0)
    src, dst = np.nonzero(total)
    order = np.lexsort((dst, src, -total[src, dst]))[:k]
    return [[int(s), int(d), int(total[s, d]), *counts[:, s, d].tolist()]
            for s, d in zip(src[order], dst[order], strict=True)]


def _dense_top_confusions(counts: np.ndarray, v: np.ndarray, adjacency: np.ndarray, k: int) -> list:
    off = counts.copy()
    np.fill_diagonal(off, 0)
    src, dst = np.nonzero(off)
    order = np.lexsort((dst, src, -v[src, dst], -off[src, dst]))[:k]
    return [[int(s), int(d), int(off[s, d]), float(v[s, d]), bool(adjacency[s, d])]
            for s, d in zip(src[order], dst[order], strict=True)]


def _check_sparse_equals_dense(labels: np.ndarray, top1: np.ndarray, c: int, threshold: float) -> None:
    models = [f"m{j}" for j in range(top1.shape[1])]
    res = analyze_confusion(labels, top1, models, c, threshold=threshold)
    dense_counts = []
    for j, mc in enumerate(res.models.values()):
        counts = confusion_matrix(labels, top1[:, j], c)  # the dense path, definition by definition
        v = conditional_confusion(counts)
        adjacency = network_edges(v, threshold)
        dense_counts.append(counts)
        np.testing.assert_array_equal(mc.counts, counts)
        np.testing.assert_array_equal(mc.n, counts.sum(axis=1))
        np.testing.assert_array_equal(mc.u, class_error_rate(counts))
        np.testing.assert_array_equal(mc.v, v)
        np.testing.assert_array_equal(mc.adjacency, adjacency)
        np.testing.assert_allclose(mc.in_degree, weighted_in_degree(v, adjacency), rtol=1e-12, atol=0)
        assert mc.n_edges == adjacency.sum()
        assert mc.symmetric_pairs == np.triu(adjacency & adjacency.T, 1).sum()
        total = counts.sum()
        assert (np.isnan(mc.accuracy) and total == 0) or mc.accuracy == np.trace(counts) / total
        rows = np.arange(c)[::-1][: max(1, c // 2)]
        np.testing.assert_array_equal(mc.v_block(rows, np.arange(c)), v[rows])
        got = top_confusions(mc, 6)[["true", "predicted", "count", "v", "edge"]].values.tolist()
        assert got == _dense_top_confusions(counts, v, adjacency, 6)
        worst = worst_classes(mc, c)
        err = worst["errors"].to_numpy() > 0
        ids = worst["class"].to_numpy()
        assert (worst["top_target"].to_numpy()[err] == v[ids[err]].argmax(axis=1)).all()
        assert (worst["top_target"].to_numpy()[~err] == -1).all()
        np.testing.assert_array_equal(worst["top_v"].to_numpy()[err], v[ids[err]].max(axis=1))
        true, pred, count = confusion_cells(labels, top1[:, j], c)
        np.testing.assert_array_equal(counts[true, pred], count)
        assert (count > 0).all() and len(count) == np.count_nonzero(counts)
    stack = np.stack(dense_counts)
    adj = np.stack([network_edges(conditional_confusion(x), threshold) for x in dense_counts])
    pd.testing.assert_frame_equal(res.patterns, find_patterns(adj, models, counts=stack))
    top = res.top_pairs(8)
    assert top[["true", "predicted", "total", *models]].values.tolist() == _dense_top_pairs(stack, 8)
    for n in (1, 3, c, c + 2):
        np.testing.assert_array_equal(res.most_confused(n), most_confused_classes(stack, n))


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 9), st.integers(1, 3), st.integers(0, 60), st.integers(0, 2**32 - 1),
       st.sampled_from([0.0, 0.2, 0.3, 0.5, 1.0]))
def test_sparse_path_equals_dense_path(c, m, n, seed, threshold):
    rng = np.random.default_rng(seed)
    labels = rng.integers(-1, c, n)
    top1 = np.where(rng.random((n, m)) < 0.4, labels[:, None], rng.integers(-1, c, (n, m)))
    _check_sparse_equals_dense(labels, top1, c, threshold)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sparse_path_equals_dense_path_on_300_classes(seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 300, 5000)
    near = (labels[:, None] + rng.integers(-3, 4, (5000, 3))) % 300  # confusions between neighbours
    top1 = np.where(rng.random((5000, 3)) < 0.6, labels[:, None], near)
    _check_sparse_equals_dense(labels, top1, 300, 0.3)


def test_hand_computed_cells():
    # 7 images of 4 classes (class 3 has none); model: 0->0, 0->1, 0->1, 1->0, 1->2, 2->2, 2->1
    labels = np.array([0, 0, 0, 1, 1, 2, 2])
    pred = np.array([0, 1, 1, 0, 2, 2, 1])
    mc = analyze_confusion(labels, pred[:, None], ("m",), 4, threshold=0.6).models["m"]
    cells = np.column_stack([mc.cell_true, mc.cell_pred, mc.cell_count]).tolist()
    assert cells == [[0, 0, 1], [0, 1, 2], [1, 0, 1], [1, 2, 1], [2, 1, 1], [2, 2, 1]]
    assert mc.cell_v.tolist() == [0.0, 1.0, 0.5, 0.5, 1.0, 0.0]
    assert mc.n.tolist() == [3, 2, 2, 0] and mc.errors.tolist() == [2, 2, 1, 0]
    assert mc.u[:3].tolist() == [2 / 3, 1.0, 0.5] and np.isnan(mc.u[3])
    # edges at v >= 0.6: 0->1 (1.0) and 2->1 (1.0); 1's errors split 0.5 / 0.5
    assert mc.edges[["source", "target"]].values.tolist() == [[0, 1], [2, 1]]
    assert mc.in_degree.tolist() == [0.0, 2.0, 0.0, 0.0] and mc.symmetric_pairs == 0
    assert mc.v_block([1, 3], [0, 2]).tolist() == [[0.5, 0.5], [0.0, 0.0]]
    assert mc.count_at([0, 1, 3], [1, 1, 3]).tolist() == [2, 0, 0]
    target, v = mc.top_targets([0, 1, 2, 3])
    assert target.tolist() == [1, 0, 1, -1] and v.tolist() == [1.0, 0.5, 1.0, 0.0]  # tie 1->0 / 1->2: 0


# --------------------------------------------------------------------------- 20,000 classes
def test_confusion_of_20000_classes(many, tmp_path, capsys):
    store, labels, top1 = many
    out = tmp_path / "c.json"
    code, stdout, err = run_cli(["confusion", "--store", store.path, "--json", out], capsys)
    assert code == 0, err
    assert "m1: worst classes" in stdout and "Chi-squared homogeneity" in stdout
    d = json.loads(out.read_text())
    note = ("conditional confusion v(j|i) in the JSON: 2 dense 20,000 x 20,000 matrices (one per model) "
            "would take 5.96 GiB, over the memory budget of 2 GiB (MISCLASS_MEMORY_BUDGET)")
    assert d["notes"][0].startswith(note) and "v_cells" in d["notes"][0]
    assert note in " ".join(stdout.split())
    wrong = top1 != labels[:, None]
    n = np.bincount(labels, minlength=MANY)
    for j, name in enumerate(("m0", "m1")):
        m = d["models"][name]
        assert "v" not in m and len(m["u"]) == MANY
        errors = np.bincount(labels[wrong[:, j]], minlength=MANY)
        assert m["errors"] == errors.tolist() and m["n"] == n.tolist()
        u = np.array([np.nan if x is None else x for x in m["u"]])
        np.testing.assert_array_equal(u, np.where(n > 0, errors / np.maximum(n, 1), np.nan))
        cells = np.array(m["v_cells"])
        assert len(cells) == len(np.unique(labels[wrong[:, j]] * MANY + top1[wrong[:, j], j]))
        np.testing.assert_allclose(np.bincount(cells[:, 0].astype(int), weights=cells[:, 2], minlength=MANY),
                                   (errors > 0).astype(float))
    table = np.stack([np.bincount(labels[wrong[:, j]], minlength=MANY) for j in range(2)])
    ref = stats.chi2_contingency(table[:, table.sum(axis=0) > 0], correction=False)
    h = d["homogeneity"]
    assert h["dof"] == ref.dof and h["chi2"] == pytest.approx(ref.statistic)
    # the most frequent confusions over both models, against a direct count of the pairs
    res = analyze_confusion(labels, top1, ("m0", "m1"), MANY)
    codes = np.concatenate([labels[wrong[:, j]] * MANY + top1[wrong[:, j], j] for j in range(2)])
    keys, counts = np.unique(codes, return_counts=True)
    order = np.lexsort((keys, -counts))[:20]
    top = res.top_pairs(20)
    assert top["total"].tolist() == counts[order].tolist()
    assert (top["true"] * MANY + top["predicted"]).tolist() == keys[order].tolist()


def test_dense_v_json_within_budget_and_cells_beyond(tmp_path, capsys, monkeypatch):
    store, _, _ = _make_store(tmp_path / "small", 12, 300, seed=3)
    code, _, err = run_cli(["confusion", "--store", store.path, "--json", tmp_path / "dense.json"], capsys)
    assert code == 0, err
    dense = json.loads((tmp_path / "dense.json").read_text())
    monkeypatch.setenv(budget.ENV_VAR, "1KiB")  # 2 x 12 x 12 float64 = 2.25 KiB
    code, _, err = run_cli(["confusion", "--store", store.path, "--json", tmp_path / "cells.json"], capsys)
    assert code == 0, err
    cells = json.loads((tmp_path / "cells.json").read_text())
    assert "notes" not in dense and "over the memory budget of 1 KiB" in cells["notes"][0]
    for name in ("m0", "m1"):
        v = np.array(dense["models"][name]["v"])
        got = np.zeros_like(v)
        for i, j, x in cells["models"][name]["v_cells"]:
            got[i, j] = x
        np.testing.assert_array_equal(got, v)
    monkeypatch.setenv(budget.ENV_VAR, "plenty")
    code, _, err = run_cli(["confusion", "--store", store.path, "--json", tmp_path / "x.json"], capsys)
    assert code == 2 and "MISCLASS_MEMORY_BUDGET='plenty'" in err and len(err.strip().splitlines()) == 1


# --------------------------------------------------------------------------- a million classes
MILLION_NOTE = ("2 dense 1,000,000 x 1,000,000 matrices (one per model) would take 14.55 TiB, over the "
                "memory budget")


def test_confusion_of_a_million_classes(million, tmp_path, capsys):
    store, labels, top1 = million
    out = tmp_path / "c.json"
    code, stdout, err = run_cli(["confusion", "--store", store.path, "--json", out], capsys)
    assert code == 0, err
    assert MILLION_NOTE in " ".join(stdout.split())
    d = json.loads(out.read_text())
    assert MILLION_NOTE in d["notes"][0]
    assert sum(d["models"]["m0"]["n"]) == 40 and len(d["models"]["m0"]["errors"]) == MILLION
    assert any(c[1] == MILLION - 1 for c in d["models"]["m0"]["v_cells"])  # the largest id


@pytest.mark.slow
@pytest.mark.parametrize(("store", "note", "extra"), [
    ("many", "2 dense 20,000 x 20,000 matrices (one per model) would take 5.96 GiB, over the memory budget "
     "of 2 GiB", "Showing 20,000 of "),  # of the linked pairs
    ("million", MILLION_NOTE, "Showing 20,000 of 1,000,000 rows"),
], ids=["20000-classes", "million-classes"])
def test_report_of_a_large_store(store, note, extra, request, tmp_path, capsys):
    path = request.getfixturevalue(store)[0].path
    code, _, err = run_cli(["report", "--store", path, "--out", tmp_path / "r"], capsys)
    assert code == 0, err
    html = (tmp_path / "r" / "index.html").read_text()
    section = html[html.index('<section id="confusion"'):html.index('<section id="crossmodel"')]
    assert f"conditional confusion v(j|i) of all classes: {note}" in section and extra in section
    assert "heatmaps show the 30 most-confused classes" in section and "χ² =" in section
    assert (tmp_path / "r" / "figures" / "confusion-heatmap-m0.png").exists()


def test_report_section_over_the_budget_becomes_a_note(million, tmp_path, monkeypatch):
    import misclass.analysis.confusion as analysis
    from misclass.report.build import build_report

    def dense(*args, **kwargs):
        return confusion_matrix(np.array([0]), np.array([0]), MILLION)

    monkeypatch.setattr(analysis, "analyze_confusion", dense)  # what the confusion workflow calls
    store, _, _ = million
    html = build_report(store, tmp_path / "r", only=["summary", "confusion"]).read_text()
    assert "confusion (not built)" in html and "1,000,000 x 1,000,000 matrix would take 7.28 TiB" in html
    assert "Models" in html  # the other sections are built


def test_graphml_of_a_million_classes_is_refused_unless_restricted(million, tmp_path, capsys):
    store, _, _ = million
    nets = tmp_path / "nets"
    code, stdout, err = run_cli(["confusion", "--store", store.path, "--graphml", nets], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and not nets.exists() and not stdout
    text = " ".join(err.split())
    assert ("--graphml networks: a network of 1,000,000 classes would take 3.81 GiB, over the memory budget "
            "of 2 GiB (MISCLASS_MEMORY_BUDGET); restrict the classes with --classes N") in text
    code, _, err = run_cli(["confusion", "--store", store.path, "--graphml", nets, "--classes", "20",
                            "--json", tmp_path / "c.json"], capsys)
    assert code == 0, err
    d = json.loads((tmp_path / "c.json").read_text())
    assert len(d["v_classes"]) == 20 and "notes" not in d
    g = nx.read_graphml(nets / "m0.graphml")
    assert sorted(int(x) for x in g.nodes) == d["v_classes"]


def test_classes_option_restricts_networks_and_dense_v(tmp_path, capsys):
    store, labels, top1 = _make_store(tmp_path / "small", 12, 300, seed=4)
    out, nets = tmp_path / "c.json", tmp_path / "nets"
    code, _, err = run_cli(["confusion", "--store", store.path, "--classes", "class3, 7,class3,0",
                            "--graphml", nets, "--json", out], capsys)
    assert code == 0, err
    d = json.loads(out.read_text())
    assert d["v_classes"] == [0, 3, 7]
    res = analyze_confusion(labels, top1, ("m0", "m1"), 12)
    for name, mc in res.models.items():
        np.testing.assert_array_equal(d["models"][name]["v"], mc.v[np.ix_([0, 3, 7], [0, 3, 7])])
        g = nx.read_graphml(nets / f"{name}.graphml")
        assert sorted(int(x) for x in g.nodes) == [0, 3, 7]
        edges = {(int(a), int(b)) for a, b in g.edges}
        assert edges == {(a, b) for a, b in zip(mc.edges["source"], mc.edges["target"], strict=True)
                         if a in (0, 3, 7) and b in (0, 3, 7)}
        assert len(d["models"][name]["u"]) == 12  # the tables stay over all classes
    most = res.most_confused(4)
    code, _, err = run_cli(["confusion", "--store", store.path, "--classes", "4", "--json", out], capsys)
    assert code == 0, err
    assert json.loads(out.read_text())["v_classes"] == sorted(most.tolist())
    for bad, msg in (("0", "expected a number of classes >= 1"), ("class3,cow", "unknown class: 'cow'"),
                     (",", "no classes given")):
        code, _, err = run_cli(["confusion", "--store", store.path, "--classes", bad], capsys)
        assert code == 2 and msg in err, err
