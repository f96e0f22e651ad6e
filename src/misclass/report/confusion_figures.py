"""The confusion section's figures: the conditional-confusion heatmap and the
misclassification network of one model.

Each figure is a ``*_data`` function (the model's numbers the figure needs: small, plain data,
computed in the report's process) and a ``draw_*`` function that builds the figure from them,
which the report's figure workers run (:class:`misclass.report.writer.Drawing`); this module
imports only numpy, matplotlib and networkx, so a worker starts fast.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from misclass.analysis.confusion import ModelConfusion

MAX_DRAWN_EDGES = 40
MAX_NETWORK_WIDTH = 13.0  # inches; wider networks wrap into more rows
ARROW_SIZE = 11  # points
GREY = "#bdbdbd"  # undefined cells: the diagonal, rows of classes without errors


def _short(name: str, n: int = 22) -> str:
    return name if len(name) <= n else name[: n - 1] + "…"


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
    return draw_heatmap(**heatmap_data(mc, classes, class_names))


def heatmap_data(mc: ModelConfusion, classes: np.ndarray, class_names: list[str]) -> dict:
    """What :func:`draw_heatmap` draws: the cells in % (NaN: grey), the row and column names."""
    n = len(classes)
    labels = _labels(class_names, classes, n=200)
    other = n < mc.n_classes  # a last column for the errors that go to classes not shown
    block = np.full((n, n + 2 if other else n), np.nan)
    block[:, :n] = mc.v_block(classes, classes)
    np.fill_diagonal(block, np.nan)
    has_err = mc.errors[classes] > 0
    if other:
        block[:, n + 1] = np.clip(1 - np.nansum(block[:, :n], axis=1), 0, 1)
    block[~has_err] = np.nan  # no errors: nowhere for them to go, grey like the diagonal
    block *= 100
    rows = [f"{labels[c]} (u {100 * mc.u[c]:.0f}%)" if not np.isnan(mc.u[c]) else f"{labels[c]} (no images)"
            for c in classes]
    return {"model": mc.model, "block": block, "rows": rows, "columns": [labels[c] for c in classes],
            "n_classes": mc.n_classes}


def draw_heatmap(model: str, block: np.ndarray, rows: list[str], columns: list[str], n_classes: int):
    """The heatmap of :func:`heatmap_data`: ``block`` (n, n), or (n, n + 2) with a last column
    for the classes not shown (column n is the white gap before it)."""
    import matplotlib.pyplot as plt

    n = len(rows)
    size = min(22.0, max(5.5, 0.27 * n + 3.2))
    fig, ax = plt.subplots(figsize=(size + 1.5, size), dpi=100, layout="constrained")
    other = n < n_classes
    cmap = plt.get_cmap("Blues").with_extremes(bad=GREY)
    im = ax.imshow(np.ma.masked_invalid(block), cmap=cmap, vmin=0, vmax=100, interpolation="nearest",
                   aspect="equal")
    if other:
        ax.axvspan(n - 0.5, n + 0.5, color="white")
    font = 9 if n <= 20 else 7 if n <= 45 else 5.5
    ax.set_yticks(np.arange(n), rows, fontsize=font)
    cols = list(range(n)) + ([n + 1] if other else [])
    ax.set_xticks(cols, list(columns) + (["all other classes"] if other else []),
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
    which = f"the {n} most-confused of {n_classes:,} classes" if other else f"all {n} classes"
    ax.set_title(f"{model}: where each class's errors go, {which}\n"
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
    both; each class named in full (wrapped), on the side of its disc its edges avoid. None
    when it has no edge."""
    data = network_data(mc, class_names, max_edges)
    return None if data is None else draw_network(**data)


def network_data(mc: ModelConfusion, class_names: list[str], max_edges: int = MAX_DRAWN_EDGES) -> dict | None:
    """What :func:`draw_network` draws: the edges kept (source, target, v), how many there
    are in all, each node's weighted in-degree and name, and where each node goes (laid out
    here: the layout needs scipy, which the report's process has loaded and a figure worker
    has not); None without an edge."""
    import networkx as nx

    e = mc.edges
    n_edges = len(e)
    if n_edges > max_edges:
        e = e.iloc[np.lexsort((e["target"], e["source"], -e["weight"].to_numpy(), -e["count"].to_numpy()))
                   [:max_edges]]
    if not len(e):
        return None
    edges = list(zip(e["source"].tolist(), e["target"].tolist(), e["weight"].tolist(), strict=True))
    nodes = {int(x) for a, b, _ in edges for x in (a, b)}
    g = nx.DiGraph()
    g.add_weighted_edges_from(edges)
    return {"model": mc.model, "threshold": float(mc.threshold), "edges": edges, "n_edges": n_edges,
            "max_edges": max_edges, "in_degree": {x: float(mc.in_degree[x]) for x in nodes},
            "top": max(1.0, float(mc.in_degree.max())), "labels": _labels(class_names, sorted(nodes), n=200),
            "pos": _layout(g)}


def draw_network(model: str, threshold: float, edges: list[tuple[int, int, float]], n_edges: int,
                 max_edges: int, in_degree: dict[int, float], top: float, labels: dict[int, str],
                 pos: dict[int, np.ndarray]):
    """The network of :func:`network_data` (``top``: the largest in-degree of any class, at
    least 1, for the colour scale; ``pos``: each node's place, in inches)."""
    import textwrap

    import matplotlib.pyplot as plt
    import networkx as nx
    from matplotlib.lines import Line2D

    g = nx.DiGraph()
    g.add_weighted_edges_from(edges)
    pts = np.array(list(pos.values()))
    span = pts.max(axis=0) - pts.min(axis=0)
    width = min(MAX_NETWORK_WIDTH, max(7.0, span[0] + 2.2))
    height = min(18.0, max(4.0, span[1] + 3.2))
    fig, ax = plt.subplots(figsize=(width, height), dpi=100, layout="constrained")
    nodes = list(g.nodes)
    deg = np.array([in_degree[x] for x in nodes])
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
    ax.set_title(f"{model}: misclassification network, {shown}\n"
                 f"edge i → j where v(j|i) ≥ {100 * threshold:g}% of class i's errors go to j",
                 fontsize=10)
    ax.set_axis_off()
    ax.margins(0.06)
    # the key: node size and colour = weighted in-degree d, edge width = v(j|i)
    d_keys = sorted({round(x, 1) for x in (0.25 * top, 0.5 * top, top)} - {0.0})
    v_keys = sorted({threshold, (threshold + 1) / 2, 1.0})
    handles = [Line2D([], [], ls="", marker="o", markersize=float(np.sqrt(node_size(d))),
                      markerfacecolor=cmap(d / top), markeredgecolor="#555") for d in d_keys]
    handles += [Line2D([], [], color="#2171b5", alpha=0.75, lw=edge_width(v)) for v in v_keys]
    texts = [f"d = {d:g}" for d in d_keys] + [f"v = {100 * v:.0f}%" for v in v_keys]
    fig.legend(handles, texts, loc="outside lower center", ncol=len(texts), fontsize=9, frameon=False,
               title="node size and colour: weighted in-degree d (the sum of v(j|i) over the edges "
                     "into a class)\nedge width: v(j|i)", title_fontsize=9, handlelength=2.5,
               borderaxespad=0.2)
    return fig


