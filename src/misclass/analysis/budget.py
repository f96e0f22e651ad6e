"""The memory budget of dense per-class matrices (C x C confusion counts, conditional
confusion v, network adjacency).

A dense C x C float64 matrix takes 8 C^2 bytes: 3.0 GiB at 20,000 classes, 7.3 TiB at a
million. Analyses that would allocate one check its size here first and, over the budget,
raise :class:`misclass.errors.MemoryBudgetError` (an ``InputError``) that says how many
classes, how much memory, the budget and how to restrict the classes, instead of a
``MemoryError`` or a machine that swaps. The budget is 2 GiB unless the environment variable
``MISCLASS_MEMORY_BUDGET`` says otherwise (bytes, or a number with a unit: ``4GiB``,
``500MB``, ``1.5 TiB``).

>>> parse_bytes("4GiB"), parse_bytes("1.5 kB"), parse_bytes("1024")
(4294967296, 1500, 1024)
>>> format_bytes(dense_bytes(1_000_000))
'7.28 TiB'
>>> over_budget("confusion counts", 20_000, dense_bytes(20_000), budget=2 * GIB)
'confusion counts: a dense 20,000 x 20,000 matrix would take 2.98 GiB, over the memory budget of 2 GiB'
"""

from __future__ import annotations

import os
import re

from misclass.errors import InputError, MemoryBudgetError

ENV_VAR = "MISCLASS_MEMORY_BUDGET"
GIB = 1024**3
DEFAULT_BUDGET = 2 * GIB

_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "m": 1000**2, "mb": 1000**2, "g": 1000**3, "gb": 1000**3,
          "t": 1000**4, "tb": 1000**4, "kib": 1024, "mib": 1024**2, "gib": GIB, "tib": 1024**4}
_SIZE = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*", re.IGNORECASE)


def parse_bytes(text: str, where: str = ENV_VAR) -> int:
    """A size in bytes from ``"4GiB"``, ``"500 MB"``, ``"1.5TiB"`` or ``"123"``.

    Units: B, kB / MB / GB / TB (powers of 1000; K, M, G, T too) and KiB / MiB / GiB / TiB
    (powers of 1024), in any case. ``where`` names the source in the error message.
    """
    m = _SIZE.fullmatch(str(text))
    unit = m.group(2).lower() if m else ""
    if m is None or unit not in _UNITS:
        raise InputError(f"{where}={text!r}: expected a size in bytes such as 2147483648, '4GiB' or "
                         "'500MB'")
    value = int(float(m.group(1)) * _UNITS[unit])
    if value <= 0:
        raise InputError(f"{where}={text!r}: the memory budget must be more than 0 bytes")
    return value


def memory_budget() -> int:
    """The budget in bytes: ``MISCLASS_MEMORY_BUDGET`` when set (and not empty), else 2 GiB."""
    text = os.environ.get(ENV_VAR, "").strip()
    return parse_bytes(text) if text else DEFAULT_BUDGET


def format_bytes(n: float) -> str:
    """``2.98 GiB``, ``512 B``; whole numbers without decimals (``2 GiB``)."""
    for unit, size in (("TiB", 1024**4), ("GiB", GIB), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= size:
            x = n / size
            return f"{x:.0f} {unit}" if x == int(x) else f"{x:.2f} {unit}"
    return f"{int(n)} B"


def dense_bytes(n_classes: int, *, matrices: int = 1, itemsize: int = 8) -> int:
    """Bytes of ``matrices`` dense ``n_classes`` x ``n_classes`` arrays of ``itemsize``."""
    return int(matrices) * int(n_classes) ** 2 * int(itemsize)


def over_budget(what: str, n_classes: int, nbytes: int, *, matrices: int = 1, thing: str | None = None,
                budget: int | None = None) -> str | None:
    """None when ``nbytes`` fits the budget, else a sentence saying what would not fit
    (the start of :class:`MemoryBudgetError`'s message, also used for notes). ``thing`` says
    what takes the memory; by default ``matrices`` dense C x C matrices."""
    budget = memory_budget() if budget is None else budget
    if nbytes <= budget:
        return None
    size = f"{n_classes:,} x {n_classes:,}"
    thing = thing or (f"{matrices} dense {size} matrices (one per model)" if matrices > 1
                      else f"a dense {size} matrix")
    return (f"{what}: {thing} would take {format_bytes(nbytes)}, over the memory budget of "
            f"{format_bytes(budget)}")


def check_budget(what: str, n_classes: int, nbytes: int, *, hint: str, matrices: int = 1,
                 thing: str | None = None) -> None:
    """Raise :class:`MemoryBudgetError` when ``nbytes`` (by default of dense C x C arrays, else
    of ``thing``) is over the budget; ``hint`` says how to restrict the classes."""
    budget = memory_budget()
    text = over_budget(what, n_classes, nbytes, matrices=matrices, thing=thing, budget=budget)
    if text is not None:
        enough = format_bytes(2 ** max(nbytes - 1, 1).bit_length()).replace(" ", "")
        raise MemoryBudgetError(f"{text} ({ENV_VAR}); {hint}, or raise the budget, e.g. "
                                f"{ENV_VAR}={enough}", n_classes=n_classes, needed=nbytes, budget=budget)
