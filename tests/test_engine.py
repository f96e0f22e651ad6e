"""The torch prediction engine: specs, single pass, shared preprocessing, resume, MC dropout."""

import json
import textwrap
import time

import numpy as np
import pytest
from helpers import run_cli

torch = pytest.importorskip("torch", reason="the torch engine needs misclass[torch]")
timm = pytest.importorskip("timm", reason="the torch engine needs misclass[torch]")

from PIL import Image  # noqa: E402

from misclass.data import load_folder  # noqa: E402
from misclass.engine import core as engine_mod  # noqa: E402
from misclass.engine.core import EngineOptions, predict_models, prepare_store  # noqa: E402
from misclass.engine.mcdropout import mc_statistics  # noqa: E402
from misclass.engine.preprocess import Preprocess, preprocess_from_transform  # noqa: E402
from misclass.engine.specs import load_model, parse_model_spec  # noqa: E402
from misclass.errors import InputError, StoreError  # noqa: E402
from misclass.store import Store  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def image_folder(class_image_folder):
    return class_image_folder


PY_MODEL = textwrap.dedent("""
    import torch.nn as nn
    import torchvision.transforms as T

    def build():
        import torch
        torch.manual_seed(0)
        model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4),
                              nn.Flatten(), nn.Dropout(0.5), nn.Linear(128, 3))
        transform = T.Compose([T.Resize(40), T.CenterCrop(32), T.ToTensor(),
                               T.Normalize([0.5, 0.5, 0.5], [0.25, 0.25, 0.25])])
        return model, transform

    def nodrop():
        model, transform = build()
        return nn.Sequential(*[m for m in model if not isinstance(m, nn.Dropout)]), transform

    def bad():
        return "not a model"
""")


@pytest.fixture(scope="module")
def py_module(tmp_path_factory):
    path = tmp_path_factory.mktemp("pymodel") / "tinynet.py"
    path.write_text(PY_MODEL)
    return path


def _direct(model, transform, dataset, batch_size):
    """Call the model the plain way: PIL image -> the model's own transform -> forward."""
    probs = []
    with torch.no_grad():
        for i in range(0, len(dataset), batch_size):
            rel = dataset.samples["path"].iloc[i:i + batch_size]
            x = torch.stack([transform(Image.open(dataset.root / p).convert("RGB")) for p in rel])
            probs.append(torch.softmax(model(x), dim=1).numpy())
    return np.concatenate(probs)


def test_engine_matches_calling_the_models_directly(image_folder, tmp_path):
    dataset = load_folder(image_folder)
    tm = load_model("timm:test_resnet", num_classes=3)
    tv = load_model("torchvision:mobilenet_v3_small", num_classes=3)
    store = prepare_store(tmp_path / "s", dataset)
    opts = EngineOptions(batch_size=5, workers=0, save_probs=True, channels_last=False, k=3)
    report = predict_models(dataset, [tm, tv], store, opts, progress=False)
    assert [r.status for r in report.models] == ["written", "written"]
    timm_tf = timm.data.create_transform(**timm.data.resolve_data_config({}, model=tm.module))
    import torchvision

    tv_tf = torchvision.models.MobileNet_V3_Small_Weights.DEFAULT.transforms()
    for loaded, transform in ((tm, timm_tf), (tv, tv_tf)):
        want = _direct(loaded.module.cpu(), transform, dataset, 5)
        rec = store.read_model(loaded.name)
        want_ids = np.argsort(-want, axis=1, kind="stable")[:, :3]
        assert np.array_equal(rec.topk_ids, want_ids), loaded.name
        assert np.array_equal(rec.topk_probs, np.take_along_axis(want, want_ids, 1).astype(np.float32))
        assert np.allclose(store.read_probs(loaded.name), want, atol=1e-3)
    # channels-last (the default) gives the same ranking, probabilities to float precision
    store2 = prepare_store(tmp_path / "s2", dataset)
    predict_models(dataset, [load_model("timm:test_resnet", num_classes=3)], store2,
                   EngineOptions(batch_size=5, workers=0, k=3), progress=False)
    a, b = store.read_model("test_resnet"), store2.read_model("test_resnet")
    assert np.array_equal(a.topk_ids[:, 0], b.topk_ids[:, 0])
    assert np.allclose(a.topk_probs, b.topk_probs, atol=1e-5)


