"""Every number misclass shows to a person, formatted in one place.

Views (the CLI, the report, the apps) show percentages with a fixed number of decimals,
counts with thousands separators, and "-" for a value that is undefined, with the reason
kept for a tooltip or a note. JSON keeps plain fractions and never goes through here.

>>> percent(0.85264), percent(1 / 3, digits=1), percent(None)
('85.26%', '33.3%', '-')
>>> count(50000), plural(1, "error"), plural(2, "part"), points(0.0123)
('50,000', '1 error', '2 parts', '+1.23 points')
>>> v = undefined("kappa is 0/0 when every rating is the same"); str(v), v.reason
('-', 'kappa is 0/0 when every rating is the same')
"""

from __future__ import annotations

import math
from dataclasses import dataclass

UNDEFINED = "-"


@dataclass(frozen=True)
class Undefined:
    """A value that has no number, and why; shows as "-"."""

    reason: str = ""

    def __str__(self) -> str:
        return UNDEFINED


def undefined(reason: str = "") -> Undefined:
    """The "-" of an undefined value, carrying its reason."""
    return Undefined(reason)


def is_missing(x) -> bool:
    """None, NaN, infinite or :class:`Undefined`."""
    if x is None or isinstance(x, Undefined):
        return True
    try:
        return not math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def percent(x, digits: int = 2) -> str:
    """A fraction as a percentage: ``0.8526 -> '85.26%'``; "-" when undefined."""
    return UNDEFINED if is_missing(x) else f"{100 * float(x):.{digits}f}%"


def probability(x, digits: int = 2) -> str:
    """A probability as a percentage that never rounds to a certainty it is not: below half the
    last digit it reads ``<0.01%``, that close to 1 ``>99.99%`` (exact 0 and 1 stay ``0.00%``
    and ``100.00%``); "-" when undefined.

    >>> probability(0.000004), probability(0.25), probability(0.999999), probability(0.0)
    ('<0.01%', '25.00%', '>99.99%', '0.00%')
    """
    if is_missing(x):
        return UNDEFINED
    p, step = float(x), 10.0 ** -digits / 100
    if 0 < p < step / 2:
        return f"<{step * 100:.{digits}f}%"
    if 1 - step / 2 < p < 1:
        return f">{100 - step * 100:.{digits}f}%"
    return percent(p, digits)


def points(x, digits: int = 2, *, unit: bool = True) -> str:
    """A difference of two fractions in percentage points, signed: ``+1.23 points`` (``+1.23``
    without ``unit``, for a column whose heading names the unit)."""
    return UNDEFINED if is_missing(x) else f"{100 * float(x):+.{digits}f}" + (" points" if unit else "")


def count(n) -> str:
    """An integer count with thousands separators; "-" when undefined."""
    return UNDEFINED if is_missing(n) else f"{int(n):,}"


def number(x, digits: int = 3) -> str:
    """A plain real number (a statistic, a score) with ``digits`` decimals; "-" when undefined."""
    return UNDEFINED if is_missing(x) else f"{float(x):.{digits}f}"


def p_value(p) -> str:
    """A p-value: three significant digits, ``< 1e-300`` at the floor; "-" when undefined."""
    if is_missing(p):
        return UNDEFINED
    p = float(p)
    return "< 1e-300" if p < 1e-300 else f"{p:.3g}"


def plural(n: int, noun: str, plural_form: str | None = None) -> str:
    """``1 error``, ``2 errors``, ``1,000 images`` (counts with separators)."""
    word = noun if int(n) == 1 else (plural_form or f"{noun}s")
    return f"{count(n)} {word}"
