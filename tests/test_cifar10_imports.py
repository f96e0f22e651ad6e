"""Real data: the CIFAR-10.1 testbed's 30 models imported with ``import list`` (CIFAR-10 test
order from ``cifar10-jpeg/test_index.csv``, CIFAR-10.1 v4 and v6), CIFAR-10H through
``import votes`` and ``--labels counts:``, and the JPEG files through ``--images``. Skipped
when ``../shared/data`` is absent."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import SHARED_DATA

from misclass import Store
from misclass.cli import main
from misclass.data.label_sets import load_label_sets
from misclass.store.images import StoreImages

TESTBED = SHARED_DATA / "cifar10-testbed"
JPEG = SHARED_DATA / "cifar10-jpeg"
CIFAR10H = SHARED_DATA / "cifar10h" / "cifar10h-counts.npy"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (TESTBED.is_dir() and (JPEG / "test_index.csv").is_file()
                            and CIFAR10H.is_file()),
                       reason=f"the CIFAR-10 testbed, JPEG index or CIFAR-10H not found under "
                       f"{SHARED_DATA} (../shared/data)"),
]


def cli(*args) -> None:
    try:
        main([str(a) for a in args])
    except SystemExit as exc:
        assert exc.code in (0, None), f"misclass {' '.join(map(str, args))} exited {exc.code}"


def direct_accuracy(folder: Path, labels: np.ndarray) -> dict[str, float]:
    """Each model's accuracy counted with numpy from its JSON list."""
    return {p.name[: -len("_predictions.json")]: float((np.array(json.loads(p.read_text())) == labels).mean())
            for p in sorted(folder.glob("*_predictions.json"))}


@pytest.fixture(scope="module")
def original(tmp_path_factory) -> Path:
    """The 30 models on CIFAR-10 test (ids and labels from test_index.csv), with the JPEG files."""
    store = tmp_path_factory.mktemp("cifar") / "original"
    cli("import", "list", *sorted((TESTBED / "original").glob("*.json")), "--ids", JPEG / "test_index.csv",
        "--num-classes", 10, "--strip", "_predictions", "--images", JPEG, "--store", store)
    return store


def test_original_accuracies_equal_a_direct_count(original, tmp_path):
    index = pd.read_csv(JPEG / "test_index.csv")
    labels = index.sort_values("test_index")["label"].to_numpy()
    want = direct_accuracy(TESTBED / "original", labels)
    assert len(want) == 30
    cli("models", "--store", original, "--json", tmp_path / "m.json")
    got = {r["name"]: r["top1"] for r in json.loads((tmp_path / "m.json").read_text())["models"]}
    assert got == pytest.approx(want, abs=1e-12)
    assert got["resnet_basic_32"] == pytest.approx(0.9252) and got["wrn_28_10"] == pytest.approx(0.9593)
    s = Store(original)
    assert s.sample_ids()[:2].tolist() == ["test/cat/0000.jpg", "test/ship/0000.jpg"]
    images = StoreImages(s)
    assert images.path(1) == JPEG.resolve() / "test/ship/0000.jpg"
    assert images.load(1).size == (32, 32)


@pytest.mark.parametrize("version", ["v4", "v6"])
def test_cifar10_1_accuracies_equal_a_direct_count(version, tmp_path):
    labels = np.load(TESTBED / f"cifar10.1_{version}_labels.npy").astype(np.int64)
    ids = tmp_path / "ids.csv"
    pd.DataFrame({"sample_id": [f"{version}-{i:04d}" for i in range(len(labels))],
                  "label": labels}).to_csv(ids, index=False)
    store = tmp_path / version
    cli("import", "list", *sorted((TESTBED / version).glob("*.json")), "--ids", ids, "--num-classes", 10,
        "--strip", "_predictions", "--store", store)
    s = Store(store)
    got = {n: s.model_metadata(n)["top1"] for n in s.model_names()}
    want = direct_accuracy(TESTBED / version, labels)
    assert len(got) == 30 and got == pytest.approx(want, abs=1e-12)
    if version == "v4":  # the README's figures
        assert got["resnet_basic_32"] == pytest.approx(0.8486, abs=5e-5)
        assert got["shake_shake_26_2x64d_SSI_cutout16"] == pytest.approx(0.9297, abs=5e-5)


def test_cifar10h_as_predictors(original, tmp_path):
    counts = np.load(CIFAR10H)
    labels = Store(original).labels()
    cli("import", "votes", CIFAR10H, "--store", original, "--bootstrap", 200, "--json", tmp_path / "h.json")
    s = Store(original)
    random_acc = s.model_metadata("human-random")["top1"]
    majority_acc = s.model_metadata("human-majority")["top1"]
    assert round(100 * random_acc, 2) == 95.23 and round(100 * majority_acc, 2) == 99.21  # README
    direct_random = (counts[np.arange(len(labels)), labels] / counts.sum(axis=1)).mean()
    direct_majority = (counts.argmax(axis=1) == labels).mean()  # argmax: ties to the lowest id
    assert random_acc == pytest.approx(direct_random, abs=1e-6)  # probabilities are float32
    assert majority_acc == direct_majority
    assert s.model_metadata("human-random")["kind"] == "human"
    report = json.loads((tmp_path / "h.json").read_text())
    assert report["agreement"]["n_votes"] == 511_000
    rows = report["error_consistency"]["human-majority"]["models"]
    assert len(rows) == 30 and all(r["low"] <= r["kappa"] <= r["high"] for r in rows)


def test_cifar10h_as_label_sets(original):
    s = Store(original)
    ids, classes = s.sample_ids(), s.classes()
    tenth = load_label_sets(f"counts:{CIFAR10H},min-share=0.1", ids, classes)
    assert int((tenth.sizes > 1).sum()) == 896  # the README's figure
    half = load_label_sets(f"counts:{CIFAR10H}", ids, classes)
    counts = np.load(CIFAR10H)
    shares = counts / counts.sum(axis=1, keepdims=True)
    assert np.array_equal(half.sizes, (shares >= 0.5).sum(axis=1))
