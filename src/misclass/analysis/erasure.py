"""Saliency-guided erasure on arrays: top pixels, boxes around them, merging, filling, sparing
an object, and the random-box control that erases the same area elsewhere.

Conventions: a saliency map is ``(H, W)`` float (higher = more salient); an image is
``(H, W)`` or ``(H, W, C)`` (any dtype, filled in its own value range); a box is
``(y0, x0, y1, x1)`` with ``y1``/``x1`` exclusive, like a slice.

>>> sal = np.zeros((6, 6)); sal[1, 1] = 3; sal[4, 4] = 2
>>> pix = top_pixels(sal, 5.0)            # 5% of 36 pixels: 2 (rounded up)
>>> pix.tolist()
[[1, 1], [4, 4]]
>>> boxes_around(pix, (3, 3), (6, 6)).tolist()
[[0, 0, 3, 3], [3, 3, 6, 6]]
>>> merge_boxes([[0, 0, 3, 3], [2, 2, 4, 4], [5, 5, 6, 6]]).tolist()
[[0, 0, 4, 4], [5, 5, 6, 6]]
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

from misclass.errors import InputError

FILLS = ("zero", "mean", "blur")


# --------------------------------------------------------------------------- parsing and checks
def parse_box(text: str) -> tuple[int, int]:
    """``"DXxDY"`` (width x height in pixels, e.g. ``"4x4"``) or ``"D"`` as ``(dy, dx)``.

    >>> parse_box("6x4"), parse_box("3")
    ((4, 6), (3, 3))
    """
    m = re.fullmatch(r"\s*(\d+)\s*(?:[xX]\s*(\d+))?\s*", str(text))
    if not m:
        raise InputError(f"--box {text!r}: expected DXxDY in pixels, e.g. 4x4")
    dx = int(m.group(1))
    dy = int(m.group(2)) if m.group(2) else dx
    if dx < 1 or dy < 1:
        raise InputError(f"--box {text!r}: box sides must be at least 1 pixel")
    return dy, dx


def check_percent(p: float, what: str = "--top-percent") -> float:
    """``p`` if it is a share in (0, 100], else an :class:`InputError`."""
    if not (isinstance(p, int | float) and math.isfinite(p) and 0 < p <= 100):
        raise InputError(f"{what} {p!r}: expected a percentage above 0 and at most 100")
    return float(p)


def default_box(shape: Sequence[int]) -> tuple[int, int]:
    """The default box ``(dy, dx)``: an eighth of each side, at least one pixel (4x4 at 32x32).

    >>> default_box((32, 32)), default_box((224, 160)), default_box((5, 5))
    ((4, 4), (28, 20), (1, 1))
    """
    return max(1, round(shape[0] / 8)), max(1, round(shape[1] / 8))


def _check_map(saliency: np.ndarray) -> np.ndarray:
    s = np.asarray(saliency, dtype=np.float64)
    if s.ndim != 2 or s.size == 0:
        raise InputError(f"saliency map of shape {s.shape}: expected (H, W)")
    return np.where(np.isfinite(s), s, -np.inf)


# --------------------------------------------------------------------------- boxes
def top_pixels(saliency: np.ndarray, percent: float) -> np.ndarray:
    """``(K, 2)`` (row, column) of the top ``percent`` % pixels, most salient first.

    ``K = ceil(percent / 100 * H * W)``, at least 1; ties go to the earlier pixel in row-major
    order, so the result is deterministic.
    """
    s = _check_map(saliency)
    check_percent(percent)
    k = max(1, math.ceil(round(percent / 100 * s.size, 9)))
    order = np.argsort(-s.ravel(), kind="stable")[:k]
    return np.column_stack(np.unravel_index(order, s.shape)).astype(np.int64)


def boxes_around(pixels: np.ndarray, box: tuple[int, int], shape: Sequence[int]) -> np.ndarray:
    """A ``dy x dx`` box around each pixel, clipped to the image: ``(K, 4)`` int boxes.

    The pixel sits at offset ``dy // 2`` (``dx // 2``) inside its box, so odd sides centre it.
    """
    dy, dx = int(box[0]), int(box[1])
    if dy < 1 or dx < 1:
        raise InputError(f"box {box}: sides must be at least 1 pixel")
    p = np.asarray(pixels, dtype=np.int64).reshape(-1, 2)
    h, w = int(shape[0]), int(shape[1])
    y0 = np.clip(p[:, 0] - dy // 2, 0, h)
    x0 = np.clip(p[:, 1] - dx // 2, 0, w)
    y1 = np.clip(p[:, 0] - dy // 2 + dy, 0, h)
    x1 = np.clip(p[:, 1] - dx // 2 + dx, 0, w)
    return np.column_stack([y0, x0, y1, x1])


def merge_boxes(boxes: np.ndarray | Sequence[Sequence[int]]) -> np.ndarray:
    """Replace every group of overlapping boxes by its bounding box, until no two overlap.

    Boxes that only touch (share an edge but no pixel) stay apart. Each round finds the
    groups of overlapping boxes as connected components of the pairwise-overlap graph; a
    group's bounding box can overlap another box, so rounds repeat until nothing changes.
    The result is sorted by (y0, x0, y1, x1).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    arr = np.asarray(boxes, dtype=np.int64).reshape(-1, 4)
    arr = arr[(arr[:, 2] > arr[:, 0]) & (arr[:, 3] > arr[:, 1])]
    while len(arr) > 1:
        arr = np.unique(arr, axis=0)
        y0, x0, y1, x1 = (arr[:, i] for i in range(4))
        rows, cols = [], []
        for a in range(0, len(arr), 1024):  # pairwise overlaps in blocks of rows, to bound memory
            b = slice(a, a + 1024)
            over = ((y0[b, None] < y1[None, :]) & (y0[None, :] < y1[b, None])
                    & (x0[b, None] < x1[None, :]) & (x0[None, :] < x1[b, None]))
            i, j = np.nonzero(over)
            keep = i + a != j
            rows.append(i[keep] + a)
            cols.append(j[keep])
        i, j = np.concatenate(rows), np.concatenate(cols)
        if not len(i):
            break
        graph = coo_matrix((np.ones(len(i)), (i, j)), shape=(len(arr), len(arr)))
        n, comp = connected_components(graph, directed=False)
        merged = np.empty((n, 4), dtype=np.int64)
        merged[:, :2] = np.iinfo(np.int64).max
        merged[:, 2:] = np.iinfo(np.int64).min
        np.minimum.at(merged[:, 0], comp, y0)
        np.minimum.at(merged[:, 1], comp, x0)
        np.maximum.at(merged[:, 2], comp, y1)
        np.maximum.at(merged[:, 3], comp, x1)
        arr = merged
    if not len(arr):
        return np.zeros((0, 4), dtype=np.int64)
    return arr[np.lexsort(arr.T[::-1])]


