"""The contract types that every layer shares (data readers build them, analyses read them).

Pure: numpy only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np

from misclass.errors import InputError

#: The kinds of predictor (metadata field ``kind`` of a model): a model, or people (human).
PREDICTOR_KINDS = ("model", "human")


# --------------------------------------------------------------------------- label sets
@dataclass(frozen=True)
class LabelSets:
    """A set of correct class ids per image (CSR layout) and a problematic flag.

    Attributes
    ----------
    indptr : (N+1,) int64
        Image ``i``'s classes are ``indices[indptr[i]:indptr[i+1]]``.
    indices : (nnz,) int64
        Class ids, sorted and unique within each image.
    has_set : (N,) bool
        False where the source gives no set for the image.
    problematic : (N,) bool
        Images flagged as problematic (excluded from multi-label accuracy).
    source : str
        Where the sets came from, for messages.
    n_unmatched : int
        Entries of the source whose sample id is not in the store (ignored).
    """

    indptr: np.ndarray
    indices: np.ndarray
    has_set: np.ndarray
    problematic: np.ndarray
    source: str = ""
    n_unmatched: int = 0

    @classmethod
    def from_lists(cls, sets: Sequence[Sequence[int] | None], *, problematic: Sequence[bool] | None = None,
                   source: str = "", n_unmatched: int = 0) -> LabelSets:
        """Build from one list of class ids per image (``None``: no set for that image).

        Vectorised: one array of every id with its image's row, sorted by (row, id), repeats
        within an image dropped (each set ends sorted and unique, as ``np.unique`` per image)."""
        n = len(sets)
        given = [s for s in sets if s is not None]
        lengths = np.fromiter((len(s) for s in given), dtype=np.int64, count=len(given))
        rows = np.repeat(np.fromiter((i for i, s in enumerate(sets) if s is not None), dtype=np.int64,
                                     count=len(given)), lengths)
        flat = (np.asarray(list(chain.from_iterable(given)), dtype=np.int64).reshape(-1) if lengths.sum()
                else np.zeros(0, dtype=np.int64))
        if len(flat) != len(rows):
            raise InputError(f"{source or 'label sets'}: a label set holds something other than class ids")
        order = np.lexsort((flat, rows))
        rows, flat = rows[order], flat[order]
        keep = np.ones(len(flat), dtype=bool)
        keep[1:] = (rows[1:] != rows[:-1]) | (flat[1:] != flat[:-1])
        indices = flat[keep]
        sizes = np.bincount(rows[keep], minlength=n).astype(np.int64)
        indptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        has_set = np.array([s is not None for s in sets], dtype=bool)
        prob = np.zeros(n, dtype=bool) if problematic is None else np.asarray(problematic, dtype=bool)
        if prob.shape != (n,):
            raise InputError(f"{source or 'label sets'}: problematic has shape {prob.shape}; expected ({n},)")
        if (indices < 0).any():
            raise InputError(f"{source or 'label sets'}: negative class id in a label set")
        return cls(indptr, indices, has_set, prob, source, n_unmatched)

    def __len__(self) -> int:
        return len(self.has_set)

    @property
    def sizes(self) -> np.ndarray:
        """Number of classes in each image's set, (N,)."""
        return np.diff(self.indptr)

    def set_of(self, i: int) -> list[int]:
        """The class ids of image ``i``."""
        return self.indices[self.indptr[i]: self.indptr[i + 1]].tolist()

    @property
    def evaluable(self) -> np.ndarray:
        """Images with a non-empty set that are not problematic, (N,) bool."""
        return self.has_set & (self.sizes > 0) & ~self.problematic

    def exclusion_counts(self, mask: np.ndarray | None = None) -> dict[str, int]:
        """Excluded images (within ``mask``, default all), each counted once: ``problematic``
        (flagged, whatever its set: a reviewer may flag an image without judging its labels),
        else ``no_set`` or ``empty`` (no valid label).
        """
        inside = np.ones(len(self), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
        prob = self.problematic & inside
        no_set = ~self.has_set & ~self.problematic & inside
        empty = self.has_set & (self.sizes == 0) & ~self.problematic & inside
        return {"no_set": int(no_set.sum()), "empty": int(empty.sum()), "problematic": int(prob.sum())}

    def contains(self, predictions: np.ndarray) -> np.ndarray:
        """Whether each prediction is in its image's set: ``predictions (N, ...)`` -> bool, same shape."""
        pred = np.asarray(predictions, dtype=np.int64)
        if pred.shape[0] != len(self):
            raise InputError(f"{self.source or 'label sets'}: {len(self)} sets for {pred.shape[0]} images")
        if len(self.indices) == 0:
            return np.zeros(pred.shape, dtype=bool)
        base = int(max(self.indices.max(initial=0), pred.max(initial=0))) + 2
        rows = np.repeat(np.arange(len(self), dtype=np.int64), self.sizes)
        keys = rows * base + self.indices  # sorted: rows ascend, indices ascend within a row
        flat = pred.reshape(len(self), -1)
        query = np.arange(len(self), dtype=np.int64)[:, None] * base + flat
        pos = np.searchsorted(keys, query)
        hit = (pos < len(keys)) & (keys[np.minimum(pos, len(keys) - 1)] == query) & (flat >= 0)
        return hit.reshape(pred.shape)



# --------------------------------------------------------------------------- class groups
@dataclass(frozen=True)
class ClassGroups:
    """Named groups of classes: ``members (G, C)`` bool; groups may overlap."""

    names: tuple[str, ...]
    members: np.ndarray
    source: str = ""

    @classmethod
    def from_assignments(cls, class_index: Sequence[int], group: Sequence[str], n_classes: int,
                         *, source: str = "", order: Sequence[str] | None = None) -> ClassGroups:
        """Build from (class, group) pairs; ``order`` fixes the group order (default: first seen)."""
        names: list[str] = list(order) if order is not None else list(dict.fromkeys(str(g) for g in group))
        pos = {g: i for i, g in enumerate(names)}
        members = np.zeros((len(names), n_classes), dtype=bool)
        for c, g in zip(class_index, group, strict=True):
            members[pos[str(g)], int(c)] = True
        return cls(tuple(names), members, source)

    def __add__(self, other: ClassGroups) -> ClassGroups:
        clash = set(self.names) & set(other.names)
        if clash:
            raise InputError(f"group names {sorted(clash)} occur in both {self.source} and {other.source}")
        return ClassGroups(self.names + other.names, np.vstack([self.members, other.members]),
                           f"{self.source}+{other.source}")

    def image_masks(self, labels: np.ndarray) -> np.ndarray:
        """``(G, N)`` bool: image ``n`` is in group ``g`` when its label is (unknown labels: none)."""
        labels = np.asarray(labels)
        known = labels >= 0
        out = np.zeros((len(self.names), len(labels)), dtype=bool)
        out[:, known] = self.members[:, labels[known]]
        return out


