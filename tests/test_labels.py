"""Tests for multi-label accuracy, class groups, distribution shift, ImageNet-X factors, the
objects / organisms / dogs table, humans as predictors, the CLI commands and report sections."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _reference import check_against, generated, sklearn_topk_accuracy
from helpers import require_imagenet_timm, run_cli
from scipy import stats
from scipy.special import expit, logit

from misclass.analysis.factors import factor_error_ratios
from misclass.analysis.labels import (
    ClassGroups,
    LabelSets,
    evaluate_predictors,
    fit_line,
    multilabel_accuracy,
)
from misclass.analysis.shift import analyze_shift, fit_shift
from misclass.data import imagenet as imagenet_mod
from misclass.data import imagenet_annotations as ia
from misclass.data.label_sets import load_class_groups, read_class_groups, read_label_sets
from misclass.errors import InputError, MissingExtraError
from misclass.report.build import build_report
from misclass.store import Store
from misclass.store.kinds import predictor_kinds, set_predictor_kind

REPO = Path(__file__).resolve().parents[1]


def has_imagenet_x() -> bool:
    try:
        import imagenet_x  # noqa: F401
    except ImportError:
        return False
    return True


needs_imagenet_x = pytest.mark.skipif(not has_imagenet_x(),
                                      reason="imagenet-x (misclass[imagenet]) not installed")


# --------------------------------------------------------------------------- multi-label accuracy
def hand_sets() -> tuple[LabelSets, np.ndarray]:
    """Seven images, two predictors; see the comments for what each image tests."""
    sets = LabelSets.from_lists(
        [[0, 1],   # 0: a prediction inside a two-label set
         [],       # 1: empty set (no valid label): excluded
         None,     # 2: no set: excluded
         [2],      # 3: problematic: excluded
         [3],      # 4: a prediction outside the set
         [2, 0],   # 5: unsorted input set
         [1]],     # 6: no prediction (-1) is never correct
        problematic=[False, False, False, True, False, False, False])
    top1 = np.array([[1, 0], [5, 5], [0, 0], [2, 2], [0, 3], [2, 1], [-1, 1]])
    return sets, top1


def test_multilabel_hand_computed():
    sets, top1 = hand_sets()
    res = multilabel_accuracy(top1, sets)
    # evaluable: images 0, 4, 5, 6. A: 1 in {0,1} yes, 0 in {3} no, 2 in {0,2} yes, -1 no -> 2/4.
    # B: 0 yes, 3 yes, 1 no, 1 yes -> 3/4.
    assert res.n == 4
    assert res.accuracy.tolist() == [0.5, 0.75]
    assert res.excluded == {"no_set": 1, "empty": 1, "problematic": 1}
    assert sets.set_of(5) == [0, 2]
    assert sets.contains(top1).tolist() == [[True, True], [False, False], [False, False], [True, True],
                                            [False, True], [True, False], [False, True]]


def test_exclusion_reasons_counted_once():
    # a flagged image counts as "problematic" whatever its set (empty, or none: a reviewer who
    # flags an image need not judge its labels; issue 19)
    sets = LabelSets.from_lists([[], None, [1]], problematic=[True, True, False])
    assert sets.exclusion_counts() == {"no_set": 0, "empty": 0, "problematic": 2}
    res = multilabel_accuracy(np.array([[0], [0], [0]]), sets)
    assert res.n == 1 and res.accuracy.tolist() == [0.0]


def test_multilabel_nothing_evaluable_is_nan():
    sets = LabelSets.from_lists([[], None])
    res = multilabel_accuracy(np.array([[0], [1]]), sets)
    assert res.n == 0 and np.isnan(res.accuracy).all()
    empty = LabelSets.from_lists([None, None])
    assert not empty.contains(np.array([[0], [1]])).any()


def test_contains_matches_python_sets_random():
    rng = np.random.default_rng(0)
    lists = [None if rng.random() < 0.1 else list(rng.choice(20, size=rng.integers(0, 4), replace=False))
             for _ in range(300)]
    sets = LabelSets.from_lists(lists)
    pred = rng.integers(-1, 20, size=(300, 3))
    expected = np.array([[lists[i] is not None and p in lists[i] for p in pred[i]] for i in range(300)])
    assert np.array_equal(sets.contains(pred), expected)


def _label_sets_one_image_at_a_time(lists):
    """The former LabelSets.from_lists: np.unique per image (the reference of the vectorised one)."""
    sizes, chunks = np.zeros(len(lists), dtype=np.int64), []
    for i, s in enumerate(lists):
        if s is not None and len(s):
            u = np.unique(np.asarray(s, dtype=np.int64))
            sizes[i] = len(u)
            chunks.append(u)
    indices = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64)
    return (np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64), indices,
            np.array([s is not None for s in lists], dtype=bool))


def test_from_lists_matches_np_unique_per_image():
    def make(rng):  # unsorted sets with repeats, empty sets, None, numpy arrays and tuples
        n = int(rng.integers(0, 40))
        out = []
        for _ in range(n):
            r = rng.random()
            s = list(rng.integers(0, 12, size=rng.integers(0, 7)))
            out.append(None if r < 0.15 else np.array(s) if r < 0.3 else tuple(s) if r < 0.45 else s)
        return (out,)

    def built(lists):
        sets = LabelSets.from_lists(lists)
        return sets.indptr, sets.indices, sets.has_set

    assert check_against(built, _label_sets_one_image_at_a_time, generated(make, n=300)) == 300
    sets = LabelSets.from_lists([[3, 1, 3], None, [], [2, 2]])
    assert sets.indptr.dtype == sets.indices.dtype == np.int64
    assert [sets.set_of(i) for i in range(4)] == [[1, 3], [], [], [2]]
    with pytest.raises(InputError, match="negative class id"):
        LabelSets.from_lists([[1], [0, -2]])


# --------------------------------------------------------------------------- evaluation
def test_evaluate_predictors_against_references():
    rng = np.random.default_rng(1)
    n, m, c = 400, 5, 6
    labels = rng.integers(0, c, n)
    labels[:7] = -1
    topk = np.stack([np.stack([rng.permutation(c)[:5] for _ in range(m)]) for _ in range(n)])
    # make accuracies differ between models: model j copies the label with probability j/6
    for j in range(m):
        hit = (rng.random(n) < j / 6) & (labels >= 0)
        topk[hit, j, 0] = labels[hit]
    extra = rng.integers(0, c, n)
    sets = LabelSets.from_lists([None if lab < 0 else sorted({int(lab), int(e)})
                                 for lab, e in zip(labels, extra, strict=True)])
    groups = ClassGroups.from_assignments([0, 1, 2, 3, 4, 5, 0], ["a", "a", "a", "b", "b", "b", "b"], c)
    kinds = ["model", "model", "model", "model", "human"]
    ev = evaluate_predictors([f"m{j}" for j in range(m)], labels, topk, np.full(m, 5), label_sets=sets,
                             groups=groups, kinds=kinds)
    t = ev.table
    np.testing.assert_allclose(t["top1"], sklearn_topk_accuracy(labels, topk, 1, c))
    np.testing.assert_allclose(t["top5"], sklearn_topk_accuracy(labels, topk, 5, c))
    known = labels >= 0
    ml = np.array([[topk[i, j, 0] in (labels[i], extra[i]) for j in range(m)] for i in np.flatnonzero(known)])
    np.testing.assert_allclose(t["multilabel"], ml.mean(axis=0))
    assert (t["multilabel"] >= t["top1"]).all()
    # fit over the 4 models only, against scipy
    ref = stats.linregress(t["top1"][:4], t["multilabel"][:4])
    assert ev.fit.n == 4
    np.testing.assert_allclose([ev.fit.slope, ev.fit.intercept, ev.fit.r],
                               [ref.slope, ref.intercept, ref.rvalue])
    # summary over models only; humans separately
    top1_models = t["top1"].to_numpy()[:4]
    assert ev.summary["models"]["top1"]["best"]["name"] == f"m{int(np.argmax(top1_models))}"
    assert ev.summary["models"]["top1"]["median"] == pytest.approx(np.median(top1_models))
    assert ev.summary["humans"]["top1"]["best"]["name"] == "m4"
    # subsets: group "a" = classes 0..2, group "b" = classes 0, 3..5 (class 0 in both)
    for g, cls in (("a", [0, 1, 2]), ("b", [0, 3, 4, 5])):
        mask = np.isin(labels, cls)
        sub = ev.subsets[ev.subsets["group"] == g]
        np.testing.assert_allclose(sub["top1"], (topk[mask, :, 0] == labels[mask, None]).mean(axis=0))
        np.testing.assert_allclose(sub["multilabel"], ml[mask[known]].mean(axis=0))
        assert (sub["n_images"] == mask.sum()).all()
    # missed: by all 4 models / by the human / by all 5 (multi-label)
    assert ev.missed["all_models"] == int((~ml[:, :4]).all(axis=1).sum())
    assert ev.missed["all_humans"] == int((~ml[:, 4]).sum())
    assert ev.missed["all"] == int((~ml).all(axis=1).sum())
    d = ev.to_dict()
    assert set(d["models"][0]) >= {"name", "top1", "top5", "multilabel", "n_multilabel"}
    assert d["subsets"]["a"]["m0"] == pytest.approx(ml[np.isin(labels[known], [0, 1, 2]), 0].mean())
    assert d["subset_metric"] == "multilabel"


def test_evaluate_without_label_sets_uses_top1_for_subsets():
    labels = np.array([0, 1, 1, 2])
    topk = np.array([[[0]], [[1]], [[2]], [[2]]])
    groups = ClassGroups.from_assignments([0, 1, 2], ["x", "y", "y"], 3)
    ev = evaluate_predictors(["m"], labels, topk, np.array([1]), groups=groups)
    d = ev.to_dict()
    assert d["subset_metric"] == "top1"
    assert d["subsets"] == {"x": {"m": 1.0}, "y": {"m": pytest.approx(2 / 3)}}
    assert d["models"][0]["top5"] is None or np.isnan(d["models"][0]["top5"])
    assert ev.fit is None and ev.excluded is None


def test_fit_line_against_numpy_and_scipy():
    rng = np.random.default_rng(2)
    x = rng.random(9)
    y = 0.7 * x + 0.2 + rng.normal(0, 0.05, 9)
    f = fit_line(x, y)
    slope, intercept = np.polyfit(x, y, 1)
    ref = stats.linregress(x, y)
    np.testing.assert_allclose([f.slope, f.intercept, f.r], [slope, intercept, ref.rvalue])
    assert fit_line(np.array([0.5]), np.array([0.4])) is None
    assert fit_line(np.array([0.5, 0.5]), np.array([0.4, 0.6])) is None


# --------------------------------------------------------------------------- distribution shift
def test_fit_shift_against_polyfit_on_logits():
    orig = np.array([0.62, 0.70, 0.76, 0.81, 0.85, 0.90])
    shifted = np.array([0.50, 0.57, 0.66, 0.70, 0.76, 0.70])  # the human (last) is off the line
    kinds = ["model"] * 5 + ["human"]
    res = fit_shift([f"p{i}" for i in range(6)], orig, shifted, n_original=10_000, n_shifted=10_000,
                    kinds=kinds)
    slope, intercept = np.polyfit(logit(orig[:5]), logit(shifted[:5]), 1)
    assert res.fit.slope == pytest.approx(slope) and res.fit.intercept == pytest.approx(intercept)
    assert res.fit.n == 5
    t = res.table
    pred_logit = slope * logit(orig) + intercept
    np.testing.assert_allclose(t["residual_logit"], logit(shifted) - pred_logit)
    np.testing.assert_allclose(t["predicted"], expit(pred_logit))
    np.testing.assert_allclose(t["effective_robustness"], shifted - expit(pred_logit))
    np.testing.assert_allclose(t["drop"], orig - shifted)
    # least-squares residuals of the fitted points sum to zero
    assert t["residual_logit"][:5].sum() == pytest.approx(0, abs=1e-12)
    assert t["effective_robustness"].iloc[5] < -0.05  # the human loses more than models would


def test_fit_shift_clips_perfect_accuracy_and_needs_two_models():
    res = fit_shift(["a", "b"], np.array([1.0, 0.5]), np.array([0.9, 0.4]), n_original=100, n_shifted=100)
    assert np.isfinite(res.table["residual_logit"]).all()
    assert res.fit.slope == pytest.approx((logit(0.9) - logit(0.4)) / (logit(1 - 0.005) - logit(0.5)))
    single = fit_shift(["a"], np.array([0.8]), np.array([0.7]), n_original=10, n_shifted=10)
    assert single.fit is None and np.isnan(single.table["effective_robustness"]).all()


def test_analyze_shift_hand_computed_with_groups():
    lo = np.array([0, 0, 1, 1, 2, 2, 2, 2])
    to = np.array([[0, 0], [0, 0], [1, 1], [0, 1], [2, 2], [2, 2], [2, 0], [1, 2]])
    ls = np.array([0, 1, 2, 2])
    ts = np.array([[0, 0], [1, 0], [2, 2], [0, 2]])
    groups = ClassGroups.from_assignments([0, 1, 2], ["ab", "ab", "c"], 3)
    res = analyze_shift(["m", "n"], lo, to, ls, ts, groups=groups)
    t = res.overall.table
    # m right on original images 0,1,2,4,5,6 and shifted 0,1,2; n on original 0,1,2,3,4,5,7, shifted 0,2,3
    assert t["original"].tolist() == [6 / 8, 7 / 8] and t["shifted"].tolist() == [3 / 4, 3 / 4]
    ab, c = res.subsets["ab"].table, res.subsets["c"].table
    assert ab["original"].tolist() == [3 / 4, 4 / 4] and ab["shifted"].tolist() == [2 / 2, 1 / 2]
    assert c["original"].tolist() == [3 / 4, 3 / 4] and c["shifted"].tolist() == [1 / 2, 2 / 2]
    assert c["drop"].tolist() == [0.25, -0.25]
    assert int(c["n_original"].iloc[0]) == 4 and int(c["n_shifted"].iloc[0]) == 2
    with pytest.raises(InputError, match="no image with a known label"):
        analyze_shift(["m"], lo, to[:, :1], np.full(4, -1), ts[:, :1])


# --------------------------------------------------------------------------- factors
def test_factor_error_ratios_hand_computed():
    # 6 images, 2 models, 3 factors. Model A wrong on images 0, 1; model B wrong on 0, 2, 3, 5.
    correct = np.array([[0, 0], [0, 1], [1, 0], [1, 0], [1, 1], [1, 0]], dtype=bool)
    factors = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 1, 0], [0, 0, 0], [0, 0, 0]], dtype=bool)
    res = factor_error_ratios(correct, factors, models=["A", "B"], factor_names=["pose", "color", "style"])
    # A: overall 2/6; pose: 2/2 -> ratio 3; color: 1/3 -> ratio 1; style: no image -> NaN
    # B: overall 4/6; pose: 1/2 -> 0.75; color: 2/3 -> 1.0
    np.testing.assert_allclose(res.overall_error, [2 / 6, 4 / 6])
    np.testing.assert_allclose(res.error_ratio[:, :2], [[3.0, 1.0], [0.75, 1.0]])
    assert np.isnan(res.error_ratio[:, 2]).all()
    assert res.n_images.tolist() == [2, 3, 0] and res.n_annotated == 6
    assert res.top_factors(3) == {"A": [("pose", 3.0)], "B": []}
    perfect = factor_error_ratios(np.ones((3, 1), bool), factors[:3], models=["P"],
                                  factor_names=["a", "b", "c"])
    assert np.isnan(perfect.error_ratio).all()  # no errors at all: no ratio


@needs_imagenet_x
def test_factor_error_ratios_match_imagenet_x_reference():
    from imagenet_x import FACTORS
    from imagenet_x.aggregate import compute_factor_accuracies, error_ratio

    rng = np.random.default_rng(3)
    n = 500
    fac = rng.random((n, len(FACTORS))) < 0.2
    frames, correct = [], []
    for j, name in enumerate(["m1", "m2", "m3"]):
        ok = rng.random(n) < 0.6 + 0.1 * j + 0.2 * ~fac[:, 0]
        correct.append(ok)
        frames.append(pd.DataFrame(fac.astype(int), columns=FACTORS).assign(model=name, is_correct=ok))
    ref = error_ratio(compute_factor_accuracies(pd.concat(frames, ignore_index=True), FACTORS, "is_correct"))
    res = factor_error_ratios(np.stack(correct, axis=1), fac, models=["m1", "m2", "m3"], factor_names=FACTORS)
    np.testing.assert_allclose(res.ratio_frame().loc[["m1", "m2", "m3"], FACTORS].to_numpy(),
                               ref.loc[["m1", "m2", "m3"], FACTORS].to_numpy())


# --------------------------------------------------------------------------- objects / organisms / dogs
def test_imagenet_group_table():
    t = ia.imagenet_group_table()
    assert len(t) == 1000 and t["index"].tolist() == list(range(1000))
    assert t["wnid"].is_monotonic_increasing and t["wnid"].str.match(r"^n\d{8}$").all()
    assert (t["group"] == "object").sum() == 590 and (t["group"] == "organism").sum() == 410
    dogs = t.index[t["is_dog"] == 1].tolist()
    assert dogs == list(range(151, 269))  # the 118 dog classes of ImageNet-1k
    assert (t.loc[dogs, "group"] == "organism").all()
    g = ia.imagenet_groups()
    assert g.names == ("objects", "organisms", "dogs") and g.members.sum(axis=1).tolist() == [590, 410, 118]
    assert t.loc[0, "wnid"] == "n01440764" and t.loc[0, "group"] == "organism"  # tench
    assert t.loc[409, "group"] == "object"  # analog clock


@pytest.mark.skipif(not Path("/usr/share/wordnet/data.noun").exists() or not has_imagenet_x(),
                    reason="WordNet 3.0 (apt-get install wordnet-base) or imagenet-x not installed")
def test_generation_script_reproduces_shipped_table():
    out = subprocess.run([sys.executable, str(REPO / "scripts" / "make_imagenet_groups.py"), "--check"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "objects 590, organisms 410, dogs 118 (indices 151..268)" in out.stdout


# --------------------------------------------------------------------------- readers
@pytest.fixture
def imagenet_like(tmp_path) -> Store:
    """A 12-image store with the 1000 ImageNet classes and validation file names 1..12."""
    wnids = ia.imagenet_group_table()["wnid"].tolist()
    ids = [f"ILSVRC2012_val_{i:08d}.JPEG" for i in range(1, 13)]
    labels = [1, 200, 300, 400, 151, 268, 0, 999, 500, 2, 3, 4]
    store = Store.create(tmp_path / "inet", samples=pd.DataFrame({"sample_id": ids, "label": labels}),
                         classes=pd.DataFrame({"id": wnids, "name": [f"c{w}" for w in wnids]}))
    store.write_model("net-a", np.array([[lab, (lab + 1) % 1000] for lab in labels]).astype(np.int64))
    store.write_model("net-b", np.array([[lab if i % 2 else 7] for i, lab in enumerate(labels)]))
    return store


def test_read_label_sets_jsonl_and_csv(tmp_path, small_store):
    classes = small_store.classes()  # ids "0","1","2"; names cat, dog, frog
    ids = small_store.sample_ids()
    jl = tmp_path / "sets.jsonl"
    jl.write_text('{"sample_id": "s0", "labels": [0, "dog"]}\n'
                  '{"sample_id": "s1", "labels": [], "problematic": false}\n'
                  '{"sample_id": "s2", "labels": ["frog"], "problematic": true}\n'
                  '{"sample_id": "other", "labels": [1]}\n')
    sets = read_label_sets(jl, ids, classes)
    got = [sets.set_of(i) if sets.has_set[i] else None for i in range(6)]
    assert got == [[0, 1], [], [2], None, None, None]
    assert sets.problematic.tolist() == [False, False, True, False, False, False]
    assert sets.n_unmatched == 1
    csv = tmp_path / "sets.csv"
    csv.write_text("sample_id,labels,problematic\ns3,1;2,no\ns4,\"[2, 0]\",yes\ns5,,0\n")
    sets = read_label_sets(csv, ids, classes)
    assert sets.set_of(3) == [1, 2] and sets.set_of(4) == [0, 2] and sets.has_set[5] and sets.sizes[5] == 0
    assert sets.problematic.tolist() == [False] * 4 + [True, False]


@pytest.mark.parametrize("text, message", [
    ('{"sample_id": "s0", "labels": [7]}\n', r"line 1, labels: class id 7 is out of range"),
    ('{"sample_id": "s0", "labels": ["horse"]}\n', r"'horse' is neither a class index"),
    ('{"sample_id": "s0", "labels": [0]}\n{"sample_id": "s0", "labels": [1]}\n',
     r"line 2: sample id 's0' already given at line 1"),
    ('{"sample_id": "zz", "labels": [0]}\n', r"none of its 1 sample ids is in the store"),
    ('{"sample_id": "s0", "labels": 3}\n', r"expected a list of classes"),
    ('{"sample_id": "s0", "labels": [0], "problematic": "maybe"}\n', r"problematic: 'maybe'"),
])
def test_read_label_sets_errors(tmp_path, small_store, text, message):
    f = tmp_path / "bad.jsonl"
    f.write_text(text)
    with pytest.raises(InputError, match=message):
        read_label_sets(f, small_store.sample_ids(), small_store.classes())


def test_read_class_groups(tmp_path, small_store):
    f = tmp_path / "groups.csv"
    f.write_text("class,group\ncat,pets\n1,pets\nfrog,wild\ndog,wild\n")
    g = read_class_groups(f, small_store.classes())
    assert g.names == ("pets", "wild") and g.members.astype(int).tolist() == [[1, 1, 0], [0, 1, 1]]
    bad = tmp_path / "bad.csv"
    bad.write_text("cls,group\ncat,pets\n")
    with pytest.raises(InputError, match="class,group"):
        read_class_groups(bad, small_store.classes())
    with pytest.raises(InputError, match="needs an ImageNet-1k store"):
        load_class_groups(["imagenet"], small_store.classes())


@needs_imagenet_x
def test_real_label_sets_numeric_order(imagenet_like):
    sets = ia.real_label_sets(list(imagenet_like.sample_ids()), imagenet_like.classes()["id"].tolist())
    real = ia.imagenet_real_labels()
    assert sets.sizes[0] == 0 and sets.has_set[0]  # image 1 has no valid ReaL label
    for i in range(12):
        assert sets.set_of(i) == sorted(real[i])
    assert sets.set_of(1) == [795, 970]


@needs_imagenet_x
def test_real_label_sets_gathered_equal_one_list_per_image(imagenet_like):
    """real_label_sets gathers rows of the 50,000 sets built once: the same arrays as
    LabelSets.from_lists of each image's ReaL list, in any order, other images without a set."""
    classes = imagenet_like.classes()["id"].tolist()
    real = ia.imagenet_real_labels()
    rng = np.random.default_rng(2)
    ids = [f"ILSVRC2012_val_{k:08d}.JPEG" for k in rng.permutation(50_000)[:3000] + 1]
    ids[5:5] = ["other.jpg", "n01440764/ILSVRC2012_val_00000002.JPEG", "ILSVRC2012_val_00050001.JPEG"]
    got = ia.real_label_sets(ids, classes)
    num = ia.val_numbers(ids)
    want = LabelSets.from_lists([list(real[k - 1]) if 1 <= k <= 50_000 else None for k in num])
    for field in ("indptr", "indices", "has_set", "problematic"):
        assert np.array_equal(getattr(got, field), getattr(want, field)), field
    assert got.indptr.dtype == got.indices.dtype == np.int64
    assert not got.has_set[[5, 7]].any() and got.set_of(6) == [795, 970]


