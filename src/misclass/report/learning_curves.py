"""Learning-curve figures for ``misclass train`` (PNG and SVG), drawn from the histories
that training returns (:class:`misclass.workflows.train.TrainResult`); training itself draws
nothing."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from matplotlib.ticker import MaxNLocator

from misclass.report.figures import plt, save_figure

if TYPE_CHECKING:
    from misclass.workflows.train import TrainResult

METRICS = (("loss", "cross-entropy loss"), ("accuracy", "accuracy"), ("macro_precision", "macro precision"))


def plot_learning_curves(history: pd.DataFrame, title: str):
    """Loss, accuracy and macro precision per epoch, train and validation, side by side.

    ``history`` has ``epoch`` and ``train_<metric>`` / ``val_<metric>`` columns.
    """
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.8), dpi=110, layout="constrained")
    for ax, (metric, label) in zip(axes, METRICS, strict=True):
        for split, style in (("train", "-"), ("val", "--")):
            col = f"{split}_{metric}"
            if col in history:
                ax.plot(history["epoch"], history[col], style, marker="o", markersize=3,
                        label="training" if split == "train" else "validation")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(label)
        ax.set_title(label.capitalize())
        if metric != "loss":
            ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(frameon=False)
    fig.suptitle(title)
    return fig


def plot_validation_comparison(histories: dict[str, pd.DataFrame], title: str):
    """Validation accuracy per epoch of several architectures on one axis."""
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110, layout="constrained")
    for arch, history in histories.items():
        ax.plot(history["epoch"], history["val_accuracy"], marker="o", markersize=3, label=arch)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("validation accuracy")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.set_title(title)
    ax.legend(frameon=False)
    return fig


def save_learning_curves(history: pd.DataFrame, folder: Path, title: str, stem: str = "curves") -> list[Path]:
    """Plot and write ``<folder>/<stem>.png`` and ``.svg``; return both paths."""
    save_figure(plot_learning_curves(history, title), Path(folder), stem)
    return [Path(folder) / f"{stem}.png", Path(folder) / f"{stem}.svg"]


def save_validation_comparison(histories: dict[str, pd.DataFrame], folder: Path, title: str,
                               stem: str = "validation_accuracy") -> list[Path]:
    """Plot and write the validation-accuracy comparison; return the PNG and SVG paths."""
    save_figure(plot_validation_comparison(histories, title), Path(folder), stem)
    return [Path(folder) / f"{stem}.png", Path(folder) / f"{stem}.svg"]


def _settings(config) -> str:
    optimizer = {"sgd": "SGD", "adam": "Adam"}.get(config.optimizer, config.optimizer)
    return f"{optimizer}, lr {config.lr:g}, batch {config.batch_size}"


def save_training_curves(result: TrainResult) -> list[Path]:
    """What ``misclass train`` draws beside the checkpoints: each architecture's learning
    curves (``<folder>/<arch>/curves.png``, ``.svg``) and every architecture's validation
    accuracy (``<folder>/validation_accuracy.png``, ``.svg``); return the paths written."""
    folder = Path(result.folder)
    on = f" on {result.dataset}" if result.dataset else ""
    files = []
    for t in result.trained:
        files += save_learning_curves(t.history, folder / t.arch,
                                      f"{t.arch}{on}: learning curves ({_settings(result.config)})")
    histories = {t.arch: t.history for t in result.trained}
    files += save_validation_comparison(histories, folder,
                                        f"Validation accuracy{on} ({_settings(result.config)})")
    return files
