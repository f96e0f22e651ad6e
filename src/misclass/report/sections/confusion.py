"""Report section: where each model fails. Conditional-confusion heatmaps of the most-confused
classes, misclassification network drawings, the u table, the pattern table, the homogeneity
test, and score histograms of two groups of confusion pairs (``group_a`` / ``group_b``).
"""

from __future__ import annotations

import html
from collections import Counter

import numpy as np
import pandas as pd

from misclass.analysis.budget import ENV_VAR, dense_bytes, over_budget
from misclass.analysis.confusion import ModelConfusion
from misclass.analysis.confusion_options import DEFAULT_THRESHOLD
from misclass.analysis.confusion_scores import ScoreAnalysis
from misclass.format import plural
from misclass.report.registry import ReportContext, Section, register_section, table_html
from misclass.report.units import as_percent
from misclass.workflows.confusion import ConfusionResult, confusion

MAX_HEATMAP_CLASSES = 80
MAX_DRAWN_EDGES = 40
MAX_MODELS = 12  # models drawn (heatmaps, networks); the tables and the test cover every model
MAX_TABLE_ROWS = 20000  # rows of the u and pattern tables, worst first
MAX_NETWORK_WIDTH = 13.0  # inches; wider networks wrap into more rows
ARROW_SIZE = 11  # points
GREY = "#bdbdbd"  # undefined cells: the diagonal, rows of classes without errors


def _short(name: str, n: int = 22) -> str:
    return name if len(name) <= n else name[: n - 1] + "…"


