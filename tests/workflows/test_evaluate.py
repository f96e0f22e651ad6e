"""misclass.evaluate / shift / factors: the CLI's --json, the report and the workflow agree."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from helpers import run_cli

import misclass
from misclass.report.build import build_report
from misclass.store import Store
from misclass.types import PREDICTOR_KINDS


def cli_json(args, tmp_path, capsys, name="out.json"):
    out = tmp_path / name
    code, _, err = run_cli([*args, "--json", out], capsys)
    assert code == 0, err
    return json.loads(out.read_text())


def cli_error(args, capsys) -> str:
    code, _, err = run_cli(args, capsys)
    assert code == 2, err
    return " ".join(err.split())


def shifted_copy(store: Store, path, *, n: int, seed: int, extra: str | None = None) -> Store:
    """A second store with the same classes: the first ``n`` images, each model's top-1 replaced
    by a wrong class on a share of images that grows with the model's column (a shifted test set)."""
    rng = np.random.default_rng(seed)
    pred = store.load()
    b = Store.create(path, samples=store.samples().iloc[:n].reset_index(drop=True), classes=store.classes())
    n_classes = len(store.classes())
    for j, name in enumerate(pred.models):
        top1 = pred.top1[:n, j].astype(np.int64)
        worse = rng.random(n) < 0.05 + 0.03 * j
        b.write_model(name, np.where(worse, (pred.labels[:n] + 1 + j) % n_classes, top1))
    if extra:
        b.write_model(extra, pred.labels[:n])
    return b


# --------------------------------------------------------------------------- demo store
@pytest.fixture(scope="module")
def demo_store(demo_dirs):
    return demo_dirs[0]


@pytest.fixture
def demo_files(demo_store, tmp_path):
    """A label-set CSV (a second allowed label on even rows, every 7th problematic, one id not in
    the store) and a class-group CSV for the demo store."""
    s = Store(demo_store)
    samples = s.samples()
    rows = ["sample_id,labels,problematic"]
    for i, (sid, lab) in enumerate(zip(samples["sample_id"], samples["label"], strict=True)):
        allowed = f"{lab} {(lab + 3) % 10}" if i % 2 == 0 else str(lab)
        rows.append(f"{sid},{allowed},{int(i % 7 == 0)}")
    rows.append("not-in-store,1,0")
    sets = tmp_path / "sets.csv"
    sets.write_text("\n".join(rows) + "\n")
    groups = tmp_path / "groups.csv"
    groups.write_text("class,group\n" + "".join(f"{c},{'low' if c < 5 else 'high'}\n" for c in range(10)))
    return sets, groups


def test_evaluate_equals_cli_json_on_demo(demo_store, demo_files, tmp_path, capsys):
    sets, groups = demo_files
    d = cli_json(["evaluate", "--store", demo_store], tmp_path, capsys)
    res = misclass.evaluate(demo_store)
    assert res.to_dict() == d
    assert not res.has_label_sets and d["groups"] is None  # digits: no default groups
    frame = res.to_frame()
    assert frame.index.name == "model" and list(frame.index) == Store(demo_store).model_names()
    assert frame.loc["svm-rbf", "top1"] == pytest.approx(Store(demo_store).model_metadata("svm-rbf")["top1"])

    args = ["evaluate", "--store", demo_store, "--labels", sets, "--groups", groups, "-m", "svm-rbf",
            "-m", "knn", "-m", "cnn-plain"]
    d = cli_json(args, tmp_path, capsys, "e2.json")
    res = misclass.evaluate(demo_store, labels=str(sets), groups=[str(groups)],
                            models=["svm-rbf", "knn", "cnn-plain"])
    assert res.to_dict() == d
    assert res.n_unmatched == 1 and d["excluded"]["problematic"] > 0
    assert [m["name"] for m in d["models"]] == ["svm-rbf", "knn", "cnn-plain"]
    sub = res.subset_frame()
    assert list(sub.index) == ["low", "high"] and list(sub.columns) == ["svm-rbf", "knn", "cnn-plain"]
    assert sub.loc["low", "knn"] == d["subsets"]["low"]["knn"]
    assert res.subset_frame("top1").loc["high", "knn"] == d["subsets_top1"]["high"]["knn"]


def test_evaluate_with_a_human_and_one_model_name(demo_store, tmp_path, capsys):
    store = tmp_path / "store"
    shutil.copytree(demo_store, store)
    code, text, err = run_cli(["set-kind", "knn", "--kind", "human", "--store", store], capsys)
    assert code == 0 and "knn: kind human" in text, err
    d = cli_json(["evaluate", "--store", store], tmp_path, capsys)
    res = misclass.evaluate(store)
    assert res.to_dict() == d
    assert res.to_frame().loc["knn", "kind"] == "human" and d["missed"]["all_humans"] is not None
    assert "humans" in d["summary"]
    assert misclass.evaluate(store, models="knn").to_dict() == cli_json(
        ["evaluate", "--store", store, "-m", "knn"], tmp_path, capsys, "one.json")


