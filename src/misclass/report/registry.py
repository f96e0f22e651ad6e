"""The one registration point for report sections.

A section is a function ``build(ctx: ReportContext) -> Section | None`` decorated with
:func:`register_section`; put it in its own module under ``misclass/report/sections/`` and it
is found automatically. Sections only call analysis functions and figure helpers; they
compute no statistics themselves.
"""

from __future__ import annotations

import html as _html
import importlib
import pkgutil
from collections.abc import Callable
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

    def save_figure(self, fig, stem: str, *, alt: str) -> str:
        """Save ``fig`` as ``figures/<stem>.png`` (and ``.svg`` with the ``svg`` option); return
        a ``<figure>`` whose image loads lazily, with its size, and ``alt`` as its title.

        The figure is drawn once per format, in the writer's worker processes when it has them;
        the files exist once :meth:`FigureWriter.close` has returned.
        """
        from misclass.report.figures import save_figure

        svg = bool(self.options.get("svg"))
        formats = ("png", "svg") if svg else ("png",)
        width, height = (int(round(float(v))) for v in fig.get_size_inches() * fig.dpi)
        folder = self.out_dir / "figures"
        if self.writer is None:
            rel = save_figure(fig, folder, stem, formats=formats)
        else:
            rel = self.writer.save(fig, folder, stem, formats=formats)
        self.figures.append(rel)
        text = _html.escape(alt)
        wide = " wide" if width > 2.2 * height else ""
        return (f'<figure class="fig{wide}"><a href="{rel}.{"svg" if svg else "png"}">'
                f'<img src="{rel}.png" alt="{text}" title="{text}" width="{width}" height="{height}" '
                f'loading="lazy" decoding="async"></a></figure>')


Builder = Callable[[ReportContext], Section | None]
_SECTIONS: list[tuple[int, str, Builder]] = []


def register_section(name: str, *, order: int) -> Callable[[Builder], Builder]:
    """Register a section builder; sections appear in ascending ``order``."""

    def deco(fn: Builder) -> Builder:
        for i, (_, existing, other) in enumerate(_SECTIONS):
            if existing == name:
                if other.__code__.co_filename != fn.__code__.co_filename:
                    raise ValueError(f"report section {name!r} is registered twice")
                del _SECTIONS[i]  # the same file imported again under another name (doctests)
                break
        _SECTIONS.append((order, name, fn))
        return fn

    return deco


def sections() -> list[tuple[str, Builder]]:
    """All registered sections, in order (importing every module of ``sections/``)."""
    import misclass.report.sections as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"{pkg.__name__}.{mod.name}")
    return [(name, fn) for _, name, fn in sorted(_SECTIONS, key=lambda s: (s[0], s[1]))]


def table_html(df: pd.DataFrame, *, caption: str = "", float_digits: int = 4,
               max_rows: int | None = None) -> str:
    """An HTML table that the report's script makes sortable and filterable."""
    shown = df if max_rows is None else df.head(max_rows)
    body = shown.to_html(
        index=False,
        classes="sortable",
        border=0,
        float_format=lambda x: f"{x:.{float_digits}f}",
        na_rep="–",
        escape=True,
    )
    note = ""
    if max_rows is not None and len(df) > max_rows:
        note = f"<p class=note>Showing {max_rows} of {len(df)} rows.</p>"
    cap = f"<p class=caption>{_html.escape(caption)}</p>" if caption else ""
    return f'<div class="table-wrap">{cap}{body}{note}</div>'
