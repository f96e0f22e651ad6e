"""``misclass.compare``: the same JSON as ``misclass compare --json``, tables as DataFrames
indexed by model and class names, and the report section built from it."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from helpers import run_cli

import misclass
from misclass.errors import InputError
from misclass.workflows.compare import CompareResult


def _cli_json(capsys, tmp_path, store, *options) -> dict:
    out = tmp_path / "compare.json"
    code, _, err = run_cli(["compare", "--store", store, *options, "--json", out], capsys)
    assert code == 0, err
    return json.loads(out.read_text())


def _matrix(values) -> np.ndarray:
    return np.array([[np.nan if v is None else v for v in row] for row in values], dtype=float)


def test_workflow_equals_the_cli_json_on_the_demo_store(demo_dirs, tmp_path, capsys):
    store, _ = demo_dirs
    assert misclass.compare(store).to_dict() == _cli_json(capsys, tmp_path, store)
    options = {"models": ["svm-rbf", "knn", "decision-tree", "naive-bayes"], "k": 2, "ensembles": False,
               "seed": 3, "list_limit": 3, "max_combinations": 10}
    cli = _cli_json(capsys, tmp_path, store, "--models", "svm-rbf,knn", "-m", "decision-tree",
                    "-m", "naive-bayes", "--k", "2", "--no-ensembles", "--seed", "3", "--list-limit", "3",
                    "--max-combinations", "10")
    assert misclass.compare(store, **options).to_dict() == cli
    assert cli["models"] == options["models"] and cli["ensembles"] == []


def test_tables_are_indexed_by_model_and_class_names(demo_dirs):
    store, _ = demo_dirs
    res = misclass.compare(misclass.open_store(store), k=3)
    d = res.to_dict()
    models = list(misclass.open_store(store).model_names())
    classes = misclass.open_store(store).class_names()
    assert isinstance(res, CompareResult) and list(res.models) == models
    for name in ("correction_rate", "virtual_accuracy", "error_consistency", "equal_top1"):
        frame = getattr(res, name)()
        assert list(frame.index) == models and list(frame.columns) == models, name
        np.testing.assert_array_equal(frame.to_numpy(), _matrix(d[name]), err_msg=name)
    pcr = res.correction_rate()
    a, b = models[0], models[-1]
    assert pcr.loc[a, b] == d["correction_rate"][0][len(models) - 1]
    assert res.both_correct().loc[a, a] == round(d["accuracy"][a] * res.n)
    pairs = res.pairs()
    assert len(pairs) == len(models) * (len(models) - 1) // 2
    assert pairs["virtual_accuracy"].is_monotonic_decreasing
    assert pairs.loc[(a, b), "correction_rate_b_over_a"] == pcr.loc[a, b]
    assert pairs.loc[(a, b), "correction_rate_a_over_b"] == pcr.loc[b, a]
    frame = res.to_frame()
    assert frame["accuracy"].to_dict() == d["accuracy"]
    assert frame["only_it_misses"].to_dict() == d["unique_errors"]
    for name in ("class_accuracy", "corrected", "got_corrected"):
        table = getattr(res, name)()
        assert list(table.index) == classes and list(table.columns) == models, name
    for m in models:
        assert res.corrected()[m].tolist() == d["per_class"]["corrected"][m]
        assert res.got_corrected()[m].tolist() == d["per_class"]["got_corrected"][m]
    per_class = res.per_class()
    assert per_class.index.names == ["class", "model"] and len(per_class) == len(classes) * len(models)
    assert per_class.loc[(classes[0], a), "accuracy"] == res.class_accuracy().loc[classes[0], a]
    best = res.best()
    assert list(best.index) == [1, 2, 3]
    assert [list(m) for m in best["models"]] == [d["best"][str(s)]["models"] for s in best.index]
    assert best.loc[1, "gain"] == 0 and (best["gain"] >= 0).all()
    assert len(res.combinations()) == len(d["combinations"])
    assert res.greedy()["added"].tolist() == [r["added"] for r in d["greedy_curve"]]
    ens = res.ensembles()
    assert ens["set"].tolist() == ["best 2", "best 3", f"all {len(models)}"]
    assert ens["majority_vote"].tolist() == [e["majority_vote"]["accuracy"] for e in d["ensembles"]]
    wrong = res.all_wrong()
    assert list(wrong.index) == [r["sample_id"] for r in d["all_wrong_images"]]
    assert list(res.only_one_wrong().index) == [r["sample_id"] for r in d["only_one_wrong_images"]]
    top = res.top_corrected()
    assert top.index.names == ["model", "rank"]
    top_a = d["per_class"]["top_corrected_classes"][a]
    assert top.loc[a, "class"].tolist() == [r["class_name"] for r in top_a]


def test_hand_case_from_the_store_alone(small_store):
    # labels 0 0 1 1 2 2; a right on rows 0, 2, 3, 4; b right on every row but 2
    res = misclass.compare(small_store.path, ensembles=False)
    assert res.to_frame()["accuracy"].tolist() == pytest.approx([4 / 6, 5 / 6])
    expected = pd.DataFrame([[0.0, 1.0], [1.0, 0.0]], index=pd.Index(["a", "b"], name="model A"),
                            columns=pd.Index(["a", "b"], name="model B"))
    pd.testing.assert_frame_equal(res.correction_rate(), expected)
    assert res.virtual_accuracy().loc["a", "b"] == 1.0
    acc = res.class_accuracy()
    assert acc.index.name == "class" and acc.loc["cat"].tolist() == [0.5, 1.0]
    assert acc.loc["dog"].tolist() == [1.0, 0.5] and acc.loc["frog"].tolist() == [0.5, 1.0]
    assert len(res.all_wrong()) == 0 and list(res.only_one_wrong().index) == ["s1", "s2", "s5"]
    assert res.only_one_wrong()["model"].tolist() == ["a", "b", "a"]


def test_needs_two_models(small_store):
    with pytest.raises(InputError, match="at least two models"):
        misclass.compare(small_store, models=["a"])
    with pytest.raises(InputError, match="at least two models"):
        misclass.compare(small_store, models="a")


def test_report_section_takes_the_options(small_store, tmp_path):
    from misclass.report.build import build_report

    page = build_report(small_store, tmp_path / "r1", only=["crossmodel"]).read_text()
    assert "Real ensembles next to the oracle" in page
    page = build_report(small_store, tmp_path / "r2", only=["crossmodel"],
                        options={"ensembles": False, "k": 1}).read_text()
    assert "Does another model get it right?" in page and "Real ensembles next to the oracle" not in page


@pytest.mark.slow
def test_workflow_equals_the_cli_json_on_seven_imagenet_models(imagenet_timm_store, tmp_path, capsys):
    cli = _cli_json(capsys, tmp_path, imagenet_timm_store)
    res = misclass.compare(imagenet_timm_store)
    assert res.to_dict() == cli
    assert len(cli["models"]) == 7 and len(cli["ensembles"]) == 3
    assert res.virtual_accuracy().loc["convit_small", "convit_small"] == pytest.approx(0.81408)
    hard = res.hard_classes()
    assert list(hard.index) == [r["class_name"] for r in cli["per_class"]["hard_classes"]]
    assert res.class_accuracy().shape == (1000, 7)