@pytest.fixture
def no_imagenet_x(monkeypatch):
    """Make ``import imagenet_x`` fail and clear every cache that read its files."""
    monkeypatch.setitem(sys.modules, "imagenet_x", None)
    caches = (ia.imagenet_real_labels, ia.imagenet_metaclass_table, ia.imagenet_x_annotations,
              imagenet_mod.imagenet_classes, imagenet_mod.imagenet_val_labels)
    for fn in caches:
        fn.cache_clear()
    yield
    for fn in caches:
        fn.cache_clear()


def test_labels_real_without_imagenet_x_names_the_extra(no_imagenet_x, imagenet_like, capsys):
    with pytest.raises(MissingExtraError, match=r"pip install 'misclass\[imagenet\]'"):
        ia.imagenet_real_labels()
    code, _, err = run_cli(["evaluate", "--store", imagenet_like.path, "--labels", "real"], capsys)
    assert code == 2 and "--labels real" in err and "'imagenet_x': pip install 'misclass" in err
    code, _, err2 = run_cli(["factors", "--store", imagenet_like.path], capsys)
    assert code == 2 and "'imagenet_x': pip install 'misclass" in err2
    # without --labels, evaluate needs nothing optional: the objects/organisms/dogs table ships
    code, out, _ = run_cli(["evaluate", "--store", imagenet_like.path], capsys)
    assert code == 0 and "organisms" in out
    assert "pip install 'misclass[imagenet]'" in err and "misclass[imagenet]" in err2


