"""``misclass train``: train architectures with one set of hyperparameters and store their
test predictions.

:func:`train` runs :func:`misclass.training.run.train_and_predict` and returns a
:class:`TrainResult` holding each architecture's per-epoch history, best epoch, checkpoint
and test accuracy. Training draws nothing: the learning curves are the report's figures
(:func:`misclass.report.learning_curves.save_training_curves` draws them from the result,
as ``misclass train`` does beside the checkpoints).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from misclass.workflows.common import json_ready

if TYPE_CHECKING:
    import pandas as pd

    from misclass.data.dataset import Dataset
    from misclass.store import Store
    from misclass.training.loop import TrainConfig, TrainedModel

__all__ = ["TrainResult", "train"]


@dataclass(frozen=True)
class TrainResult:
    """What one ``misclass train`` run did.

    ``trained`` holds each architecture's :class:`~misclass.training.loop.TrainedModel` (the
    model with its best-validation weights, the per-epoch ``history``, the best epoch, the
    checkpoint); ``test_top1`` its top-1 accuracy on the test split, as stored; ``folder``
    where the checkpoints and histories are.
    """

    store: str
    dataset: str
    config: TrainConfig
    folder: Path
    trained: tuple[TrainedModel, ...]
    test_top1: tuple[float | None, ...]

    @property
    def architectures(self) -> tuple[str, ...]:
        return tuple(t.arch for t in self.trained)

    def history(self, arch: str | None = None) -> pd.DataFrame:
        """Per-epoch loss, accuracy and macro precision (train and validation), learning rate
        and seconds: of ``arch`` (index ``epoch``), or of every architecture (index
        ``architecture``, ``epoch``)."""
        import pandas as pd

        if arch is not None:
            if arch not in self.architectures:
                raise KeyError(f"{arch!r} was not trained in this run ({', '.join(self.architectures)})")
            return self.trained[self.architectures.index(arch)].history.set_index("epoch")
        frames = [t.history.assign(architecture=t.arch) for t in self.trained]
        return pd.concat(frames, ignore_index=True).set_index(["architecture", "epoch"])

    def to_frame(self) -> pd.DataFrame:
        """One row per architecture (index ``architecture``): best epoch, validation accuracy
        and macro precision at it, test top-1, checkpoint."""
        import pandas as pd

        rows = [self._row(t, top1) for t, top1 in zip(self.trained, self.test_top1, strict=True)]
        frame = pd.DataFrame(rows, columns=["arch", "best_epoch", "val_accuracy", "val_macro_precision",
                                            "test_top1", "checkpoint"])
        return frame.rename(columns={"arch": "architecture"}).set_index("architecture")

    def to_dict(self) -> dict[str, Any]:
        """What ``misclass train --json`` writes (each architecture with its history)."""
        return json_ready({
            "store": self.store, "dataset": self.dataset, "config": asdict(self.config),
            "architectures": [{**self._row(t, top1), "files": [str(f) for f in t.files],
                               "history": t.history.to_dict(orient="records")}
                              for t, top1 in zip(self.trained, self.test_top1, strict=True)],
        })

    @staticmethod
    def _row(t: TrainedModel, top1: float | None) -> dict[str, Any]:
        best = t.best
        return {"arch": t.arch, "best_epoch": t.best_epoch, "val_accuracy": best["val_accuracy"],
                "val_macro_precision": best["val_macro_precision"], "test_top1": top1,
                "checkpoint": str(t.checkpoint)}


def train(
    store: Store | str | os.PathLike,
    *,
    data: str | Dataset,
    arch: str | Sequence[str],
    out: str | os.PathLike | None = None,
    epochs: int = 100,
    batch_size: int = 256,
    lr: float = 0.01,
    optimizer: str = "sgd",
    momentum: float = 0.9,
    weight_decay: float = 5e-4,
    schedule: str = "constant",
    augment: bool = False,
    val_fraction: float = 0.2,
    limit: int | None = None,
    width: int | None = None,
    image_size: int | None = None,
    seed: int = 0,
    device: str = "auto",
    amp: bool | None = None,
    threads: int | None = None,
    replace: bool = False,
    console=None,
    progress: bool = True,
) -> TrainResult:
    """Train architectures with one set of hyperparameters; store their test predictions.

    Parameters
    ----------
    store : the store the test predictions go to (created from the test split when absent).
    data : a dataset spec with train and test splits (``digits``, ``planted-digits``,
        ``cifar10:PATH``, ``folder:PATH`` with ``train/`` and ``val/``) or a loaded
        :class:`~misclass.data.dataset.Dataset`.
    arch : architectures, as a list or comma-separated (see ``misclass train --help``).
    out : folder for checkpoints and histories (default ``<store>/training``).
    threads : CPU threads for torch during the run (None: torch's choice).
    console, progress : where the progress bars go, and whether to show them.

    The other options are those of ``misclass train``. Each architecture trains on a seeded
    train/validation split of the training images and predicts the test split with its
    best-validation weights into the store under its name (``replace`` retrains one already
    there).
    """
    from misclass.data import load_dataset
    from misclass.engine.architectures import check_architectures
    from misclass.engine.device import torch_threads
    from misclass.store import Store
    from misclass.training.loop import TrainConfig
    from misclass.training.run import train_and_predict

    names = arch.split(",") if isinstance(arch, str) else list(arch)
    archs = check_architectures([a.strip() for a in names if a.strip()])
    config = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, optimizer=optimizer.lower(),
                         momentum=momentum, weight_decay=weight_decay, schedule=schedule, augment=augment,
                         val_fraction=val_fraction, seed=seed, device=device, amp=amp, width=width).check()
    dataset = load_dataset(data, seed=seed) if isinstance(data, str) else data
    path = store.path if isinstance(store, Store) else Path(store)
    with torch_threads(threads):
        trained = train_and_predict(dataset, archs, path, config=config, out_dir=out, limit=limit,
                                    image_size=image_size, replace=replace, console=console,
                                    progress=progress)
    s = Store(path)
    folder = Path(out) if out is not None else s.path / "training"
    top1 = tuple(s.model_metadata(t.arch).get("top1") for t in trained)
    return TrainResult(str(s.path), dataset.name, config, folder, tuple(trained), top1)
