"""The cross-model section's per-model figure: for each class, the images a model gets right
where others fail and those it misses that others get right.

:func:`class_bars_data` takes the counts from a :class:`~misclass.workflows.compare.CompareResult`
in the report's process; :func:`draw_class_bars` draws them, in the report's figure workers
(:class:`misclass.report.writer.Drawing`).
"""

from __future__ import annotations

import numpy as np

from misclass.report.figures import new_figure

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
    """The figure of :func:`class_bars_data`."""
    import matplotlib.pyplot as plt

    net = up[present] - down[present]
    order = present[np.lexsort((present, -net))]
    c = len(order)
    if c <= FEW_CLASSES:
        fig, ax = new_figure(12, 4.4)
    else:
        fig, (ax, side) = plt.subplots(1, 2, figsize=(13, 4.6), dpi=110, layout="constrained",
                                       width_ratios=[5, 1.25])
    labels = {"up": f"{name} right, another model wrong (summed over the other models)",
              "down": f"{name} wrong, another model right (summed over the other models)"}
    top = max(up.max(), 1)
    bottom = max(down.max(), 1)
    if c <= FEW_CLASSES:  # one named bar per class
        x = np.arange(c)
        ax.bar(x, up[order], color="#2171b5", label=labels["up"])
        ax.bar(x, -down[order], color="#e6550d", label=labels["down"])
        ax.set_xticks(x, [class_names[i] for i in order], rotation=45 if c > 10 else 0,
                      ha="right" if c > 10 else "center", fontsize=7 if c > 20 else 8)
        ax.set_xlabel(f"all {c} classes, sorted by images corrected minus images got corrected")
    else:
        # one filled step outline per side instead of one bar per class: light SVGs at 1000 classes
        edges = np.arange(c + 1) - 0.5
        ax.stairs(up[order], edges, fill=True, color="#2171b5", label=labels["up"])
        ax.stairs(-down[order], edges, fill=True, color="#e6550d", label=labels["down"])
        net_sorted = up[order] - down[order]
        best = order[:NAMED_CLASSES][net_sorted[:NAMED_CLASSES] > 0]
        worst = order[::-1][:NAMED_CLASSES][net_sorted[::-1][:NAMED_CLASSES] < 0]
        side.set_axis_off()
        lines = []
        if len(best):
            lines += [f"Most net corrections by {name}\n(left end), +up / -down:"]
            lines += [f"  {class_names[i]}: +{int(up[i])} / -{int(down[i])}" for i in best] + [""]
        if len(worst):
            lines += ["Most net corrections by the\nothers (right end), +up / -down:"]
            lines += [f"  {class_names[i]}: +{int(up[i])} / -{int(down[i])}" for i in worst]
        side.text(0.0, 1.0, "\n".join(lines), transform=side.transAxes, va="top", ha="left", fontsize=8)
        ax.set_xlim(-1, c)
        ax.set_xlabel(f"all {c:,} classes, sorted from most corrected by {name} (left) to most "
                      f"corrected for {name} by others (right)")
    ax.axhline(0, color="black", lw=0.6)
    ax.set_ylim(-1.15 * bottom, 1.15 * top)
    ax.set_ylabel("images × other models")
    ax.set_title(f"{name}: per class, images it gets right where others fail (up) and images it "
                 "misses that others get right (down)", fontsize=10)
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=2, fontsize=9,
               frameon=False)
    ax.grid(axis="y", alpha=0.3)
    yt = ax.get_yticks()
    ax.set_yticks(yt, [f"{abs(v):g}" for v in yt])
    return fig
