"""Figures of the label sections: multi-label vs top-1, subsets, distribution shift, factors."""

from __future__ import annotations

import numpy as np
import pandas as pd

from misclass.analysis.factors import FactorErrors
from misclass.analysis.labels import LinearFit
from misclass.analysis.shift import ShiftFit, expit, logit
from misclass.report.figures import new_figure

MODEL_STYLE = {"marker": "o", "color": "#2171b5", "s": 36, "zorder": 3}
HUMAN_STYLE = {"marker": "*", "color": "#d94801", "s": 140, "zorder": 4}


def _label_points(ax, x, y, names) -> None:
    """Name each point to its right, nudging labels apart vertically so none overlap.

    Call after the axis limits are set.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    ok = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
    if not len(ok):
        return
    ax.figure.canvas.draw()
    pts = ax.transData.transform(np.column_stack([x[ok], y[ok]]))
    box = ax.get_window_extent()
    gap = 7 * 1.35 * ax.figure.dpi / 72  # one 7-point text line, in pixels
    gap = min(gap, (box.height - gap) / max(len(ok) - 1, 1))  # closer lines when many names must fit
    order = np.argsort(pts[:, 1])
    placed = pts[order, 1].copy()
    for _ in range(50):  # relax overlaps between neighbours, keeping the mean position
        moved = False
        for a in range(len(placed) - 1):
            d = placed[a + 1] - placed[a]
            if d < gap:
                shift = (gap - d) / 2
                placed[a] -= shift
                placed[a + 1] += shift
                moved = True
        if not moved:
            break
    # keep the column of names inside the axes: the top ones below its top edge, the bottom ones
    # above its bottom edge
    n = len(placed)
    placed = np.minimum(placed, box.y1 - gap / 2 - gap * (n - 1 - np.arange(n)))
    placed = np.maximum(placed, box.y0 + gap / 2 + gap * np.arange(n))
    renderer = ax.figure.canvas.get_renderer()
    right = ax.figure.bbox.x1
    for rank, i in enumerate(order):
        k = ok[i]
        dy = placed[rank] - pts[i, 1]
        arrow = {"arrowstyle": "-", "color": "#999999", "lw": 0.6} if abs(dy) > 3 else None
        label = ax.annotate(names[k], (x[k], y[k]), xytext=(10, dy), textcoords="offset pixels", fontsize=7,
                            va="center", color="#333333", arrowprops=arrow)
        if label.get_window_extent(renderer).x1 > right:  # past the figure's edge: name it on the left
            label.remove()
            ax.annotate(names[k], (x[k], y[k]), xytext=(-10, dy), textcoords="offset pixels", fontsize=7,
                        va="center", ha="right", color="#333333", arrowprops=arrow)


def _scatter_kinds(ax, x, y, kinds) -> None:
    kinds = np.asarray(kinds)
    for kind, style in (("model", MODEL_STYLE), ("human", HUMAN_STYLE)):
        sel = kinds == kind
        if sel.any():
            ax.scatter(x[sel], y[sel], label=f"{kind}s", **style)


def multilabel_scatter(table: pd.DataFrame, fit: LinearFit | None, n_images: int):
    """Multi-label against top-1 accuracy (%), one point per predictor, with the linear fit."""
    fig, ax = new_figure(7.5, 5.2)
    x = table["top1"].to_numpy(float) * 100
    y = table["multilabel"].to_numpy(float) * 100
    _scatter_kinds(ax, x, y, table["kind"])
    xlo, xhi = np.nanmin(x) - 2, min(100, np.nanmax(x) + 2)
    ylo, yhi = np.nanmin(y) - 2, min(100, np.nanmax(y) + 2) + 0.5  # a point at 100% stays whole
    xhi += 0.35 * (xhi - xlo)  # room for the names right of the points (no ticks past 100%)
    grid = np.linspace(min(xlo, ylo), max(xhi, yhi), 50)
    ax.plot(grid, grid, ls=":", color="grey", label="multi-label = top-1")
    if fit is not None:
        ax.plot(grid, fit.predict(grid / 100) * 100, ls="--", color="#08306b",
                label=f"fit over models: y = {fit.slope:.2f} x {fit.intercept * 100:+.1f} (r = {fit.r:.3f})")
    ax.set(xlim=(xlo, xhi), ylim=(ylo, yhi), xlabel="top-1 accuracy (%)",
           ylabel="multi-label accuracy (%)",
           title=f"Multi-label vs top-1 accuracy ({n_images:,} images with a valid label set)")
    for axis, lo in ((ax.xaxis, xlo), (ax.yaxis, ylo)):
        axis.set_ticks([t for t in axis.get_ticklocs() if lo <= t <= 100])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    _label_points(ax, x, y, table["name"].tolist())
    return fig


def subset_dots(matrix: pd.DataFrame, metric_label: str):
    """Accuracy per group (markers) for each predictor (rows); ``matrix`` is groups x predictors.

    The groups of a row are dodged: each group a little above or below the row's line, the
    same for every row, so two groups with the same accuracy never hide each other."""
    names = list(matrix.columns)
    order = np.argsort(-np.nanmean(matrix.to_numpy(float), axis=0))
    groups = len(matrix)
    fig, ax = new_figure(8, max(2.8, (0.3 + 0.1 * min(groups, 6)) * len(names) + 1.6))
    y = np.arange(len(names))
    step = min(0.7 / max(groups, 1), 0.2)  # the groups of a row fill at most 70% of its height
    markers = "osD^v<>p"
    for g_i, (group, vals) in enumerate(matrix.iterrows()):
        v = vals.to_numpy(float)[order] * 100
        ax.scatter(v, y + (g_i - (groups - 1) / 2) * step, marker=markers[g_i % len(markers)], s=40,
                   label=str(group), zorder=3)
    for row in y[1:]:  # a faint line between predictors
        ax.axhline(row - 0.5, color="#eeeeee", lw=0.8, zorder=1)
    ax.set_yticks(y, [names[i] for i in order])
    ax.invert_yaxis()
    ax.set_xlabel(f"{metric_label} (%)")
    ax.set_ylabel("predictor")
    ax.set_title(f"{metric_label[0].upper() + metric_label[1:]} per group of classes")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=min(len(matrix), 6),
              frameon=False, title="group of classes", title_fontsize=9)
    return fig


_COARSE = np.array([1, 2, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 98, 99, 99.5, 99.8, 99.9])
_FINE = np.array([1, 2, 3, 5, 7.5, *range(10, 95, 5), 92.5, 95, 97, 98, 99, 99.5, 99.8, 99.9])


def _logit_axis(ax, axis: str, lo: float, hi: float) -> None:
    """Put accuracy ticks (%) on a logit-scaled axis spanning ``[lo, hi]`` (logits)."""
    for cand in (_COARSE, _FINE):
        ticks = cand[(logit(cand / 100) >= lo) & (logit(cand / 100) <= hi)]
        if len(ticks) >= 4:
            break
    if len(ticks) < 3:
        ticks = np.round(expit(np.linspace(lo, hi, 5)) * 100, 2)
    pos = logit(ticks / 100)
    labels = [f"{t:g}" for t in ticks]
    if axis == "x":
        ax.set_xticks(pos, labels)
        ax.set_xlim(lo, hi)
    else:
        ax.set_yticks(pos, labels)
        ax.set_ylim(lo, hi)


def _shift_axes(ax, fit: ShiftFit, title: str, *, names: bool = True, legend: bool = True) -> None:
    t = fit.table
    x = logit(t["original"].to_numpy(float), t["n_original"].to_numpy())
    y = logit(t["shifted"].to_numpy(float), t["n_shifted"].to_numpy())
    ok = np.isfinite(x) & np.isfinite(y)
    pad = 0.35
    lo = min(x[ok].min(), y[ok].min()) - pad
    hi = max(x[ok].max(), y[ok].max()) + pad
    grid = np.linspace(lo, hi, 50)
    ax.plot(grid, grid, ls=":", color="grey", label="no drop (y = x)")
    if fit.fit is not None:
        f = fit.fit
        ax.plot(grid, f.predict(grid), ls="--", color="#08306b",
                label=f"fit over models: logit y = {f.slope:.2f} logit x {f.intercept:+.2f}")
    _scatter_kinds(ax, x, y, t["kind"])
    _logit_axis(ax, "x", lo, hi)
    _logit_axis(ax, "y", lo, hi)
    ax.set_aspect("equal", adjustable="box")
    ax.set(xlabel="original accuracy (%, logit scale)", ylabel="shifted accuracy (%, logit scale)",
           title=title)
    ax.grid(alpha=0.3)
    if legend:
        ax.legend(fontsize=8, loc="upper left")
    if names:
        _label_points(ax, x, y, t["name"].tolist())


def shift_plot(fit: ShiftFit, title: str):
    """Shifted against original accuracy on logit axes (ticks in %), the fit and y = x."""
    fig, ax = new_figure(7.5, 5.6)
    _shift_axes(ax, fit, title)
    return fig


def shift_panels(fits: dict[str, ShiftFit]):
    """One small logit-axes panel per group (at most 8), without point names."""
    import matplotlib.pyplot as plt

    items = [(g, f) for g, f in fits.items()
             if np.isfinite(f.table["original"]).any() and np.isfinite(f.table["shifted"]).any()][:8]
    cols = min(len(items), 4)
    rows = int(np.ceil(len(items) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.6 * rows), dpi=110, layout="constrained",
                             squeeze=False)
    for ax, (g, f) in zip(axes.flat, items, strict=False):
        t = f.table
        _shift_axes(ax, f, f"{g} ({int(t['n_original'].iloc[0]):,} / {int(t['n_shifted'].iloc[0]):,} images)",
                    names=False, legend=False)
        ax.title.set_fontsize(9)
        ax.xaxis.label.set_fontsize(8)
        ax.yaxis.label.set_fontsize(8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(items):]:
        ax.set_axis_off()
    from matplotlib.lines import Line2D

    handles, labels = axes.flat[0].get_legend_handles_labels()
    keep = [i for i, lab in enumerate(labels) if not lab.startswith("fit")]
    handles = [handles[i] for i in keep] + [Line2D([], [], ls="--", color="#08306b")]
    labels = [labels[i] for i in keep] + ["fit over models (per group)"]
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), fontsize=8, frameon=False)
    return fig


def factor_heatmap(res: FactorErrors):
    """Models x factors error ratios; 1 is white, red raises errors, blue lowers them."""
    from matplotlib.colors import TwoSlopeNorm

    order = np.argsort(res.overall_error, kind="stable")  # lowest error on top
    ratio = res.error_ratio[order]
    models = [res.models[i] + (" [human]" if res.kinds[i] == "human" else "") for i in order]
    errors = res.overall_error[order]
    m, f = ratio.shape
    fig, ax = new_figure(max(9.0, 0.62 * f + 3.5), max(3.0, 0.45 * m + 2.4))
    finite = ratio[np.isfinite(ratio)]
    vmax = max(2.0, float(finite.max()) if finite.size else 2.0)
    vmin = min(0.5, float(finite.min()) if finite.size else 0.5)
    norm = TwoSlopeNorm(vmin=vmin, vcenter=1.0, vmax=vmax)
    im = ax.imshow(np.ma.masked_invalid(ratio), cmap="RdBu_r", norm=norm, aspect="auto")
    for i in range(m):
        for j in range(f):
            v = ratio[i, j]
            if np.isfinite(v):
                dark = v > 1 + 0.55 * (vmax - 1) or v < 1 - 0.55 * (1 - vmin)
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if dark else "black")
    labels = [f"{name.replace('_', ' ')}\n({int(n):,})"
              for name, n in zip(res.factors, res.n_images, strict=True)]
    ax.set_xticks(np.arange(f), labels, rotation=45, ha="right", rotation_mode="anchor", fontsize=8)
    ax.set_yticks(np.arange(m), [f"{n} ({e * 100:.1f}% err.)" for n, e in zip(models, errors, strict=True)],
                  fontsize=8)
    ax.set_xlabel("ImageNet-X factor (annotated images)")
    ax.set_ylabel("model (its error rate on the annotated images)")
    ax.set_title(f"Error ratio: error rate with the factor / overall error rate ({res.n_annotated:,} images)")
    cbar = fig.colorbar(im, ax=ax, shrink=0.85)
    cbar.set_label("error ratio (1 = no effect)")
    return fig
