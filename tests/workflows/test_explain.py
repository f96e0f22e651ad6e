"""``misclass.explain``: the same JSON as ``misclass explain --json`` on the demo store's CNN
(small settings, one torch thread), the run kept for the report, and its tables as
DataFrames."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from helpers import run_cli

import misclass
from misclass.errors import InputError
from misclass.workflows.explain import ExplainResult, saved_explanations

pytest.importorskip("torch")
pytest.importorskip("captum")

#: small settings: the demo CNN misses 3 of 360 digits, so a run explains about 6 images
SMALL = {"sweep_percents": "1,5", "sweep_boxes": "2x2", "threads": 1}
SMALL_CLI = ["--sweep-percents", "1,5", "--sweep-boxes", "2x2", "--threads", "1"]


@pytest.fixture(scope="module")
def store(demo_dirs, tmp_path_factory):
    """A copy of the demo store (explain writes its runs into the store's explain/ folder)."""
    path = tmp_path_factory.mktemp("explain-demo") / "store"
    shutil.copytree(demo_dirs[0], path)
    return path


@pytest.fixture(scope="module")
def result(store) -> ExplainResult:
    return misclass.explain(store, model="cnn-plain", progress=False, **SMALL)


def _cli_json(capsys, tmp_path, store, *options) -> dict:
    out = tmp_path / "explain.json"
    code, _, err = run_cli(["explain", "--store", store, *options, "--json", out], capsys)
    assert code == 0, err
    return json.loads(out.read_text())


def test_workflow_equals_the_cli_json_on_the_demo_store(store, result, tmp_path, capsys):
    cli = _cli_json(capsys, tmp_path, store, "--model", "cnn-plain", *SMALL_CLI)
    assert result.to_dict() == cli
    assert cli["store"] == str(store) and cli["model"] == "cnn-plain"
    assert len(cli["sweep"]) == 2 and cli["accounting"]["saliency"]["n_misclassified"] > 0


def test_workflow_equals_the_cli_json_with_other_options(store, tmp_path, capsys):
    ids = [str(i) for i in misclass.open_store(store).sample_ids()[:4]]
    cli = _cli_json(capsys, tmp_path, store, "--model", "cnn-residual", "--method", "gradient", "--target",
                    "true", "--box", "3x2", "--fill", "blur", "--no-merge", "--spare", "0,0,2,2",
                    "--no-sweep", "--threshold", "0.2", "--seed", "4", "--images", ",".join(ids),
                    "--threads", "1")
    # the Python forms of the options: lists and tuples for the comma-separated texts
    res = misclass.explain(store, model="cnn-residual", method="gradient", target="true", box=(2, 3),
                           fill="blur", merge=False, spare=(0, 0, 2, 2), sweep=False, threshold=0.2, seed=4,
                           images=ids, threads=1, progress=False)
    assert res.to_dict() == cli
    assert cli["box"] == "3x2" and cli["n_images"] == 4 and cli["sweep"] is None
    assert res.sweep() is None and list(res.images().index) == ids
    cli = _cli_json(capsys, tmp_path, store, "--model", "cnn-plain", "--pairs", "8:1,3:7", "--correct", "2",
                    "--no-sweep", "--threads", "1")
    res = misclass.explain(store, model="cnn-plain", pairs=[("8", 1), (3, 7)], correct=2, sweep=False,
                           threads=1, progress=False)
    assert res.to_dict() == cli
    assert {(p["true"], p["predicted"]) for p in cli["pairs"]} <= {(8, 1), (3, 7)}


def test_tables_are_indexed_by_erasure_sample_and_pair(result):
    d = result.to_dict()
    acc = result.accounting()
    assert list(acc.index) == ["saliency", "random"] and acc.index.name == "erasure"
    assert acc.loc["saliency", "fixed"] == d["accounting"]["saliency"]["fixed"]
    images = result.to_frame()
    assert images.index.name == "sample_id" and len(images) == d["n_images"]
    assert images.index[0].startswith("digits-")
    assert set(images["outcome"]) <= {"fixed", "moved", "unchanged", "broken", "kept"}
    pairs = result.pairs()
    assert list(pairs.index.names) == ["true_name", "predicted_name"] and len(pairs) == len(d["pairs"])
    sweep = result.sweep()
    assert list(sweep.index.names) == ["top_percent", "box"]
    assert list(sweep.index) == [(1.0, "2x2"), (5.0, "2x2")]
    assert result.run is not None and result.run.model == "cnn-plain"


def test_saved_runs_are_what_the_report_shows(store, result, tmp_path):
    from misclass.report.build import build_report

    saved = {r.model: r for r in saved_explanations(store)}
    assert "cnn-plain" in saved and saved["cnn-plain"].run is None
    back = misclass.explain(store, model="cnn-plain", progress=False, **SMALL)
    assert saved_explanations(store)[0].to_dict() == back.to_dict() == result.to_dict()
    assert back.saved == str(store / "explain" / "cnn-plain.json")
    for key, value in back.triplets.items():
        np.testing.assert_array_equal(saved_explanations(store)[0].triplets[key], value, err_msg=key)
    page = build_report(misclass.open_store(store), tmp_path / "rep", only=["explain"]).read_text()
    assert "What in the image causes the error" in page and "<h3>cnn-plain</h3>" in page


def test_save_false_keeps_nothing(store):
    before = sorted(p.name for p in (store / "explain").iterdir())
    res = misclass.explain(store, model="cnn-separable", sweep=False, threads=1, save=False, progress=False)
    assert res.saved is None and res.model == "cnn-separable"
    assert sorted(p.name for p in (store / "explain").iterdir()) == before


@pytest.mark.parametrize("kwargs,message", [
    ({"box": (0, 2)}, "at least 1 pixel"),
    ({"sweep_boxes": [(2, 2), (1, 0)]}, "--sweep-boxes"),
    ({"sweep_percents": "1,x"}, "--sweep-percents"),
    ({"sweep_percents": [0]}, "--sweep-percents"),
    ({"top_percent": 0}, "--top-percent"),
    ({"pairs": [("3", "eleven")]}, "unknown class"),
    ({"spare": (1, 2)}, "--spare"),
    ({"model": "svm-rbf"}, "has no torch weights"),
])
def test_bad_options(store, kwargs, message):
    with pytest.raises(InputError, match=message):
        misclass.explain(store, **{"model": "cnn-plain", "threads": 1, "progress": False, **kwargs})
