"""``misclass report``: the HTML report of a store (``index.html`` with PNG figures, and SVG
ones on request, opening offline).

:func:`report` gathers the command's options and renders every registered section
(:func:`misclass.report.build.render_report`); each section calls the workflow of its
command with those options. This is the one workflow that drives a view: it returns where
the report is and which sections were built, not statistics (those are the other
workflows' results).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from misclass.workflows.common import as_store, json_ready

if TYPE_CHECKING:
    import pandas as pd

    from misclass.report.build import BuiltReport
    from misclass.store import Store

__all__ = ["ReportResult", "report", "report_options"]


@dataclass(frozen=True)
class ReportResult:
    """The report written: the store it shows, ``index`` (the page), the options the
    sections read, and ``built`` (each section run, its status, the figures)."""

    store: str
    index: Path
    built: BuiltReport
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def out(self) -> Path:
        """The report folder."""
        return self.index.parent

    @property
    def sections(self) -> tuple[str, ...]:
        """The sections on the page (registered names, in order; over-budget ones too, as a note)."""
        return tuple(name for name, status, _ in self.built.sections if status != "empty")

    @property
    def figures(self) -> tuple[str, ...]:
        return self.built.figures

    def to_frame(self) -> pd.DataFrame:
        """One row per section run (index ``section``): title, anchor, status ("built",
        "over budget": a note says why, "empty": nothing to show, left out)."""
        import pandas as pd

        rows = [{"title": s.title if s else None, "anchor": s.anchor if s else None, "status": status}
                for _, status, s in self.built.sections]
        return pd.DataFrame(rows, index=pd.Index([n for n, _, _ in self.built.sections], name="section"),
                            columns=["title", "anchor", "status"])

    def to_dict(self) -> dict[str, Any]:
        """The report's page, folder, sections (name, title, anchor, status), figures and options."""
        return json_ready({
            "store": self.store, "index": str(self.index), "out": str(self.out),
            "sections": [{"name": n, "title": s.title if s else None, "anchor": s.anchor if s else None,
                          "status": status} for n, status, s in self.built.sections],
            "figures": list(self.figures),
            "options": {k: str(v) if isinstance(v, os.PathLike) else v for k, v in self.options.items()},
        })


def report_options(threshold: float = 0.3, top_classes: int = 30, k: int = 3,
                   group_a: str | None = None, group_b: str | None = None, *,
                   labels: str | None = None, groups: Sequence[str] | None = None,
                   shifted_store: str | os.PathLike | None = None, factor_set: str = "top",
                   keep_prototypes: bool = False, seed: int = 0, svg: bool = False) -> dict[str, Any]:
    """The options every report section may read, as one dict (``ReportContext.options``)."""
    return {"threshold": threshold, "top_classes": top_classes, "k": k,
            "group_a": group_a, "group_b": group_b, "labels": labels, "groups": list(groups or []) or None,
            "shifted_store": None if shifted_store is None else Path(shifted_store), "factor_set": factor_set,
            "keep_prototypes": keep_prototypes, "seed": seed, "svg": bool(svg)}


def report(
    store: Store | str | os.PathLike,
    *,
    out: str | os.PathLike = "misclass-report",
    models: Sequence[str] | None = None,
    threshold: float = 0.3,
    top_classes: int = 30,
    k: int = 3,
    group_a: str | None = None,
    group_b: str | None = None,
    labels: str | None = None,
    groups: Sequence[str] | None = None,
    shifted_store: str | os.PathLike | None = None,
    factor_set: str = "top",
    keep_prototypes: bool = False,
    seed: int = 0,
    svg: bool = False,
    only: Sequence[str] | None = None,
    console=None,
    progress: bool = True,
) -> ReportResult:
    """Write the HTML report of a store into ``out``.

    Parameters
    ----------
    store : the store (or its path).
    out : the report folder (``index.html``, ``figures/``, ``images/``).
    models : the models to include (default: all).
    threshold : misclassification-network edge threshold on v(j|i).
    top_classes : classes drawn in confusion heatmaps (the most confused; drawing only).
    k : largest model combination size.
    group_a, group_b : confusion pairs ``true:pred,...`` whose scores are compared.
    labels : label sets for multi-label accuracy ("real" or a JSONL/CSV file).
    groups : class groups ("imagenet", "metaclasses" or a class,group CSV).
    shifted_store : a store of the same models on a shifted dataset.
    factor_set, keep_prototypes : ImageNet-X factors ("top" or "multi"), and whether to keep
        the prototypical images it drops.
    seed : seed of the failure section's calibration split.
    svg : also write every figure as SVG (the page links to it); PNG only by default.
    only : build only these sections (registered names, e.g. ``["summary", "confusion"]``).
    console, progress : where the progress bar goes, and whether to show one.
    """
    from rich.progress import Progress

    from misclass.report.build import render_report

    s = as_store(store)
    options = report_options(threshold, top_classes, k, group_a, group_b, labels=labels, groups=groups,
                             shifted_store=shifted_store, factor_set=factor_set,
                             keep_prototypes=keep_prototypes, seed=seed, svg=svg)
    with Progress(console=console, transient=True, disable=not progress) as bar:
        task = bar.add_task("report", total=None)
        built = render_report(s, out, models=[models] if isinstance(models, str) else models, options=options,
                              only=only, on_section=lambda n: bar.update(task, description=f"report: {n}"))
    return ReportResult(str(s.path), built.index, built, options)
