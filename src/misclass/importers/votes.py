"""People's votes as two predictors of kind ``human`` (``misclass import votes``).

From an (N, C) count matrix (:func:`misclass.data.votes.read_vote_counts`):

- ``human-majority``: the most voted class of each image (a tie goes to the lowest class id),
  then the other voted classes by votes, up to ``k``; ``topk_probs`` are the vote shares.
- ``human-random``: a person drawn at random from each image's voters. Its stored top-1 is the
  most likely answer (the majority class, k = 1), its full probabilities (``probs.npy``) are
  the vote shares, and its metadata says ``"accuracy": "expected"``: the store computes its
  ``top1`` as the mean over labelled images of ``probs[i, label]`` = ``count[label] / total``,
  the expected accuracy of a random person, and keeps it so when labels or samples change.
  ``misclass models`` shows that expectation (top-5: "–", one person gives one answer).

Both carry the per-image agreement in their ``per_image.parquet``: ``n_votes``,
``top_share``, ``entropy_bits``, ``tied``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from misclass.analysis.humans import vote_shares, vote_summary
from misclass.data.votes import read_vote_counts
from misclass.errors import InputError
from misclass.importers.readers import ForeignPredictions, ids_for_rows, topk_from_probs

#: How a tie for the most votes is broken (recorded in the metadata).
TIE_BREAK = "lowest class id"


def read_votes(path: str | Path, ids_path: str | Path | None = None, *, prefix: str = "human",
               k: int = 5) -> list[ForeignPredictions]:
    """``PREFIX-majority`` and ``PREFIX-random`` from a vote-count ``.npy`` file; rows in the
    order of ``ids_path`` (see :func:`misclass.importers.readers.read_ids`) or, when None, the
    store's sample order. Every image needs at least one vote."""
    path = Path(path)
    counts = read_vote_counts(path)
    none = np.flatnonzero(counts.sum(axis=1) == 0)
    if len(none):
        raise InputError(f"{path}: row {none[0] + 1} has no votes; every image needs at least one "
                         f"({len(none):,} rows have none)")
    ids, labels = ids_for_rows(path, len(counts), ids_path)
    summary = vote_summary(counts)
    shares = vote_shares(counts)
    topk, tprobs = topk_from_probs(shares, k)  # stable sort: ties go to the lower class id
    per_image = summary.to_frame()
    meta = {"source": "votes", "file": str(path.resolve()), "kind": "human",
            "order": "store" if ids_path is None else str(Path(ids_path).resolve()),
            "n_voters_min": int(summary.n_votes.min()), "n_voters_max": int(summary.n_votes.max()),
            "n_votes": int(summary.n_votes.sum()), "tie_break": TIE_BREAK,
            "n_tied": int(summary.tied.sum())}
    common = {"source": str(path), "sample_ids": ids, "labels": labels, "per_image": per_image}
    majority = ForeignPredictions(
        name=f"{prefix}-majority", topk_ids=topk, topk_probs=tprobs,
        metadata=dict(meta, predictor="the most voted class (ties: the lowest class id)"),
        **common)
    random = ForeignPredictions(
        name=f"{prefix}-random", topk_ids=topk[:, :1], topk_probs=tprobs[:, :1],
        probs=shares.astype(np.float32),
        metadata=dict(meta, accuracy="expected",
                      predictor="a person drawn at random from each image's voters; accuracy is "
                      "the expectation, the mean of count[label] / total"),
        **common)
    return [majority, random]
