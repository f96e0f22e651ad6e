"""``misclass import ...``: bring prediction files into a store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from misclass.cli.app import (
    DEFAULT_STORE_PATH,
    LockTimeoutOpt,
    StoreOpt,
    app,
    console,
    err_console,
)
from misclass.errors import InputError
from misclass.predict.importers import ImportResult, import_predictions
from misclass.predict.readers import read_npy, read_table, read_timm_csv
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


def _report(result: ImportResult, store: Path) -> None:
    s = Store(store)
    table = Table(title=f"Imported into {store}" + (" (new store)" if result.created else ""))
    for col in ("model", "samples", "k", "top-1"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for name in result.models:
        meta = s.model_metadata(name)
        top1 = meta.get("top1")
        table.add_row(name, f"{meta['n']:,}", str(meta["k"]),
                      "–" if top1 is None else f"{100 * top1:.2f}%")
    console.print(table)
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
    result = import_predictions(store, items, labels=labels, classes=classes,
                                num_classes=num_classes, align=_check_align(align), replace=replace,
                                **_write_options(shrink_store, lock_timeout))
    _report(result, store)


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
    lock_timeout: LockTimeoutOpt = 600.0,
) -> None:
    """Import tables with columns sample_id, [label,] pred | topk_ids [, topk_probs].

    Example: misclass import table resnet50.parquet vit.csv --classes classes.csv --store S
    """
    _check_name(name, files)
    items = [read_table(f, name=name) for f in files]
    result = import_predictions(store, items, labels=labels, classes=classes,
                                num_classes=num_classes, align=_check_align(align), replace=replace,
                                **_write_options(shrink_store, lock_timeout))
    _report(result, store)


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
    lock_timeout: LockTimeoutOpt = 600.0,
) -> None:
    """Import a probability or logit matrix; full probabilities are kept (float32).

    Example: misclass import npy logits.npy --logits --ids ids.txt --labels labels.csv --store S
    """
    item = read_npy(file, ids, logits=logits, k=k, name=name)
    result = import_predictions(store, [item], labels=labels, classes=classes,
                                num_classes=item.probs.shape[1], align=_check_align(align),
                                replace=replace, half=half, **_write_options(shrink_store, lock_timeout))
    _report(result, store)
