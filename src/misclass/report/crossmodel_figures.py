"""The cross-model section's figures, drawn in the report's figure workers.

Each is a :class:`misclass.report.writer.Drawing` of the numbers the section hands it:

- per model, for each class, the images it gets right where others fail and those it misses
  that others get right (:func:`class_bars_data` takes the counts from a
  :class:`~misclass.workflows.compare.CompareResult`; :func:`draw_class_bars` draws them as a
  :class:`~misclass.report.picture.Picture`);
- the pair heatmaps (correction rate, oracle accuracy of each pair) and the oracle accuracy
  as models are added (matplotlib).
"""

from __future__ import annotations

import numpy as np

ANNOTATE_LIMIT = 16  # pair heatmap cells are annotated up to this many models
NAMED_CLASSES = 6  # class names written on each end of a per-class bar chart
FEW_CLASSES = 40  # up to this many classes, per-class charts name every bar


def class_bars(res, name: str):
    """Mirrored bars over all classes for one model: images it corrects (up) and images of it
    that others correct (down), classes sorted by the difference, extremes named (beside the
    axes on many classes); the legend below the axes, never over the bars."""
    return draw_class_bars(**class_bars_data(res, name))


def class_bars_data(res, name: str) -> dict:
    """What :func:`draw_class_bars` draws: per class, the images ``name`` corrects (``up``) and
    gets corrected (``down``), summed over the other models; the classes with images."""
    return {"name": name, "class_names": list(res.class_names),
            "up": res.corrected()[name].to_numpy(dtype=float),
            "down": res.got_corrected()[name].to_numpy(dtype=float),
            "present": np.flatnonzero(res.class_accuracy()[name].notna().to_numpy())}


