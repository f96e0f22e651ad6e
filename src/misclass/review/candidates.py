"""Candidate labels of an image: every class a model predicted, plus the dataset label.

Pure function over one image's predictions: ``topk (M, k)`` int (models only; -1 padding),
``label`` int (-1 unknown).

>>> topk = np.array([[3, 1], [3, 2], [1, 3]])
>>> [(c.index, c.n_top1, c.is_label) for c in candidate_labels(topk, label=2)]
[(3, 2, False), (1, 1, False), (2, 0, True)]
>>> [c.index for c in candidate_labels(topk, label=2, top5=True)]
[3, 1, 2]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Candidate:
    """One candidate class: how many models predicted it top-1 and within their top-k."""

    index: int
    n_top1: int
    n_topk: int
    is_label: bool
    name: str = ""
    description: str = ""

    def to_dict(self) -> dict:
        return {"index": self.index, "name": self.name, "description": self.description,
                "n_top1": self.n_top1, "n_topk": self.n_topk, "is_label": self.is_label}


def candidate_labels(topk: np.ndarray, label: int, *, top5: bool = False,
                     names: Sequence[str] | None = None,
                     descriptions: Sequence[str] | None = None) -> list[Candidate]:
    """The union of the models' top-1 (with ``top5``: top-5) classes and the dataset label.

    Ordered by how many models predicted the class top-1, then within top-k, then the label
    first, then class index.
    """
    topk = np.asarray(topk, dtype=np.int64)
    if topk.ndim == 1:
        topk = topk[:, None]
    top1 = topk[:, 0] if topk.shape[1] else np.zeros(0, dtype=np.int64)
    within = topk[:, :5]
    pool = set(int(c) for c in (within.ravel() if top5 else top1) if c >= 0)
    if label >= 0:
        pool.add(int(label))
    out = []
    for c in pool:
        out.append(Candidate(
            c, int((top1 == c).sum()), int((within == c).any(axis=1).sum()), c == label,
            names[c] if names is not None else str(c),
            descriptions[c] if descriptions is not None else ""))
    out.sort(key=lambda x: (-x.n_top1, -x.n_topk, not x.is_label, x.index))
    return out
