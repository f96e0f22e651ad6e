"""``misclass demo``: the builtin digits zoo, its store and its report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from misclass.cli.app import app, console, print_table
from misclass.format import count, percent


@app.command()
def demo(
    store: Annotated[Path, typer.Option("--store", "-s", help="Store folder to (re)create.")] = Path(
        "misclass-demo/store"),
    out: Annotated[Path, typer.Option("--out", "-o", help="Report folder.")] = Path(
        "misclass-demo/report"),
    seed: Annotated[int, typer.Option(help="Seed of the split and the models.")] = 0,
) -> None:
    """Train the builtin zoo on the digits dataset, write the store and the report.

    Example: misclass demo --store misclass-demo/store --out misclass-demo/report
    """
    from misclass.workflows.demo import demo as run_demo

    result = run_demo(store, out=out, seed=seed, console=console)
    table = Table(title=f"Builtin zoo on digits: {count(result.models.n_samples)} test images, trained on "
                        f"{count(result.n_train)}")
    for col in ("model", "family", "top-1", "top-5"):
        table.add_column(col, justify="left" if col in ("model", "family") else "right")
    for name, row in result.to_frame().iterrows():
        table.add_row(name, row.family, percent(row.top1), percent(row.top5))
    print_table(table)
    console.print(f"Store: {Path(result.store).resolve()}")
    console.print(f"Done in {result.seconds:.1f} s. Report: {result.report.index.resolve()}")
