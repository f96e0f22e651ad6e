"""Saliency-guided erasure as a measured experiment: accounting, the random-box control,
McNemar's test, per-pair fix rates and the sweep over the top share and the box size.

The classifier enters as a callable ``classify(images) -> (N,) predicted class ids`` on
``(N, H, W[, C])`` arrays, so everything here stays arrays in, tables out (the torch side is
in :mod:`misclass.explain.saliency` and :mod:`misclass.explain`).

Outcomes after an erasure, per image:

- misclassified before: ``fixed`` (now the true class), ``moved`` (another wrong class),
  ``unchanged`` (the same wrong class);
- correctly classified before (the control images): ``broken`` (now wrong) or ``kept``.

McNemar's test (:func:`misclass.analysis.stats.mcnemar_test`) compares the erasure with the
random control on the same images: ``b`` images are fixed by the saliency erasure only,
``c`` by the random one only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from misclass.analysis.erasure import default_box, erasure_mask, fill_erased, random_mask
from misclass.analysis.stats import McNemar, mcnemar_test
from misclass.errors import InputError

OUTCOMES_WRONG = ("fixed", "moved", "unchanged")
OUTCOMES_RIGHT = ("broken", "kept")
INTERFERENCE = "interference-like"
SIMILARITY = "similarity-like"
TOO_FEW = "too few images"


# --------------------------------------------------------------------------- outcomes
def erasure_outcomes(labels: np.ndarray, before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Per image: ``fixed`` / ``moved`` / ``unchanged`` where ``before`` was wrong, ``broken`` /
    ``kept`` where it was right (object array of str).

    >>> erasure_outcomes(np.array([0, 0, 0, 1, 1]), np.array([1, 1, 1, 1, 1]),
    ...                  np.array([0, 2, 1, 0, 1])).tolist()
    ['fixed', 'moved', 'unchanged', 'broken', 'kept']
    """
    labels, before, after = (np.asarray(a, dtype=np.int64) for a in (labels, before, after))
    if not (labels.shape == before.shape == after.shape) or labels.ndim != 1:
        raise InputError(f"outcomes: labels {labels.shape}, before {before.shape}, after {after.shape}; "
                         "expected three (N,) arrays")
    wrong = before != labels
    out = np.where(after == labels, "fixed", np.where(after == before, "unchanged", "moved"))
    out = np.where(wrong, out, np.where(after == labels, "kept", "broken"))
    return out.astype(object)


@dataclass(frozen=True)
class Accounting:
    """Counts of one erasure over ``n_wrong`` misclassified and ``n_right`` correct images."""

    n_wrong: int
    n_right: int
    fixed: int
    moved: int
    unchanged: int
    broken: int

    @property
    def fix_rate(self) -> float:
        return self.fixed / self.n_wrong if self.n_wrong else float("nan")

    @property
    def break_rate(self) -> float:
        return self.broken / self.n_right if self.n_right else float("nan")

    def to_dict(self) -> dict:
        return {"n_misclassified": self.n_wrong, "n_correct": self.n_right, "fixed": self.fixed,
                "moved": self.moved, "unchanged": self.unchanged, "broken": self.broken,
                "fix_rate": self.fix_rate, "break_rate": self.break_rate}


def count_outcomes(outcomes: np.ndarray) -> Accounting:
    """The :class:`Accounting` of an outcome array (see :func:`erasure_outcomes`)."""
    o = np.asarray(outcomes, dtype=object)
    c = {k: int((o == k).sum()) for k in OUTCOMES_WRONG + OUTCOMES_RIGHT}
    return Accounting(c["fixed"] + c["moved"] + c["unchanged"], c["broken"] + c["kept"], c["fixed"],
                      c["moved"], c["unchanged"], c["broken"])