# --------------------------------------------------------------------------- humans
def test_set_kind_keeps_side_files_and_marks_humans(small_store, tmp_path, capsys):
    probs = np.full((6, 3), 1 / 3)
    small_store.write_model("alice", np.array([[0], [0], [1], [1], [2], [0]]), probs=probs,
                            per_image=pd.DataFrame({"seconds": np.arange(6.0)}),
                            metadata={"source": "review"})
    assert predictor_kinds(small_store, ["a", "alice"]) == ["model", "model"]
    code, out, _ = run_cli(["set-kind", "alice", "--kind", "human", "--store", small_store.path], capsys)
    assert code == 0 and "alice: kind human" in out
    assert predictor_kinds(small_store, ["a", "alice"]) == ["model", "human"]
    meta = small_store.model_metadata("alice")
    assert meta["source"] == "review" and meta["has_probs"]
    np.testing.assert_allclose(small_store.read_probs("alice"), probs, atol=1e-3)
    assert small_store.read_per_image("alice")["seconds"].tolist() == list(range(6))
    assert set_predictor_kind(small_store, "alice", "human") is False
    code, _, err = run_cli(["set-kind", "alice", "--kind", "robot", "--store", small_store.path], capsys)
    assert code == 2 and "expected one of model, human" in err
    out_json = tmp_path / "eval.json"
    code, out, _ = run_cli(["evaluate", "--store", small_store.path, "--json", out_json], capsys)
    d = json.loads(out_json.read_text())
    assert code == 0 and {m["name"]: m["kind"] for m in d["models"]} == {"a": "model", "alice": "human",
                                                                          "b": "model"}
    assert set(d["summary"]) == {"models", "humans"}
    # labels 0 0 1 1 2 2; a: 0 1 1 1 2 0, b: 0 0 0 1 2 2, alice: 0 0 1 1 2 0 -> only image 5? no:
    # a misses 1, 5; b misses 2; every model misses none; alice misses 5; all three miss none
    assert d["missed"] == {"all_models": 0, "all_humans": 1, "all": 0}


