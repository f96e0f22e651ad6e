"""``misclass.confusion``: the same JSON as ``misclass confusion --json`` (dense v within the
memory budget, non-zero cells beyond it), tables as DataFrames indexed by class and model
names, and a report that analyses every model as the command does."""

from __future__ import annotations

import json
import re

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from helpers import report_table_after, run_cli

import misclass
from misclass import Store
from misclass.analysis import budget
from misclass.errors import InputError, MemoryBudgetError, StoreError
from misclass.workflows.confusion import ConfusionResult


@pytest.fixture(autouse=True)
def default_budget(monkeypatch):
    monkeypatch.delenv(budget.ENV_VAR, raising=False)


def _cli_json(capsys, tmp_path, store, *options) -> dict:
    out = tmp_path / "confusion.json"
    code, _, err = run_cli(["confusion", "--store", store, *options, "--json", out], capsys)
    assert code == 0, err
    return json.loads(out.read_text())


# --------------------------------------------------------------------------- workflow == CLI
def test_workflow_equals_the_cli_json_on_the_demo_store(demo_dirs, tmp_path, capsys):
    store, _ = demo_dirs
    res = misclass.confusion(store)
    assert isinstance(res, ConfusionResult)
    cli = _cli_json(capsys, tmp_path, store)
    assert res.to_dict() == cli
    assert all("v" in m and "v_cells" not in m for m in cli["models"].values()) and "notes" not in cli

    nets = tmp_path / "nets"
    cli = _cli_json(capsys, tmp_path, store, "-m", "svm-rbf", "-m", "knn", "-m", "naive-bayes",
                    "--threshold", "0.2", "--top-classes", "3", "--group-a", "3:5,5:3", "--group-b", "8:1",
                    "--classes", "4", "--graphml", nets)
    res = misclass.confusion(store, models=["svm-rbf", "knn", "naive-bayes"], threshold=0.2, top_classes=3,
                             group_a="3:5,5:3", group_b="8:1", classes=4)
    assert res.graphml is None and "graphml" not in res.to_dict()
    written = res.write_graphml(nets)  # the same files the command wrote
    assert written.to_dict() == cli
    assert list(cli["models"]) == ["svm-rbf", "knn", "naive-bayes"] and len(cli["v_classes"]) == 4
    assert cli["graphml"] == {m: str(nets / f"{m}.graphml") for m in cli["models"]}
    # the Python forms of the options give the same result
    names = misclass.open_store(store).class_names()
    same = misclass.confusion(store, models=["svm-rbf", "knn", "naive-bayes"], threshold=0.2,
                              group_a=[(names[3], 5), ("5", names[3])], group_b=[(8, 1)],
                              classes=[names[c] if c % 2 else c for c in cli["v_classes"]])
    assert same.write_graphml(nets).to_dict() == cli


def test_dense_v_within_the_budget_and_cells_beyond_as_the_cli(demo_dirs, tmp_path, capsys, monkeypatch):
    store, _ = demo_dirs
    dense = misclass.confusion(store).to_dict()
    monkeypatch.setenv(budget.ENV_VAR, "8KiB")  # 11 models x 10 x 10 float64 = 8800 bytes
    res = misclass.confusion(store)
    cli = _cli_json(capsys, tmp_path, store)
    assert res.to_dict() == cli
    assert res.notes == tuple(cli["notes"]) and "over the memory budget of 8 KiB" in cli["notes"][0]
    for name, m in cli["models"].items():
        assert "v" not in m
        v = np.zeros((10, 10))
        for i, j, x in m["v_cells"]:
            v[i, j] = x
        np.testing.assert_array_equal(v, dense["models"][name]["v"])
    # --classes asks for a dense block: within the budget it is written, beyond it refused
    cli = _cli_json(capsys, tmp_path, store, "--classes", "3")
    assert misclass.confusion(store, classes=3).to_dict() == cli
    monkeypatch.setenv(budget.ENV_VAR, "100B")
    with pytest.raises(MemoryBudgetError, match="give fewer --classes"):
        misclass.confusion(store, classes=3).to_dict()


