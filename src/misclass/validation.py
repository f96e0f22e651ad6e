"""Input checks in one place. Each raises :class:`~misclass.errors.InputError` whose
message names the source (file), the row or field, and what was expected.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from misclass.errors import InputError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")


def check_model_name(name: str) -> str:
    """Return ``name`` if it is a file-safe model name, else raise."""
    reserved = (".parquet", ".json", ".npy", ".per_image")
    if not isinstance(name, str) or not _NAME.match(name) or name.endswith(reserved):
        raise InputError(
            f"model name {name!r} is not file-safe: use letters, digits, '.', '_', '+', '-' "
            "(at most 128 characters, starting with a letter or digit)"
        )
    return name


def check_unique_ids(sample_ids: np.ndarray, source: str) -> None:
    """Raise if a sample id occurs twice, naming the first duplicate and its rows."""
    ids = np.asarray(sample_ids, dtype=object)
    _, first, counts = np.unique(ids, return_index=True, return_counts=True)
    if (counts > 1).any():
        dup = ids[first[np.argmax(counts > 1)]]
        rows = np.flatnonzero(ids == dup)[:3] + 1
        raise InputError(
            f"{source}: duplicate sample id {dup!r} (rows {', '.join(map(str, rows))}); "
            f"{int((counts > 1).sum())} ids occur more than once, each must occur once"
        )


def check_class_ids(ids: np.ndarray, n_classes: int, source: str, field: str) -> None:
    """Raise if any class id in ``ids`` (any shape, -1 allowed) is outside 0..n_classes-1."""
    arr = np.asarray(ids)
    bad = (arr < -1) | (arr >= n_classes)
    if bad.any():
        flat = np.flatnonzero(bad.reshape(len(arr), -1).any(axis=1))
        row = int(flat[0])
        value = int(arr.reshape(len(arr), -1)[row][bad.reshape(len(arr), -1)[row]][0])
        raise InputError(
            f"{source}: row {row + 1}, {field}: class id {value} is out of range; "
            f"expected 0..{n_classes - 1} ({len(flat)} rows affected)"
        )


def check_topk(topk_ids: np.ndarray, topk_probs: np.ndarray | None, n: int, source: str):
    """Validate top-k arrays and return them as ``int32`` / ``float32`` 2-d arrays."""
    ids = np.asarray(topk_ids)
    if ids.ndim == 1:
        ids = ids[:, None]
    if ids.ndim != 2 or ids.shape[0] != n or ids.shape[1] < 1:
        raise InputError(f"{source}: topk_ids has shape {ids.shape}; expected ({n}, k) with k >= 1")
    if not np.issubdtype(ids.dtype, np.integer):
        raise InputError(f"{source}: topk_ids must be integers, got {ids.dtype}")
    probs = None
    if topk_probs is not None:
        probs = np.asarray(topk_probs, dtype=np.float32)
        if probs.ndim == 1:
            probs = probs[:, None]
        if probs.shape != ids.shape:
            raise InputError(
                f"{source}: topk_probs has shape {probs.shape}; expected {ids.shape} like topk_ids"
            )
        ok = np.isfinite(probs) & (probs >= 0) & (probs <= 1 + 1e-3)
        if not ok.all():
            bad = ~ok.reshape(n, -1)
            row = int(np.flatnonzero(bad.any(axis=1))[0])
            value = probs.reshape(n, -1)[row][bad[row]][0]
            raise InputError(f"{source}: row {row + 1}, topk_probs: {value!r} is not a probability; "
                             f"expected values in [0, 1] ({int(bad.any(axis=1).sum())} rows affected)")
    return ids.astype(np.int32, copy=False), probs


def check_distinct_topk(ids: np.ndarray, source: str) -> None:
    """Raise if a top-k row names one class twice (-1 padding aside).

    >>> check_distinct_topk(np.array([[1, 2], [3, 3]]), "f.csv")
    Traceback (most recent call last):
    ...
    misclass.errors.InputError: f.csv: row 2, topk_ids: class 3 appears twice; a ranking names each class once
    """
    arr = np.asarray(ids)
    if arr.ndim != 2 or arr.shape[1] < 2:
        return
    s = np.sort(arr, axis=1)
    dup = (s[:, 1:] == s[:, :-1]) & (s[:, 1:] >= 0)
    if dup.any():
        row = int(np.flatnonzero(dup.any(axis=1))[0])
        value = int(s[row, 1:][dup[row]][0])
        raise InputError(f"{source}: row {row + 1}, topk_ids: class {value} appears twice; a ranking "
                         "names each class once")


def check_probability_matrix(probs: np.ndarray, source: str) -> np.ndarray:
    """Validate an (N, C) probability matrix: finite, non-negative, rows summing to 1."""
    p = np.asarray(probs)
    if p.ndim != 2:
        raise InputError(f"{source}: expected an (N, C) matrix, got shape {p.shape}")
    if not np.issubdtype(p.dtype, np.floating):
        raise InputError(f"{source}: expected floating-point values, got {p.dtype}")
    finite = np.isfinite(p).all(axis=1)
    if not finite.all():
        raise InputError(f"{source}: row {int(np.argmin(finite)) + 1} has a NaN or infinite value")
    sums = p.sum(axis=1, dtype=np.float64)
    ok = (np.abs(sums - 1) < 1e-2) & (p >= 0).all(axis=1)
    if not ok.all():
        row = int(np.argmin(ok))
        raise InputError(
            f"{source}: row {row + 1} is not a probability vector (sum {sums[row]:.4g}); "
            "pass --logits if the matrix holds logits"
        )
    return p


def _class_resolver(class_names: list[str], source: str):
    """``resolve(token, where)``: the class a token names. A token naming exactly one class is
    that class; otherwise an integer token is a class id. A name shared by several classes
    must be given by id."""
    index: dict[str, list[int]] = {}
    for i, name in enumerate(class_names):
        index.setdefault(str(name), []).append(i)

    def resolve(token: str | int, where: str) -> int:
        if isinstance(token, int | np.integer) and not isinstance(token, bool):  # given in Python: an id
            if not 0 <= token < len(class_names):
                raise InputError(f"{source}: class id {token} in {where!r} is not one of "
                                 f"0..{len(class_names) - 1}")
            return int(token)
        token = str(token)
        hits = index.get(token, [])
        if len(hits) == 1:
            return hits[0]
        if re.fullmatch(r"\d+", token) and int(token) < len(class_names):
            return int(token)
        if len(hits) > 1:
            raise InputError(f"{source}: class name {token!r} in {where!r} is shared by classes "
                             f"{', '.join(map(str, hits))}; give the class id instead")
        raise InputError(f"{source}: unknown class: {token!r} in {where!r} is neither a class name nor "
                         f"a class id 0..{len(class_names) - 1}")

    return resolve


def check_class_pairs(text: str | Sequence[tuple[str | int, str | int]], class_names: list[str],
                      source: str) -> list[tuple[int, int]]:
    """Parse confusion pairs ``"true:pred,true:pred"`` given by class name or id, or check
    a sequence of ``(true, pred)`` pairs (from Python: an int is a class id, a string as in
    the text).

    A token naming exactly one class is that class; otherwise an integer token is a class id.
    A name shared by several classes must be given by id.

    >>> check_class_pairs("cat:dog, 1:0", ["cat", "dog"], "--group-a")
    [(0, 1), (1, 0)]
    >>> check_class_pairs([("cat", 1), (1, "0")], ["cat", "dog"], "group_a")
    [(0, 1), (1, 0)]
    """
    resolve = _class_resolver(class_names, source)
    given = [p.strip() for p in text.split(",")] if isinstance(text, str) else list(text)
    pairs = []
    for pair in given:
        if isinstance(pair, str) and not pair:
            continue
        parts = [t.strip() for t in pair.split(":")] if isinstance(pair, str) else list(pair)
        if len(parts) != 2 or "" in parts:
            raise InputError(f"{source}: {pair!r} is not a pair; expected true:predicted, "
                             "e.g. 'cat:dog,dog:cat'")
        where = pair if isinstance(pair, str) else repr(tuple(pair))
        a, b = resolve(parts[0], where), resolve(parts[1], where)
        if a == b:
            raise InputError(f"{source}: {pair!r} pairs a class with itself; a confusion needs "
                             "two different classes")
        pairs.append((a, b))
    if not pairs:
        raise InputError(f"{source}: no pairs given; expected true:predicted, e.g. 'cat:dog'")
    return pairs


def check_class_list(text: str | Sequence[str | int], class_names: list[str], source: str) -> list[int]:
    """Parse a comma list of classes given by name or id (as :func:`check_class_pairs`), or
    check a sequence of classes (an int is a class id): the distinct class ids, ascending.

    >>> check_class_list("dog, 0,dog", ["cat", "dog", "cow"], "--classes")
    [0, 1]
    >>> check_class_list(["cow", 0], ["cat", "dog", "cow"], "classes")
    [0, 2]
    """
    resolve = _class_resolver(class_names, source)
    tokens = [t.strip() for t in text.split(",")] if isinstance(text, str) else list(text)
    ids = {resolve(token, str(text)) for token in tokens if token != ""}
    if not ids:
        raise InputError(f"{source}: no classes given; expected class names or ids, e.g. 'cat,dog'")
    return sorted(ids)
