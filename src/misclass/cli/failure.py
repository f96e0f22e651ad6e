"""``misclass failure``: which images will fail, and the reject option."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import Progress
from rich.table import Table

from misclass.analysis.failure_options import LEARNERS
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
from misclass.format import count, number, percent, plural

if TYPE_CHECKING:
    from misclass.workflows.failure import FailureResult


@app.command()
def failure(
    store: StoreOpt = DEFAULT_STORE_PATH,
    model: Annotated[list[str] | None, typer.Option(
        "--model", "-m", help="Models to analyse (repeat). Default: all. The store's other models "
        "still count for the disagreement score.")] = None,
    calibration: Annotated[float, typer.Option(
        help="Share of the labelled images in the calibration split (the rest is the test split).",
        min=0.05, max=0.95)] = 0.5,
    learner: Annotated[str, typer.Option(help=f"Learned predictor: {' or '.join(LEARNERS)}.")] = "logistic",
    seed: Annotated[int, typer.Option(help="Seed of the calibration/test split.")] = 0,
    image_stats: Annotated[bool, typer.Option(
        "--image-stats/--no-image-stats", help="Use image statistics as extra predictor inputs.")] = True,
    coverage: Annotated[float | None, typer.Option(
        help="Reject option: keep this share of images (threshold chosen on the calibration split).",
        min=0.01, max=1.0)] = None,
    score: Annotated[str, typer.Option(help="Score used by the reject option.")] = "msp",
    rejected: Annotated[Path | None, typer.Option(
        help="Where to write rejected sample ids (default: <model>.rejected.txt).")] = None,
    json: JsonOpt = None,
) -> None:
    """Score how likely each prediction is wrong and judge each score on held-out images.

    Scores: msp, margin, entropy, gini, doctor, energy, MC dropout, feature space,
    disagreement, class error rate (whichever the store has inputs for), and a learned
    predictor over them and image statistics. Fitted on the calibration split, judged on the
    disjoint test split.

    Example: misclass failure --store misclass-demo/store --model svm-rbf --coverage 0.9
    """
    from misclass.workflows.failure import failure as run_failure

    s = get_store(store)
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("failure scores", total=None)
        res = run_failure(s, models=model, calibration=calibration, learner=learner, seed=seed,
                          image_stats=image_stats, coverage=coverage, score=score,
                          rejected=True if rejected is None else rejected,
                          progress=lambda what, done, total: bar.update(task, description=what,
                                                                        completed=done, total=total))
    for name in res.models:
        _print_model(res, name)
    for note in res.notes:
        console.print(note, style="dim")
    write_json(json, res.to_dict())


def _print_model(res: FailureResult, name: str) -> None:
    a = res.analyses[name]
    table = Table(title=f"{name}: failure detection on {plural(len(a.test_index), 'held-out image')} "
                  f"({plural(int(a.test_errors.sum()), 'error')}; "
                  f"fitted on {count(len(a.calibration_index))})")
    for col in ("score", "AUROC", "AUPR (errors)", "FPR@95%TPR", "AURC", "E-AURC", "sel. acc @90%"):
        table.add_column(col, justify="left" if col == "score" else "right", no_wrap=col == "score")
    metrics = res.metrics(name)
    for sname, m in metrics.items():
        table.add_row(sname, number(m.auroc), number(m.aupr_error), number(m.fpr95), number(m.aurc, 4),
                      number(m.eaurc, 4), percent(m.selective_accuracy["0.90"]))
    print_table(table)
    undefined = sorted({m.undefined for m in metrics.values() if m.undefined})
    if a.learned_info.get("undefined"):
        undefined.append(f"learned predictor: {a.learned_info['undefined']}")
    for reason in undefined:
        console.print(f"undefined: {reason}")
    by_reason: dict[str, list[str]] = {}
    for sname, reason in a.skipped.items():
        by_reason.setdefault(reason, []).append(sname)
    for reason, names in by_reason.items():
        console.print(f"skipped {', '.join(names)}: {reason}", style="dim")
    source = res.probability_sources[name]
    if source is not None:
        console.print(f"probability scores from {source}", style="dim")
        if "float16" in source and "logits" not in source:
            console.print("float16 probabilities tie the most confident images; store logits "
                          "(misclass predict --save-logits) for exact ranks")
    if a.confidence_calibration is not None:
        console.print(f"calibration of the confidence: ECE = {number(a.confidence_calibration.ece, 4)}")
    rule = res.rejects.get(name)
    if rule is not None:
        console.print(
            f"reject option ({rule.score} <= {rule.threshold:.6g}): keeps {percent(rule.test_coverage)} of "
            f"the held-out images (target {percent(rule.coverage_target)}), accuracy on kept "
            f"{percent(rule.test_accuracy_kept)} vs {percent(rule.test_accuracy_all)} on all; "
            f"{plural(len(rule.rejected), 'rejected id')} -> {res.rejected_files[name]}")