# --------------------------------------------------------------------------- CLI
@pytest.mark.parametrize("command", ["evaluate", "shift", "factors", "set-kind"])
def test_help_shows_example(command, capsys):
    code, out, _ = run_cli([command, "--help"], capsys)
    assert code == 0 and f"Example: misclass {command}" in out


def test_evaluate_cli_json_with_user_labels_and_groups(imagenet_like, tmp_path, capsys):
    sets = tmp_path / "sets.csv"
    # image 1 (label 1): net-b says 7, allowed; image 2 (label 200): problematic; image 3: empty set
    sets.write_text("sample_id,labels,problematic\n"
                    "ILSVRC2012_val_00000001.JPEG,1 7,0\n"                # net-b's 7 is allowed here
                    "ILSVRC2012_val_00000002.JPEG,200,1\n"                # problematic
                    "ILSVRC2012_val_00000003.JPEG,300;5,false\n"          # net-b's 7 is outside
                    "ILSVRC2012_val_00000004.JPEG,n03000134 400,0\n"      # a class by its WordNet id
                    "ILSVRC2012_val_00000005.JPEG,,0\n")                  # empty set: no valid label
    groups = tmp_path / "groups.csv"
    groups.write_text("class,group\n1,low\n2,low\n3,low\n4,low\n0,low\n400,high\n500,high\n")
    out = tmp_path / "e.json"
    code, text, err = run_cli(["evaluate", "--store", imagenet_like.path, "--labels", sets,
                               "--groups", groups, "--groups", "imagenet", "--json", out], capsys)
    assert code == 0, err
    d = json.loads(out.read_text())
    assert {"models", "summary", "subsets"} <= set(d)
    models = {m["name"]: m for m in d["models"]}
    assert set(models["net-a"]) >= {"name", "top1", "top5", "multilabel", "n_multilabel"}
    # evaluable: images 1, 3, 4; net-a is right on all; net-b (7 on even rows) on 1 and 4
    assert models["net-a"]["multilabel"] == 1.0 and models["net-b"]["multilabel"] == pytest.approx(2 / 3)
    assert models["net-a"]["n_multilabel"] == 3
    assert models["net-a"]["top1"] == 1.0 and models["net-b"]["top1"] == pytest.approx(6 / 12)
    assert models["net-b"]["top5"] is None  # k = 1
    assert d["excluded"] == {"no_set": 7, "empty": 1, "problematic": 1}
    assert list(d["subsets"]) == ["low", "high", "objects", "organisms", "dogs"]
    assert d["subsets"]["low"] == {"net-a": 1.0, "net-b": 1.0}  # only image 1 is evaluable in "low"
    assert d["subsets"]["high"] == {"net-a": 1.0, "net-b": 1.0}  # image 4 (class 400)
    # dogs: labels 200 (problematic), 151 (empty set), 268 (no set): no multi-label accuracy
    assert d["subsets"]["dogs"] == {"net-a": None, "net-b": None}
    assert d["subsets_top1"]["dogs"] == {"net-a": 1.0, "net-b": pytest.approx(2 / 3)}
    assert d["subset_images"]["dogs"] == 0
    assert "excluded from multi-label accuracy: 7 without a set, 1 with no valid label, 1 problematic" in text


