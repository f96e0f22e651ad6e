"""Saliency methods on a model whose saliency is known, the planted-digits dataset, and the
explain runner on a hand-built model with known outcomes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("captum")

from misclass.errors import InputError  # noqa: E402
from misclass.explain.saliency import SALIENCY_METHODS, compute_saliency, saliency_mass  # noqa: E402

SHAPE = (16, 16)
REGIONS = [(0, 0, 4, 4), (12, 12, 16, 16), (0, 12, 4, 16)]


def region_masks() -> np.ndarray:
    masks = np.zeros((len(REGIONS), *SHAPE), dtype=np.float32)
    for k, (y0, x0, y1, x1) in enumerate(REGIONS):
        masks[k, y0:y1, x0:x1] = 1
    return masks


class RegionModel(torch.nn.Module):
    """Class k's score is the sum of the pixels (all channels) inside region k: its gradient
    is region k's mask, and a 1x1 convolution per class gives Grad-CAM the same map."""

    def __init__(self):
        super().__init__()
        self.register_buffer("masks", torch.from_numpy(region_masks()))
        k = len(REGIONS)
        self.conv = torch.nn.Conv2d(k, k, 1, groups=k, bias=False)
        self.relu = torch.nn.ReLU(inplace=True)
        with torch.no_grad():
            self.conv.weight.fill_(1.0)

    def forward(self, x):
        g = x.sum(dim=1, keepdim=True) * self.masks[None]
        return self.relu(self.conv(g)).sum(dim=(2, 3))


@pytest.fixture(scope="module")
def model():
    torch.set_num_threads(1)
    return RegionModel().eval()


@pytest.mark.parametrize("method", sorted(SALIENCY_METHODS))
@pytest.mark.parametrize("target", [0, 1, 2])
def test_known_saliency_lies_in_the_target_region(model, method, target):
    rng = np.random.default_rng(target)
    x = torch.from_numpy(rng.uniform(0.2, 1.0, (3, 3, *SHAPE)).astype(np.float32))
    sal = compute_saliency(model, x, np.full(3, target), method)
    assert sal.shape == (3, *SHAPE) and sal.dtype == np.float32
    region = region_masks()[target].astype(bool)
    assert saliency_mass(sal, region) == pytest.approx(np.ones(3), abs=1e-5)
    if method in ("gradient", "smoothgrad"):
        assert np.allclose(sal[:, region], 1.0, atol=1e-5)  # d score / d pixel = 1 inside the region
    if method == "integrated-gradients":  # from a zero baseline: the pixels' own summed values
        assert np.allclose(sal[:, region], x.sum(1).numpy()[:, region], rtol=1e-3)
    assert model.relu.inplace  # switched off for captum, then restored


def test_targets_differ_per_image(model):
    x = torch.ones(2, 3, *SHAPE)
    sal = compute_saliency(model, x, np.array([0, 1]), "gradient")
    masks = region_masks()
    assert np.allclose(sal[0], masks[0]) and np.allclose(sal[1], masks[1])


def test_bad_method_and_gradcam_without_conv():
    with pytest.raises(InputError, match="--method"):
        compute_saliency(RegionModel(), torch.ones(1, 3, *SHAPE), [0], "lime")
    linear = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 16 * 16, 3))
    with pytest.raises(InputError, match="no Conv2d"):
        compute_saliency(linear, torch.ones(1, 3, *SHAPE), [0], "gradcam")


def test_saliency_mass_by_hand():
    s = np.zeros((2, 4, 4))
    s[0, 0, 0], s[0, 3, 3] = 3, 1
    region = np.zeros((4, 4), bool)
    region[:2, :2] = True
    mass = saliency_mass(s, region)
    assert mass[0] == 0.75 and np.isnan(mass[1])


