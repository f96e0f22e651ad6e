"""Terminal tables that never cut a value: every command prints its rich tables through
:func:`fit_table` (``misclass.cli.app.print_table``).

Rich shrinks a table that is wider than the terminal by cutting cells ("convi…", "15.6…").
Here the columns get widths that keep every value: first every word whole (a number or a
name: anything without a space is one word) and numbers (right-aligned columns) on one
line; then, if that is too wide, numbers may wrap between words and names fold after
:data:`FOLD_MIN` characters; and when even that is wider than the terminal, the table is
printed in a long layout: one row per value (the row's first cell, the column, the value).
"""

from __future__ import annotations

from rich.console import Console, RenderableType
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

#: A name (a left-aligned cell) folds only after this many characters.
FOLD_MIN = 20
LONG_NOTE = "one row per value: the table is wider than the terminal"


def fits(table: Table, console: Console, width: int | None = None) -> bool:
    """Whether ``table`` fits ``width`` (default: the console's) without its long layout."""
    width = console.width if width is None else width
    return any(_total(table, console, _column_needs(table, console, strict=strict)[0]) <= width
               for strict in (True, False))


def fit_table(table: Table, console: Console, width: int | None = None) -> Table:
    """``table`` with column widths that fit ``width`` (default: the console's) without cutting
    any value, or its long layout when it cannot fit; the result is ready to print."""
    width = console.width if width is None else width
    for strict in (True, False):
        lows, highs = _column_needs(table, console, strict=strict)
        if _total(table, console, lows) <= width:
            return _set_widths(table, console, lows, highs, width)
    if len(table.columns) < 3:
        return _set_widths(table, console, lows, highs, width)
    long = _long_layout(table)
    lows, highs = _column_needs(long, console, strict=False)
    return _set_widths(long, console, lows, highs, width)


def _column_needs(table: Table, console: Console, *, strict: bool) -> tuple[list[int], list[int]]:
    """Per column: the narrowest width that keeps its values (``strict``: every word whole,
    right-aligned cells on one line; else right-aligned cells wrap between words, and names
    fold after :data:`FOLD_MIN` characters) and the width of its widest cell."""
    options = console.options.update_width(10_000)
    lows, highs = [], []
    for column in table.columns:
        right = column.justify == "right"
        low = high = 1
        for i, cell in enumerate([column.header, *column.cells]):
            m = Measurement.get(console, options, cell)
            high = max(high, m.maximum)
            low = max(low, m.maximum if strict and right and i > 0 else m.minimum)
        if not strict and not right:
            low = min(low, max(FOLD_MIN, column.min_width or 0))
        low = max(low, column.min_width or 0)
        lows.append(low)
        highs.append(max(low, high))
    return lows, highs


def _total(table: Table, console: Console, widths: list[int]) -> int:
    """The printed width of ``table`` with these column widths (padding and borders included)."""
    for column, w in zip(table.columns, widths, strict=True):
        column.width = w
    return Measurement.get(console, console.options.update_width(10_000), table).maximum


def _set_widths(table: Table, console: Console, lows: list[int], highs: list[int], width: int) -> Table:
    """Give each column its narrowest width, then share what is left of ``width`` out, filling
    first the columns that lack least of their widest cell. A table that does not fit even so
    (one or two columns, or a long layout wider than the terminal) folds its longest words
    instead of cutting them."""
    extra = _total(table, console, [1] * len(lows)) - len(lows)  # padding and borders
    room = width - extra
    widths = list(lows)
    if sum(widths) > room:  # too narrow even for whole words: shrink the widest, fold them
        widths = _shrink(widths, max(room, len(widths)))
    spare = room - sum(widths)
    while spare > 0:  # fill the columns that lack least first: short columns end on one line
        lacking = sorted((h - w, j) for j, (w, h) in enumerate(zip(widths, highs, strict=True)) if h > w)
        if not lacking:
            break
        share = max(1, spare // len(lacking))
        for lack, j in lacking:
            add = min(lack, share, spare)
            widths[j] += add
            spare -= add
            if spare == 0:
                break
    for column, w in zip(table.columns, widths, strict=True):
        column.width = w
        column.no_wrap = False
        column.overflow = "fold"
        column.max_width = None
        column.ratio = None
    table.expand = False
    return table


def _shrink(widths: list[int], room: int) -> list[int]:
    """Narrow the widest columns, one character at a time, until they sum to ``room``."""
    widths = list(widths)
    while sum(widths) > room and max(widths) > 1:
        widths[widths.index(max(widths))] -= 1
    return widths


def _plain(cell: RenderableType) -> RenderableType:
    return cell if isinstance(cell, str | Text) else str(cell)


def _long_layout(table: Table) -> Table:
    """One row per value of ``table``: its first cell (the row's name), the column, the value."""
    columns = table.columns
    caption = table.caption
    note = f"{caption}; {LONG_NOTE}" if isinstance(caption, str) and caption else (caption or LONG_NOTE)
    long = Table(title=table.title, caption=note, caption_justify="left", box=table.box,
                 show_lines=False)
    long.add_column(_plain(columns[0].header) or "row")
    long.add_column("column")
    long.add_column("value")
    cells = [list(c.cells) for c in columns]
    for i, row in enumerate(table.rows):
        for j in range(1, len(columns)):
            long.add_row(cells[0][i] if j == 1 else "", _plain(columns[j].header), cells[j][i],
                         style=row.style, end_section=j == len(columns) - 1)
    return long