@pytest.mark.slow
def test_workflow_equals_the_cli_json_on_seven_imagenet_models(imagenet_timm_store, tmp_path, capsys):
    cli = _cli_json(capsys, tmp_path, imagenet_timm_store)
    res = misclass.confusion(imagenet_timm_store)
    assert res.to_dict() == cli
    assert len(cli["models"]) == 7 and len(cli["models"]["convit_small"]["v"]) == 1000
    u = res.class_error_rate()
    assert u.shape == (1000, 7) and list(u.index) == cli["classes"] and list(u.columns) == list(cli["models"])
    laptop = cli["classes"].index("laptop")
    assert u.loc["laptop", "convit_small"] == cli["models"]["convit_small"]["u"][laptop]
    pattern = res.universal_patterns().loc[("laptop", "notebook")]
    assert pattern["pattern"] == "universal symmetric"
    assert res.chi_squared().iloc[0]["chi2"] == cli["homogeneity"]["chi2"]
    crane = res.u_table().loc["crane", "class_index"]  # two ImageNet classes share the name
    assert sorted(crane.tolist()) == [i for i, n in enumerate(cli["classes"]) if n == "crane"]


# --------------------------------------------------------------------------- tables
def test_tables_are_indexed_by_class_and_model_names(demo_dirs):
    store, _ = demo_dirs
    s = misclass.open_store(store)
    res = misclass.confusion(s, group_a="3:5,5:3", group_b="8:1")
    d = res.to_dict()
    models, classes = list(s.model_names()), s.class_names()
    assert list(res.models) == models and list(res.class_names) == classes
    for table in (res.class_error_rate(), res.class_errors()):
        assert list(table.index) == classes and list(table.columns) == models
    for m in models:
        np.testing.assert_array_equal(res.class_error_rate()[m].to_numpy(dtype=float),
                                      [np.nan if x is None else x for x in d["models"][m]["u"]])
        assert res.class_errors()[m].tolist() == d["models"][m]["errors"]
    frame = res.to_frame()
    assert list(frame.index) == models
    assert frame["accuracy"].tolist() == [d["models"][m]["accuracy"] for m in models]
    assert frame["edges"].tolist() == [len(d["models"][m]["edges"]) for m in models]
    u = res.u_table()
    assert list(u.index) == classes and list(u.columns) == ["class_index", "images", *models, "mean u"]

    top = res.top_pairs(5)
    assert top.index.names == ["true", "predicted"] and len(top) == 5
    (true, predicted), first = top.index[0], top.iloc[0]
    assert classes[first["true_index"]] == true and classes[first["predicted_index"]] == predicted
    assert first["total"] == sum(first[m] for m in models) and top["total"].is_monotonic_decreasing

    pats = res.patterns()
    assert pats.index.names == ["class a", "class b"] and len(pats) == len(d["patterns"])
    assert [list(k) for k in pats.index] == [[p["a_name"], p["b_name"]] for p in d["patterns"]]
    assert list(pats.columns) == ["a_index", "b_index", "n_models", "scope", "kind", "pattern", "errors"]
    cells = res.pattern_cells()
    assert cells.index.equals(pats.index) and list(cells.columns) == models
    assert cells.to_dict("records") == [p["per_model"] for p in d["patterns"]]
    universal = res.universal_patterns()
    assert (universal["n_models"] == len(models)).all()
    assert len(universal) == sum(p["scope"] == "universal" for p in d["patterns"])
    assert res.pattern_cells("universal").index.equals(universal.index)

    chi = res.chi_squared()
    assert chi.index.tolist() == ["homogeneity of class-wise errors"]
    h = d["homogeneity"]
    assert chi.iloc[0]["chi2"] == h["chi2"] and chi.iloc[0]["dof"] == h["dof"] and chi.iloc[0]["p"] == h["p"]
    table = res.chi_squared_table()
    assert table.shape == (len(models) - len(h["dropped_models"]), h["classes_tested"])
    assert (table.to_numpy() == res.class_errors().T.loc[table.index, table.columns].to_numpy()).all()

    m = models[-1]
    worst = res.worst_classes(m)
    assert len(worst) == 10 and worst.index.name == "class" and worst["u"].is_monotonic_decreasing
    assert len(res.worst_classes(m, 3)) == 3
    conf = res.top_confusions(m, by="v")
    assert conf.index.names == ["true", "predicted"] and conf["v"].is_monotonic_decreasing
    v = res.conditional_confusion(m)
    assert list(v.index) == classes and list(v.columns) == classes
    np.testing.assert_array_equal(v.to_numpy(), d["models"][m]["v"])
    assert res.conditional_confusion(m, [3, 5]).shape == (2, 2)

    summary = res.score_summary()
    assert list(summary.index) == models
    assert summary["errors"].tolist() == [d["scores"][x]["errors"] for x in models]
    comparisons = res.score_comparisons()
    assert comparisons.index.names == ["model", "quantity"]
    assert set(comparisons.index.get_level_values("quantity")) == {"ratio", "difference"}
    g = res.network(m)
    assert isinstance(g, nx.DiGraph) and g.number_of_edges() == len(d["models"][m]["edges"])


