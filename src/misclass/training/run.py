"""``misclass train`` as a library call: train architectures on a dataset's train split with
one set of hyperparameters, then predict its test split into a store.

Output folder (``out_dir``, default ``<store>/training``)::

    <arch>/best.pt, last.pt        checkpoints (``ckpt:PATH`` reads them)
    <arch>/history.csv, .json      per-epoch loss, accuracy, macro precision (train, validation)
    run.json                       hyperparameters, data, and each architecture's best epoch

The learning curves (``<arch>/curves.png``, ``validation_accuracy.png``) are drawn from the
returned histories by the report's figure code (:mod:`misclass.report.learning_curves`);
``misclass train`` draws them beside the checkpoints.

Test predictions (best validation epoch) go to the store under the architecture's name,
with full probabilities, logits and penultimate features.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from misclass.data.dataset import Dataset
from misclass.engine.architectures import ARCHITECTURES, check_architectures
from misclass.errors import InputError, StoreError
from misclass.training.loop import TrainConfig, TrainedModel, train_architecture

DEFAULT_FOLDER_SIZE = 32


def dataset_arrays(dataset: Dataset, *, image_size: int | None = None, console=None,
                   progress: bool = True) -> np.ndarray:
    """The dataset's images as uint8 (N, H, W[, 3]); image files are decoded as RGB and
    resized to ``image_size`` (default 32) squares."""
    if dataset.images is not None:
        if image_size is not None and tuple(dataset.images.shape[1:3]) != (image_size, image_size):
            raise InputError(f"--image-size applies to image folders; {dataset.name} images are "
                             f"{dataset.images.shape[1]}x{dataset.images.shape[2]}")
        return np.asarray(dataset.images)
    from PIL import Image
    from rich.progress import Progress

    size = image_size or DEFAULT_FOLDER_SIZE
    root = Path(dataset.root)
    out = np.empty((len(dataset), size, size, 3), dtype=np.uint8)
    with Progress(console=console, transient=True, disable=not progress) as bar:
        task = bar.add_task(f"decoding {len(dataset):,} images to {size}x{size}", total=len(dataset))
        for i, rel in enumerate(dataset.samples["path"]):
            path = root / rel
            try:
                with Image.open(path) as img:
                    out[i] = np.asarray(img.convert("RGB").resize((size, size), Image.BILINEAR))
            except (OSError, ValueError) as exc:
                raise InputError(f"{path}: not a readable image ({exc})") from exc
            bar.advance(task)
    return out


def limit_samples(labels: np.ndarray, limit: int | None, seed: int) -> np.ndarray:
    """Indices of a seeded random subset of ``limit`` images (all when None), in order."""
    n = len(labels)
    if limit is None or limit >= n:
        return np.arange(n)
    if limit < 4:
        raise InputError(f"--limit {limit}: train on at least 4 images")
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


def train_and_predict(dataset: Dataset, archs: list[str], store_path: str | Path, *,
                      config: TrainConfig | None = None, out_dir: str | Path | None = None,
                      limit: int | None = None, image_size: int | None = None, replace: bool = False,
                      workers: int = 0, console=None, progress: bool = True) -> list[TrainedModel]:
    """Train each architecture on the train split and write its test predictions to the store,
    its checkpoints and history to ``out_dir/<arch>``; return each architecture's model and
    history."""
    from misclass.engine.checkpoint import checkpoint_preprocess
    from misclass.engine.core import EngineOptions, predict_models, prepare_store
    from misclass.engine.specs import LoadedModel, last_linear
    from misclass.store import Store
    from misclass.validation import check_model_name

    check_architectures(archs)
    config = (config or TrainConfig()).check()
    if "split" not in dataset.samples.columns:
        raise InputError(f"{dataset.name}: no train/test split")
    train, test = dataset.split("train"), dataset.split("test")
    if len(train) == 0 or len(test) == 0:
        raise InputError(f"{dataset.name}: training needs a train and a test split (for folders: "
                         "PATH/train/<class>/... and PATH/val/<class>/...); found "
                         f"{len(train)} train and {len(test)} test images")
    existing = Store(store_path)
    if existing.exists() and not replace:
        clash = [a for a in archs if existing.has_model(check_model_name(a))]
        if clash:
            raise StoreError(f"{existing.path}: already holds {', '.join(clash)}; pass --replace to retrain")
    store = prepare_store(store_path, test, info={"split": "test"})
    out = Path(out_dir) if out_dir is not None else store.path / "training"
    keep = limit_samples(train.labels, limit, config.seed)
    x_train = dataset_arrays(train, image_size=image_size, console=console, progress=progress)[keep]
    y_train = train.labels[keep]
    classes = [str(c) for c in dataset.classes["name"]]
    trained: list[TrainedModel] = []
    for arch in archs:
        result = train_architecture(arch, x_train, y_train, classes=classes, config=config,
                                    out_dir=out / arch, dataset_name=dataset.name, console=console,
                                    progress=progress)
        best = result.best
        meta: dict[str, Any] = {
            "source": "misclass-train", "architecture": arch, "family": ARCHITECTURES[arch],
            "dataset": dataset.name, "training": {**asdict(config), "n_train": int(len(x_train)),
                                                  "best_epoch": result.best_epoch},
            "val_accuracy": best["val_accuracy"], "checkpoint": str(result.checkpoint.resolve()),
        }
        loaded = LoadedModel(arch, result.model, checkpoint_preprocess(result.preprocess), meta,
                             classifier=last_linear(result.model))
        opts = EngineOptions(save_probs=True, save_logits=True, save_features=True, force=True,
                             device=config.device, workers=workers, seed=config.seed, batch_size=256)
        predict_models(test, [loaded], store, opts, console=console, progress=progress)
        result.model = loaded.module.cpu()
        trained.append(result)
    _write_run(out, trained, config, dataset, len(x_train))
    return trained


def _write_run(out: Path, trained: list[TrainedModel], config: TrainConfig, dataset: Dataset,
               n_train: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    run = {"dataset": dataset.name, "n_train": n_train, "config": asdict(config),
           "architectures": {t.arch: {"best_epoch": t.best_epoch, **{k: float(v) for k, v in t.best.items()},
                                      "checkpoint": str(t.checkpoint)} for t in trained}}
    (out / "run.json").write_text(json.dumps(run, indent=2, default=str))


def demo_cnn_config(seed: int = 0) -> TrainConfig:
    """The CNN zoo's settings in ``misclass demo``: Adam, lr 0.01, batch 128, 8 epochs,
    16 first-stage channels (seconds per model on a CPU, about 98% on digits)."""
    return TrainConfig(epochs=8, batch_size=128, lr=0.01, optimizer="adam", weight_decay=0.0, width=16,
                       seed=seed)


def train_cnn_zoo(dataset: Dataset, store_path: str | Path, *, seed: int = 0, console=None,
                  progress: bool = True) -> dict[str, str]:
    """Train the small CNN zoo (one CPU thread: these nets are too small to share cores) and
    write its test predictions to the store; return each model's family."""
    from misclass.engine.cnn_zoo import CNN_ZOO
    from misclass.engine.device import torch_threads

    threads = 1 if demo_cnn_config().device == "auto" and not _has_accelerator() else None
    with torch_threads(threads):
        train_and_predict(dataset, list(CNN_ZOO), store_path, config=demo_cnn_config(seed), replace=True,
                          console=console, progress=progress)
    return {name: entry.family for name, entry in CNN_ZOO.items()}


def _has_accelerator() -> bool:
    from misclass.engine.device import select_device

    return select_device("auto").type != "cpu"
