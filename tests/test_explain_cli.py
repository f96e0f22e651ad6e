"""``misclass explain`` end to end on a tiny CNN trained on planted-digits, the report
section, and the errors for bad input."""

from __future__ import annotations

import json

import pytest
from helpers import run_cli

pytest.importorskip("torch")
pytest.importorskip("captum")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A 16-channel cnn-plain trained for 10 epochs on planted-digits' 449 training images
    (about 3 s on one core)."""
    import torch

    from misclass.cli import main

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("explain")
    store = root / "store"
    with pytest.raises(SystemExit) as done:
        main(["train", "--data", "planted-digits", "--arch", "cnn-plain", "--epochs", "10", "--width", "16",
              "--optimizer", "adam", "--lr", "0.01", "--batch-size", "64", "--store",
              str(store), "--threads", "1"])
    assert done.value.code in (0, None)
    return store


def test_explain_end_to_end(trained, tmp_path, capsys):
    out = tmp_path / "explain.json"
    code, stdout, err = run_cli(["explain", "--store", trained, "--model", "cnn-plain", "--correct", "60",
                                 "--sweep-percents", "1,5", "--sweep-boxes", "2x2,4x4", "--json", out,
                                 "--threads", "1"], capsys)
    assert code == 0, err
    assert "McNemar" in stdout and "random" in stdout and "Planted cause" in stdout
    d = json.loads(out.read_text())
    for key in ("model", "method", "target", "top_percent", "box", "fill", "accounting", "mcnemar", "pairs",
                "sweep", "planted", "images"):
        assert key in d
    assert d["method"] == "gradcam" and d["box"] == "4x4" and d["top_percent"] == 5
    acc = d["accounting"]
    assert acc["saliency"]["n_correct"] == 60
    assert acc["saliency"]["n_misclassified"] == acc["random"]["n_misclassified"] > 0
    n_wrong = acc["saliency"]["n_misclassified"]
    s = acc["saliency"]
    assert s["fixed"] + s["moved"] + s["unchanged"] == n_wrong
    assert len(d["images"]) == n_wrong + 60 and len(d["sweep"]) == 4
    assert {im["erased"] for im in d["images"]} and all(0 <= im["erased_fraction"] <= 1 for im in d["images"])
    p = d["planted"]
    assert p["planted_errors"] + p["other_errors"] + p["other_planted_image_errors"] == n_wrong
    assert 0 <= p["saliency_mass_in_patch"]["all"] <= 1
    saved = trained / "explain"
    assert (saved / "cnn-plain.json").exists() and (saved / "cnn-plain.npz").exists()
    # the report shows the triplets, the sweep plot and the tables
    code, stdout, err = run_cli(["report", "--store", trained, "--out", tmp_path / "report"], capsys)
    assert code == 0, err
    html = (tmp_path / "report" / "index.html").read_text()
    assert "What in the image causes the error" in html
    assert "interference-like" in html or "similarity-like" in html
    for stem in ("explain-triplets-cnn-plain", "explain-sweep-cnn-plain", "explain-planted-cnn-plain"):
        assert (tmp_path / "report" / "figures" / f"{stem}.png").exists()
        assert f"figures/{stem}.png" in html


def test_explain_other_methods_and_options(trained, tmp_path, capsys):
    out = tmp_path / "e.json"
    code, stdout, err = run_cli(["explain", "--json", out, "--store", trained, "--model", "cnn-plain",
                                 "--method",
                                 "gradient", "--target", "true", "--fill", "blur", "--box", "3x2",
                                 "--no-sweep", "--spare", "object", "--correct", "10", "--pairs",
                                 "0:1,3:5,8:3"], capsys)
    assert code == 0, err
    d = json.loads(out.read_text())
    assert (d["box"], d["fill"], d["method"], d["target"]) == ("3x2", "blur", "gradient", "true")
    assert d["options"]["spare"] == "object" and d["sweep"] is None
    assert {(p["true"], p["predicted"]) for p in d["pairs"]} <= {(0, 1), (3, 5), (8, 3)}


def test_explain_help_has_an_example(capsys):
    code, stdout, _ = run_cli(["explain", "--help"], capsys)
    assert code == 0 and "Example: misclass explain --store S --model" in stdout


@pytest.mark.parametrize("args,message", [
    (["--model", "nope"], "no such model"),
    (["--model", "cnn-plain", "--top-percent", "0"], "--top-percent"),
    (["--model", "cnn-plain", "--top-percent", "150"], "--top-percent"),
    (["--model", "cnn-plain", "--box", "0x2"], "--box"),
    (["--model", "cnn-plain", "--box", "four"], "--box"),
    (["--model", "cnn-plain", "--box", "40x40", "--no-sweep"], "larger than"),
    (["--model", "cnn-plain", "--fill", "purple"], "--fill"),
    (["--model", "cnn-plain", "--method", "lime"], "--method"),
    (["--model", "cnn-plain", "--target", "other"], "--target"),
    (["--model", "cnn-plain", "--pairs", "3:eleven"], "unknown class"),
    (["--model", "cnn-plain", "--spare", "1,2"], "--spare"),
    (["--model", "cnn-plain", "--sweep-percents", "1,x"], "--sweep-percents"),
    (["--model", "cnn-plain", "--images", "planted-digits-99999"], "unknown sample id"),
])
def test_explain_bad_input(trained, capsys, args, message):
    code, _, err = run_cli(["explain", "--store", trained, *args], capsys)
    assert code == 2 and message in err


def test_explain_models_without_torch_weights(small_store, tmp_path, capsys):
    code, _, err = run_cli(["explain", "--store", small_store.path, "--model", "a"], capsys)
    assert code == 2 and "has no torch weights" in err
    bad = tmp_path / "weights.pt"
    bad.write_text("not a checkpoint")
    code, _, err = run_cli(["explain", "--store", small_store.path, "--model", f"ckpt:{bad}"], capsys)
    assert code == 2 and "not a readable torch checkpoint" in err
    code, _, err = run_cli(["explain", "--store", tmp_path / "none", "--model", "a"], capsys)
    assert code == 2 and "no misclass store" in err


def test_explain_chosen_images_classifies_only_those(trained, monkeypatch):
    """``images=``: only the chosen images are read and classified, and each gets the saliency
    outcome it gets in a run over every image."""
    import misclass
    from misclass.store.images import StoreImages

    full = misclass.explain(trained, model="cnn-plain", correct=10, sweep=False, save=False,
                            progress=False, threads=1).to_dict()
    rows = {im["sample_id"]: im for im in full["images"]}
    ids = [im["sample_id"] for im in full["images"]][:5]
    reads = []
    real_load = StoreImages.load
    monkeypatch.setattr(StoreImages, "load", lambda self, i: reads.append(i) or real_load(self, i))
    part = misclass.explain(trained, model="cnn-plain", images=ids, sweep=False, save=False,
                            progress=False, threads=1).to_dict()
    assert len(reads) == 5 and part["n_classified"] == 5
    assert full["n_classified"] == misclass.Store(trained).n_samples  # no images=: every image
    assert sorted(reads) == sorted(set(reads))  # one decode per image
    got = {im["sample_id"]: im for im in part["images"]}
    assert sorted(got) == sorted(ids)
    for sid in ids:
        assert (got[sid]["before"], got[sid]["outcome"]) == (rows[sid]["before"], rows[sid]["outcome"])
    right = sum(rows[s]["before"] == rows[s]["label"] for s in ids)
    assert part["accuracy"] == pytest.approx(right / 5)