def test_evaluate_cli_errors(small_store, tmp_path, capsys):
    code, _, err = run_cli(["evaluate", "--store", small_store.path, "--labels", tmp_path / "no.csv"],
                           capsys)
    assert code == 2 and "no such file" in err
    code, _, err = run_cli(["evaluate", "--store", small_store.path, "--labels", "real"], capsys)
    assert code == 2 and "needs an ImageNet-1k store" in err
    code, _, err = run_cli(["factors", "--store", small_store.path], capsys)
    assert code == 2 and "needs an ImageNet-1k store" in err


def test_shift_cli(tmp_path, capsys):
    classes = pd.DataFrame({"name": ["a", "b"]})
    rng = np.random.default_rng(4)
    lab_o, lab_s = rng.integers(0, 2, 200), rng.integers(0, 2, 100)
    a = Store.create(tmp_path / "A", samples=pd.DataFrame({"sample_id": [f"o{i}" for i in range(200)],
                                                           "label": lab_o}), classes=classes)
    b = Store.create(tmp_path / "B", samples=pd.DataFrame({"sample_id": [f"s{i}" for i in range(100)],
                                                           "label": lab_s}), classes=classes)
    acc = {"m1": (0.9, 0.8), "m2": (0.8, 0.65), "m3": (0.7, 0.55), "h": (0.85, 0.84)}
    for name, (po, ps) in acc.items():
        a.write_model(name, np.where(rng.random(200) < po, lab_o, 1 - lab_o))
        b.write_model(name, np.where(rng.random(100) < ps, lab_s, 1 - lab_s))
    b.write_model("only-b", lab_s)
    set_predictor_kind(a, "h", "human")
    out = tmp_path / "s.json"
    code, text, err = run_cli(["shift", "--store", a.path, "--shifted-store", b.path, "--json", out], capsys)
    assert code == 0, err
    d = json.loads(out.read_text())
    rows = {r["name"]: r for r in d["models"]}
    assert set(rows) == {"h", "m1", "m2", "m3"} and d["left_out"] == ["only-b"]
    assert d["fit"]["n"] == 3 and rows["h"]["kind"] == "human"
    pa, pb = a.load(["h", "m1", "m2", "m3"]), b.load(["h", "m1", "m2", "m3"])
    orig = pa.correct.mean(axis=0)
    shif = pb.correct.mean(axis=0)
    slope, intercept = np.polyfit(logit(orig[1:]), logit(shif[1:]), 1)
    assert d["fit"]["slope"] == pytest.approx(slope)
    eff = shif - expit(slope * logit(orig) + intercept)
    assert [rows[n]["effective_robustness"] for n in ("h", "m1", "m2", "m3")] == pytest.approx(eff.tolist())
    assert rows["h"]["effective_robustness"] > 0
    code, _, err = run_cli(["shift", "--store", a.path, "--shifted-store", b.path, "-m", "only-b"], capsys)
    assert code == 2 and "not in both stores" in err


