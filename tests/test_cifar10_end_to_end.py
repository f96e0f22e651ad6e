"""Real data end to end (docs/cifar10.md): the four published ResNets predicted on the CIFAR-10
JPEG test images (the session fixture ``cifar10_resnets_store``), the 30 testbed models imported
beside them, CIFAR-10H's people as predictors and as label sets, CIFAR-10.1 v4 as the shifted
test set; every analysis command and the report on that store. The imports' own figures are
checked in test_cifar10_imports.py, the predictions in test_cifar10_resnets.py. Skipped when
../shared/data is absent."""

from __future__ import annotations

import json
import shutil
import time

import numpy as np
import pandas as pd
import pytest
from helpers import SHARED_DATA, run_cli

from misclass import Store
from misclass.cli import main

TESTBED = SHARED_DATA / "cifar10-testbed"
JPEG = SHARED_DATA / "cifar10-jpeg"
CIFAR10H = SHARED_DATA / "cifar10h" / "cifar10h-counts.npy"
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
RESNETS = ["resnet20", "resnet32", "resnet44", "resnet56"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (TESTBED.is_dir() and CIFAR10H.is_file()),
                       reason=f"the CIFAR-10 testbed or CIFAR-10H not found under {SHARED_DATA} "
                       "(../shared/data)"),
]


def cli(*args) -> None:
    try:
        main([str(a) for a in args])
    except SystemExit as exc:
        assert exc.code in (0, None), f"misclass {' '.join(map(str, args))} exited {exc.code}"


def cli_json(path, *args) -> dict:
    cli(*args, "--json", path)
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def stores(cifar10_resnets_store, tmp_path_factory):
    """(combined store, CIFAR-10.1 v4 store): the ResNets, the 30 testbed models and
    human-majority / human-random on CIFAR-10 test; the 30 models on v4 with the same classes."""
    root = tmp_path_factory.mktemp("cifar10-e2e")
    store = root / "store"
    shutil.copytree(cifar10_resnets_store[0], store)

    cli("import", "list", *sorted((TESTBED / "original").glob("*.json")), "--ids", JPEG / "test_index.csv",
        "--strip", "_predictions", "--store", store)
    cli("import", "votes", CIFAR10H, "--store", store, "--bootstrap", 100)
    labels = np.load(TESTBED / "cifar10.1_v4_labels.npy")
    pd.DataFrame({"sample_id": [f"v4-{i:04d}" for i in range(len(labels))], "label": labels}).to_csv(
        root / "v4_ids.csv", index=False)
    pd.DataFrame({"name": CLASSES, "id": CLASSES}).to_csv(root / "classes.csv", index=False)
    cli("import", "list", *sorted((TESTBED / "v4").glob("*.json")), "--ids", root / "v4_ids.csv",
        "--classes", root / "classes.csv", "--strip", "_predictions", "--store", root / "v4")
    return store, root / "v4"


def test_evaluate_counts_a_random_person_by_expectation(stores, tmp_path, capsys):
    store, _ = stores
    counts = np.load(CIFAR10H)
    labels = Store(store).labels()
    shares = counts / counts.sum(axis=1, keepdims=True)
    d = cli_json(tmp_path / "e.json", "evaluate", "--store", store)
    rows = {r["name"]: r for r in d["models"]}
    assert len(rows) == 36
    assert rows["human-random"]["accuracy"] == "expected" and rows["human-random"]["top5"] is None
    assert rows["human-random"]["top1"] == pytest.approx(shares[np.arange(10_000), labels].mean(), abs=1e-6)
    assert round(100 * rows["human-random"]["top1"], 2) == 95.23  # CIFAR-10H's README, not 99.21
    assert round(100 * rows["human-majority"]["top1"], 2) == 99.21
    assert [round(100 * rows[n]["top1"], 2) for n in RESNETS] == [81.03, 82.56, 82.67, 83.20]

    spec = f"counts:{CIFAR10H}"
    d = cli_json(tmp_path / "m.json", "evaluate", "--store", store, "--labels", spec, "--min-share", "0.1")
    rows = {r["name"]: r for r in d["models"]}
    member = shares >= 0.1  # a class a tenth of the people chose
    assert int((member.sum(axis=1) > 1).sum()) == 896  # CIFAR-10H's README
    assert rows["human-random"]["multilabel"] == pytest.approx((shares * member).sum(axis=1).mean(), abs=1e-6)
    top1 = Store(store).read_model("resnet56").topk_ids[:, 0]
    assert rows["resnet56"]["multilabel"] == pytest.approx(member[np.arange(10_000), top1].mean())
    assert rows["human-majority"]["multilabel"] == 1.0 and rows["resnet56"]["n_multilabel"] == 10_000