# --------------------------------------------------------------------------- per pair
def pair_fix_rates(labels: np.ndarray, before: np.ndarray, fixed: np.ndarray, fixed_random: np.ndarray, *,
                   class_names: Sequence[str] | None = None, pair_types: dict | None = None,
                   alpha: float = 0.05, min_images: int = 5) -> pd.DataFrame:
    """Fix rates per confusion pair (true class, predicted class) of the misclassified images.

    Parameters
    ----------
    labels, before : (N,) int, true and predicted class before erasure (only wrong rows count)
    fixed, fixed_random : (N,) bool, fixed by the saliency erasure / by the random control
    pair_types : {(a, b): str} with a < b, optional: the pair's type from the confusion
        analysis (e.g. "universal symmetric"); missing pairs show "no edge"
    alpha : level of the one-sided exact McNemar test within the pair
    min_images : pairs with fewer misclassified images are labelled "too few images"

    Returns
    -------
    DataFrame, one row per pair, most images first: ``true``, ``predicted``, names, ``n``,
    ``fixed``, ``fix_rate``, ``fixed_random``, ``random_fix_rate``, ``p`` (one-sided exact
    McNemar, saliency > random), ``label`` ("interference-like" when p < alpha, else
    "similarity-like"), ``confusion_type``.
    """
    labels, before = np.asarray(labels, dtype=np.int64), np.asarray(before, dtype=np.int64)
    fixed, fixed_random = np.asarray(fixed, dtype=bool), np.asarray(fixed_random, dtype=bool)
    wrong = np.flatnonzero(before != labels)
    rows = []
    keys = pd.DataFrame({"t": labels[wrong], "p": before[wrong], "i": wrong})
    for (t, p), grp in keys.groupby(["t", "p"], sort=True):
        idx = grp["i"].to_numpy()
        n = len(idx)
        test = mcnemar_test(fixed[idx], fixed_random[idx])
        label = TOO_FEW if n < min_images else (INTERFERENCE if test.p_greater < alpha else SIMILARITY)
        kind = "no edge"
        if pair_types is not None:
            kind = pair_types.get((min(t, p), max(t, p)), "no edge")
        rows.append({"true": int(t), "predicted": int(p),
                     "true_name": str(t) if class_names is None else class_names[t],
                     "predicted_name": str(p) if class_names is None else class_names[p],
                     "n": n, "fixed": int(fixed[idx].sum()), "fix_rate": float(fixed[idx].mean()),
                     "fixed_random": int(fixed_random[idx].sum()),
                     "random_fix_rate": float(fixed_random[idx].mean()), "p": test.p_greater,
                     "label": label, "confusion_type": kind})
    cols = ["true", "predicted", "true_name", "predicted_name", "n", "fixed", "fix_rate", "fixed_random",
            "random_fix_rate", "p", "label", "confusion_type"]
    df = pd.DataFrame(rows, columns=cols)
    return df.sort_values(["n", "true", "predicted"], ascending=[False, True, True]).reset_index(drop=True)


# --------------------------------------------------------------------------- one erasure run
@dataclass(frozen=True)
class ErasureSettings:
    """One erasure: top ``percent`` % pixels, ``box`` (dy, dx) or None for the default,
    ``fill`` (zero, mean, blur), ``merge`` overlapping boxes, control ``seed``."""

    percent: float = 5.0
    box: tuple[int, int] | None = None
    fill: str = "zero"
    merge: bool = True
    seed: int = 0
    blur_sigma: float | None = None

    def to_dict(self) -> dict:
        return {"top_percent": self.percent, "box": None if self.box is None else list(self.box),
                "fill": self.fill, "merge": self.merge, "seed": self.seed, "blur_sigma": self.blur_sigma}


