import json
import re

import numpy as np
import pytest
from helpers import IMAGENET_TIMM, require_imagenet_timm, run_cli
from PIL import Image

from misclass import Store
from misclass.importers.readers import topk_from_probs
from misclass.zoo import ZOO, train_zoo


def test_zoo_families_and_determinism():
    families = {e.family for e in ZOO.values()}
    assert {"linear", "kernel", "neighbours", "forest", "naive Bayes", "neural network"} <= families
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 4))
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0)
    a = train_zoo(x[:40], y[:40], x[40:], n_classes=3, models=["random-forest", "mlp"], seed=3)
    b = train_zoo(x[:40], y[:40], x[40:], n_classes=3, models=["random-forest", "mlp"], seed=3)
    for ra, rb in zip(a, b, strict=True):
        assert np.array_equal(ra.probs, rb.probs)
        assert np.allclose(ra.probs.sum(axis=1), 1, atol=1e-5)


def test_topk_from_probs_marks_zero_probability_classes():
    ids, p = topk_from_probs(np.array([[0.0, 1.0, 0.0], [0.2, 0.5, 0.3]]), 3)
    assert ids.tolist() == [[1, -1, -1], [1, 2, 0]]


def test_demo_writes_store_and_offline_report(demo_dirs, tmp_path, capsys):
    store_dir, report = demo_dirs  # the session's demo run (conftest.py)
    out = (store_dir.parent / "demo-output.txt").read_text()
    assert "Report:" in " ".join(out.split())
    assert str((report / "index.html").resolve()) in out.replace("\n", "")
    store = Store(store_dir)
    assert len(store.model_names()) >= 6 and store.n_samples == 360
    html = (report / "index.html").read_text()
    assert not re.search(r"(src|href)=\"https?://", html), "the report must open offline"
    assert "Misclassified images" in html and "true: " in html
    assert (report / "figures" / "accuracy.png").stat().st_size > 1000
    written = sorted(p.name for p in (report / "images").glob("*.png"))
    assert written and all(f'src="images/{name}"' in html for name in written)  # only what is shown
    figures = sorted(p.name for p in (report / "figures").glob("*.png"))
    shown = re.findall(r'<img src="figures/([^"]+)"[^>]*width="(\d+)" height="(\d+)"', html)
    assert sorted(name for name, _, _ in shown) == figures  # every figure on the page, with its size
    assert "<!--misclass figure" not in html  # each figure the workers built is in its place
    assert all(Image.open(report / "figures" / name).size == (int(w), int(h)) for name, w, h in shown)
    n_wrong = re.search(r"([\d,]+) images are misclassified by at least one model", html)[1]
    assert f"Showing 48 of {n_wrong} images (those missed by the most models first)." in html
    code, _, _ = run_cli(["models", "--store", store_dir, "--json", tmp_path / "m.json"], capsys)
    models = json.loads((tmp_path / "m.json").read_text())["models"]
    assert all(0.7 < m["top1"] <= m["top5"] <= 1 for m in models)


def test_demo_refuses_to_overwrite_a_foreign_store(small_store, tmp_path, capsys):
    code, _, err = run_cli(["demo", "--store", small_store.path, "--out", tmp_path / "r"], capsys)
    assert code == 2 and "did not make" in err
    assert small_store.model_names() == ["a", "b"]


def _command_paths(group, prefix=()):
    """Every command of the CLI (sub-commands of groups too), as argument lists; command
    modules load on use, so this builds each (``load_all``) rather than reading ``.commands``."""
    from misclass.cli.registry import load_all

    for name, cmd in load_all(group).items():
        yield [*prefix, name]
        if hasattr(cmd, "commands"):
            yield from _command_paths(cmd, (*prefix, name))


def test_every_command_has_help_with_example(capsys):
    import typer

    from misclass.cli import app

    paths = list(_command_paths(typer.main.get_command(app)))
    assert ["import", "timm-csv"] in paths and ["review", "export"] in paths and len(paths) >= 20
    for cmd in paths:
        code, out, _ = run_cli([*cmd, "--help"], capsys)
        assert code == 0 and "Example" in out and "misclass" in out, cmd


README_TOP1 = {"convit_small": 0.8141, "convmixer_768_32": 0.8016, "vit_small_patch32_224": 0.7599,
               "vit_tiny_patch16_224": 0.7546, "convit_tiny": 0.7311,
               "deit_tiny_patch16_224": 0.7216, "swin_base_patch4_window7_224": 0.8526}


@pytest.mark.slow
def test_import_seven_real_imagenet_models(tmp_path, capsys):
    folder = require_imagenet_timm()
    pytest.importorskip("imagenet_x", reason="--labels imagenet-val needs misclass[imagenet]")
    files = sorted(folder.glob("*.csv"))
    code, _, err = run_cli(["import", "timm-csv", *files, "--labels", "imagenet-val", "--store",
                            tmp_path / "S"], capsys)
    assert code == 0, err
    run_cli(["models", "--store", tmp_path / "S", "--json", tmp_path / "m.json"], capsys)
    got = {m["name"]: m["top1"] for m in json.loads((tmp_path / "m.json").read_text())["models"]}
    assert got.keys() == README_TOP1.keys()
    for name, top1 in README_TOP1.items():
        assert got[name] == pytest.approx(top1, abs=1e-4), name
    assert Store(tmp_path / "S").classes().name.iloc[1] == "goldfish"
    code, _, _ = run_cli(["report", "--store", tmp_path / "S", "--out", tmp_path / "r"], capsys)
    assert code == 0 and "No images to show" in (tmp_path / "r" / "index.html").read_text()
    assert IMAGENET_TIMM.exists()
