"""misclass.train: the workflow trains and stores what ``misclass train`` does, returns the
histories (to_dict() is the command's --json), and training draws nothing: training/ imports
nothing from report/."""

import json

import numpy as np
import pytest
from helpers import run_cli
from test_layers import MODULES, misclass_imports

import misclass
from misclass.store import Store

OPTIONS = {"epochs": 2, "limit": 96, "batch_size": 32, "width": 8, "optimizer": "adam",
           "weight_decay": 0.0, "seed": 3}


def _portable(d: dict, root) -> dict:
    """The JSON with this run's folder written as ROOT and the seconds of each epoch left out."""
    text = json.dumps(d).replace(str(root), "ROOT")
    out = json.loads(text)
    for a in out["architectures"]:
        for row in a["history"]:
            row.pop("seconds")
    return out


@pytest.mark.usefixtures("one_torch_thread")
def test_train_workflow_equals_the_cli(tmp_path, capsys):
    args = [f"--{k.replace('_', '-')}={v}" for k, v in OPTIONS.items()]
    code, out, err = run_cli(["train", "--data", "digits", "--arch", "cnn-plain,cnn-separable", *args,
                              "--store", tmp_path / "cli" / "store", "--json", tmp_path / "t.json"], capsys)
    assert code == 0, err
    cli = json.loads((tmp_path / "t.json").read_text())
    result = misclass.train(tmp_path / "api" / "store", data="digits", arch=["cnn-plain", "cnn-separable"],
                            progress=False, **OPTIONS)
    assert _portable(result.to_dict(), tmp_path / "api") == _portable(cli, tmp_path / "cli")
    a, b = Store(tmp_path / "cli" / "store"), Store(tmp_path / "api" / "store")
    assert a.model_names() == b.model_names() == ["cnn-plain", "cnn-separable"]
    for name in a.model_names():
        assert np.array_equal(a.read_model(name).topk_ids, b.read_model(name).topk_ids)
        assert np.allclose(a.read_logits(name), b.read_logits(name), atol=1e-5)

    # the result holds the histories; the CLI drew the curves from them, the workflow drew none
    history = result.history()
    assert list(history.index.names) == ["architecture", "epoch"] and len(history) == 4
    one = result.history("cnn-plain")
    assert list(one.index) == [1, 2]
    assert one["val_accuracy"].tolist() == [r["val_accuracy"] for r in cli["architectures"][0]["history"]]
    frame = result.to_frame()
    assert list(frame.index) == ["cnn-plain", "cnn-separable"]
    assert frame.loc["cnn-plain", "best_epoch"] == result.trained[0].best_epoch
    assert frame.loc["cnn-separable", "test_top1"] == b.model_metadata("cnn-separable")["top1"]
    assert result.folder == tmp_path / "api" / "store" / "training"
    for arch in ("cnn-plain", "cnn-separable"):
        assert (tmp_path / "cli" / "store" / "training" / arch / "curves.svg").stat().st_size > 1000
        assert not list((result.folder / arch).glob("curves.*"))
    assert (tmp_path / "cli" / "store" / "training" / "validation_accuracy.png").exists()
    from misclass.report.learning_curves import save_training_curves

    drawn = save_training_curves(result)
    assert result.folder / "cnn-plain" / "curves.png" in drawn
    assert (result.folder / "validation_accuracy.svg").stat().st_size > 1000
    with pytest.raises(KeyError, match="was not trained"):
        result.history("resnet50")


def test_producing_predictions_imports_nothing_from_report():
    """Training returns its history and the report draws it: no module of the packages that
    produce predictions imports misclass.report (anywhere: top level, functions, importlib)."""
    producing = ("misclass.importers", "misclass.zoo", "misclass.engine", "misclass.training")
    modules = [m for m in MODULES if any(m == p or m.startswith(p + ".") for p in producing)]
    assert "misclass.training.loop" in modules and "misclass.training.run" in modules
    found = {m: sorted(i for i in misclass_imports(m) if i.split(".")[:2] == ["misclass", "report"])
             for m in modules}
    assert {m: i for m, i in found.items() if i} == {}
    assert misclass_imports("misclass.training.fake", "def f():\n    from misclass.report import figures\n") \
        >= {"misclass.report.figures"}  # the scan sees an import inside a function