def test_a_hand_case_and_input_errors(small_store):
    # a: cat 0,1 -> cat, dog; dog 1,0 -> dog, dog; frog -> frog, cat. b: cat, cat; cat, dog; frog, frog
    res = misclass.confusion(small_store, threshold=0.5)
    assert res.class_error_rate().loc["dog"].tolist() == [0.0, 0.5]
    assert res.class_errors().to_numpy().tolist() == [[1, 0], [0, 1], [1, 0]]
    assert res.top_pairs().reset_index()[["true", "predicted", "total"]].values.tolist() == [
        ["cat", "dog", 1], ["dog", "cat", 1], ["frog", "cat", 1]]
    # at v >= 0.5: a links cat -> dog and frog -> cat, b dog -> cat
    pats = res.patterns()
    assert [(*k, p) for k, p in pats["pattern"].items()] == [
        ("cat", "dog", "universal mixed"), ("cat", "frog", "model-specific one-way")]
    cells = res.pattern_cells()  # models named "a" and "b", like the pattern table's old id columns
    assert cells.loc[("cat", "dog")].tolist() == ["a->b", "b->a"] and list(cells.columns) == ["a", "b"]
    assert res.universal_patterns().index.tolist() == [("cat", "dog")]
    assert res.pattern_cells("universal").index.tolist() == [("cat", "dog")]
    d = res.to_dict()
    assert [(p["a"], p["b"], p["per_model"]) for p in d["patterns"]] == [
        (0, 1, {"a": "a->b", "b": "b->a"}), (0, 2, {"a": "b->a", "b": "none"})]
    with pytest.raises(InputError, match="go together"):
        misclass.confusion(small_store, group_a="cat:dog")
    with pytest.raises(InputError, match="'cow'"):
        misclass.confusion(small_store, group_a="cat:cow", group_b="dog:cat")
    with pytest.raises(InputError, match="pairs a class with itself"):
        misclass.confusion(small_store, group_a=[(0, "cat")], group_b=[(1, 0)])
    with pytest.raises(InputError, match="class id 7"):
        misclass.confusion(small_store, classes=[0, 7])
    with pytest.raises(InputError, match="expected a number of classes >= 1"):
        misclass.confusion(small_store, classes=0)
    with pytest.raises(StoreError, match="not in the store"):
        misclass.confusion(small_store, models="nope")
    with pytest.raises(InputError, match="not in this result"):
        res.worst_classes("nope")


# --------------------------------------------------------------------------- report == CLI
N_MODELS, N_CLASSES = 15, 12