@needs_imagenet_x
def test_factors_cli_on_annotated_images(tmp_path, capsys):
    ann = ia.imagenet_x_annotations("top", True).iloc[:300]
    wnids = ia.imagenet_group_table()["wnid"].tolist()
    samples = pd.DataFrame({"sample_id": ann["file_name"], "label": ann["class"]})
    s = Store.create(tmp_path / "fx", samples=samples, classes=pd.DataFrame({"id": wnids, "name": wnids}))
    rng = np.random.default_rng(5)
    labels = ann["class"].to_numpy()
    pred = np.where(rng.random(300) < 0.7, labels, (labels + 1) % 1000)
    s.write_model("m", pred)
    out = tmp_path / "f.json"
    code, text, err = run_cli(["factors", "--store", s.path, "--json", out], capsys)
    assert code == 0, err
    d = json.loads(out.read_text())
    assert d["factors"] == list(ia.IMAGENET_X_FACTORS) and d["n_annotated"] == 300
    wrong = pred != labels
    for f in ("pose", "background"):
        has = ann[f].to_numpy()
        assert d["models"][0]["error_ratio"][f] == pytest.approx(wrong[has].mean() / wrong.mean())
        assert d["n_images"][f] == int(has.sum())


# --------------------------------------------------------------------------- report
def test_report_sections_render(imagenet_like, tmp_path):
    shifted = Store.create(tmp_path / "shifted", samples=imagenet_like.samples().iloc[:8],
                           classes=imagenet_like.classes())
    shifted.write_model("net-a", imagenet_like.read_model("net-a").topk_ids[:8])
    shifted.write_model("net-b", np.full((8, 1), 7))
    index = build_report(imagenet_like, tmp_path / "rep", options={"shifted_store": shifted.path},
                         only=["labels", "shift", "factors"])
    html = index.read_text()
    figs = tmp_path / "rep" / "figures"
    assert "Is the label the problem?" in html and "Distribution shift" in html
    assert (figs / "shift.png").exists() and (figs / "shift-groups.png").exists()
    assert (figs / "labels-groups-0.png").exists()
    if has_imagenet_x():
        assert (figs / "labels-multilabel-vs-top1.png").exists()
        assert "multi-label correct" in html


