"""Small samples in ``evaluate``: no gain or fit from fewer than MIN_IMAGES images, gains on
the same images, problematic flags counted as problematic (issue 19). Numbers by hand."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from helpers import run_cli

from misclass.analysis.labels import MIN_IMAGES, evaluate_predictors
from misclass.store import Store
from misclass.types import LabelSets


def _case():
    """45 images, 2 classes; 0..39 labelled (class 0), 40..44 unlabelled. Sets: 0..34 and
    40..44 have one; 35..39 have none. Model A predicts 0 on 0..29, 1 on 30..44; model B 0 on
    0..19, 1 on 20..44. Sets: {0} on 0..19, {0, 1} on 20..34 and 40..41, {0} on 42..44."""
    n = 45
    labels = np.array([0] * 40 + [-1] * 5)
    a = np.array([0] * 30 + [1] * 15)
    b = np.array([0] * 20 + [1] * 25)
    topk = np.stack([a, b], axis=1)[:, :, None]
    sets = [[0] if i < 20 else [0, 1] if i < 35 else None if i < 40 else [0, 1] if i < 42 else [0]
            for i in range(n)]
    return labels, topk, LabelSets.from_lists(sets)


def test_gain_compares_the_same_images_and_the_fit_by_hand():
    assert MIN_IMAGES == 30
    labels, topk, sets = _case()
    ev = evaluate_predictors(["A", "B"], labels, topk, np.array([1, 1]), label_sets=sets)
    t = ev.table.set_index("name")
    # top-1 over the 40 labelled images: A 30/40, B 20/40
    assert t.loc["A", "top1"] == pytest.approx(30 / 40) and t.loc["B", "top1"] == pytest.approx(20 / 40)
    # multi-label over the 40 images with a set (0..34, 40..44): A right on 0..34 and 40, 41
    # (its 1 is in {0, 1}); B right on 0..19, 20..34 has {0, 1} and B says 1: right; 40, 41 right
    assert t.loc["A", "multilabel"] == pytest.approx(37 / 40)
    assert t.loc["B", "multilabel"] == pytest.approx(37 / 40)
    # the gain on the 35 images with both (0..34): A 35/35 - 30/35, B 35/35 - 20/35
    assert int(t.loc["A", "n_gain"]) == 35
    assert t.loc["A", "gain"] == pytest.approx(5 / 35) and t.loc["B", "gain"] == pytest.approx(15 / 35)
    assert t.loc["A", "gain"] != pytest.approx(37 / 40 - 30 / 40)  # not across different images
    # the fit through (0.75, 0.925) and (0.5, 0.925): slope 0, intercept 0.925
    assert ev.fit.slope == pytest.approx(0.0) and ev.fit.intercept == pytest.approx(0.925)
    assert ev.undefined == {}
    d = ev.to_dict()
    assert d["models"][0]["gain"] == pytest.approx(5 / 35) and d["min_images"] == MIN_IMAGES


def test_no_gain_and_no_fit_from_two_images():
    n = 360
    labels = np.zeros(n, dtype=int)
    topk = np.stack([np.zeros(n, int), np.ones(n, int)], axis=1)[:, :, None]
    lists = [None] * n
    lists[0], lists[1] = [0], [1]
    ev = evaluate_predictors(["A", "B"], labels, topk, np.array([1, 1]),
                             label_sets=LabelSets.from_lists(lists))
    assert ev.table["n_multilabel"].tolist() == [2, 2] and ev.table["gain"].isna().all()
    assert ev.fit is None
    assert ev.undefined["fit"] == "no fit: multi-label accuracy rests on 2 images; a fit needs at least 30"
    assert ev.undefined["gain"] == ("no gain: 2 images with both a label and a usable label set; a gain "
                                    "needs at least 30")


def test_a_flagged_image_counts_as_problematic_whatever_its_set():
    sets = LabelSets.from_lists([[], None, [1], [2], []], problematic=[True, True, False, True, False])
    assert sets.exclusion_counts() == {"no_set": 0, "empty": 1, "problematic": 3}
    assert sets.evaluable.tolist() == [False, False, True, False, False]


def test_evaluate_cli_says_what_is_missing(tmp_path, capsys):
    n = 40
    store = Store.create(tmp_path / "store", samples=pd.DataFrame({"sample_id": [f"s{i}" for i in range(n)],
                                                                  "label": [0] * n}),
                         classes=pd.DataFrame({"name": ["cat", "dog"]}))
    store.write_model("a", np.zeros((n, 1), int))
    store.write_model("b", np.ones((n, 1), int))
    path = tmp_path / "review.jsonl"
    path.write_text(json.dumps({"sample_id": "s0", "labels": [0]}) + "\n"
                    + json.dumps({"sample_id": "s1", "labels": [], "problematic": True}) + "\n")
    code, out, err = run_cli(["evaluate", "--store", store.path, "--labels", path, "--json",
                              tmp_path / "e.json"], capsys)
    assert code == 0, err
    text = " ".join(out.split())
    assert "0 with no valid label, 1 problematic" in text
    assert "no fit: multi-label accuracy rests on 1 image; a fit needs at least 30" in text
    assert "no gain: 1 image with both a label and a usable label set" in text
    d = json.loads((tmp_path / "e.json").read_text())
    assert d["excluded"] == {"no_set": 38, "empty": 0, "problematic": 1}
    assert d["models"][0]["gain"] is None and d["fit"] is None


def test_no_shift_fit_from_a_group_of_few_images():
    from misclass.analysis.shift import fit_shift

    names, original, shifted = ["a", "b", "c"], np.array([0.6, 0.7, 0.8]), np.array([0.5, 0.6, 0.7])
    few = fit_shift(names, original, shifted, n_original=1000, n_shifted=12)
    assert few.fit is None and few.table["predicted"].isna().all()
    assert few.undefined == "no fit: accuracy measured on 12 images; a fit needs at least 30 in each test set"
    enough = fit_shift(names, original, shifted, n_original=1000, n_shifted=MIN_IMAGES)
    assert enough.fit is not None and enough.undefined == ""
