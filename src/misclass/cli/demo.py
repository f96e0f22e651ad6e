"""``misclass demo``: the builtin digits zoo, its store and its report."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from misclass.analysis.summary import summarize_models
from misclass.cli.app import app, console, pct
from misclass.cli.report import report_options, write_report
from misclass.data import load_digits
from misclass.errors import StoreError
from misclass.predict.zoo import ZOO, train_zoo
from misclass.store import Store


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
    start = time.perf_counter()
    s = Store(store)
    if s.exists() and s.info().get("dataset") != "digits":
        raise StoreError(f"{store}: holds a store that 'misclass demo' did not make; choose "
                         "another --store so it is not overwritten")
    data = load_digits(seed=seed)
    train, test = data.split("train"), data.split("test")
    s = Store.create(store, samples=test.samples, classes=data.classes, images=test.images,
                     info={"dataset": "digits", "seed": seed, "split": "test"}, overwrite=True)
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("training the zoo", total=len(ZOO))
        results = train_zoo(train.images, train.labels, test.images, n_classes=len(data.classes),
                            seed=seed, on_done=lambda name: progress.update(
                                task, advance=1, description=f"trained {name}"))
    for r in results:
        s.write_model(r.name, r.topk_ids, r.topk_probs, probs=r.probs, metadata=r.metadata,
                      replace=True)
    families = {name: entry.family for name, entry in ZOO.items()}
    if importlib.util.find_spec("torch") is not None:  # the CNN zoo, with misclass[torch]
        from misclass.predict.train_run import train_cnn_zoo

        families.update(train_cnn_zoo(data, s.path, seed=seed, console=console))
    pred = s.load()
    summary = summarize_models(pred.models, pred.labels, pred.topk, pred.k)
    table = Table(title=f"Builtin zoo on digits: {pred.n} test images, trained on {len(train)}")
    for col in ("model", "family", "top-1", "top-5"):
        table.add_column(col, justify="left" if col in ("model", "family") else "right")
    for row in summary.sort_values("top1", ascending=False).itertuples():
        table.add_row(row.name, families.get(row.name, ""), pct(row.top1), pct(row.top5))
    console.print(table)
    index = write_report(s, out, None, report_options(0.3, 10, 3, None, None))
    console.print(f"Store: {s.path.resolve()}")
    console.print(f"Done in {time.perf_counter() - start:.1f} s. Report: {index.resolve()}")


