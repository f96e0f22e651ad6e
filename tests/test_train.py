"""Training: small-input architectures, the CNN zoo, the training loop and ``misclass train``."""

import json

import numpy as np
import pandas as pd
import pytest
from helpers import run_cli

torch = pytest.importorskip("torch", reason="training needs misclass[torch]")

from misclass.data import load_digits  # noqa: E402
from misclass.engine.architectures import ARCHITECTURES, build_architecture  # noqa: E402
from misclass.engine.checkpoint import read_checkpoint  # noqa: E402
from misclass.engine.cnn_zoo import CNN_ZOO  # noqa: E402
from misclass.engine.mcdropout import dropout_layers  # noqa: E402
from misclass.engine.small_inputs import SMALL_INPUT_ARCHS  # noqa: E402
from misclass.errors import InputError  # noqa: E402
from misclass.store import Store  # noqa: E402
from misclass.training.loop import TrainConfig, channel_stats, split_train_val, train_architecture  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("arch", sorted(SMALL_INPUT_ARCHS))
def test_small_input_architectures_take_digits_and_cifar_sizes(arch):
    for channels, side in ((1, 8), (3, 32)):
        torch.manual_seed(0)
        model = build_architecture(arch, num_classes=10, in_channels=channels, input_size=(side, side)).eval()
        with torch.no_grad():
            out = model(torch.randn(2, channels, side, side))
        assert out.shape == (2, 10), (arch, side)
        first = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
        assert first.in_channels == channels and first.stride == (1, 1)


def test_small_inputs_keep_enough_resolution():
    """At 32x32 the final feature map is larger than 1x1 where the design allows it."""
    feats = {}
    for arch in ("resnet50", "densenet161", "mobilenet_v2"):
        model = build_architecture(arch, num_classes=10, in_channels=3, input_size=(32, 32)).eval()
        body = model.features if hasattr(model, "features") else torch.nn.Sequential(
            *list(model.children())[:-2])
        with torch.no_grad():
            feats[arch] = tuple(body(torch.randn(1, 3, 32, 32)).shape[-2:])
    assert feats == {"resnet50": (4, 4), "densenet161": (4, 4), "mobilenet_v2": (4, 4)}
    with pytest.raises(InputError, match="too small"):
        build_architecture("resnet50", num_classes=10, in_channels=1, input_size=(4, 4))


def test_zoo_families_have_dropout_and_train_fast():
    assert set(CNN_ZOO) <= set(ARCHITECTURES) and len({e.family for e in CNN_ZOO.values()}) == 3
    for name in CNN_ZOO:
        model = build_architecture(name, num_classes=10, in_channels=1, input_size=(8, 8), width=8)
        assert dropout_layers(model), name
        assert model(torch.randn(3, 1, 8, 8)).shape == (3, 10)


def test_split_is_seeded_stratified_and_normalisation_uses_the_train_part():
    labels = np.repeat(np.arange(5), 20)
    tr, va = split_train_val(labels, 0.2, seed=1)
    assert len(va) == 20 and len(set(tr) & set(va)) == 0 and np.bincount(labels[va]).tolist() == [4] * 5
    assert np.array_equal(va, split_train_val(labels, 0.2, seed=1)[1])
    assert not np.array_equal(va, split_train_val(labels, 0.2, seed=2)[1])
    mean, std = channel_stats(np.array([[[0, 255], [255, 255]]], dtype=np.uint8))
    assert mean == [0.75] and std == [pytest.approx(0.433013, abs=1e-6)]
    rgb = np.zeros((2, 2, 2, 3), np.uint8)
    rgb[..., 1] = 255
    assert channel_stats(rgb)[0] == [0.0, 1.0, 0.0]


def test_training_is_deterministic_and_records_curves(tmp_path):
    data = load_digits(seed=0).split("train")
    x, y = data.images[:300], data.labels[:300]
    config = TrainConfig(epochs=3, batch_size=64, lr=0.01, optimizer="adam", weight_decay=0.0, width=8,
                         seed=4)
    a = train_architecture("cnn-plain", x, y, classes=[str(i) for i in range(10)], config=config,
                           out_dir=tmp_path / "a", progress=False)
    b = train_architecture("cnn-plain", x, y, classes=[str(i) for i in range(10)], config=config,
                           progress=False)
    cols = ["train_loss", "train_accuracy", "val_loss", "val_accuracy", "val_macro_precision"]
    assert a.history[cols].equals(b.history[cols])
    for pa, pb in zip(a.model.state_dict().values(), b.model.state_dict().values(), strict=True):
        assert torch.equal(pa, pb)
    assert a.history["val_accuracy"].iloc[-1] > 0.5  # it learns
    assert list(a.history["epoch"]) == [1, 2, 3]
    assert a.best_epoch == int(a.history.loc[a.history.val_accuracy.idxmax(), "epoch"])
    tr, _ = split_train_val(y, 0.2, seed=4)
    ckpt = read_checkpoint(tmp_path / "a" / "best.pt")
    assert ckpt["preprocess"]["mean"] == channel_stats(x[tr])[0]  # normalisation from the train part
    assert ckpt["training"]["epoch"] == a.best_epoch
    hist = json.loads((tmp_path / "a" / "history.json").read_text())
    assert len(hist) == 3 and set(cols) <= set(hist[0])
    assert (tmp_path / "a" / "last.pt").stat().st_size > 500
    assert len((tmp_path / "a" / "history.csv").read_text().splitlines()) == 4  # header + 3 epochs
    assert not list((tmp_path / "a").glob("curves.*"))  # training draws nothing: the report does
    from misclass.report.learning_curves import save_learning_curves

    save_learning_curves(a.history, tmp_path / "a", "cnn-plain: learning curves")
    svg = (tmp_path / "a" / "curves.svg").read_text()
    assert "learning curves" in svg and "epoch" in svg and "macro precision" in svg
    with pytest.raises(InputError, match="--optimizer"):
        TrainConfig(optimizer="rmsprop").check()


