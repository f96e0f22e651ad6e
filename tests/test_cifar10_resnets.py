"""Real data: the four published CIFAR-10 ResNets (../shared/data/cifar10-resnets) over the
10,000 CIFAR-10 JPEG test images (../shared/data/cifar10-jpeg/test) in the original test
order (the session fixture ``cifar10_resnets_store`` predicts them once), and ResNet-56's
failure metrics against an independent float64 reference."""

import json

import numpy as np
import pandas as pd
import pytest
from helpers import SHARED_DATA, run_cli

pytest.importorskip("torch", reason="predicting with the CIFAR ResNets needs misclass[torch]")

JPEG = SHARED_DATA / "cifar10-jpeg"
#: top-1 on the JPEG test images, counted independently of misclass (cifar10-resnets/README.md)
MEASURED = {"resnet20": 0.8103, "resnet32": 0.8256, "resnet44": 0.8267, "resnet56": 0.8320}


@pytest.mark.slow
def test_four_resnets_on_the_jpeg_test_set(cifar10_resnets_store, capsys):
    from misclass.store import Store

    store_path, seconds = cifar10_resnets_store
    s = Store(store_path)
    index = pd.read_csv(JPEG / "test_index.csv")
    assert s.sample_ids().tolist() == index["file_name"].tolist()  # the original test order
    assert np.array_equal(s.labels(), index["label"].to_numpy())
    assert s.class_names()[:2] == ["airplane", "automobile"] and s.model_names() == list(MEASURED)
    top1 = {}
    for name, want in MEASURED.items():
        meta = s.model_metadata(name)
        top1[name] = meta["top1"]
        assert meta["top1"] == pytest.approx(want, abs=5e-5), name  # the README's figure, to 0.01%
        assert meta["precision"] == "float32" and meta["preprocess"]["mean"] == [0.485, 0.456, 0.406]
        probs, logits, features = s.read_probs(name), s.read_logits(name), s.read_features(name)
        assert probs.dtype == logits.dtype == features.dtype == np.float32
        assert probs.shape == logits.shape == (10_000, 10) and features.shape == (10_000, 64)
        assert np.array_equal(logits.argmax(1), s.read_model(name).topk_ids[:, 0])
    with capsys.disabled():
        print("\nCIFAR-10 ResNets on the JPEG test set: "
              + ", ".join(f"{n} {100 * v:.2f}%" for n, v in top1.items())
              + f"; predict of the four in one pass: {seconds:.1f} s on 2 threads")


def _reference_aurc(scores: np.ndarray, errors: np.ndarray) -> float:
    """Mean selective risk over the coverages 1/n..n/n, most confident (lowest score) first."""
    order = np.argsort(scores, kind="stable")
    risks = np.cumsum(errors[order]) / np.arange(1, len(scores) + 1)
    return float(risks.mean())


@pytest.mark.slow
def test_resnet56_failure_metrics_equal_a_float64_reference(cifar10_resnets_store, tmp_path, capsys):
    from scipy.special import softmax
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    from misclass.store import Store

    store_path, _ = cifar10_resnets_store
    s = Store(store_path)
    labels = s.labels()
    probs, logits = s.read_probs("resnet56"), s.read_logits("resnet56")
    p64 = softmax(np.asarray(logits, dtype=np.float64), axis=1)
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
        print(f"\nResNet-56: max prob exactly 1.0: {ones}; MSP on the 5,000 test-split "
              "images: " + ", ".join(f"{k} AUROC {v['auroc']:.4f} AURC {v['aurc']:.4f}"
                                     for k, v in figures.items()))
