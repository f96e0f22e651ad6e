"""``misclass compare``: which images another model gets right, and how much ensembles gain."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

from misclass.analysis.search_limits import LIST_LIMIT, MAX_COMBINATIONS
from misclass.cli.app import (
    DEFAULT_STORE_PATH,
    JsonOpt,
    StoreOpt,
    app,
    console,
    get_store,
    print_table,
    write_json,
)
from misclass.format import UNDEFINED, count, is_missing, number, percent, plural, points

if TYPE_CHECKING:
    import pandas as pd

    from misclass.workflows.compare import CompareResult

MATRIX_LIMIT = 12  # larger matrices go to --json only
PAIR_ROWS = 25


def parse_models(values: list[str] | None) -> list[str] | None:
    """Model names from repeated and/or comma-separated ``--models`` values."""
    if not values:
        return None
    names = [x.strip() for v in values for x in v.split(",") if x.strip()]
    return names or None


def _num_column(table: Table, title: str, values: list[str]) -> None:
    table.add_column(title, justify="right", no_wrap=True,
                     min_width=max([len(v) for v in values] + [len(title)]))


def _matrix(title: str, frame: pd.DataFrame, note: str) -> Table:
    """Rows and columns numbered #1.. (a key of the names below), so that a dozen models fit."""
    key = "; ".join(f"#{i + 1} {name}" for i, name in enumerate(frame.index))
    table = Table(title=title, caption=f"{key}" + (f". {note}" if note else ""), caption_justify="left")
    table.add_column("row model", justify="right")
    cells = [[percent(v) for v in row] for row in frame.to_numpy()]
    for j in range(len(frame.columns)):
        _num_column(table, f"#{j + 1}", [r[j] for r in cells])
    for i in range(len(frame.index)):
        table.add_row(f"#{i + 1}", *cells[i])
    return table


def _print_pairs(res: CompareResult) -> None:
    every = res.pairs()
    shown = every.head(PAIR_ROWS)
    rows = [(f"{a},\n{b}", percent(r.virtual_accuracy), percent(r.correction_rate_b_over_a),
             percent(r.correction_rate_a_over_b), number(r.error_consistency), percent(r.equal_top1))
            for (a, b), r in zip(shown.index, shown.itertuples(index=False), strict=True)]
    pairs = Table(title="Pairs by oracle accuracy: PCR B→A = share of A's mistakes B gets right",
                  caption=None if len(every) <= PAIR_ROWS else
                  f"the best {PAIR_ROWS} of {count(len(every))} pairs; all in --json", caption_justify="left")
    pairs.add_column("models A, B", overflow="fold")
    for j, col in enumerate(("oracle", "PCR B→A", "PCR A→B", "kappa", "same top-1"), start=1):
        _num_column(pairs, col, [r[j] for r in rows])
    for r in rows:
        pairs.add_row(*r)
    print_table(pairs)


def _print_combinations(res: CompareResult) -> None:
    best = Table(title="Best combination of each size (oracle: right if any member is right)")
    best.add_column("k", justify="right")
    best.add_column("models", overflow="fold")
    for col, width in (("oracle", 6), ("gain (points)", 6), ("method", 6)):
        best.add_column(col, justify="right", no_wrap=True, min_width=width)
    for r in res.best().itertuples():
        best.add_row(str(r.Index), ", ".join(r.models), percent(r.virtual_accuracy),
                     points(r.gain, unit=False), r.method)
    print_table(best)
    console.print("Greedy curve (oracle accuracy as models are added): " + " → ".join(
        f"{r.added} {percent(r.virtual_accuracy)}" for r in res.greedy().itertuples()), highlight=False)


def _print_failures(res: CompareResult) -> None:
    n_all, n_one = len(res.all_wrong()), len(res.only_one_wrong())
    console.print(f"Images every model misses: [bold]{count(n_all)}[/] ({percent(n_all / res.n)}); "
                  f"images exactly one model misses: {count(n_one)}", highlight=False)
    uniq = Table(title="Per model: images only it misses; the 5 classes where it most often is "
                 "right while others are wrong (images x models it corrects)")
    uniq.add_column("model", overflow="fold")
    uniq.add_column("accuracy", justify="right", no_wrap=True, min_width=7)
    uniq.add_column("only it misses", justify="right", no_wrap=True, min_width=6)
    uniq.add_column("top-5 corrected classes", overflow="fold", ratio=2)
    top = res.top_corrected()
    classes = {name: ", ".join(f"{c} ({n})" for c, n in zip(g["class"], g["corrected"], strict=True))
               for name, g in top.groupby(level="model", sort=False)}
    for r in res.to_frame().itertuples():
        uniq.add_row(r.Index, percent(r.accuracy), count(r.only_it_misses), classes.get(r.Index, ""))
    print_table(uniq)
    hard = res.hard_classes()
    if len(hard):
        shown = ", ".join(hard.index[:15])
        more = f" and {count(len(hard) - 15)} more (all in --json)" if len(hard) > 15 else ""
        console.print(f"Classes on which every model is below 50%: {count(len(hard))}: {shown}{more}",
                      highlight=False)
    else:
        console.print("No class on which every model is below 50%.")


