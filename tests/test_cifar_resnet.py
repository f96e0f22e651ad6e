"""CIFAR ResNets (He et al. 2016, option A): shapes, third-party state dicts through
``ARCH@PATH``, clear mismatch errors, ``misclass predict`` and ``misclass train`` with them."""

import re

import numpy as np
import pytest
from helpers import run_cli

torch = pytest.importorskip("torch", reason="CIFAR ResNets need misclass[torch]")

from PIL import Image  # noqa: E402

from misclass.engine.architectures import ARCHITECTURES, build_architecture  # noqa: E402
from misclass.engine.cifar_resnet import CIFAR_RESNETS, blocks_per_stage, cifar_resnet  # noqa: E402
from misclass.engine.specs import load_model, parse_model_spec  # noqa: E402
from misclass.errors import InputError  # noqa: E402
from misclass.store import Store  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
NORM = "#mean=0.485,0.456,0.406#std=0.229,0.224,0.225"
# the published weights' names: conv1, bn1, layer1..3.<i>.{conv1,bn1,conv2,bn2}, linear
KEY = re.compile(r"^(conv1\.weight|bn1\.\w+|layer[123]\.\d+\.(conv[12]\.weight|bn[12]\.\w+)"
                 r"|linear\.(weight|bias))$")


def _random_resnet(depth=20, seed=0, classes=10):
    torch.manual_seed(seed)
    model = cifar_resnet(depth, num_classes=classes)
    with torch.no_grad():  # batch-norm statistics away from (0, 1), so a load that skips them shows
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    return model.eval()


def test_depths_names_and_parameter_counts():
    assert set(CIFAR_RESNETS) <= set(ARCHITECTURES)
    assert [blocks_per_stage(d) for d in (20, 32, 44, 56, 110)] == [3, 5, 7, 9, 18]
    with pytest.raises(InputError, match="6n \\+ 2"):
        blocks_per_stage(21)
    # He et al. Table 6: 0.27M, 0.46M, 0.66M, 0.85M, 1.7M parameters
    counts = {d: sum(p.numel() for p in cifar_resnet(d).parameters()) for d in (20, 32, 44, 56, 110)}
    assert [round(c / 1e6, 2) for c in counts.values()] == [0.27, 0.46, 0.66, 0.85, 1.73]
    keys = list(cifar_resnet(56).state_dict())
    assert all(KEY.match(k) or k.endswith("num_batches_tracked") for k in keys), keys
    assert "layer3.8.bn2.running_var" in keys and "linear.weight" in keys
    convs = [m for m in cifar_resnet(20).modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 19 and all(c.bias is None for c in convs)  # 19 convs + 1 linear = 20 layers


def test_option_a_shortcut_shapes():
    model = _random_resnet(20)
    x = torch.randn(2, 3, 32, 32)
    stem = torch.relu(model.bn1(model.conv1(x)))
    shapes = []
    out = stem
    for layer in (model.layer1, model.layer2, model.layer3):
        out = layer(out)
        shapes.append(tuple(out.shape[1:]))
    assert shapes == [(16, 32, 32), (32, 16, 16), (64, 8, 8)]
    assert model(x).shape == (2, 10)
    # the first block of stages 2 and 3: parameter-free subsample + zero channels, half each side
    for layer, cin in ((model.layer2, 16), (model.layer3, 32)):
        block = layer[0]
        assert sum(p.numel() for p in block.shortcut.parameters()) == 0
        assert not list(block.shortcut.buffers())
        assert block.conv1.stride == (2, 2)
        z = torch.randn(2, cin, 16, 16)
        s = block.shortcut(z)
        assert s.shape == (2, 2 * cin, 8, 8)
        pad = cin // 2
        assert torch.equal(s[:, pad:pad + cin], z[:, :, ::2, ::2])
        assert not s[:, :pad].any() and not s[:, pad + cin:].any()
    # every other block has the identity shortcut
    others = [b for layer in (model.layer1, model.layer2, model.layer3) for b in layer[1:]]
    assert all(isinstance(b.shortcut, torch.nn.Identity) for b in [model.layer1[0], *others])
    # global average pooling: any input size works
    assert model(torch.randn(1, 3, 40, 24)).shape == (1, 10)


@pytest.mark.parametrize("wrap", ["plain", "module.", "state_dict", "state_dict+module."])
def test_state_dict_round_trip(wrap, tmp_path):
    model = _random_resnet(20, seed=1)
    state = model.state_dict()
    if "module." in wrap:  # as nn.DataParallel saves
        state = {f"module.{k}": v for k, v in state.items()}
    if wrap.startswith("state_dict"):  # as the published .th files: extra entries beside the weights
        state = {"state_dict": state, "best_prec1": 91.7, "epoch": 200}
    path = tmp_path / "w.th"
    torch.save(state, path)
    loaded = load_model(f"cifar-resnet20@{path}{NORM}", num_classes=10)
    assert loaded.name == "w" and loaded.metadata["architecture"] == "cifar-resnet20"
    assert loaded.preprocess.mean == MEAN and loaded.preprocess.std == STD
    assert loaded.classifier is loaded.module.linear
    for k, v in model.state_dict().items():
        assert torch.equal(loaded.module.state_dict()[k], v), k
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded.module(x), model(x))


