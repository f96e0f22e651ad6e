"""``misclass failure``: which images will fail, and the reject option."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.progress import Progress
from rich.table import Table

from misclass.analysis.failure import LEARNERS, analyze_failures, reject_rule
from misclass.analysis.failure_scores import SCORES, compute_scores
from misclass.cli.app import DEFAULT_STORE_PATH, JsonOpt, StoreOpt, app, console, get_store, pct, write_json
from misclass.errors import InputError
from misclass.gather import score_inputs, store_image_statistics


def _fmt(x: float | None, digits: int = 3) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


@app.command()
def failure(
    store: StoreOpt = DEFAULT_STORE_PATH,
    model: Annotated[list[str] | None,
                     typer.Option("--model", "-m", help="Models (repeat). Default: all.")] = None,
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
    if learner not in LEARNERS:
        raise InputError(f"--learner {learner!r}: expected one of {', '.join(LEARNERS)}")
    s = get_store(store)
    pred = s.load(model)
    if coverage is not None:
        if score not in SCORES or SCORES[score].fitted:
            plain = ", ".join(n for n, sc in SCORES.items() if not sc.fitted)
            raise InputError(f"--score {score!r}: the reject option takes one of {plain}")
        if rejected is not None and len(pred.models) > 1:
            raise InputError("--rejected names one file: pass a single --model")
    stats = None
    if image_stats:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("image statistics", total=pred.n)
            stats = store_image_statistics(s, lambda i: progress.update(task, completed=i))
    out: dict = {"models": {}}
    for name in pred.models:
        inputs = score_inputs(s, pred, name)
        res = analyze_failures(name, inputs, image_features=stats, calibration_fraction=calibration,
                               learner=learner, seed=seed)
        d = res.to_dict()
        table = Table(title=f"{name}: failure detection on {len(res.test_index)} held-out images "
                      f"({int(res.test_errors.sum())} errors; fitted on {len(res.calibration_index)})")
        for col in ("score", "AUROC", "AUPR (errors)", "FPR@95%TPR", "AURC", "E-AURC", "sel. acc @90%"):
            table.add_column(col, justify="left" if col == "score" else "right", no_wrap=col == "score")
        rows = list(res.metrics.items()) + ([("learned", res.learned)] if res.learned else [])
        for sname, m in rows:
            table.add_row(sname, _fmt(m.auroc), _fmt(m.aupr_error), _fmt(m.fpr95), _fmt(m.aurc, 4),
                          _fmt(m.eaurc, 4), pct(m.selective_accuracy["0.90"]))
        console.print(table)
        undefined = sorted({m.undefined for _, m in rows if m.undefined})
        if res.learned_info.get("undefined"):
            undefined.append(f"learned predictor: {res.learned_info['undefined']}")
        for reason in undefined:
            console.print(f"undefined: {reason}")
        by_reason: dict[str, list[str]] = {}
        for sname, reason in res.skipped.items():
            by_reason.setdefault(reason, []).append(sname)
        for reason, names in by_reason.items():
            console.print(f"skipped {', '.join(names)}: {reason}", style="dim")
        source = inputs.probability_source()
        d["probability_source"] = source
        if source is not None:
            console.print(f"probability scores from {source}", style="dim")
            if "float16" in source and "logits" not in source:
                console.print("float16 probabilities tie the most confident images; store logits "
                              "(misclass predict --save-logits) for exact ranks")
        if res.confidence_calibration is not None:
            console.print(f"calibration of the confidence: ECE = {res.confidence_calibration.ece:.4f}")
        if coverage is not None:
            values, skipped = compute_scores(inputs, res.calibration_index, np.arange(pred.n), [score])
            if score not in values:
                raise InputError(f"--score {score}: {skipped[score]}")
            errors = (inputs.top1 != inputs.labels) & (inputs.labels >= 0)
            rule = reject_rule(score, values[score], errors, res.calibration_index, res.test_index,
                               coverage)
            path = rejected or Path(f"{name}.rejected.txt")
            path.write_text("".join(f"{sid}\n" for sid in pred.sample_ids[rule.rejected]))
            console.print(
                f"reject option ({score} <= {rule.threshold:.6g}): keeps {pct(rule.test_coverage)} of the "
                f"held-out images (target {pct(coverage)}), accuracy on kept {pct(rule.test_accuracy_kept)} "
                f"vs {pct(rule.test_accuracy_all)} on all; {len(rule.rejected)} rejected ids -> {path}")
            d["reject"] = rule.to_dict() | {"file": str(path)}
        out["models"][name] = d
    write_json(json, out)