@dataclass(frozen=True)
class ErasureResult:
    """Per-image results of one erasure and its random control.

    ``table`` has one row per image: ``index`` (into the inputs), ``label``, ``before``,
    ``after``, ``after_random``, ``outcome``, ``outcome_random``, ``erased`` (pixels) and
    ``erased_fraction``. ``erased`` / ``erased_random`` hold the masks ``(N, H, W)``.
    """

    settings: ErasureSettings
    box: tuple[int, int]
    table: pd.DataFrame
    erased: np.ndarray = field(repr=False)
    erased_random: np.ndarray = field(repr=False)

    @property
    def accounting(self) -> Accounting:
        return count_outcomes(self.table["outcome"].to_numpy())

    @property
    def accounting_random(self) -> Accounting:
        return count_outcomes(self.table["outcome_random"].to_numpy())

    def fixes_test(self) -> McNemar:
        """McNemar's test on the misclassified images: fixed by saliency vs by random erasure."""
        t = self.table[self.table["before"] != self.table["label"]]
        return mcnemar_test(t["outcome"].to_numpy() == "fixed", t["outcome_random"].to_numpy() == "fixed")

    def breaks_test(self) -> McNemar:
        """McNemar's test on the correct images: broken by saliency vs by random erasure."""
        t = self.table[self.table["before"] == self.table["label"]]
        return mcnemar_test(t["outcome"].to_numpy() == "broken", t["outcome_random"].to_numpy() == "broken")

    def summary(self) -> dict:
        acc, rnd = self.accounting, self.accounting_random
        return {"settings": {**self.settings.to_dict(), "box": list(self.box)},
                "erased_fraction": float(self.table["erased_fraction"].mean()) if len(self.table) else None,
                "saliency": acc.to_dict(), "random": rnd.to_dict(),
                "mcnemar_fixes": self.fixes_test().to_dict(), "mcnemar_breaks": self.breaks_test().to_dict(),
                "net_gain": acc.fixed - acc.broken}


def run_erasure(classify: Callable[[np.ndarray], np.ndarray], images: np.ndarray, saliency: np.ndarray,
                labels: np.ndarray, before: np.ndarray, settings: ErasureSettings = ErasureSettings(), *,
                spare: np.ndarray | None = None, mean: Sequence[float] | None = None,
                batch_size: int = 256, on_batch: Callable[[int], None] | None = None) -> ErasureResult:
    """Erase the top pixels of each image's saliency map and its random control, reclassify.

    Parameters
    ----------
    classify : callable, ``(B, H, W[, C])`` images -> ``(B,)`` predicted class ids
    images : (N, H, W[, C]) in the classifier's input geometry (e.g. uint8 pixels)
    saliency : (N, H, W) maps on the same grid
    labels, before : (N,) true class and the prediction on the unchanged image
    spare : (N, H, W) bool, optional: pixels never erased (the object)
    mean : per-channel fill value for ``fill="mean"``
    on_batch : called with the number of images after each batch (progress)
    """
    images = np.asarray(images)
    sal = np.asarray(saliency)
    n = len(images)
    if sal.shape != (n, *images.shape[1:3]):
        raise InputError(f"saliency maps {sal.shape} do not fit images {images.shape}")
    labels, before = np.asarray(labels, dtype=np.int64), np.asarray(before, dtype=np.int64)
    if labels.shape != (n,) or before.shape != (n,):
        raise InputError(f"labels {labels.shape} and predictions {before.shape}: expected ({n},)")
    if spare is not None and np.asarray(spare).shape != sal.shape:
        raise InputError(f"spared pixels {np.asarray(spare).shape} do not fit saliency maps {sal.shape}")
    shape = images.shape[1:3]
    box = tuple(settings.box) if settings.box is not None else default_box(shape)
    if box[0] > shape[0] or box[1] > shape[1]:
        raise InputError(f"--box {box[1]}x{box[0]}: larger than the {shape[1]}x{shape[0]} images")
    sigma = settings.blur_sigma if settings.blur_sigma is not None else max(1.0, max(box) / 2)
    rng = np.random.default_rng(settings.seed)
    masks = np.zeros(sal.shape, dtype=bool)
    masks_r = np.zeros(sal.shape, dtype=bool)
    after = np.empty(n, dtype=np.int64)
    after_r = np.empty(n, dtype=np.int64)
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        erased, erased_r = [], []
        for i in range(start, stop):
            sp = None if spare is None else np.asarray(spare[i], dtype=bool)
            mask, boxes = erasure_mask(sal[i], settings.percent, box, merge=settings.merge, spare=sp)
            mask_r = random_mask(boxes, shape, int(mask.sum()), rng, spare=sp)
            masks[i], masks_r[i] = mask, mask_r
            erased.append(fill_erased(images[i], mask, settings.fill, mean=mean, sigma=sigma))
            erased_r.append(fill_erased(images[i], mask_r, settings.fill, mean=mean, sigma=sigma))
        after[start:stop] = np.asarray(classify(np.stack(erased)), dtype=np.int64)
        after_r[start:stop] = np.asarray(classify(np.stack(erased_r)), dtype=np.int64)
        if on_batch is not None:
            on_batch(stop - start)
    pixels = masks.reshape(n, -1).sum(axis=1)
    table = pd.DataFrame({
        "index": np.arange(n), "label": labels, "before": before, "after": after, "after_random": after_r,
        "outcome": erasure_outcomes(labels, before, after),
        "outcome_random": erasure_outcomes(labels, before, after_r),
        "erased": pixels, "erased_fraction": pixels / float(shape[0] * shape[1]),
    })
    return ErasureResult(settings, (int(box[0]), int(box[1])), table, masks, masks_r)