def test_published_weights_without_batch_counters_and_other_classes(tmp_path):
    """Weights saved by old PyTorch lack num_batches_tracked; a 100-class head sizes the model."""
    model = _random_resnet(20, classes=100)
    state = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save({"state_dict": state}, tmp_path / "c100.th")
    loaded = load_model(f"r20=cifar-resnet20@{tmp_path / 'c100.th'}", num_classes=10, mean=MEAN, std=STD)
    assert loaded.name == "r20" and loaded.module.linear.out_features == 100


def test_mismatched_state_dict_names_missing_and_unexpected_keys(tmp_path):
    state = _random_resnet(20).state_dict()
    del state["linear.bias"], state["layer2.1.bn1.running_var"]
    state["fc.weight"] = torch.zeros(10, 64)
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, tmp_path / "bad.th")
    with pytest.raises(InputError) as info:
        load_model(f"cifar-resnet20@{tmp_path / 'bad.th'}{NORM}", num_classes=10)
    msg = str(info.value)
    assert "bad.th: weights do not fit cifar-resnet20@" in msg
    assert "2 missing: layer2.1.bn1.running_var, linear.bias" in msg and "1 unexpected: fc.weight" in msg
    # a deeper network's weights: the extra blocks are named, with a count
    torch.save(_random_resnet(32).state_dict(), tmp_path / "r32.th")
    with pytest.raises(InputError, match=r"unexpected: layer1\.3\.conv1\.weight, .*\(\d+ more\)"):
        load_model(f"cifar-resnet20@{tmp_path / 'r32.th'}", num_classes=10, mean=MEAN, std=STD)
    # a shallower one: missing keys
    torch.save(_random_resnet(20).state_dict(), tmp_path / "r20.th")
    with pytest.raises(InputError, match=r"missing: layer1\.3\.conv1\.weight"):
        load_model(f"cifar-resnet32@{tmp_path / 'r20.th'}", num_classes=10, mean=MEAN, std=STD)
    # another width: the shapes are named
    torch.save(build_architecture("cifar-resnet20", num_classes=10, in_channels=3, input_size=(32, 32),
                                  width=8).state_dict(), tmp_path / "w8.th")
    with pytest.raises(InputError, match=r"with another shape: conv1\.weight \(8, 3, 3, 3\) \(model "
                                         r"\(16, 3, 3, 3\)\)"):
        load_model(f"cifar-resnet20@{tmp_path / 'w8.th'}", num_classes=10, mean=MEAN, std=STD)


def test_arch_specs_parse_and_fail_clearly(tmp_path):
    spec = parse_model_spec("cifar-resnet56@w/resnet56.th")
    assert (spec.kind, spec.target, spec.at, spec.name, spec.mean) == (
        "arch", "cifar-resnet56", "w/resnet56.th", "resnet56", None)
    assert parse_model_spec("cifar-resnet20").name == "cifar-resnet20"
    assert parse_model_spec("r=cifar-resnet20@runs/x/best.pt").name == "r"
    assert parse_model_spec("cifar-resnet20@runs/x/best.pt").name == "x"
    for text, message in [("cifar-resnet20@", "nothing after '@'"),
                          ("cifar-resnet20@w.th#mean=0.5,0.5,0.5", "give both #mean"),
                          ("cifar-resnet20@w.th#scale=2", "unknown option 'scale=2'"),
                          ("cifar-resnet20@w.th#mean=a,b,c#std=1,1,1", "expected comma-separated numbers"),
                          ("cifar-resnet20@w.th#mean=0,0,0#std=1,0,1", "expected positive values"),
                          ("cifar-resnet20@w.th#mean=0,0#std=1,1", "expected 1 or 3 values")]:
        with pytest.raises(InputError, match=re.escape(message)):
            parse_model_spec(text)
    torch.save(_random_resnet(20).state_dict(), tmp_path / "r20.th")
    with pytest.raises(InputError, match="give the normalisation its weights were trained with: --mean"):
        load_model(f"cifar-resnet20@{tmp_path / 'r20.th'}", num_classes=10)
    with pytest.raises(InputError, match="does not exist"):
        load_model(f"cifar-resnet20@{tmp_path / 'none.th'}{NORM}", num_classes=10)
    random = load_model("cifar-resnet20", num_classes=3, seed=4)
    assert random.metadata["weights"] == "random" and random.module.linear.out_features == 3


