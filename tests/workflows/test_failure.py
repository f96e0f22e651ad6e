"""``misclass.failure``: the same JSON as ``misclass failure --json``, the store's other models
always counting for disagreement, tables indexed by model and score, and the report section
built from it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import run_cli

import misclass
from misclass.errors import InputError
from misclass.workflows.failure import FailureResult


def _cli_json(capsys, tmp_path, store, *options) -> dict:
    out = tmp_path / "failure.json"
    code, _, err = run_cli(["failure", "--store", store, *options, "--json", out], capsys)
    assert code == 0, err
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def demo_failure(demo_dirs):
    """The workflow on every model of the demo store, with its defaults."""
    store, _ = demo_dirs
    return misclass.failure(store)


def test_workflow_equals_the_cli_json_on_the_demo_store(demo_dirs, demo_failure, tmp_path, capsys):
    store, _ = demo_dirs
    assert isinstance(demo_failure, FailureResult)
    assert demo_failure.to_dict() == _cli_json(capsys, tmp_path, store)
    cli = _cli_json(capsys, tmp_path, store, "--model", "svm-rbf")
    assert misclass.failure(store, models="svm-rbf").to_dict() == cli
    assert list(cli["models"]) == ["svm-rbf"]


def test_workflow_equals_the_cli_json_with_every_option(demo_dirs, tmp_path, capsys, monkeypatch):
    store, _ = demo_dirs
    monkeypatch.chdir(tmp_path)
    cli = _cli_json(capsys, tmp_path, store, "-m", "mlp", "-m", "cnn-plain", "--calibration", "0.4",
                    "--learner", "boosting", "--seed", "3", "--no-image-stats", "--coverage", "0.9",
                    "--score", "entropy")
    cli_files = {name: (tmp_path / f"{name}.rejected.txt").read_text() for name in ("mlp", "cnn-plain")}
    for path in tmp_path.glob("*.rejected.txt"):
        path.unlink()
    res = misclass.failure(store, models=["mlp", "cnn-plain"], calibration=0.4, learner="boosting", seed=3,
                           image_stats=False, coverage=0.9, score="entropy", rejected=True)
    assert res.to_dict() == cli
    for name in ("mlp", "cnn-plain"):
        reject = cli["models"][name]["reject"]
        assert reject["file"] == f"{name}.rejected.txt" and reject["score"] == "entropy"
        assert (tmp_path / reject["file"]).read_text() == cli_files[name]
        assert list(res.rejected_ids(name)) == cli_files[name].split()
        assert cli["models"][name]["learned"]["learner"] == "boosting"
        assert cli["models"][name]["split"] == {"calibration": 144, "test": 216}
    # one model, one named file
    cli = _cli_json(capsys, tmp_path, store, "-m", "knn", "--coverage", "0.8", "--rejected", "knn-out.txt")
    assert misclass.failure(store, models="knn", coverage=0.8, rejected="knn-out.txt").to_dict() == cli
    assert cli["models"]["knn"]["reject"]["file"] == "knn-out.txt"


def test_one_model_still_counts_the_others_for_disagreement(demo_dirs, demo_failure):
    # issue 16: --model svm-rbf loaded only svm-rbf, so disagreement was skipped and the learned
    # predictor's AUROC fell from 1.000 to 0.809 on the demo store
    store, _ = demo_dirs
    alone = misclass.failure(store, models="svm-rbf")
    assert "disagreement" in alone.analyses["svm-rbf"].metrics
    assert "disagreement" not in alone.analyses["svm-rbf"].skipped
    assert alone.metrics("svm-rbf") == demo_failure.metrics("svm-rbf")
    assert alone.metrics("svm-rbf")["learned"].auroc == pytest.approx(1.0)
    assert alone.to_dict()["models"]["svm-rbf"] == demo_failure.to_dict()["models"]["svm-rbf"]
    # the other models' top-1 are what disagreement counts
    pred = misclass.open_store(store).load()
    j = pred.index("svm-rbf")
    a = alone.analyses["svm-rbf"]
    others = np.delete(pred.top1, j, axis=1)[a.test_index]
    want = (others != pred.top1[a.test_index, j, None]).mean(axis=1)
    np.testing.assert_array_equal(a.test_scores["disagreement"], want)


def test_tables_are_indexed_by_model_and_score(demo_failure):
    res = demo_failure
    frame = res.to_frame()
    assert list(frame.index.names) == ["model", "score"]
    assert list(frame.index.get_level_values("model").unique()) == list(res.models)
    d = res.to_dict()["models"]
    for name in res.models:
        for score, m in d[name]["scores"].items():
            row = frame.loc[(name, score)]
            assert row["n"] == m["n"] and row["n_errors"] == m["n_errors"]
            assert row["aurc"] == m["aurc"]
            assert row["selective_accuracy_0.90"] == m["selective_accuracy"]["0.90"]
        assert frame.loc[(name, "learned"), "auroc"] == d[name]["learned"]["auroc"]
    skipped = res.skipped()
    assert list(skipped.index.names) == ["model", "score"]
    assert skipped.loc[("svm-rbf", "energy"), "reason"] == d["svm-rbf"]["skipped"]["energy"]
    scores = res.test_scores("cnn-plain")
    a = res.analyses["cnn-plain"]
    assert scores.index.name == "sample_id" and len(scores) == len(a.test_index)
    assert scores.index[0].startswith("digits-")
    assert {"msp", "energy", "mahalanobis", "disagreement", "learned", "error"} <= set(scores.columns)
    assert scores["error"].sum() == a.test_errors.sum()
    with pytest.raises(InputError, match="coverage"):
        res.rejected_ids("cnn-plain")


def test_bad_options(demo_dirs, tmp_path, capsys):
    store, _ = demo_dirs
    for kwargs, message in (({"models": "nope"}, "is not in the store"),
                            ({"models": ["knn", "knn"]}, "named twice"),
                            ({"learner": "forest"}, "--learner"),
                            ({"calibration": 1.0}, "--calibration"),
                            ({"coverage": 0.9, "score": "knn_distance"}, "the reject option takes one of"),
                            ({"coverage": 0.9, "score": "energy", "models": "knn"}, "needs stored logits"),
                            ({"coverage": 0.9, "rejected": tmp_path / "r.txt"}, "single --model")):
        with pytest.raises(InputError, match=message):
            misclass.failure(store, image_stats=False, **kwargs)
    assert not (tmp_path / "r.txt").exists()
    code, _, err = run_cli(["failure", "--store", store, "--model", "nope"], capsys)
    assert code == 2 and "is not in the store" in err


def test_report_section_analyses_every_model_and_draws_a_few(demo_dirs, tmp_path, monkeypatch):
    from misclass.report.build import build_report
    from misclass.report.sections import failure as section

    store, _ = demo_dirs
    monkeypatch.setattr(section, "MAX_MODELS", 1)
    index = build_report(misclass.open_store(store), tmp_path / "rep", models=["svm-rbf", "knn"],
                         only=["failure"])
    html = index.read_text()
    figures = sorted(p.stem for p in (tmp_path / "rep" / "figures").glob("failure-*.png"))
    assert figures == ["failure-svm-rbf"]
    assert "The table covers all 2 models" in html
    # both models are in the table, each with disagreement over the whole store
    res = misclass.failure(store, models=["svm-rbf", "knn"])
    frame = res.to_frame()
    assert html.count("<td>disagreement</td>") == 2
    for name in ("svm-rbf", "knn"):
        assert f"<td class=num>{100 * frame.loc[(name, 'learned'), 'aurc']:.3f}</td>" in html  # AURC (%)