# ----------------------------------------------------------------------------- planted-digits
def test_planted_digits_properties():
    from misclass.data import load_dataset
    from misclass.data.planted import PATCH_COLOURS, load_planted_digits, sample_boxes

    ds = load_dataset("planted-digits", seed=3)
    s = ds.samples
    assert ds.images.shape == (1797, 32, 32, 3) and ds.images.dtype == np.uint8
    test, train = s[s.split == "test"], s[s.split == "train"]
    # test: exactly half planted, their patch shows another class; the rest have no patch
    assert test.planted.sum() == round(0.5 * len(test))
    assert (test.patch_class[test.planted] != test.label[test.planted]).all()
    assert (test.patch_class[~test.planted] == -1).all()
    # train: about 30% without a patch; the others' patch is tied to the label
    has = train.patch_class >= 0
    assert 0.25 < 1 - has.mean() < 0.35 and (train.patch_class[has] == train.label[has]).all()
    assert not train.planted.any()
    patch = sample_boxes(s, "patch")
    obj = sample_boxes(s, "object")
    for i in np.random.default_rng(0).choice(len(s), 50, replace=False):
        y0, x0, y1, x1 = patch[i]
        region = ds.images[i, y0:y1, x0:x1].astype(float).mean(axis=(0, 1))
        k = s.patch_class.iloc[i]
        colour = PATCH_COLOURS[k] if k >= 0 else np.zeros(3)
        assert np.abs(region - colour).max() < 20  # noise only
        oy0, ox0, oy1, ox1 = obj[i]
        assert y1 <= oy0 or oy1 <= y0 or x1 <= ox0 or ox1 <= x0  # patch and digit never overlap
    # seeded: the same seed gives the same images and subset, another seed another subset
    again = load_planted_digits(seed=3)
    assert np.array_equal(again.images, ds.images) and again.samples.equals(ds.samples)
    other = load_planted_digits(seed=4)
    assert not np.array_equal(other.samples.planted, ds.samples.planted)
    with pytest.raises(InputError, match="swap"):
        load_planted_digits(swap=1.5)
    own = load_planted_digits(seed=3, own_patch_in_test=True).samples
    own_test = own[(own.split == "test") & ~own.planted]
    assert (own_test.patch_class == own_test.label).all()


# ----------------------------------------------------------------------------- explain on a known model
def _known_store(tmp_path, n_wrong=12, n_right=12):
    """Images where region A (class 0) is bright and region B (class 1) dim: label 1 images
    are misclassified as 0 because of A (a planted cause), label 0 images are correct."""
    from misclass.store import Store

    masks = region_masks()
    base = 200 * masks[0] + 40 * masks[1]
    rng = np.random.default_rng(0)
    n = n_wrong + n_right
    images = np.clip(base[None] + rng.integers(0, 5, (n, *SHAPE)), 0, 255).astype(np.uint8)
    images = np.repeat(images[..., None], 3, axis=-1)
    labels = np.array([1] * n_wrong + [0] * n_right)
    samples = pd.DataFrame({"sample_id": [f"img{i}" for i in range(n)], "label": labels,
                            "planted": labels == 1, "patch_class": np.zeros(n, int),
                            "patch_y0": 0, "patch_x0": 0, "patch_y1": 4, "patch_x1": 4})
    return Store.create(tmp_path / "store", samples=samples, images=images,
                        classes=pd.DataFrame({"name": ["a", "b", "c"]}))


def _loaded(model):
    from misclass.engine.preprocess import fixed_size
    from misclass.engine.specs import LoadedModel

    pre = fixed_size(SHAPE, mode="RGB", mean=(0, 0, 0), std=(1, 1, 1))
    return LoadedModel("region", model, pre, {"source": "test"})