@pytest.fixture(scope="module")
def cifar_like(tmp_path_factory):
    """20 RGB 32x32 PNG images of 10 classes, listed in a CSV in an order of their own."""
    root = tmp_path_factory.mktemp("cifar_like")
    rng = np.random.default_rng(0)
    rows = []
    for c in range(10):
        (root / "test" / f"class{c}").mkdir(parents=True)
        for i in range(2):
            name = f"test/class{c}/{i:04d}.png"
            Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(root / name)
            rows.append((name, c))
    order = rng.permutation(len(rows))
    (root / "index.csv").write_text("file_name,test_index,label\n" + "".join(
        f"{rows[j][0]},{k},{rows[j][1]}\n" for k, j in enumerate(order)))
    return root, [rows[j] for j in order]


def test_predict_cli_with_a_state_dict_float32_and_half(cifar_like, tmp_path, capsys):
    root, rows = cifar_like
    model = _random_resnet(20, seed=2)
    torch.save({"state_dict": {f"module.{k}": v for k, v in model.state_dict().items()}}, tmp_path / "r20.th")
    data = f"folder:{root},{root / 'index.csv'}"
    for half in (False, True):
        store = tmp_path / f"s{int(half)}"
        code, _, err = run_cli(["predict", "--data", data, "-m", f"cifar-resnet20@{tmp_path / 'r20.th'}",
                                "--mean", "0.485,0.456,0.406", "--std", "0.229,0.224,0.225",
                                "--save-logits", "--save-probs", "--workers", "0", "--threads", "1",
                                "--store", store] + (["--half"] if half else []), capsys)
        assert code == 0, err
        s = Store(store)
        # the CSV's order, class names from the class folders
        assert s.sample_ids().tolist() == [r[0] for r in rows]
        assert s.labels().tolist() == [r[1] for r in rows] and s.class_names()[3] == "class3"
        dtype = np.float16 if half else np.float32
        assert s.read_logits("r20").dtype == dtype and s.read_probs("r20").dtype == dtype
        assert s.model_metadata("r20")["precision"] == np.dtype(dtype).name
        x = torch.stack([torch.from_numpy(np.array(Image.open(root / r[0]).convert("RGB"))).permute(2, 0, 1)
                         for r in rows]).float() / 255
        x = (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
        with torch.no_grad():
            want = model(x).numpy()
        got = s.read_logits("r20")
        assert np.allclose(got, want, rtol=1e-3 if half else 1e-5, atol=1e-2 if half else 1e-5)
        assert np.array_equal(s.read_model("r20").topk_ids[:, 0], want.argmax(1))
    code, _, err = run_cli(["predict", "--data", data, "-m", "timm:test_resnet", "--mean", "0.5",
                            "--store", tmp_path / "s2"], capsys)
    assert code == 2 and "--mean/--std apply to misclass architectures" in " ".join(err.split())


def test_train_a_cifar_resnet_and_predict_its_checkpoint(tmp_path, capsys):
    store = tmp_path / "S"
    code, _, err = run_cli(["train", "--data", "digits", "--arch", "cifar-resnet20", "--epochs", "1",
                            "--limit", "64", "--batch-size", "32", "--width", "8", "--threads", "1",
                            "--store", store], capsys)
    assert code == 0, err
    s = Store(store)
    assert s.model_names() == ["cifar-resnet20"]
    assert s.model_metadata("cifar-resnet20")["has_logits"]
    code, _, err = run_cli(["predict", "--data", "digits", "-m",
                            f"again=ckpt:{store}/training/cifar-resnet20/best.pt", "--store", store,
                            "--workers", "0"], capsys)
    assert code == 0, err
    assert np.array_equal(s.read_model("again").topk_ids, s.read_model("cifar-resnet20").topk_ids)


def test_explain_rebuilds_a_predicted_arch_model(cifar_like, tmp_path, capsys, monkeypatch):
    """explain loads a store's ARCH@PATH model as predict ran it: a relative weights path (from
    predict's folder) and the normalisation of --mean/--std, which the spec does not hold."""
    from misclass.explain import TorchClassifier, load_explain_model

    root, rows = cifar_like
    (tmp_path / "run" / "w").mkdir(parents=True)
    torch.save(_random_resnet(20, seed=5).state_dict(), tmp_path / "run" / "w" / "r20.th")
    monkeypatch.chdir(tmp_path / "run")
    code, _, err = run_cli(["predict", "--data", f"folder:{root},{root / 'index.csv'}",
                            "-m", "net=cifar-resnet20@w/r20.th", "--mean", ",".join(map(str, MEAN)),
                            "--std", ",".join(map(str, STD)), "--save-logits", "--workers", "0",
                            "--threads", "1", "--store", tmp_path / "S"], capsys)
    assert code == 0, err
    monkeypatch.chdir(tmp_path)  # elsewhere: w/r20.th is not here
    s = Store(tmp_path / "S")
    loaded = load_explain_model(s, "net")
    assert loaded.name == "net"
    assert tuple(loaded.preprocess.mean) == MEAN and tuple(loaded.preprocess.std) == STD
    pixels = np.stack([np.array(Image.open(root / r[0]).convert("RGB")) for r in rows])
    logits = TorchClassifier(loaded).logits(pixels)
    assert np.allclose(logits, s.read_logits("net"), atol=1e-4)
