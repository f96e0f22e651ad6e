"""Select images by what the predictors did on them: a query as a boolean mask over N images,
then an order.

Pure: arrays in, arrays out. :class:`ImageTable` holds ``labels (N,)`` and ``top1 (N, M)``
of M predictors; :class:`ImageFilter` names predictors by column and classes by index (names
are resolved above, in :mod:`misclass.workflows.explore`). A labelled image is *right* for a
predictor whose top-1 is its label and *wrong* otherwise; an image without a label (-1) is
neither, so it never matches ``right``, ``wrong``, ``all_wrong``, ``one_wrong`` or
``all_right``. ``all_wrong``, ``one_wrong``, ``all_right`` and ``disagree`` count the
predictors of kind model only (``ImageTable.models``), never people.

>>> t = ImageTable(labels=np.array([0, 1, 2, -1]), top1=np.array([[0, 1], [0, 1], [1, 0], [2, 2]]))
>>> select_images(t, ImageFilter(wrong=(0,), right=(1,))).tolist()
[1]
>>> select_images(t, ImageFilter(all_wrong=True)).tolist()
[2]
>>> select_images(t, ImageFilter(true=(0, 2))).tolist()
[0, 2]
>>> select_images(t, ImageFilter(pred=(0,), pred_by=(0,))).tolist()  # model 0 predicts class 0
[0, 1]
>>> select_images(t, ImageFilter(), key=np.array([0.5, np.nan, 0.9, 0.1]), descending=True).tolist()
[2, 0, 3, 1]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from misclass.errors import InputError


@dataclass(frozen=True)
class ImageTable:
    """What queries read: ``labels (N,)`` int (-1 unknown), ``top1 (N, M)`` int (-1: no
    prediction), and ``models``, the columns of kind model (default: every column).

    Masks that many queries share are computed once per table (``correct``, ``wrong``,
    ``n_wrong``), so a query over 50,000 images and 7 models costs a few vectorised passes.
    """

    labels: np.ndarray
    top1: np.ndarray
    models: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        labels, top1 = np.asarray(self.labels), np.asarray(self.top1)
        if labels.ndim != 1 or top1.ndim != 2 or top1.shape[0] != labels.shape[0]:
            raise InputError(f"labels {labels.shape} and top1 {top1.shape}: expected (N,) and (N, M)")
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "top1", top1)
        cols = tuple(range(top1.shape[1])) if self.models is None else tuple(int(c) for c in self.models)
        if any(not 0 <= c < top1.shape[1] for c in cols):
            raise InputError(f"model columns {cols} outside 0..{top1.shape[1] - 1}")
        object.__setattr__(self, "models", cols)

    @property
    def n(self) -> int:
        return int(self.labels.shape[0])

    @cached_property
    def known(self) -> np.ndarray:
        """Images with a label, (N,) bool."""
        return self.labels >= 0

    @cached_property
    def correct(self) -> np.ndarray:
        """(N, M) bool: the predictor's top-1 is the label."""
        return (self.top1 == self.labels[:, None]) & self.known[:, None]

    @cached_property
    def wrong(self) -> np.ndarray:
        """(N, M) bool: a labelled image the predictor gets wrong (no prediction counts as wrong)."""
        return ~self.correct & self.known[:, None]

    @cached_property
    def n_wrong(self) -> np.ndarray:
        """(N,) int: how many predictors of kind model get each image wrong."""
        return self.wrong[:, list(self.models)].sum(axis=1)

    @cached_property
    def unanimous(self) -> np.ndarray:
        """(N,) bool: every model predicts the same class."""
        t = self.top1[:, list(self.models)]
        return (t == t[:, :1]).all(axis=1) if t.shape[1] else np.ones(self.n, dtype=bool)


@dataclass(frozen=True)
class ImageFilter:
    """One query: every given clause must hold (an empty filter matches every image).

    right, wrong : predictor columns that must get the image right / wrong
    all_wrong, one_wrong, all_right : every model wrong, exactly one model wrong, every model
        right (labelled images only)
    disagree : the models do not all predict the same class
    true : the label is one of these classes
    pred : the top-1 of a predictor in ``pred_by`` (default: any model) is one of these
    pair : ``(c, d)``: labelled c and predicted d, or labelled d and predicted c, by a
        predictor in ``pred_by`` (default: any model)
    masks : further (N,) bool masks that must hold (score ranges, review states, groups, ...)
    """

    right: tuple[int, ...] = ()
    wrong: tuple[int, ...] = ()
    all_wrong: bool = False
    one_wrong: bool = False
    all_right: bool = False
    disagree: bool = False
    true: tuple[int, ...] | None = None
    pred: tuple[int, ...] | None = None
    pred_by: tuple[int, ...] | None = None
    pair: tuple[int, int] | None = None
    masks: tuple[np.ndarray, ...] = field(default=(), compare=False)