def test_explain_model_on_a_known_model(tmp_path, model):
    from misclass.explain import ExplainOptions, explain_model, load_explain_results, save_explain

    store = _known_store(tmp_path)
    opts = ExplainOptions(method="gradient", percent=100 * 16 / 256, box=(1, 1), sweep_percents=(6.25, 20),
                          sweep_boxes=((1, 1), (2, 2)), triplets=4)
    run = explain_model(store, _loaded(model), opts, progress=False)
    acc, rnd = run.result.accounting, run.result.accounting_random
    assert (acc.n_wrong, acc.n_right) == (12, 12)
    assert (acc.fixed, acc.broken) == (12, 12)  # erasing region A fixes every error, breaks every control
    assert rnd.fixed < 12 and (run.result.table["erased"] == 16).all()
    assert run.result.fixes_test().b >= 12 - rnd.fixed
    d = run.to_dict()
    assert d["planted"]["fix_rate"]["planted_errors"] == 1.0
    assert d["planted"]["saliency_mass_in_patch"]["planted_errors"] == pytest.approx(1.0)
    assert d["pairs"][0]["true_name"] == "b" and d["pairs"][0]["predicted_name"] == "a"
    assert d["pairs"][0]["label"] == "interference-like"
    assert len(d["sweep"]) == 4 and d["box"] == "1x1"
    assert len(run.triplets["original"]) == 4 and run.triplets["erased"].shape == (4, 16, 16, 3)
    save_explain(store, run, d)
    [(payload, arrays)] = load_explain_results(store)
    assert payload["model"] == "region" and arrays["saliency"].shape == (4, 16, 16)


def test_explain_selection_pairs_images_and_spare(tmp_path, model):
    from misclass.explain import ExplainOptions, explain_model

    store = _known_store(tmp_path, n_wrong=4, n_right=6)
    run = explain_model(store, _loaded(model), ExplainOptions(images=("img0", "img5"), sweep=False),
                        progress=False)
    assert sorted(run.sample_ids.tolist()) == ["img0", "img5"]
    run = explain_model(store, _loaded(model), ExplainOptions(pairs=((1, 0),), correct=0, sweep=False),
                        progress=False)
    assert len(run.sample_ids) == 4
    # sparing region A leaves nothing of the cause to erase: no error is fixed
    run = explain_model(store, _loaded(model), ExplainOptions(method="gradient", percent=6.25, box=(1, 1),
                                                              spare=(0, 0, 4, 4), sweep=False),
                        progress=False)
    assert run.result.accounting.fixed == 0 and not run.result.erased[:, :4, :4].any()
    with pytest.raises(InputError, match="--images"):
        explain_model(store, _loaded(model), ExplainOptions(images=("nope",), sweep=False), progress=False)
    with pytest.raises(InputError, match="object_y0"):
        explain_model(store, _loaded(model), ExplainOptions(spare="object", sweep=False), progress=False)


MODEL_FILE = '''
import torch
from torchvision import transforms as T


class Region(torch.nn.Module):
    def __init__(self):
        super().__init__()
        masks = torch.zeros(3, 16, 16)
        masks[0, :4, :4] = 1
        masks[1, 12:, 12:] = 1
        masks[2, :4, 12:] = 1
        self.register_buffer("masks", masks)
        self.conv = torch.nn.Conv2d(3, 3, 1, groups=3, bias=False)
        torch.nn.init.ones_(self.conv.weight)

    def forward(self, x):
        return self.conv(x.sum(1, keepdim=True) * self.masks[None]).sum(dim=(2, 3))


def build():
    return Region(), T.Compose([T.ToTensor(), T.Normalize([0, 0, 0], [1, 1, 1])])


def build_custom():
    return Region(), lambda image: T.functional.to_tensor(image)
'''


def test_load_explain_model_from_a_spec_or_the_store(tmp_path, model):
    from misclass.explain import ExplainOptions, explain_model, load_explain_model

    store = _known_store(tmp_path, n_wrong=4, n_right=4)
    path = tmp_path / "region_model.py"
    path.write_text(MODEL_FILE)
    loaded = load_explain_model(store, f"py:{path}:build")
    assert loaded.name == "build"
    opts = ExplainOptions(method="gradient", percent=6.25, box=(1, 1), sweep=False)
    run = explain_model(store, loaded, opts, progress=False)
    assert run.result.accounting.fixed == 4
    # a model that 'misclass predict' stored is reloaded from its spec, under its store name
    store.write_model("region", np.zeros((8, 1), int), metadata={"spec": f"py:{path}:build", "source": "py"})
    assert load_explain_model(store, "region").name == "region"
    with pytest.raises(InputError, match="custom transform"):
        load_explain_model(store, f"py:{path}:build_custom")
