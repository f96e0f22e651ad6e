"""``misclass import list`` / ``import votes`` / ``--images`` / ``--labels counts:``: what they
store, and every bad input as one clear error that leaves the store byte for byte as it was."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import run_cli

from misclass import Store
from misclass.analysis.humans import error_consistency_ci, expected_correct, vote_summary
from misclass.data.label_sets import load_label_sets
from misclass.store.images import StoreImages

IDS = ["a.png", "b.png", "c.png", "d.png"]
LABELS = [0, 1, 2, 1]
#: 4 images x 3 classes of votes. Row 1 ties classes 1 and 2 (the lower id, 1, wins).
COUNTS = np.array([[8, 2, 0], [1, 3, 3], [0, 1, 9], [5, 5, 0]])


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def one_line(text: str) -> str:
    return " ".join(text.split())


def ids_csv(path: Path, ids=IDS, labels=LABELS) -> Path:
    pd.DataFrame({"sample_id": ids, "label": labels}).to_csv(path, index=False)
    return path


@pytest.fixture
def store(tmp_path, capsys) -> Path:
    """4 labelled images, 3 classes, one model m0 (imported as a JSON list with --ids)."""
    (tmp_path / "m0.json").write_text(json.dumps([0, 1, 1, 1]))
    code, _, err = run_cli(["import", "list", tmp_path / "m0.json", "--ids", ids_csv(tmp_path / "ids.csv"),
                            "--num-classes", 3, "--store", tmp_path / "S"], capsys)
    assert code == 0, err
    return tmp_path / "S"


# --------------------------------------------------------------------------- import list
def test_three_formats_and_two_orders(store, tmp_path, capsys):
    preds = [2, 1, 2, 0]
    (tmp_path / "j.json").write_text(json.dumps(preds))
    (tmp_path / "t.txt").write_text("\n".join(map(str, preds)) + "\n\n")
    np.save(tmp_path / "n.npy", np.array(preds, dtype=np.int16))
    (tmp_path / "ids.txt").write_text("\n".join(IDS) + "\n")
    code, _, err = run_cli(["import", "list", tmp_path / "j.json", tmp_path / "t.txt", "--ids",
                            tmp_path / "ids.txt", "--store", store], capsys)
    assert code == 0, err
    code, _, err = run_cli(["import", "list", tmp_path / "n.npy", "--store-order", "--store", store],
                           capsys)
    assert code == 0, err
    s = Store(store)
    pred = s.load(["j", "t", "n"])
    assert pred.top1.tolist() == [[p] * 3 for p in preds]
    assert s.model_metadata("n")["top1"] == 0.5  # right on b and c
    # rows in another order than the store's: joined on the ids
    order = [3, 1, 0, 2]
    (tmp_path / "r.json").write_text(json.dumps([preds[i] for i in order]))
    (tmp_path / "rids.txt").write_text("\n".join(IDS[i] for i in order))
    code, _, err = run_cli(["import", "list", tmp_path / "r.json", "--ids", tmp_path / "rids.txt",
                            "--store", store], capsys)
    assert code == 0, err
    assert s.read_model("r").topk_ids[:, 0].tolist() == preds


def test_strip_names_the_models(store, tmp_path, capsys):
    (tmp_path / "resnet_predictions.json").write_text("[0, 1, 2, 1]")
    code, _, err = run_cli(["import", "list", tmp_path / "resnet_predictions.json", "--store-order",
                            "--strip", "_predictions", "--store", store], capsys)
    assert code == 0, err
    assert "resnet" in Store(store).model_names()


def _bad_list_cases(tmp_path: Path) -> dict[str, tuple[list, str]]:
    """name -> (arguments after 'import list', expected message part)."""
    def f(name: str, text: str) -> Path:
        (tmp_path / name).write_text(text)
        return tmp_path / name

    np.save(tmp_path / "frac.npy", np.array([0, 1.5, 2, 1]))
    np.save(tmp_path / "bool.npy", np.array([True, False, True, False]))
    np.save(tmp_path / "mat.npy", np.zeros((4, 3), dtype=int))
    (tmp_path / "three.txt").write_text("a.png\nb.png\nc.png\n")
    ok = f("ok.json", "[0, 1, 2, 1]")
    return {
        "short": ([f("short.json", "[0, 1, 2]"), "--store-order"], "3 rows but the store"),
        "long_ids": ([f("five.json", "[0, 1, 2, 1, 0]"), "--ids", tmp_path / "three.txt"],
                     "5 rows but"),
        "fraction": ([f("frac.json", "[0, 1.5, 2, 1]"), "--store-order"], "item 2: 1.5 is not an integer"),
        "string": ([f("str.json", '[0, "cat", 2, 1]'), "--store-order"], "item 2: 'cat' is not an integer"),
        "boolean": ([f("bool.json", "[0, true, 2, 1]"), "--store-order"], "item 2: True is not an integer"),
        "null": ([f("null.json", "[0, null, 2, 1]"), "--store-order"], "item 2: None is not an integer"),
        "object": ([f("obj.json", '{"a": 1}'), "--store-order"], "expected a JSON list"),
        "not_json": ([f("bad.json", "[0, 1,"), "--store-order"], "not JSON"),
        "text_word": ([f("w.txt", "0\n1\ncat\n1\n"), "--store-order"], "line 3 'cat' is not an integer"),
        "text_blank": ([f("b.txt", "0\n\n2\n1\n"), "--store-order"], "line 2 is empty"),
        "npy_fraction": ([tmp_path / "frac.npy", "--store-order"], "row 2: 1.5 is not a whole number"),
        "npy_bool": ([tmp_path / "bool.npy", "--store-order"], "found values of type bool"),
        "npy_matrix": ([tmp_path / "mat.npy", "--store-order"], "expected a vector"),
        "out_of_range": ([f("big.json", "[0, 1, 3, 1]"), "--store-order"],
                         "row 3, predicted class: class id 3 is out of range; expected 0..2"),
        "negative": ([f("neg.json", "[0, -1, 2, 1]"), "--store-order"], "row 2: class id -1 is negative"),
        "empty": ([f("empty.json", "[]"), "--store-order"], "no predictions"),
        "no_order": ([ok], "pass --ids FILE"),
        "both_orders": ([ok, "--ids", tmp_path / "three.txt", "--store-order"], "exclude each other"),
        "missing_ids_file": ([ok, "--ids", tmp_path / "nope.txt"], "nope.txt: no such file"),
        "missing_file": ([tmp_path / "nope.json", "--store-order"], "nope.json: no such file"),
        "unknown_ids": ([ok, "--ids", f("other.txt", "a.png\nb.png\nc.png\nz.png\n")],
                        "its sample ids differ from the store's"),
        "label_clash": ([ok, "--ids", ids_csv(tmp_path / "clash.csv", labels=[0, 1, 2, 2])],
                        "label of sample 'd.png' is 2 but the store says 1"),
        "already_there": ([f("m0.json", "[0, 1, 2, 1]"), "--store-order"], "already in the store"),
    }


def test_every_bad_list_is_one_error_and_changes_nothing(store, tmp_path, capsys):
    before = snapshot(store)
    for case, (args, message) in _bad_list_cases(tmp_path).items():
        code, out, err = run_cli(["import", "list", *args, "--store", store], capsys)
        assert code == 2, (case, out, err)
        assert message in one_line(err), (case, err)
        assert len(err.strip().splitlines()) <= 3, (case, err)  # one message (wrapped by rich)
        assert snapshot(store) == before, case


def test_store_order_needs_a_store(tmp_path, capsys):
    (tmp_path / "p.json").write_text("[0, 1]")
    code, _, err = run_cli(["import", "list", tmp_path / "p.json", "--store-order", "--store",
                            tmp_path / "new"], capsys)
    assert code == 2
    assert "--store-order needs an existing store" in one_line(err)
    assert not (tmp_path / "new").exists()


# --------------------------------------------------------------------------- votes
def test_votes_predictors(store, tmp_path, capsys):
    np.save(tmp_path / "votes.npy", COUNTS)
    code, imported, err = run_cli(["import", "votes", tmp_path / "votes.npy", "--store", store,
                                   "--json", tmp_path / "h.json", "--bootstrap", 200], capsys)
    assert code == 0, err
    assert "Error consistency with people" in one_line(imported)
    s = Store(store)
    maj, rnd = s.read_model("human-majority"), s.read_model("human-random")
    assert maj.topk_ids[:, 0].tolist() == [0, 1, 2, 0]  # ties -> lowest class id
    assert maj.topk_ids.tolist()[1] == [1, 2, 0]
    assert rnd.topk_ids.tolist() == [[0], [1], [2], [0]] and rnd.topk_ids.shape[1] == 1
    shares = COUNTS / COUNTS.sum(axis=1, keepdims=True)
    assert np.allclose(s.read_probs("human-random"), shares)
    expected = np.mean([8 / 10, 3 / 7, 9 / 10, 5 / 10])  # count[label] / total per image
    assert s.model_metadata("human-random")["top1"] == pytest.approx(expected, abs=1e-7)
    assert s.model_metadata("human-majority")["top1"] == 0.75  # a, b (the tie, won by 1) and c
    for name in ("human-majority", "human-random"):
        meta = s.model_metadata(name)
        assert meta["kind"] == "human" and meta["tie_break"] == "lowest class id"
        per = s.read_per_image(name)
        assert per["n_votes"].tolist() == [10, 7, 10, 10]
        assert per["top_share"].tolist() == pytest.approx([.8, 3 / 7, .9, .5])
        assert per["tied"].tolist() == [False, True, False, True]
        h = -(shares * np.log2(np.where(shares > 0, shares, 1))).sum(axis=1)
        assert per["entropy_bits"].to_numpy() == pytest.approx(h)
    # the models view shows the expectation, marked
    code, out, _ = run_cli(["models", "--store", store, "--json", tmp_path / "m.json"], capsys)
    rows = {r["name"]: r for r in json.loads((tmp_path / "m.json").read_text())["models"]}
    assert rows["human-random"]["top1"] == pytest.approx(expected, abs=1e-7)
    assert rows["human-random"]["accuracy"] == "expected" and rows["human-random"]["top5"] is None
    assert "accuracy" not in rows["m0"]
    assert "human-random *" in out and "expected accuracy of a person drawn at random" in one_line(out)
    report = json.loads((tmp_path / "h.json").read_text())
    assert report["predictors"]["human-random"]["accuracy"] == "expected"
    assert report["agreement"]["n_tied"] == 2
    ec = report["error_consistency"]["human-majority"]["models"][0]
    assert ec["model"] == "m0" and ec["low"] <= ec["kappa"] <= ec["high"]


def test_expected_accuracy_survives_label_and_sample_changes(tmp_path, capsys):
    """Votes imported before the labels: the store recomputes human-random's expectation when
    labels are filled, and again when it shrinks."""
    (tmp_path / "ids.txt").write_text("\n".join(IDS))
    np.save(tmp_path / "votes.npy", COUNTS)
    code, _, err = run_cli(["import", "votes", tmp_path / "votes.npy", "--ids", tmp_path / "ids.txt",
                            "--store", tmp_path / "S"], capsys)
    assert code == 0, err
    assert "no model in the store yet" in one_line(_)
    s = Store(tmp_path / "S")
    assert s.model_metadata("human-random")["top1"] is None
    (tmp_path / "m.json").write_text("[0, 1, 2, 1]")
    code, _, err = run_cli(["import", "list", tmp_path / "m.json", "--ids", ids_csv(tmp_path / "l.csv"),
                            "--store", tmp_path / "S"], capsys)
    assert code == 0, err
    assert s.model_metadata("human-random")["top1"] == pytest.approx(np.mean([.8, 3 / 7, .9, .5]))
    (tmp_path / "m2.json").write_text("[0, 1]")
    (tmp_path / "two.txt").write_text("a.png\nb.png")
    code, _, err = run_cli(["import", "list", tmp_path / "m2.json", "--ids", tmp_path / "two.txt",
                            "--align", "intersect", "--shrink-store", "--store", tmp_path / "S"], capsys)
    assert code == 0, err
    assert s.model_metadata("human-random")["top1"] == pytest.approx(np.mean([.8, 3 / 7]))
    assert s.model_metadata("human-majority")["top1"] == pytest.approx(1.0)


def test_every_bad_vote_file_is_one_error_and_changes_nothing(store, tmp_path, capsys):
    cases = {
        "negative": (np.array([[8, 2, 0], [1, -3, 3], [0, 1, 9], [5, 5, 0]]),
                     "row 2: negative vote count -3"),
        "fraction": (COUNTS + np.array([0, 0.5, 0])[None, :], "row 1: 2.5 is not a whole number"),
        "rows": (COUNTS[:3], "3 rows but the store"),
        "classes": (np.hstack([COUNTS, np.ones((4, 1), dtype=int)]),
                    "4 classes in the matrix but the store has 3"),
        "no_votes": (np.vstack([COUNTS[:3], [[0, 0, 0]]]), "row 4 has no votes"),
        "vector": (COUNTS[:, 0], "expected an (N, C) matrix of vote counts"),
        "strings": (np.array([["1", "2", "3"]] * 4), "expected whole numbers"),
    }
    before = snapshot(store)
    for case, (arr, message) in cases.items():
        np.save(tmp_path / f"{case}.npy", arr)
        code, out, err = run_cli(["import", "votes", tmp_path / f"{case}.npy", "--store", store], capsys)
        assert code == 2, (case, out, err)
        assert message in one_line(err), (case, err)
        assert snapshot(store) == before, case
    np.save(tmp_path / "ok.npy", COUNTS)
    assert run_cli(["import", "votes", tmp_path / "ok.npy", "--store", store], capsys)[0] == 0
    before = snapshot(store)
    code, _, err = run_cli(["import", "votes", tmp_path / "ok.npy", "--store", store], capsys)
    assert code == 2 and "already in the store" in one_line(err)
    assert snapshot(store) == before


def test_vote_summary_and_expected_correct():
    v = vote_summary(np.array([[0, 0, 0], [2, 2, 1]]))
    assert v.majority.tolist() == [-1, 0] and v.tied.tolist() == [False, True]
    assert np.isnan(v.top_share[0]) and np.isnan(v.entropy_bits[0])
    assert v.entropy_bits[1] == pytest.approx(-(2 * 0.4 * np.log2(0.4) + 0.2 * np.log2(0.2)))
    assert vote_summary(np.array([[5, 0]])).entropy_bits.tolist() == [0.0]
    got = expected_correct(COUNTS, np.array([0, -1, 2, 1]))
    assert got[[0, 2, 3]].tolist() == pytest.approx([.8, .9, .5]) and np.isnan(got[1])


# --------------------------------------------------------------------------- error consistency
def test_error_consistency_equals_sklearn_and_bootstrap_is_seeded():
    from sklearn.metrics import cohen_kappa_score

    rng = np.random.default_rng(3)
    n = 400
    truth = rng.random(n) < 0.8
    correct = np.stack([truth ^ (rng.random(n) < p) for p in (0.05, 0.2, 0.5)], axis=1)
    ec = error_consistency_ci(correct, truth, models=["x", "y", "z"], n_boot=300, seed=7)
    for j in range(3):
        assert ec.kappa[j] == pytest.approx(cohen_kappa_score(correct[:, j], truth), abs=1e-12)
        assert ec.low[j] <= ec.kappa[j] <= ec.high[j]
    again = error_consistency_ci(correct, truth, models=["x", "y", "z"], n_boot=300, seed=7)
    assert np.array_equal(again.low, ec.low) and np.array_equal(again.high, ec.high)
    other = error_consistency_ci(correct, truth, n_boot=300, seed=8)
    assert not np.array_equal(other.low, ec.low)
    # a fractional reference (a random person) is kappa with each image counted as right with
    # weight r and as wrong with weight 1 - r
    r = np.clip(truth * 0.9 + rng.random(n) * 0.1, 0, 1)
    frac = error_consistency_ci(correct, r, n_boot=50)
    for j in range(3):
        y1 = np.concatenate([correct[:, j], correct[:, j]])
        y2 = np.concatenate([np.ones(n, bool), np.zeros(n, bool)])
        want = cohen_kappa_score(y1, y2, sample_weight=np.concatenate([r, 1 - r]))
        assert frac.kappa[j] == pytest.approx(want, abs=1e-12)


def test_error_consistency_undefined_is_nan():
    ec = error_consistency_ci(np.ones((5, 1), bool), np.ones(5, bool), n_boot=20)
    assert np.isnan(ec.kappa[0]) and np.isnan(ec.low[0]) and np.isnan(ec.high[0])
    with pytest.raises(ValueError, match=r"expected values in \[0, 1\]"):
        error_consistency_ci(np.ones((2, 1), bool), np.array([0.5, 1.5]))


# --------------------------------------------------------------------------- --labels counts:
def test_count_label_sets_by_hand(tmp_path):
    counts = np.array([[6, 3, 1], [2, 2, 0], [0, 0, 0], [1, 1, 8]])
    np.save(tmp_path / "c.npy", counts)
    classes = pd.DataFrame({"id": ["0", "1", "2"], "name": ["cat", "dog", "frog"]})
    ids = ["a", "b", "c", "d"]
    # shares: a .6 .3 .1 / b .5 .5 0 / c no votes / d .1 .1 .8
    sets = load_label_sets(f"counts:{tmp_path / 'c.npy'}", ids, classes)  # default min share 0.5
    assert [sets.set_of(i) for i in range(4)] == [[0], [0, 1], [], [2]]
    assert sets.has_set.tolist() == [True, True, False, True]
    low = load_label_sets(f"counts:{tmp_path / 'c.npy'},min-share=0.3", ids, classes)
    assert [low.set_of(i) for i in range(4)] == [[0, 1], [0, 1], [], [2]]  # 3/10 >= 0.3 exactly
    tenth = load_label_sets(f"counts:{tmp_path / 'c.npy'}", ids, classes, min_share=0.1)
    assert [tenth.set_of(i) for i in range(4)] == [[0, 1, 2], [0, 1], [], [0, 1, 2]]
    strict = load_label_sets(f"counts:{tmp_path / 'c.npy'},min-share=0.7", ids, classes)
    assert [strict.set_of(i) for i in range(4)] == [[], [], [], [2]]
    assert strict.exclusion_counts() == {"no_set": 1, "empty": 2, "problematic": 0}


def test_count_label_sets_errors(tmp_path):
    classes = pd.DataFrame({"id": ["0", "1", "2"], "name": ["cat", "dog", "frog"]})
    np.save(tmp_path / "c.npy", np.ones((4, 3), dtype=int))
    np.save(tmp_path / "neg.npy", -np.ones((4, 3), dtype=int))
    for spec, msg in [
        (f"counts:{tmp_path / 'c.npy'},min-share=0", "outside (0, 1]"),
        (f"counts:{tmp_path / 'c.npy'},min-share=x", "is not a number"),
        (f"counts:{tmp_path / 'neg.npy'}", "negative vote count"),
        (f"counts:{tmp_path / 'nope.npy'}", "no such file"),
    ]:
        with pytest.raises(ValueError, match=msg.replace("(", r"\(").replace("]", r"\]")):
            load_label_sets(spec, list("abcd"), classes)
    with pytest.raises(ValueError, match="a 4 x 3 count matrix for a store of 5 samples"):
        load_label_sets(f"counts:{tmp_path / 'c.npy'}", list("abcde"), classes)


def test_evaluate_takes_count_labels(store, tmp_path, capsys):
    np.save(tmp_path / "c.npy", COUNTS)
    code, out, err = run_cli(["evaluate", "--store", store, "--labels",
                              f"counts:{tmp_path / 'c.npy'},min-share=0.1", "--json", tmp_path / "e.json"],
                             capsys)
    assert code == 0, err
    # sets at 0.1: a {0, 1}, b {0, 1, 2} (1/7 >= 0.1), c {1, 2}, d {0, 1}; m0 predicts 0, 1, 1, 1:
    # top-1 3 of 4 (c is wrong), multi-label 4 of 4
    row = json.loads((tmp_path / "e.json").read_text())["models"][0]
    assert (row["top1"], row["multilabel"], row["n_multilabel"]) == (0.75, 1.0, 4)


# --------------------------------------------------------------------------- --images
@pytest.fixture
def image_folder(tmp_path) -> Path:
    from PIL import Image

    root = tmp_path / "imgs"
    for i, rel in enumerate(["a.png", "sub/b.png", "sub/deep/c.png", "d.png"]):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 6), (40 * i, 0, 0)).save(root / rel)
    return root


def test_images_joined_by_path_and_by_name(image_folder, tmp_path, capsys):
    (tmp_path / "p.json").write_text("[0, 1, 2, 1]")
    ids = ["a.png", "sub/b.png", "c.png", "d.png"]  # by relative path, or by a unique file name
    code, _, err = run_cli(["import", "list", tmp_path / "p.json", "--ids", ids_csv(tmp_path / "i.csv", ids),
                            "--images", image_folder, "--store", tmp_path / "S"], capsys)
    assert code == 0, err
    s = Store(tmp_path / "S")
    assert s.samples()["path"].tolist() == ["a.png", "sub/b.png", "sub/deep/c.png", "d.png"]
    assert s.info()["images"] == str(image_folder.resolve())
    images = StoreImages(s)
    assert images.available
    assert [images.load(i).getpixel((0, 0)) for i in range(4)] == [(0, 0, 0), (40, 0, 0), (80, 0, 0),
                                                                   (120, 0, 0)]


def test_images_on_an_existing_store_and_votes(store, image_folder, tmp_path, capsys):
    np.save(tmp_path / "v.npy", COUNTS)
    code, _, err = run_cli(["import", "votes", tmp_path / "v.npy", "--images", image_folder,
                            "--store", store], capsys)
    assert code == 0, err
    assert Store(store).samples()["path"].tolist()[1] == "sub/b.png"
    assert StoreImages(Store(store)).load(2).size == (8, 6)


def test_missing_image_files_write_nothing(store, image_folder, tmp_path, capsys):
    (image_folder / "d.png").unlink()
    (image_folder / "sub" / "c.png").write_bytes(b"")  # c.png now twice: sub/ and sub/deep/
    (tmp_path / "p.json").write_text("[0, 1, 2, 1]")
    before = snapshot(store)
    code, _, err = run_cli(["import", "list", tmp_path / "p.json", "--store-order", "--images",
                            image_folder, "--store", store], capsys)
    assert code == 2
    assert "1 (first: 'd.png') of the 4 sample ids have no file there" in one_line(err)
    assert "nothing was written" in one_line(err)
    assert snapshot(store) == before
    (image_folder / "d.png").write_bytes(b"")
    code, _, err = run_cli(["import", "list", tmp_path / "p.json", "--store-order", "--images",
                            image_folder, "--store", store], capsys)
    assert code == 2 and "1 (first: 'c.png') sample ids match several files" in one_line(err)
    assert snapshot(store) == before
    code, _, err = run_cli(["import", "list", tmp_path / "p.json", "--store-order", "--images",
                            tmp_path / "nowhere", "--store", store], capsys)
    assert code == 2 and "no such folder" in err
    assert snapshot(store) == before
    # a new store is not created either
    code, _, err = run_cli(["import", "list", tmp_path / "p.json", "--ids", tmp_path / "ids.csv",
                            "--images", tmp_path / "nowhere", "--store", tmp_path / "new"], capsys)
    assert code == 2 and not (tmp_path / "new").exists()
