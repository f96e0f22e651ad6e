"""``misclass report``: write the HTML report of a store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from misclass.cli.app import DEFAULT_STORE_PATH, StoreOpt, app, console

ModelsOpt = Annotated[
    list[str] | None, typer.Option("--model", "-m", help="Models to include (repeat). Default: all.")
]


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
    svg: Annotated[bool, typer.Option(
        "--svg", help="Also write every figure as SVG (for papers); the page links to it.")] = False,
) -> None:
    """Write an HTML report (index.html plus PNG figures; SVG too with --svg) that opens offline.

    Example: misclass report --store misclass-demo/store --out misclass-demo/report
    """
    from misclass.workflows.report import report as run_report

    result = run_report(store, out=out, models=model, threshold=threshold, top_classes=top_classes, k=k,
                        group_a=group_a, group_b=group_b, labels=labels, groups=groups,
                        shifted_store=shifted_store, factor_set=factor_set, seed=seed, svg=svg,
                        console=console)
    console.print(f"Report: {result.index.resolve()}")