def draw_class_bars(name: str, class_names: list[str], up: np.ndarray, down: np.ndarray, present: np.ndarray):
    """The figure of :func:`class_bars_data` as a :class:`~misclass.report.picture.Picture`:
    one bar per class up to :data:`FEW_CLASSES` classes (each named under it), else one
    filled step outline per side with the extremes named beside the axes."""
    from misclass.report.picture import PAD, TICK, Axes, Picture, frame, measure, nice_ticks

    net = up[present] - down[present]
    order = present[np.lexsort((present, -net))]
    c = len(order)
    few = c <= FEW_CLASSES
    big, small, margin = 14, 12, 12
    line = measure("Ag", big)[1]
    labels = {"up": f"{name} right, another model wrong (summed over the other models)",
              "down": f"{name} wrong, another model right (summed over the other models)"}
    colours = {"up": "#2171b5", "down": "#e6550d"}
    title = (f"{name}: per class, images it gets right where others fail (up) and images it misses "
             "that others get right (down)")
    if few:
        xlabel = f"all {c} classes, sorted by images corrected minus images got corrected"
    else:
        xlabel = (f"all {c:,} classes, sorted from most corrected by {name} (left) to most corrected for "
                  f"{name} by others (right)")
    ylabel = "images × other models"
    top_v, bottom_v = max(up.max(), 1), max(down.max(), 1)
    ylim = (-1.15 * bottom_v, 1.15 * top_v)
    yticks = nice_ticks(*ylim)
    ylabels = [f"{abs(v):g}" for v in yticks]
    side = []
    if not few:
        net_sorted = up[order] - down[order]
        best = order[:NAMED_CLASSES][net_sorted[:NAMED_CLASSES] > 0]
        worst = order[::-1][:NAMED_CLASSES][net_sorted[::-1][:NAMED_CLASSES] < 0]
        if len(best):
            side += [f"Most net corrections by {name}", "(left end), +up / -down:"]
            side += [f"  {class_names[i]}: +{int(up[i])} / -{int(down[i])}" for i in best] + [""]
        if len(worst):
            side += ["Most net corrections by the", "others (right end), +up / -down:"]
            side += [f"  {class_names[i]}: +{int(up[i])} / -{int(down[i])}" for i in worst]
    side_w = max((measure(t, small)[0] for t in side), default=0)
    names = [class_names[i] for i in order] if few else []
    name_size = small if c <= 20 else 10
    under = (max(measure(t, name_size)[0] for t in names) if names else measure("0", small)[1])
    ytick_w = max(measure(t, small)[0] for t in ylabels)
    left = margin + line + 2 * PAD + ytick_w + TICK + PAD
    plot_w = max(700, min(1100, 14 * c)) if few else 1050
    right = left + plot_w
    content_w = right + (3 * margin + side_w if side else margin)
    top = margin + line + 2 * PAD
    bottom = top + 330
    xlabel_top = bottom + TICK + PAD + under + 2 * PAD
    legend_top = xlabel_top + line + 3 * PAD
    height = legend_top + line + margin
    entries = [(labels[k], colours[k]) for k in ("up", "down")]
    entries_w = sum(24 + 6 + measure(t, 13)[0] for t, _ in entries) + 30
    width = max(content_w, measure(title, big)[0] + 2 * margin, entries_w + 2 * margin)
    left, right = left + (width - content_w) // 2, right + (width - content_w) // 2  # centred when narrower
    p = Picture(int(width), int(height))
    ax = Axes((left, top, right, bottom), (-0.5, c - 0.5) if few else (-1, c), ylim)
    if few:
        frame(p, ax, yticks=yticks, ylabels=ylabels, size=small, grid=True)
        for k, cls in enumerate(order):  # one bar per class, 0.8 of its slot
            x0, x1 = ax.x(k - 0.4), ax.x(k + 0.4)
            for side_name, v in (("up", up[cls]), ("down", -down[cls])):
                if v:
                    y0, y1 = sorted((float(ax.y(0)), float(ax.y(v))))
                    p.rect(round(x0), round(y0), round(x1) - 1, round(y1), fill=colours[side_name])
            p.text(ax.x(k), bottom + TICK + PAD, names[k], size=name_size, anchor="mt", turned=True,
                   role="xtick")
            p.line(int(round(float(ax.x(k)))), bottom + 1, int(round(float(ax.x(k)))), bottom + TICK)
    else:
        xticks = nice_ticks(0, c)
        frame(p, ax, xticks=xticks, xlabels=[f"{v:g}" for v in xticks], yticks=yticks, ylabels=ylabels,
              size=small, grid=True)
        edges = ax.x(np.arange(c + 1) - 0.5)
        for side_name, values in (("up", up[order]), ("down", -down[order])):
            ys = ax.y(values)
            y0 = float(ax.y(0))
            steps = [pt for k in range(c) for pt in ((edges[k], ys[k]), (edges[k + 1], ys[k]))]
            p.polygon([(edges[0], y0), *steps, (edges[-1], y0)], fill=colours[side_name])
        p.text(right + 2 * margin, top, "\n".join(side), size=small, anchor="lt", role="side")
    p.line(left + 1, int(round(float(ax.y(0)))), right - 1, int(round(float(ax.y(0)))))  # the zero line
    p.text(width / 2, margin, title, size=big, anchor="mt", role="title")
    p.text((left + right) / 2, xlabel_top, xlabel, size=big, anchor="mt", role="xlabel")
    p.text(left - TICK - PAD - ytick_w - 2 * PAD, (top + bottom) / 2, ylabel, size=big, anchor="rm",
           turned=True, role="ylabel")
    x = (width - entries_w) / 2
    for text, colour in entries:  # the key, under the axes
        p.rect(round(x), legend_top + 3, round(x) + 23, legend_top + line - 4, fill=colour)
        p.text(x + 30, legend_top, text, size=13, anchor="lt", role="key")
        x += 24 + 6 + measure(text, 13)[0] + 30
    p.data.update(order=order, up=up[order], down=down[order])
    return p


