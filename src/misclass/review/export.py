"""Review results out: label sets for ``misclass evaluate --labels review``, JSONL export,
and labelers' picks as predictors of kind ``human``."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from misclass.analysis.labels import LabelSets
from misclass.errors import InputError, StoreError
from misclass.review.aggregate import ReviewedLabels, aggregate_decisions
from misclass.review.records import all_decisions, all_flags, all_picks
from misclass.review.schema import Database, open_database
from misclass.store import Store, open_store
from misclass.store.files import atomic_write as _atomic_write

HUMAN_PREFIX = "human-"
_write_lock = threading.Lock()


def reviewed_labels(db: Database, sample_ids: Sequence[str]) -> tuple[ReviewedLabels, int]:
    """Aggregate every decision and flag (see :mod:`misclass.review.aggregate`); also return how
    many reviewed images are not in ``sample_ids``."""
    pos = {str(s): i for i, s in enumerate(sample_ids)}
    dec = [(pos[s], c, u, v) for s, c, u, v in all_decisions(db) if s in pos]
    flags = [(pos[s], u, p, r) for s, u, p, r in all_flags(db) if s in pos]
    unmatched = len({s for s, *_ in all_decisions(db)} - set(pos))
    cols = list(zip(*dec, strict=True)) if dec else [[], [], [], []]
    return aggregate_decisions(len(pos), *cols, flags=flags), unmatched


def review_label_sets(store: Store | str | os.PathLike, db: str | None = None, *,
                      sample_ids: Sequence[str] | None = None) -> LabelSets:
    """The review decisions of a store as :class:`LabelSets` for ``sample_ids`` (default: the
    store's, in order); ``db`` is another SQLAlchemy URL."""
    s = store if isinstance(store, Store) else open_store(store)
    database = open_database(s.path, db, create=False)
    try:
        ids = s.sample_ids() if sample_ids is None else sample_ids
        labels, unmatched = reviewed_labels(database, ids)
    finally:
        database.dispose()
    if not any(x is not None for x in labels.sets):
        raise InputError(f"--labels review: no reviewed images in {database.url}")
    sets = labels.label_sets(source=f"review ({database.url})")
    return LabelSets(sets.indptr, sets.indices, sets.has_set, sets.problematic, sets.source, unmatched)


def export_jsonl(db: Database, sample_ids: Sequence[str], out: str | os.PathLike) -> int:
    """Write one JSON object a line per reviewed image: ``sample_id``, ``labels``, ``problematic``,
    ``reason``, ``reviewers``. Written to a temporary file and renamed; returns the line count."""
    labels, _ = reviewed_labels(db, sample_ids)
    out = Path(out)
    if out.is_dir():
        raise InputError(f"--out {out}: is a folder; give a file name such as review.jsonl")
    rows = [json.dumps({"sample_id": str(sample_ids[i]), "labels": s,
                        "problematic": bool(labels.problematic[i]), "reason": labels.reasons[i],
                        "reviewers": int(labels.reviewers[i])})
            for i, s in enumerate(labels.sets) if s is not None]
    _atomic_write(out, lambda tmp: tmp.write_text("".join(r + "\n" for r in rows)))
    return len(rows)


def write_human_predictors(store: Store, db: Database, *, users: Sequence[str] | None = None) -> list[str]:
    """Write each labeler's picks as predictor ``human-NAME`` (kind ``human``; -1 where the
    labeler gave no class), all in one commit. Returns the predictor names written."""
    picks = all_picks(db)
    n = store.n_samples
    written = []
    with _write_lock, store.transaction():  # every labeler's predictor in one commit
        for user, rows in picks.items():
            if users is not None and user not in users:
                continue
            name = f"{HUMAN_PREFIX}{user}"
            if store.has_model(name) and store.model_metadata(name).get("source") != "review":
                raise StoreError(f"model {name!r} is in the store but did not come from review; "
                                 "rename it before publishing this labeler's picks")
            ids = np.full((n, 1), -1, dtype=np.int32)
            for i, c in rows:
                if 0 <= i < n:
                    ids[i, 0] = c
            store.write_model(name, ids, metadata={"kind": "human", "source": "review",
                                                   "n_labeled": len(rows)}, replace=True)
            written.append(name)
    return written