def test_preprocess_read_from_timm_and_torchvision_transforms():
    import torchvision

    m = timm.create_model("test_resnet", pretrained=False)
    pre = preprocess_from_transform(timm.data.create_transform(**timm.data.resolve_data_config({}, model=m)))
    assert pre.custom is None and pre.steps[0][0] == "resize" and pre.steps[1] == ("center_crop", (160, 160))
    assert pre.mean == (0.5, 0.5, 0.5)
    tv = preprocess_from_transform(torchvision.models.ResNet18_Weights.IMAGENET1K_V1.transforms())
    assert tv.steps == (("resize", (256,), "bilinear", None, True), ("center_crop", (224,)))
    custom = preprocess_from_transform(lambda img: img)
    assert custom.custom is not None and custom.geometry_key[0] == "custom"


def test_one_decode_per_image_and_shared_preprocessing(image_folder, tmp_path, monkeypatch):
    """Three models, two of them with the same preprocessing: every image file is read and
    decoded once for all of them, and each distinct preprocessing runs once per image, not
    once per model (a check before the run may read one image once more)."""
    import PIL.Image

    dataset = load_folder(image_folder)
    paths = {str(image_folder / p) for p in dataset.samples["path"]}
    reads, geometry_calls = [], []
    real_open, real_apply = PIL.Image.open, engine_mod.apply_geometry
    monkeypatch.setattr(PIL.Image, "open",
                        lambda fp, *a, **kw: reads.append(str(fp)) or real_open(fp, *a, **kw))
    monkeypatch.setattr(engine_mod, "apply_geometry",
                        lambda img, pre: geometry_calls.append(pre.geometry_key) or real_apply(img, pre))
    # two models with torchvision's default preprocessing (shared) and one timm model (its own)
    models = [load_model(s, num_classes=3) for s in
              ("a=torchvision:mobilenet_v3_small", "b=torchvision:resnet18", "timm:test_resnet")]
    store = prepare_store(tmp_path / "s", dataset)
    report = predict_models(dataset, models, store, EngineOptions(batch_size=4, workers=0), progress=False)
    n = len(dataset)
    per_image = {p: reads.count(p) for p in paths}
    assert set(reads) == paths and report.images == n
    assert sum(per_image.values()) <= n + 1 and max(per_image.values()) <= 2, per_image
    per_geometry = {k: geometry_calls.count(k) for k in set(geometry_calls)}
    assert len(per_geometry) == 2 and all(n <= c < 2 * n for c in per_geometry.values()), per_geometry
    assert store.model_names() == ["a", "b", "test_resnet"]


def test_workers_features_logits_and_cli(image_folder, tmp_path, capsys):
    code, out, err = run_cli(["predict", "--data", f"folder:{image_folder}", "--model", "timm:test_resnet",
                              "--store", tmp_path / "s", "--workers", "1", "--batch-size", "4",
                              "--save-features", "--save-logits", "--save-probs", "--threads", "1",
                              "--json", tmp_path / "p.json"], capsys)
    assert code == 0, err
    assert "images/s" in " ".join(out.split())
    report = json.loads((tmp_path / "p.json").read_text())
    assert report["models"][0]["status"] == "written" and report["images"] == 12
    store = Store(tmp_path / "s")
    feats, logits = store.read_features("test_resnet"), store.read_logits("test_resnet")
    model = load_model("timm:test_resnet", num_classes=3).module
    dataset = load_folder(image_folder)
    tf = timm.data.create_transform(**timm.data.resolve_data_config({}, model=model))
    x = torch.stack([tf(Image.open(image_folder / p).convert("RGB")) for p in dataset.samples["path"]])
    with torch.no_grad():
        want_f = model.forward_head(model.forward_features(x), pre_logits=True).numpy()
        want_l = model(x).numpy()
    assert feats.shape == want_f.shape and np.allclose(feats, want_f, atol=2e-2, rtol=1e-2)
    assert np.allclose(logits, want_l, atol=2e-2, rtol=1e-2)
    meta = store.model_metadata("test_resnet")
    assert meta["source"] == "timm" and meta["weights"] == "random" and meta["has_features"]
    # a rerun skips the stored model; --force recomputes it
    code, out, _ = run_cli(["predict", "--data", f"folder:{image_folder}", "-m", "timm:test_resnet",
                            "--store", tmp_path / "s", "--workers", "0"], capsys)
    assert code == 0 and "skipped" in out
    code, out, _ = run_cli(["predict", "--data", f"folder:{image_folder}", "-m", "timm:test_resnet",
                            "--store", tmp_path / "s", "--workers", "0", "--force"], capsys)
    assert code == 0 and "written" in out and store.read_features("test_resnet") is None


