import json

from helpers import run_cli

import misclass


def test_models_workflow_equals_the_cli_json(demo_dirs, tmp_path, capsys):
    store, _ = demo_dirs
    code, _, err = run_cli(["models", "--store", store, "--json", tmp_path / "m.json"], capsys)
    assert code == 0, err
    result = misclass.models(store)
    assert result.to_dict() == json.loads((tmp_path / "m.json").read_text())
    frame = result.to_frame()
    assert list(frame.index) == [m["name"] for m in result.to_dict()["models"]]
    assert frame.loc["svm-rbf", "top1"] == misclass.Store(store).model_metadata("svm-rbf")["top1"]
