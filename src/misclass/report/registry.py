"""The one registration point for report sections.

A section is a function ``build(ctx: ReportContext) -> Section | None`` decorated with
:func:`register_section`; put it in its own module under ``misclass/report/sections/`` and it
is found automatically. Sections only call analysis functions and figure helpers; they
compute no statistics themselves.
"""

from __future__ import annotations

import html as _html
import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from misclass.store import Predictions, Store

if TYPE_CHECKING:
    from misclass.report.writer import FigureWriter


@dataclass
class Section:
    """A rendered report section: a title, an anchor and an HTML body."""

    title: str
    body: str
    anchor: str = ""


@dataclass
class ReportContext:
    """What a section builder gets: the store, loaded predictions, the output folder and
    the options given on the command line (``options`` is free-form, e.g. ``threshold``).
    """

    store: Store
    predictions: Predictions
    class_names: list[str]
    out_dir: Path
    options: dict[str, Any] = field(default_factory=dict)
    figures: list[str] = field(default_factory=list)
    writer: FigureWriter | None = None  # None: figures are written here, one after the other
    pending_figures: list[tuple[str, str]] = field(default_factory=list)  # built by a worker: (stem, alt)

    def save_figure(self, fig, stem: str, *, alt: str) -> str:
        """Save ``fig`` (a figure, or a :class:`~misclass.report.writer.Drawing` of one, which a
        worker builds) as ``figures/<stem>.png`` (and ``.svg`` with the ``svg`` option); return
        a ``<figure>`` whose image loads lazily, with its size, and ``alt`` as its title.

        The figure is drawn once per format, in the writer's worker processes when it has them;
        the files exist once :meth:`FigureWriter.close` has returned. A drawing a worker builds
        has no size yet: its ``<figure>`` is a placeholder until :meth:`resolve_figures`.
        """
        from misclass.report.figures import pixels, save_figure
        from misclass.report.writer import Drawing

        svg = bool(self.options.get("svg"))
        formats = ("png", "svg") if svg else ("png",)
        folder = self.out_dir / "figures"
        if self.writer is None:
            built = fig() if isinstance(fig, Drawing) else fig
            size = pixels(built)
            rel = save_figure(built, folder, stem, formats=formats)
        else:
            size = None if isinstance(fig, Drawing) else pixels(fig)
            rel = self.writer.save(fig, folder, stem, formats=formats)
            size = size or self.writer.sizes.get(rel)  # a drawing written here has its size now
        self.figures.append(rel)
        if size is None:
            self.pending_figures.append((rel, alt))
            return f"<!--misclass figure {len(self.pending_figures) - 1}-->"
        return _figure_html(rel, size, alt, svg=svg)

    def resolve_figures(self, body: str) -> str:
        """``body`` with the placeholder of each figure a worker built replaced by its
        ``<figure>`` (call once the writer is closed: it knows their sizes then)."""
        import re

        def html(m: re.Match) -> str:
            rel, alt = self.pending_figures[int(m.group(1))]
            return _figure_html(rel, self.writer.sizes[rel], alt, svg=bool(self.options.get("svg")))

        return re.sub(r"<!--misclass figure (\d+)-->", html, body)


def _figure_html(rel: str, size: tuple[int, int], alt: str, *, svg: bool) -> str:
    width, height = size
    text = _html.escape(alt)
    wide = " wide" if width >= 2.8 * height else ""  # small multiples: three to a row, not four
    cap = min(width, round(MAX_FIGURE_HEIGHT * width / height))  # no taller than that on the page
    link = f"{rel}.svg" if svg else f"{rel}.png"
    return (f'<figure class="fig{wide}" style="max-width:{cap}px"><a href="{link}">'
            f'<img src="{rel}.png" alt="{text}" title="{text}" width="{width}" height="{height}" '
            f'loading="lazy" decoding="async"></a></figure>')


MAX_FIGURE_HEIGHT = 400  # px: a figure is shown at most this tall (a click opens it at full size)
Builder = Callable[[ReportContext], Section | None]
_SECTIONS: dict[str, tuple[str, Builder]] = {}  # by the file that registers it: (name, builder)


def register_section(name: str) -> Callable[[Builder], Builder]:
    """Register a section builder, one per module of ``sections/`` (the report shows them in
    the order of :data:`misclass.report.sections.ORDER`)."""

    def deco(fn: Builder) -> Builder:
        file = fn.__code__.co_filename  # the same file imported again under another name (doctests)
        if any(existing == name and other != file for other, (existing, _) in _SECTIONS.items()):
            raise ValueError(f"report section {name!r} is registered twice")
        _SECTIONS[file] = (name, fn)
        return fn

    return deco


def sections() -> Iterator[tuple[str, Builder]]:
    """The sections (name, builder) in the order the report builds them (``BUILD_FIRST``, then
    the page's order: :mod:`misclass.report.sections`), each module imported only when the
    report reaches it: the figure workers draw the first sections' figures while the later
    sections' libraries (scipy.stats, scikit-learn) are still loading."""
    from misclass.report.sections import BUILD_FIRST, ORDER

    for module in BUILD_FIRST + tuple(m for m in ORDER if m not in BUILD_FIRST):
        mod = importlib.import_module(f"misclass.report.sections.{module}")
        yield _SECTIONS[mod.__file__]


def page_names() -> list[str]:
    """The names of the sections in the order of the page."""
    from misclass.report.sections import ORDER

    return [_SECTIONS[importlib.import_module(f"misclass.report.sections.{m}").__file__][0] for m in ORDER]


