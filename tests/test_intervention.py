"""Saliency-guided erasure on arrays: boxes, merging, fills, the random control, accounting,
McNemar's test (against SciPy and statsmodels), per-pair rates and the sweep."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from misclass.analysis.erasure import (
    boxes_around,
    boxes_mask,
    default_box,
    erasure_mask,
    fill_erased,
    merge_boxes,
    parse_box,
    random_mask,
    top_pixels,
)
from misclass.analysis.intervention import (
    ErasureSettings,
    count_outcomes,
    erasure_outcomes,
    pair_fix_rates,
    run_erasure,
    sweep_erasure,
)
from misclass.analysis.stats import mcnemar_test
from misclass.errors import InputError


# ----------------------------------------------------------------------------- top pixels and boxes
def test_top_pixels_counts_ties_and_order():
    sal = np.array([[0.0, 5.0, 1.0, 1.0],
                    [1.0, 0.0, 9.0, 1.0],
                    [0.0, 0.0, 0.0, 0.0],
                    [0.0, 0.0, 0.0, 2.0]])
    assert top_pixels(sal, 100 * 3 / 16).tolist() == [[1, 2], [0, 1], [3, 3]]
    # 20% of 16 = 3.2 -> 4 pixels; the fourth is the first of the tied 1.0s in row-major order
    assert top_pixels(sal, 20).tolist() == [[1, 2], [0, 1], [3, 3], [0, 2]]
    assert len(top_pixels(sal, 0.01)) == 1
    assert len(top_pixels(sal, 100)) == 16
    nan = sal.copy()
    nan[0, 0] = np.nan
    assert [0, 0] not in top_pixels(nan, 50).tolist()


def test_boxes_around_clip_and_even_sides():
    pix = np.array([[0, 0], [5, 5], [2, 3]])
    # 3x3: centred; clipped at the borders of a 6x6 image
    assert boxes_around(pix, (3, 3), (6, 6)).tolist() == [[0, 0, 2, 2], [4, 4, 6, 6], [1, 2, 4, 5]]
    # 4 rows x 2 columns: the pixel sits at offset (2, 1) inside its box
    assert boxes_around(np.array([[3, 3]]), (4, 2), (8, 8)).tolist() == [[1, 2, 5, 4]]
    assert boxes_around(np.array([[3, 3]]), (1, 1), (8, 8)).tolist() == [[3, 3, 4, 4]]


def test_merge_boxes_hand_made():
    # a chain: a overlaps b, b overlaps c -> one box; d only touches c's edge -> stays apart
    boxes = [[0, 0, 2, 2], [1, 1, 3, 3], [2, 2, 4, 4], [0, 4, 2, 6], [6, 6, 7, 7]]
    assert merge_boxes(boxes).tolist() == [[0, 0, 4, 4], [0, 4, 2, 6], [6, 6, 7, 7]]
    # merging two boxes makes a bounding box that now overlaps a third one
    boxes = [[0, 0, 1, 4], [3, 0, 4, 4], [0, 0, 4, 1], [1, 5, 3, 7], [2, 3, 3, 6]]
    assert merge_boxes(boxes).tolist() == [[0, 0, 4, 7]]
    assert merge_boxes(np.zeros((0, 4))).shape == (0, 4)
    assert merge_boxes([[1, 1, 1, 3]]).shape == (0, 4)  # empty boxes vanish


def _merge_reference(boxes):
    """Brute force: merge the first overlapping pair into its bounding box, start over."""
    out = [tuple(b) for b in np.asarray(boxes).reshape(-1, 4).tolist() if b[2] > b[0] and b[3] > b[1]]
    changed = True
    while changed:
        changed = False
        for i in range(len(out)):
            for j in range(i + 1, len(out)):
                a, b = out[i], out[j]
                if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]:
                    out[i] = (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))
                    del out[j]
                    changed = True
                    break
            if changed:
                break
    return sorted(set(out))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20), st.integers(1, 6), st.integers(1, 6)),
                max_size=40))
def test_merge_boxes_equals_brute_force_and_leaves_no_overlap(raw):
    boxes = np.array([(y, x, y + h, x + w) for y, x, h, w in raw], dtype=np.int64).reshape(-1, 4)
    merged = merge_boxes(boxes)
    assert [tuple(b) for b in merged.tolist()] == _merge_reference(boxes)
    y0, x0, y1, x1 = merged.T
    over = (y0[:, None] < y1) & (y0 < y1[:, None]) & (x0[:, None] < x1) & (x0 < x1[:, None])
    assert over.sum() == len(merged)  # each box overlaps only itself
    assert (boxes_mask(merged, (30, 30)) >= boxes_mask(boxes, (30, 30))).all()


def test_merge_boxes_scales_to_large_images():
    sal = np.zeros((224, 224))
    sal[::3, ::3] = 1  # 5% of the pixels, none of their 2x2 boxes overlap
    boxes = boxes_around(top_pixels(sal, 5), (2, 2), (224, 224))
    assert len(merge_boxes(boxes)) == len(boxes) == 2509


def test_erasure_mask_hand_made_map():
    sal = np.zeros((8, 8))
    sal[1, 1], sal[2, 2], sal[6, 6] = 3, 2, 1
    mask, boxes = erasure_mask(sal, 100 * 3 / 64, (3, 3))
    assert boxes.tolist() == [[0, 0, 4, 4], [5, 5, 8, 8]]
    assert mask.sum() == 16 + 9
    mask, boxes = erasure_mask(sal, 100 * 3 / 64, (3, 3), merge=False)
    assert len(boxes) == 3 and mask.sum() == 9 + 9 + 9 - 4
    spare = np.zeros((8, 8), bool)
    spare[:2, :] = True
    mask, _ = erasure_mask(sal, 100 * 3 / 64, (3, 3), spare=spare)
    assert not (mask & spare).any() and mask.sum() == 16 + 9 - 8


def test_parse_box_and_default_box():
    assert parse_box("4x4") == (4, 4)
    assert parse_box("6x2") == (2, 6)
    assert parse_box(" 5 ") == (5, 5)
    for bad in ("0x4", "4x", "ax4", "4x4x4", "-1"):
        with pytest.raises(InputError, match="--box"):
            parse_box(bad)
    assert default_box((32, 32)) == (4, 4)


def test_bad_percent_and_maps():
    sal = np.ones((4, 4))
    for p in (0, -1, 101, float("nan")):
        with pytest.raises(InputError, match="--top-percent"):
            top_pixels(sal, p)
    with pytest.raises(InputError, match="expected \\(H, W\\)"):
        top_pixels(np.ones((2, 2, 2)), 5)


# ----------------------------------------------------------------------------- fill
def test_fill_zero_mean_blur():
    img = np.arange(48, dtype=np.uint8).reshape(4, 4, 3) * 5
    mask = np.zeros((4, 4), bool)
    mask[1:3, 1:3] = True
    z = fill_erased(img, mask)
    assert (z[mask] == 0).all() and (z[~mask] == img[~mask]).all() and z.dtype == np.uint8
    m = fill_erased(img, mask, "mean", mean=[10.4, 20.6, 255.9])
    assert m[1, 1].tolist() == [10, 21, 255]
    b = fill_erased(img, mask, "blur", sigma=1.0)
    from scipy.ndimage import gaussian_filter

    ref = np.clip(np.rint(gaussian_filter(img.astype(float), sigma=(1, 1, 0), mode="nearest")), 0, 255)
    assert (b[mask] == ref[mask]).all() and (b[~mask] == img[~mask]).all()
    grey = np.full((3, 3), 7.5)
    assert fill_erased(grey, np.eye(3, dtype=bool), "mean", mean=1.0).trace() == 3.0
    with pytest.raises(InputError, match="--fill"):
        fill_erased(img, mask, "purple")
    with pytest.raises(InputError, match="mean"):
        fill_erased(img, mask, "mean")
    with pytest.raises(InputError, match="does not fit"):
        fill_erased(img, mask[:3], "zero")


# ----------------------------------------------------------------------------- random control
@settings(max_examples=60, deadline=None)
@given(h=st.integers(4, 24), w=st.integers(4, 24), p=st.floats(0.5, 60), side=st.integers(1, 6),
       seed=st.integers(0, 10_000), spare=st.booleans())
def test_random_control_erases_the_same_area(h, w, p, side, seed, spare):
    rng = np.random.default_rng(seed)
    sal = rng.random((h, w))
    sp = None
    if spare:
        sp = np.zeros((h, w), bool)
        sp[h // 3: h // 2 + 1, w // 3: w // 2 + 1] = True
    box = (min(side, h), min(side, w))
    mask, boxes = erasure_mask(sal, p, box, spare=sp)
    rnd = random_mask(boxes, (h, w), int(mask.sum()), np.random.default_rng(seed), spare=sp)
    assert rnd.sum() == mask.sum()
    if sp is not None:
        assert not (rnd & sp).any()
    again = random_mask(boxes, (h, w), int(mask.sum()), np.random.default_rng(seed), spare=sp)
    assert (again == rnd).all()  # seeded


def test_random_control_keeps_box_shapes_when_there_is_room():
    boxes = np.array([[0, 0, 3, 3], [10, 10, 12, 14]])
    rnd = random_mask(boxes, (32, 32), 9 + 8, np.random.default_rng(1))
    from scipy.ndimage import label

    lab, n = label(rnd)
    sizes = sorted(np.bincount(lab.ravel())[1:].tolist())
    assert rnd.sum() == 17 and (n == 2 and sizes == [8, 9] or n == 1)


def test_run_erasure_control_has_equal_area_per_image():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (12, 16, 16, 3), dtype=np.uint8)
    sal = rng.random((12, 16, 16))
    res = run_erasure(lambda x: np.zeros(len(x), int), images, sal, np.zeros(12, int), np.zeros(12, int),
                      ErasureSettings(percent=5, box=(3, 3), seed=4))
    assert (res.erased.sum(axis=(1, 2)) == res.erased_random.sum(axis=(1, 2))).all()
    assert (res.table["erased"] == res.erased.sum(axis=(1, 2))).all()
    assert res.box == (3, 3)


# ----------------------------------------------------------------------------- accounting
def test_outcomes_and_counts_by_hand():
    labels = np.array([0, 0, 0, 0, 1, 1, 2])
    before = np.array([1, 1, 1, 0, 1, 1, 0])
    after = np.array([0, 2, 1, 0, 0, 1, 2])
    out = erasure_outcomes(labels, before, after)
    assert out.tolist() == ["fixed", "moved", "unchanged", "kept", "broken", "kept", "fixed"]
    acc = count_outcomes(out)
    assert (acc.n_wrong, acc.n_right, acc.fixed, acc.moved, acc.unchanged, acc.broken) == (4, 3, 2, 1, 1, 1)
    assert acc.fix_rate == 0.5 and acc.break_rate == pytest.approx(1 / 3)
    with pytest.raises(InputError, match="outcomes"):
        erasure_outcomes(labels, before[:3], after)


# ----------------------------------------------------------------------------- McNemar
@pytest.mark.parametrize("b,c,same", [(3, 1, 5), (12, 2, 30), (0, 7, 3), (25, 25, 0), (1, 0, 0), (40, 22, 9)])
def test_mcnemar_against_scipy(b, c, same):
    first = np.array([True] * b + [False] * c + [True] * same + [False] * 4)
    second = np.array([False] * b + [True] * c + [True] * same + [False] * 4)
    t = mcnemar_test(first, second)
    assert (t.b, t.c) == (b, c)
    assert t.p_exact == pytest.approx(stats.binomtest(b, b + c, 0.5).pvalue, rel=1e-12)
    assert t.p_greater == pytest.approx(stats.binomtest(b, b + c, 0.5, alternative="greater").pvalue,
                                        rel=1e-12)
    # continuity correction as R's mcnemar.test: none when b == c (statsmodels would give 1 / (b + c))
    chi2 = max(abs(b - c) - 1, 0) ** 2 / (b + c)
    assert t.chi2 == pytest.approx(chi2) and t.p_chi2 == pytest.approx(stats.chi2.sf(chi2, 1))
    u = mcnemar_test(first, second, correction=False)
    assert u.chi2 == pytest.approx((b - c) ** 2 / (b + c))


def test_mcnemar_against_statsmodels():
    sm = pytest.importorskip("statsmodels.stats.contingency_tables", reason="statsmodels not installed")
    first = np.array([1] * 14 + [0] * 5 + [1] * 20 + [0] * 11, bool)
    second = np.array([0] * 14 + [1] * 5 + [1] * 20 + [0] * 11, bool)
    table = [[20, 14], [5, 11]]
    t = mcnemar_test(first, second)
    assert t.p_exact == pytest.approx(sm.mcnemar(table, exact=True).pvalue)
    ref = sm.mcnemar(table, exact=False, correction=True)
    assert t.chi2 == pytest.approx(ref.statistic) and t.p_chi2 == pytest.approx(ref.pvalue)


def test_mcnemar_without_discordant_pairs():
    t = mcnemar_test(np.array([True, False]), np.array([True, False]))
    assert (t.b, t.c, t.p_exact, t.chi2, t.p_chi2) == (0, 0, 1.0, 0.0, 1.0)


# ----------------------------------------------------------------------------- per pair
def test_pair_fix_rates_labels_and_types():
    # pair 0->1: 8 errors, all fixed by saliency, none by random -> interference-like
    # pair 2->3: 6 errors, fixed equally -> similarity-like; pair 1->0: 2 errors -> too few
    labels = np.array([0] * 8 + [2] * 6 + [1] * 2 + [3] * 4)
    before = np.array([1] * 8 + [3] * 6 + [0] * 2 + [3] * 4)
    fixed = np.array([True] * 8 + [True, True, False, False, False, False] + [True, False] + [False] * 4)
    fixed_r = np.array([False] * 8 + [True, True, False, False, False, False] + [False, False] + [False] * 4)
    df = pair_fix_rates(labels, before, fixed, fixed_r, class_names=list("abcd"),
                        pair_types={(0, 1): "universal symmetric"})
    assert df[["true_name", "predicted_name", "n"]].values.tolist() == [["a", "b", 8], ["c", "d", 6],
                                                                        ["b", "a", 2]]
    assert df["label"].tolist() == ["interference-like", "similarity-like", "too few images"]
    assert df["fix_rate"].tolist() == [1.0, pytest.approx(1 / 3), 0.5]
    assert df["p"].iloc[0] == pytest.approx(0.5 ** 8)
    assert df["confusion_type"].tolist() == ["universal symmetric", "no edge", "universal symmetric"]


# --------------------------------------------------------------- a classifier with known behaviour
def _region_classifier(regions, shape):
    """Class k's score: the summed pixels inside regions[k] (grey images)."""
    masks = np.stack([boxes_mask(np.array([r]), shape) for r in regions]).astype(float)

    def classify(images):
        x = np.asarray(images, dtype=float)
        return np.einsum("nhw,khw->nk", x, masks).argmax(axis=1)

    return classify, masks


