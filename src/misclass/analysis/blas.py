"""One BLAS thread for the analyses' matrix products.

The products here are small or tall-and-thin (``correct.T @ correct`` is (N, M) by (N, M)):
one thread runs them about as fast as two, and when other processes keep the cores busy a
multi-threaded BLAS that spins waiting for its threads can be tens of times slower. The
libraries are found once; entering the limit then costs microseconds.

>>> import numpy as np
>>> with single_blas_thread():
...     float((np.ones((3, 2)).T @ np.ones((3, 2)))[0, 0])
3.0
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

_CONTROLLER = None
_DEPTH = 0  # nested blocks keep the outer limit: switching BLAS threads costs about a millisecond


@contextlib.contextmanager
def single_blas_thread() -> Iterator[None]:
    """Limit BLAS to one thread inside the ``with`` block (no-op without threadpoolctl)."""
    global _CONTROLLER, _DEPTH
    if _DEPTH:
        _DEPTH += 1
        try:
            yield
        finally:
            _DEPTH -= 1
        return
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # threadpoolctl comes with scikit-learn; be safe without it
        yield
        return
    if _CONTROLLER is None:
        _CONTROLLER = ThreadpoolController()
    with _CONTROLLER.limit(limits=1, user_api="blas"):
        _DEPTH += 1
        try:
            yield
        finally:
            _DEPTH -= 1
