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


def report_options(threshold: float = 0.3, top_classes: int = 30, k: int = 3,
                   group_a: str | None = None, group_b: str | None = None, *,
                   labels: str | None = None, groups: list[str] | None = None,
                   shifted_store: Path | None = None, factor_set: str = "top",
                   keep_prototypes: bool = False, seed: int = 0) -> dict:
    """The options every report section may read, as one dict."""
    return {"threshold": threshold, "top_classes": top_classes, "k": k,
            "group_a": group_a, "group_b": group_b, "labels": labels, "groups": groups or None,
            "shifted_store": shifted_store, "factor_set": factor_set,
            "keep_prototypes": keep_prototypes, "seed": seed}


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
    labels: Annotated[str | None, typer.Option(
        help="Label sets for multi-label accuracy: 'real' (ImageNet-ReaL) or a JSONL/CSV file.")] = None,
    groups: Annotated[list[str] | None, typer.Option(
        "--groups", help="Class groups (repeat): 'imagenet', 'metaclasses' or a class,group CSV.")] = None,
    shifted_store: Annotated[Path | None, typer.Option(
        help="A store of the same models on a shifted dataset (e.g. ImageNetV2).")] = None,
    factor_set: Annotated[str, typer.Option(help="ImageNet-X factors: 'top' or 'multi'.")] = "top",
    seed: Annotated[int, typer.Option(help="Seed of the calibration split (failure section).")] = 0,
) -> None:
    """Write an HTML report (index.html plus PNG and SVG figures) that opens offline.

    Example: misclass report --store misclass-demo/store --out misclass-demo/report
    """
    s = get_store(store)
    options = report_options(threshold, top_classes, k, group_a, group_b, labels=labels, groups=groups,
                             shifted_store=shifted_store, factor_set=factor_set, seed=seed)
    index = write_report(s, out, model, options)
    console.print(f"Report: {index.resolve()}")
