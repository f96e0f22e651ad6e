"""What the review app needs from the store, read once: ids, labels, the models' top-k
predictions, class names, descriptions and groups."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from misclass.errors import InputError
from misclass.review.candidates import Candidate, candidate_labels
from misclass.store import Store, open_store
from misclass.store.kinds import predictor_kinds


@dataclass
class ReviewContext:
    """The store's data for review.

    Attributes
    ----------
    store : Store
    sample_ids : (N,) object
    labels : (N,) int64
    topk : (N, M, k) int32, models of kind "model" only
    models : tuple of str
    classes : DataFrame (index, id, name, optional description, group columns)
    """

    store: Store
    sample_ids: np.ndarray
    labels: np.ndarray
    topk: np.ndarray
    models: tuple[str, ...]
    classes: pd.DataFrame

    @classmethod
    def load(cls, store: Store | str) -> ReviewContext:
        s = open_store(store) if not isinstance(store, Store) else store
        names = s.model_names()
        kinds = predictor_kinds(s, names)
        models = [n for n, k in zip(names, kinds, strict=True) if k == "model"]
        pred = s.load(models) if models else None
        labels = s.labels()
        topk = pred.topk if pred is not None else np.full((len(labels), 0, 1), -1, dtype=np.int32)
        return cls(s, s.sample_ids(), labels, topk, tuple(models), s.classes())

    @property
    def n(self) -> int:
        return len(self.labels)

    @cached_property
    def index_of(self) -> dict[str, int]:
        return {str(s): i for i, s in enumerate(self.sample_ids)}

    @cached_property
    def names(self) -> list[str]:
        return [str(x) for x in self.classes["name"]]

    @cached_property
    def descriptions(self) -> list[str]:
        for col in ("description", "definition", "gloss"):
            if col in self.classes.columns:
                return ["" if pd.isna(x) else str(x) for x in self.classes[col]]
        return [""] * len(self.classes)

    @cached_property
    def groups(self) -> list[tuple[str, list[int]]]:
        """(group name, class indices) for browsing: a ``group`` column of the classes table,
        the ImageNet groups for an ImageNet store, all classes in one group when there are at
        most 40, else classes by first letter."""
        if "group" in self.classes.columns:
            out: dict[str, list[int]] = {}
            for i, g in enumerate(self.classes["group"]):
                out.setdefault(str(g), []).append(i)
            return sorted(out.items())
        from misclass.data.imagenet_annotations import is_imagenet_classes

        if is_imagenet_classes(self.classes["id"]):
            from misclass.data.label_sets import load_class_groups

            g = load_class_groups(["imagenet"], self.classes)
            return [(name, np.flatnonzero(row).tolist())
                    for name, row in zip(g.names, g.members, strict=True)]
        if len(self.names) <= 40:
            return [("All classes", list(range(len(self.names))))]
        out = {}
        for i, name in enumerate(self.names):
            out.setdefault(name[:1].upper() or "?", []).append(i)
        return sorted(out.items())

    def check_index(self, i: int, where: str = "sample") -> int:
        if not 0 <= int(i) < self.n:
            raise InputError(f"{where}: sample index {i} is outside 0..{self.n - 1}")
        return int(i)

    def check_class(self, c: int, where: str = "class") -> int:
        if not 0 <= int(c) < len(self.classes):
            raise InputError(f"{where}: class {c} is outside 0..{len(self.classes) - 1}")
        return int(c)

    @cached_property
    def _candidate_sets(self) -> dict[tuple[int, bool], frozenset[int]]:
        return {}

    def candidate_set(self, i: int, *, top5: bool = False) -> frozenset[int]:
        """The candidate classes of image ``i`` (cached: progress checks ask often)."""
        key = (int(i), bool(top5))
        cache = self._candidate_sets
        if key not in cache:
            cache[key] = frozenset(c.index for c in self.candidates(i, top5=top5))
        return cache[key]

    def candidates(self, i: int, *, top5: bool = False) -> list[Candidate]:
        return candidate_labels(self.topk[i], int(self.labels[i]), top5=top5, names=self.names,
                                descriptions=self.descriptions)

    def search_classes(self, query: str, *, limit: int = 30) -> list[int]:
        """Classes whose name contains every word of ``query`` (case-insensitive); names that
        start with the query first."""
        words = [w for w in query.lower().split() if w]
        if not words:
            return []
        q = query.lower().strip()
        hits = [i for i, n in enumerate(self.names) if all(w in n.lower() for w in words)]
        hits.sort(key=lambda i: (not self.names[i].lower().startswith(q), len(self.names[i]), i))
        return hits[:limit]

    def resolve_class(self, token: str, where: str) -> int:
        """A class given by index, id or unique name."""
        from misclass.data.label_sets import ClassResolver

        return ClassResolver(self.classes)(token, where)
