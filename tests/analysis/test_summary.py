"""Top-k accuracy (misclass.analysis.summary) against scikit-learn's top_k_accuracy_score."""

from __future__ import annotations

import numpy as np
from _reference import check_against, generated, sklearn_topk_accuracy

from misclass.analysis.summary import topk_accuracy


def _case(rng: np.random.Generator):
    """N images, M models that each rank K distinct classes of C; some labels unknown (-1);
    some models stored fewer than k predictions; k from 1 to past K."""
    n, m, c = int(rng.integers(1, 80)), int(rng.integers(1, 5)), int(rng.integers(3, 12))
    stored = int(rng.integers(1, c + 1))
    labels = rng.integers(0, c, n)
    labels[rng.random(n) < 0.1] = -1
    topk = np.stack([np.stack([rng.permutation(c)[:stored] for _ in range(m)]) for _ in range(n)])
    hit = rng.random((n, m)) < rng.uniform(0, 1, m)  # models of different accuracies
    for j in range(m):
        rows = hit[:, j] & (labels >= 0)
        rank = rng.integers(0, stored, rows.sum())
        # put the label at a random rank, the class that was there where the label was
        for i, r in zip(np.flatnonzero(rows), rank, strict=True):
            row = topk[i, j]
            at = np.flatnonzero(row == labels[i])
            if len(at):
                row[at[0]] = row[r]
            row[r] = labels[i]
    model_k = rng.integers(1, stored + 1, m) if rng.random() < 0.5 else None
    return labels, topk, int(rng.integers(1, stored + 2)), c, model_k


def test_topk_accuracy_against_sklearn():
    check_against(lambda labels, topk, k, c, model_k: topk_accuracy(labels, topk, k, model_k),
                  sklearn_topk_accuracy, generated(_case, n=120, seed=4), rtol=1e-12,
                  name="topk_accuracy vs sklearn top_k_accuracy_score")


def _misclassified_by_counter(labels, top1):
    """find_misclassified's columns image by image: collections.Counter of the wrong guesses
    (ties: the lowest class id), rows ordered by models wrong (most first), then row."""
    from collections import Counter

    out = []
    for i, (y, row) in enumerate(zip(labels.tolist(), top1.tolist(), strict=True)):
        guesses = Counter(p for p in row if y >= 0 and p != y)
        if guesses:
            most = max(guesses.values())
            out.append((-sum(guesses.values()), i, y, min(p for p, c in guesses.items() if c == most)))
    out.sort()
    cols = list(zip(*out, strict=True)) or [(), (), (), ()]
    return (np.array(cols[1], dtype=np.int64), np.array(cols[2], dtype=np.int64),
            -np.array(cols[0], dtype=np.int64), np.array(cols[3], dtype=np.int64))


def test_find_misclassified_against_a_counter_per_image():
    from misclass.analysis.summary import find_misclassified

    def make(rng):
        n, m, c = int(rng.integers(0, 60)), int(rng.integers(1, 9)), int(rng.integers(2, 6))
        labels = rng.integers(-1, c, n)
        return labels, rng.integers(0, c, (n, m)).astype(np.int32 if rng.random() < 0.5 else np.int64)

    def found(labels, top1):
        f = find_misclassified(labels, top1)
        return tuple(f[c].to_numpy(dtype=np.int64) for c in ("index", "label", "n_wrong", "prediction"))

    assert check_against(found, _misclassified_by_counter, generated(make, n=300)) == 300
