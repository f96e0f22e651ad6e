"""What ``misclass explain`` runs on: its options, and which images it explains."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from misclass.analysis.erasure import FILLS, check_percent, spare_mask
from misclass.data.planted import sample_boxes
from misclass.errors import InputError
from misclass.explain.saliency import SALIENCY_METHODS, TARGETS
from misclass.validation import check_class_pairs

SPARE_CHOICES = "object (the samples' object_y0..object_x1 columns) or Y0,X0,Y1,X1"
DEFAULT_SWEEP_PERCENTS = (1.0, 2.0, 5.0, 10.0, 20.0)


@dataclass(frozen=True)
class ExplainOptions:
    """Settings of one explain run (the ``misclass explain`` options).

    ``images``: sample ids to explain (default: every misclassified image); ``pairs``:
    (true, predicted) class ids to keep among the misclassified; ``correct``: how many
    correctly classified images join as the control (None: as many as misclassified, at most
    500); ``spare``: "object" or a box (y0, x0, y1, x1) never erased.
    """

    method: str = "gradcam"
    target: str = "predicted"
    percent: float = 5.0
    box: tuple[int, int] | None = None
    fill: str = "zero"
    merge: bool = True
    spare: str | tuple[int, int, int, int] | None = None
    images: tuple[str, ...] | None = None
    pairs: tuple[tuple[int, int], ...] | None = None
    correct: int | None = None
    sweep: bool = True
    sweep_percents: tuple[float, ...] = DEFAULT_SWEEP_PERCENTS
    sweep_boxes: tuple[tuple[int, int], ...] | None = None
    threshold: float = 0.3
    triplets: int = 12
    batch_size: int = 128
    seed: int = 0
    device: str = "cpu"

    def check(self) -> ExplainOptions:
        if self.method not in SALIENCY_METHODS:
            raise InputError(f"--method {self.method!r}: expected {', '.join(SALIENCY_METHODS)}")
        if self.target not in TARGETS:
            raise InputError(f"--target {self.target!r}: expected {' or '.join(TARGETS)}")
        check_percent(self.percent)
        if self.fill not in FILLS:
            raise InputError(f"--fill {self.fill!r}: expected {', '.join(FILLS)}")
        for p in self.sweep_percents:
            check_percent(p, "--sweep-percents")
        if self.correct is not None and self.correct < 0:
            raise InputError(f"--correct {self.correct}: expected 0 or more images")
        return self


# --------------------------------------------------------------------------- selection
def select_images(labels: np.ndarray, before: np.ndarray | None, sample_ids: np.ndarray, opts: ExplainOptions
                  ) -> np.ndarray:
    """Store indices to explain: the misclassified images (or ``opts.images``; only
    ``opts.pairs`` when given) plus a seeded sample of correctly classified controls."""
    known = labels >= 0
    if opts.images:  # ``before`` is not needed (None: the images are not classified yet)
        where = {s: i for i, s in enumerate(sample_ids)}
        missing = [s for s in opts.images if s not in where]
        if missing:
            raise InputError(f"--images: unknown sample id(s) {', '.join(missing[:5])}")
        chosen = np.zeros(len(labels), dtype=bool)
        chosen[[where[s] for s in opts.images]] = True
        unknown = chosen & ~known
        if unknown.any():
            raise InputError(f"--images: {sample_ids[np.argmax(unknown)]!r} has no label")
        return np.flatnonzero(chosen)
    wrong = known & (before != labels)
    right = known & (before == labels)
    if opts.pairs:
        keep = np.zeros(len(labels), dtype=bool)
        for t, p in opts.pairs:
            keep |= (labels == t) & (before == p)
        wrong &= keep
    idx_wrong = np.flatnonzero(wrong)
    n_right = min(len(idx_wrong), 500) if opts.correct is None else opts.correct
    pool = np.flatnonzero(right)
    rng = np.random.default_rng(opts.seed)
    controls = np.sort(rng.choice(pool, size=min(n_right, len(pool)), replace=False)) if len(pool) else pool
    return np.sort(np.concatenate([idx_wrong, controls]))


def parse_pairs(text: str, class_names: list[str]) -> tuple[tuple[int, int], ...]:
    """``"ship:airplane,cat:dog"`` (names or ids, true:predicted) as class-id pairs."""
    return tuple(check_class_pairs(text, class_names, "--pairs"))


def parse_spare(text: str | None) -> str | tuple[int, int, int, int] | None:
    """``--spare``: None, "object", or "Y0,X0,Y1,X1"."""
    if text is None or text == "":
        return None
    if text == "object":
        return "object"
    parts = text.split(",")
    try:
        box = tuple(int(p) for p in parts)
    except ValueError:
        box = ()
    if len(box) != 4 or box[0] >= box[2] or box[1] >= box[3] or min(box) < 0:
        raise InputError(f"--spare {text!r}: expected {SPARE_CHOICES}")
    return box  # type: ignore[return-value]


def spare_masks(spare, samples: pd.DataFrame, idx: np.ndarray, shape) -> np.ndarray | None:
    """``(len(idx), H, W)`` masks of the pixels never erased (see :func:`parse_spare`), or None."""
    if spare is None:
        return None
    if spare == "object":
        boxes = sample_boxes(samples, "object")
        if boxes is None:
            raise InputError("--spare object: the store's samples have no object_y0, object_x0, object_y1, "
                             "object_x1 columns; give a box Y0,X0,Y1,X1")
        return np.stack([spare_mask(boxes[i], shape) for i in idx])
    return np.broadcast_to(spare_mask(spare, shape), (len(idx), *shape)).copy()


