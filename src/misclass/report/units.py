"""Units of the report's tables: one unit per column, named in its heading.

Section tables hold fractions (as the workflows return them); these helpers turn the columns
people read as percentages into percent (or percentage points) with the unit in the heading,
and mark values that have no number as :func:`misclass.format.undefined` with the reason (the
page shows "-" and the reason on hover; captions say it once for the whole table).
"""

from __future__ import annotations

import pandas as pd

from misclass.format import Undefined, is_missing, undefined


def as_percent(df: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    """``df`` with each of ``columns`` (fractions, or differences of fractions) times 100,
    renamed to its heading, which names the unit: "top-1 (%)", "gain (points)"; missing
    values stay missing (NaN)."""
    out = df.copy()
    for col in columns:
        out[col] = pd.to_numeric(out[col].map(lambda v: None if is_missing(v) else v), errors="coerce") * 100
    return out.rename(columns=columns)


def with_reason(values: pd.Series, reason: str) -> pd.Series:
    """``values`` with every missing cell (None, NaN) replaced by "-" carrying ``reason``."""
    why = undefined(reason)
    return pd.Series([why if is_missing(v) and not isinstance(v, Undefined) else v for v in values],
                     index=values.index, dtype=object, name=values.name)
