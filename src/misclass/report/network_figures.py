"""The confusion section's misclassification network of one model: an arrow i -> j where at
least a share ``threshold`` of class i's errors go to j.

:func:`network_data` keeps the edges with the most images and lays the classes out (in the
report's process: the layout needs scipy); :func:`draw_network` draws them as a
:class:`~misclass.report.picture.Picture` in a figure worker (numpy, matplotlib's colour
maps and PIL only). Sizes follow matplotlib's conventions (points at 100 dpi), so the network
looks like the report's other figures.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

import numpy as np

from misclass.report.confusion_figures import _labels

if TYPE_CHECKING:
    from misclass.analysis.confusion import ModelConfusion

MAX_DRAWN_EDGES = 40
MAX_NETWORK_WIDTH = 13.0  # inches; wider networks wrap into more rows
ARROW_SIZE = 11  # points
BEND = 0.12  # each edge an arc off the straight line by this share of its length (matplotlib's arc3)
EDGE = "#2171b5"
PX = 100 / 72  # pixels per point at the report's 100 dpi
NAME_SIZE = 13  # pixels: 9.4 points


def _layout(g) -> dict:
    """Lay out each weakly connected component on its own and pack them in rows (positions in
    inches of the drawing: one unit is one inch of the figure, y upwards)."""
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


def _label_angles(edges, pos) -> dict:
    """For each node, the direction (degrees, anticlockwise from east) to write its name in,
    clear of its edges so no arrow runs into the name: straight above or below when no edge
    (an arc, up to 15 degrees off the straight line) comes within 45 degrees of it, else the
    middle of the widest gap between its edges; and whether that gap is narrow (the name then
    clears the arrowheads)."""
    neighbours: dict = {}
    for a, b, _ in edges:
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
    out = {}
    for node, others in neighbours.items():
        straight = {float(np.degrees(np.arctan2(*(pos[o] - pos[node])[::-1]))) for o in others}
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


def _node_radius(d, top: float) -> float:
    """Pixels: matplotlib's marker area 60 + 500 d / top (points squared), as a radius."""
    return float(np.sqrt(60 + 500 * d / top) / 2 * PX)


def _edge_width(v: float) -> float:
    return (0.6 + 3.5 * v) * PX


def _over_white(colour: str, alpha: float) -> str:
    """``colour`` at opacity ``alpha`` on white, as one opaque colour."""
    from PIL import ImageColor

    r, g, b = np.round(alpha * np.array(ImageColor.getrgb(colour)) + (1 - alpha) * 255).astype(int)
    return f"#{r:02x}{g:02x}{b:02x}"


def _arrow(p0, p2, r0: float, r2: float, width: float):
    """The arc from a disc of radius ``r0`` at ``p0`` to one of radius ``r2`` at ``p2`` (pixels,
    y down; bent like matplotlib's arc3): the line's points, up to the arrowhead's base, and
    the head (tip, two corners); None when the discs overlap."""
    p0, p2 = np.asarray(p0, float), np.asarray(p2, float)
    d = p2 - p0
    control = (p0 + p2) / 2 + BEND * np.array([-d[1], d[0]])
    t = np.linspace(0, 1, 65)[:, None]
    curve = (1 - t) ** 2 * p0 + 2 * (1 - t) * t * control + t ** 2 * p2
    keep = curve[(np.hypot(*(curve - p0).T) >= r0) & (np.hypot(*(curve - p2).T) >= r2 + 1)]
    if len(keep) < 2:
        return None
    length, half = (0.4 * ARROW_SIZE) * PX + width, (0.2 * ARROW_SIZE) * PX + width / 2
    tip = keep[-1]
    back = np.hypot(*(keep - tip).T)
    base_at = np.flatnonzero(back >= length)
    line = keep[: base_at[-1] + 1] if len(base_at) else keep[:1]
    u = (tip - line[-1]) / max(np.hypot(*(tip - line[-1])), 1e-9)  # the head points along the last stretch
    normal = np.array([-u[1], u[0]])
    base = tip - u * length
    return np.vstack([line, base]), (tip, base + half * normal, base - half * normal)


