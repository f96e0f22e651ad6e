"""Report section: accuracy under distribution shift and effective robustness.

Shown when ``ctx.options["shifted_store"]`` names a second store holding the same models on a
shifted test set (e.g. ImageNetV2). ``groups`` as for the labels section; default for ImageNet
stores: objects / organisms / dogs.
"""

from __future__ import annotations

import html

import pandas as pd

from misclass.format import undefined
from misclass.report.label_figures import shift_panels, shift_plot
from misclass.report.registry import ReportContext, Section, register_section, table_html
from misclass.workflows.evaluate import shift

TITLE = "Distribution shift"


def _model_table(t: pd.DataFrame) -> pd.DataFrame:
    shown = t.drop(columns=["n_original", "n_shifted"]).copy()
    for c in ("original", "shifted", "drop", "predicted", "effective_robustness"):
        shown[c] = shown[c] * 100
    shown = shown.rename(columns={"name": "model", "original": "original (%)", "shifted": "shifted (%)",
                                  "drop": "drop (points)", "predicted": "predicted (%)",
                                  "effective_robustness": "effective robustness (points)"})
    return shown.sort_values("original (%)", ascending=False)


def _group_table(subsets) -> pd.DataFrame:
    rows = []
    for g, f in subsets.items():
        st = f.table
        row = {"group": g, "images (original)": int(st["n_original"].iloc[0]),
               "images (shifted)": int(st["n_shifted"].iloc[0]),
               "mean drop (points)": 100 * st["drop"].mean(),
               "slope": f.fit.slope if f.fit else undefined(f.undefined or "no fit"),
               "intercept": f.fit.intercept if f.fit else undefined(f.undefined or "no fit")}
        row.update({f"ER {n}": 100 * v for n, v in zip(st["name"], st["effective_robustness"], strict=True)})
        rows.append(row)
    return pd.DataFrame(rows)


@register_section("shift")
def build(ctx: ReportContext) -> Section | None:
    """Original vs shifted accuracy on logit axes, the fit, and effective robustness per model."""
    path = ctx.options.get("shifted_store")
    pred = ctx.predictions
    if not path or not pred.models:
        return None
    result = shift(ctx.store, shifted_store=path, groups=ctx.options.get("groups"),
                   models=list(pred.models), skip_missing=True)
    if not result.models:
        return Section(TITLE, f"<p class=note>No model of this report is in {html.escape(str(path))}.</p>")
    res = result.analysis
    parts = [f"<p>The same models on <code>{html.escape(result.original_store)}</code> (original) and "
             f"<code>{html.escape(result.shifted_store)}</code> (shifted). Across models, shifted accuracy "
             "is close to a line on logit axes; a model's <em>effective robustness</em> is its shifted "
             "accuracy minus the line's prediction (positive: more robust than its original accuracy "
             "predicts).</p>"]
    t = res.overall.table
    n_o, n_s = int(t["n_original"].iloc[0]), int(t["n_shifted"].iloc[0])
    fig = shift_plot(res.overall, f"Top-1 accuracy under shift ({n_o:,} vs {n_s:,} images)")
    parts.append(ctx.save_figure(fig, "shift", alt="Shifted vs original accuracy on logit axes"))
    parts.append(table_html(_model_table(t), float_digits=2))
    if res.subsets:
        parts.append(f"<h3>Per group of classes ({html.escape(result.group_source or '')})</h3>")
        if len(res.subsets) <= 8:
            parts.append(ctx.save_figure(shift_panels(res.subsets), "shift-groups",
                                         alt="Shifted vs original accuracy per group of classes"))
        groups = _group_table(res.subsets)
        no_fit = [g for g, f in res.subsets.items() if f.fit is None]
        parts.append(table_html(groups, float_digits=2,
                                caption="Per group: the logit-axes fit and each model's effective robustness "
                                "(ER, points of accuracy)." + (f" -: no fit for {', '.join(no_fit)} (hover "
                                                               "a cell for why)." if no_fit else "")))
    if result.left_out:
        left_out = html.escape(", ".join(result.left_out))
        parts.append(f"<p class=note>Left out (in one store only): {left_out}.</p>")
    return Section(TITLE, "".join(parts))