def test_resume_after_an_interrupted_run(image_folder, tmp_path):
    dataset = load_folder(image_folder)
    specs = ["timm:test_resnet", "torchvision:mobilenet_v3_small"]
    opts = EngineOptions(batch_size=2, workers=0, shard_size=4, save_probs=True)
    full = prepare_store(tmp_path / "full", dataset)
    predict_models(dataset, [load_model(s, num_classes=3) for s in specs], full, opts, progress=False)

    store = prepare_store(tmp_path / "s", dataset)

    def interrupt(shard):
        if shard == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        predict_models(dataset, [load_model(s, num_classes=3) for s in specs], store, opts,
                       on_shard=interrupt, progress=False)
    assert store.model_names() == []  # nothing half-written reaches the store
    partial = store.path / ".partial" / "test_resnet"
    assert sorted(p.name for p in partial.glob("shard-*.npz")) == ["shard-00000.npz", "shard-00001.npz"]
    seen = []
    report = predict_models(dataset, [load_model(s, num_classes=3) for s in specs], store, opts,
                            on_shard=seen.append, progress=False)
    assert seen == [2]  # only the missing shard was computed
    assert [r.status for r in report.models] == ["resumed", "resumed"] and report.images == 4
    for name in ("test_resnet", "mobilenet_v3_small"):
        assert np.array_equal(store.read_model(name).topk_ids, full.read_model(name).topk_ids)
        assert np.array_equal(store.read_probs(name), full.read_probs(name))
    assert not (store.path / ".partial").exists()
    # other settings start a partial model over instead of mixing results
    with pytest.raises(KeyboardInterrupt):
        predict_models(dataset, [load_model(specs[0], num_classes=3)], store,
                       EngineOptions(batch_size=2, workers=0, shard_size=4, force=True),
                       on_shard=interrupt, progress=False)
    report = predict_models(dataset, [load_model(specs[0], num_classes=3)], store,
                            EngineOptions(batch_size=2, workers=0, shard_size=4, k=2, force=True),
                            progress=False)
    assert report.images == 12 and store.read_model("test_resnet").topk_ids.shape == (12, 2)


def test_mc_dropout_shapes_statistics_and_seed(image_folder, py_module, tmp_path):
    dataset = load_folder(image_folder)
    spec = f"py:{py_module}:build"

    def run(path, seed):
        store = prepare_store(path, dataset)
        predict_models(dataset, [load_model(spec, num_classes=3)], store,
                       EngineOptions(workers=0, mc_dropout=8, seed=seed, batch_size=5, save_features=True),
                       progress=False)
        return store

    a, b, c = run(tmp_path / "a", 0), run(tmp_path / "b", 0), run(tmp_path / "c", 1)
    extra = a.read_per_image("build")
    assert list(extra.columns) == ["mc_entropy", "mc_mutual_info", "mc_variance"] and len(extra) == 12
    assert (extra["mc_mutual_info"] >= 0).all() and (extra["mc_variance"] >= 0).all()
    assert (extra["mc_entropy"] >= extra["mc_mutual_info"] - 1e-6).all()
    assert (extra["mc_variance"] > 0).any()  # the passes differ
    probs = a.read_probs("build")
    assert probs.shape == (12, 3) and np.allclose(probs.astype(np.float64).sum(1), 1, atol=2e-3)
    assert a.read_features("build").shape == (12, 128)
    assert a.model_metadata("build")["mc_dropout"] == 8
    assert extra.equals(b.read_per_image("build"))  # same seed, same numbers
    assert not np.allclose(extra["mc_variance"], c.read_per_image("build")["mc_variance"])


def test_mc_statistics_against_numpy():
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(5, 4, 6))
    p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    mean, stats = mc_statistics(torch.tensor(p))
    m = p.mean(0)
    h = -(m * np.log(m)).sum(1)
    eh = -(p * np.log(p)).sum(2).mean(0)
    top = m.argmax(1)
    assert np.allclose(mean.numpy(), m, atol=1e-6)
    assert np.allclose(stats["mc_entropy"].numpy(), h, atol=1e-5)
    assert np.allclose(stats["mc_mutual_info"].numpy(), h - eh, atol=1e-5)
    assert np.allclose(stats["mc_variance"].numpy(), p[:, np.arange(4), top].var(0), atol=1e-6)