def test_labels_section_skips_plain_stores(small_store, tmp_path):
    index = build_report(small_store, tmp_path / "rep", only=["labels", "shift", "factors"])
    assert "Is the label the problem?" not in index.read_text()


# --------------------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def real_store(tmp_path_factory):
    folder = require_imagenet_timm()
    if not has_imagenet_x():
        pytest.skip("imagenet-x (misclass[imagenet]) not installed: no ImageNet labels or ReaL sets")
    path = tmp_path_factory.mktemp("real") / "inet"
    from misclass.cli import main

    with pytest.raises(SystemExit) as done:
        main(["import", "timm-csv", *map(str, sorted(folder.glob("*.csv"))), "--labels", "imagenet-val",
              "--store", str(path)])
    assert done.value.code == 0
    return Store(path)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Constructing a DataFrame")  # inside imagenet-x's reference
def test_real_multilabel_above_top1_for_all_models(real_store, tmp_path, capsys):
    out = tmp_path / "eval.json"
    code, _, err = run_cli(["evaluate", "--store", real_store.path, "--labels", "real", "--json", out],
                           capsys)
    assert code == 0, err
    d = json.loads(out.read_text())
    assert len(d["models"]) == 7
    for m in d["models"]:
        assert m["multilabel"] > m["top1"] + 0.02, m
        assert m["n_multilabel"] == 50_000 - 3_163  # ReaL gives no valid label to 3,163 images
    assert set(d["subsets"]) == {"objects", "organisms", "dogs"}
    assert d["subset_images"]["organisms"] + d["subset_images"]["objects"] == 50_000 - 3_163
    # the same membership test as imagenet-x's own is_correct_real, on one model
    from imagenet_x.utils import get_annotation_path, is_correct_real

    pred = real_store.load(["convit_tiny"])
    sets = ia.real_label_sets(list(pred.sample_ids), real_store.classes()["id"].tolist())
    ref = is_correct_real(pd.Series(pred.sample_ids), pd.Series(pred.top1[:, 0]),
                          get_annotation_path() / "imagenet_real_labels.jsonl")
    assert np.array_equal(sets.contains(pred.top1)[:, 0], ref.to_numpy())


