"""Write the HTML report: every registered section, one page, figures beside it."""

from __future__ import annotations

import datetime as _dt
import html as _html
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from misclass import __version__
from misclass.errors import MemoryBudgetError
from misclass.report.registry import ReportContext, Section, sections
from misclass.store import Store
from misclass.store.files import write_text


def build_report(
    store: Store,
    out_dir: str | Path,
    *,
    models: Sequence[str] | None = None,
    options: dict[str, Any] | None = None,
    only: Sequence[str] | None = None,
    on_section: Callable[[str], None] | None = None,
) -> Path:
    """Render the report of ``store`` into ``out_dir``; return the path of ``index.html``.

    ``only`` limits the report to the named sections; ``on_section(name)`` is called as each
    section starts (for progress). A section that would need more memory than the budget
    (:mod:`misclass.analysis.budget`) is replaced by a note saying why.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pred = store.load(models)
    ctx = ReportContext(store=store, predictions=pred, class_names=store.class_names(),
                        out_dir=out, options=dict(options or {}))
    rendered: list[Section] = []
    for name, builder in sections():
        if only and name not in only:
            continue
        if on_section:
            on_section(name)
        try:
            section = builder(ctx)
        except MemoryBudgetError as exc:  # too large for the memory budget: say so, build the rest
            section = Section(f"{name} (not built)", f"<p class=note>{_html.escape(str(exc))}</p>")
        if section is not None:
            section.anchor = section.anchor or re.sub(r"[^a-z0-9]+", "-", name.lower())
            rendered.append(section)
    env = Environment(loader=PackageLoader("misclass.report", "templates"),
                      autoescape=select_autoescape(["html", "j2"]))
    html = env.get_template("index.html.j2").render(
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
    return index
