"""Oracle ("virtual") accuracy of model combinations, computed on bit sets.

The virtual accuracy of a set S of models is the share of images that at least one model of
S classifies correctly: ``|T_A ∪ T_B ∪ ...| / N``. Every computation here works on the
columns of ``correct (N, M)`` packed into bit sets (``(M, W)`` uint64, one bit per image) and
counts bits with a popcount, so the cost per combination is ``N / 64`` word operations and
there is no Python loop over images.

- :func:`virtual_accuracy_table`: every combination of the given sizes (exhaustive).
- :func:`best_combination`: the best combination of one size, exact by branch and bound
  (pruned by an upper bound on what the remaining models can add), or greedy.
- :func:`greedy_curve`: oracle accuracy as models are added greedily, one at a time.
- :func:`search_combinations`: all of the above for sizes 1..k, choosing per size between
  exhaustive listing, branch and bound and greedy by the number of combinations.

>>> import numpy as np
>>> correct = np.array([[1, 0, 0], [0, 1, 0], [0, 1, 1], [0, 0, 0]], dtype=bool)
>>> res = search_combinations(correct, 2, models=["a", "b", "c"])
>>> res.best[2].models, res.best[2].virtual_accuracy, res.best[2].method
(('a', 'b'), 0.75, 'exact')
>>> res.table.to_dict("list")["virtual_accuracy"]
[0.75, 0.5, 0.5]
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from math import comb

import numpy as np
import pandas as pd

from misclass.analysis.patterns import missed_counts, subset_sums
from misclass.analysis.search_limits import LIST_LIMIT, MAX_COMBINATIONS
from misclass.errors import InputError

#: With more models than this, enumeration restricts bit sets to the first model's misses.
PROJECT_ABOVE = 24

Progress = Callable[[str, int, int], None]
"""``progress(description, done, total)``, called while long enumerations run."""

_POPCOUNT8 = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def popcount(bits: np.ndarray) -> np.ndarray:
    """Number of set bits along the last axis of a uint64 bit-set array (int64)."""
    if hasattr(np, "bitwise_count"):  # numpy >= 2.0
        return np.bitwise_count(bits).sum(axis=-1, dtype=np.int64)
    as_bytes = bits.view(np.uint8)
    return _POPCOUNT8[as_bytes].sum(axis=-1, dtype=np.int64)


def pack_columns(mask: np.ndarray) -> np.ndarray:
    """Pack the columns of a boolean ``(N, M)`` matrix into bit sets ``(M, W)`` uint64.

    Bit ``i`` of row ``m`` is ``mask[i, m]``; padding bits are zero.

    >>> pack_columns(np.array([[True], [False], [True]])).tolist()
    [[5]]
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2:
        raise InputError(f"expected an (N, M) boolean matrix, got shape {mask.shape}")
    packed = np.packbits(np.ascontiguousarray(mask.T), axis=1, bitorder="little")
    pad = (-packed.shape[1]) % 8
    if pad or packed.shape[1] == 0:
        packed = np.pad(packed, ((0, 0), (0, pad if packed.shape[1] else 8)))
    return np.ascontiguousarray(packed).view(np.uint64)


@dataclass(frozen=True)
class BestCombination:
    """The best combination of one size found: names, virtual accuracy and how it was found.

    ``method`` is ``"exact"`` or ``"greedy"``; ``search`` says which exact search ran
    (``"exhaustive"`` or ``"branch-and-bound"``) or ``"greedy"``.
    """

    size: int
    models: tuple[str, ...]
    virtual_accuracy: float
    method: str
    search: str

    def to_dict(self) -> dict:
        return {"models": list(self.models), "virtual_accuracy": self.virtual_accuracy,
                "method": self.method, "search": self.search}


