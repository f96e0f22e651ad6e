"""``misclass evaluate``, ``shift``, ``factors`` and ``set-kind``: is the label the problem.

Human labelers are predictors too: import their answers like a model's, then mark them with
``misclass set-kind NAME --kind human``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.table import Table

from misclass.analysis.factors import factor_error_ratios
from misclass.analysis.labels import KINDS, evaluate_predictors, multilabel_correct
from misclass.analysis.shift import analyze_shift
from misclass.cli.app import DEFAULT_STORE_PATH, JsonOpt, StoreOpt, app, console, get_store, pct, write_json
from misclass.data.imagenet_annotations import IMAGENET_X_FACTORS, imagenet_x_factors, is_imagenet_classes
from misclass.data.label_sets import load_class_groups, load_label_sets
from misclass.errors import InputError
from misclass.predict.kinds import predictor_kinds, set_predictor_kind

ModelsOpt = Annotated[list[str] | None,
                      typer.Option("--model", "-m", help="Predictors (repeat). Default: all.")]
LabelsOpt = Annotated[str | None, typer.Option(
    "--labels", help="Label sets: 'real' (ImageNet-ReaL, needs misclass\\[imagenet]), 'review' (the "
    "store's review decisions, see misclass review) or a JSONL/CSV file of sample_id -> labels "
    "[, problematic].")]
GroupsOpt = Annotated[list[str] | None, typer.Option(
    "--groups", help="Class groups (repeat): 'imagenet' (objects/organisms/dogs), 'metaclasses' "
    "(imagenet-x's 100) or a class,group CSV. Default: imagenet for ImageNet stores.")]


def _default_groups(groups: list[str] | None, classes) -> list[str]:
    if groups:
        return groups
    return ["imagenet"] if is_imagenet_classes(classes["id"]) else []


def _say(text: str, **kwargs) -> None:
    """Print one line of text, unwrapped, so it reads the same in a log as on a terminal."""
    console.print(text, soft_wrap=True, highlight=False, **kwargs)


def _f(x) -> str:
    return "–" if x is None else f"{x:.3f}"


@app.command()
def evaluate(
    store: StoreOpt = DEFAULT_STORE_PATH,
    labels: LabelsOpt = None,
    groups: GroupsOpt = None,
    model: ModelsOpt = None,
    json: JsonOpt = None,
) -> None:
    """Top-1, top-5 and multi-label accuracy per predictor, and accuracy per group of classes.

    A top-1 prediction is multi-label correct when it is in the image's set of correct labels;
    images without a set, with an empty set or flagged problematic are excluded and counted.
    Humans (see set-kind) are listed beside the models; summaries and the fit use models only.

    Example: misclass evaluate --store imagenet-store --labels real --groups imagenet --json eval.json
    """
    s = get_store(store)
    pred = s.load(model)
    if not pred.models:
        raise InputError(f"{s.path}: the store holds no models")
    classes = s.classes()
    sets = load_label_sets(labels, pred.sample_ids, classes, store=s) if labels else None
    grp = load_class_groups(_default_groups(groups, classes), classes)
    kinds = predictor_kinds(s, pred.models)
    ev = evaluate_predictors(pred.models, pred.labels, pred.topk, pred.k, label_sets=sets, groups=grp,
                             kinds=kinds)

    has_ml = sets is not None
    n_lab = int(ev.table["n"].iloc[0])
    caption = f"{n_lab:,} images with a label" + (
        f"; multi-label accuracy on {int(ev.table['n_multilabel'].iloc[0]):,} images" if has_ml else "")
    table = Table(title=f"Accuracy on {s.path}" + (f" (multi-label: {sets.source})" if has_ml else ""),
                  caption=caption)
    cols = ["predictor", "kind", "top-1", "top-5"] + (["multi-label", "gain (points)"] if has_ml else [])
    for c in cols:
        table.add_column(c, justify="left" if c in ("predictor", "kind") else "right",
                         no_wrap=c == "predictor")
    for r in ev.table.sort_values("top1", ascending=False).itertuples(index=False):
        row = [r.name, r.kind, pct(r.top1), pct(r.top5)]
        if has_ml:
            row += [pct(r.multilabel), f"{100 * (r.multilabel - r.top1):+.2f}"]
        table.add_row(*row)
    console.print(table)
    if has_ml:
        ex = ev.excluded
        _say(f"excluded from multi-label accuracy: {ex['no_set']:,} without a set, {ex['empty']:,} "
                      f"with no valid label, {ex['problematic']:,} problematic"
                      + (f"; {sets.n_unmatched:,} ids of the file are not in the store" if sets.n_unmatched
                         else ""))
        if ev.fit is not None:
            _say(f"multi-label vs top-1 across models: multi-label = {ev.fit.slope:.3f} x top-1 "
                          f"{ev.fit.intercept:+.3f} (r = {ev.fit.r:.3f}, {ev.fit.n} models)")
    for who, metrics in ev.summary.items():
        for metric, sm in metrics.items():
            if sm["best"] is not None:
                _say(f"{who}, {metric}: best {sm['best']['name']} {pct(sm['best']['value'])}, "
                     f"worst {sm['worst']['name']} {pct(sm['worst']['value'])}, median {pct(sm['median'])}")
    missed = ev.missed
    basis = "multi-label" if has_ml else "top-1"
    _say(f"images every model misses ({basis}): {missed['all_models']:,}"
                  + (f"; every human: {missed['all_humans']:,}; every predictor: {missed['all']:,}"
                     if missed["all_humans"] is not None else ""))
    if grp is not None:
        wide = ev.subset_matrix()
        sub = Table(title=f"{'Multi-label' if has_ml else 'Top-1'} accuracy (%) per group ({grp.source})")
        sub.add_column("group", no_wrap=True)
        sub.add_column("images", justify="right")
        for name in wide.columns:
            sub.add_column(name, justify="right", overflow="fold", min_width=5)
        sizes = ev.to_dict()["subset_images"]
        for g, vals in wide.iterrows():
            sub.add_row(str(g), f"{sizes[g]:,}", *["–" if np.isnan(v) else f"{100 * v:.1f}" for v in vals])
        console.print(sub)
    write_json(json, ev.to_dict())


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
    a = get_store(store)
    b = get_store(shifted_store)
    ca, cb = a.classes(), b.classes()
    if len(ca) != len(cb) or ca["id"].tolist() != cb["id"].tolist():
        raise InputError(f"{a.path} and {b.path} have different classes ({len(ca)} vs {len(cb)}); "
                         "a shift compares the same classes")
    common = [n for n in a.model_names() if b.has_model(n)]
    names = list(model) if model else common
    missing = [n for n in names if n not in common]
    if missing:
        raise InputError(f"models {missing} are not in both stores (in both: {', '.join(common) or 'none'})")
    if not names:
        raise InputError(f"no model is in both {a.path} and {b.path}: a shift compares the same models")
    only = sorted(set(a.model_names()) ^ set(b.model_names()))
    pa, pb = a.load(names), b.load(names)
    grp = load_class_groups(_default_groups(groups, ca), ca)
    kinds = predictor_kinds(a, names)
    res = analyze_shift(names, pa.labels, pa.top1, pb.labels, pb.top1, groups=grp, kinds=kinds)

    t = res.overall.table
    table = Table(title=f"Top-1 accuracy: {a.path} -> {b.path}")
    for c in ("model", "kind", "original", "shifted", "drop", "predicted", "eff. robustness"):
        table.add_column(c, justify="left" if c in ("model", "kind") else "right")
    for r in t.sort_values("original", ascending=False).itertuples(index=False):
        table.add_row(r.name, r.kind, pct(r.original), pct(r.shifted), f"{100 * r.drop:.2f}",
                      pct(r.predicted), "–" if np.isnan(r.effective_robustness)
                      else f"{100 * r.effective_robustness:+.2f}")
    console.print(table)
    fit = res.overall.fit
    if fit is None:
        _say("no fit: it needs at least two models with different original accuracy")
    else:
        _say(f"logit(shifted) = {fit.slope:.3f} x logit(original) {fit.intercept:+.3f} "
                      f"(r = {fit.r:.3f}, {fit.n} models)")
    if only:
        _say(f"left out (in one store only): {', '.join(only)}", style="dim")
    if res.subsets:
        sub = Table(title="Per group: mean drop and fit")
        for c in ("group", "images (orig.)", "images (shifted)", "mean drop", "slope", "intercept"):
            sub.add_column(c, justify="left" if c == "group" else "right")
        for g, sf in res.subsets.items():
            st = sf.table
            sub.add_row(g, f"{int(st['n_original'].iloc[0]):,}", f"{int(st['n_shifted'].iloc[0]):,}",
                        f"{100 * st['drop'].mean():.2f}", _f(sf.fit and sf.fit.slope),
                        _f(sf.fit and sf.fit.intercept))
        console.print(sub)
    out = res.to_dict()
    out.update(original_store=str(a.path), shifted_store=str(b.path), left_out=only)
    write_json(json, out)


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
    s = get_store(store)
    pred = s.load(model)
    if not pred.models:
        raise InputError(f"{s.path}: the store holds no models")
    classes = s.classes()
    annotated, fac = imagenet_x_factors(pred.sample_ids, classes["id"].tolist(), which=factor_set,
                                        filter_prototypes=not keep_prototypes)
    if labels:
        sets = load_label_sets(labels, pred.sample_ids, classes, store=s)
        correct = multilabel_correct(pred.top1, sets)
        use = annotated & sets.evaluable
    else:
        correct = pred.correct
        use = annotated & (pred.labels >= 0)
    if not use.any():
        raise InputError(f"{s.path}: no image of the store has ImageNet-X annotations")
    kinds = predictor_kinds(s, pred.models)
    res = factor_error_ratios(correct[use], fac[use], models=pred.models, factor_names=IMAGENET_X_FACTORS,
                              kinds=kinds)
    table = Table(title=f"ImageNet-X error ratios ({factor_set} factors, {res.n_annotated:,} images)")
    table.add_column("factor")
    table.add_column("images", justify="right")
    for name in res.models:
        table.add_column(name, justify="right")
    for j, f in enumerate(res.factors):
        table.add_row(f, f"{int(res.n_images[j]):,}", *[_f(v if np.isfinite(v) else None)
                                                        for v in res.error_ratio[:, j]])
    table.add_row("(error rate)", "", *[pct(e) for e in res.overall_error], style="dim")
    console.print(table)
    for name, fs in res.top_factors(top).items():
        listed = ", ".join(f"{f} x{r:.2f}" for f, r in fs)
        _say(f"{name}: most raised by {listed}" if listed
                      else f"{name}: no factor raises its errors")
    out = res.to_dict(top)
    out.update(factor_set=factor_set, prototypes_kept=keep_prototypes, labels=labels or "top1")
    write_json(json, out)


@app.command("set-kind")
def set_kind(
    names: Annotated[list[str], typer.Argument(help="Predictors to mark.")],
    kind: Annotated[str, typer.Option("--kind", help=f"One of: {', '.join(KINDS)}.")] = "human",
    store: StoreOpt = DEFAULT_STORE_PATH,
) -> None:
    """Mark predictors as humans (or back as models); analyses then tell humans from models.

    Import a labeler's answers like any predictor, then mark them:
    misclass import table answers.csv --name human-alice --store S.

    Example: misclass set-kind human-alice --kind human --store imagenet-store
    """
    s = get_store(store)
    if kind not in KINDS:
        raise InputError(f"--kind {kind!r}: expected one of {', '.join(KINDS)}")
    for n in names:
        changed = set_predictor_kind(s, n, kind)
        _say(f"{n}: kind {kind}" + ("" if changed else " (unchanged)"))
