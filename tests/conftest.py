"""Shared fixtures: small stores made in code, and the path of the shared real data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from misclass.store import Store


@pytest.fixture
def small_store(tmp_path) -> Store:
    """Six samples, three classes, two models (one with probabilities)."""
    samples = pd.DataFrame({"sample_id": [f"s{i}" for i in range(6)], "label": [0, 0, 1, 1, 2, 2]})
    store = Store.create(tmp_path / "store", samples=samples,
                         classes=pd.DataFrame({"name": ["cat", "dog", "frog"]}))
    store.write_model("a", np.array([[0, 1], [1, 0], [1, 2], [1, 0], [2, 0], [0, 2]]),
                      np.array([[.7, .2], [.6, .3], [.8, .1], [.5, .4], [.9, .1], [.5, .3]]))
    store.write_model("b", np.array([[0], [0], [0], [1], [2], [2]]))
    return store


@pytest.fixture
def one_torch_thread():
    """Torch on one thread: tiny models run faster so, and the test machine's cores are shared."""
    torch = pytest.importorskip("torch")
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="session")
def class_image_folder(tmp_path_factory):
    """12 images (classes cat, dog, frog: four each) of different sizes, JPEG and PNG, in class
    folders (``folder:PATH``); read only."""
    from PIL import Image

    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for c, cls in enumerate(("cat", "dog", "frog")):
        (root / cls).mkdir()
        for i in range(4):
            h, w = int(rng.integers(40, 90)), int(rng.integers(40, 90))
            base = np.zeros((h, w, 3), np.uint8)
            base[..., c] = 200  # a class colour, so models have something to see
            img = np.clip(base + rng.normal(0, 40, (h, w, 3)), 0, 255).astype(np.uint8)
            suffix = ".png" if i == 3 else ".jpg"
            Image.fromarray(img).save(root / cls / f"{cls}{i}{suffix}")
    return root


@pytest.fixture(scope="session")
def demo_dirs(tmp_path_factory):
    """Run ``misclass demo`` once per test session; return (store path, report path). What
    it printed is in ``demo-output.txt`` beside them."""
    import contextlib
    import io

    from misclass.cli import main

    root = tmp_path_factory.mktemp("demo")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), pytest.raises(SystemExit) as done:
        main(["demo", "--store", str(root / "store"), "--out", str(root / "report")])
    (root / "demo-output.txt").write_text(printed.getvalue())
    assert done.value.code == 0, printed.getvalue()
    return root / "store", root / "report"


@pytest.fixture(scope="session")
def imagenet_timm_store(tmp_path_factory):
    """The seven shared timm ImageNet models, imported once per test session with
    ``--labels imagenet-val``; skipped when the data or misclass[imagenet] is absent. Read only."""
    from helpers import require_imagenet_timm

    from misclass.cli import main

    folder = require_imagenet_timm()
    pytest.importorskip("imagenet_x", reason="--labels imagenet-val needs misclass[imagenet]")
    path = tmp_path_factory.mktemp("imagenet-timm") / "store"
    with pytest.raises(SystemExit) as done:
        main(["import", "timm-csv", *map(str, sorted(folder.glob("*.csv"))), "--labels", "imagenet-val",
              "--store", str(path)])
    assert done.value.code == 0
    return path


@pytest.fixture(scope="session")
def cifar10_resnets_store(tmp_path_factory):
    """The four published CIFAR-10 ResNets (resnet20, 32, 44, 56) over the 10,000 CIFAR-10 JPEG
    test images in the original test order, predicted once per test session on 2 CPU threads with
    float32 probabilities, logits and features; returns (store path, seconds). Skipped when
    ../shared/data or misclass[torch] is absent. Read only: copy it to add to it."""
    import time

    from helpers import SHARED_DATA

    from misclass.cli import main

    jpeg, weights = SHARED_DATA / "cifar10-jpeg", SHARED_DATA / "cifar10-resnets"
    if not (jpeg / "test_index.csv").is_file() or not all(
            (weights / f"resnet{d}.th").is_file() for d in (20, 32, 44, 56)):
        pytest.skip(f"CIFAR-10 JPEG test images or ResNet weights not found under {SHARED_DATA} "
                    "(../shared/data)")
    torch = pytest.importorskip("torch", reason="predicting with the CIFAR ResNets needs misclass[torch]")
    store = tmp_path_factory.mktemp("cifar10-resnets") / "store"
    models = [a for d in (20, 32, 44, 56) for a in ("-m", f"cifar-resnet{d}@{weights / f'resnet{d}.th'}")]
    old = torch.get_num_threads()
    t0 = time.perf_counter()
    try:
        main(["predict", "--data", f"folder:{jpeg},{jpeg / 'test_index.csv'}", *models,
              "--mean", "0.485,0.456,0.406", "--std", "0.229,0.224,0.225", "--save-probs",
              "--save-logits", "--save-features", "--threads", "2", "--batch-size", "500",
              "--store", str(store)])
    except SystemExit as exc:
        assert exc.code in (0, None), f"misclass predict exited {exc.code}"
    finally:
        torch.set_num_threads(old)
    return store, time.perf_counter() - t0
