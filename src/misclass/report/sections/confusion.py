"""Report section: where each model fails. Conditional-confusion heatmaps of the most-confused
classes, misclassification network drawings, the u table, the pattern table, the homogeneity
test, and score histograms of two groups of confusion pairs (``group_a`` / ``group_b``).
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from misclass.analysis.budget import ENV_VAR, dense_bytes, over_budget
from misclass.analysis.confusion_options import DEFAULT_THRESHOLD
from misclass.analysis.confusion_scores import ScoreAnalysis
from misclass.format import plural
from misclass.report.confusion_figures import draw_heatmap, heatmap_data
from misclass.report.network_figures import draw_network, network_data
from misclass.report.registry import ReportContext, Section, register_section, table_html
from misclass.report.units import as_percent
from misclass.report.writer import Drawing
from misclass.workflows.confusion import ConfusionResult, confusion

MAX_HEATMAP_CLASSES = 80
MAX_MODELS = 12  # models drawn (heatmaps, networks); the tables and the test cover every model
MAX_TABLE_ROWS = 20000  # rows of the u and pattern tables, worst first


def _stem(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def _pairs_label(pairs, class_names: list[str], limit: int = 3) -> str:
    text = ", ".join(f"{class_names[a]} → {class_names[b]}" for a, b in pairs[:limit])
    return text + (f" and {len(pairs) - limit} more" if len(pairs) > limit else "")


def score_figure(sa: ScoreAnalysis, class_names: list[str], pairs_a, pairs_b):
    """Histograms of ratio and difference for groups A and B."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), dpi=100, layout="constrained")
    for ax, values, rng, xlabel, title in (
        (axes[0], sa.ratio, (0, 1), "ratio s_true / s_pred (of the probabilities)",
         "ratio: true class's score / predicted class's"),
        (axes[1], sa.difference, (-1, 0), "difference s_true − s_pred (of the probabilities)",
         "difference: true class's score − predicted's"),
    ):
        bins = np.linspace(*rng, 26)
        for mask, label, pairs, colour in ((sa.in_a, "A", pairs_a, "#2171b5"),
                                           (sa.in_b, "B", pairs_b, "#e6550d")):
            size = plural(int(mask.sum()), "image")
            ax.hist(np.clip(values[mask], *rng), bins=bins, alpha=0.55, color=colour,
                    label=f"group {label}: {_pairs_label(pairs, class_names)} ({size})")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("misclassified images")
        ax.set_title(title)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", fontsize=9, frameon=False)
    fig.suptitle(f"{sa.model}: scores of misclassified images in the two groups of confusion pairs")
    return fig


def _pairs_text(pairs, names) -> str:
    return ", ".join(f"{names[a]} → {names[b]}" for a, b in pairs)


def _homogeneity_html(res: ConfusionResult) -> str:
    h = res.homogeneity
    if h.test is None:
        return f"<p>Chi-squared test of homogeneity: not computed ({html.escape(h.undefined)}).</p>"
    notes = []
    if len(h.dropped_classes):
        notes.append(f"{plural(len(h.dropped_classes), 'class', 'classes')} without an error in any model "
                     f"{'is' if len(h.dropped_classes) == 1 else 'are'} dropped "
                     "(their column would be empty)")
    if h.dropped_models:
        notes.append(f"models without any error dropped: {', '.join(h.dropped_models)}")
    if h.share_expected_below_5 > 0.2:
        notes.append(f"{100 * h.share_expected_below_5:.0f}% of the expected counts are below 5, so "
                     "the p-value from the chi-squared approximation is rough")
    note = ("; ".join(notes) + ".") if notes else ""
    return (f"<p>Chi-squared test of homogeneity of the class-wise error counts e<sub>i</sub> across "
            f"models (table models × {len(h.kept_classes)} classes): "
            f"<span class=stat>χ² = {h.test.statistic:.2f}, dof = {h.test.dof}, "
            f"p = {h.test.p:.3g}</span>. A small p says the models spread their errors over the "
            f"classes differently. {html.escape(note)}</p>")


