"""Numeric arrays from users' files: ``.npy`` files read without pickles, and whole numbers
checked, each with one error naming the file and the first bad row."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from misclass.errors import InputError


def read_npy_array(path: str | Path) -> np.ndarray:
    """The array in a ``.npy`` file (no pickled objects); one error for a missing or unreadable file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(f"{path}: not a readable .npy array ({exc})") from exc


def whole_numbers(values: np.ndarray, source: str, what: str, where: str = "row") -> np.ndarray:
    """``values`` (any numeric array) as int64, or one error naming the first entry that is not
    a whole number (booleans, strings, fractions, NaN and infinities are not).

    >>> whole_numbers(np.array([1.0, 2.0]), "f.npy", "class id").tolist()
    [1, 2]
    """
    arr = np.asarray(values)
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer)
                                 or np.issubdtype(arr.dtype, np.floating)):
        raise InputError(f"{source}: expected whole numbers ({what}s), found values of type "
                         f"{arr.dtype}")
    if np.issubdtype(arr.dtype, np.integer):
        return arr.astype(np.int64)
    flat = arr.reshape(len(arr), -1) if arr.ndim else arr.reshape(1, 1)
    bad = ~np.isfinite(flat) | (flat != np.round(flat))
    if bad.any():
        row = int(np.flatnonzero(bad.any(axis=1))[0])
        value = flat[row][bad[row]][0].item()
        raise InputError(f"{source}: {where} {row + 1}: {value!r} is not a whole number ({what})")
    return arr.astype(np.int64)
