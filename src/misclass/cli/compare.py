"""``misclass compare``: which images another model gets right, and how much ensembles gain."""

from __future__ import annotations

import math
from typing import Annotated

import numpy as np
import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

from misclass.analysis.combinations import LIST_LIMIT, MAX_COMBINATIONS
from misclass.analysis.crossmodel import ModelComparison, compare_models
from misclass.cli.app import DEFAULT_STORE_PATH, JsonOpt, StoreOpt, app, console, get_store, pct, write_json
from misclass.errors import InputError

MATRIX_LIMIT = 12  # larger matrices go to --json only
PAIR_ROWS = 25


def parse_models(values: list[str] | None) -> list[str] | None:
    """Model names from repeated and/or comma-separated ``--models`` values."""
    if not values:
        return None
    names = [x.strip() for v in values for x in v.split(",") if x.strip()]
    return names or None


def _p1(x: float | None) -> str:
    """A fraction as a percentage with one decimal and no sign, '–' for None/NaN."""
    return "–" if x is None or math.isnan(x) else f"{100 * x:.1f}"


def _num_column(table: Table, title: str, values: list[str]) -> None:
    table.add_column(title, justify="right", no_wrap=True,
                     min_width=max([len(v) for v in values] + [len(title)]))


def _matrix(title: str, names: list[str], values: np.ndarray, note: str) -> Table:
    table = Table(title=title, caption=note, caption_justify="left")
    table.add_column("row model", overflow="fold")
    cells = [[_p1(float(v)) for v in row] for row in values]
    for j in range(len(names)):
        _num_column(table, f"#{j + 1}", [r[j] for r in cells])
    for i, name in enumerate(names):
        table.add_row(f"#{i + 1} {name}", *cells[i])
    return table