def confusion_options(options: dict) -> dict:
    """The options of ``misclass confusion`` from the report's options (the report draws the
    30 most-confused classes by default; the groups only when both are given)."""
    ga, gb = options.get("group_a"), options.get("group_b")
    grouped = bool(ga and gb)
    threshold = options.get("threshold")
    return {"threshold": float(DEFAULT_THRESHOLD if threshold is None else threshold),
            "top_classes": int(options.get("top_classes") or 30),
            "group_a": ga if grouped else None, "group_b": gb if grouped else None}


@register_section("confusion")
def build(ctx: ReportContext) -> Section | None:
    """Heatmaps, networks, u and pattern tables, homogeneity test and score histograms."""
    pred = ctx.predictions
    if not pred.models or (pred.labels < 0).all():
        return None
    names = ctx.class_names
    res = confusion(ctx.store, models=list(pred.models), **confusion_options(ctx.options))
    threshold, top_n = res.threshold, res.top_classes
    drawn = res.models[:MAX_MODELS]
    n_show = min(top_n, MAX_HEATMAP_CLASSES, len(names))
    classes = res.analysis.most_confused(n_show)
    parts = [
        "<p>For each model and true class i: u<sub>i</sub> is the share of class i's images that "
        "are misclassified; v(j|i) is the share of class i's misclassified images predicted as j. "
        f"The misclassification network has an edge i → j wherever v(j|i) ≥ {threshold:g}; a class's "
        "weighted in-degree d sums v over the edges pointing to it.</p>"
    ]
    if len(res.models) > MAX_MODELS:
        parts.append(f"<p class=note>Heatmaps and networks are drawn for the first {MAX_MODELS} of the "
                     f"{len(res.models)} models; the tables, patterns and the test cover all of them.</p>")
    m = len(res.models)
    dense = over_budget("conditional confusion v(j|i) of all classes", len(names),
                        dense_bytes(len(names), matrices=m), matrices=m)
    if dense is not None:
        parts.append(f"<p class=note>{html.escape(dense)} ({ENV_VAR}), so no dense matrix is built: the "
                     f"heatmaps show the {n_show} most-confused classes (--top-classes) and every table "
                     "is counted from the non-zero cells of each model's confusion matrix.</p>")
    capped = (f" (--top-classes {top_n} is capped at {MAX_HEATMAP_CLASSES} to stay readable)"
              if top_n > MAX_HEATMAP_CLASSES and len(names) > MAX_HEATMAP_CLASSES else "")
    parts.append(
        f"<h3>Conditional confusion v(j|i)</h3><p class=caption>The {n_show} classes shown are those "
        "in the most-confused pairs over all models, the same for every model" + html.escape(capped)
        + ". Colour: v(j|i) in %; each row sums to 100% over all predicted classes, including classes "
        f"not shown{' (last column)' if n_show < len(names) else ''}. Grey: the diagonal, and the rows "
        "of classes without errors (no errors to spread). Rows name each class with its error rate u.</p>")
    for name in drawn:  # drawn by the figure workers from the few numbers each figure shows
        heatmap = Drawing(draw_heatmap, kwargs=heatmap_data(res.model(name), classes, names))
        parts.append(ctx.save_figure(heatmap, f"confusion-heatmap-{_stem(name)}",
                                     alt=f"Conditional confusion heatmap of {name}"))
    parts.append("<h3>Misclassification networks</h3>")
    for name in drawn:
        data = network_data(res.model(name), names)
        if data is None:
            parts.append(f"<p class=note>{html.escape(name)}: no edge reaches v ≥ {threshold:g}.</p>")
        else:
            parts.append(ctx.save_figure(Drawing(draw_network, kwargs=data),
                                         f"confusion-network-{_stem(name)}",
                                         alt=f"Misclassification network of {name}"))
    top = res.top_pairs(50).reset_index().drop(columns=["true_index", "predicted_index"]).rename(
        columns={"true": "true class", "predicted": "predicted as", "total": "images (all models)"})
    parts.append("<h3>Most frequent confusions</h3>" + table_html(
        top, caption="The 50 (true → predicted) pairs with the most misclassified images summed over models; "
                "one column of counts per model."))
    u = res.u_table().reset_index().rename(columns={"class_index": "class id"})
    u = u[["class id", "class", *u.columns[2:]]].sort_values(["mean u", "class id"], ascending=[False, True])
    u = as_percent(u, {c: c for c in [*res.models, "mean u"]}).rename(columns={"mean u": "mean u (%)"})
    parts.append("<h3>Class-wise misclassification rate u</h3>" + table_html(
        u, float_digits=1,
        caption="One row per class, worst first; one column per model: u, the % of the class's images "
                "that model misclassifies" + ("; - for a class without images" if u["mean u (%)"].isna().any()
                                               else "") + ".",
        max_rows=MAX_TABLE_ROWS))
    pats = res.patterns()
    if len(pats):
        counts = pats["pattern"].value_counts()
        summary = ", ".join(f"{k}: {v}" for k, v in counts.items())
        rest = pats.reset_index(drop=True)[["n_models", "pattern", "errors"]].rename(
            columns={"n_models": "models linking", "errors": "images (a→b and b→a, all models)"})
        shown = pd.concat([pats.index.to_frame(index=False), res.pattern_cells().reset_index(drop=True),
                           rest], axis=1)
        parts.append(
            "<h3>Confusion patterns across models</h3><p>A pair of classes is <em>symmetric</em> in a "
            "model when both a → b and b → a are edges, <em>one-way</em> when only one is; a pattern is "
            "<em>universal</em> when every model links the pair, <em>model-specific</em> otherwise, and "
            "<em>mixed</em> when the linking models disagree on its direction. Counts: "
            f"{html.escape(summary)}.</p>"
            + table_html(shown, caption="One row per linked pair; per-model cells: symmetric, a->b, b->a "
                         "or none.", max_rows=MAX_TABLE_ROWS))
    else:
        parts.append("<p class=note>No pair of classes is linked in any model's network.</p>")
    parts.append("<h3>Do the models fail on the same classes?</h3>" + _homogeneity_html(res))
    parts.append(_scores_html(ctx, res, names))
    return Section("Where each model fails", "".join(parts))


