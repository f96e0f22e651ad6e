"""Real data: the published CIFAR-10 ResNet-56 (../shared/data/cifar10-resnets) over the
10,000 CIFAR-10 JPEG test images (../shared/data/cifar10-jpeg/test) in the original test
order, and its failure metrics against an independent float64 reference."""

import json
import time

import numpy as np
import pandas as pd
import pytest
from helpers import SHARED_DATA, run_cli

pytest.importorskip("torch", reason="predicting with the CIFAR ResNets needs misclass[torch]")

JPEG = SHARED_DATA / "cifar10-jpeg"
RESNETS = SHARED_DATA / "cifar10-resnets"
NORM = ["--mean", "0.485,0.456,0.406", "--std", "0.229,0.224,0.225"]


@pytest.fixture(scope="module")
def resnet56_store(tmp_path_factory):
    """ResNet-56 predictions (logits and probabilities, float32) of the 10,000 test images on
    2 CPU threads; returns (store path, seconds)."""
    if not (JPEG / "test_index.csv").is_file() or not (RESNETS / "resnet56.th").is_file():
        pytest.skip(f"CIFAR-10 JPEG test images or ResNet weights not found under {SHARED_DATA} "
                    "(../shared/data)")
    import torch

    from misclass.cli import main

    store = tmp_path_factory.mktemp("cifar10") / "store"
    old = torch.get_num_threads()
    t0 = time.perf_counter()
    try:
        main(["predict", "--data", f"folder:{JPEG},{JPEG / 'test_index.csv'}",
              "-m", f"cifar-resnet56@{RESNETS / 'resnet56.th'}", *NORM, "--save-logits", "--save-probs",
              "--threads", "2", "--batch-size", "500", "--store", str(store)])
    except SystemExit as exc:
        assert exc.code in (0, None), exc
    finally:
        torch.set_num_threads(old)
    return store, time.perf_counter() - t0


def _reference_aurc(scores: np.ndarray, errors: np.ndarray) -> float:
    """Mean selective risk over the coverages 1/n..n/n, most confident (lowest score) first."""
    order = np.argsort(scores, kind="stable")
    risks = np.cumsum(errors[order]) / np.arange(1, len(scores) + 1)
    return float(risks.mean())


@pytest.mark.slow
def test_resnet56_on_the_jpeg_test_set(resnet56_store, tmp_path, capsys):
    from scipy.special import softmax
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    from misclass.store import Store

    store_path, seconds = resnet56_store
    s = Store(store_path)
    index = pd.read_csv(JPEG / "test_index.csv")
    assert s.sample_ids().tolist() == index["file_name"].tolist()  # the original test order
    labels = index["label"].to_numpy()
    assert np.array_equal(s.labels(), labels) and s.class_names()[:2] == ["airplane", "automobile"]
    meta = s.model_metadata("resnet56")
    assert meta["top1"] == pytest.approx(0.8320, abs=0.0005)  # the README's measured 83.20%
    assert meta["precision"] == "float32" and meta["preprocess"]["mean"] == [0.485, 0.456, 0.406]
    probs, logits = s.read_probs("resnet56"), s.read_logits("resnet56")
    assert probs.dtype == np.float32 and logits.dtype == np.float32
    p64 = softmax(np.asarray(logits, dtype=np.float64), axis=1)
    assert np.array_equal(p64.argmax(1), s.read_model("resnet56").topk_ids[:, 0])
    ones = {"float16": int((probs.astype(np.float16).max(1) == 1).sum()),
            "float32": int((probs.max(1) == 1).sum()), "float64": int((p64.max(1) == 1).sum())}
    assert ones["float16"] > 5000 and ones["float32"] < ones["float16"] / 3 and ones["float64"] == 0

    code, _, err = run_cli(["failure", "--store", store_path, "--model", "resnet56", "--no-image-stats",
                            "--json", tmp_path / "f.json"], capsys)
    assert code == 0, err
    result = json.loads((tmp_path / "f.json").read_text())["models"]["resnet56"]
    assert result["probability_source"] == "logits (float64 softmax)"
    # the reference, independent of misclass: the same seeded, error-stratified 50:50 split
    errors = p64.argmax(1) != labels
    _, test = train_test_split(np.arange(len(labels)), train_size=0.5, random_state=0, stratify=errors)
    test = np.sort(test)
    assert result["split"]["test"] == len(test) == 5000
    msp = {"float64": 1 - p64.max(1), "float32": 1 - probs.max(1).astype(np.float64),
           "float16": 1 - probs.astype(np.float16).max(1).astype(np.float64)}
    assert len(np.unique(msp["float64"][test])) == len(test)  # no ties: the AURC needs no tie rule
    figures = {}
    for precision, score in msp.items():
        figures[precision] = {"auroc": roc_auc_score(errors[test], score[test]),
                              "aurc": _reference_aurc(score[test], errors[test])}
    got = result["scores"]["msp"]
    assert got["auroc"] == pytest.approx(figures["float64"]["auroc"], abs=1e-9)
    assert got["aurc"] == pytest.approx(figures["float64"]["aurc"], abs=1e-9)
    assert figures["float16"]["auroc"] < figures["float64"]["auroc"] - 0.01
    with capsys.disabled():
        print(f"\nResNet-56 on the CIFAR-10 JPEG test set: top-1 {meta['top1']:.4f}, predict "
              f"{seconds:.1f} s on 2 threads; max prob exactly 1.0: {ones}; MSP on the 5,000 test-split "
              "images: " + ", ".join(f"{k} AUROC {v['auroc']:.4f} AURC {v['aurc']:.4f}"
                                     for k, v in figures.items()))