def test_set_kind_help_names_every_kind(capsys):
    code, out, _ = run_cli(["set-kind", "--help"], capsys)
    assert code == 0 and all(f"'{k}'" in out for k in PREDICTOR_KINDS)


def test_shift_equals_cli_json_on_demo(demo_store, tmp_path, capsys):
    a = Store(demo_store)
    b = shifted_copy(a, tmp_path / "shifted", n=200, seed=3, extra="only-shifted")
    d = cli_json(["shift", "--store", demo_store, "--shifted-store", b.path], tmp_path, capsys)
    res = misclass.shift(demo_store, shifted_store=b.path)
    assert res.to_dict() == d
    assert d["left_out"] == ["only-shifted"] and d["groups"] is None and d["subsets"] == {}
    assert res.models == a.model_names() and d["fit"]["n"] == len(a.model_names())
    frame = res.to_frame()
    assert frame.index.name == "model"
    knn = frame.loc["knn"]
    assert knn["drop"] == pytest.approx(knn["original"] - knn["shifted"])

    groups = tmp_path / "groups.csv"
    groups.write_text("class,group\n" + "".join(f"{c},{'low' if c < 5 else 'high'}\n" for c in range(10)))
    args = ["shift", "--store", demo_store, "--shifted-store", b.path, "--groups", groups, "-m", "knn",
            "-m", "svm-rbf", "-m", "mlp"]
    d = cli_json(args, tmp_path, capsys, "s2.json")
    res = misclass.shift(demo_store, shifted_store=b.path, groups=str(groups),
                         models=["knn", "svm-rbf", "mlp"])
    assert res.to_dict() == d
    assert list(d["subsets"]) == ["low", "high"] and res.group_source == d["groups"]
    assert res.subset_frame().loc[("high", "mlp"), "shifted"] == d["subsets"]["high"]["models"][2]["shifted"]

    # a named model missing from one store: the same error from both; skip_missing leaves it out
    err = cli_error(["shift", "--store", demo_store, "--shifted-store", b.path, "-m", "only-shifted"], capsys)
    with pytest.raises(misclass.InputError) as exc:
        misclass.shift(demo_store, shifted_store=b.path, models="only-shifted")
    assert str(exc.value) in err and "not in both stores" in err
    left = misclass.shift(demo_store, shifted_store=b.path, models=["knn", "mlp", "only-shifted"],
                          skip_missing=True)
    assert left.models == ["knn", "mlp"]
    none = misclass.shift(demo_store, shifted_store=b.path, models="only-shifted", skip_missing=True)
    assert none.models == [] and none.to_dict()["models"] == []


def test_report_shift_section_is_the_workflow(demo_store, tmp_path):
    a = Store(demo_store)
    b = shifted_copy(a, tmp_path / "shifted", n=150, seed=8, extra="only-shifted")
    models = ["knn", "mlp", "svm-rbf", "random-forest"]
    index = build_report(a, tmp_path / "rep", models=models, options={"shifted_store": b.path},
                         only=["shift"])
    html = index.read_text()
    res = misclass.shift(a, shifted_store=b.path, models=models)
    for name, er in res.to_frame()["effective_robustness"].items():
        assert f"{100 * er:.2f}" in html, name
    assert "Left out (in one store only): only-shifted" in html


def test_factors_needs_an_imagenet_store(demo_store, capsys):
    err = cli_error(["factors", "--store", demo_store], capsys)
    with pytest.raises(misclass.InputError) as exc:
        misclass.factors(demo_store)
    assert str(exc.value) in err and "needs an ImageNet-1k store" in err


# --------------------------------------------------------------------------- ImageNet-X annotated images
@pytest.fixture(scope="module")
def annotated_store(tmp_path_factory):
    """300 ImageNet-X annotated validation images with the 1000 classes and two models."""
    pytest.importorskip("imagenet_x", reason="ImageNet-X annotations need misclass[imagenet]")
    from misclass.data import imagenet_annotations as ia

    ann = ia.imagenet_x_annotations("top", True).iloc[:300]
    wnids = ia.imagenet_group_table()["wnid"].tolist()
    s = Store.create(tmp_path_factory.mktemp("fx") / "store",
                     samples=pd.DataFrame({"sample_id": ann["file_name"], "label": ann["class"]}),
                     classes=pd.DataFrame({"id": wnids, "name": wnids}))
    rng = np.random.default_rng(5)
    labels = ann["class"].to_numpy()
    for name, p in (("good", 0.8), ("poor", 0.5)):
        s.write_model(name, np.where(rng.random(300) < p, labels, (labels + 1) % 1000))
    return s


