"""``misclass evaluate``, ``shift``, ``factors`` and ``set-kind``: is the label the problem.

Human labelers are predictors too: import their answers like a model's, then mark them with
``misclass set-kind NAME --kind human``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from misclass.cli.app import (
    DEFAULT_STORE_PATH,
    JsonOpt,
    StoreOpt,
    app,
    console,
    get_store,
    print_table,
    table_fits,
    top5_note,
    write_json,
)
from misclass.format import count, number, percent, plural, points

ModelsOpt = Annotated[list[str] | None,
                      typer.Option("--model", "-m", help="Predictors (repeat). Default: all.")]
LabelsOpt = Annotated[str | None, typer.Option(
    "--labels", help="Label sets: 'real' (ImageNet-ReaL, needs misclass\\[imagenet]), 'review' (the "
    "store's review decisions, see misclass review) or a JSONL/CSV file of sample_id -> labels "
    "[, problematic].")]
GroupsOpt = Annotated[list[str] | None, typer.Option(
    "--groups", help="Class groups (repeat): 'imagenet' (objects/organisms/dogs), 'metaclasses' "
    "(imagenet-x's 100) or a class,group CSV. Default: imagenet for ImageNet stores.")]


def _say(text: str, **kwargs) -> None:
    """Print one line of text, unwrapped, so it reads the same in a log as on a terminal."""
    console.print(text, soft_wrap=True, highlight=False, **kwargs)


@app.command()
def evaluate(
    store: StoreOpt = DEFAULT_STORE_PATH,
    labels: LabelsOpt = None,
    groups: GroupsOpt = None,
    model: ModelsOpt = None,
    min_share: Annotated[float | None, typer.Option(
        "--min-share", help="With --labels counts:FILE.npy: a class enters an image's label set when "
        "its share of the votes is at least this (default 0.5: the class most people chose).",
        min=0.0, max=1.0)] = None,
    json: JsonOpt = None,
) -> None:
    """Top-1, top-5 and multi-label accuracy per predictor, and accuracy per group of classes.

    A top-1 prediction is multi-label correct when it is in the image's set of correct labels;
    images without a set, with an empty set or flagged problematic are excluded and counted.
    Humans (see set-kind) are listed beside the models; summaries and the fit use models only.
    A person drawn at random (human-random of import votes) gets expected accuracies, marked *.

    Example: misclass evaluate --store imagenet-store --labels real --groups imagenet --json eval.json
    """
    from misclass.workflows.evaluate import evaluate as run_evaluate

    result = run_evaluate(get_store(store), labels=labels, groups=groups, models=model, min_share=min_share)
    ev = result.evaluation
    has_ml = result.has_label_sets
    n_lab = int(ev.table["n"].iloc[0])
    n_ml = int(ev.table["n_multilabel"].iloc[0])
    n_gain = int(ev.table["n_gain"].iloc[0])
    caption = f"{plural(n_lab, 'image')} with a label" + (
        f"; multi-label accuracy on {plural(n_ml, 'image')}; gain: multi-label minus top-1 on the "
        f"{plural(n_gain, 'image')} with both" if has_ml else "")
    title = f"Accuracy on {result.store}" + (f" (multi-label: {ev.label_source})" if has_ml else "")
    table = Table(title=title, caption=caption)
    cols = ["predictor", "kind", "top-1", "top-5"] + (["multi-label", "gain (points)"] if has_ml else [])
    for c in cols:
        table.add_column(c, justify="left" if c in ("predictor", "kind") else "right")
    for r in ev.table.sort_values("top1", ascending=False).itertuples(index=False):
        row = [r.name + (" *" if r.accuracy == "expected" else ""), r.kind, percent(r.top1), percent(r.top5)]
        if has_ml:
            row += [percent(r.multilabel), points(r.gain, unit=False)]
        table.add_row(*row)
    print_table(table)
    note = top5_note(ev.table)
    if note:
        _say(note)
    if result.expected:
        _say("* expected accuracy of a person drawn at random from the image's voters: top-1 the mean "
             "share of the label" + (", multi-label the mean share of the label set" if has_ml else "")
             + "; no per-image answer, so left out of the images every predictor misses")
    if has_ml:
        ex = ev.excluded
        _say(f"excluded from multi-label accuracy: {count(ex['no_set'])} without a set, {count(ex['empty'])} "
                      f"with no valid label, {count(ex['problematic'])} problematic"
                      + (f"; {count(result.n_unmatched)} ids of the file are not in the store"
                         if result.n_unmatched else ""))
        if ev.fit is not None:
            _say(f"multi-label vs top-1 across models: multi-label = {number(ev.fit.slope)} x top-1 "
                          f"{ev.fit.intercept:+.3f} (r = {number(ev.fit.r)}, {plural(ev.fit.n, 'model')})")
        for reason in ev.undefined.values():
            _say(reason)
    for who, metrics in ev.summary.items():
        for metric, sm in metrics.items():
            if sm["best"] is not None:
                _say(f"{who}, {metric}: best {sm['best']['name']} {percent(sm['best']['value'])}, "
                     f"worst {sm['worst']['name']} {percent(sm['worst']['value'])}, "
                     f"median {percent(sm['median'])}")
    m, h = ev.missed["all_models"], ev.missed["all_humans"]
    basis = "multi-label" if has_ml else "top-1"
    if m is None:  # humans only
        _say(f"images every human misses ({basis}): {count(h)}")
    else:
        _say(f"images every model misses ({basis}): {count(m)}"
             + (f"; every human: {count(h)}; every predictor: {count(ev.missed['all'])}"
                if h is not None else ""))
    if ev.group_source is not None:
        wide = result.subset_frame()
        metric = "Multi-label" if has_ml else "Top-1"
        sizes = result.to_dict()["subset_images"]
        sub = Table(title=f"{metric} accuracy per group ({ev.group_source})")
        if len(wide.index) <= len(wide.columns):  # few groups: one row per predictor, so it fits
            sub.add_column("predictor")
            for g in wide.index:
                sub.add_column(f"{g} ({plural(sizes[g], 'image')})", justify="right")
            for name in wide.columns:
                sub.add_row(str(name), *[percent(v) for v in wide[name]])
        else:
            sub.add_column("group")
            sub.add_column("images", justify="right")
            for name in wide.columns:
                sub.add_column(str(name), justify="right")
            for g, vals in wide.iterrows():
                sub.add_row(str(g), count(sizes[g]), *[percent(v) for v in vals])
        print_table(sub)
    write_json(json, result.to_dict())


@app.command()
def shift(
    store: StoreOpt = DEFAULT_STORE_PATH,
    shifted_store: Annotated[Path, typer.Option(
        "--shifted-store", help="Store of the shifted test set, with predictions of the same models.")] = ...,
    groups: GroupsOpt = None,
    model: ModelsOpt = None,
    json: JsonOpt = None,
) -> None:
    """Accuracy drop under distribution shift and each model's effective robustness.

    Fits logit(shifted accuracy) against logit(original accuracy) across the models present in
    both stores; a predictor's effective robustness is its shifted accuracy minus the fit's
    prediction. Also per group of classes.

    Example: misclass shift --store imagenet-val --shifted-store imagenetv2 --json shift.json
    """
    from misclass.workflows.evaluate import shift as run_shift

    result = run_shift(get_store(store), shifted_store=get_store(shifted_store), groups=groups, models=model)
    res = result.analysis
    t = res.overall.table
    table = Table(title=f"Top-1 accuracy: {result.original_store} -> {result.shifted_store}")
    kinds = bool((t["kind"] != "model").any())  # the kind column only when there are humans
    for c in ("model", *(("kind",) if kinds else ()), "original", "shifted", "drop (points)", "by the fit",
              "eff. robustness (points)"):
        table.add_column(c, justify="left" if c in ("model", "kind") else "right")
    for r in t.sort_values("original", ascending=False).itertuples(index=False):
        table.add_row(r.name, *((r.kind,) if kinds else ()), percent(r.original), percent(r.shifted),
                      points(r.drop, unit=False), percent(r.predicted),
                      points(r.effective_robustness, unit=False))
    print_table(table)
    fit = res.overall.fit
    if fit is None:
        _say(res.overall.undefined)
    else:
        _say(f"logit(shifted) = {number(fit.slope)} x logit(original) {fit.intercept:+.3f} "
                      f"(r = {number(fit.r)}, {plural(fit.n, 'model')})")
    if result.left_out:
        _say(f"left out (in one store only): {', '.join(result.left_out)}", style="dim")
    for note in result.notes:
        _say(note, style="dim")
    if res.subsets:
        sub = Table(title="Per group: mean drop and fit")
        for c in ("group", "images (orig.)", "images (shifted)", "mean drop (points)", "slope", "intercept"):
            sub.add_column(c, justify="left" if c == "group" else "right")
        for g, sf in res.subsets.items():
            st = sf.table
            sub.add_row(g, count(st['n_original'].iloc[0]), count(st['n_shifted'].iloc[0]),
                        points(st['drop'].mean(), unit=False), number(sf.fit and sf.fit.slope),
                        number(sf.fit and sf.fit.intercept))
        print_table(sub)
    write_json(json, result.to_dict())


@app.command()
def factors(
    store: StoreOpt = DEFAULT_STORE_PATH,
    model: ModelsOpt = None,
    factor_set: Annotated[str, typer.Option(
        "--factor-set", help="ImageNet-X annotations: 'top' (the most salient factor per image) or "
        "'multi' (every factor annotators marked).")] = "top",
    keep_prototypes: Annotated[bool, typer.Option(
        "--keep-prototypes", help="Keep the prototypical images ImageNet-X drops by default.")] = False,
    labels: LabelsOpt = None,
    top: Annotated[int, typer.Option("--top", help="Factors listed per model.", min=1)] = 3,
    json: JsonOpt = None,
) -> None:
    r"""ImageNet-X error ratios: error rate on images with a factor / error rate on all annotated images.

    Needs an ImageNet validation store and misclass\[imagenet]. With --labels, an error is a
    top-1 prediction outside the image's label set (images without a usable set are left out).

    Example: misclass factors --store imagenet-store --json factors.json
    """
    from misclass.workflows.evaluate import factors as run_factors

    result = run_factors(get_store(store), models=model, factor_set=factor_set,
                         keep_prototypes=keep_prototypes, labels=labels, top=top)
    res = result.errors
    table = _factor_table(res, factor_set, numbered=False)
    if not table_fits(table):  # models numbered #1.. with a key below, so that seven fit
        table = _factor_table(res, factor_set, numbered=True)
    print_table(table)
    if table.caption:
        _say("error rate on the annotated images: " + ", ".join(
            f"#{j + 1} {percent(e)}" for j, e in enumerate(res.overall_error)))
    for note in result.notes:
        _say(note, style="dim")
    for name, fs in result.top_factors().items():
        listed = ", ".join(f"{f} x{number(r, 2)}" for f, r in fs)
        _say(f"{name}: most raised by {listed}" if listed
                      else f"{name}: no factor raises its errors")
    write_json(json, result.to_dict())


def _factor_table(res, factor_set: str, *, numbered: bool) -> Table:
    """Factors x models error ratios; ``numbered``: models as #1.. with a key in the caption,
    and their error rates printed below instead of as the last row."""
    key = "; ".join(f"#{j + 1} {name}" for j, name in enumerate(res.models)) if numbered else None
    table = Table(title=f"ImageNet-X error ratios ({factor_set} factors, {plural(res.n_annotated, 'image')})",
                  caption=key, caption_justify="left")
    table.add_column("factor (images)")
    for j, name in enumerate(res.models):
        table.add_column(f"#{j + 1}" if numbered else name, justify="right")
    for j, f in enumerate(res.factors):
        table.add_row(f"{f} ({count(res.n_images[j])})", *[number(v) for v in res.error_ratio[:, j]])
    if not numbered:
        table.add_row("(error rate)", *[percent(e) for e in res.overall_error], style="dim")
    return table


@app.command("set-kind")
def set_kind(
    names: Annotated[list[str], typer.Argument(help="Predictors to mark.")],
    kind: Annotated[str, typer.Option("--kind", help="'model' or 'human'.")] = "human",
    store: StoreOpt = DEFAULT_STORE_PATH,
) -> None:
    """Mark predictors as humans (or back as models); analyses then tell humans from models.

    Import a labeler's answers like any predictor, then mark them:
    misclass import table answers.csv --name human-alice --store S.

    Example: misclass set-kind human-alice --kind human --store imagenet-store
    """
    from misclass.errors import InputError
    from misclass.store.kinds import set_predictor_kind
    from misclass.types import PREDICTOR_KINDS

    s = get_store(store)
    if kind not in PREDICTOR_KINDS:
        raise InputError(f"--kind {kind!r}: expected one of {', '.join(PREDICTOR_KINDS)}")
    for n in names:
        changed = set_predictor_kind(s, n, kind)
        _say(f"{n}: kind {kind}" + ("" if changed else " (unchanged)"))
