"""``misclass train``: train several CNN architectures with the same hyperparameters."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from misclass.cli.app import DEFAULT_STORE_PATH, JsonOpt, StoreOpt, app, console, print_table, write_json
from misclass.cli.predict import DeviceOpt, ThreadsOpt
from misclass.format import percent


@app.command()
def train(
    data: Annotated[str, typer.Option("--data", "-d", help=(
        "Dataset with train and test splits: digits, planted-digits, cifar10:PATH, or folder:PATH with "
        "PATH/train/<class>/ and PATH/val/<class>/."))],
    arch: Annotated[str, typer.Option(help=(
        "Comma-separated architectures: vgg16, resnet50, googlenet, densenet161, mobilenet_v2, "
        "inception_v3 (adapted to small inputs), the zoo's cnn-plain, cnn-residual, cnn-separable, "
        "or the CIFAR ResNets cifar-resnet20, -32, -44, -56, -110 (He et al. 2016)."))],
    store: StoreOpt = DEFAULT_STORE_PATH,
    out: Annotated[Path | None, typer.Option(
        help="Folder for checkpoints, histories and curves (default: STORE/training).")] = None,
    epochs: Annotated[int, typer.Option(min=1)] = 100,
    batch_size: Annotated[int, typer.Option(min=2)] = 256,
    lr: Annotated[float, typer.Option(help="Learning rate.")] = 0.01,
    optimizer: Annotated[str, typer.Option(help="sgd (momentum 0.9) or adam.")] = "sgd",
    momentum: Annotated[float, typer.Option(help="SGD momentum.")] = 0.9,
    weight_decay: Annotated[float, typer.Option(help="L2 weight decay.")] = 5e-4,
    schedule: Annotated[str, typer.Option(help="Learning rate: constant or cosine (to 0).")] = "constant",
    augment: Annotated[bool, typer.Option(
        "--augment", help="Random crop (1/8 padding) and horizontal flip while training.")] = False,
    val_fraction: Annotated[float, typer.Option(help="Share of training images for validation.")] = 0.2,
    limit: Annotated[int | None, typer.Option(
        help="Train on a seeded random subset of this many training images (quick runs).", min=4)] = None,
    width: Annotated[int | None, typer.Option(
        help="First-stage channels of the cnn-* zoo (default 32) and cifar-resnet* (default 16) "
        "architectures.", min=1)] = None,
    image_size: Annotated[int | None, typer.Option(
        help="Side images of a folder dataset are resized to (default 32).", min=8)] = None,
    seed: Annotated[int, typer.Option(help="Seed of the split, the weights and the batches.")] = 0,
    device: DeviceOpt = "auto",
    amp: Annotated[bool | None, typer.Option(
        "--amp/--no-amp", help="float16 autocast (default: on for CUDA).")] = None,
    threads: ThreadsOpt = None,
    replace: Annotated[bool, typer.Option("--replace", help="Retrain models already in the store.")] = False,
    json: JsonOpt = None,
) -> None:
    """Train architectures with one set of hyperparameters; store their test predictions.

    Each architecture trains on a seeded 80:20 train/validation split of the training images,
    normalised with the train part's channel means and deviations. Per epoch it records
    loss, accuracy and macro precision (train and validation), writes last.pt, best.pt,
    history.csv/json and learning curves (PNG, SVG), then predicts the test split with the
    best-validation weights into the store under the architecture's name.

    Example: misclass train --data digits --arch resnet50,mobilenet_v2 --epochs 2 --store S
    """
    from misclass.report.learning_curves import save_training_curves
    from misclass.workflows.train import train as run_train

    result = run_train(store, data=data, arch=arch, out=out, epochs=epochs, batch_size=batch_size, lr=lr,
                       optimizer=optimizer, momentum=momentum, weight_decay=weight_decay, schedule=schedule,
                       augment=augment, val_fraction=val_fraction, limit=limit, width=width,
                       image_size=image_size, seed=seed, device=device, amp=amp, threads=threads,
                       replace=replace, console=console)
    save_training_curves(result)
    config = result.config
    table = Table(title=f"Trained on {result.dataset} ({config.optimizer}, lr {lr:g}, batch {batch_size}, "
                        f"{epochs} epochs)")
    for col in ("architecture", "best epoch", "val accuracy", "val macro precision", "test top-1"):
        table.add_column(col, justify="left" if col == "architecture" else "right")
    for name, row in result.to_frame().iterrows():
        table.add_row(name, str(row.best_epoch), percent(row.val_accuracy), percent(row.val_macro_precision),
                      percent(row.test_top1))
    print_table(table)
    console.print(f"Checkpoints, histories and learning curves: {result.folder.resolve()}")
    console.print(f"Store: {Path(result.store).resolve()}")
    write_json(json, result.to_dict())