def filter_mask(table: ImageTable, flt: ImageFilter) -> np.ndarray:
    """The (N,) bool mask of the images that match every clause of ``flt``."""
    mask = np.ones(table.n, dtype=bool)
    for j in flt.right:
        mask &= table.correct[:, j]
    for j in flt.wrong:
        mask &= table.wrong[:, j]
    some = len(table.models) > 0  # with no model, no image is "every model wrong" (or right)
    if flt.all_wrong:
        mask &= table.known & (table.n_wrong == len(table.models)) & some
    if flt.one_wrong:
        mask &= table.known & (table.n_wrong == 1)
    if flt.all_right:
        mask &= table.known & (table.n_wrong == 0) & some
    if flt.disagree:
        mask &= ~table.unanimous
    if flt.true is not None:
        mask &= _in(table.labels, flt.true)
    by = list(table.models if flt.pred_by is None else flt.pred_by)
    if flt.pred is not None:
        mask &= _in(table.top1[:, by], flt.pred).any(axis=1)
    if flt.pair is not None:
        c, d = flt.pair
        t = table.top1[:, by]
        one_way = (table.labels == c)[:, None] & (t == d)
        other_way = (table.labels == d)[:, None] & (t == c)
        mask &= (one_way | other_way).any(axis=1)
    for extra in flt.masks:
        extra = np.asarray(extra, dtype=bool)
        if extra.shape != (table.n,):
            raise InputError(f"a query mask has shape {extra.shape}; expected ({table.n},)")
        mask &= extra
    return mask


def _in(values: np.ndarray, classes: Sequence[int]) -> np.ndarray:
    classes = list(classes)
    if len(classes) == 1:
        return values == classes[0]
    return np.isin(values, classes)


def order_images(mask: np.ndarray, key: np.ndarray | None = None, *, descending: bool = False) -> np.ndarray:
    """Indices of the images in ``mask``: by ``key`` (ascending, or ``descending``; ties and
    equal keys in store order; NaN keys last), else in store order."""
    idx = np.flatnonzero(mask)
    if key is None:
        return idx
    k = np.asarray(key, dtype=np.float64)[idx]
    nan = np.isnan(k)
    k = np.where(nan, 0.0, -k if descending else k)
    return idx[np.lexsort((idx, k, nan))]


def select_images(table: ImageTable, flt: ImageFilter, *, key: np.ndarray | None = None,
                  descending: bool = False) -> np.ndarray:
    """Indices of the images that match ``flt``, ordered by ``key`` (see :func:`order_images`)."""
    return order_images(filter_mask(table, flt), key, descending=descending)


def in_range(values: np.ndarray, low: float | None = None, high: float | None = None) -> np.ndarray:
    """(N,) bool: ``low <= values <= high`` (either bound may be None); NaN never matches.

    >>> in_range(np.array([0.1, 0.5, np.nan, 0.9]), 0.2, None).tolist()
    [False, True, False, True]
    """
    v = np.asarray(values, dtype=np.float64)
    mask = ~np.isnan(v)
    if low is not None:
        mask &= v >= low
    if high is not None:
        mask &= v <= high
    return mask


def nearest_neighbours(features: np.ndarray, i: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` images nearest to image ``i`` by cosine distance of ``features (N, D)``
    (image ``i`` itself left out; ties in store order): ``(indices, distances)``.

    >>> f = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [-1.0, 0.0]])
    >>> idx, d = nearest_neighbours(f, 0, 2)
    >>> idx.tolist(), np.round(d, 4).tolist()
    ([1, 2], [0.0061, 1.0])
    """
    f = np.asarray(features, dtype=np.float32)
    if f.ndim != 2 or not 0 <= i < f.shape[0]:
        raise InputError(f"features {f.shape}, image {i}: expected (N, D) and 0 <= i < N")
    norms = np.linalg.norm(f, axis=1)
    norms[norms == 0] = 1.0
    sim = (f @ (f[i] / norms[i])) / norms
    sim[i] = -np.inf
    k = int(min(max(k, 0), f.shape[0] - 1))
    if k == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    top = np.argpartition(-sim, k - 1)[:k] if k < len(sim) else np.arange(len(sim))
    top = top[np.lexsort((top, -sim[top]))]
    return top.astype(np.int64), (1.0 - sim[top]).astype(np.float64)
