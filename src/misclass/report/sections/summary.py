"""Report section: the model summary (table and accuracy bar chart)."""

from __future__ import annotations

import numpy as np

from misclass.format import undefined
from misclass.report.figures import accuracy_bars
from misclass.report.registry import ReportContext, Section, register_section, table_html
from misclass.report.units import as_percent
from misclass.workflows.models import models

EXPECTED_NOTE = ("* expected accuracy of a person drawn at random from the image's voters (mean of "
                 "count[label] / total), not the accuracy of a stored answer")


@register_section("summary")
def build(ctx: ReportContext) -> Section | None:
    """The accuracy table and bar chart (:func:`misclass.workflows.models.models`)."""
    pred = ctx.predictions
    if not pred.models:
        return Section("Models", "<p class=note>The store holds no models yet.</p>")
    df = models(ctx.store, models=list(pred.models)).table
    expected = (df["accuracy"] == "expected").to_numpy()
    df["name"] = [n + " *" if e else n for n, e in zip(df["name"], expected, strict=True)]
    has_top5 = not df["top5"].isna().all()
    fig = accuracy_bars(list(df["name"]), df["top1"].to_numpy(),
                        df["top5"].to_numpy() if has_top5 else None, int(df["n"].iloc[0]))
    img = ctx.save_figure(fig, "accuracy", alt="Top-1 accuracy of each model")
    shown = df.sort_values("top1", ascending=False).copy()
    errors = np.round((1 - shown["top1"]) * shown["n"]).astype("Int64").astype(object)
    shown["errors"] = errors.where(shown["accuracy"] != "expected",  # an expectation counts none
                                   undefined("an expected accuracy counts no errors"))
    shown = as_percent(shown.drop(columns=["accuracy"]), {"top1": "top-1 (%)", "top5": "top-5 (%)"})
    shown = shown.rename(columns={"name": "model", "n": "images with a label"})
    if not has_top5:
        shown = shown.drop(columns=["top-5 (%)"])
    caption = "Accuracies in % of the images with a known label." + (
        " " + EXPECTED_NOTE + "; its errors: - (an expectation counts none)." if expected.any() else "")
    return Section("Models", img + table_html(shown, caption=caption, float_digits=2))