def _print_ensembles(res: CompareResult) -> None:
    frame = res.ensembles()
    if not len(frame):
        return
    ens = Table(title="Real ensembles vs the oracle, accuracy (share of the oracle's gain over the "
                "best member captured)")
    ens.add_column("models", overflow="fold")
    for col in ("best", "oracle", "majority", "mean prob.", "selector"):
        ens.add_column(col, justify="right", no_wrap=True, min_width=6 if col in ("best", "oracle") else 13)

    def cell(acc: float, share: float) -> str:
        return UNDEFINED if is_missing(acc) else percent(acc) + ("" if is_missing(share) else
                                                                 f" ({percent(share, 0)})")

    for e in frame.itertuples():
        label = (f"{e.set} (above)" if e.set.startswith("best") else e.set) or ", ".join(e.models)
        ens.add_row(label, percent(e.best_single_accuracy), percent(e.oracle),
                    cell(e.majority_vote, e.majority_vote_share),
                    cell(e.mean_probability, e.mean_probability_share), cell(e.selector, e.selector_share))
    print_table(ens)
    for note in res.ensemble_notes:
        console.print(f"note: {note}", style="dim", highlight=False)


def _print(res: CompareResult, show_matrices: bool) -> None:
    console.print(f"[bold]{plural(len(res.models), 'model')} on {plural(res.n, 'labelled image')}[/]",
                  highlight=False)
    if show_matrices:
        print_table(_matrix("Potential correction rate: share of the row model's mistakes the column "
                            "model gets right", res.correction_rate(),
                            f"{UNDEFINED}: the row model makes no mistakes (undefined)"))
        print_table(_matrix("Virtual (oracle) accuracy of each pair; diagonal: accuracy",
                            res.virtual_accuracy(), ""))
    _print_pairs(res)
    _print_combinations(res)
    _print_failures(res)
    _print_ensembles(res)
    for note in res.notes:
        console.print(f"note: {note}", highlight=False)


@app.command()
def compare(
    store: StoreOpt = DEFAULT_STORE_PATH,
    models: Annotated[list[str] | None, typer.Option(
        "--models", "--model", "-m",
        help="Models to compare (repeat or comma-separate). Default: all.")] = None,
    k: Annotated[int, typer.Option("--k", help="Largest combination size.", min=1)] = 3,
    ensembles: Annotated[bool, typer.Option(
        "--ensembles/--no-ensembles", help="Evaluate majority vote, mean probability and a learned "
        "selector for the best combinations.")] = True,
    seed: Annotated[int, typer.Option(help="Seed of the selector's cross-validation folds.")] = 0,
    list_limit: Annotated[int, typer.Option(
        help="Sizes with at most this many combinations are all listed.", min=0)] = LIST_LIMIT,
    max_combinations: Annotated[int, typer.Option(
        help="Sizes with more combinations than this use greedy search instead of exact.",
        min=0)] = MAX_COMBINATIONS,
    json: JsonOpt = None,
) -> None:
    """Compare models image by image: which model corrects which, oracle accuracy of pairs and
    k-model combinations, images every model misses, error consistency, real ensembles.

    Example: misclass compare --store imagenet-store --k 3 --json compare.json
    """
    from misclass.workflows.compare import compare as run_compare

    s = get_store(store)
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        tasks: dict[str, int] = {}

        def update(description: str, done: int, total: int) -> None:
            if description not in tasks:
                tasks[description] = progress.add_task(description, total=total)
            progress.update(tasks[description], completed=done, total=total)

        res = run_compare(s, models=parse_models(models), k=k, ensembles=ensembles, seed=seed,
                          list_limit=list_limit, max_combinations=max_combinations, progress=update)
    _print(res, len(res.models) <= MATRIX_LIMIT)
    write_json(json, res.to_dict())
