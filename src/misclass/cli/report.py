"""``misclass report``: write the HTML report of a store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress

from misclass.cli.app import DEFAULT_STORE_PATH, StoreOpt, app, console, get_store
from misclass.report.build import build_report

ModelsOpt = Annotated[
    list[str] | None, typer.Option("--model", "-m", help="Models to include (repeat). Default: all.")
]


def report_options(threshold: float, top_classes: int, k: int, group_a: str | None,
                   group_b: str | None) -> dict:
    """The options every report section may read, as one dict."""
    return {"threshold": threshold, "top_classes": top_classes, "k": k,
            "group_a": group_a, "group_b": group_b}


def write_report(store, out: Path, models, options: dict) -> Path:
    """Build the report with a progress bar over its sections."""
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("report", total=None)
        index = build_report(store, out, models=models, options=options,
                             on_section=lambda n: progress.update(task, description=f"report: {n}"))
    return index


@app.command()
def report(
    store: StoreOpt = DEFAULT_STORE_PATH,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("misclass-report"),
    model: ModelsOpt = None,
    threshold: Annotated[float, typer.Option(
        help="Misclassification-network edge threshold on v(j|i).", min=0.0, max=1.0)] = 0.3,
    top_classes: Annotated[int, typer.Option(
        help="Classes shown in confusion heatmaps (the most confused).", min=2)] = 30,
    k: Annotated[int, typer.Option("--k", help="Largest model combination size.", min=1)] = 3,
    group_a: Annotated[str | None, typer.Option(help="Confusion pairs true:pred,... (group A).")] = None,
    group_b: Annotated[str | None, typer.Option(help="Confusion pairs true:pred,... (group B).")] = None,
) -> None:
    """Write an HTML report (index.html plus PNG and SVG figures) that opens offline.

    Example: misclass report --store misclass-demo/store --out misclass-demo/report
    """
    s = get_store(store)
    index = write_report(s, out, model, report_options(threshold, top_classes, k, group_a, group_b))
    console.print(f"Report: {index.resolve()}")
