"""``misclass import ...``: bring prediction files into a store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from misclass.cli.app import (
    DEFAULT_STORE_PATH,
    JsonOpt,
    LockTimeoutOpt,
    StoreOpt,
    app,
    console,
    err_console,
    print_table,
    write_json,
)
from misclass.errors import InputError
from misclass.format import UNDEFINED, count, number, percent
from misclass.importers.readers import read_list, read_npy, read_table, read_timm_csv
from misclass.importers.store_import import ImportResult, import_predictions
from misclass.store import Store

import_app = typer.Typer(
    help="Import predictions from files into a store.\n\n"
    "Example: misclass import timm-csv preds/*.csv --labels imagenet-val --store S",
    no_args_is_help=True,
)
app.add_typer(import_app, name="import")

LabelsOpt = Annotated[
    str | None,
    typer.Option("--labels", help="Labels: 'imagenet-val' (needs misclass\\[imagenet]) or a "
                 "file_name,label CSV. Must agree with any target column."),
]
ClassesOpt = Annotated[
    str | None,
    typer.Option("--classes", help="Class metadata for a new store: 'imagenet' or a CSV with "
                 "name[,id]. Default: numbered 0..max id (imagenet with --labels imagenet-val)."),
]
NumClassesOpt = Annotated[
    int | None, typer.Option("--num-classes", help="Number of classes for a new store.", min=1)
]
AlignOpt = Annotated[
    str, typer.Option("--align", help="'exact': files must hold the store's samples. "
                      "'intersect': skip rows the store lacks; a file lacking store images is an "
                      "error unless --shrink-store.")
]
ShrinkOpt = Annotated[
    bool, typer.Option("--shrink-store", help="With --align intersect: drop store images the "
                       "files lack, from the store and every model in it.")
]
HalfOpt = Annotated[
    bool, typer.Option("--half", help="Keep full probabilities and logits as float16 (half the "
                       "space; ties among confident images). Default float32.")
]
ReplaceOpt = Annotated[bool, typer.Option("--replace", help="Overwrite models of the same name.")]
NameOpt = Annotated[
    str | None, typer.Option("--name", help="Model name (one file only). Default: the file stem.")
]
ImagesOpt = Annotated[
    Path | None, typer.Option("--images", help="Folder of the images: each sample id is joined to "
                              "its file there (the id is the file's path relative to the folder, "
                              "or its file name when that is unique); the relative paths go into "
                              "the samples' path column so the report gallery, the review app and "
                              "explain show the pixels. An id without a file writes nothing.")
]
IdsOpt = Annotated[
    Path | None, typer.Option("--ids", help="Sample ids in the file's row order: one per line, or a "
                              "CSV with sample_id (or file_name) [,label].")
]
StoreOrderOpt = Annotated[
    bool, typer.Option("--store-order", help="Rows are in the existing store's sample order (their "
                       "number must equal the store's samples).")
]


def _check_align(align: str) -> str:
    if align not in ("exact", "intersect"):
        raise InputError(f"--align {align!r}: expected 'exact' or 'intersect'")
    return align


def _check_name(name: str | None, files: list[Path]) -> None:
    if name is not None and len(files) != 1:
        raise InputError("--name needs exactly one file")


def _write_options(shrink_store: bool, lock_timeout: float) -> dict:
    return {"shrink_store": shrink_store, "lock_timeout": lock_timeout,
            "on_wait": lambda message: err_console.print(message, highlight=False, soft_wrap=True)}


def _import(store: Path, items, *, labels, classes, num_classes, align: str, replace: bool,
            images: Path | None, shrink_store: bool, lock_timeout: float, half: bool = False) -> None:
    """Import ``items`` in one locked transaction and print what was imported."""
    result = import_predictions(store, items, labels=labels, classes=classes,
                                num_classes=num_classes, align=_check_align(align), replace=replace,
                                half=half, images=images, **_write_options(shrink_store, lock_timeout))
    _report(result, store)


def _report(result: ImportResult, store: Path) -> None:
    s = Store(store)
    table = Table(title=f"Imported into {store}" + (" (new store)" if result.created else ""))
    for col in ("model", "samples", "top-k stored", "top-1"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for name in result.models:
        meta = s.model_metadata(name)
        top1 = meta.get("top1")
        table.add_row(name, count(meta["n"]), str(meta["k"]), percent(top1))
    print_table(table)
    for note in result.notes:
        console.print(f"note: {note}")


@import_app.command("timm-csv")
def import_timm_csv(
    files: Annotated[list[Path], typer.Argument(help="timm inference CSVs (no header).")],
    store: StoreOpt = DEFAULT_STORE_PATH,
    labels: LabelsOpt = None,
    target_column: Annotated[
        bool | None,
        typer.Option("--target-column/--no-target-column",
                     help="Whether the last column is the target. Default: decided from the "
                     "file's shape; an ambiguous file is an error asking for this flag."),
    ] = None,
    classes: ClassesOpt = None,
    num_classes: NumClassesOpt = None,
    align: AlignOpt = "exact",
    shrink_store: ShrinkOpt = False,
    replace: ReplaceOpt = False,
    name: NameOpt = None,
    images: ImagesOpt = None,
    lock_timeout: LockTimeoutOpt = 600.0,
) -> None:
    """Import timm's inference CSVs: file_name,pred_1[,...,pred_k][,target], no header.

    Example: misclass import timm-csv results/*.csv --labels imagenet-val --store imagenet-store
    """
    _check_name(name, files)
    items = [read_timm_csv(f, target_column=target_column, name=name) for f in files]
    for it in items:
        console.print(f"{it.source}: top-{it.topk_ids.shape[1]}, target column: "
                      f"{'yes' if it.metadata['target_column'] else 'no'} "
                      f"({it.metadata['target_column_decided']})", highlight=False)
    _import(store, items, labels=labels, classes=classes, num_classes=num_classes, align=align,
            replace=replace, images=images, shrink_store=shrink_store,
            lock_timeout=lock_timeout)


@import_app.command("table")
def import_table(
    files: Annotated[list[Path], typer.Argument(help="CSV or Parquet files with a header.")],
    store: StoreOpt = DEFAULT_STORE_PATH,
    labels: LabelsOpt = None,
    classes: ClassesOpt = None,
    num_classes: NumClassesOpt = None,
    align: AlignOpt = "exact",
    shrink_store: ShrinkOpt = False,
    replace: ReplaceOpt = False,
    name: NameOpt = None,
    images: ImagesOpt = None,
    lock_timeout: LockTimeoutOpt = 600.0,
) -> None:
    """Import tables with columns sample_id, [label,] pred | topk_ids [, topk_probs].

    Example: misclass import table resnet50.parquet vit.csv --classes classes.csv --store S
    """
    _check_name(name, files)
    items = [read_table(f, name=name) for f in files]
    _import(store, items, labels=labels, classes=classes, num_classes=num_classes, align=align,
            replace=replace, images=images, shrink_store=shrink_store,
            lock_timeout=lock_timeout)


@import_app.command("npy")
def import_npy(
    file: Annotated[Path, typer.Argument(help="(N, C) probability or logit matrix, .npy.")],
    ids: Annotated[Path, typer.Option("--ids", help="Sample ids: one per line, or a CSV with "
                                      "sample_id[,label].")],
    store: StoreOpt = DEFAULT_STORE_PATH,
    logits: Annotated[bool, typer.Option("--logits", help="The matrix holds logits.")] = False,
    k: Annotated[int, typer.Option("--k", help="Ranked predictions to keep.", min=1)] = 5,
    labels: LabelsOpt = None,
    classes: ClassesOpt = None,
    align: AlignOpt = "exact",
    shrink_store: ShrinkOpt = False,
    replace: ReplaceOpt = False,
    name: NameOpt = None,
    half: HalfOpt = False,
    images: ImagesOpt = None,
    lock_timeout: LockTimeoutOpt = 600.0,
) -> None:
    """Import a probability or logit matrix; full probabilities are kept (float32).

    Example: misclass import npy logits.npy --logits --ids ids.txt --labels labels.csv --store S
    """
    item = read_npy(file, ids, logits=logits, k=k, name=name)
    _import(store, [item], labels=labels, classes=classes, num_classes=item.probs.shape[1], align=align,
            replace=replace, half=half, images=images, shrink_store=shrink_store,
            lock_timeout=lock_timeout)


def _order(ids: Path | None, store_order: bool) -> Path | None:
    """The ids file, or None for the store's order; exactly one of the two must be given."""
    if ids is not None and store_order:
        raise InputError("--ids and --store-order exclude each other: give the sample ids, or say "
                         "the rows are in the store's order")
    if ids is None and not store_order:
        raise InputError("which sample is each row? pass --ids FILE (sample ids in the file's "
                         "order) or --store-order (the existing store's order)")
    return ids


def _stripped(path: Path, suffix: str | None) -> str | None:
    stem = path.name.split(".")[0]
    if suffix and stem.endswith(suffix) and stem != suffix:
        return stem[: -len(suffix)]
    return None


@import_app.command("list")
def import_list(
    files: Annotated[list[Path], typer.Argument(help="Predicted classes, one per sample: JSON lists "
                                                "(.json), .npy integer vectors or text files with "
                                                "one class id a line.")],
    ids: IdsOpt = None,
    store_order: StoreOrderOpt = False,
    store: StoreOpt = DEFAULT_STORE_PATH,
    labels: LabelsOpt = None,
    classes: ClassesOpt = None,
    num_classes: NumClassesOpt = None,
    align: AlignOpt = "exact",
    shrink_store: ShrinkOpt = False,
    replace: ReplaceOpt = False,
    name: NameOpt = None,
    strip: Annotated[str | None, typer.Option(
        "--strip", help="Remove this text from the end of each file's stem to name its model "
        "(--strip _predictions: resnet_basic_32_predictions.json -> resnet_basic_32).")] = None,
    images: ImagesOpt = None,
    lock_timeout: LockTimeoutOpt = 600.0,
) -> None:
    """Import lists of predicted classes in a given sample order (--ids or --store-order).

    Example: misclass import list original/*.json --ids test_index.csv --strip _predictions --store S
    """
    _check_name(name, files)
    ids_path = _order(ids, store_order)
    items = [read_list(f, ids_path, name=name or _stripped(f, strip)) for f in files]
    _import(store, items, labels=labels, classes=classes, num_classes=num_classes, align=align,
            replace=replace, images=images, shrink_store=shrink_store,
            lock_timeout=lock_timeout)


@import_app.command("votes")
def import_votes(
    file: Annotated[Path, typer.Argument(help="(N, C) .npy matrix: how many people chose each "
                                         "class for each image.")],
    store: StoreOpt = DEFAULT_STORE_PATH,
    ids: Annotated[Path | None, typer.Option(
        "--ids", help="Sample ids of the rows (one per line, or a CSV with sample_id (or "
        "file_name) [,label]). Default: the rows are in the existing store's sample order.")] = None,
    prefix: Annotated[str, typer.Option("--prefix", help="Predictor names: PREFIX-majority and "
                                        "PREFIX-random.")] = "human",
    labels: LabelsOpt = None,
    classes: ClassesOpt = None,
    align: AlignOpt = "exact",
    shrink_store: ShrinkOpt = False,
    replace: ReplaceOpt = False,
    images: ImagesOpt = None,
    n_boot: Annotated[int, typer.Option("--bootstrap", help="Bootstrap replicates of the error "
                                        "consistency intervals.", min=1)] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the bootstrap.")] = 0,
    json: JsonOpt = None,
    lock_timeout: LockTimeoutOpt = 600.0,
) -> None:
    """Import people's votes as predictors human-majority and human-random (kind human).

    human-majority predicts the most voted class (a tie goes to the lowest class id).
    human-random is a person drawn at random from each image's voters: its accuracy is the
    expectation, the mean over labelled images of the label's share of the votes. Both keep each image's
    agreement (share of the top class, entropy in bits). Prints each model's error consistency
    with them (Cohen's kappa of right/wrong, Geirhos et al. 2020) with bootstrap intervals.

    Example: misclass import votes cifar10h-counts.npy --store cifar10-store --json humans.json
    """
    from misclass.importers.votes import read_votes
    from misclass.workflows.votes import human_consistency

    items = read_votes(file, ids, prefix=prefix)
    _import(store, items, labels=labels, classes=classes, num_classes=items[1].probs.shape[1], align=align,
            replace=replace, images=images, shrink_store=shrink_store,
            lock_timeout=lock_timeout)
    s = Store(store)
    majority = s.read_per_image(items[0].name)  # both predictors hold the same agreement
    console.print(f"{file}: {count(majority['n_votes'].sum())} votes, "
                  f"{int(majority['n_votes'].min())}-{int(majority['n_votes'].max())} an image; "
                  f"{count(majority['tied'].sum())} ties for the most votes (the lowest class id "
                  f"wins); mean share of the top class {percent(float(majority['top_share'].mean()))}, "
                  f"mean entropy {number(float(majority['entropy_bits'].mean()))} bits", highlight=False)
    consistency = human_consistency(s, humans=[it.name for it in items], n_boot=n_boot, seed=seed)
    _print_consistency(consistency, n_boot, seed)
    write_json(json, {
        "store": str(store), "file": str(file),
        "predictors": {it.name: {"top1": s.model_metadata(it.name).get("top1"),
                                 "accuracy": "expected" if it.name == items[1].name else "counted"}
                       for it in items},
        "agreement": {"n_votes": int(majority["n_votes"].sum()),
                      "n_tied": int(majority["tied"].sum()),
                      "mean_top_share": float(majority["top_share"].mean()),
                      "mean_entropy_bits": float(majority["entropy_bits"].mean())},
        "error_consistency": consistency.to_dict()["humans"],
    })


def _print_consistency(consistency, n_boot: int, seed: int) -> None:
    if not consistency.by_human:
        console.print("error consistency: no model in the store yet; import models, then run "
                      "'misclass import votes' again with --replace to see it", highlight=False)
        return
    humans = list(consistency.by_human)
    first = consistency.by_human[humans[0]]
    table = Table(title=f"Error consistency with people (Cohen's kappa of right/wrong, "
                  f"{percent(first.level, 0)} bootstrap interval, {count(n_boot)} resamples, seed {seed}; "
                  f"{count(first.n)} labelled images)")
    table.add_column("model", overflow="fold")
    table.add_column("top-1", justify="right", no_wrap=True)
    for h in humans:
        table.add_column(f"kappa vs {h}", justify="right", overflow="fold")

    def cell(r, j):
        k, lo, hi = r.kappa[j], r.low[j], r.high[j]
        return UNDEFINED if k != k else f"{number(k)} [{number(lo)}, {number(hi)}]"
    order = sorted(range(len(first.models)), key=lambda j: -first.accuracy[j])
    for j in order:
        table.add_row(first.models[j], percent(float(first.accuracy[j])),
                      *(cell(consistency.by_human[h], j) for h in humans))
    print_table(table)
