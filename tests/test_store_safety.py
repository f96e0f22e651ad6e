"""Nothing lost, nothing let in: each defect a hostile tester found, as a test.

Every failed write checks its one-line message and that every file of the store is byte for
byte as before (``snapshot``). Concurrency and kill tests run real processes.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import run_cli

from misclass import Store
from misclass.store import transaction
from misclass.store.lock import FileLock

CLI = [sys.executable, "-c", "import sys; from misclass.cli import main; main(sys.argv[1:])"]


def snapshot(folder: Path) -> dict[str, str]:
    import hashlib

    return {str(p.relative_to(folder)): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def one_line(text: str) -> str:
    return " ".join(text.split())


def write_table_csv(path: Path, ids, topk, probs=None, labels=None) -> Path:
    frame = {"sample_id": ids, "topk_ids": [" ".join(map(str, r)) for r in topk]}
    if probs is not None:
        frame["topk_probs"] = [" ".join(repr(float(x)) for x in r) for r in probs]
    if labels is not None:
        frame["label"] = labels
    pd.DataFrame(frame).to_csv(path, index=False)
    return path


def timm_csv(path: Path, ids, top1, labels) -> Path:
    path.write_text("".join(f"{i},{p},{t}\n" for i, p, t in zip(ids, top1, labels, strict=True)))
    return path


@pytest.fixture
def store3(tmp_path, capsys) -> Path:
    """A store of 4 images, 3 classes, model m1 with top-3 probabilities."""
    csv = write_table_csv(tmp_path / "m1.csv", ["a", "b", "c", "d"],
                          [[0, 1, 2], [1, 0, 2], [2, 1, 0], [0, 2, 1]],
                          [[.7, .2, .1]] * 4, labels=[0, 1, 1, 2])
    code, _, err = run_cli(["import", "table", csv, "--store", tmp_path / "S"], capsys)
    assert code == 0, err
    return tmp_path / "S"


# --------------------------------------------------------------------------- bad probabilities
@pytest.mark.parametrize("bad", ["1.5", "nan", "-0.2"])
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_bad_probability_changes_nothing(tmp_path, store3, capsys, bad, fmt):
    ids = ["a", "b", "c"]
    probs = [[.7, .2, .1], [float(bad), .2, .1], [.5, .3, .2]]
    path = tmp_path / f"m2.{fmt}"
    if fmt == "csv":
        write_table_csv(path, ids, [[0, 1, 2]] * 3, probs)
    else:
        pd.DataFrame({"sample_id": ids, "topk_ids": [[0, 1, 2]] * 3, "topk_probs": probs}).to_parquet(path)
    before = snapshot(store3)
    code, _, err = run_cli(["import", "table", path, "--store", store3, "--align", "intersect"], capsys)
    assert code == 2
    assert f"m2.{fmt}: row 2, topk_probs:" in one_line(err)
    assert "expected values in [0, 1]" in one_line(err)
    assert "Traceback" not in err
    assert snapshot(store3) == before


def test_repeated_class_in_a_topk_row(tmp_path, store3, capsys):
    path = write_table_csv(tmp_path / "rep.csv", ["a", "b", "c", "d"], [[0, 1], [2, 2], [0, 1], [0, 1]])
    before = snapshot(store3)
    code, _, err = run_cli(["import", "table", path, "--store", store3], capsys)
    assert code == 2 and "rep.csv: row 2, topk_ids: class 2 appears twice" in one_line(err)
    assert snapshot(store3) == before


def test_bad_second_file_of_a_batch_writes_nothing(tmp_path, store3, capsys):
    good = write_table_csv(tmp_path / "good.csv", ["a", "b", "c", "d"], [[0]] * 4)
    bad = write_table_csv(tmp_path / "bad.csv", ["a", "b", "c", "d"], [[0], [1], [7], [0]])
    before = snapshot(store3)
    code, _, err = run_cli(["import", "table", good, bad, "--store", store3], capsys)
    assert code == 2 and "bad.csv: row 3, predicted class: class id 7 is out of range" in one_line(err)
    assert snapshot(store3) == before


def test_bad_file_creates_no_store(tmp_path, capsys):
    bad = write_table_csv(tmp_path / "bad.csv", ["a", "b"], [[0, 1], [1, 0]], [[.5, .5], [2.0, .1]])
    code, _, err = run_cli(["import", "table", bad, "--store", tmp_path / "new"], capsys)
    assert code == 2 and "bad.csv: row 2, topk_probs" in one_line(err)
    assert not (tmp_path / "new").exists()


def test_huge_class_id_needs_num_classes(tmp_path, capsys):
    ids = [f"i{k}" for k in range(50)]
    top1 = [k % 10 for k in range(50)]
    top1[7] = 500_000_000
    csv = timm_csv(tmp_path / "huge.csv", ids, top1, [k % 10 for k in range(50)])
    code, _, err = run_cli(["import", "timm-csv", csv, "--target-column", "--store", tmp_path / "S"],
                           capsys)
    assert code == 2
    assert ("huge.csv: class id 500,000,000 is far above the other ids (11 distinct ids, the next "
            "largest 9); a store of 500,000,001 classes needs --num-classes or --classes") in one_line(err)
    assert not (tmp_path / "S").exists()


# --------------------------------------------------------------------------- explicit shrinking
def test_intersect_never_shrinks_without_being_told(tmp_path, store3, capsys):
    part = write_table_csv(tmp_path / "part.csv", ["a", "b", "x"], [[0], [1], [2]])
    before = snapshot(store3)
    code, _, err = run_cli(["import", "table", part, "--store", store3, "--align", "intersect"], capsys)
    assert code == 2
    assert ("part.csv: lacks 2 of the store's images; --align intersect keeps the store's images "
            "unless told otherwise: each of its 1 models (m1) would lose 2 of its 4 images. Pass "
            "--shrink-store") in one_line(err)
    assert snapshot(store3) == before
    code, out, err = run_cli(["import", "table", part, "--store", store3, "--align", "intersect",
                              "--shrink-store"], capsys)
    assert code == 0, err
    s = Store(store3)
    assert s.sample_ids().tolist() == ["a", "b"]
    assert {m: s.model_metadata(m)["n"] for m in s.model_names()} == {"m1": 2, "part": 2}
    assert s.model_metadata("m1")["top1"] == 1.0  # a and b are right; the wrong c and d are gone


# --------------------------------------------------------------------------- broken folders
def test_store_path_is_a_file(tmp_path, capsys):
    (tmp_path / "S").write_text("not a store")
    csv = write_table_csv(tmp_path / "m.csv", ["a"], [[0]])
    code, _, err = run_cli(["import", "table", csv, "--store", tmp_path / "S"], capsys)
    assert code == 2 and "the store path is a file; a misclass store needs a folder there" in one_line(err)
    code, _, err = run_cli(["models", "--store", tmp_path / "S"], capsys)
    assert code == 2 and "the store path is a file" in one_line(err)
    assert (tmp_path / "S").read_text() == "not a store"


def test_models_folder_is_a_file(tmp_path, store3, capsys):
    import shutil

    shutil.rmtree(store3 / "models")
    (store3 / "models").write_text("x")
    before = snapshot(store3)
    csv = write_table_csv(tmp_path / "m2.csv", ["a", "b", "c", "d"], [[0]] * 4)
    code, _, err = run_cli(["import", "table", csv, "--store", store3], capsys)
    assert code == 2 and "'models' is a file; a misclass store needs a folder there" in one_line(err)
    assert snapshot(store3) == before


def test_missing_classes_and_corrupt_parquet(tmp_path, store3, capsys):
    import shutil

    other = shutil.copytree(store3, tmp_path / "copy")
    (store3 / "models" / "m1.parquet").write_bytes(b"PAR1 garbage")
    before = snapshot(store3)
    code, _, err = run_cli(["models", "--store", store3], capsys)
    assert code == 2 and "m1.parquet: not a readable Parquet file" in one_line(err)
    assert "Traceback" not in err
    assert snapshot(store3) == before
    csv = write_table_csv(tmp_path / "m2.csv", ["a", "b", "c", "d"], [[0]] * 4)
    (other / "classes.parquet").unlink()
    before = snapshot(other)
    code, _, err = run_cli(["confusion", "--store", other], capsys)
    assert code == 2 and "classes.parquet: missing; the store is incomplete" in one_line(err)
    code, _, err = run_cli(["import", "table", csv, "--store", other], capsys)
    assert code == 2 and "classes.parquet: missing; the store is incomplete" in one_line(err)
    assert snapshot(other) == before


# --------------------------------------------------------------------------- full and read-only disks
@contextlib.contextmanager
def small_disk(path: Path, size: str):
    """A tmpfs of ``size`` at ``path`` (needs root and mount rights; skips otherwise)."""
    path.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill ({result.stderr.strip() or 'not root'})")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def npy_import(tmp_path: Path, name: str, probs: np.ndarray, ids: list[str]) -> tuple[Path, Path]:
    np.save(tmp_path / f"{name}.npy", probs)
    (tmp_path / f"{name}.ids").write_text("\n".join(ids) + "\n")
    return tmp_path / f"{name}.npy", tmp_path / f"{name}.ids"


def test_replace_that_runs_out_of_disk_changes_nothing(tmp_path, capsys):
    rng = np.random.default_rng(0)
    n, c = 2000, 100
    ids = [f"img{i}" for i in range(n)]
    with small_disk(tmp_path / "disk", "3m") as disk:
        old = rng.dirichlet(np.ones(c), size=n)
        f, i = npy_import(tmp_path, "m1", old, ids)
        code, _, err = run_cli(["import", "npy", f, "--ids", i, "--store", disk / "S", "--name", "m1"],
                               capsys)
        assert code == 0, err
        before = snapshot(disk / "S")
        filler = disk / "filler"
        free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
        filler.write_bytes(b"\0" * max(free - 300_000, 0))  # room for a parquet, not for probs
        new = rng.dirichlet(np.ones(c), size=n)
        f, i = npy_import(tmp_path, "m1new", new, ids)
        code, _, err = run_cli(["import", "npy", f, "--ids", i, "--store", disk / "S", "--name", "m1",
                                "--replace"], capsys)
        assert code == 2
        assert "no space left on the device; the store is unchanged" in one_line(err)
        assert "Traceback" not in err
        assert snapshot(disk / "S") == before
        s = Store(disk / "S")
        top1 = s.read_model("m1").topk_ids[:, 0]
        assert (np.argmax(s.read_probs("m1"), axis=1) == top1).all()
        filler.unlink()
        code, _, err = run_cli(["import", "npy", f, "--ids", i, "--store", disk / "S", "--name", "m1",
                                "--replace"], capsys)
        assert code == 0, err
        assert (np.argmax(Store(disk / "S").read_probs("m1"), axis=1) == np.argmax(new, axis=1)).all()


def test_read_only_store(tmp_path, capsys):
    with small_disk(tmp_path / "disk", "4m") as disk:
        csv = write_table_csv(tmp_path / "m1.csv", ["a", "b"], [[0], [1]], labels=[0, 1])
        assert run_cli(["import", "table", csv, "--store", disk / "S"], capsys)[0] == 0
        before = snapshot(disk / "S")
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        csv2 = write_table_csv(tmp_path / "m2.csv", ["a", "b"], [[1], [1]])
        code, _, err = run_cli(["import", "table", csv2, "--store", disk / "S"], capsys)
        assert code == 2 and "not writable (read-only filesystem or permissions)" in one_line(err)
        code, out, err = run_cli(["models", "--store", disk / "S"], capsys)
        assert code == 0, err  # reading a read-only store works
        assert snapshot(disk / "S") == before


# --------------------------------------------------------------------------- lock
def test_second_writer_waits_then_stops_with_a_clear_error(tmp_path, store3, capsys):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from misclass.store.lock import FileLock; "
         "from pathlib import Path; l = FileLock(Path(sys.argv[1])).acquire(); print('held', flush=True); "
         "time.sleep(30)", str(store3 / ".lock")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        before = snapshot(store3)
        csv = write_table_csv(tmp_path / "m2.csv", ["a", "b", "c", "d"], [[0]] * 4)
        code, _, err = run_cli(["import", "table", csv, "--store", store3, "--lock-timeout", "0.5"], capsys)
        assert code == 2
        assert f"waiting for the store lock held by pid {holder.pid}" in one_line(err)
        assert (f"the store lock is held by pid {holder.pid} (another misclass command is writing); "
                "gave up after 0.5 s") in one_line(err)
        assert snapshot(store3) == before
    finally:
        holder.kill()
        holder.wait()
    code, _, err = run_cli(["import", "table", csv, "--store", store3], capsys)
    assert code == 0, err


# --------------------------------------------------------------------------- recovery
def test_commit_interrupted_after_its_record_is_finished_on_open(store3, monkeypatch):
    s = Store(store3)
    old_ids = s.read_model("m1").topk_ids
    calls = {"n": 0}
    real_replace = os.replace

    def crash_after_one(src, dst):
        calls["n"] += 1
        if calls["n"] > 2:  # 1: the commit record, 2: the first staged file
            raise KeyboardInterrupt  # the process dies mid-commit
        real_replace(src, dst)

    monkeypatch.setattr(transaction.os, "replace", crash_after_one)
    with pytest.raises(KeyboardInterrupt):
        s.write_model("m1", np.zeros((4, 1), dtype=int), replace=True,
                      probs=np.full((4, 3), 1 / 3))
    monkeypatch.undo()
    assert transaction.has_committed(s.layout)
    fresh = Store(store3)
    assert fresh.read_model("m1").topk_ids.tolist() == [[0]] * 4  # rolled forward
    assert fresh.read_probs("m1").shape == (4, 3)
    assert fresh.model_metadata("m1")["k"] == 1
    assert not old_ids.tolist() == fresh.read_model("m1").topk_ids.tolist()
    assert not (store3 / ".txn").exists()


def test_write_interrupted_before_its_record_is_rolled_back(store3, monkeypatch):
    before = snapshot(store3)
    s = Store(store3)

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(transaction.files, "write_json", crash)
    with pytest.raises(KeyboardInterrupt):
        s.write_model("m2", np.zeros((4, 1), dtype=int), probs=np.full((4, 3), 1 / 3))
    monkeypatch.undo()
    assert Store(store3).model_names() == ["m1"]
    assert snapshot(store3) == before


def test_leftover_staging_of_a_killed_writer_is_removed(store3):
    staged = store3 / ".txn" / "deadbeef0000"
    staged.mkdir(parents=True)
    (staged / "00000-m9.parquet").write_bytes(b"half")
    (store3 / "models" / ".m1.parquet.tmp-1234abcd").write_bytes(b"half")
    s = Store(store3)
    s.write_model("m2", np.zeros((4, 1), dtype=int))
    assert not (store3 / ".txn").exists()
    assert not list((store3 / "models").glob(".*tmp-*"))
    assert s.model_names() == ["m1", "m2"]


def test_metadata_follows_label_changes(tmp_path):
    s = Store.create(tmp_path / "s", samples=pd.DataFrame({"sample_id": ["a", "b"], "label": [-1, 1]}),
                     classes=pd.DataFrame({"name": ["x", "y"]}))
    s.write_model("m", np.array([[0], [1]]))
    assert s.model_metadata("m")["top1"] == 1.0
    s.update_labels(np.array([1, 1]), "labels.csv")
    assert s.model_metadata("m")["top1"] == 0.5


def test_reader_waits_for_a_commit(store3):
    """A reader sharing the commit lock blocks a commit; the commit lands after the read."""
    s = Store(store3)
    with FileLock(s.layout.commit_lock, shared=True):
        proc = subprocess.Popen(CLI + ["set-kind", "m1", "--kind", "human", "--store", str(store3)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.5)
        assert proc.poll() is None  # waiting for the reader
        assert s.model_metadata("m1").get("kind") != "human"
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert Store(store3).model_metadata("m1")["kind"] == "human"


# --------------------------------------------------------------------------- real processes
def _labels_csv(path: Path, ids, labels) -> Path:
    pd.DataFrame({"file_name": ids, "label": labels}).to_csv(path, index=False)
    return path


@pytest.mark.slow
def test_two_imports_into_one_new_store(tmp_path):
    """20 rounds of two processes importing into one new store at once."""
    rng = np.random.default_rng(1)
    n = 5000
    ids = [f"img{i:05d}.JPEG" for i in range(n)]
    labels = rng.integers(0, 100, n)
    lab = _labels_csv(tmp_path / "labels.csv", ids, labels)
    files = [timm_csv(tmp_path / f"m{j}.csv", ids, np.where(rng.random(n) < .7, labels,
                                                           rng.integers(0, 100, n)), labels)
             for j in range(2)]
    outcomes = []
    for r in range(20):
        store = tmp_path / f"S{r}"
        procs = [subprocess.Popen(CLI + ["import", "timm-csv", str(f), "--labels", str(lab),
                                         "--num-classes", "100", "--store", str(store)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for f in files]
        results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
        s = Store(store)
        pred = s.load()  # never a store that fails to load
        failed = [err for code, err in results if code != 0]
        for err in failed:
            assert "store lock" in err and "Traceback" not in err, err
        if not failed:
            assert pred.models == ("m0", "m1")
            assert pred.labels.tolist() == labels.tolist()
        outcomes.append(len(failed))
    assert outcomes.count(0) >= 1


def _run_and_kill(cmd: list[str], delay: float) -> int | None:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(delay)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return proc.returncode


@pytest.mark.slow
def test_kill_during_a_seven_file_import_and_a_replace(tmp_path):
    """kill -9 at random moments, 20 rounds each: the store loads; models are wholly old or new."""
    rng = np.random.default_rng(2)
    n, c = 4000, 50
    ids = [f"img{i:05d}" for i in range(n)]
    labels = rng.integers(0, c, n)
    lab = _labels_csv(tmp_path / "labels.csv", ids, labels)
    files = [timm_csv(tmp_path / f"m{j}.csv", ids, rng.integers(0, c, n), labels) for j in range(7)]
    expected = {f"m{j}": np.loadtxt(files[j], delimiter=",", usecols=1, dtype=int) for j in range(7)}
    seven = CLI + ["import", "timm-csv", *map(str, files), "--labels", str(lab), "--num-classes", str(c)]
    t0 = time.monotonic()
    subprocess.run(seven + ["--store", str(tmp_path / "ref")], check=True, capture_output=True)
    duration = time.monotonic() - t0
    pyrng = random.Random(3)
    whole = 0
    for r in range(20):
        store = tmp_path / f"K{r}"
        _run_and_kill(seven + ["--store", str(store)], pyrng.uniform(0.3, duration))
        s = Store(store)
        if not store.exists() or not s.exists():
            continue
        pred = s.load()
        assert pred.models in ((), tuple(sorted(expected)))
        for j, name in enumerate(pred.models):
            assert pred.top1[:, j].tolist() == expected[name].tolist()
        whole += len(pred.models) == 7
    # --replace of a model with probabilities, logits and a per-model JSON
    old = rng.dirichlet(np.ones(c), size=n)
    new = rng.dirichlet(np.ones(c), size=n)
    f_old, i_ = npy_import(tmp_path, "old", np.log(old), ids)
    f_new, _ = npy_import(tmp_path, "new", np.log(new), ids)
    base = tmp_path / "R"
    subprocess.run(CLI + ["import", "npy", str(f_old), "--logits", "--ids", str(i_), "--name", "m",
                          "--store", str(base)], check=True, capture_output=True)
    replace = CLI + ["import", "npy", str(f_new), "--logits", "--ids", str(i_), "--name", "m",
                     "--replace", "--store", str(base)]
    t0 = time.monotonic()
    subprocess.run(replace, check=True, capture_output=True)
    duration = time.monotonic() - t0
    versions = {tuple(np.argmax(old, axis=1)): "old", tuple(np.argmax(new, axis=1)): "new"}
    seen = set()
    for r in range(20):
        subprocess.run(CLI + ["import", "npy", str(f_old if r % 2 else f_new), "--logits", "--ids",
                              str(i_), "--name", "m", "--replace", "--store", str(base)],
                       check=True, capture_output=True)
        _run_and_kill(replace if r % 2 else [c.replace(str(f_new), str(f_old)) for c in replace],
                      pyrng.uniform(0.3, duration))
        s = Store(base)
        top1 = tuple(s.read_model("m").topk_ids[:, 0])
        assert top1 in versions
        which = versions[top1]
        assert tuple(np.argmax(s.read_probs("m"), axis=1)) == top1
        assert tuple(np.argmax(s.read_logits("m"), axis=1)) == top1
        meta = json.loads((base / "models" / "m.json").read_text())
        assert meta["file"].endswith(f"{which}.npy")
        seen.add(which)
    assert whole >= 0 and seen  # the loop ran; which moments were hit is random