INLINE_ROWS = 60  # tables up to this many rows are HTML rows; longer ones ship as JSON, paged
PAGE_ROWS = 50  # rows per page of a long table


def _column(values: pd.Series, digits: int) -> tuple[str, list]:
    """The kind of a column ("num" or "text") and its cells for the page: ints stay ints,
    floats are rounded to ``digits`` (the decimals shown), missing values are None, anything
    else is its text; an :class:`~misclass.format.Undefined` is None too (its reason is kept
    in the small tables' tooltips)."""
    import numpy as np

    from misclass.format import Undefined, is_missing, number

    kind = values.dtype.kind
    missing = values.isna().to_numpy()
    if kind in "iu" and not missing.any():
        return "num", values.to_numpy(dtype=np.int64).tolist()
    if kind == "f":
        floats = values.to_numpy(dtype=np.float64, na_value=np.nan)
        return "num", [float(f"{v:.{digits}f}") if np.isfinite(v) else None for v in floats.tolist()]
    if kind == "b" and not missing.any():
        return "text", ["yes" if v else "no" for v in values.tolist()]
    cells: list = []
    numeric = True
    for v, absent in zip(values.tolist(), missing.tolist(), strict=True):
        if absent or isinstance(v, Undefined) or is_missing(v) and not isinstance(v, str):
            cells.append(None)
        elif isinstance(v, (bool, np.bool_)):
            cells.append("yes" if v else "no")
            numeric = False
        elif isinstance(v, (int, np.integer)):
            cells.append(int(v))
        elif isinstance(v, (float, np.floating)):  # as text: beside ints, 2.0 must not read as 2
            cells.append(number(v, digits))
        else:
            cells.append(str(v))
            numeric = False
    return ("num" if numeric else "text"), cells


def _cell_text(v, digits: int) -> str:
    """A cell as the page shows it (the script formats the long tables the same way)."""
    from misclass.format import UNDEFINED, count, number

    if v is None:
        return UNDEFINED
    if isinstance(v, int):
        return count(v)
    if isinstance(v, float):
        return number(v, digits)
    return v


def table_data(df: pd.DataFrame, *, float_digits: int = 4) -> dict[str, Any]:
    """A table as the page's script reads it: ``columns`` (name; kind "num" or "text";
    ``float``: shown with ``digits`` decimals) and ``data``, column by column; a text column
    that repeats its values is stored as its distinct values (``keys``) and each row's index
    into them (``codes``)."""
    columns, data = [], []
    for j, name in enumerate(df.columns):
        kind, cells = _column(df.iloc[:, j], float_digits)
        columns.append({"name": str(name), "kind": kind, "float": df.dtypes.iloc[j].kind == "f"})
        distinct = {c for c in cells if c is not None} if kind == "text" else set()
        if kind == "text" and len(distinct) * 2 < len(cells):
            keys = sorted(distinct)
            code = {k: i for i, k in enumerate(keys)}
            data.append({"keys": keys, "codes": [-1 if c is None else code[c] for c in cells]})
        else:
            data.append(cells)
    return {"columns": columns, "rows": len(df), "digits": float_digits, "page": PAGE_ROWS, "data": data}


def _script_json(obj) -> str:
    """JSON that is safe inside ``<script>`` (no ``</script>``, no ``<!--``)."""
    import json

    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")


def table_html(df: pd.DataFrame, *, caption: str = "", float_digits: int = 4,
               max_rows: int | None = None) -> str:
    """A table the report's script sorts and filters; longer than :data:`INLINE_ROWS` rows,
    it ships as compact JSON that the script shows a page (:data:`PAGE_ROWS` rows) at a time,
    with a CSV download of every row. Counts show thousands separators, floats
    ``float_digits`` decimals, undefined values "-". ``max_rows`` caps the rows shipped (a
    note says so); None ships every row."""
    from misclass.format import Undefined

    shown = df if max_rows is None else df.head(max_rows)
    note = ""
    if max_rows is not None and len(df) > max_rows:
        note = f"<p class=note>Showing {max_rows:,} of {len(df):,} rows.</p>"
    cap = f"<p class=caption>{_html.escape(caption)}</p>" if caption else ""
    if len(shown) > INLINE_ROWS:
        payload = _script_json(table_data(shown, float_digits=float_digits))
        return (f'<div class="big-table">{cap}<script type="application/json">{payload}</script>'
                f'<p class=note>{len(shown):,} rows, {PAGE_ROWS} a page: sort by a column, filter, or '
                f"download them all as CSV.</p>{note}</div>")
    cols = [_column(shown.iloc[:, j], float_digits) for j in range(shown.shape[1])]
    head = "".join(f'<th{" class=num" if kind == "num" else ""}>{_html.escape(str(c))}</th>'
                   for c, (kind, _) in zip(shown.columns, cols, strict=True))
    reasons = [[v.reason if isinstance(v, Undefined) else "" for v in shown.iloc[:, j].tolist()]
               for j in range(shown.shape[1])]
    rows = []
    for i in range(len(shown)):
        cells = []
        for (kind, values), why in zip(cols, reasons, strict=True):
            attr = " class=num" if kind == "num" else ""
            if why[i]:
                attr += f' title="{_html.escape(why[i])}"'
            cells.append(f"<td{attr}>{_html.escape(_cell_text(values[i], float_digits))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    body = (f'<table class="sortable"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>')
    return f'<div class="table-wrap">{cap}{body}{note}</div>'
