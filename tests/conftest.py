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
