"""Predictors with expected accuracy (``human-random`` of ``misclass import votes``): evaluate
reports the expectation, the per-image analyses (compare, shift, factors) leave them out with a
note, through :func:`misclass.workflows.common.per_image_predictors`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import run_cli

import misclass
from misclass import Store
from misclass.analysis.labels import evaluate_predictors, label_probability, set_probability
from misclass.types import ClassGroups, LabelSets
from misclass.workflows.common import per_image_predictors

IDS = ["a", "b", "c", "d", "e"]
LABELS = np.array([0, 1, 2, 1, 0])
#: 5 images x 3 classes of votes: the majority (0, 1, 2, 1, 2) misses e only; a random person is
#: right with probability .8, .6, .9, .6, .2 (mean 0.62)
COUNTS = np.array([[8, 2, 0], [1, 6, 3], [0, 1, 9], [4, 6, 0], [2, 2, 6]])
SHARES = COUNTS / COUNTS.sum(axis=1, keepdims=True)


def cli_json(args, tmp_path, capsys, name="out.json") -> dict:
    out = tmp_path / name
    code, _, err = run_cli([*args, "--json", out], capsys)
    assert code == 0, err
    return json.loads(out.read_text())


@pytest.fixture
def votes_store(tmp_path, capsys) -> Path:
    """5 labelled images, 3 classes, two models m0, m1 and the votes' human-majority / human-random."""
    s = Store.create(tmp_path / "S", samples=pd.DataFrame({"sample_id": IDS, "label": LABELS}),
                     classes=pd.DataFrame({"name": ["cat", "dog", "frog"]}))
    s.write_model("m0", np.array([[0], [1], [1], [1], [0]]))
    s.write_model("m1", np.array([[1], [1], [2], [0], [2]]))
    np.save(tmp_path / "votes.npy", COUNTS)  # rows in the store's order
    code, _, err = run_cli(["import", "votes", tmp_path / "votes.npy", "--store", s.path, "--bootstrap", 20],
                           capsys)
    assert code == 0, err
    return s.path


# --------------------------------------------------------------------------- pure parts
def test_label_and_set_probability_by_hand():
    assert label_probability(SHARES, LABELS).tolist() == pytest.approx([.8, .6, .9, .6, .2])
    sets = LabelSets.from_lists([[0, 1], [1], [], None, [0, 2]])
    assert set_probability(SHARES, sets).tolist() == pytest.approx([1.0, .6, 0.0, 0.0, .8])


def test_evaluate_predictors_counts_an_expectation():
    topk = np.stack([np.array([0, 1, 1, 1, 0]), SHARES.argmax(1)], axis=1)[:, :, None]
    sets = LabelSets.from_lists([[0], [1, 2], [2], [0, 1], None])
    groups = ClassGroups(("cat", "rest"), np.array([[1, 0, 0], [0, 1, 1]], bool))
    ev = evaluate_predictors(["m", "random"], LABELS, topk, np.array([1, 1]), label_sets=sets,
                             groups=groups, kinds=["model", "human"], expected={"random": SHARES})
    t = ev.table.set_index("name")
    assert t.loc["random", "top1"] == pytest.approx(0.62)
    assert t.loc["random", "multilabel"] == pytest.approx(np.mean([.8, .9, .9, 1.0]))  # e: no set
    assert np.isnan(t.loc["random", "top5"]) and t["accuracy"].tolist() == ["counted", "expected"]
    assert t.loc["m", "top1"] == 0.8 and t.loc["m", "multilabel"] == 0.75
    sub = ev.subset_matrix("top1")
    assert sub.loc["cat", "random"] == pytest.approx(np.mean([.8, .2]))  # images a and e
    assert sub.loc["rest", "m"] == pytest.approx(2 / 3)
    assert ev.missed["all_humans"] is None and ev.missed["all"] == ev.missed["all_models"]
    assert ev.to_dict()["models"][1]["accuracy"] == "expected" and "accuracy" not in ev.to_dict()["models"][0]
    with pytest.raises(misclass.InputError, match="not among the predictors"):
        evaluate_predictors(["m"], LABELS, topk[:, :1], np.array([1]), expected={"x": SHARES})


# --------------------------------------------------------------------------- the helper
def test_per_image_predictors(votes_store):
    s = Store(votes_store)
    chosen = per_image_predictors(s)
    assert chosen.names == ["human-majority", "m0", "m1"] and chosen.left_out == ("human-random",)
    assert "human-random" in chosen.note and "expected accuracy" in chosen.note
    assert per_image_predictors(s, []).names == chosen.names  # empty: every predictor
    assert per_image_predictors(s, "m1") == type(chosen)(["m1"], ())
    assert per_image_predictors(s, ["m1", "human-random"]).names == ["m1"]
    assert per_image_predictors(s, ["nope"]).names == ["nope"]  # the store's own error comes on load
    with pytest.raises(misclass.InputError, match="human-random has expected accuracy"):
        per_image_predictors(s, ["human-random"])


# --------------------------------------------------------------------------- workflows
def test_evaluate_reports_the_expectation(votes_store, tmp_path, capsys):
    d = cli_json(["evaluate", "--store", votes_store], tmp_path, capsys)
    res = misclass.evaluate(votes_store)
    assert res.to_dict() == d and res.expected == ("human-random",)
    rows = {r["name"]: r for r in d["models"]}
    assert rows["human-random"]["top1"] == pytest.approx(0.62, abs=1e-7)
    assert rows["human-random"]["top5"] is None and rows["human-random"]["accuracy"] == "expected"
    assert rows["human-majority"]["top1"] == 0.8 and "accuracy" not in rows["human-majority"]
    # the expectation equals what misclass models and the store's metadata say
    stored = Store(votes_store).model_metadata("human-random")["top1"]
    assert rows["human-random"]["top1"] == pytest.approx(stored)
    # every human misses: only human-majority counts (it misses e)
    assert d["missed"]["all_humans"] == 1
    assert d["summary"]["humans"]["top1"]["worst"]["name"] == "human-random"
    code, out, _ = run_cli(["evaluate", "--store", votes_store], capsys)
    assert "human-random *" in out
    assert "expected accuracy of a person drawn at random" in " ".join(out.split())


