"""Right/wrong patterns of a few models: every count of the cross-model analysis from one
histogram.

With M models, an image's *pattern* is the integer whose bit j says whether model j
classifies it correctly. For M up to :data:`MAX_PATTERN_MODELS` there are at most 4,096
patterns, so one histogram of them (``hist[p]`` images with pattern p) holds everything the
pair matrices, every combination and the greedy curve need:

- the Gram matrix ``|T_A ∩ T_B|`` is ``B.T @ diag(hist) @ B`` with ``B`` the (2^M, M) bit
  matrix of the patterns;
- the images a set S of models all miss are those whose pattern has no bit of S; with the
  subset sums ``f[U] = sum of hist[p] over patterns p ⊆ U`` (one pass per model), that is
  ``f[~S]``: one lookup per combination.

Per class, one bincount of (class, pattern) cells gives the corrected / got-corrected and
correct counts of every model (:func:`class_pattern_table`, :func:`class_pattern_sums`), and
its column sums are the histogram.

>>> import numpy as np
>>> correct, code = pattern_codes(np.array([[0, 1], [1, 1], [2, 0]]), np.array([0, 1, 1]))
>>> code.tolist()
[1, 3, 0]
>>> hist = np.bincount(code, minlength=4)
>>> pattern_gram(hist, 2).tolist()
[[2, 1], [1, 1]]
>>> missed_counts(subset_sums(hist, 2), np.array([1, 2, 3]), 2).tolist()  # {a}, {b}, {a, b}
[1, 2, 1]
"""

from __future__ import annotations

import sys

import numpy as np

#: Up to this many models, :func:`~misclass.analysis.crossmodel.compare_models` counts on patterns.
MAX_PATTERN_MODELS = 12
#: The (class, pattern) table of :func:`class_pattern_sums` is used up to this many cells
#: (2 MiB of counts); beyond it, per-model bincounts.
MAX_CLASS_CELLS = 1 << 18

_LITTLE_ENDIAN = sys.byteorder == "little"
_GATHER = np.uint64(0x0102040810204080)  # moves the low bit of each of 8 bytes into the top byte


def pattern_codes(top1: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``correct = top1 == labels[:, None]`` (N, M) bool and each image's pattern (N,) uint16
    (bit j: model j is right), for M <= 16.

    Each row of ``correct`` is read as one little-endian 64-bit word (8 models at a time)
    and a multiplication gathers its eight 0/1 bytes into eight bits.
    """
    n, m = top1.shape
    if m > 16:
        raise ValueError(f"patterns hold at most 16 models, got {m}")
    raw = np.zeros(n * m + 8, dtype=np.uint8)  # 8 bytes of slack: the last word reads past row N-1
    correct = raw[:n * m].reshape(n, m).view(bool)
    info = np.iinfo(top1.dtype) if np.issubdtype(top1.dtype, np.integer) else None
    if info is not None and n and info.min <= labels.min() and labels.max() <= info.max:
        labels = labels.astype(top1.dtype, copy=False)  # compare in top1's width: faster
    # one flat comparison against the repeated labels beats a broadcast over rows of m
    np.equal(top1.reshape(-1), np.repeat(labels, m), out=correct.reshape(-1))
    if not _LITTLE_ENDIAN or n == 0:  # the word trick needs little-endian words
        weights = (1 << np.arange(m)).astype(np.uint16)
        return correct, (correct.astype(np.uint16) * weights).sum(axis=1, dtype=np.uint16)
    code = np.zeros(n, dtype=np.uint16)
    for start in range(0, m, 8):
        width = min(8, m - start)
        word = np.ndarray((n,), dtype=np.uint64, buffer=raw, offset=start, strides=(m,))
        byte = word & np.uint64((1 << (8 * width)) - 1)
        byte *= _GATHER
        byte >>= np.uint64(56)
        code |= byte.astype(np.uint16) << start
    return correct, code


def pattern_bits(m: int) -> np.ndarray:
    """(2^m, m) 0/1 matrix: row p holds the bits of pattern p."""
    return (np.arange(1 << m)[:, None] >> np.arange(m)) & 1


def pattern_gram(hist: np.ndarray, m: int) -> np.ndarray:
    """``|T_A ∩ T_B|`` (int64, (m, m)) from the pattern histogram."""
    bits = pattern_bits(m).astype(np.float64)
    return np.rint(bits.T @ (hist[:, None] * bits)).astype(np.int64)  # exact: counts < 2^53


def subset_sums(hist: np.ndarray, m: int) -> np.ndarray:
    """``f[U]`` = images whose set of right models lies within U (int64, (2^m,))."""
    f = np.array(hist, dtype=np.int64)
    for j in range(m):  # add each pattern without bit j to the one with it
        view = f.reshape(-1, 2, 1 << j)
        view[:, 1] += view[:, 0]
    return f


def missed_counts(sums: np.ndarray, masks: np.ndarray, m: int) -> np.ndarray:
    """Images every model of each set misses, for sets given as bit masks (``sums`` from
    :func:`subset_sums`)."""
    return sums[((1 << m) - 1) ^ np.asarray(masks, dtype=np.int64)]


def right_counts(m: int) -> np.ndarray:
    """Number of right models of each pattern (uint8, (2^m,))."""
    return pattern_bits(m).sum(axis=1).astype(np.uint8)


def class_pattern_table(labels: np.ndarray, code: np.ndarray, m: int, c: int) -> np.ndarray:
    """Images of each (class, pattern) cell: (c, 2^m) int64; its column sums are the
    pattern histogram."""
    cells = np.asarray(labels, dtype=np.int64) << m
    cells |= code
    return np.bincount(cells, minlength=c << m).reshape(c, 1 << m)


def class_pattern_sums(table: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per class and model: corrected, got-corrected and correct counts (each (c, m) int64),
    and the images per class (c,), from the (class, pattern) table.

    With ``R[c, j]`` the images of class c model j gets right and ``S[c, j]`` the sum of
    their numbers of right models k: corrected = ``m R - S`` (each such image corrects its
    m - k wrong models) and got-corrected = ``sum_j R[c, j] - S`` (the images of c model j
    misses are corrected by their k right models).
    """
    bits = pattern_bits(m)
    k = right_counts(m)[:, None]
    weights = np.hstack([bits, bits * k, np.ones_like(k)]).astype(np.float64)
    sums = np.rint(table.astype(np.float64) @ weights).astype(np.int64)  # exact: counts < 2^53
    right, weighted, n_images = sums[:, :m], sums[:, m:2 * m], sums[:, 2 * m]
    corrected = m * right - weighted
    got_corrected = right.sum(axis=1, keepdims=True) - weighted
    return corrected, got_corrected, np.ascontiguousarray(right), n_images


def pattern_failure_rows(code: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows every model misses, rows exactly one model misses and that model's column, from the
    pattern ``code`` of each row (see :func:`pattern_codes`)."""
    missed = code ^ np.uint16((1 << m) - 1)  # bit j: model j is wrong
    every = np.flatnonzero(missed == (1 << m) - 1)
    single = missed & (missed - np.uint16(1))  # zero when at most one bit is set
    one = np.flatnonzero((single == 0) & (missed != 0))
    who = np.log2(missed[one]).astype(np.int64)  # exact for powers of two
    return every, one, who