def draw_network(model: str, threshold: float, edges: list[tuple[int, int, float]], n_edges: int,
                 max_edges: int, in_degree: dict[int, float], top: float, labels: dict[int, str],
                 pos: dict[int, np.ndarray]):
    """The network of :func:`network_data` (``top``: the largest in-degree of any class, at
    least 1, for the colour scale; ``pos``: each node's place, in inches, y upwards) as a
    :class:`~misclass.report.picture.Picture` as large as its names need."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    from misclass.report.picture import Picture, measure

    cmap = colormaps["YlOrRd"]
    nodes = sorted(pos)
    at = {x: np.array([100 * pos[x][0], -100 * pos[x][1]]) for x in nodes}  # pixels, y down
    radius = {x: _node_radius(in_degree[x], top) for x in nodes}
    names = {}  # node: (text, x, y, anchor, align)
    angles = _label_angles(edges, pos)
    for x in nodes:  # beside each disc, clear of its edges
        angle, narrow = angles[x]
        dx, dy = np.cos(np.radians(angle)), np.sin(np.radians(angle))
        h = "l" if dx > 0.3 else "r" if dx < -0.3 else "m"
        v = "b" if dy > 0.3 else "t" if dy < -0.3 else "m"
        gap = radius[x] + (2 + (ARROW_SIZE if narrow else 0)) * PX
        names[x] = (textwrap.fill(labels[x], 18), *(at[x] + gap * np.array([dx, -dy])), h + v, h)

    def box(text, x, y, anchor):
        lines = [measure(line, NAME_SIZE) for line in text.split("\n")]
        w, hh = max(s[0] for s in lines), sum(s[1] for s in lines)
        left = x - {"l": 0, "m": w / 2, "r": w}[anchor[0]]
        top_ = y - {"t": 0, "m": hh / 2, "b": hh}[anchor[1]]
        return left, top_, left + w, top_ + hh

    boxes = [box(t, x, y, a) for t, x, y, a, _ in names.values()]
    discs = [(at[x][0] - radius[x], at[x][1] - radius[x], at[x][0] + radius[x], at[x][1] + radius[x])
             for x in nodes]
    lo = np.min([b[:2] for b in boxes + discs], axis=0)
    hi = np.max([b[2:] for b in boxes + discs], axis=0)

    shown = (("its only edge" if n_edges == 1 else f"all {n_edges} edges") if n_edges <= max_edges
             else f"the {max_edges} edges with the most images (of {n_edges:,})")
    title = [f"{model}: misclassification network, {shown}",
             f"edge i → j where v(j|i) ≥ {100 * threshold:g}% of class i's errors go to j"]
    key_title = ["node size and colour: weighted in-degree d (the sum of v(j|i) over the edges into a class)",
                 "edge width: v(j|i)"]
    d_keys = sorted({round(x, 1) for x in (0.25 * top, 0.5 * top, top)} - {0.0})
    v_keys = sorted({threshold, (threshold + 1) / 2, 1.0})
    keys = [(f"d = {d:g}", 2 * _node_radius(d, top)) for d in d_keys] + [(f"v = {100 * v:.0f}%", 2.5 * 13)
                                                                        for v in v_keys]
    big, small, margin, line_h = 14, 13, 16, measure("Ag", 14)[1]
    key_h = max(measure("Ag", small)[1], 2 * _node_radius(top, top))
    keys_w = sum(w + 6 + measure(t, small)[0] for t, w in keys) + 24 * (len(keys) - 1)
    widest = max([measure(t, big)[0] for t in title] + [measure(t, small)[0] for t in key_title] + [keys_w])
    content_w = hi[0] - lo[0]
    width = int(np.ceil(max(content_w, widest) + 2 * margin))
    top_px = margin + len(title) * line_h + margin
    shift = np.array([(width - content_w) / 2 - lo[0], top_px - lo[1]])
    key_top = top_px + (hi[1] - lo[1]) + margin
    height = int(np.ceil(key_top + len(key_title) * measure("Ag", small)[1] + 6 + key_h + margin))
    p = Picture(width, height)

    heads = []
    colour = _over_white(EDGE, 0.75)
    for a, b, v in edges:
        arrow = _arrow(at[a] + shift, at[b] + shift, radius[a], radius[b], _edge_width(v))
        if arrow is None:
            continue
        line, head = arrow
        p.polyline(line, width=_edge_width(v), colour=colour)
        p.polygon(head, fill=colour)
        heads.append(tuple(map(tuple, head)))
    for x in nodes:
        c = at[x] + shift
        p.circle(*c, radius[x], fill=to_hex(cmap(in_degree[x] / top)), outline="#555555",
                 outline_width=0.6 * PX)
    for text, tx, ty, anchor, align in names.values():  # on white, over any edge passing by
        left, top_, right, bottom = box(text, tx + shift[0], ty + shift[1], anchor)
        p.rect(left - 1, top_ - 1, right, bottom, fill="white")
        p.text(tx + shift[0], ty + shift[1], text, size=NAME_SIZE, anchor=anchor, align=align, role="name")
    for k, t in enumerate(title):
        p.text(width / 2, margin + k * line_h, t, size=big, anchor="mt", role="title")
    y = key_top
    for t in key_title:
        p.text(width / 2, y, t, size=small, anchor="mt", role="key title")
        y += measure("Ag", small)[1]
    x, mid = (width - keys_w) / 2, y + 6 + key_h / 2
    for (t, w), value in zip(keys, list(d_keys) + list(v_keys), strict=True):
        if t.startswith("d"):
            p.circle(x + w / 2, mid, w / 2, fill=to_hex(cmap(value / top)), outline="#555555",
                     outline_width=0.6 * PX)
        else:
            p.polyline([(x, mid), (x + w, mid)], width=_edge_width(value), colour=colour)
        p.text(x + w + 6, mid, t, size=small, anchor="lm", role="key")
        x += w + 6 + measure(t, small)[0] + 24
    p.data["heads"] = heads
    return p
