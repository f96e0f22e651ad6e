"""What every workflow shares: opening the store it is given, and JSON-ready values."""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from misclass.store import Store, open_store


def as_store(store: Store | str | os.PathLike) -> Store:
    """The :class:`Store` itself, or the existing store at a path (a clear error if none)."""
    return store if isinstance(store, Store) else open_store(store)


def json_ready(obj: Any) -> Any:
    """Plain JSON values: numpy scalars and arrays become Python ones; NaN and inf become null.

    >>> json_ready({"a": np.float32(0.5), "b": [np.nan, np.int64(3)], 1: np.array([True])})
    {'a': 0.5, 'b': [None, 3], '1': [True]}
    """
    if isinstance(obj, dict):
        return {str(k): json_ready(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_ready(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_ready(obj.tolist())
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        f = float(obj)
        return None if math.isnan(f) or math.isinf(f) else f
    return obj