@pytest.mark.slow
def test_real_factors(real_store, tmp_path, capsys):
    out = tmp_path / "f.json"
    code, _, err = run_cli(["factors", "--store", real_store.path, "--json", out], capsys)
    assert code == 0, err
    d = json.loads(out.read_text())
    assert d["n_annotated"] > 45_000 and len(d["models"]) == 7
    for m in d["models"]:
        assert all(np.isfinite(v) and v > 0 for v in m["error_ratio"].values())


def test_jsonl_reader_gives_the_frame_of_pandas(tmp_path):
    """ImageNet-X's files are read with pyarrow (fast) and give pandas' frame; a column pyarrow
    cannot type (ints, then text) falls back to pandas' reader."""
    from misclass.data.imagenet_annotations import _read_jsonl

    typed = tmp_path / "typed.jsonl"
    typed.write_text('{"file_name": "ILSVRC2012_val_00000001.JPEG", "class": 3, "pose": 1}\n'
                     '{"file_name": "ILSVRC2012_val_00000002.JPEG", "class": 7, "pose": 0}\n')
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text('{"a": 1}\n{"a": "x"}\n')
    for path in (typed, mixed):
        with path.open() as fh:
            expected = pd.read_json(fh, lines=True, dtype=False)
        pd.testing.assert_frame_equal(_read_jsonl(path), expected)
