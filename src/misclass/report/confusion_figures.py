"""The confusion section's heatmap of one model: where each class's errors go (the network
is in :mod:`misclass.report.network_figures`).

Each figure is a ``*_data`` function (the model's numbers the figure needs: small, plain data,
computed in the report's process) and a ``draw_*`` function that builds the figure from them,
which the report's figure workers run (:class:`misclass.report.writer.Drawing`); this module
imports only numpy, matplotlib's colour maps and PIL, so a worker starts fast.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from misclass.analysis.confusion import ModelConfusion

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
    """The heatmap of :func:`heatmap_data` as a :class:`~misclass.report.picture.Picture`:
    ``block`` (n, n), or (n, n + 2) with a last column for the classes not shown (column n is
    the white gap before it). The picture is as large as its labels need: none is cut."""
    from matplotlib import colormaps
    from PIL import ImageColor

    from misclass.report.picture import Picture, measure

    n, n_cols = block.shape
    other = n < n_classes
    label = 13 if n <= 20 else 10 if n <= 45 else 8  # pixels (9, 7 and 5.5 points at 100 dpi)
    cell = max(int(np.ceil(1.4 * label)), min(40, 780 // n_cols))
    big, margin, pad, tick = 14, 12, 4, 4
    colnames = list(columns) + (["all other classes"] if other else [])
    which = f"the {n} most-confused of {n_classes:,} classes" if other else f"all {n} classes"
    title = [f"{model}: where each class's errors go, {which}",
             "colour = v(j|i), % of class i's misclassified images predicted as j",
             "grey = the diagonal, or a class without errors"]
    xlabel = "predicted class j"
    ylabel = ["true class i (its error rate u, % of its images misclassified)"]
    line = measure("Ag", big)[1]
    row_w = max(measure(r, label)[0] for r in rows)
    col_w = max(measure(c, label, bold=c == "all other classes" and other)[0] for c in colnames)
    grid_w, grid_h = n_cols * cell, n * cell
    if measure(ylabel[0], big)[0] > grid_h:  # longer than the rows: on two lines
        ylabel = ["true class i", "(its error rate u, % of its images misclassified)"]
    ticks = [f"{v}" for v in range(0, 101, 20)]
    tick_w = max(measure(t, big - 2)[0] for t in ticks)
    bar_w, bar_h = 18, max(int(1.5 * len(ticks) * measure("0", big - 2)[1]), int(0.6 * grid_h))
    # left to right: y label, row names, grid, colour bar, its ticks, its label
    left = margin + len(ylabel) * line + 2 * pad + row_w + tick + pad
    bar_left = left + grid_w + 3 * pad + 12
    right = bar_left + bar_w + tick + pad + tick_w + 2 * pad + line + margin
    top = margin + len(title) * line + 3 * pad
    bottom = top + grid_h + tick + pad + col_w + 2 * pad + line + margin
    title_w = max(measure(t, big)[0] for t in title) + 2 * margin
    shift = max(0, (title_w - right) // 2)  # a title wider than the rest: centre the rest under it
    ylabel_h = max(measure(t, big)[0] for t in ylabel)  # turned: its length is a height
    width, height = max(right, title_w), max(bottom, top + max(bar_h, ylabel_h) + margin)
    left, bar_left = left + shift, bar_left + shift
    p = Picture(int(width), int(height))

    blues = colormaps["Blues"]
    colours = blues(np.nan_to_num(block, nan=0.0) / 100, bytes=True)[..., :3]
    colours[np.isnan(block)] = ImageColor.getrgb(GREY)
    if other:
        colours[:, n] = 255  # the gap before the last column
    p.cells(left, top, colours, cell)
    p.rect(left - 1, top - 1, left + grid_w, top + grid_h, outline="black")
    if n <= 15:  # few cells: each one's value written in it
        for i in range(n):
            for j in range(n_cols):
                v = block[i, j]
                if not np.isnan(v) and v >= 0.5:
                    p.text(left + j * cell + cell / 2, top + i * cell + cell / 2, f"{v:.0f}", size=10,
                           anchor="mm", colour="white" if v > 60 else "black", role="value")
    for i, name in enumerate(rows):
        y = top + i * cell + cell // 2
        p.line(left - 1 - tick, y, left - 2, y)
        p.text(left - 1 - tick - pad, y, name, size=label, anchor="rm", role="row")
    col_x = [j for j in range(n_cols) if not (other and j == n)]
    for j, name in zip(col_x, colnames, strict=True):
        x = left + j * cell + cell // 2
        p.line(x, top + grid_h + 1, x, top + grid_h + tick)
        p.text(x, top + grid_h + tick + pad, name, size=label, anchor="mt", turned=True, role="column",
               bold=other and j == n + 1)
    for k, t in enumerate(title):
        p.text(width / 2, margin + k * line, t, size=big, anchor="mt", role="title")
    p.text(left + grid_w / 2, top + grid_h + tick + pad + col_w + 2 * pad, xlabel, size=big, anchor="mt",
           role="xlabel")
    for k, t in enumerate(ylabel):
        p.text(margin + shift + k * line, top + max(grid_h, ylabel_h) / 2, t, size=big, anchor="lm",
               turned=True, role="ylabel")
    # the colour bar: 100 at the top
    bar_top = top + max(0, grid_h - bar_h) // 2
    p.gradient(bar_left, bar_top, blues(np.linspace(1, 0, bar_h), bytes=True)[:, :3], bar_w)
    p.rect(bar_left - 1, bar_top - 1, bar_left + bar_w, bar_top + bar_h, outline="black")
    for k, t in enumerate(ticks):
        y = bar_top + round((bar_h - 1) * (1 - k / (len(ticks) - 1)))
        p.line(bar_left + bar_w + 1, y, bar_left + bar_w + tick, y)
        p.text(bar_left + bar_w + tick + pad, y, t, size=big - 2, anchor="lm", role="colour tick")
    p.text(bar_left + bar_w + tick + pad + tick_w + 2 * pad, bar_top + bar_h / 2, "v(j|i) (%)", size=big,
           anchor="lm", turned=True, role="colour label")
    p.data["v"] = block
    return p
