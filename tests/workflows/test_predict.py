"""misclass.predict: the workflow writes what ``misclass predict`` writes, and its to_dict() is
the command's --json."""

import json

import numpy as np
import pytest
from helpers import run_cli

pytest.importorskip("torch", reason="predict needs misclass[torch]")
pytest.importorskip("timm", reason="predict needs misclass[torch]")

import misclass  # noqa: E402
from misclass.errors import InputError  # noqa: E402
from misclass.store import Store  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")
TIMING = ("seconds", "images_per_s")


def _without(d: dict, *keys: str) -> dict:
    return {k: v for k, v in d.items() if k not in keys}


def test_predict_workflow_equals_the_cli(class_image_folder, tmp_path, capsys):
    data = f"folder:{class_image_folder}"
    code, _, err = run_cli(["predict", "--data", data, "-m", "timm:test_resnet", "-m", "tiny=timm:test_vit",
                            "--top-k", "2", "--save-probs", "--batch-size", "5", "--workers", "0",
                            "--store", tmp_path / "cli", "--json", tmp_path / "p.json"], capsys)
    assert code == 0, err
    cli = json.loads((tmp_path / "p.json").read_text())
    result = misclass.predict(tmp_path / "api", data=data, models=["timm:test_resnet", "tiny=timm:test_vit"],
                              top_k=2, save_probs=True, batch_size=5, workers=0, progress=False)
    got = result.to_dict()
    assert got["store"] == str(tmp_path / "api") and cli["store"] == str(tmp_path / "cli")
    assert _without(got, "store", *TIMING) == _without(cli, "store", *TIMING)
    assert [m["status"] for m in got["models"]] == ["written", "written"] and got["images"] == 12
    a, b = Store(tmp_path / "cli"), Store(tmp_path / "api")
    assert a.model_names() == b.model_names() == ["test_resnet", "tiny"]
    for name in a.model_names():
        ra, rb = a.read_model(name), b.read_model(name)
        assert np.array_equal(ra.topk_ids, rb.topk_ids) and np.array_equal(ra.topk_probs, rb.topk_probs)
        assert np.array_equal(a.read_probs(name), b.read_probs(name))
    frame = result.to_frame()
    assert list(frame.index) == ["test_resnet", "tiny"] and frame.index.name == "model"
    assert frame.loc["tiny", "top1"] == b.model_metadata("tiny")["top1"]

    # a rerun skips both: the CLI's JSON is the workflow's to_dict(), timing aside
    code, _, err = run_cli(["predict", "--data", data, "-m", "timm:test_resnet", "-m", "tiny=timm:test_vit",
                            "--store", tmp_path / "api", "--json", tmp_path / "again.json"], capsys)
    assert code == 0, err
    again = misclass.predict(b, data=data, models=["timm:test_resnet", "tiny=timm:test_vit"], progress=False)
    cli_again = json.loads((tmp_path / "again.json").read_text())
    assert _without(again.to_dict(), "seconds") == _without(cli_again, "seconds")
    assert set(again.to_frame()["status"]) == {"skipped"} and again.to_dict()["images_per_s"] is None


def test_predict_takes_a_loaded_dataset_and_model(class_image_folder, tmp_path):
    from misclass.data import load_folder
    from misclass.engine.specs import load_model

    dataset = load_folder(class_image_folder)
    model = load_model("timm:test_resnet", num_classes=3)
    result = misclass.predict(tmp_path / "s", data=dataset, models=model, split="all", workers=0,
                              progress=False)
    assert result.models == ("test_resnet",) and result.n_samples == 12
    assert result.dataset == dataset.name
    with pytest.raises(InputError, match="--mean/--std apply"):
        misclass.predict(tmp_path / "s", data=dataset, models="timm:test_resnet", mean=(0.5, 0.5, 0.5))
    with pytest.raises(InputError, match="--split 'val'"):
        misclass.predict(tmp_path / "s", data=dataset, models="timm:test_resnet", split="val")
    with pytest.raises(InputError, match="no model given"):
        misclass.predict(tmp_path / "s", data=dataset, models=[])


def test_a_relative_folder_is_found_from_another_folder(class_image_folder, tmp_path, monkeypatch):
    """``folder:`` given relative to the working folder: the store records the images' absolute
    folder, so explain, the gallery and the app read them from anywhere."""
    from misclass.store.images import StoreImages

    monkeypatch.chdir(class_image_folder.parent)
    misclass.predict(tmp_path / "s", data=f"folder:{class_image_folder.name}", models=["timm:test_resnet"],
                     batch_size=6, workers=0, progress=False)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    images = StoreImages(Store(tmp_path / "s"))
    assert images.path(0).is_file() and images.load(0).size[0] > 0