def test_mc_dropout_needs_dropout_layers(image_folder, py_module, tmp_path, capsys):
    code, _, err = run_cli(["predict", "--data", f"folder:{image_folder}", "-m", f"py:{py_module}:nodrop",
                            "--mc-dropout", "4", "--store", tmp_path / "s", "--workers", "0"], capsys)
    assert code == 2 and "no dropout layers" in err and "'nodrop'" in err
    assert not (tmp_path / "s" / "models" / "nodrop.parquet").exists()
    code, _, err = run_cli(["predict", "--data", f"folder:{image_folder}", "-m", "timm:test_resnet",
                            "--mc-dropout", "1", "--store", tmp_path / "s"], capsys)
    assert code == 2 and "at least 2" in err


@pytest.mark.parametrize("spec, message", [
    ("keras:resnet", "expected timm:NAME"),
    ("resnet18", "expected timm:NAME"),
    ("timm:", "nothing after 'timm:'"),
    ("timm:no_such_net_xyz", "timm has no model 'no_such_net_xyz'"),
    ("torchvision:no_such_net", "torchvision has no classification model"),
    ("torchvision:resnet18@NOPE", "has no weights 'NOPE'"),
    ("torchvision:resnet18@/no/such/file.pth", "checkpoint /no/such/file.pth does not exist"),
    ("timm:test_resnet@missing.pth", "does not exist"),
    ("ckpt:/no/such/ckpt.pt", "no such file"),
    ("py:no_such_module_xyz:build", "cannot import 'no_such_module_xyz'"),
    ("py:json:no_such_function", "has no callable 'no_such_function'"),
    ("py:json", "expected py:MODULE:FUNCTION"),
    ("bad name=timm:test_resnet", "expected timm:NAME"),
])
def test_every_bad_spec_gives_one_clear_error(spec, message, image_folder, tmp_path, capsys):
    code, _, err = run_cli(["predict", "--data", f"folder:{image_folder}", "--model", spec,
                            "--store", tmp_path / "s"], capsys)
    assert code == 2 and message in " ".join(err.split()), err
    assert len(err.strip().splitlines()) <= 3  # one message, wrapped at most by the terminal


def test_bad_weights_files_and_callables(image_folder, py_module, tmp_path):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="not a readable weights file"):
        load_model(f"timm:test_resnet@{junk}", num_classes=3)
    with pytest.raises(InputError, match="not a readable torch checkpoint"):
        load_model(f"ckpt:{junk}", num_classes=3)
    other = tmp_path / "other.pth"
    torch.save({"w": torch.zeros(2)}, other)
    with pytest.raises(InputError, match="weights do not fit"):
        load_model(f"torchvision:resnet18@{other}", num_classes=3)
    with pytest.raises(InputError, match="not a checkpoint written by 'misclass train'"):
        load_model(f"ckpt:{other}", num_classes=3)
    with pytest.raises(InputError, match=r"must return \(torch.nn.Module, transform\)"):
        load_model(f"py:{py_module}:bad", num_classes=3)
    # a model with the wrong number of outputs is refused before any work
    store = prepare_store(tmp_path / "s", load_folder(image_folder))
    with pytest.raises(InputError, match="outputs \\(1000,\\) scores per image but the dataset has 3"):
        predict_models(load_folder(image_folder), [load_model("timm:test_resnet", num_classes=1000)], store,
                       EngineOptions(workers=0), progress=False)
    assert not (store.path / ".partial").exists()