def _stem(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def _labels(class_names: list[str], ids, n: int = 22) -> dict[int, str]:
    """Short names of the classes ``ids``; a name shared by several classes gets its id
    appended. One pass over the names, whatever their number."""
    wanted = {class_names[i] for i in ids}
    seen = Counter(name for name in class_names if name in wanted)
    return {int(i): _short(class_names[i], n) + (f" #{i}" if seen[class_names[i]] > 1 else "") for i in ids}


def heatmap_figure(mc: ModelConfusion, classes: np.ndarray, class_names: list[str]):
    """v(j|i) of ``classes`` (rows true, columns predicted) in %, and a last column with the
    share of each row's errors that go to classes not shown. Grey: the diagonal and the rows
    of classes without errors (v is undefined there); every row and column is named in full."""
    import matplotlib.pyplot as plt

    n = len(classes)
    labels = _labels(class_names, classes, n=200)
    size = min(22.0, max(5.5, 0.27 * n + 3.2))
    fig, ax = plt.subplots(figsize=(size + 1.5, size), dpi=100, layout="constrained")
    other = n < mc.n_classes  # a last column for the errors that go to classes not shown
    block = np.full((n, n + 2 if other else n), np.nan)
    block[:, :n] = mc.v_block(classes, classes)
    np.fill_diagonal(block, np.nan)
    has_err = mc.errors[classes] > 0
    if other:
        block[:, n + 1] = np.clip(1 - np.nansum(block[:, :n], axis=1), 0, 1)
    block[~has_err] = np.nan  # no errors: nowhere for them to go, grey like the diagonal
    block *= 100
    cmap = plt.get_cmap("Blues").with_extremes(bad=GREY)
    im = ax.imshow(np.ma.masked_invalid(block), cmap=cmap, vmin=0, vmax=100, interpolation="nearest",
                   aspect="equal")
    if other:
        ax.axvspan(n - 0.5, n + 0.5, color="white")
    font = 9 if n <= 20 else 7 if n <= 45 else 5.5
    rows = [f"{labels[c]} (u {100 * mc.u[c]:.0f}%)" if not np.isnan(mc.u[c]) else f"{labels[c]} (no images)"
            for c in classes]
    ax.set_yticks(np.arange(n), rows, fontsize=font)
    cols = list(range(n)) + ([n + 1] if other else [])
    ax.set_xticks(cols, [labels[c] for c in classes] + (["all other classes"] if other else []),
                  fontsize=font, rotation=60, ha="right", rotation_mode="anchor")
    if other:
        ax.get_xticklabels()[-1].set_fontweight("bold")
    if n <= 15:
        for i in range(n):
            for j in cols:
                if not np.isnan(block[i, j]) and block[i, j] >= 0.5:
                    ax.text(j, i, f"{block[i, j]:.0f}", ha="center", va="center", fontsize=7,
                            color="white" if block[i, j] > 60 else "black")
    ax.set_xlabel("predicted class j")
    ax.set_ylabel("true class i (its error rate u, % of its images misclassified)")
    which = f"the {n} most-confused of {mc.n_classes:,} classes" if other else f"all {n} classes"
    ax.set_title(f"{mc.model}: where each class's errors go, {which}\n"
                 "colour = v(j|i), % of class i's misclassified images predicted as j\n"
                 "grey = the diagonal, or a class without errors", fontsize=10)
    cb = fig.colorbar(im, ax=ax, shrink=0.6)
    cb.set_label("v(j|i) (%)")
    return fig


def _layout(g) -> dict:
    """Lay out each weakly connected component on its own and pack them in rows (positions in
    inches of the drawing: one unit is one inch of the figure)."""
    import networkx as nx

    comps = sorted(nx.weakly_connected_components(g), key=lambda c: (-len(c), min(c)))
    total = sum(len(c) for c in comps)
    row_width = max(6.0, min(MAX_NETWORK_WIDTH - 0.5, 2.6 * np.sqrt(total)))
    pos, x, y, row_h = {}, 0.0, 0.0, 0.0
    for comp in comps:
        sub = g.subgraph(comp)
        if len(comp) == 1:
            p = {next(iter(comp)): np.zeros(2)}
        elif len(comp) == 2:
            a, b = sorted(comp)
            p = {a: np.array([-0.75, 0.0]), b: np.array([0.75, 0.0])}
        else:
            p = nx.kamada_kawai_layout(sub.to_undirected())
            scale = 1.0 * np.sqrt(len(comp))
            p = {k: v * scale for k, v in p.items()}
        pts = np.array(list(p.values()))
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        w, h = hi[0] - lo[0] + 1.6, hi[1] - lo[1] + 1.2
        if x > 0 and x + w > row_width:
            x, y, row_h = 0.0, y - row_h, 0.0
        for k, v in p.items():
            pos[k] = np.array([x + (v[0] - lo[0]) + 0.8, y - (hi[1] - v[1]) - 0.7])
        x += w
        row_h = max(row_h, h)
    return pos


def _label_angles(g, pos) -> dict:
    """For each node, the direction (degrees) to write its name in, clear of its edges so no
    arrow runs into the name: straight above or below when no edge (an arc, up to 15 degrees
    off the straight line) comes within 45 degrees of it, else the middle of the widest gap
    between its edges; and whether that gap is narrow (the name then clears the arrowheads)."""
    out = {}
    for node in g.nodes:
        straight = {float(np.degrees(np.arctan2(*(pos[o] - pos[node])[::-1])))
                    for o in set(g.predecessors(node)) | set(g.successors(node))}
        angles = sorted({(a + bow) % 360 for a in straight for bow in (-15, 15)})  # edges are arcs

        def clearance(a, angles=angles):
            return min((abs((a - b + 180) % 360 - 180) for b in angles), default=180.0)

        vertical = [a for a in (90.0, 270.0) if clearance(a) >= 45]
        if vertical or not angles:
            out[node] = (vertical[0] if vertical else 90.0), False
            continue
        gaps = [((b - a) % 360 or 360, a) for a, b in zip(angles, angles[1:] + angles[:1], strict=True)]
        width, start = max(gaps)
        out[node] = (start + width / 2) % 360, width < 90
    return out


def network_figure(mc: ModelConfusion, class_names: list[str], max_edges: int = MAX_DRAWN_EDGES):
    """The misclassification network; only the ``max_edges`` edges with the most images when
    it has more. Node size and colour by weighted in-degree d, edge width by v, with a key for
    both; each class named in full (wrapped), on the side of its disc its edges avoid."""
    import textwrap

    import matplotlib.pyplot as plt
    import networkx as nx
    from matplotlib.lines import Line2D

    e = mc.edges
    n_edges = len(e)
    if n_edges > max_edges:
        e = e.iloc[np.lexsort((e["target"], e["source"], -e["weight"].to_numpy(), -e["count"].to_numpy()))
                   [:max_edges]]
    g = nx.DiGraph()
    g.add_weighted_edges_from(zip(e["source"].tolist(), e["target"].tolist(), e["weight"].tolist(),
                                  strict=True))
    if not len(g):
        return None
    pos = _layout(g)
    pts = np.array(list(pos.values()))
    span = pts.max(axis=0) - pts.min(axis=0)
    width = min(MAX_NETWORK_WIDTH, max(7.0, span[0] + 2.2))
    height = min(18.0, max(4.0, span[1] + 3.2))
    fig, ax = plt.subplots(figsize=(width, height), dpi=100, layout="constrained")
    nodes = list(g.nodes)
    deg = mc.in_degree[nodes]
    top = max(1.0, float(mc.in_degree.max()))
    cmap = plt.get_cmap("YlOrRd")

    def node_size(d):
        return 60 + 500 * np.asarray(d, dtype=float) / top

    def edge_width(v):
        return 0.6 + 3.5 * v

    sizes = node_size(deg)
    nx.draw_networkx_nodes(g, pos, nodelist=nodes, node_size=sizes, node_color=deg, cmap=cmap,
                           vmin=0, vmax=top, edgecolors="#555", linewidths=0.6, ax=ax)
    widths = [edge_width(g.edges[a, b]["weight"]) for a, b in g.edges]
    nx.draw_networkx_edges(g, pos, width=widths, edge_color="#2171b5", alpha=0.75, arrows=True,
                           arrowsize=ARROW_SIZE, node_size=sizes, connectionstyle="arc3,rad=0.12", ax=ax)
    labels = _labels(class_names, nodes, n=200)
    angles = _label_angles(g, pos)
    for node, size in zip(nodes, sizes, strict=True):  # beside each disc, clear of its edges
        angle, narrow = angles[node]
        dx, dy = np.cos(np.radians(angle)), np.sin(np.radians(angle))
        ha = "left" if dx > 0.3 else "right" if dx < -0.3 else "center"
        va = "bottom" if dy > 0.3 else "top" if dy < -0.3 else "center"
        gap = np.sqrt(size) / 2 + 2 + (ARROW_SIZE if narrow else 0)
        ax.annotate(textwrap.fill(labels[node], 18), xy=pos[node], xytext=(dx * gap, dy * gap),
                    textcoords="offset points", ha=ha, va=va, fontsize=9, linespacing=1.0,
                    multialignment={"left": "left", "right": "right"}.get(ha, "center"), zorder=5,
                    bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none",
                          "alpha": 0.8})
    shown = (("its only edge" if n_edges == 1 else f"all {n_edges} edges") if n_edges <= max_edges
             else f"the {max_edges} edges with the most images (of {n_edges:,})")
    ax.set_title(f"{mc.model}: misclassification network, {shown}\n"
                 f"edge i → j where v(j|i) ≥ {100 * mc.threshold:g}% of class i's errors go to j",
                 fontsize=10)
    ax.set_axis_off()
    ax.margins(0.06)
    # the key: node size and colour = weighted in-degree d, edge width = v(j|i)
    d_keys = sorted({round(x, 1) for x in (0.25 * top, 0.5 * top, top)} - {0.0})
    v_keys = sorted({mc.threshold, (mc.threshold + 1) / 2, 1.0})
    handles = [Line2D([], [], ls="", marker="o", markersize=float(np.sqrt(node_size(d))),
                      markerfacecolor=cmap(d / top), markeredgecolor="#555") for d in d_keys]
    handles += [Line2D([], [], color="#2171b5", alpha=0.75, lw=edge_width(v)) for v in v_keys]
    texts = [f"d = {d:g}" for d in d_keys] + [f"v = {100 * v:.0f}%" for v in v_keys]
    fig.legend(handles, texts, loc="outside lower center", ncol=len(texts), fontsize=9, frameon=False,
               title="node size and colour: weighted in-degree d (the sum of v(j|i) over the edges "
                     "into a class)\nedge width: v(j|i)", title_fontsize=9, handlelength=2.5,
               borderaxespad=0.2)
    return fig


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


@register_section("confusion", order=20)
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
    for name in drawn:
        parts.append(ctx.save_figure(heatmap_figure(res.model(name), classes, names),
                                     f"confusion-heatmap-{_stem(name)}",
                                     alt=f"Conditional confusion heatmap of {name}"))
    parts.append("<h3>Misclassification networks</h3>")
    for name in drawn:
        fig = network_figure(res.model(name), names)
        if fig is None:
            parts.append(f"<p class=note>{html.escape(name)}: no edge reaches v ≥ {threshold:g}.</p>")
        else:
            parts.append(ctx.save_figure(fig, f"confusion-network-{_stem(name)}",
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
