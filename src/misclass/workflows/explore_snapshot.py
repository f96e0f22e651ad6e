"""What the explorer reads from a store, loaded once: a snapshot of the predictions and what
is derived from them (class groups, votes, explain runs), and the fingerprint of the files it
was read from, so that a changed store is read again."""

from __future__ import annotations

import os
import threading
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from misclass.analysis.query import ImageTable
from misclass.errors import InputError

if TYPE_CHECKING:
    from misclass.store import Predictions, Store


class Snapshot:
    """The store's predictions as loaded at one moment, and what is derived from them."""

    def __init__(self, store: Store):
        from misclass.data.label_sets import ClassResolver
        from misclass.store.kinds import predictor_kinds

        self.store = store
        self.pred: Predictions = store.load()
        self.kinds = dict(zip(self.pred.models, predictor_kinds(store, self.pred.models), strict=True))
        self.models = tuple(m for m in self.pred.models if self.kinds[m] == "model")
        self.table = ImageTable(self.pred.labels, self.pred.top1,
                                models=[self.pred.models.index(m) for m in self.models])
        self.classes = store.classes()
        self.names = [str(x) for x in self.classes["name"]]
        self.resolve_class = ClassResolver(self.classes)
        self.sample_ids = self.pred.sample_ids.astype(str)
        self.scores: dict[str, np.ndarray | str] = {}  # score key -> values, or why not
        self.inputs: dict[str, Any] = {}  # model -> its failure-score inputs
        self.keys: dict[str, str | None] | None = None  # every score key -> None or why not
        self.lock = threading.RLock()
        #: (review database stamp, LabelIssuesResult or why not), computed on first use
        self.label_issues: tuple[tuple, Any] | None = None
        self.label_lock = threading.Lock()  # apart: other queries do not wait for label issues

    @cached_property
    def index_of(self) -> dict[str, int]:
        return {s: i for i, s in enumerate(self.sample_ids)}

    @cached_property
    def groups(self) -> dict[str, np.ndarray]:
        """Group name -> (C,) bool: a ``group`` column of the classes table, the ImageNet
        groups (and ImageNet-X metaclasses when installed) on ImageNet-1k stores."""
        out: dict[str, np.ndarray] = {}
        if "group" in self.classes.columns:
            col = self.classes["group"].astype(str).to_numpy()
            for g in sorted(set(col)):
                out[g] = col == g
            return out
        from misclass.data.imagenet_annotations import is_imagenet_classes

        if is_imagenet_classes(self.classes["id"]):
            from misclass.data.label_sets import load_class_groups
            from misclass.errors import MissingExtraError

            for spec in ("imagenet", "metaclasses"):
                try:
                    g = load_class_groups([spec], self.classes)
                except (MissingExtraError, InputError, OSError):
                    continue
                for name, row in zip(g.names, g.members, strict=True):
                    out.setdefault(str(name), np.asarray(row, dtype=bool))
        return out

    @cached_property
    def sample_id_rank(self) -> np.ndarray:
        ranks = np.empty(len(self.sample_ids), dtype=np.float64)
        ranks[np.argsort(self.sample_ids, kind="stable")] = np.arange(len(self.sample_ids))
        return ranks

    @cached_property
    def votes(self) -> dict[str, Any]:
        """Predictors imported from people's votes (metadata ``source`` "votes"), with their
        per-image table and full vote shares where stored."""
        out = {}
        for m in self.pred.models:
            meta = self.store.model_metadata(m)
            if meta.get("source") == "votes":
                out[m] = {"per_image": self.store.read_per_image(m), "shares": self.store.read_probs(m)}
        return out

    @cached_property
    def explain(self) -> dict[str, dict[str, Any]]:
        """Model -> its saved explain run (:func:`misclass.workflows.explain.saved_explanations`):
        per-image outcomes by store row, the saved example images and their rows."""
        if not self.store.layout.explain.is_dir():
            return {}
        from misclass.workflows.explain import saved_explanations

        out = {}
        for run in saved_explanations(self.store):
            rows = {}
            for rec in run.payload.get("images", []):
                i = self.index_of.get(str(rec.get("sample_id")))
                if i is not None:
                    rows[i] = rec
            arrays = run.triplets
            triplets = {str(s): k for k, s in enumerate(arrays.get("sample_id", []))}
            out[run.model] = {"rows": rows, "arrays": arrays, "triplets": triplets,
                              "method": run.payload.get("method")}
        return out


def fingerprint(store: Store) -> tuple:
    """Sizes and modification times of the files a snapshot reads."""
    layout = store.layout
    out = []
    for folder in (layout.models, layout.explain):
        try:
            with os.scandir(folder) as it:
                out.extend((e.name, e.stat().st_mtime_ns, e.stat().st_size) for e in it if e.is_file())
        except OSError:
            pass
    for path in (layout.samples, layout.classes):
        try:
            st = path.stat()
            out.append((path.name, st.st_mtime_ns, st.st_size))
        except OSError:
            pass
    return tuple(sorted(out))