def test_run_erasure_accounting_on_a_known_classifier():
    shape = (16, 16)
    regions = [(0, 0, 4, 4), (12, 12, 16, 16), (0, 12, 4, 16)]  # A, B, C: 16 pixels each
    classify, masks = _region_classifier(regions, shape)

    def image(a, b, c):
        return a * masks[0] + b * masks[1] + c * masks[2]

    images = np.stack([
        image(10, 1, 0),  # label 1, predicted 0 (A interferes); erasing A -> 1: fixed
        image(10, 1, 0),  # label 0, correct; erasing A -> 1: broken
        image(10, 5, 1),  # label 2, predicted 0; erasing A -> 1: moved
        image(10, 0, 1),  # label 2, predicted 0, but only half of A is salient (see below): unchanged
    ])
    labels = np.array([1, 0, 2, 2])
    before = classify(images)
    assert before.tolist() == [0, 0, 0, 0]
    sal = np.stack([masks[0]] * 4)  # the gradient of class 0's score: region A
    sal[3] = 0
    sal[3, 0:2, 0:4] = 1  # half of A and half of C are salient: A still wins after erasure
    sal[3, 0:2, 12:16] = 1
    res = run_erasure(classify, images, sal, labels, before,
                      ErasureSettings(percent=100 * 16 / 256, box=(1, 1), seed=0))
    assert res.table["outcome"].tolist() == ["fixed", "broken", "moved", "unchanged"]
    assert res.table["erased"].tolist() == [16, 16, 16, 16]
    acc = res.accounting
    assert (acc.fixed, acc.moved, acc.unchanged, acc.broken) == (1, 1, 1, 1)
    # the random control erases 16 pixels anywhere: the same count, and its outcome follows
    assert (res.erased_random.sum(axis=(1, 2)) == 16).all()
    expected = classify(np.where(res.erased_random, 0, images))
    assert res.table["after_random"].tolist() == expected.tolist()