@dataclass(frozen=True)
class CombinationSearch:
    """Virtual accuracy of combinations of 2..k models.

    Attributes
    ----------
    models : M names; n : images
    best : dict of int to BestCombination
        The best combination of each size 1..k.
    listed : dict of size to (combinations (K, size) model columns, images missed (K,))
        Every combination of each listed size, in ``itertools.combinations`` order; sizes
        with too many combinations are absent. ``table`` gives them as a DataFrame
        (``size``, ``models`` (tuple of names), ``virtual_accuracy``).
    greedy_order, greedy_covered : (M,) the model added at each greedy step and the images
        covered after it; ``greedy`` gives ``step``, ``added``, ``virtual_accuracy``.
    """

    models: tuple[str, ...]
    n: int
    best: dict[int, BestCombination]
    listed: dict[int, tuple[np.ndarray, np.ndarray]]
    greedy_order: np.ndarray
    greedy_covered: np.ndarray

    @property
    def listed_sizes(self) -> tuple[int, ...]:
        """Sizes whose combinations are all in ``table``."""
        return tuple(self.listed)

    @property
    def table(self) -> pd.DataFrame:
        return _table(list(self.listed.values()), self.models, self.n)

    @property
    def greedy(self) -> pd.DataFrame:
        return pd.DataFrame({"step": np.arange(1, len(self.greedy_order) + 1),
                             "added": [self.models[i] for i in self.greedy_order],
                             "virtual_accuracy": self.greedy_covered / self.n})

    def to_dict(self) -> dict:
        names = np.asarray(self.models, dtype=object)
        return {
            "combinations": [{"models": list(names[row]), "virtual_accuracy": (self.n - int(miss)) / self.n}
                             for combos, missed in self.listed.values()
                             for row, miss in zip(combos, missed, strict=True)],
            "best": {int(s): b.to_dict() for s, b in self.best.items()},
            "greedy_curve": [{"step": i + 1, "added": self.models[j], "virtual_accuracy": int(c) / self.n}
                             for i, (j, c) in enumerate(zip(self.greedy_order, self.greedy_covered,
                                                            strict=True))],
            "listed_sizes": list(self.listed_sizes),
        }


def _check(correct: np.ndarray) -> np.ndarray:
    correct = np.asarray(correct)
    if correct.ndim != 2 or correct.dtype != bool:
        raise InputError(f"correct must be a boolean (N, M) matrix, got {correct.dtype} {correct.shape}")
    if correct.shape[0] == 0:
        raise InputError("correct has no images (no rows)")
    return correct