def test_factors_equals_cli_json_and_report_uses_labels(annotated_store, tmp_path, capsys):
    s = annotated_store
    d = cli_json(["factors", "--store", s.path], tmp_path, capsys)
    res = misclass.factors(s.path)
    assert res.to_dict() == d and d["labels"] == "top1"
    assert res.to_frame().loc["poor", "pose"] == d["models"][1]["error_ratio"]["pose"]
    assert res.error_rate_frame().loc["good", "pose"] == d["models"][0]["error_rate"]["pose"]

    # labels that also allow the class after the label on every second image
    samples = s.samples()
    sets = tmp_path / "sets.csv"
    sets.write_text("sample_id,labels\n" + "".join(
        f"{sid},{lab} {(lab + 1) % 1000}\n" if i % 2 else f"{sid},{lab}\n"
        for i, (sid, lab) in enumerate(zip(samples["sample_id"], samples["label"], strict=True))))
    args = ["factors", "--store", s.path, "--labels", sets, "--factor-set", "multi", "--top", "2",
            "--keep-prototypes"]
    d = cli_json(args, tmp_path, capsys, "f2.json")
    ml = misclass.factors(s.path, labels=str(sets), factor_set="multi", top=2, keep_prototypes=True)
    assert ml.to_dict() == d and d["labels"] == str(sets) and d["prototypes_kept"]
    assert all(len(m["top_factors"]) <= 2 for m in d["models"])

    # the report's factors section honours --labels (it used to ignore it)
    with_labels = misclass.factors(s.path, labels=str(sets))
    index = build_report(s, tmp_path / "rep", options={"labels": str(sets)}, only=["factors"])
    html = index.read_text()
    for name, err in zip(with_labels.errors.models, with_labels.errors.overall_error, strict=True):
        assert f"{100 * err:.2f}" in html, name
    assert with_labels.errors.overall_error[1] < res.errors.overall_error[1]
    assert "outside the image&#x27;s label set" in html or "outside the image's label set" in html


# --------------------------------------------------------------------------- the seven ImageNet models
@pytest.mark.slow
def test_evaluate_on_imagenet_models(imagenet_timm_store, tmp_path, capsys):
    store = imagenet_timm_store
    d = cli_json(["evaluate", "--store", store], tmp_path, capsys)
    res = misclass.evaluate(store)
    assert res.to_dict() == d and len(d["models"]) == 7
    assert list(d["subsets"]) == ["objects", "organisms", "dogs"]  # the default groups of ImageNet stores

    d = cli_json(["evaluate", "--store", store, "--labels", "real", "--groups", "imagenet", "--groups",
                  "metaclasses"], tmp_path, capsys, "real.json")
    real = misclass.evaluate(store, labels="real", groups=["imagenet", "metaclasses"])
    assert real.to_dict() == d
    assert d["models"][0]["n_multilabel"] == 50_000 - 3_163 and len(d["subsets"]) == 3 + 100
    frame = real.to_frame()
    assert (frame["multilabel"] > frame["top1"]).all()


@pytest.mark.slow
def test_factors_on_imagenet_models(imagenet_timm_store, tmp_path, capsys):
    store = imagenet_timm_store
    d = cli_json(["factors", "--store", store], tmp_path, capsys)
    assert misclass.factors(store).to_dict() == d and d["n_annotated"] > 45_000
    d = cli_json(["factors", "--store", store, "--labels", "real"], tmp_path, capsys, "real.json")
    real = misclass.factors(store, labels="real")
    assert real.to_dict() == d and d["labels"] == "real"
    assert real.to_frame().shape == (7, 16)


@pytest.mark.slow
def test_shift_on_imagenet_models(imagenet_timm_store, tmp_path, capsys):
    store = imagenet_timm_store
    b = shifted_copy(Store(store), tmp_path / "shifted", n=10_000, seed=11)
    d = cli_json(["shift", "--store", store, "--shifted-store", b.path], tmp_path, capsys)
    res = misclass.shift(store, shifted_store=b.path)
    assert res.to_dict() == d and d["left_out"] == [] and d["fit"]["n"] == 7
    assert list(d["subsets"]) == ["objects", "organisms", "dogs"]
    drop = res.to_frame()["drop"]  # the later a model's column, the more of its images were spoilt
    assert drop.iloc[-1] > drop.iloc[0] + 0.1


@pytest.mark.slow
def test_report_labels_section_is_the_workflow(imagenet_timm_store, tmp_path):
    store = Store(imagenet_timm_store)
    index = build_report(store, tmp_path / "rep", options={"groups": ["imagenet"]}, only=["labels"])
    html = index.read_text()
    real = misclass.evaluate(store, labels="real", groups=["imagenet"])  # the section's default labels
    for name, ml in real.to_frame()["multilabel"].items():
        assert f"{100 * ml:.2f}" in html, name
    for name, acc in real.subset_frame().loc["dogs"].items():
        assert f"{100 * acc:.2f}" in html, name