def test_shift_to_cifar10_1_v4(stores, tmp_path, capsys):
    from scipy.special import expit, logit
    from scipy.stats import linregress

    store, v4 = stores
    d = cli_json(tmp_path / "s.json", "shift", "--store", store, "--shifted-store", v4)
    assert d["left_out"] == ["human-majority", "human-random", *RESNETS]  # not in the v4 store
    rows = {r["name"]: r for r in d["models"]}
    assert len(rows) == 30
    x = np.array([r["original"] for r in rows.values()])
    y = np.array([r["shifted"] for r in rows.values()])
    ref = linregress(logit(x), logit(y))
    fit = d["fit"]
    assert (fit["slope"], fit["intercept"], fit["r"]) == pytest.approx((ref.slope, ref.intercept, ref.rvalue),
                                                                       abs=1e-12)
    predicted = expit(ref.slope * logit(x) + ref.intercept)
    assert [r["effective_robustness"] for r in rows.values()] == pytest.approx(y - predicted, abs=1e-12)
    basic = rows["resnet_basic_32"]  # the testbed README's (92.52, 84.86)
    assert (basic["original"], round(basic["shifted"], 4)) == (0.9252, 0.8486)
    assert basic["drop"] == pytest.approx(basic["original"] - basic["shifted"])


def test_every_analysis_and_the_report(stores, tmp_path, capsys):
    store, v4 = stores
    seconds = {}

    def timed(name, *args):
        t0 = time.perf_counter()
        out = cli_json(tmp_path / f"{name}.json", *args)
        seconds[name] = time.perf_counter() - t0
        return out

    models = timed("models", "models", "--store", store)
    assert len(models["models"]) == 36
    compare = timed("compare", "compare", "--store", store)
    assert compare["left_out"] == ["human-random"] and len(compare["models"]) == 35
    assert any("left out human-random" in n for n in compare["notes"])
    timed("confusion", "confusion", "--store", store)
    failure = timed("failure", "failure", "--store", store, "-m", "resnet56", "--no-image-stats")
    assert failure["models"]["resnet56"]["scores"]["msp"]["auroc"] > 0.8
    s = Store(store)
    top1 = s.read_model("resnet56").topk_ids[:, 0]
    wrong = np.flatnonzero((top1 == CLASSES.index("dog")) & (s.labels() == CLASSES.index("cat")))[:6]
    explain = timed("explain", "explain", "--store", store, "-m", "resnet56", "--images",
                    ",".join(s.sample_ids()[wrong]), "--no-sweep", "--correct", "6", "--threads", "2")
    assert explain  # what explain's numbers mean is tested in its own tests
    code, _, err = run_cli(["factors", "--store", store], capsys)
    assert code == 2 and "needs an ImageNet-1k store" in " ".join(err.split())  # CIFAR: no ImageNet-X

    t0 = time.perf_counter()
    cli("report", "--store", store, "--out", tmp_path / "report", "--labels", f"counts:{CIFAR10H}",
        "--shifted-store", v4)
    seconds["report"] = time.perf_counter() - t0
    html = (tmp_path / "report" / "index.html").read_text()
    for title in ("Models", "Where each model fails", "Does another model get it right?",
                  "Is the label the problem?", "Distribution shift", "Which images will fail",
                  "What in the image causes the error"):
        assert f"<h2>{title}</h2>" in html, title
    assert "human-random *" in html and "95.23" in html
    figures = {p.name for p in (tmp_path / "report" / "figures").glob("*.png")}
    assert {"accuracy.png", "shift.png", "labels-multilabel-vs-top1.png",
            "explain-triplets-resnet56.png"} <= figures
    with capsys.disabled():
        print("\nCIFAR-10 end to end, seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in seconds.items()))
