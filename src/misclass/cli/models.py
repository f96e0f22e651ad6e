"""``misclass models``: one row per model."""

from __future__ import annotations

from rich.table import Table

from misclass.cli.app import (
    DEFAULT_STORE_PATH,
    JsonOpt,
    StoreOpt,
    app,
    console,
    print_table,
    top5_note,
    write_json,
)
from misclass.format import count, percent, plural


@app.command()
def models(store: StoreOpt = DEFAULT_STORE_PATH, json: JsonOpt = None) -> None:
    """List the models in a store with their top-1 and top-5 accuracy.

    Example: misclass models --store misclass-demo/store --json models.json
    """
    from misclass.workflows.models import models as models_workflow

    result = models_workflow(store)
    table = Table(title=f"{plural(len(result.table), 'model')} on {plural(result.n_samples, 'sample')} "
                  f"({result.store})")
    for col in ("model", "images", "top-1", "top-5"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for row in result.table.sort_values("top1", ascending=False).itertuples():
        mark = " *" if row.accuracy == "expected" else ""
        table.add_row(row.name + mark, count(row.n), percent(row.top1), percent(row.top5))
    print_table(table)
    note = top5_note(result.table)
    if note:
        console.print(note, highlight=False)
    if (result.table["accuracy"] == "expected").any():
        console.print("* expected accuracy of a person drawn at random from the image's voters "
                      "(mean of count\\[label] / total), not a sampled guess", highlight=False)
    write_json(json, result.to_dict())
