"""``misclass models``: one row per model."""

from __future__ import annotations

from rich.table import Table

from misclass.analysis.summary import summarize_models
from misclass.cli.app import DEFAULT_STORE_PATH, JsonOpt, StoreOpt, app, console, get_store, pct, write_json


@app.command()
def models(store: StoreOpt = DEFAULT_STORE_PATH, json: JsonOpt = None) -> None:
    """List the models in a store with their top-1 and top-5 accuracy.

    Example: misclass models --store misclass-demo/store --json models.json
    """
    s = get_store(store)
    pred = s.load()
    summary = summarize_models(pred.models, pred.labels, pred.topk, pred.k)
    table = Table(title=f"{len(pred.models)} models on {pred.n:,} samples ({s.path})")
    for col in ("model", "n", "top-1", "top-5"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for row in summary.sort_values("top1", ascending=False).itertuples():
        table.add_row(row.name, f"{row.n:,}", pct(row.top1), pct(row.top5))
    console.print(table)
    write_json(json, {"models": [
        {"name": r.name, "n": int(r.n), "top1": r.top1, "top5": r.top5}
        for r in summary.itertuples()
    ]})
