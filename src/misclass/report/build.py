"""Write the HTML report: every registered section, one page, figures beside it."""

from __future__ import annotations

import datetime as _dt
import html as _html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from misclass import __version__
from misclass.errors import MemoryBudgetError
from misclass.report.registry import ReportContext, Section, page_names, sections
from misclass.report.writer import FigureWriter
from misclass.store import Store
from misclass.store.files import write_text


@dataclass(frozen=True)
class BuiltReport:
    """What :func:`render_report` wrote: ``index.html``, each section it ran (registered
    name, status, the rendered section or None) and the figures (paths without suffix,
    relative to the report folder; each has a PNG, and an SVG with the ``svg`` option)."""

    index: Path
    sections: tuple[tuple[str, str, Section | None], ...]  # status: built, empty, over budget
    figures: tuple[str, ...]


# a figure as ReportContext.save_figure writes it
_FIGURE = r'<figure class="fig[^"]*"[^>]*>(?:(?!</figure>).)*</figure>'
_FIGURES = re.compile(f"(?:{_FIGURE}\\s*){{2,}}", re.S)


SHOWN_MULTIPLES = 8  # small multiples shown open: two rows; the rest one click away
_PAIR = re.compile(r'(<figure class="fig"[^>]*>(?:(?!</figure>).)*</figure>)\s*'
                   r'(<div class="table-wrap">(?:(?!</?div).)*</div>)', re.S)


def grid(body: str) -> str:
    """``body`` with each run of two or more consecutive figures (as
    :meth:`ReportContext.save_figure` writes them) in one grid: two side by side, or, from
    three on (one per model), small multiples four to a row (three if all are wide), each
    opening at full size on a click (the page's header says so); past
    :data:`SHOWN_MULTIPLES` the rest are folded under a summary line that opens them. A lone
    figure and the small table after it sit side by side."""

    def wrap(m: re.Match) -> str:
        figures = re.findall(_FIGURE, m.group(0), re.S)
        if len(figures) < 3:
            return f'<div class="figs">{"".join(figures)}</div>'
        kind = "figs many" + (" wide-run" if all('class="fig wide"' in f for f in figures) else "")
        shown, rest = figures[:SHOWN_MULTIPLES], figures[SHOWN_MULTIPLES:]
        out = f'<div class="{kind}">{"".join(shown)}</div>'
        if rest:
            out += (f'<details><summary>The other {len(rest)} figures of this kind</summary>'
                    f'<div class="{kind}">{"".join(rest)}</div></details>')
        return out

    return _PAIR.sub(r'<div class="pair">\1\2</div>', _FIGURES.sub(wrap, body))


def build_report(store: Store, out_dir: str | Path, **keywords: Any) -> Path:
    """Render the report of ``store`` into ``out_dir``; return the path of ``index.html``
    (the keywords are :func:`render_report`'s: ``models``, ``options``, ``only``, ``on_section``)."""
    return render_report(store, out_dir, **keywords).index


def render_report(
    store: Store,
    out_dir: str | Path,
    *,
    models: Sequence[str] | None = None,
    options: dict[str, Any] | None = None,
    only: Sequence[str] | None = None,
    on_section: Callable[[str], None] | None = None,
) -> BuiltReport:
    """Render the report of ``store`` into ``out_dir``; say what was built.

    ``only`` limits the report to the named sections; ``on_section(name)`` is called as each
    section starts (for progress). A section that would need more memory than the budget
    (:mod:`misclass.analysis.budget`) is replaced by a note saying why ("over budget"); one
    with nothing to show (e.g. no probabilities in the store) is left out ("empty").
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with FigureWriter() as writer:  # figures are written by workers while the next section computes
        pred = store.load(models)
        ctx = ReportContext(store=store, predictions=pred, class_names=store.class_names(),
                            out_dir=out, options=dict(options or {}), writer=writer)
        ran: list[tuple[str, str, Section | None]] = []
        for name, builder in sections():
            if only and name not in only:
                continue
            if on_section:
                on_section(name)
            status = "built"
            try:
                section = builder(ctx)
            except MemoryBudgetError as exc:  # too large for the memory budget: say so, build the rest
                section = Section(f"{name} (not built)", f"<p class=note>{_html.escape(str(exc))}</p>")
                status = "over budget"
            if section is not None:
                section.anchor = section.anchor or re.sub(r"[^a-z0-9]+", "-", name.lower())
            ran.append((name, status if section is not None else "empty", section))
    rank = {name: i for i, name in enumerate(page_names())}  # built in another order (sections.BUILD_FIRST)
    ran.sort(key=lambda r: rank.get(r[0], len(rank)))
    rendered = [section for _, _, section in ran if section is not None]
    for section in rendered:
        section.body = grid(ctx.resolve_figures(section.body))
    env = Environment(loader=PackageLoader("misclass.report", "templates"),
                      autoescape=select_autoescape(["html", "j2"]))
    templates = resources.files("misclass.report") / "templates"
    html = env.get_template("index.html.j2").render(
        css=(templates / "report.css").read_text(encoding="utf-8"),
        script=(templates / "report.js").read_text(encoding="utf-8"),
        title=f"misclass report: {store.path.name}",
        store=str(store.path.resolve()),
        n_models=len(pred.models),
        n_samples=pred.n,
        n_classes=len(ctx.class_names),
        sections=rendered,
        created=_dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        version=__version__,
    )
    index = out / "index.html"
    write_text(index, html)
    return BuiltReport(index, tuple(ran), tuple(ctx.figures))