def _scores_html(ctx: ReportContext, res: ConfusionResult, names: list[str]) -> str:
    if res.groups is None:
        return ""
    pairs_a, pairs_b = res.groups
    text_a, text_b = html.escape(_pairs_text(pairs_a, names)), html.escape(_pairs_text(pairs_b, names))
    out = [f"<h3>Scores of misclassified images: group A vs group B</h3><p>Group A: {text_a}. "
           f"Group B: {text_b}. "
           "For each misclassified image, the ratio and the difference of the true class's score to "
           "the predicted class's score; groups compared with a pooled-variance t-test and Welch's "
           "t-test (A minus B).</p>"]
    drawn, scored = set(res.models[:MAX_MODELS]), []
    for name, sa in res.scores.items():
        if not sa.scored and not sa.outside_topk:
            out.append(f"<p class=note>{html.escape(name)}: no stored probabilities, no scores.</p>")
            continue
        scored.append(name)
        if sa.outside_topk:
            out.append(f"<p class=note>{html.escape(name)}: {sa.outside_topk} misclassified images have "
                       f"their true class outside the stored top-k ({sa.outside_a} in group A, "
                       f"{sa.outside_b} in group B); their scores are unknown and they are not in the "
                       "histograms or tests.</p>")
        if name in drawn and (sa.in_a.any() or sa.in_b.any()):
            fig = score_figure(sa, names, pairs_a, pairs_b)
            out.append(ctx.save_figure(fig, f"confusion-scores-{_stem(name)}",
                                       alt=f"Score histograms of groups A and B for {name}"))
    table = res.score_comparisons()
    table = table[table.index.get_level_values("model").isin(scored)]
    if len(table):
        table = table.rename(columns={"n A": "images in A", "n B": "images in B"})
        out.append(table_html(table.reset_index(), float_digits=4,
                              caption="t-tests of group A minus group B; – where a group has fewer "
                                      "than two images or neither group varies."))
    return "".join(out)
