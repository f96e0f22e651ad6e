"""Importers: each bad input gives one clear error and leaves the store unchanged."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import run_cli

from misclass import Store
from misclass.importers.readers import read_timm_csv

ROWS = ["img1.JPEG,0,0", "img2.JPEG,1,1", "img3.JPEG,2,1", "img4.JPEG,1,2"]


def write(path: Path, lines: list[str], end: str = "\n") -> Path:
    path.write_text("\n".join(lines) + end)
    return path


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def store_with_model(tmp_path, capsys):
    csv = write(tmp_path / "base.csv", ROWS)
    code, out, err = run_cli(["import", "timm-csv", csv, "--store", tmp_path / "S",
                              "--num-classes", 4], capsys)
    assert code == 0, err
    return tmp_path / "S"


def test_import_and_models_json(store_with_model, tmp_path, capsys):
    code, out, _ = run_cli(["models", "--store", store_with_model, "--json", tmp_path / "m.json"],
                           capsys)
    assert code == 0
    data = json.loads((tmp_path / "m.json").read_text())
    assert data == {"models": [{"name": "base", "n": 4, "top1": 0.5, "top5": None}]}


def test_target_column_decided_from_shape(tmp_path):
    two = read_timm_csv(write(tmp_path / "two.csv", ["a,3", "b,4"]))
    assert two.labels is None and two.topk_ids.tolist() == [[3], [4]]
    three = read_timm_csv(write(tmp_path / "three.csv", ["a,3,3", "b,4,1"]))
    assert three.labels.tolist() == [3, 1] and three.topk_ids.tolist() == [[3], [4]]


def test_ambiguous_shape_needs_a_flag(tmp_path, capsys):
    csv = write(tmp_path / "amb.csv", ["a,3,1", "b,4,2"])
    code, _, err = run_cli(["import", "timm-csv", csv, "--store", tmp_path / "S"], capsys)
    assert code == 2
    assert "could be top-2 predictions or top-1 plus a target" in err
    assert "--target-column or --no-target-column" in err
    assert not (tmp_path / "S").exists()
    code, _, err = run_cli(["import", "timm-csv", csv, "--no-target-column", "--store",
                            tmp_path / "S"], capsys)
    assert code == 0, err
    assert Store(tmp_path / "S").read_model("amb").topk_ids.tolist() == [[3, 1], [4, 2]]


def test_repeated_ids_without_target_is_an_error(tmp_path):
    csv = write(tmp_path / "r.csv", ["a,3,3", "b,4,1"])
    with pytest.raises(Exception, match="row 1 repeats a class id.*--target-column"):
        read_timm_csv(csv, target_column=False)


BAD_INPUTS = {
    "different sample set": (
        ["img1.JPEG,0,0", "img2.JPEG,1,1", "img3.JPEG,2,1", "img9.JPEG,1,2", "img8.JPEG,0,0"],
        [], r"sample ids differ from the store's: 1 \(first: 'img4.JPEG'\) missing from the file "
            r"and 2 \(first: 'img9.JPEG', 'img8.JPEG'\) not in the store; pass --align intersect"),
    "class id out of range": (
        ["img1.JPEG,0,0", "img2.JPEG,7,1", "img3.JPEG,2,1", "img4.JPEG,1,2"],
        [], r"row 2, predicted class: class id 7 is out of range; expected 0..3"),
    "duplicate sample ids": (
        ["img1.JPEG,0,0", "img2.JPEG,1,1", "img2.JPEG,2,1", "img4.JPEG,1,2"],
        [], r"duplicate sample id 'img2.JPEG' \(rows 2, 3\)"),
    "non-numeric field": (
        ["img1.JPEG,0,0", "img2.JPEG,1,1", "img3.JPEG,cat,1", "img4.JPEG,1,2"],
        [], r"row 3, column 2: 'cat' is not an integer"),
    "truncated file": (
        ["img1.JPEG,0,0", "img2.JPEG,1,1", "img3.JPEG,2,1", "img4.JPEG,1"],
        ["--target-column"], r"row 4: column 3 is missing \(truncated file"),
    "name already in store": (ROWS, ["--name", "base"], r"model 'base' is already in the store.*--replace"),
    "labels disagree": (
        ["img1.JPEG,0,0", "img2.JPEG,1,1", "img3.JPEG,2,2", "img4.JPEG,1,2"],
        [], r"label of sample 'img3.JPEG' is 2 but the store says 1"),
    "header row": (
        ["file_name,pred,target", "img1.JPEG,0,0", "img2.JPEG,1,1", "img3.JPEG,2,1", "img4.JPEG,1,2"],
        [], r"row 1 looks like a header"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_leaves_store_unchanged(case, store_with_model, tmp_path, capsys):
    lines, extra, message = BAD_INPUTS[case]
    csv = write(tmp_path / "new.csv", lines, end="" if case == "truncated file" else "\n")
    before = snapshot(store_with_model)
    code, _, err = run_cli(["import", "timm-csv", csv, "--store", store_with_model, *extra], capsys)
    assert code == 2
    flat = " ".join(err.split())
    assert "new.csv" in flat or "base" in flat
    import re

    assert re.search(message, flat), flat
    assert snapshot(store_with_model) == before


def test_empty_file(tmp_path, store_with_model, capsys):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    before = snapshot(store_with_model)
    code, _, err = run_cli(["import", "timm-csv", empty, "--store", store_with_model], capsys)
    assert code == 2 and "empty.csv: the file is empty" in " ".join(err.split())
    assert snapshot(store_with_model) == before


def test_batch_is_all_or_nothing(tmp_path, store_with_model, capsys):
    good = write(tmp_path / "good.csv", ROWS)
    bad = write(tmp_path / "bad.csv", ["img1.JPEG,0,0", "img2.JPEG,9,1", "img3.JPEG,2,1",
                                       "img4.JPEG,1,2"])
    before = snapshot(store_with_model)
    code, _, err = run_cli(["import", "timm-csv", good, bad, "--store", store_with_model], capsys)
    assert code == 2 and "bad.csv" in err
    assert snapshot(store_with_model) == before


def test_align_intersect(tmp_path, store_with_model, capsys):
    csv = write(tmp_path / "part.csv", ["img2.JPEG,1,1", "img1.JPEG,0,0", "img3.JPEG,0,1",
                                        "extra.JPEG,0,0"])
    before = snapshot(store_with_model)
    code, out, err = run_cli(["import", "timm-csv", csv, "--store", store_with_model,
                              "--align", "intersect"], capsys)
    assert code == 2
    assert "part.csv: lacks 1 of the store's images" in " ".join(err.split())
    assert "models (base) would lose 1 of its 4 images. Pass --shrink-store" in " ".join(err.split())
    assert snapshot(store_with_model) == before
    code, out, err = run_cli(["import", "timm-csv", csv, "--store", store_with_model,
                              "--align", "intersect", "--shrink-store"], capsys)
    assert code == 0, err
    s = Store(store_with_model)
    assert s.model_metadata("base")["n"] == 3 and s.model_metadata("base")["top1"] == 2 / 3
    pred = s.load()
    assert pred.sample_ids.tolist() == ["img1.JPEG", "img2.JPEG", "img3.JPEG"]
    assert pred.top1.tolist() == [[0, 0], [1, 1], [2, 0]]
    assert "1 dropped" in " ".join(out.split())


def test_labels_file_and_missing_target(tmp_path, capsys):
    preds = write(tmp_path / "m.csv", ["a.png,1", "b.png,0", "c.png,1"])
    labels = write(tmp_path / "labels.csv", ["file_name,label", "a.png,1", "b.png,1", "c.png,0"])
    code, _, err = run_cli(["import", "timm-csv", preds, "--labels", labels, "--store",
                            tmp_path / "S"], capsys)
    assert code == 0, err
    assert Store(tmp_path / "S").labels().tolist() == [1, 1, 0]
    short = write(tmp_path / "short.csv", ["file_name,label", "a.png,1"])
    code, _, err = run_cli(["import", "timm-csv", preds, "--labels", short, "--store",
                            tmp_path / "T"], capsys)
    assert code == 2 and "no label for sample ids: 2 (first: 'b.png'" in " ".join(err.split())
    assert not (tmp_path / "T").exists()


def test_table_and_npy_importers(tmp_path, capsys):
    pd.DataFrame({"sample_id": ["a", "b", "c"], "label": [0, 1, 2],
                  "topk_ids": ["[0, 1]", "[2, 1]", "2 0"],
                  "topk_probs": ["[0.6, 0.3]", "[0.5, 0.4]", "0.9 0.1"]}).to_csv(tmp_path / "t.csv",
                                                                                  index=False)
    code, _, err = run_cli(["import", "table", tmp_path / "t.csv", "--store", tmp_path / "S",
                            "--num-classes", 3], capsys)
    assert code == 0, err
    s = Store(tmp_path / "S")
    rec = s.read_model("t")
    assert rec.topk_ids.tolist() == [[0, 1], [2, 1], [2, 0]]
    assert rec.topk_probs[2].tolist() == pytest.approx([0.9, 0.1])
    logits = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 1.0]])
    np.save(tmp_path / "l.npy", logits)
    write(tmp_path / "ids.txt", ["a", "b", "c"])
    code, _, err = run_cli(["import", "npy", tmp_path / "l.npy", "--ids", tmp_path / "ids.txt",
                            "--logits", "--k", 2, "--store", tmp_path / "S"], capsys)
    assert code == 0, err
    rec = s.read_model("l")
    assert rec.topk_ids.tolist() == [[0, 1], [1, 0], [2, 0]]
    e = np.exp(logits[0]) / np.exp(logits[0]).sum()
    assert rec.topk_probs[0].tolist() == pytest.approx(e[:2], rel=1e-5)
    assert s.read_probs("l").shape == (3, 3)
    assert s.read_logits("l")[1].tolist() == [0.0, 3.0, 0.0]
    np.save(tmp_path / "bad.npy", logits)
    code, _, err = run_cli(["import", "npy", tmp_path / "bad.npy", "--ids", tmp_path / "ids.txt",
                            "--store", tmp_path / "S"], capsys)
    assert code == 2 and "row 1 is not a probability vector" in " ".join(err.split())
    assert "pass --logits" in " ".join(err.split())


def test_table_bad_rows(tmp_path, capsys):
    pd.DataFrame({"sample_id": ["a", "b"], "pred": ["1", "x"]}).to_csv(tmp_path / "p.csv", index=False)
    code, _, err = run_cli(["import", "table", tmp_path / "p.csv", "--store", tmp_path / "S"], capsys)
    assert code == 2 and "p.csv: row 3, pred: 'x' is not an integer" in " ".join(err.split())
    pd.DataFrame({"sample_id": ["a"], "guess": [1]}).to_csv(tmp_path / "q.csv", index=False)
    code, _, err = run_cli(["import", "table", tmp_path / "q.csv", "--store", tmp_path / "S"], capsys)
    assert code == 2 and "expected a 'pred' or a 'topk_ids' column" in err
