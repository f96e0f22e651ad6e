"""Report section: is the label the problem? Multi-label accuracy and accuracy per class group.

Options read from ``ctx.options``: ``labels`` ("real" or a JSONL/CSV file; default "real" for
ImageNet validation stores when ``imagenet-x`` is installed) and ``groups`` (a list of
"imagenet", "metaclasses" or CSV files; default for ImageNet stores: imagenet, plus
metaclasses when ``imagenet-x`` is installed).
"""

from __future__ import annotations

import html

import pandas as pd

from misclass.data.imagenet_annotations import is_imagenet_classes
from misclass.errors import InputError, MissingExtraError
from misclass.report.label_figures import multilabel_scatter, subset_dots
from misclass.report.registry import ReportContext, Section, register_section, table_html
from misclass.report.units import with_reason
from misclass.report.writer import Drawing
from misclass.workflows.evaluate import EvaluateResult, evaluate


def has_imagenet_x() -> bool:
    """Whether the optional ``imagenet-x`` package can be imported."""
    try:
        import imagenet_x  # noqa: F401
    except ImportError:
        return False
    return True


def group_specs_for(ctx: ReportContext, classes: pd.DataFrame) -> list[str]:
    """Group sources from the options, else the ImageNet defaults (none for other stores)."""
    specs = ctx.options.get("groups")
    if specs:
        return [specs] if isinstance(specs, str) else list(specs)
    if not is_imagenet_classes(classes["id"]):
        return []
    return ["imagenet", "metaclasses"] if has_imagenet_x() else ["imagenet"]


def _pct_table(df: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    out = df.copy()
    for c in cols:
        out[c] = out[c] * 100
    return out


def _subset_table(res: EvaluateResult) -> pd.DataFrame:
    wide = res.subset_frame() * 100
    sizes = res.to_dict()["subset_images"]
    wide.insert(0, "images", [sizes[g] for g in wide.index])
    return wide.reset_index()


def evaluations(ctx: ReportContext, classes: pd.DataFrame, specs: list[str]
                ) -> tuple[list[tuple[str | None, EvaluateResult]], str]:
    """:func:`~misclass.workflows.evaluate.evaluate` with the report's models and labels, once per
    group source (one evaluation without groups when there is none), and a note on the labels.

    Without a ``labels`` option, ImageNet stores use ReaL labels where they can be had; the
    note says why when they cannot.
    """
    labels = str(ctx.options["labels"]) if ctx.options.get("labels") else None
    models = list(ctx.predictions.models)

    def run(spec: str | None, with_labels: str | None) -> EvaluateResult:
        return evaluate(ctx.store, labels=with_labels, groups=[spec] if spec else [], models=models)

    first = specs[0] if specs else None
    note = ""
    if labels is None and is_imagenet_classes(classes["id"]):
        try:
            head = run(first, "real")
            labels = "real"
        except MissingExtraError as exc:
            note, head = f"No multi-label accuracy: {exc}.", run(first, None)
        except InputError as exc:  # an ImageNet store whose images are not the validation set
            note, head = f"No ReaL labels for this store: {exc}.", run(first, None)
    else:
        head = run(first, labels)
    return [(first, head)] + [(spec, run(spec, labels)) for spec in specs[1:]], note


@register_section("labels")
def build(ctx: ReportContext) -> Section | None:
    """Multi-label vs top-1 accuracy, and accuracy per group of classes."""
    pred = ctx.predictions
    if not pred.models or (pred.labels < 0).all():
        return None
    classes = ctx.store.classes()
    specs = group_specs_for(ctx, classes)
    if not ctx.options.get("labels") and not specs:
        return None
    evs, note = evaluations(ctx, classes, specs)
    res = evs[0][1]
    ev = res.evaluation
    parts = []
    if note:
        parts.append(f"<p class=note>{html.escape(note)}</p>")
    if res.has_label_sets:
        ex = ev.excluded
        n_ml = int(ev.table["n_multilabel"].iloc[0])
        parts.append(
            "<p>A top-1 prediction is <em>multi-label correct</em> when it is one of the image's "
            f"correct labels ({html.escape(ev.label_source)}). Multi-label accuracy is measured on "
            f"{n_ml:,} images; excluded: {ex['no_set']:,} without a label set, {ex['empty']:,} with no "
            f"valid label, {ex['problematic']:,} flagged problematic.</p>")
        # the gain is the evaluation's: multi-label minus top-1 on the same images (n_gain of them)
        shown = _pct_table(ev.table, ["top1", "top5", "multilabel", "gain"])
        shown = shown.sort_values("top1", ascending=False)
        n_gain = int(shown["n_gain"].iloc[0]) if "n_gain" in shown else n_ml
        if ev.undefined.get("gain"):
            shown["gain"] = with_reason(shown["gain"], ev.undefined["gain"])
        shown = shown.drop(columns=["n", "n_multilabel", "n_gain"], errors="ignore").rename(columns={
            "name": "predictor", "top1": "top-1 (%)", "top5": "top-5 (%)", "multilabel": "multi-label (%)",
            "gain": "gain (points)", "accuracy": "accuracy is"})
        if shown["top-5 (%)"].isna().all():
            shown = shown.drop(columns=["top-5 (%)"])
        fig = Drawing(multilabel_scatter, (ev.table, ev.fit, n_ml))  # drawn by a figure worker
        parts.append(ctx.save_figure(fig, "labels-multilabel-vs-top1",
                                     alt="Multi-label against top-1 accuracy, one point per predictor"))
        gain_note = (f" -: {ev.undefined['gain']}." if ev.undefined.get("gain") else "")
        parts.append(table_html(shown, caption="Accuracies in %; the gain is multi-label minus top-1 "
                                f"accuracy in percentage points on the same {n_gain:,} images (a label and "
                                "a usable label set); the fit and summaries use models only." + gain_note,
                                float_digits=2))
        if ev.missed.get("all_models") is not None:
            human = (f"; every human misses {ev.missed['all_humans']:,}, every predictor "
                     f"{ev.missed['all']:,}" if ev.missed.get("all_humans") is not None else "")
            parts.append(f"<p>Every model misses {ev.missed['all_models']:,} of these images "
                         f"(multi-label){human}.</p>")
    metric = "multi-label accuracy" if res.has_label_sets else "top-1 accuracy"
    for i, (spec, r) in enumerate(evs):
        if spec is None or r.evaluation.subsets.empty:
            continue
        table = _subset_table(r)
        title = html.escape(r.evaluation.group_source or spec)
        parts.append(f"<h3>{metric.capitalize()} per group: {title}</h3>")
        if len(table) <= 8:
            parts.append(ctx.save_figure(Drawing(subset_dots, (r.subset_frame(), metric)),
                                         f"labels-groups-{i}",
                                         alt=f"{metric} per group of classes for each predictor"))
        parts.append(table_html(table, caption=f"{metric.capitalize()} (%) of each predictor on the images "
                                "whose label is in the group; images: how many it is measured on.",
                                float_digits=2))
    return Section("Is the label the problem?", "".join(parts))
