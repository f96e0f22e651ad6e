"""Report section: the model summary (table and accuracy bar chart)."""

from __future__ import annotations

import numpy as np

from misclass.analysis.summary import summarize_models
from misclass.report.figures import accuracy_bars
from misclass.report.registry import ReportContext, Section, register_section, table_html


@register_section("summary", order=10)
def build(ctx: ReportContext) -> Section | None:
    """The accuracy table and bar chart."""
    pred = ctx.predictions
    if not pred.models:
        return Section("Models", "<p class=note>The store holds no models yet.</p>")
    df = summarize_models(pred.models, pred.labels, pred.topk, pred.k)
    has_top5 = not df["top5"].isna().all()
    fig = accuracy_bars(list(df["name"]), df["top1"].to_numpy(),
                        df["top5"].to_numpy() if has_top5 else None, int(df["n"].iloc[0]))
    img = ctx.save_figure(fig, "accuracy", alt="Top-1 accuracy of each model")
    shown = df.sort_values("top1", ascending=False).copy()
    shown["errors"] = np.round((1 - shown["top1"]) * shown["n"]).astype("Int64")
    shown = shown.rename(columns={"name": "model", "n": "images with a label"})
    if not has_top5:
        shown = shown.drop(columns=["top5"])
    return Section("Models", img + table_html(shown, caption="Accuracies are fractions of the "
                                              "images with a known label."))
