"""From reviewers' decisions to label sets, problematic flags and disagreements. Pure functions.

Decisions are records ``(sample, class, reviewer, value)`` with ``sample`` a store index
(0..N-1) and ``value`` one of correct / wrong / unclear / unknown (latest per reviewer).

Rules (as in the ImageNet multi-label review):

- a class is in an image's set when more of its reviewers marked it correct than wrong;
- an image has a set once anyone decided on one of its classes or flagged it; a set may be
  empty (no class judged correct: "no valid label");
- an image is problematic when any reviewer's flag on it is set.

>>> out = aggregate_decisions(3, [0, 0, 0, 1], [4, 5, 4, 2], ["ann", "ann", "bob", "ann"],
...                           ["correct", "wrong", "correct", "unclear"])
>>> out.sets
[[4], [], None]
>>> find_disagreements([0, 0], [4, 4], ["ann", "bob"], ["correct", "wrong"])
[(0, 4)]
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from misclass.analysis.labels import LabelSets
from misclass.errors import InputError

VALUES = ("correct", "wrong", "unclear", "unknown")


@dataclass(frozen=True)
class ReviewedLabels:
    """Label sets from review: ``sets`` (N lists, None where nothing was decided),
    ``problematic (N,)`` bool, ``reasons`` (N strings), ``reviewers (N,)`` int."""

    sets: list[list[int] | None]
    problematic: np.ndarray
    reasons: list[str]
    reviewers: np.ndarray

    def label_sets(self, source: str = "review") -> LabelSets:
        return LabelSets.from_lists(self.sets, problematic=self.problematic, source=source)


def aggregate_decisions(n: int, samples: Sequence[int], classes: Sequence[int],
                        reviewers: Sequence[Hashable], values: Sequence[str], *,
                        flags: Sequence[tuple[int, Hashable, bool, str]] = ()) -> ReviewedLabels:
    """Label sets of ``n`` images from decisions and flags ``(sample, reviewer, problematic, reason)``."""
    if not (len(samples) == len(classes) == len(reviewers) == len(values)):
        raise InputError("decisions: samples, classes, reviewers and values differ in length")
    votes: dict[int, dict[int, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    who: dict[int, set] = defaultdict(set)
    for s, c, r, v in zip(samples, classes, reviewers, values, strict=True):
        s = int(s)
        if not 0 <= s < n:
            raise InputError(f"decisions: sample index {s} is outside 0..{n - 1}")
        if v not in VALUES:
            raise InputError(f"decisions: value {v!r} is not one of {', '.join(VALUES)}")
        who[s].add(r)
        tally = votes[s][int(c)]
        if v == "correct":
            tally[0] += 1
        elif v == "wrong":
            tally[1] += 1
    sets: list[list[int] | None] = [None] * n
    for s in who:
        sets[s] = sorted(c for c, (yes, no) in votes[s].items() if yes > no)
    problematic = np.zeros(n, dtype=bool)
    reasons = [""] * n
    for s, r, flagged, reason in flags:
        s = int(s)
        if not 0 <= s < n:
            raise InputError(f"flags: sample index {s} is outside 0..{n - 1}")
        if flagged:
            who[s].add(r)
            if sets[s] is None:
                sets[s] = []
            problematic[s] = True
            if reason:
                reasons[s] = f"{reasons[s]}; {reason}" if reasons[s] else reason
    reviewers_n = np.zeros(n, dtype=np.int64)
    for s, rs in who.items():
        reviewers_n[s] = len(rs)
    return ReviewedLabels(sets, problematic, reasons, reviewers_n)


def find_disagreements(samples: Sequence[int], classes: Sequence[int], reviewers: Sequence[Hashable],
                       values: Sequence[str]) -> list[tuple[int, int]]:
    """(sample, class) pairs that reviewers judged differently, sorted; "unknown" (don't know)
    takes no side."""
    seen: dict[tuple[int, int], set[str]] = defaultdict(set)
    for s, c, _r, v in zip(samples, classes, reviewers, values, strict=True):
        if v != "unknown":
            seen[(int(s), int(c))].add(v)
    return sorted(k for k, vs in seen.items() if len(vs) > 1)