def test_checkpoint_weights_round_trip(image_folder, tmp_path):
    model = timm.create_model("test_resnet", pretrained=False, num_classes=3)
    torch.save({"state_dict": {f"module.{k}": v for k, v in model.state_dict().items()}}, tmp_path / "w.pth")
    loaded = load_model(f"mine=timm:test_resnet@{tmp_path / 'w.pth'}", num_classes=10)
    assert loaded.name == "mine" and loaded.module.get_classifier().out_features == 3
    for a, b in zip(model.state_dict().values(), loaded.module.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    import torchvision

    tvm = torchvision.models.resnet18(num_classes=3)
    torch.save(tvm.state_dict(), tmp_path / "r18.pth")
    loaded = load_model(f"torchvision:resnet18@{tmp_path / 'r18.pth'}", num_classes=7)
    assert loaded.module.fc.out_features == 3


def test_uncached_pretrained_weights_fail_fast(image_folder, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    start = time.perf_counter()
    code, _, err = run_cli(["predict", "--data", f"folder:{image_folder}", "-m", "timm:resnet18",
                            "--pretrained", "--store", tmp_path / "s"], capsys)
    flat = " ".join(err.split())
    assert code == 2 and "timm:resnet18" in flat and "not in the local cache" in flat
    assert str(tmp_path / "torch-home") in flat and "does not download" in flat
    code, _, err = run_cli(["predict", "--data", f"folder:{image_folder}", "-m",
                            "torchvision:resnet18@IMAGENET1K_V1", "--store", tmp_path / "s"], capsys)
    flat = " ".join(err.split())
    assert code == 2 and "ResNet18_Weights.IMAGENET1K_V1" in flat and "torch-home" in flat
    assert time.perf_counter() - start < 30
    assert not (tmp_path / "s").exists()  # nothing was created


def test_cached_pretrained_weights_load_offline(tmp_path, monkeypatch):
    """A file in torch hub's cache is used as it is (nothing is fetched)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    import torchvision

    weights = torchvision.models.ResNet18_Weights.IMAGENET1K_V1
    cache = tmp_path / "th" / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    torch.save(torchvision.models.resnet18().state_dict(), cache / weights.url.rsplit("/", 1)[1])
    monkeypatch.setattr(torchvision.models.ResNet18_Weights.IMAGENET1K_V1.__class__, "get_state_dict",
                        lambda self, **kw: torch.load(cache / self.url.rsplit("/", 1)[1], weights_only=True))
    loaded = load_model("torchvision:resnet18@IMAGENET1K_V1", num_classes=3)
    assert loaded.metadata["pretrained"] and loaded.module.fc.out_features == 1000
    assert loaded.preprocess.steps[1] == ("center_crop", (224,))


def test_store_and_data_mismatches(image_folder, tmp_path, small_store):
    dataset = load_folder(image_folder)
    with pytest.raises(StoreError, match="holds other samples"):
        prepare_store(small_store.path, dataset)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a").mkdir()
    (bad / "b").mkdir()
    Image.new("RGB", (20, 20)).save(bad / "a" / "ok.png")
    (bad / "b" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    ds = load_folder(bad)
    store = prepare_store(tmp_path / "s", ds)
    with pytest.raises(InputError, match="broken.jpg: not a readable image"):
        predict_models(ds, [load_model("timm:test_resnet", num_classes=2)], store,
                       EngineOptions(workers=0), progress=False)
    assert store.model_names() == []


def test_parse_names_and_custom_preprocess():
    assert parse_model_spec("ckpt:runs/resnet50/best.pt").name == "resnet50"
    assert parse_model_spec("torchvision:resnet50@IMAGENET1K_V2").name == "resnet50"
    assert parse_model_spec("py:pkg.models:build_net").name == "build_net"
    assert Preprocess(mode="L").channels == 1


def test_predict_help_has_example(capsys):
    for cmd in (["predict"], ["train"]):
        code, out, _ = run_cli([*cmd, "--help"], capsys)
        assert code == 0 and "Example: misclass" in out


def test_an_empty_or_damaged_shard_is_redone(image_folder, tmp_path, capsys):
    """A shard file left empty (a full disk, a crash) never stops a rerun: it is computed again."""
    dataset = load_folder(image_folder)
    opts = EngineOptions(batch_size=2, workers=0, shard_size=4)
    full = prepare_store(tmp_path / "full", dataset)
    predict_models(dataset, [load_model("timm:test_resnet", num_classes=3)], full, opts, progress=False)
    store = prepare_store(tmp_path / "s", dataset)

    def interrupt(shard):
        if shard == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        predict_models(dataset, [load_model("timm:test_resnet", num_classes=3)], store, opts,
                       on_shard=interrupt, progress=False)
    partial = store.path / ".partial" / "test_resnet"
    (partial / "shard-00000.npz").write_bytes(b"")
    (partial / "shard-00001.npz").write_bytes(b"PK\x03\x04 truncated")
    code, out, err = run_cli(["predict", "--data", f"folder:{image_folder}", "-m", "timm:test_resnet",
                              "--store", store.path, "--workers", "0", "--batch-size", "2",
                              "--shard-size", "4"], capsys)
    assert code == 0, err
    assert "Aborted" not in out + err
    assert np.array_equal(store.read_model("test_resnet").topk_ids, full.read_model("test_resnet").topk_ids)
    assert not (store.path / ".partial").exists()