def boxes_mask(boxes: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """Boolean ``(H, W)`` mask of the union of ``boxes``."""
    mask = np.zeros((int(shape[0]), int(shape[1])), dtype=bool)
    for y0, x0, y1, x1 in np.asarray(boxes, dtype=np.int64).reshape(-1, 4):
        mask[y0:y1, x0:x1] = True
    return mask


def spare_mask(box: Sequence[int] | None, shape: Sequence[int]) -> np.ndarray:
    """``(H, W)`` mask of the pixels inside an object box ``(y0, x0, y1, x1)`` (none when None)."""
    if box is None:
        return np.zeros((int(shape[0]), int(shape[1])), dtype=bool)
    return boxes_mask(np.asarray(box).reshape(1, 4), shape)


def erasure_mask(saliency: np.ndarray, percent: float, box: tuple[int, int], *, merge: bool = True,
                 spare: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Pixels to erase for one map: boxes around the top ``percent`` % pixels, merged, minus
    the ``spare`` mask. Returns ``(mask (H, W) bool, boxes (B, 4))``.

    >>> sal = np.zeros((8, 8)); sal[0, 0] = 1
    >>> mask, boxes = erasure_mask(sal, 1, (3, 3))
    >>> boxes.tolist(), int(mask.sum())
    ([[0, 0, 2, 2]], 4)
    """
    s = _check_map(saliency)
    boxes = boxes_around(top_pixels(s, percent), box, s.shape)
    if merge:
        boxes = merge_boxes(boxes)
    mask = boxes_mask(boxes, s.shape)
    if spare is not None:
        mask &= ~np.asarray(spare, dtype=bool)
    return mask, boxes


# --------------------------------------------------------------------------- the random control
def random_mask(boxes: np.ndarray, shape: Sequence[int], area: int, rng: np.random.Generator, *,
                spare: np.ndarray | None = None, tries: int = 100) -> np.ndarray:
    """A mask of exactly ``area`` pixels made of ``boxes``' shapes at random places.

    Each box keeps its size and moves to a uniformly random position where it overlaps no
    box placed before it and no spared pixel (up to ``tries`` draws; then anywhere). Pixels
    beyond ``area`` are dropped at random and missing ones (spared pixels cut, crowded images)
    are drawn at random from the pixels left, so the control always erases as many pixels as
    the saliency-guided erasure.
    """
    h, w = int(shape[0]), int(shape[1])
    spare = np.zeros((h, w), dtype=bool) if spare is None else np.asarray(spare, dtype=bool)
    free = int((~spare).sum())
    if area > free:
        raise InputError(f"random control: {area} pixels to erase but only {free} are not spared")
    mask = np.zeros((h, w), dtype=bool)
    for y0, x0, y1, x1 in np.asarray(boxes, dtype=np.int64).reshape(-1, 4):
        bh, bw = int(y1 - y0), int(x1 - x0)
        if bh <= 0 or bw <= 0:
            continue
        for attempt in range(tries + 1):
            ry = int(rng.integers(0, h - bh + 1))
            rx = int(rng.integers(0, w - bw + 1))
            window = (slice(ry, ry + bh), slice(rx, rx + bw))
            if attempt == tries or not (mask[window].any() or spare[window].any()):
                mask[window] = True
                break
    mask &= ~spare
    n = int(mask.sum())
    if n > area:
        on = np.flatnonzero(mask.ravel())
        drop = rng.choice(on, size=n - area, replace=False)
        mask.ravel()[drop] = False
    elif n < area:
        off = np.flatnonzero((~mask & ~spare).ravel())
        add = rng.choice(off, size=area - n, replace=False)
        mask.ravel()[add] = True
    return mask


# --------------------------------------------------------------------------- fill
def blur_image(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of an ``(H, W[, C])`` image over its two spatial axes (float64)."""
    from scipy.ndimage import gaussian_filter

    x = np.asarray(image, dtype=np.float64)
    sig = (sigma, sigma) + (0,) * (x.ndim - 2)
    return gaussian_filter(x, sigma=sig, mode="nearest")


def fill_erased(image: np.ndarray, mask: np.ndarray, fill: str = "zero", *,
                mean: Sequence[float] | float | None = None, sigma: float = 2.0) -> np.ndarray:
    """A copy of ``image`` with the ``mask`` pixels replaced.

    ``fill``: ``"zero"`` (0 in the image's own values: black for uint8 pixels), ``"mean"``
    (``mean``: one value or one per channel, e.g. the dataset mean colour) or ``"blur"`` (a
    Gaussian blur of the image, ``sigma`` pixels). The dtype is kept (rounded for integers).

    >>> img = np.full((2, 2, 3), 200, dtype=np.uint8)
    >>> m = np.array([[True, False], [False, False]])
    >>> fill_erased(img, m, "mean", mean=[10, 20, 30])[0, 0].tolist()
    [10, 20, 30]
    """
    img = np.asarray(image)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != img.shape[:2]:
        raise InputError(f"erasure mask {mask.shape} does not fit image {img.shape}")
    if fill not in FILLS:
        raise InputError(f"--fill {fill!r}: expected {', '.join(FILLS)}")
    out = img.copy()
    if fill == "zero":
        out[mask] = 0
        return out
    if fill == "mean":
        if mean is None:
            raise InputError("--fill mean needs the dataset mean (per channel)")
        value = np.broadcast_to(np.asarray(mean, dtype=np.float64), img.shape[2:] if img.ndim == 3 else ())
        source = np.broadcast_to(value, img.shape)
    else:
        source = blur_image(img, sigma)
    if np.issubdtype(img.dtype, np.integer):
        info = np.iinfo(img.dtype)
        source = np.clip(np.rint(source), info.min, info.max)
    out[mask] = source[mask].astype(img.dtype)
    return out


def dataset_mean(images: np.ndarray) -> np.ndarray:
    """Per-channel mean of ``(N, H, W[, C])`` images (one value for grey images)."""
    x = np.asarray(images, dtype=np.float64)
    return x.mean(axis=(0, 1, 2)) if x.ndim == 4 else np.array(x.mean())
