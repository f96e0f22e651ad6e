"""Figures of likely label errors: a gallery of the top-ranked images (given vs suggested label)
and the precision curve of each ranking against people's verdicts."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from misclass.report.figures import new_figure

#: Line styles: the combined ranking stands out, the sources stay apart.
STYLES = {"combined": {"color": "#000000", "lw": 2.4, "marker": "o"},
          "models": {"color": "#2171b5", "lw": 1.4, "marker": "s"},
          "cleanlab": {"color": "#d94801", "lw": 1.4, "marker": "^"},
          "votes": {"color": "#238b45", "lw": 1.4, "marker": "D"},
          "review": {"color": "#6a51a3", "lw": 1.4, "marker": "v"},
          "baseline": {"color": "#737373", "lw": 1.4, "marker": "x", "ls": "--"},
          "equal weights": {"color": "#000000", "lw": 1.0, "marker": ".", "ls": ":"}}


def issue_gallery(images: Sequence, captions: Sequence[str], *, columns: int = 8, title: str = ""):
    """A grid of images (PIL images or arrays), each captioned (``given -> suggested``).

    Laid out by hand (no constrained layout: it measures every hidden axis, seconds per figure).
    """
    import matplotlib.pyplot as plt

    n = len(images)
    columns = max(1, min(columns, n))
    rows = max(1, -(-n // columns))
    lines = max((str(c).count("\n") + 1 for c in captions), default=1)
    cell_w, cell_h, top = 1.55, 1.6 + 0.125 * lines, 0.35 if title else 0.05
    fig = plt.figure(figsize=(cell_w * columns, cell_h * rows + top), dpi=110)
    height = cell_h * rows + top
    for i, (image, caption) in enumerate(zip(images, captions, strict=False)):
        r, c = divmod(i, columns)
        left = (c * cell_w + 0.08) / (cell_w * columns)
        bottom = (height - top - (r + 1) * cell_h + 0.05) / height
        ax = fig.add_axes((left, bottom, (cell_w - 0.16) / (cell_w * columns),
                           (cell_h - 0.2 - 0.125 * lines) / height))
        ax.set_axis_off()
        ax.imshow(np.asarray(image), interpolation="nearest", cmap="gray" if np.ndim(image) == 2 else None)
        ax.text(0.5, 1.03, caption, transform=ax.transAxes, ha="center", va="bottom", fontsize=6.5,
                linespacing=1.1)
    if title:
        fig.suptitle(title, x=0.5, y=1 - 0.05 / height, ha="center", va="top", fontsize=9)
    return fig


def precision_figure(curve: pd.DataFrame, *, reference: str):
    """The share of people-checked images in the top K whose label people judged wrong, per
    ranking (columns of ``curve``, index K)."""
    fig, ax = new_figure(6.5, 3.8)
    for name in curve.columns:
        style = STYLES.get(name, {"lw": 1.2, "marker": "."})
        ax.plot(curve.index, 100 * curve[name].to_numpy(dtype=float), label=name, ms=4, **style)
    ax.set_xscale("log")
    ax.set_xticks(curve.index, [str(k) for k in curve.index])
    ax.minorticks_off()
    ax.set_ylim(0, 102)
    ax.set_xlabel("K: the top K images of the ranking (log scale)")
    ax.set_ylabel("judged wrong by people (%)")
    ax.set_title(f"Precision of each ranking against {reference}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, frameon=False)
    return fig