def test_sweep_grid_and_best_cell():
    shape = (16, 16)
    classify, masks = _region_classifier([(0, 0, 4, 4), (12, 12, 16, 16)], shape)
    images = np.stack([10 * masks[0] + masks[1]] * 6 + [masks[0] + 3 * masks[1]] * 6)
    labels = np.array([1] * 6 + [1] * 6)
    before = classify(images)
    sal = np.stack([masks[0]] * 6 + [masks[1]] * 6)
    df = sweep_erasure(classify, images, sal, labels, before, percents=(1, 6.25), boxes=[(1, 1), (4, 4)])
    assert len(df) == 4 and df["box"].tolist() == ["1x1", "4x4"] * 2
    assert df["best"].sum() == 1
    best = df[df["best"]].iloc[0]
    assert best["net_gain"] == df["net_gain"].max()
    assert (df["fixes"] - df["breaks"] == df["net_gain"]).all()
    assert df["erased_fraction"].between(0, 1).all()


def test_run_erasure_checks_shapes_and_box():
    images = np.zeros((2, 8, 8), np.uint8)
    with pytest.raises(InputError, match="do not fit"):
        run_erasure(lambda x: np.zeros(len(x)), images, np.zeros((2, 7, 8)), np.zeros(2), np.zeros(2))
    with pytest.raises(InputError, match="larger than"):
        run_erasure(lambda x: np.zeros(len(x)), images, np.zeros((2, 8, 8)), np.zeros(2), np.zeros(2),
                    ErasureSettings(box=(9, 2)))
