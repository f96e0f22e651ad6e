"""What ``misclass label-issues`` reads besides predictions: people's votes and review decisions.

- Votes: an (N, C) count matrix in store order, from a ``.npy`` file or from the store's
  predictors imported by ``misclass import votes`` (metadata ``source`` "votes"; the
  ``human-random`` one holds the vote shares as probabilities and ``n_votes`` per image, so
  ``counts = shares * n_votes``). Several imported vote sets add up.
- Review: the decisions and problematic flags of the review app (the store's
  ``annotations.sqlite`` or another database), tallied per (image, class), and the label sets
  they give (:func:`misclass.review.export.reviewed_labels`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from misclass.analysis.label_sources import ReviewVotes, check_vote_counts
from misclass.errors import InputError

if TYPE_CHECKING:
    from misclass.store import Store


def read_vote_file(path: str | os.PathLike, n: int, n_classes: int) -> np.ndarray:
    """An (n, n_classes) vote-count matrix from a ``.npy`` file (read and checked by
    :func:`misclass.data.votes.read_vote_counts`), rows in store order."""
    from misclass.data.votes import read_vote_counts

    return check_vote_counts(read_vote_counts(path), n, n_classes, f"votes {path}")


def vote_predictors(s: Store) -> list[str]:
    """The store's predictors that hold vote shares (``misclass import votes``: human-random)."""
    out = []
    for name in s.model_names():
        meta = s.model_metadata(name)
        if meta.get("source") == "votes" and meta.get("has_probs") and meta.get("accuracy") == "expected":
            out.append(name)
    return out


def store_vote_counts(s: Store) -> tuple[np.ndarray | None, list[str]]:
    """Vote counts rebuilt from the store's vote predictors (summed over them), and their names."""
    names = vote_predictors(s)
    if not names:
        return None, []
    total = None
    for name in names:
        shares = np.asarray(s.read_probs(name), dtype=np.float64)
        extra = s.read_per_image(name)
        if extra is None or "n_votes" not in extra.columns:
            raise InputError(f"model {name!r}: vote predictor without n_votes per image; import the "
                             "votes again (misclass import votes FILE --replace)")
        counts = np.rint(shares * extra["n_votes"].to_numpy(dtype=np.float64)[:, None]).astype(np.int64)
        total = counts if total is None else total + counts
    return total, names


@dataclass(frozen=True)
class ReviewInputs:
    """The review database's decisions (``votes``), the label sets they give (``sets``: N
    entries, None where nobody reviewed) and problematic flags, and where they came from."""

    votes: ReviewVotes
    sets: list[list[int] | None]
    problematic: np.ndarray
    url: str

    @property
    def n_reviewed(self) -> int:
        return sum(x is not None for x in self.sets)


def review_inputs(s: Store, db: str | None, *, required: bool) -> ReviewInputs | None:
    """The review decisions of the store (or of the database URL ``db``); None when there is no
    database or no decision in it (an error when ``required``)."""
    if db is None and not s.layout.annotations.is_file():
        if required:
            raise InputError(f"source review: no review database in {s.path} (nobody reviewed yet; "
                             "misclass review task NAME --kind label-issues creates a task)")
        return None
    from misclass.extras import require

    require("sqlalchemy", "review", feature="the review source of label-issues")
    from misclass.review.export import reviewed_labels
    from misclass.review.records import all_decisions, all_flags
    from misclass.review.schema import open_database

    database = open_database(s.path, db, create=False)
    try:
        ids = s.sample_ids()
        pos = {str(x): i for i, x in enumerate(ids)}
        decisions = [(pos[sid], c, v) for sid, c, _u, v in all_decisions(database) if sid in pos]
        flagged = [pos[sid] for sid, _u, p, _r in all_flags(database) if p and sid in pos]
        labels, _unmatched = reviewed_labels(database, ids)
        url = str(database.url)
    finally:
        database.dispose()
    if not decisions and not flagged:
        if required:
            raise InputError(f"source review: no review decisions in {url}")
        return None
    cols = list(zip(*decisions, strict=True)) if decisions else [[], [], []]
    votes = ReviewVotes.from_decisions(len(ids), *cols, flagged=flagged)
    return ReviewInputs(votes, labels.sets, labels.problematic, url)