def _print(res: ModelComparison, show_matrices: bool) -> None:
    names = list(res.models)
    p = res.pairs
    console.print(f"[bold]{len(names)} models on {res.n:,} labelled images[/]", highlight=False)
    if show_matrices:
        console.print(_matrix("Potential correction rate: share of the row model's mistakes the column "
                              "model gets right", names, p.correction_rate,
                              "– : the row model makes no mistakes (undefined)"))
        console.print(_matrix("Virtual (oracle) accuracy of each pair; diagonal: accuracy", names,
                              p.virtual_accuracy, ""))
    iu = np.triu_indices(len(names), 1)
    order = np.argsort(-p.virtual_accuracy[iu], kind="stable")[:PAIR_ROWS]
    rows = []
    for a, b in zip(iu[0][order], iu[1][order], strict=True):
        kappa = p.error_consistency[a, b]
        rows.append((names[a], names[b], _p1(p.virtual_accuracy[a, b]), _p1(p.correction_rate[a, b]),
                     _p1(p.correction_rate[b, a]), "–" if math.isnan(kappa) else f"{kappa:.3f}",
                     _p1(p.equal_top1[a, b])))
    pairs = Table(title="Pairs by oracle accuracy (%): PCR B→A = share of A's mistakes B gets right",
                  caption=None if len(iu[0]) <= PAIR_ROWS else
                  f"the best {PAIR_ROWS} of {len(iu[0])} pairs; all in --json", caption_justify="left")
    pairs.add_column("model A", overflow="fold")
    pairs.add_column("model B", overflow="fold")
    for j, col in enumerate(("oracle", "PCR B→A", "PCR A→B", "kappa", "same top-1"), start=2):
        _num_column(pairs, col, [r[j] for r in rows])
    for r in rows:
        pairs.add_row(*r)
    console.print(pairs)

    best = Table(title="Best combination of each size (oracle: right if any member is right)")
    best.add_column("k", justify="right")
    best.add_column("models", overflow="fold")
    for col, width in (("oracle", 6), ("gain", 9), ("method", 6)):
        best.add_column(col, justify="right", no_wrap=True, min_width=width)
    single = res.combinations.best[1].virtual_accuracy
    for s, b in sorted(res.combinations.best.items()):
        best.add_row(str(s), ", ".join(b.models), pct(b.virtual_accuracy),
                     f"{100 * (b.virtual_accuracy - single):+.2f} pts", b.method)
    console.print(best)
    curve = res.combinations.greedy
    console.print("Greedy curve (oracle accuracy as models are added): " + " → ".join(
        f"{r.added} {pct(r.virtual_accuracy)}" for r in curve.itertuples()), highlight=False)

    f = res.failures
    console.print(f"Images every model misses: [bold]{len(f.all_wrong):,}[/] "
                  f"({pct(len(f.all_wrong) / res.n)}); "
                  f"images exactly one model misses: {len(f.only_one_wrong):,}", highlight=False)
    uniq = Table(title="Per model: images only it misses; the 5 classes where it most often is "
                 "right while others are wrong (images x models it corrects)")
    uniq.add_column("model", overflow="fold")
    uniq.add_column("accuracy", justify="right", no_wrap=True, min_width=7)
    uniq.add_column("only it misses", justify="right", no_wrap=True, min_width=6)
    uniq.add_column("top-5 corrected classes", overflow="fold", ratio=2)
    top = res.classes.top_corrected
    for j, name in enumerate(names):
        rows = top[top["model"] == name]
        uniq.add_row(name, pct(p.accuracy[j]), f"{f.unique_errors[j]:,}",
                     ", ".join(f"{r.class_name} ({r.corrected})" for r in rows.itertuples()))
    console.print(uniq)
    hard = res.classes.hard_classes
    if len(hard):
        shown = ", ".join(hard["class_name"].head(15))
        more = f", … ({len(hard) - 15} more in --json)" if len(hard) > 15 else ""
        console.print(f"Classes on which every model is below 50%: {len(hard)}: {shown}{more}",
                      highlight=False)
    else:
        console.print("No class on which every model is below 50%.")

    if res.ensembles:
        ens = Table(title="Real ensembles vs the oracle, accuracy (share of the oracle's gain over the "
                    "best member captured)")
        ens.add_column("models", overflow="fold")
        best_sets = {b.models: s for s, b in res.combinations.best.items()}
        for col in ("best", "oracle", "majority", "mean prob.", "selector"):
            ens.add_column(col, justify="right", no_wrap=True,
                           min_width=6 if col in ("best", "oracle") else 13)
        for e in res.ensembles:
            def cell(acc, e=e):
                if acc is None:
                    return "–"
                share = e.share(acc)
                return pct(acc) + ("" if share is None else f" ({100 * share:.0f}%)")
            if e.models in best_sets:
                label = f"best {best_sets[e.models]} (above)"
            elif len(e.models) == len(res.models):
                label = f"all {len(e.models)}"
            else:
                label = ", ".join(e.models)
            ens.add_row(label, pct(e.best_single_accuracy), pct(e.oracle),
                        cell(e.majority_vote), cell(e.mean_probability), cell(e.selector))
        console.print(ens)
        for note in dict.fromkeys(n for e in res.ensembles for n in e.notes):
            console.print(f"note: {note}", style="dim", highlight=False)
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
    s = get_store(store)
    pred = s.load(parse_models(models))
    if len(pred.models) < 2:
        raise InputError(f"compare needs at least two models; the selection has {len(pred.models)}: "
                         f"{', '.join(pred.models) or 'none'}")
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        tasks: dict[str, int] = {}

        def update(description: str, done: int, total: int) -> None:
            if description not in tasks:
                tasks[description] = progress.add_task(description, total=total)
            progress.update(tasks[description], completed=done, total=total)

        res = compare_models(
            pred.labels, pred.top1, models=pred.models, class_names=s.class_names(), k=k,
            sample_ids=pred.sample_ids, topk=pred.topk, topk_probs=pred.topk_probs,
            probs={m: pred.probs(m) for m in pred.models}, ensembles=ensembles, seed=seed,
            list_limit=list_limit, max_combinations=max_combinations, progress=update)
    _print(res, len(pred.models) <= MATRIX_LIMIT)
    write_json(json, res.to_dict())
