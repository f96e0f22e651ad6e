"""misclass predict --ray: the engine's shards as Ray tasks on a local Ray instance."""

import dataclasses
import os
import shutil
import sys

import numpy as np
import pytest
from helpers import run_cli

torch = pytest.importorskip("torch", reason="the torch engine needs misclass[torch]")
pytest.importorskip("timm", reason="the torch engine needs misclass[torch]")
ray = pytest.importorskip("ray", reason="the Ray engine needs misclass[ray]")

from misclass.data import load_folder  # noqa: E402
from misclass.engine.core import EngineOptions, predict_models, prepare_store  # noqa: E402
from misclass.engine.ray_engine import check_paths, predict_models_ray  # noqa: E402
from misclass.engine.specs import LoadedModel, load_model  # noqa: E402
from misclass.errors import InputError, MissingExtraError, StoreError  # noqa: E402
from misclass.store import Store  # noqa: E402

pytestmark = [pytest.mark.usefixtures("one_torch_thread"), pytest.mark.slow]

OPTS = EngineOptions(batch_size=2, workers=0, shard_size=4, k=3, save_probs=True, save_logits=True)
SPECS = ("timm:test_resnet", "timm:test_efficientnet")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def models():
    return [load_model(s, num_classes=3) for s in SPECS]


@pytest.fixture(scope="module")
def reference(class_image_folder, models, tmp_path_factory):
    """The local engine's store of both models (torch on one thread, as in the Ray tasks)."""
    dataset = load_folder(class_image_folder)
    store = prepare_store(tmp_path_factory.mktemp("local") / "s", dataset)
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        predict_models(dataset, models, store, OPTS, progress=False)
    finally:
        torch.set_num_threads(old)
    return store


def assert_same_store(a: Store, b: Store) -> None:
    assert a.model_names() == b.model_names()
    for name in a.model_names():
        x, y = a.read_model(name), b.read_model(name)
        np.testing.assert_array_equal(x.topk_ids, y.topk_ids)
        np.testing.assert_array_equal(x.topk_probs, y.topk_probs)
        assert x.metadata["top1"] == y.metadata["top1"]
        np.testing.assert_array_equal(a.read_probs(name), b.read_probs(name))
        np.testing.assert_array_equal(a.read_logits(name), b.read_logits(name))
    assert not (b.path / ".partial").exists()


def crashing(model: LoadedModel, marker) -> LoadedModel:
    """``model`` whose first forward pass on a Ray worker (not this process) kills the worker,
    once: the marker file says it happened."""
    driver = os.getpid()

    class Crash(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            if os.getpid() != driver and not os.path.exists(marker):
                open(marker, "w").close()
                os._exit(1)
            return self.inner(x)

    return LoadedModel(model.name, Crash(model.module), model.preprocess, dict(model.metadata),
                       classifier=model.classifier)


def test_ray_equals_the_local_engine_and_reruns_skip(local_ray, class_image_folder, models, reference,
                                                      tmp_path):
    dataset = load_folder(class_image_folder)
    store = prepare_store(tmp_path / "s", dataset)
    seen = []
    report = predict_models_ray(dataset, models, store, OPTS, progress=False, on_shard=seen.append)
    assert [r.status for r in report.models] == ["written", "written"]
    assert report.images == 12 and sorted(seen) == [0, 1, 2] and report.device == "ray:cpu"
    assert_same_store(reference, store)
    again = predict_models_ray(dataset, models, Store(store.path), OPTS, progress=False)
    assert [r.status for r in again.models] == ["skipped", "skipped"] and again.images == 0


def test_a_killed_task_is_retried(local_ray, class_image_folder, models, reference, tmp_path):
    dataset = load_folder(class_image_folder)
    store = prepare_store(tmp_path / "s", dataset)
    marker = str(tmp_path / "crashed")
    flaky = [crashing(models[0], marker), models[1]]
    report = predict_models_ray(dataset, flaky, store, OPTS, progress=False, models_per_task=1)
    assert os.path.exists(marker)  # a worker did die
    assert [r.status for r in report.models] == ["written", "written"]
    assert_same_store(reference, store)


def test_resumes_what_the_local_engine_left(local_ray, class_image_folder, models, reference, tmp_path):
    dataset = load_folder(class_image_folder)
    store = prepare_store(tmp_path / "s", dataset)

    def stop(shard):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        predict_models(dataset, models, store, OPTS, progress=False, on_shard=stop)
    seen = []
    report = predict_models_ray(dataset, models, store, OPTS, progress=False, on_shard=seen.append)
    assert sorted(seen) == [1, 2]
    assert [(r.status, r.images) for r in report.models] == [("resumed", 8), ("resumed", 8)]
    assert_same_store(reference, store)


def test_a_node_that_cannot_read_the_dataset_is_one_clear_error(local_ray, class_image_folder, models,
                                                                 tmp_path):
    copy = tmp_path / "images"
    shutil.copytree(class_image_folder, copy)
    dataset = load_folder(copy)
    store = prepare_store(tmp_path / "s", dataset)
    gone = copy / dataset.samples["path"].iloc[4]
    gone.unlink()
    with pytest.raises(InputError, match=f"cannot read the dataset's image {gone} on this node"):
        predict_models_ray(dataset, models, store, OPTS, progress=False)
    assert not store.model_names()
    partial = store.path / ".partial" / "test_resnet"
    assert (partial / "manifest.json").exists() and not (partial / "shard-00001.npz").exists()


def test_check_paths_names_the_store_and_the_dataset(class_image_folder, tmp_path):
    dataset = load_folder(class_image_folder)
    with pytest.raises(StoreError, match=f"cannot read the store {tmp_path / 'nope'}: no such folder"):
        check_paths(str(tmp_path / "nope"), dataset, ["m"], 0)
    with pytest.raises(StoreError, match=r"cannot write .*\.partial/m .*NFS"):
        check_paths(str(tmp_path), dataset, ["m"], 0)
    (tmp_path / ".partial" / "m").mkdir(parents=True)
    check_paths(str(tmp_path), dataset, ["m"], 0)
    moved = dataclasses.replace(dataset, root=tmp_path / "elsewhere")
    with pytest.raises(InputError, match=f"cannot read the dataset {tmp_path / 'elsewhere'}"):
        check_paths(str(tmp_path), moved, ["m"], 0)


def test_cli_and_workflow(local_ray, class_image_folder, reference, tmp_path, capsys):
    import misclass

    code, out, err = run_cli(["predict", "--data", f"folder:{class_image_folder}", "--model", SPECS[0],
                              "--model", SPECS[1], "--store", tmp_path / "s", "--split", "all",
                              "--batch-size", "2", "--workers", "0", "--shard-size", "4", "--top-k", "3",
                              "--save-probs", "--save-logits", "--ray", "auto"], capsys)
    assert code == 0, err
    assert "on ray:cpu" in out
    assert_same_store(reference, Store(tmp_path / "s"))
    result = misclass.predict(tmp_path / "s", data=f"folder:{class_image_folder}", models=list(SPECS),
                              split="all", ray="auto", progress=False)
    assert [m["status"] for m in result.to_dict()["models"]] == ["skipped", "skipped"]


def test_without_ray_the_error_names_the_extra(class_image_folder, models, tmp_path, monkeypatch):
    dataset = load_folder(class_image_folder)
    store = prepare_store(tmp_path / "s", dataset)
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(MissingExtraError, match=r"misclass\[ray\]"):
        predict_models_ray(dataset, models, store, OPTS, progress=False)
