"""``misclass predict``: run timm / torchvision / checkpoint models over a dataset in one pass."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from misclass.cli.app import DEFAULT_STORE_PATH, JsonOpt, StoreOpt, app, console, pct, write_json
from misclass.errors import InputError
from misclass.predict.device import torch_threads

SPLITS = ("test", "train", "all")


def select_split(dataset, split: str):
    """The samples of ``split`` ("all" keeps every sample); an error names the splits there are."""
    if split not in SPLITS:
        raise InputError(f"--split {split!r}: expected {', '.join(SPLITS)}")
    if split == "all" or "split" not in dataset.samples.columns:
        return dataset
    part = dataset.split(split)
    if len(part) == 0:
        have = ", ".join(sorted(set(dataset.samples["split"]))) or "none"
        raise InputError(f"{dataset.name}: no {split!r} images (splits: {have}); use --split all")
    return part


ThreadsOpt = Annotated[int | None, typer.Option(
    help="CPU threads for torch (default: torch's choice, one per core).", min=1)]
DeviceOpt = Annotated[str, typer.Option(help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:N or mps.")]


@app.command()
def predict(
    data: Annotated[str, typer.Option("--data", "-d", help=(
        "Dataset: digits, planted-digits, cifar10:PATH or folder:PATH[,LABELS.csv]."))],
    model: Annotated[list[str], typer.Option("--model", "-m", help=(
        "Model spec (repeat): timm:NAME[@PATH], torchvision:NAME[@WEIGHTS|@PATH], ckpt:PATH, "
        "py:MODULE:FUNCTION, or a misclass architecture ARCH[@STATE_DICT] (e.g. "
        "cifar-resnet56@resnet56.th); prefix NAME= to name it."))],
    store: StoreOpt = DEFAULT_STORE_PATH,
    split: Annotated[str, typer.Option(help="Which images: test, train or all.")] = "test",
    pretrained: Annotated[bool, typer.Option(
        "--pretrained", help="timm:NAME uses its default pretrained weights (cached locally).")] = False,
    batch_size: Annotated[int, typer.Option(help="Images per batch.", min=1)] = 64,
    workers: Annotated[int | None, typer.Option(
        help="DataLoader worker processes (default: up to 8 on GPU, 1-2 on CPU).", min=0)] = None,
    device: DeviceOpt = "auto",
    amp: Annotated[bool | None, typer.Option(
        "--amp/--no-amp", help="float16 autocast (default: on for CUDA, off elsewhere).")] = None,
    top_k: Annotated[int, typer.Option("--top-k", help="Ranked predictions kept per image.", min=1)] = 5,
    save_probs: Annotated[bool, typer.Option("--save-probs", help="Also store full probabilities.")] = False,
    save_logits: Annotated[bool, typer.Option("--save-logits", help="Also store logits.")] = False,
    save_features: Annotated[bool, typer.Option(
        "--save-features", help="Also store penultimate features (input of the last linear layer).")] = False,
    half: Annotated[bool, typer.Option("--half", help=(
        "Store full probabilities, logits and features as float16 instead of float32 (half the "
        "size; confident images then tie in failure scores)."))] = False,
    mean: Annotated[str | None, typer.Option(help=(
        "Normalisation mean R,G,B of ARCH[@PATH] models whose spec gives none "
        "(e.g. 0.485,0.456,0.406)."))] = None,
    std: Annotated[str | None, typer.Option(help=(
        "Normalisation std R,G,B of ARCH[@PATH] models whose spec gives none "
        "(e.g. 0.229,0.224,0.225)."))] = None,
    mc_dropout: Annotated[int, typer.Option(
        "--mc-dropout", help="T stochastic passes with dropout on: mean probabilities plus "
        "mc_entropy, mc_mutual_info, mc_variance per image (0: off).", min=0)] = 0,
    seed: Annotated[int, typer.Option(help="Seed of random weights, MC dropout and the dataset split.")] = 0,
    force: Annotated[bool, typer.Option("--force", help="Recompute models already in the store.")] = False,
    shard_size: Annotated[int, typer.Option(help="Images per resumable shard.", min=1)] = 2048,
    threads: ThreadsOpt = None,
    json: JsonOpt = None,
) -> None:
    """Predict with several models in one pass over a dataset and store every prediction.

    Each image is decoded once; each model gets its own preprocessing (timm's data config or
    the torchvision weights' transforms), shared between models that agree. A rerun skips
    models already stored and resumes an interrupted one (--force recomputes). Never
    downloads: --pretrained weights must be in the local cache.

    Full probabilities, logits and features are stored as float32 (--half: float16); failure
    scores read the logits in float64, so store them (--save-logits) for exact ranks.

    Example: misclass predict --data folder:images -m timm:resnet18 -m torchvision:mobilenet_v2 --store S
    """
    from misclass.data import load_dataset
    from misclass.predict.engine import EngineOptions, predict_models, prepare_store
    from misclass.predict.specs import load_model, parse_channels, parse_model_spec

    specs = [parse_model_spec(m) for m in model]
    norm = {k: None if v is None else parse_channels(v, f"--{k}", positive=k == "std")
            for k, v in (("mean", mean), ("std", std))}
    if (mean or std) and not any(s.kind == "arch" for s in specs):
        raise InputError("--mean/--std apply to misclass architectures ARCH[@PATH] (e.g. "
                         "cifar-resnet56@resnet56.th); no --model is one")
    opts = EngineOptions(k=top_k, batch_size=batch_size, workers=workers, device=device, amp=amp,
                         save_probs=save_probs, save_logits=save_logits, save_features=save_features,
                         half=half, mc_dropout=mc_dropout, seed=seed, force=force, shard_size=shard_size)
    if mc_dropout == 1:
        raise InputError("--mc-dropout 1: use at least 2 passes (or 0 for off)")
    dataset = select_split(load_dataset(data, seed=seed), split)
    with torch_threads(threads):
        loaded = [load_model(s, num_classes=len(dataset.classes), pretrained=pretrained, seed=seed,
                             **norm) for s in specs]
        s = prepare_store(store, dataset, info={"split": split, "seed": seed})
        report = predict_models(dataset, loaded, s, opts, console=console)
    table = Table(title=f"{len(dataset):,} images of {dataset.name} -> {s.path}")
    for col in ("model", "status", "computed", "top-1", "note"):
        table.add_column(col, justify="right" if col in ("computed", "top-1") else "left")
    for r in report.models:
        table.add_row(r.name, r.status, f"{r.images:,}", pct(r.top1), "; ".join(r.notes))
    console.print(table)
    if report.images:
        console.print(f"{report.images:,} images in {report.seconds:.1f} s "
                      f"({report.images_per_s:,.1f} images/s) on {report.device}, {report.workers} worker(s)")
    write_json(json, {
        "store": str(s.path), "dataset": dataset.name, "images": report.images, "seconds": report.seconds,
        "images_per_s": report.images_per_s if report.images else None, "device": report.device,
        "models": [{"name": r.name, "status": r.status, "computed": r.images, "top1": r.top1,
                    "notes": list(r.notes)} for r in report.models],
    })

