"""Which images a review task holds, and how far a reviewer has come: pure functions.

Data contract: ``labels (N,)`` int (-1 unknown), ``top1 (N, M)`` int (models only, -1 no
prediction). Every selector returns sorted store indices ``(n,)`` int64.

>>> top1 = np.array([[0, 0], [1, 2], [2, 2]])
>>> labels = np.array([0, 1, 1])
>>> select_disagreement(top1).tolist(), select_all_miss(labels, top1).tolist()
([1], [2])
>>> task_progress(np.arange(236) < 100).text
'Completed 100 of 236 images (10 of 24 parts)'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from misclass.errors import InputError

PART_SIZE = 10
#: The kinds of review task (``misclass review task NAME --kind KIND``; the task form's choices).
TASK_KINDS = ("disagreement", "all-miss", "pair", "random", "ids", "label-issues")


def _check(top1: np.ndarray) -> np.ndarray:
    top1 = np.asarray(top1)
    if top1.ndim != 2 or top1.shape[1] == 0:
        raise InputError(f"top1 has shape {top1.shape}; expected (N, M) with at least one model")
    return top1


def select_disagreement(top1: np.ndarray) -> np.ndarray:
    """Images whose models do not all predict the same class."""
    top1 = _check(top1)
    return np.flatnonzero((top1 != top1[:, :1]).any(axis=1)).astype(np.int64)


def select_all_miss(labels: np.ndarray, top1: np.ndarray) -> np.ndarray:
    """Images with a known label that every model gets wrong."""
    top1 = _check(top1)
    labels = np.asarray(labels)
    miss = (top1 != labels[:, None]).all(axis=1) & (labels >= 0)
    return np.flatnonzero(miss).astype(np.int64)


def select_class_pair(labels: np.ndarray, top1: np.ndarray, a: int, b: int) -> np.ndarray:
    """Images where classes ``a`` and ``b`` meet: labeled one of them and predicted as the other
    by at least one model ("marmot vs beaver")."""
    top1 = _check(top1)
    if a == b:
        raise InputError(f"class pair: both classes are {a}; give two different classes")
    labels = np.asarray(labels)
    hit = ((labels == a) & (top1 == b).any(axis=1)) | ((labels == b) & (top1 == a).any(axis=1))
    return np.flatnonzero(hit).astype(np.int64)


def select_random(n: int, size: int, *, seed: int = 0) -> np.ndarray:
    """``size`` images drawn without replacement (all when ``size >= n``), sorted."""
    if size < 1:
        raise InputError(f"random sample: size {size} must be at least 1")
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=min(size, n), replace=False)).astype(np.int64)


def select_ids(sample_ids: Sequence[str], wanted: Sequence[tuple[str, str]]) -> np.ndarray:
    """Store indices of the ids in ``wanted`` (pairs of ``(where, sample_id)`` for messages),
    in the order given; an unknown or repeated id is an error naming its line."""
    pos = {str(s): i for i, s in enumerate(sample_ids)}
    out, seen = [], {}
    for where, sid in wanted:
        if sid not in pos:
            raise InputError(f"{where}: sample id {sid!r} is not in the store")
        if sid in seen:
            raise InputError(f"{where}: sample id {sid!r} is already listed at {seen[sid]}")
        seen[sid] = where
        out.append(pos[sid])
    if not out:
        raise InputError("id list: no sample ids")
    return np.asarray(out, dtype=np.int64)


def limit(indices: np.ndarray, size: int | None, *, seed: int = 0) -> np.ndarray:
    """At most ``size`` of ``indices`` (a seeded random subset, order kept)."""
    if size is None or len(indices) <= size:
        return indices
    keep = np.sort(np.random.default_rng(seed).choice(len(indices), size=size, replace=False))
    return indices[keep]


@dataclass(frozen=True)
class TaskProgress:
    """How much of a task is done: images and parts of ``part_size`` images."""

    done: int
    total: int
    parts_done: int
    parts: int
    next_position: int | None

    @property
    def text(self) -> str:
        return (f"Completed {self.done} of {self.total} images "
                f"({self.parts_done} of {self.parts} parts)")

    def to_dict(self) -> dict:
        return {"done": self.done, "total": self.total, "parts_done": self.parts_done,
                "parts": self.parts, "next_position": self.next_position, "text": self.text}


def task_progress(completed: np.ndarray, *, part_size: int = PART_SIZE) -> TaskProgress:
    """Progress from ``completed (n,)`` bool, one flag per task position.

    A part is done when all its images are; ``next_position`` is the first open image.
    """
    completed = np.asarray(completed, dtype=bool)
    n = len(completed)
    parts = -(-n // part_size)
    padded = np.ones(parts * part_size, dtype=bool)
    padded[:n] = completed
    parts_done = int(padded.reshape(parts, part_size).all(axis=1).sum()) if parts else 0
    open_ = np.flatnonzero(~completed)
    return TaskProgress(int(completed.sum()), n, parts_done, parts,
                        int(open_[0]) if len(open_) else None)