# --------------------------------------------------------------------------- sweep
def sweep_erasure(classify: Callable[[np.ndarray], np.ndarray], images: np.ndarray, saliency: np.ndarray,
                  labels: np.ndarray, before: np.ndarray, *, percents: Sequence[float] = (1, 2, 5, 10, 20),
                  boxes: Sequence[tuple[int, int]] | None = None, fill: str = "zero", seed: int = 0,
                  spare: np.ndarray | None = None, mean: Sequence[float] | None = None,
                  on_cell: Callable[[int], None] | None = None) -> pd.DataFrame:
    """Run :func:`run_erasure` over a grid of top shares and box sizes.

    ``boxes`` defaults to sides 1/16, 1/8 and 1/4 of the image. One row per cell:
    ``top_percent``, ``box`` ("DXxDY"), ``erased_fraction`` (mean share of pixels erased),
    ``fixes``, ``breaks``, ``net_gain`` (fixes - breaks), ``fix_rate``, ``break_rate``,
    ``random_fixes``, ``random_breaks``, ``p_fixes`` (exact McNemar of fixes vs the random
    control), and ``best`` marking the cell with the largest net gain (the smallest erased
    share among ties).
    """
    shape = np.asarray(images).shape[1:3]
    if boxes is None:
        boxes = sorted({(max(1, round(shape[0] / d)), max(1, round(shape[1] / d))) for d in (16, 8, 4)})
    rows = []
    for p in percents:
        for box in boxes:
            res = run_erasure(classify, images, saliency, labels, before,
                              ErasureSettings(percent=float(p), box=tuple(box), fill=fill, seed=seed),
                              spare=spare, mean=mean)
            acc, rnd = res.accounting, res.accounting_random
            rows.append({"top_percent": float(p), "box": f"{box[1]}x{box[0]}",
                         "erased_fraction": float(res.table["erased_fraction"].mean()),
                         "fixes": acc.fixed, "breaks": acc.broken, "net_gain": acc.fixed - acc.broken,
                         "fix_rate": acc.fix_rate, "break_rate": acc.break_rate, "random_fixes": rnd.fixed,
                         "random_breaks": rnd.broken, "p_fixes": res.fixes_test().p_exact})
            if on_cell is not None:
                on_cell(1)
    df = pd.DataFrame(rows)
    if len(df):
        best = df.sort_values(["net_gain", "erased_fraction"], ascending=[False, True]).index[0]
        df["best"] = df.index == best
    return df