def pair_heatmap(frame, *, title: str, colorbar: str, diagonal: str = "", undefined: str = ""):
    """An annotated (M, M) heatmap of a pair matrix of fractions (index and columns: model
    names) shown as percentages; rows are the base model, columns the corrector. With
    ``diagonal`` (why it has no value) the diagonal is grey and marked "–"; NaN cells are
    grey and marked "n/a". The key under the axes explains only the marks that appear
    (``undefined``: why a cell is NaN), or the grey cells when there are too many models to
    annotate."""
    import matplotlib

    from misclass.report.figures import new_figure

    names = list(frame.index)
    values = frame.to_numpy(dtype=float)
    m = len(names)
    hide_diagonal = bool(diagonal)
    off = ~np.eye(m, dtype=bool)
    annotated = m <= ANNOTATE_LIMIT
    marks = []
    if hide_diagonal:
        marks.append(f"{'–' if annotated else 'grey diagonal'}: {diagonal}")
    if np.isnan(values[off] if hide_diagonal else values).any():
        marks.append(f"{'n/a' if annotated else 'grey'}: {undefined or 'undefined'}")
    note = ". ".join(marks) + ("." if marks else "")
    size = max(4.5, 0.62 * m + 2.8)
    fig, ax = new_figure(size + 1.2, size)
    data = np.asarray(values, dtype=float) * 100
    if hide_diagonal:
        data = data.copy()
        np.fill_diagonal(data, np.nan)
    shown = np.ma.masked_invalid(data)
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="#dddddd")
    im = ax.imshow(shown, cmap=cmap, vmin=np.nanmin(shown) if shown.count() else 0,
                   vmax=np.nanmax(shown) if shown.count() else 100)
    ax.set_xticks(np.arange(m), names, rotation=40, ha="right", fontsize=8)
    ax.set_yticks(np.arange(m), names, fontsize=8)
    ax.set_xlabel("corrector model B (column)" + (f"\n{note}" if note else ""))
    ax.set_ylabel("base model A (row)")
    ax.set_title(title, fontsize=10)
    if annotated:
        lo, hi = im.get_clim()
        for i in range(m):
            for j in range(m):
                v = values[i, j]
                if hide_diagonal and i == j:
                    ax.text(j, i, "–", ha="center", va="center", fontsize=8, color="#555555")
                    continue
                if np.isnan(v):
                    ax.text(j, i, "n/a", ha="center", va="center", fontsize=7, color="#555555")
                    continue
                dark = (100 * v - lo) < 0.55 * (hi - lo)
                ax.text(j, i, f"{100 * v:.1f}", ha="center", va="center", fontsize=7,
                        color="white" if dark else "black")
    cbar = fig.colorbar(im, ax=ax, shrink=0.8)
    cbar.set_label(colorbar)
    return fig


def greedy_figure(curve, best, n: int):
    """Oracle accuracy as models are added greedily (``curve``: :meth:`CompareResult.greedy`),
    with the exact best of each size (``best``: :meth:`CompareResult.best`), on ``n`` images."""
    from misclass.report.figures import new_figure

    fig, ax = new_figure(8.5, 5.2)
    x = curve.index.to_numpy()
    y = curve["virtual_accuracy"].to_numpy() * 100
    ax.plot(x, y, marker="o", color="#2171b5",
            label="greedy: add the model that fixes the most remaining images")
    bx = best.index.to_numpy()
    by = best["virtual_accuracy"].to_numpy() * 100
    kinds = ["exact" if method == "exact" else "greedy" for method in best["method"]]
    ax.scatter(bx, by, marker="*", s=160, color="#cb181d", zorder=3,
               label="best combination of that size (" + ", ".join(sorted(set(kinds))) + ")")
    ax.axhline(y[0], color="grey", ls=":", lw=1, label=f"best single model ({y[0]:.2f}%)")
    if len(x) <= 20:
        ax.set_xticks(x, [f"{s}\n+{name}" for s, name in zip(x, curve["added"], strict=True)],
                      rotation=30, ha="right", rotation_mode="anchor", fontsize=7)
        ax.set_xlabel("number of models in the set, and the model the greedy step adds")
    else:
        ax.set_xticks(np.linspace(1, len(x), 10).round().astype(int))
        ax.set_xlabel("number of models in the set")
    ax.set_ylabel("oracle accuracy (%):\nimages at least one model gets right")
    ax.set_title(f"Oracle accuracy as models are added ({n:,} images)")
    span = max(y[-1] - y[0], 1.0)
    ax.set_ylim(y[0] - 0.25 * span, y[-1] + 0.15 * span)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    return fig
