"""Figure helpers shared by the report sections (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from misclass.report.picture import Picture, save_png  # noqa: E402


def new_figure(width: float = 7.0, height: float = 4.0):
    """A figure and axes with the report's defaults."""
    fig, ax = plt.subplots(figsize=(width, height), dpi=110, layout="constrained")
    return fig, ax


def save_figure(fig, folder: Path, stem: str, *, formats: tuple[str, ...] = ("png", "svg")) -> str:
    """Write ``fig`` under ``folder`` in each of ``formats`` (PNG and SVG unless told; the
    report writes PNG only without ``--svg``); return the relative stem."""
    folder.mkdir(parents=True, exist_ok=True)
    write_figure(fig, [folder / f"{stem}.{fmt}" for fmt in formats])
    close(fig)
    return f"{folder.name}/{stem}"


def close(fig) -> None:
    """Close a matplotlib figure (a :class:`~misclass.report.picture.Picture` holds nothing open)."""
    if not isinstance(fig, Picture):
        plt.close(fig)


def write_figure(fig, paths) -> tuple[int, int]:
    """Write ``fig`` to each of ``paths`` (the format from the suffix); return its size in
    pixels (width, height).

    A PNG at the figure's own resolution has the pixels of ``fig.savefig(path)`` for a third
    less work: ``savefig`` draws the whole figure twice with a layout engine (once without
    output, only to lay it out) and compresses hard; here the engine lays the figure out on
    its own with the figure's renderer (the one that first draw would use), the figure is
    drawn once, and its pixels go to PIL (:func:`_write_png`). The engine is put back
    afterwards; other formats (SVG: its own renderer) go through ``savefig`` as they are.
    A :class:`~misclass.report.picture.Picture` writes itself."""
    if isinstance(fig, Picture):
        return fig.write(paths)
    at_figure_dpi = matplotlib.rcParams["savefig.dpi"] in ("figure", fig.dpi)
    own_png = (at_figure_dpi and matplotlib.rcParams["savefig.bbox"] is None
               and not matplotlib.rcParams["savefig.transparent"]
               and matplotlib.rcParams["savefig.facecolor"] == "auto")
    for path in paths:
        if not (own_png and str(path).lower().endswith(".png")):
            fig.savefig(path)
            continue
        engine = fig.get_layout_engine()
        if engine is not None:
            engine.execute(fig)
            with matplotlib.rc_context({"figure.autolayout": False, "figure.constrained_layout.use": False}):
                fig.set_layout_engine(None)  # without these two rc settings, None means "no engine"
        try:
            fig.canvas.draw()
            _write_png(np.asarray(fig.canvas.buffer_rgba()), path, fig.dpi)
        finally:
            if engine is not None:
                fig.set_layout_engine(engine)
    return pixels(fig)


def _write_png(rgba: np.ndarray, path, dpi: float) -> None:
    """The canvas's pixels as a PNG (:func:`~misclass.report.picture.save_png`): RGB when every
    pixel is opaque (a quarter less to compress), with the resolution and software tags
    savefig writes."""
    from PIL import Image

    opaque = bool((rgba[..., 3] == 255).all())
    image = Image.fromarray(np.ascontiguousarray(rgba[..., :3]) if opaque else rgba)
    save_png(image, path, dpi, software=f"Matplotlib version{matplotlib.__version__}, https://matplotlib.org/")


def pixels(fig) -> tuple[int, int]:
    """The figure's size in pixels (width, height), as its PNG has it: the canvas's own
    rounding (down, but 459.99999 is 460), which ``round`` misses by one pixel on some
    sizes (14.83 inches at 100 dpi: 1,482 pixels, not 1,483)."""
    if isinstance(fig, Picture):
        return fig.width, fig.height
    width, height = fig.canvas.get_width_height(physical=True)
    return int(width), int(height)


def accuracy_bars(names: list[str], top1: np.ndarray, top5: np.ndarray | None, n: int):
    """Horizontal bars of each model's top-1 (and top-5) accuracy, best first."""
    order = np.argsort(-np.asarray(top1))
    height = max(2.5, 0.45 * len(names) + 1.2)
    fig, ax = new_figure(7.5, height)
    y = np.arange(len(names))
    t1 = np.asarray(top1)[order] * 100
    if top5 is not None and not np.all(np.isnan(top5)):
        t5 = np.asarray(top5, dtype=float)[order] * 100
        ax.barh(y, t5, color="#c6dbef", label="top-5")
    ax.barh(y, t1, color="#2171b5", label="top-1")
    for yi, v in zip(y, t1, strict=True):
        ax.text(v - 1, yi, f"{v:.2f}%", va="center", ha="right", fontsize=8, color="white")
    ax.set_yticks(y, [names[i] for i in order])
    ax.set_ylim(len(names) - 0.4, -0.6)  # best first, no empty rows above or below
    ax.set_xlim(0, 100)
    ax.set_xlabel("accuracy on the test images (%)")
    ax.set_ylabel("model")
    ax.set_title(f"Accuracy of each model on {n:,} images")
    # below the x label at the same distance whatever the figure's height
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.75 / height), ncol=2, frameon=False)
    return fig
