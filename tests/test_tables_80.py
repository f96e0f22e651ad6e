"""Every command's tables at 80 columns: no value is ever cut ("…"), on a store with long
model names (the shared ImageNet timm models, a CIFAR-10 testbed name) and long class names.

The store is made in code (a few hundred images, seven predictors with probabilities), so
the whole module runs in seconds and needs no shared data; ``factors`` needs ImageNet-X
annotations and runs on the shared ImageNet predictions when they are there.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from helpers import run_cli

from misclass.store import Store

MODELS = ("convit_small", "convit_tiny", "convmixer_768_32", "deit_tiny_patch16_224",
          "swin_base_patch4_window7_224", "vit_small_patch32_224", "shake_shake_26_2x64d_SSI_cutout16")
CLASSES = ("American Staffordshire terrier", "Granny Smith", "black-footed ferret",
           "Chesapeake Bay retriever", "oystercatcher", "German short-haired pointer",
           "three-toed sloth", "loggerhead turtle")
N_PER_CLASS = 40
ELLIPSIS = "…"


def make_store(path, *, seed: int = 0, shift: float = 0.0) -> Store:
    """``len(CLASSES) * N_PER_CLASS`` images; model j is right on about 90 - 4j % of them
    (less by ``shift``), its errors go mostly to the next class; full probabilities stored."""
    rng = np.random.default_rng(seed)
    n, c = len(CLASSES) * N_PER_CLASS, len(CLASSES)
    labels = np.repeat(np.arange(c), N_PER_CLASS)
    samples = pd.DataFrame({"sample_id": [f"ILSVRC2012_val_{i:08d}.JPEG" for i in range(n)],
                            "label": labels})
    store = Store.create(path, samples=samples, classes=pd.DataFrame({"name": list(CLASSES)}))
    for j, name in enumerate(MODELS):
        right = rng.random(n) < 0.9 - 0.04 * j - shift
        nearby = rng.random(n) < 0.7
        wrong = np.where(nearby, (labels + 1) % c, rng.integers(0, c, n))
        wrong = np.where(wrong == labels, (labels + 2) % c, wrong)
        top1 = np.where(right, labels, wrong)
        logits = rng.normal(0, 1, (n, c))
        logits[np.arange(n), top1] += 3 + rng.random(n)
        probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        order = np.argsort(-probs, axis=1)[:, :5]
        store.write_model(name, order, np.take_along_axis(probs, order, axis=1),
                          probs=probs.astype(np.float32))
    return store


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    root = tmp_path_factory.mktemp("tables80")
    store = make_store(root / "store")
    shifted = make_store(root / "shifted", seed=1, shift=0.1)
    ids = store.sample_ids()
    labels = store.labels()
    rows = [{"sample_id": str(s), "labels": [int(y), int((y + 1) % len(CLASSES))] if i % 3 else [int(y)]}
            for i, (s, y) in enumerate(zip(ids, labels, strict=True))]
    sets = root / "sets.jsonl"
    sets.write_text("".join(json.dumps(r) + "\n" for r in rows))
    groups = root / "groups.csv"
    group = {k: "dogs and other long-named animals" if k < 4 else "other" for k in range(len(CLASSES))}
    groups.write_text("class,group\n" + "".join(f"{name},{group[k]}\n" for k, name in enumerate(CLASSES)))
    return root, store.path, shifted.path, sets, groups


def _check(out: str, what) -> None:
    """Nothing cut, nothing wider than the 80 columns."""
    assert out.strip(), what
    cut = [line for line in out.splitlines() if ELLIPSIS in line]
    assert not cut, f"{what}: cut values:\n" + "\n".join(cut)
    wide = [line for line in out.splitlines() if len(line) > 80 and line[:1] in "┃│┏┡└├"]
    assert not wide, f"{what}: table lines wider than 80 columns:\n" + "\n".join(wide)


@pytest.fixture
def run80(capsys, monkeypatch):
    """Run ``misclass ARGS`` with an 80-column console; return what it printed."""
    from misclass.cli.app import console

    monkeypatch.setattr(console, "_width", 80)

    def run(args) -> str:
        code, out, err = run_cli(args, capsys)
        assert code == 0, err
        _check(out, " ".join(map(str, args[:1])))
        return out
    return run


def test_every_command_fits_80_columns(stores, run80, tmp_path):
    root, store, shifted, sets, groups = stores
    s = ["--store", store]
    out = run80(["models", *s])
    assert "shake_shake_26_2x64d_SSI_cutout16" in out
    out = run80(["evaluate", *s, "--labels", sets, "--groups", groups])
    assert "(points)" in out and "(160 images)" in out
    run80(["evaluate", *s])
    run80(["shift", *s, "--shifted-store", shifted])
    out = run80(["compare", *s])
    assert "#7 vit_small_patch32_224" in out
    run80(["confusion", *s, "--top-classes", "3", "--group-a", "0:1", "--group-b", "1:2"])
    run80(["failure", *s, "--model", MODELS[-1], "--coverage", "0.9",
           "--rejected", tmp_path / "rejected.txt"])
    run80(["label-issues", *s, "--top", "10"])
    run80(["review", "task", "a-long-task-name-for-checking", *s, "--kind", "random", "--size", "20"])
    run80(["review", "tasks", *s])
    ids = [f"ILSVRC2012_val_{i:08d}.JPEG" for i in range(30)]
    labels = "".join(f"{x},{i % 3}\n" for i, x in enumerate(ids))
    (tmp_path / "labels.csv").write_text("file_name,label\n" + labels)
    timm = tmp_path / f"{MODELS[-1]}.csv"
    timm.write_text("".join(f"{x},{(i + (i % 4 == 0)) % 3}\n" for i, x in enumerate(ids)))
    out = run80(["import", "timm-csv", timm, "--labels", tmp_path / "labels.csv", "--num-classes", "3",
                 "--store", tmp_path / "imported"])
    assert MODELS[-1] in out and "73.33%" in out  # 22 of 30 right


def test_explain_per_pair_table_fits_80_columns(run80, capsys, monkeypatch):
    """explain's tables from a stored run (the command itself trains and erases: see
    tests/test_explain_cli.py), with ImageNet-long class names."""
    from misclass.cli import explain as cli_explain
    from misclass.cli.app import console
    from misclass.workflows.explain import ExplainResult

    monkeypatch.setattr(console, "_width", 80)
    side = {"n_misclassified": 1234, "fixed": 456, "moved": 78, "unchanged": 700, "n_correct": 1234,
            "broken": 12, "fix_rate": 456 / 1234, "break_rate": 12 / 1234}
    pairs = [{"true_name": CLASSES[k], "predicted_name": CLASSES[-1 - k], "n": 40 - k, "fix_rate": 0.5,
              "random_fix_rate": 0.125, "p": 1e-5,
              "label": "interference-like" if k % 2 else "similarity-like",
              "confusion_type": "symmetric" if k % 2 else "one-way"} for k in range(4)]
    sweep = [{"top_percent": t, "box": b, "erased_fraction": t / 100, "fixes": 10, "breaks": 2,
              "net_gain": 8, "random_fixes": 3, "p_fixes": 0.01, "best": t == 5}
             for t in (1, 5) for b in ("4x4", "8x8")]
    payload = {"model": "shake_shake_26_2x64d_SSI_cutout16", "method": "integrated-gradients",
               "target": "predicted", "top_percent": 5, "box": "8x8", "fill": "blur",
               "accounting": {"saliency": side, "random": side, "erased_fraction": 0.05},
               "mcnemar": {"fixes": {"b": 40, "c": 4, "p_exact": 1e-9, "chi2": 27.5, "p_chi2": 1e-7},
                           "breaks": {"b": 3, "c": 2, "p_exact": 1.0}},
               "pairs": pairs, "sweep": sweep}
    cli_explain._print(ExplainResult(store="s", payload=payload))
    out = capsys.readouterr().out
    _check(out, "explain")
    assert "similarity-like" in out and "interference-like" in out


def test_factors_fits_80_columns(imagenet_timm_store, run80):
    """ImageNet-X error ratios of the seven shared ImageNet models (long names, 16 factors)."""
    out = run80(["factors", "--store", imagenet_timm_store])
    assert "convit_tiny" in out and "convit_small" in out


def test_fit_table_wraps_then_prints_one_row_per_value():
    from rich.console import Console
    from rich.table import Table

    from misclass.cli.tables import LONG_NOTE, fit_table

    def render(table) -> str:
        console = Console(width=80, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
        console.print(fit_table(table, console))
        return console.export_text()

    wide = Table(title="ten models")
    wide.add_column("class")
    for name in MODELS + MODELS[:3]:
        wide.add_column(name, justify="right")
    wide.add_row("Granny Smith", *["85.26%"] * 10)
    out = render(wide)
    _check(out, "wide")
    assert LONG_NOTE in " ".join(out.split()) and out.count("85.26%") == 10
    assert all(name in out for name in MODELS)
    narrow = Table()  # two columns, a word longer than the terminal: folded, never cut
    narrow.add_column("id")
    narrow.add_column("path")
    narrow.add_row("1", "x" * 150)
    out = render(narrow)
    _check(out, "narrow")
    assert out.count("x") == 150