def test_misclass_train_two_architectures_on_digits(tmp_path, capsys):
    """The acceptance command, with a reduced training set."""
    store = tmp_path / "S"
    code, out, err = run_cli(["train", "--data", "digits", "--arch", "resnet50,mobilenet_v2", "--epochs", "2",
                              "--limit", "96", "--batch-size", "32", "--threads", "1", "--store", store,
                              "--json", tmp_path / "t.json"], capsys)
    assert code == 0, err
    s = Store(store)
    assert s.model_names() == ["mobilenet_v2", "resnet50"] and s.n_samples == 360
    for arch in ("resnet50", "mobilenet_v2"):
        folder = store / "training" / arch
        history = pd.read_csv(folder / "history.csv")
        assert list(history.epoch) == [1, 2]
        assert {"train_loss", "val_loss", "train_accuracy", "val_accuracy", "train_macro_precision",
                "val_macro_precision"} <= set(history.columns)
        for f in ("curves.png", "curves.svg", "best.pt", "last.pt"):
            assert (folder / f).stat().st_size > 1000
        meta = s.model_metadata(arch)
        assert meta["source"] == "misclass-train" and meta["training"]["epochs"] == 2
        assert meta["training"]["optimizer"] == "sgd" and meta["training"]["batch_size"] == 32
        assert meta["has_probs"] and meta["has_features"] and 0 <= meta["top1"] <= 1
    assert (store / "training" / "validation_accuracy.png").exists()
    report = json.loads((tmp_path / "t.json").read_text())
    assert [a["arch"] for a in report["architectures"]] == ["resnet50", "mobilenet_v2"]
    # the checkpoint predicts the same as what train stored
    code, _, err = run_cli(["predict", "--data", "digits",
                            "-m", f"again=ckpt:{store}/training/mobilenet_v2/best.pt",
                            "--store", store, "--workers", "0"], capsys)
    assert code == 0, err
    assert np.array_equal(s.read_model("again").topk_ids, s.read_model("mobilenet_v2").topk_ids)
    # training again into the same store needs --replace
    code, _, err = run_cli(["train", "--data", "digits", "--arch", "mobilenet_v2", "--epochs", "1",
                            "--store", store], capsys)
    assert code == 2 and "--replace" in err


def test_train_errors(tmp_path, capsys):
    code, _, err = run_cli(["train", "--data", "digits", "--arch", "resnet50,alexnet", "--store", tmp_path],
                           capsys)
    assert code == 2 and "unknown architecture(s) alexnet" in err
    code, _, err = run_cli(["train", "--data", "digits", "--arch", "cnn-plain", "--optimizer", "rmsprop",
                            "--store", tmp_path], capsys)
    assert code == 2 and "--optimizer 'rmsprop'" in err
    folder = tmp_path / "flat"
    (folder / "a").mkdir(parents=True)
    from PIL import Image

    Image.new("RGB", (10, 10)).save(folder / "a" / "x.png")
    code, _, err = run_cli(["train", "--data", f"folder:{folder}", "--arch", "cnn-plain",
                            "--store", tmp_path / "s"], capsys)
    assert code == 2 and "needs a train and a test split" in " ".join(err.split())
    code, _, err = run_cli(["train", "--data", "digits", "--arch", "resnet50", "--width", "8",
                            "--store", tmp_path / "s2", "--epochs", "1", "--limit", "10"], capsys)
    assert code == 2 and "--width applies to the cnn-* zoo" in err


def test_demo_includes_the_cnn_zoo(demo_dirs):
    store = Store(demo_dirs[0])
    names = store.model_names()
    assert {"cnn-plain", "cnn-residual", "cnn-separable"} <= set(names)
    assert {"logistic-regression", "random-forest"} <= set(names)
    for name in CNN_ZOO:
        meta = store.model_metadata(name)
        assert meta["top1"] > 0.9 and meta["source"] == "misclass-train"
        assert (demo_dirs[0] / "training" / name / "best.pt").exists()