def _fifteen_model_store(path) -> Store:
    """15 models of 12 classes, 200 images each: every model confuses 0 <-> 1 and 4 -> 5, only
    the first 12 also 2 -> 3 (so the pair is universal among the first 12 models, not among
    all 15), and each model errs at its own rate per class (so the chi-squared test depends
    on which models it covers); other errors go to a random class."""
    rng = np.random.default_rng(15)
    labels = np.repeat(np.arange(N_CLASSES), 200)
    samples = pd.DataFrame({"sample_id": [f"img{i:05d}" for i in range(len(labels))], "label": labels})
    store = Store.create(path, samples=samples,
                         classes=pd.DataFrame({"name": [f"class{i:02d}" for i in range(N_CLASSES)]}))
    for j in range(N_MODELS):
        wrong = rng.random(len(labels)) < rng.uniform(0.05, 0.4, N_CLASSES)[labels]
        other = (labels + rng.integers(1, N_CLASSES, len(labels))) % N_CLASSES
        for src, dst in {0: 1, 1: 0, 4: 5, **({2: 3} if j < 12 else {})}.items():
            other[labels == src] = dst
        store.write_model(f"model{j:02d}", np.where(wrong, other, labels)[:, None])
    return store


def test_report_and_cli_agree_on_a_15_model_store(tmp_path, capsys):
    store = _fifteen_model_store(tmp_path / "store")
    cli = _cli_json(capsys, tmp_path, store.path)
    code, _, err = run_cli(["report", "--store", store.path, "--out", tmp_path / "report"], capsys)
    assert code == 0, err
    page = (tmp_path / "report" / "index.html").read_text()
    section = page[page.index('<section id="confusion"'):]
    section = section[:section.index("</section>")]
    models = list(cli["models"])
    assert len(models) == N_MODELS

    # the universal patterns: the rows of the report's pattern table linked in every model
    table = report_table_after(section, "<h3>Confusion patterns across models</h3>")
    assert list(table.columns[2:2 + N_MODELS]) == models  # a column per model, all 15
    shown = table[table["pattern"].str.startswith("universal")]
    universal = [p for p in cli["patterns"] if p["scope"] == "universal"]
    assert shown[["class a", "class b", "pattern", "images (a→b and b→a, all models)"]].values.tolist() == [
        [p["a_name"], p["b_name"], p["pattern"], f"{p['errors']:,}"] for p in universal]
    assert shown[models].values.tolist() == [[p["per_model"][m] for m in models] for p in universal]
    assert [(p["a"], p["b"]) for p in universal] == [(0, 1), (4, 5)]
    # ... which the first 12 models alone would not give: the report once analysed only those
    first12 = misclass.confusion(store, models=models[:12]).universal_patterns()
    assert [tuple(x) for x in first12[["a_index", "b_index"]].values] == [(0, 1), (2, 3), (4, 5)]

    # the chi-squared test as rendered
    h = cli["homogeneity"]
    stat = re.search(r"models × (\d+) classes\): <span class=stat>"
                     r"χ² = ([^,]+), dof = (\d+), p = ([^<]+)</span>", section)
    assert stat is not None, section[-2000:]
    assert stat.groups() == (str(h["classes_tested"]), f"{h['chi2']:.2f}", str(h["dof"]), f"{h['p']:.3g}")
    assert h["dof"] == (N_MODELS - 1) * (N_CLASSES - 1)
    first12_chi = misclass.confusion(store, models=models[:12]).chi_squared().iloc[0]
    assert first12_chi["dof"] != h["dof"] and f"{first12_chi['chi2']:.2f}" != f"{h['chi2']:.2f}"

    # display limits apply to what is drawn only: 12 heatmaps and networks, all 15 in the tables
    assert "drawn for the first 12 of the 15 models" in section
    figures = {p.name for p in (tmp_path / "report" / "figures").glob("confusion-heatmap-*.png")}
    assert figures == {f"confusion-heatmap-{m}.png" for m in models[:12]}
    u = report_table_after(section, "<h3>Class-wise misclassification rate u</h3>")
    assert list(u.columns) == ["class id", "class", "images", *models, "mean u (%)"]
    u_cli = np.array([[np.nan if x is None else x for x in cli["models"][m]["u"]] for m in models]).T
    got = u.set_index("class id")[models].replace("-", np.nan).astype(float) / 100  # shown in %
    got.index = got.index.astype(int)
    np.testing.assert_allclose(got.sort_index().to_numpy(), u_cli, atol=5e-4)  # drawn with 1 decimal of %