def _enumerate_size(wrong: np.ndarray, size: int, progress: Progress | None,
                    missed_bits: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """All combinations of ``size`` models and how many images each misses (all members wrong).

    With many models, the bit sets of the models after the first are restricted to the
    images the first model misses, so the inner popcounts run over ``|F_a|`` bits instead of
    ``N``; with few, the bit sets ``missed_bits`` (packed ``wrong``) are used as they are.
    """
    n, m = wrong.shape
    project = m > PROJECT_ABOVE
    total = comb(m, size)
    combos = np.empty((total, size), dtype=np.int32)
    missed = np.empty(total, dtype=np.int64)
    pos = 0
    if size == 1:
        combos[:, 0] = np.arange(m)
        missed[:] = wrong.sum(axis=0)
        return combos, missed
    done_prefixes = 0
    n_prefixes = comb(m, size - 1)

    def leaves(prefix: list[int], bits: np.ndarray | None, sub: np.ndarray, offset: int) -> None:
        # sub: bit sets of models offset.. restricted to the first model's misses
        nonlocal pos
        last = prefix[-1]
        cand = sub[last + 1 - offset:]
        cnt = popcount(cand if bits is None else cand & bits)
        k = len(cnt)
        combos[pos:pos + k, :-1] = prefix
        combos[pos:pos + k, -1] = np.arange(last + 1, m)
        missed[pos:pos + k] = cnt
        pos += k

    def walk(prefix: list[int], bits: np.ndarray | None, sub: np.ndarray, offset: int) -> None:
        nonlocal done_prefixes
        if len(prefix) == size - 1:
            leaves(prefix, bits, sub, offset)
            done_prefixes += 1
            if progress is not None and done_prefixes % 256 == 0:
                progress(f"{size}-model combinations", done_prefixes, n_prefixes)
            return
        for b in range(prefix[-1] + 1, m - (size - len(prefix)) + 1):
            row = sub[b - offset]
            walk(prefix + [b], row if bits is None else bits & row, sub, offset)

    if not project and missed_bits is None:
        missed_bits = pack_columns(wrong)
    for a in range(m - size + 1):
        if project:
            rows = np.flatnonzero(wrong[:, a])
            walk([a], None, pack_columns(wrong[rows, a + 1:]), a + 1)
        else:
            walk([a], missed_bits[a], missed_bits, 0)
    if progress is not None:
        progress(f"{size}-model combinations", n_prefixes, n_prefixes)
    assert pos == total
    return combos, missed


def _enumerate_by_patterns(sums: np.ndarray, m: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_enumerate_size` by lookups in the subset sums of the pattern histogram."""
    combos = np.array(list(itertools.combinations(range(m), size)), dtype=np.int32).reshape(-1, size)
    masks = np.bitwise_or.reduce(np.left_shift(1, combos, dtype=np.int64), axis=1)
    return combos, missed_counts(sums, masks, m)


def _greedy_by_patterns(sums: np.ndarray, m: int) -> tuple[list[int], list[int]]:
    """:func:`_greedy` by lookups in the subset sums of the pattern histogram."""
    n = int(sums[-1])
    chosen: list[int] = []
    covered: list[int] = []
    mask = 0
    available = np.ones(m, dtype=bool)
    singles = np.left_shift(1, np.arange(m), dtype=np.int64)
    for _ in range(m):
        cover = np.where(available, n - missed_counts(sums, mask | singles, m), -1)
        c = int(np.argmax(cover))
        chosen.append(c)
        available[c] = False
        mask |= 1 << c
        covered.append(int(cover[c]))
    return chosen, covered


def virtual_accuracy_table(correct: np.ndarray, sizes: Sequence[int], *, models: Sequence[str],
                           progress: Progress | None = None) -> pd.DataFrame:
    """Virtual accuracy of every combination of each size in ``sizes``.

    Parameters
    ----------
    correct : (N, M) bool
        Whether each model classifies each image correctly.
    sizes : sizes of the combinations (each 1..M)
    models : M names

    Returns
    -------
    DataFrame with ``size``, ``models`` (tuple of names) and ``virtual_accuracy``.
    """
    correct = _check(correct)
    n, m = correct.shape
    for size in sizes:
        if not 1 <= size <= m:
            raise InputError(f"combination size {size} is outside 1..{m}")
    wrong = ~correct
    bits = None if m > PROJECT_ABOVE or not sizes else pack_columns(wrong)
    found = [_enumerate_size(wrong, size, progress, bits) for size in sizes]
    return _table(found, models, n)


def _table(found: list[tuple[np.ndarray, np.ndarray]], models: Sequence[str], n: int) -> pd.DataFrame:
    names = np.asarray(list(models), dtype=object)
    if not found:
        return pd.DataFrame({"size": pd.Series(dtype=int), "models": pd.Series(dtype=object),
                             "virtual_accuracy": pd.Series(dtype=float)})
    combos_names = [tuple(row) for combos, _ in found for row in names[combos]]
    return pd.DataFrame({
        "size": np.concatenate([np.full(len(missed), combos.shape[1]) for combos, missed in found]),
        "models": combos_names,
        "virtual_accuracy": np.concatenate([(n - missed) / n for _, missed in found]),
    })


def _greedy(right: np.ndarray, valid: np.ndarray, steps: int) -> tuple[list[int], list[int]]:
    """Greedy order of ``steps`` models and the images covered after each (ties: lower index)."""
    missed = valid.copy()
    chosen: list[int] = []
    covered: list[int] = []
    total = int(popcount(valid))
    available = np.ones(right.shape[0], dtype=bool)
    for _ in range(steps):
        gains = np.where(available, popcount(right & missed), -1)
        c = int(np.argmax(gains))
        chosen.append(c)
        available[c] = False
        missed &= ~right[c]
        covered.append(total - int(popcount(missed)))
    return chosen, covered


def greedy_curve(correct: np.ndarray, *, models: Sequence[str]) -> pd.DataFrame:
    """Oracle accuracy as models are added greedily: each step adds the model that
    classifies the most images that no chosen model gets right (ties: the earlier model).

    Returns a frame with ``step`` (1..M), ``added`` and ``virtual_accuracy``.

    >>> import numpy as np
    >>> c = np.array([[1, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=bool)
    >>> greedy_curve(c, models=["a", "b", "c"]).to_dict("list")
    {'step': [1, 2, 3], 'added': ['a', 'b', 'c'], 'virtual_accuracy': [0.5, 0.75, 0.75]}
    """
    correct = _check(correct)
    n, m = correct.shape
    return _greedy_frame(pack_columns(correct), _valid_bits(n), n, models)


def _valid_bits(n: int) -> np.ndarray:
    """A bit set with the first ``n`` bits set."""
    return pack_columns(np.ones((n, 1), dtype=bool))[0]


def _greedy_frame(right: np.ndarray, valid: np.ndarray, n: int, models: Sequence[str]) -> pd.DataFrame:
    m = right.shape[0]
    order, covered = _greedy(right, valid, m)
    return pd.DataFrame({"step": np.arange(1, m + 1), "added": [models[i] for i in order],
                         "virtual_accuracy": np.asarray(covered) / n})


def _branch_and_bound(right: np.ndarray, valid: np.ndarray, size: int,
                      incumbent: tuple[int, list[int]]) -> tuple[int, list[int]]:
    """Exact best combination of ``size`` models by depth-first branch and bound.

    At a node with chosen set P (images still missed: ``missed``) and r models to add, the
    candidates are sorted by gain ``g_c = |T_c ∩ missed|``; since coverage is submodular,
    ``covered(P) + g_i + ... + g_{i+r-1}`` bounds every completion that adds candidate i and
    only later candidates, and these bounds fall with i, so the loop stops at the first bound
    that cannot beat the incumbent.
    """
    best_cov, best_set = incumbent

    def visit(prefix: list[int], missed: np.ndarray, cov: int, cand: np.ndarray) -> None:
        nonlocal best_cov, best_set
        r = size - len(prefix)
        gains = popcount(right[cand] & missed)
        order = np.argsort(-gains, kind="stable")
        cand, gains = cand[order], gains[order]
        if r == 1:
            if cov + gains[0] > best_cov:
                best_cov, best_set = int(cov + gains[0]), prefix + [int(cand[0])]
            return
        window = np.cumsum(np.concatenate(([0], gains)))
        for i in range(len(cand) - r + 1):
            if cov + window[i + r] - window[i] <= best_cov:
                break
            c = int(cand[i])
            visit(prefix + [c], missed & ~right[c], cov + int(gains[i]), cand[i + 1:])

    visit([], valid, 0, np.arange(right.shape[0]))
    return best_cov, sorted(best_set)


def best_combination(correct: np.ndarray, size: int, *, models: Sequence[str],
                     method: str = "exact") -> BestCombination:
    """The combination of ``size`` models with the highest virtual accuracy.

    ``method="exact"`` runs branch and bound (ties: the greedy combination, else the first
    found); ``"greedy"`` takes the first ``size`` models of :func:`greedy_curve`.
    """
    correct = _check(correct)
    n, m = correct.shape
    if not 1 <= size <= m:
        raise InputError(f"combination size {size} is outside 1..{m}")
    if method not in ("exact", "greedy"):
        raise InputError(f"method {method!r}: expected 'exact' or 'greedy'")
    return _best(pack_columns(correct), _valid_bits(n), n, size, models, method)


def _best(right: np.ndarray, valid: np.ndarray, n: int, size: int, models: Sequence[str],
          method: str) -> BestCombination:
    order, covered = _greedy(right, valid, size)
    cov, chosen = covered[-1], sorted(order)
    if method == "exact":
        cov, chosen = _branch_and_bound(right, valid, size, (cov, chosen))
    return BestCombination(size, tuple(models[i] for i in chosen), cov / n, method,
                           "branch-and-bound" if method == "exact" else "greedy")


def search_combinations(correct: np.ndarray, k: int, *, models: Sequence[str],
                        list_limit: int = LIST_LIMIT, max_combinations: int = MAX_COMBINATIONS,
                        progress: Progress | None = None, bits: np.ndarray | None = None,
                        patterns: np.ndarray | None = None) -> CombinationSearch:
    """Virtual accuracy of combinations of 2..k models, the best of each size 1..k and the
    greedy curve.

    For each size s, with ``C(M, s)`` combinations: at most ``list_limit`` are all
    enumerated and listed (best: exact, from the list); at most ``max_combinations`` get an
    exact best by branch and bound; more than that get the greedy combination.

    Parameters
    ----------
    correct : (N, M) bool
    k : largest combination size (clipped to M)
    models : M names
    bits : ``pack_columns(correct)`` when the caller has it
    patterns : the histogram of right/wrong patterns (:mod:`misclass.analysis.patterns`), for
        few models: listed sizes and the greedy curve are then counted by lookups in its
        subset sums instead of popcounts over the images (same results)
    """
    correct = _check(correct)
    n, m = correct.shape
    if len(models) != m:
        raise InputError(f"{len(models)} model names for {m} columns of correct")
    if k < 1:
        raise InputError(f"k = {k}: the largest combination size must be at least 1")
    k = min(k, m)
    listed = [s for s in range(2, k + 1) if comb(m, s) <= list_limit]
    if patterns is not None:
        sums = subset_sums(patterns, m)
        found = {s: _enumerate_by_patterns(sums, m, s) for s in listed}
        order, covered = _greedy_by_patterns(sums, m)
        acc = (n - missed_counts(sums, 1 << np.arange(m), m)) / n
        right = valid = None  # packed only for a branch and bound
    else:
        right = pack_columns(correct) if bits is None else bits
        valid = _valid_bits(n)
        wrong = ~correct
        missed_bits = None if m > PROJECT_ABOVE else valid & ~right
        found = {s: _enumerate_size(wrong, s, progress, missed_bits) for s in listed}
        order, covered = _greedy(right, valid, m)
        acc = popcount(right) / n
    best: dict[int, BestCombination] = {}
    top = int(np.argmax(acc))
    best[1] = BestCombination(1, (models[top],), float(acc[top]), "exact", "exhaustive")
    for s in range(2, k + 1):
        if s in listed:
            combos, missed = found[s]
            i = int(np.argmin(missed))
            best[s] = BestCombination(s, tuple(models[j] for j in combos[i]), float((n - missed[i]) / n),
                                      "exact", "exhaustive")
        elif comb(m, s) <= max_combinations:
            if progress is not None:
                progress(f"best {s}-model combination (branch and bound)", 0, 1)
            if right is None:
                right, valid = pack_columns(correct), _valid_bits(n)
            best[s] = _best(right, valid, n, s, models, "exact")
        else:
            chosen = tuple(models[j] for j in sorted(order[:s]))
            best[s] = BestCombination(s, chosen, covered[s - 1] / n, "greedy", "greedy")
    return CombinationSearch(tuple(models), n, best, found, np.asarray(order), np.asarray(covered))