def test_evaluate_min_share(votes_store, tmp_path, capsys):
    np.save(tmp_path / "c.npy", COUNTS)
    spec = f"counts:{tmp_path / 'c.npy'}"
    d = cli_json(["evaluate", "--store", votes_store, "--labels", spec, "--min-share", "0.3"], tmp_path,
                 capsys)
    res = misclass.evaluate(votes_store, labels=spec, min_share=0.3)
    assert res.to_dict() == d and "min share 0.3" in d["labels"]
    assert res.to_dict() == misclass.evaluate(votes_store, labels=f"{spec},min-share=0.3").to_dict()
    # sets at 0.3: a {0}, b {1, 2}, c {2}, d {0, 1}, e {2}; the random person's summed share
    rows = {r["name"]: r for r in d["models"]}
    assert rows["human-random"]["multilabel"] == pytest.approx(np.mean([.8, .9, .9, 1.0, .6]), abs=1e-7)
    assert rows["m1"]["multilabel"] == pytest.approx(4 / 5)  # all but a
    with pytest.raises(misclass.InputError, match="applies to vote counts only"):
        misclass.evaluate(votes_store, min_share=0.3)
    code, _, err = run_cli(["evaluate", "--store", votes_store, "--min-share", "0.3"], capsys)
    assert code == 2 and "applies to vote counts only" in err


def test_compare_leaves_out_expected_accuracy(votes_store, tmp_path, capsys):
    d = cli_json(["compare", "--store", votes_store, "--k", "2"], tmp_path, capsys)
    res = misclass.compare(votes_store, k=2)
    assert res.to_dict() == d
    assert list(res.models) == ["human-majority", "m0", "m1"] and d["left_out"] == ["human-random"]
    assert any("left out human-random" in n for n in d["notes"])
    code, out, _ = run_cli(["compare", "--store", votes_store, "--k", "2"], capsys)
    assert "left out human-random" in " ".join(out.split())
    with pytest.raises(misclass.InputError, match="at least two models.*left out human-random"):
        misclass.compare(votes_store, models=["m0", "human-random"])


def test_shift_leaves_out_expected_accuracy(votes_store, tmp_path, capsys):
    a = Store(votes_store)
    b = Store.create(tmp_path / "B", samples=a.samples(), classes=a.classes())
    for name in a.model_names():
        if name != "human-random":
            b.write_model(name, a.read_model(name).topk_ids[:, :1])
    b.write_model("human-random", a.read_model("human-random").topk_ids[:, :1])
    d = cli_json(["shift", "--store", votes_store, "--shifted-store", b.path], tmp_path, capsys)
    res = misclass.shift(votes_store, shifted_store=b.path)
    assert res.to_dict() == d
    assert res.models == ["human-majority", "m0", "m1"] and "human-random" in d["notes"][0]
    assert "human-random" not in d["left_out"]  # it is in both stores


def test_models_and_the_report_summary_show_the_expectation(votes_store, tmp_path):
    from misclass.report.build import build_report

    res = misclass.models(votes_store, models=["m1", "human-random"])
    assert list(res.to_frame().index) == ["m1", "human-random"]
    assert res.to_frame().loc["human-random", "top1"] == pytest.approx(0.62, abs=1e-7)
    html = build_report(Store(votes_store), tmp_path / "rep", only=["summary"]).read_text()
    assert "human-random *" in html and "62.00" in html and "expected accuracy of a person drawn" in html
    row = html[html.index("<td>human-random *</td>"):].split("</tr>")[0]
    # no count of errors for an expectation: "-", with the reason as its tooltip
    assert row.count("<td") == 4 and 'title="an expected accuracy counts no errors">-</td>' in row


def test_report_gallery_counts_per_image_predictors(votes_store, tmp_path):
    from misclass.report.build import build_report

    # m0 misses c; human-random's stored top-1 (the majority) misses e, which it must not count
    html = build_report(Store(votes_store), tmp_path / "rep", models=["m0", "human-random"],
                        only=["misclassified"]).read_text()
    assert "<p>1 image is misclassified by at least one model" in html and "Left out human-random" in html


def test_failure_leaves_out_the_expectation_and_people(votes_store):
    from misclass.gather import score_inputs

    s = Store(votes_store)
    res = misclass.failure(s, models=["m0", "human-random"], image_stats=False)
    assert res.models == ("m0",) and res.left_out == ("human-random",)
    assert "left out human-random" in res.to_dict()["notes"][0]
    # disagreement counts the other models only: m1, not human-majority (whose answers are
    # nearly the label) nor human-random (whose stored top-1 is the majority's)
    inputs = score_inputs(s, s.load(per_image_predictors(s).names), "m0")
    np.testing.assert_array_equal(inputs.other_top1, s.read_model("m1").topk_ids[:, :1])
    with pytest.raises(misclass.InputError, match="expected accuracy"):
        misclass.failure(s, models="human-random")


def test_every_report_section_runs_beside_an_expectation(votes_store, tmp_path):
    from misclass.report.build import build_report

    html = build_report(Store(votes_store), tmp_path / "rep").read_text()
    assert "Which images will fail" in html and "left out human-random" in html
