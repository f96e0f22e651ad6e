"""Training CNNs with one set of hyperparameters, for comparing their mistakes.

:func:`train_architecture` trains one architecture (from
:mod:`misclass.engine.architectures`) on in-memory ``uint8`` images:

- a seeded, stratified 80:20 split of the training images into train and validation;
- channel-wise mean and standard deviation computed on the train part only (of ``x/255``),
  stored in the checkpoint as the model's normalisation;
- SGD (momentum 0.9, weight decay 5e-4) or Adam, constant learning rate or cosine decay;
  optional augmentation (random crop with 1/8 padding and horizontal flip);
- per epoch: loss, accuracy and macro precision on the train part (accumulated over the
  epoch's batches, in training mode) and on the validation part (eval mode);
- ``last.pt`` after every epoch and ``best.pt`` at the best validation accuracy, in
  ``out_dir``, with ``history.csv`` / ``history.json`` (the report draws the learning
  curves from the history: :mod:`misclass.report.learning_curves`).

The returned model carries the best epoch's weights. Same data, seed and settings give the
same weights on the CPU.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import precision_score
from sklearn.model_selection import train_test_split

from misclass.errors import InputError
from misclass.extras import require

OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("constant", "cosine")


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters shared by every architecture of a run (defaults: published CIFAR-10
    comparisons: SGD, batch 256, learning rate 0.01, 100 epochs)."""

    epochs: int = 100
    batch_size: int = 256
    lr: float = 0.01
    optimizer: str = "sgd"
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "constant"
    val_fraction: float = 0.2
    augment: bool = False
    seed: int = 0
    device: str = "auto"
    amp: bool | None = None
    width: int | None = None

    def check(self) -> TrainConfig:
        if self.optimizer not in OPTIMIZERS:
            raise InputError(f"--optimizer {self.optimizer!r}: expected {' or '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            raise InputError(f"--schedule {self.schedule!r}: expected {' or '.join(SCHEDULES)}")
        if self.epochs < 1 or self.batch_size < 2 or self.lr <= 0:
            raise InputError("--epochs must be >= 1, --batch-size >= 2 and --lr > 0")
        if not 0 < self.val_fraction < 1:
            raise InputError(f"--val-fraction {self.val_fraction}: expected a share between 0 and 1")
        return self


@dataclass
class TrainedModel:
    """A trained architecture: the model (best weights, eval mode, CPU) and its record."""

    arch: str
    model: Any
    history: pd.DataFrame
    best_epoch: int
    preprocess: dict[str, Any]
    arch_kwargs: dict[str, Any]
    checkpoint: Path | None = None
    files: list[Path] = field(default_factory=list)

    @property
    def best(self) -> dict[str, float]:
        return self.history.loc[self.history["epoch"] == self.best_epoch].iloc[0].to_dict()


def split_train_val(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded split of ``range(len(labels))`` into train and validation indices, stratified
    when every class has at least two images.

    >>> tr, va = split_train_val(np.array([0, 1] * 10), 0.2, seed=0)
    >>> len(tr), len(va), sorted(np.bincount(np.array([0, 1] * 10)[va]))
    (16, 4, [np.int64(2), np.int64(2)])
    """
    idx = np.arange(len(labels))
    counts = np.bincount(labels)
    stratify = labels if (counts[counts > 0] >= 2).all() else None
    n_val = max(1, int(round(fraction * len(labels))))
    if n_val >= len(labels) or (stratify is not None and n_val < (counts > 0).sum()):
        stratify = None
    if n_val >= len(labels):
        raise InputError(f"{len(labels)} training images are too few for a validation split")
    tr, va = train_test_split(idx, test_size=n_val, random_state=seed, stratify=stratify)
    return np.sort(tr), np.sort(va)


def channel_stats(images: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-channel mean and standard deviation of ``images / 255`` (N, H, W[, C]).

    >>> channel_stats(np.array([[[0, 255]]], dtype=np.uint8))
    ([0.5], [0.5])
    """
    x = np.asarray(images, dtype=np.float64) / 255.0
    x = x.reshape(len(x), -1, 1) if x.ndim == 3 else x.reshape(len(x), -1, x.shape[-1])
    mean = x.mean(axis=(0, 1))
    std = x.std(axis=(0, 1))
    return [round(float(m), 6) for m in mean], [round(float(max(s, 1e-6)), 6) for s in std]


def _metrics(loss_sum: float, y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    return {"loss": loss_sum / max(len(y), 1), "accuracy": float((y == pred).mean()),
            "macro_precision": float(precision_score(y, pred, average="macro", zero_division=0))}


def _batches(n: int, batch_size: int, order: np.ndarray) -> list[np.ndarray]:
    """Consecutive batches of ``order``; a trailing batch of one joins the previous one
    (batch norm cannot train on a single image)."""
    parts = [order[i:i + batch_size] for i in range(0, n, batch_size)]
    if len(parts) > 1 and len(parts[-1]) == 1:
        parts[-2] = np.concatenate([parts[-2], parts[-1]])
        parts.pop()
    return parts


def _augment(x, rng: np.random.Generator, torch):
    """Random crop (padding 1/8 of the side) and horizontal flip, per image."""
    n, _, h, w = x.shape
    pad = max(1, min(h, w) // 8)
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad), mode="constant", value=0.0)
    dy = rng.integers(0, 2 * pad + 1, n)
    dx = rng.integers(0, 2 * pad + 1, n)
    flip = rng.random(n) < 0.5
    out = torch.stack([padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n)])
    if flip.any():
        f = torch.as_tensor(np.flatnonzero(flip), device=x.device)
        out[f] = out[f].flip(-1)
    return out


def _to_tensor(images: np.ndarray, torch):
    x = torch.from_numpy(np.array(images, dtype=np.uint8, copy=True))
    return x.unsqueeze(1) if x.ndim == 3 else x.permute(0, 3, 1, 2).contiguous()


def train_architecture(arch: str, images: np.ndarray, labels: np.ndarray, *, classes: list[str],
                       config: TrainConfig = TrainConfig(), out_dir: Path | None = None,
                       dataset_name: str = "", console=None, progress: bool = True) -> TrainedModel:
    """Train ``arch`` on ``images`` (N, H, W[, 3]) uint8 with ``labels`` (N,); see the
    module docstring. Writes checkpoints and the history to ``out_dir`` when given."""
    torch = require("torch", "torch", feature="training CNNs")
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from misclass.engine.architectures import build_architecture
    from misclass.engine.checkpoint import save_checkpoint
    from misclass.engine.device import autocast, select_device, use_amp

    config.check()
    images = np.asarray(images)
    labels = np.asarray(labels, dtype=np.int64)
    if images.dtype != np.uint8 or images.ndim not in (3, 4) or len(images) != len(labels):
        raise InputError(f"training images: expected uint8 (N, H, W[, 3]) with one label each; got "
                         f"{images.dtype} {images.shape} and {len(labels)} labels")
    device = select_device(config.device)
    amp = use_amp(device, config.amp)
    tr, va = split_train_val(labels, config.val_fraction, config.seed)
    mean, std = channel_stats(images[tr])
    channels = 1 if images.ndim == 3 else images.shape[-1]
    size = (int(images.shape[1]), int(images.shape[2]))
    arch_kwargs = {"num_classes": len(classes), "in_channels": channels, "input_size": list(size),
                   "width": config.width}
    preprocess = {"mode": "L" if channels == 1 else "RGB", "size": list(size), "mean": mean, "std": std}
    torch.manual_seed(config.seed)
    model = build_architecture(arch, num_classes=len(classes), in_channels=channels, input_size=size,
                               width=config.width).to(device)
    x_all = _to_tensor(images, torch).to(device)
    y_all = torch.tensor(labels, dtype=torch.long, device=device)
    mean_t = torch.tensor(mean, device=device).view(1, -1, 1, 1)
    std_t = torch.tensor(std, device=device).view(1, -1, 1, 1)

    def batch(ix: np.ndarray):
        sel = torch.from_numpy(ix).to(device)
        return (x_all[sel].float().div(255) - mean_t) / std_t, y_all[sel]

    params = [p for p in model.parameters() if p.requires_grad]
    if config.optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=config.lr, momentum=config.momentum,
                              weight_decay=config.weight_decay)
    else:
        opt = torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    cosine = config.schedule == "cosine"
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, config.epochs) if cosine else None
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    rng = np.random.default_rng(config.seed)
    rows: list[dict[str, Any]] = []
    best_acc, best_epoch, best_state = -1.0, 0, None
    out = Path(out_dir) if out_dir is not None else None
    training = {**asdict(config), "arch": arch, "dataset": dataset_name, "n_train": len(tr), "n_val": len(va),
                "device": str(device), "amp": amp}
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True, disable=not progress) as bar:
        epochs_task = bar.add_task(f"{arch}: epochs", total=config.epochs)
        batch_task = bar.add_task("  batches", total=1)
        for epoch in range(1, config.epochs + 1):
            t0 = time.perf_counter()
            model.train()
            parts = _batches(len(tr), config.batch_size, tr[rng.permutation(len(tr))])
            bar.reset(batch_task, total=len(parts), description=f"  epoch {epoch}: batches")
            loss_sum, ys, preds = 0.0, [], []
            for ix in parts:
                x, y = batch(ix)
                if config.augment:
                    x = _augment(x, rng, torch)
                with autocast(device, amp):
                    logits = model(x)
                    logits = logits[0] if isinstance(logits, tuple | list) else logits
                    loss = torch.nn.functional.cross_entropy(logits.float(), y)
                if not torch.isfinite(loss):
                    raise InputError(f"{arch}: the loss became {loss.item()} in epoch {epoch}; lower --lr")
                opt.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
                loss_sum += float(loss.detach()) * len(ix)
                ys.append(y.cpu().numpy())
                preds.append(logits.detach().argmax(1).cpu().numpy())
                bar.advance(batch_task)
            if sched is not None:
                sched.step()
            train_m = _metrics(loss_sum, np.concatenate(ys), np.concatenate(preds))
            val_m = _evaluate(model, va, batch, config.batch_size, device, amp, torch)
            row = {"epoch": epoch, **{f"train_{k}": v for k, v in train_m.items()},
                   **{f"val_{k}": v for k, v in val_m.items()}, "lr": opt.param_groups[0]["lr"],
                   "seconds": round(time.perf_counter() - t0, 3)}
            rows.append(row)
            improved = val_m["accuracy"] > best_acc
            if improved:
                best_acc, best_epoch = val_m["accuracy"], epoch
                best_state = copy.deepcopy({k: v.detach().cpu() for k, v in model.state_dict().items()})
            if out is not None:
                info = {**training, "epoch": epoch, "metrics": row, "best_epoch": best_epoch}
                save_checkpoint(out / "last.pt", model=model, arch=arch, arch_kwargs=arch_kwargs,
                                preprocess=preprocess, classes=classes, training=info)
                if improved:
                    save_checkpoint(out / "best.pt", model=model, arch=arch, arch_kwargs=arch_kwargs,
                                    preprocess=preprocess, classes=classes, training=info)
            bar.update(epochs_task, advance=1, description=(
                f"{arch}: epoch {epoch}/{config.epochs}, val acc {val_m['accuracy']:.3f}"))
    model.load_state_dict(best_state)
    model = model.cpu().eval()
    history = pd.DataFrame(rows)
    result = TrainedModel(arch, model, history, best_epoch, preprocess, arch_kwargs)
    if out is not None:
        result.checkpoint = out / "best.pt"
        result.files = [out / "best.pt", out / "last.pt", *write_history(history, out)]
    return result


def _evaluate(model, idx: np.ndarray, batch, batch_size: int, device, amp: bool, torch) -> dict[str, float]:
    from misclass.engine.device import autocast

    model.eval()
    loss_sum, ys, preds = 0.0, [], []
    with torch.inference_mode():
        for i in range(0, len(idx), batch_size):
            x, y = batch(idx[i:i + batch_size])
            with autocast(device, amp):
                logits = model(x)
            logits = (logits[0] if isinstance(logits, tuple | list) else logits).float()
            loss_sum += float(torch.nn.functional.cross_entropy(logits, y, reduction="sum"))
            ys.append(y.cpu().numpy())
            preds.append(logits.argmax(1).cpu().numpy())
    return _metrics(loss_sum, np.concatenate(ys), np.concatenate(preds))


def write_history(history: pd.DataFrame, folder: Path) -> list[Path]:
    """Write ``history.csv`` and ``history.json`` in ``folder``; return their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    history.to_csv(folder / "history.csv", index=False)
    (folder / "history.json").write_text(json.dumps(history.to_dict(orient="records"), indent=2))
    return [folder / "history.csv", folder / "history.json"]
