"""``misclass predict``: run timm / torchvision / checkpoint models over a dataset in one pass."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from misclass.cli.app import DEFAULT_STORE_PATH, JsonOpt, StoreOpt, app, console, print_table, write_json
from misclass.format import count, percent

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
    ray: Annotated[str | None, typer.Option("--ray", help=(
        "Spread the work over a Ray cluster (pip install 'misclass[ray]'): auto (the cluster "
        "this machine is in), local (Ray on this machine) or ADDRESS (HOST:6379, ray://HOST:10001). "
        "The store and the dataset must be on a filesystem every node sees (docs/scale.md)."))] = None,
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
    from misclass.workflows.predict import predict as run_predict

    result = run_predict(store, data=data, models=model, split=split, pretrained=pretrained,
                         batch_size=batch_size, workers=workers, device=device, amp=amp, top_k=top_k,
                         save_probs=save_probs, save_logits=save_logits, save_features=save_features,
                         half=half, mean=mean, std=std, mc_dropout=mc_dropout, seed=seed, force=force,
                         shard_size=shard_size, threads=threads, console=console, ray=ray)
    run = result.run
    table = Table(title=f"{count(result.n_samples)} images of {result.dataset} -> {result.store}")
    for col in ("model", "status", "computed", "top-1", "note"):
        table.add_column(col, justify="right" if col in ("computed", "top-1") else "left")
    for r in run.models:
        table.add_row(r.name, r.status, count(r.images), percent(r.top1), "; ".join(r.notes))
    print_table(table)
    if run.images:
        console.print(f"{count(run.images)} images in {run.seconds:.1f} s "
                      f"({run.images_per_s:,.1f} images/s) on {run.device}, {run.workers} worker(s)")
    write_json(json, result.to_dict())
