"""``misclass label-issues``: which given labels are likely wrong, from models and people."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from misclass.cli.app import DEFAULT_STORE_PATH, JsonOpt, StoreOpt, app, console, print_table, write_json

if TYPE_CHECKING:
    from misclass.workflows.label_issues import LabelIssuesResult

DEFAULT_TOP = 20

def _list(values: list[str] | None) -> list[str] | None:
    """Names from repeated and/or comma-separated values."""
    if not values:
        return None
    return [x.strip() for v in values for x in v.split(",") if x.strip()] or None


def parse_weights(text: str | None) -> dict[str, float] | None:
    """``models=1,votes=2`` -> ``{"models": 1.0, "votes": 2.0}``."""
    from misclass.errors import InputError

    if text is None:
        return None
    out = {}
    for part in (p.strip() for p in text.split(",")):
        name, eq, value = part.partition("=")
        try:
            if not eq or not name.strip():
                raise ValueError
            out[name.strip()] = float(value)
        except ValueError:
            raise InputError(f"--weights {text!r}: expected SOURCE=NUMBER pairs separated by commas, "
                             "e.g. models=1,cleanlab=0.5,votes=2") from None
    return out


def _print_sources(res: LabelIssuesResult) -> None:
    from misclass.format import count, number

    w = res.weights
    how = {"planted": f"learned on {w.n_planted:,} planted label errors (logistic regression)",
           "given": "given", "equal": "equal (not enough images to learn them)"}[w.method]
    table = Table(title=f"Sources: {res.n_scored:,} of {res.n_images:,} images scored; weights {how}",
                  caption=f"combined = {w.intercept:+.3f} + sum of weight x log-odds of each source",
                  caption_justify="left")
    for col in ("source", "scored", "says wrong", "weight", "planted AUROC"):
        table.add_column(col, justify="left" if col == "source" else "right", no_wrap=True)
    frame = res.weights_frame()
    for name, row in frame.iterrows():
        auroc = number(row.planted_auroc, 4)
        fixed = "" if row.fitted or w.method != "planted" else " (fixed)"
        table.add_row(name, count(row.scored), count(row.says_wrong), f"{number(row.weight)}{fixed}", auroc)
    print_table(table)


def _print_ranking(res: LabelIssuesResult, top: int) -> None:
    from misclass.format import UNDEFINED, count, number, plural

    shown = res.top(top)
    table = Table(title=f"The {plural(len(shown), 'label')} most likely wrong (of {count(res.n_scored)}; "
                  "all in --json)",
                  caption="sources: those that score the label more likely wrong than right",
                  caption_justify="left")
    table.add_column("rank", justify="right")
    table.add_column("sample id")
    table.add_column("given label,\n→ suggested")  # one column, so that ImageNet's names fit 80 columns
    table.add_column("score", justify="right")
    table.add_column("sources")
    for rank, row in shown.iterrows():
        table.add_row(count(rank), row.sample_id, f"{row.given_name},\n→ {row.suggested_name}",
                      number(row.score, 4), row.agree or UNDEFINED)
    print_table(table)


def _print_accuracy(res: LabelIssuesResult) -> None:
    from misclass.format import percent, points

    frame = res.accuracy_frame()
    if frame.empty:
        return
    names = [f"{name} (human)" if row.kind == "human" else str(name) for name, row in frame.iterrows()]
    table = Table(title=f"Accuracy on the given and the corrected labels (score >= {res.threshold:g}: "
                  "the suggested label; reviewed images: their review label sets)",
                  caption="rank among models (change > 0: moved up)", caption_justify="left")
    table.add_column("predictor", min_width=min(24, max(len(x) for x in names)), overflow="fold")
    for col in ("given", "corrected", "change (points)", "rank"):
        table.add_column(col, justify="right")

    def rank(row) -> str:
        if row.rank_original != row.rank_original:
            return "-"
        return f"{int(row.rank_original)} -> {int(row.rank_corrected)} ({int(row.rank_change):+d})"
    for name, row in zip(names, frame.itertuples(), strict=True):
        table.add_row(name, percent(row.original), percent(row.corrected), points(row.change, unit=False),
                      rank(row))
    print_table(table)


def _print_precision(res: LabelIssuesResult) -> None:
    from misclass.format import percent

    curve = res.precision_curve()
    if curve is None:
        return
    what = ("review decisions" if res.people.source == "review" else
            "people's votes (most people chose another class; the votes are also a source)")
    table = Table(title=f"Among the top K images people judged, the share whose label they judged "
                  f"wrong ({what})")
    table.add_column("K", justify="right")
    for col in curve.columns:
        table.add_column(col, justify="right", no_wrap=True)
    for k, row in curve.iterrows():
        table.add_row(str(k), *(percent(v, 1) for v in row))
    print_table(table)


@app.command("label-issues")
def label_issues(
    store: StoreOpt = DEFAULT_STORE_PATH,
    models: Annotated[list[str] | None, typer.Option(
        "--models", help="Predictors to use (repeat or comma-separate). Default: all.")] = None,
    sources: Annotated[list[str] | None, typer.Option(
        "--sources", help="Sources to use (repeat or comma-separate): models, cleanlab, votes, "
        "review. Default: every one the store has data for.")] = None,
    k: Annotated[int, typer.Option("--k", help="1: each model's top-1 weighed by its confusion "
                                   "matrix; K > 1: the ranks of each model's top-K.", min=1)] = 1,
    probs: Annotated[list[str] | None, typer.Option(
        "--probs", help="Models whose probabilities cleanlab reads (their mean). Default: every "
        "model that stored probabilities.")] = None,
    votes: Annotated[Path | None, typer.Option(
        "--votes", help="(N, C) .npy matrix of people's vote counts in store order. Default: the "
        "votes imported with 'misclass import votes'.")] = None,
    weights: Annotated[str | None, typer.Option(
        "--weights", help="One weight per source, e.g. models=1,cleanlab=1,votes=2. Default: "
        "learned on planted label errors.")] = None,
    plant_rate: Annotated[float, typer.Option(
        "--plant-rate", help="Share of labelled images given a planted wrong label to learn the "
        "weights.", min=0.0, max=1.0)] = 0.05,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the planted label errors.")] = 0,
    threshold: Annotated[float, typer.Option(
        "--threshold", help="Combined score from which the suggested label replaces the given one "
        "in the corrected labels.")] = 0.5,
    top: Annotated[int | None, typer.Option(
        "--top", help="Rows of the ranking to print (at most the scored images). Default: 20.",
        min=1)] = None,
    db: Annotated[str | None, typer.Option(
        "--db", help="SQLAlchemy URL of the review database. Default: the store's "
        "annotations.sqlite.")] = None,
    json: JsonOpt = None,
) -> None:
    """Rank the images whose given label is most likely wrong, from models and people.

    Sources, each reported and combined: models (every model's predictions, weighed by its
    errors on the other images), cleanlab (confident learning on the models' mean
    probabilities), votes (people's vote counts) and review (the review app's decisions and
    problematic flags). The weights of the combination are learned on planted label errors.
    Prints the ranking, each model's accuracy on the corrected labels beside the given ones
    with its change of rank, and (with votes or review decisions) how many top-ranked labels
    people judged wrong. --json writes every scored image, most likely wrong first.

    Example: misclass label-issues --store cifar10-store --top 50 --json issues.json
    """
    from misclass.workflows.label_issues import label_issues as run

    res = run(store, models=_list(models), sources=_list(sources), k=k, probs=_list(probs), votes=votes,
              weights=parse_weights(weights), plant_rate=plant_rate, seed=seed, threshold=threshold, db=db)
    if top is not None:
        res.top_indices(top)  # --top beyond the scored images: the error comes before any output
    top = top if top is not None else min(DEFAULT_TOP, res.n_scored)
    _print_sources(res)
    for note in res.notes:
        console.print(note, highlight=False, soft_wrap=True)
    _print_ranking(res, top)
    _print_accuracy(res)
    _print_precision(res)
    write_json(json, res.to_dict())
