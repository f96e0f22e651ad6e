"""Report section: is the label the problem? Multi-label accuracy and accuracy per class group.

Options read from ``ctx.options``: ``labels`` ("real" or a JSONL/CSV file; default "real" for
ImageNet validation stores when ``imagenet-x`` is installed) and ``groups`` (a list of
"imagenet", "metaclasses" or CSV files; default for ImageNet stores: imagenet, plus
metaclasses when ``imagenet-x`` is installed).
"""

from __future__ import annotations

import html

import pandas as pd

from misclass.analysis.labels import Evaluation, LabelSets, evaluate_predictors
from misclass.data.imagenet_annotations import is_imagenet_classes
from misclass.data.label_sets import load_class_groups, load_label_sets
from misclass.errors import InputError, MissingExtraError
from misclass.predict.kinds import predictor_kinds
from misclass.report.label_figures import multilabel_scatter, subset_dots
from misclass.report.registry import ReportContext, Section, register_section, table_html


def has_imagenet_x() -> bool:
    """Whether the optional ``imagenet-x`` package can be imported."""
    try:
        import imagenet_x  # noqa: F401
    except ImportError:
        return False
    return True


def label_sets_for(ctx: ReportContext, classes: pd.DataFrame) -> tuple[LabelSets | None, str]:
    """The label sets the options ask for (or the ImageNet default) and a note on what was used."""
    spec = ctx.options.get("labels")
    ids = ctx.predictions.sample_ids
    if spec:
        return load_label_sets(str(spec), ids, classes, store=ctx.store), ""
    if not is_imagenet_classes(classes["id"]):
        return None, ""
    try:
        return load_label_sets("real", ids, classes), ""
    except MissingExtraError as exc:
        return None, f"No multi-label accuracy: {exc}."
    except InputError as exc:  # an ImageNet store whose images are not the validation set
        return None, f"No ReaL labels for this store: {exc}."


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


def _subset_table(ev: Evaluation) -> pd.DataFrame:
    wide = ev.subset_matrix() * 100
    sizes = ev.to_dict()["subset_images"]
    wide.insert(0, "images", [sizes[g] for g in wide.index])
    return wide.reset_index()


@register_section("labels", order=40)
def build(ctx: ReportContext) -> Section | None:
    """Multi-label vs top-1 accuracy, and accuracy per group of classes."""
    pred = ctx.predictions
    if not pred.models or (pred.labels < 0).all():
        return None
    classes = ctx.store.classes()
    sets, note = label_sets_for(ctx, classes)
    specs = group_specs_for(ctx, classes)
    if sets is None and not specs:
        return None
    kinds = predictor_kinds(ctx.store, pred.models)
    sources = [(spec, load_class_groups([spec], classes)) for spec in specs] or [(None, None)]
    evs = [(spec, evaluate_predictors(pred.models, pred.labels, pred.topk, pred.k, label_sets=sets,
                                      groups=g, kinds=kinds)) for spec, g in sources]
    ev = evs[0][1]
    parts = []
    if note:
        parts.append(f"<p class=note>{html.escape(note)}</p>")
    if sets is not None:
        ex = ev.excluded
        n_ml = int(ev.table["n_multilabel"].iloc[0])
        parts.append(
            "<p>A top-1 prediction is <em>multi-label correct</em> when it is one of the image's "
            f"correct labels ({html.escape(sets.source)}). Multi-label accuracy is measured on "
            f"{n_ml:,} images; excluded: {ex['no_set']:,} without a label set, {ex['empty']:,} with no "
            f"valid label, {ex['problematic']:,} flagged problematic.</p>")
        shown = ev.table.assign(gain=ev.table["multilabel"] - ev.table["top1"])
        shown = _pct_table(shown, ["top1", "top5", "multilabel", "gain"]).sort_values("top1", ascending=False)
        shown = shown.drop(columns=["n", "n_multilabel"]).rename(columns={
            "name": "predictor", "top1": "top-1 %", "top5": "top-5 %", "multilabel": "multi-label %",
            "gain": "gain (points)"})
        if shown["top-5 %"].isna().all():
            shown = shown.drop(columns=["top-5 %"])
        fig = multilabel_scatter(ev.table, ev.fit, n_ml)
        parts.append(ctx.save_figure(fig, "labels-multilabel-vs-top1",
                                     alt="Multi-label against top-1 accuracy, one point per predictor"))
        parts.append(table_html(shown, caption="Accuracies in %; the fit and summaries use models only.",
                                float_digits=2))
        if ev.missed.get("all_models") is not None:
            human = (f"; every human misses {ev.missed['all_humans']:,}, every predictor "
                     f"{ev.missed['all']:,}" if ev.missed.get("all_humans") is not None else "")
            parts.append(f"<p>Every model misses {ev.missed['all_models']:,} of these images "
                         f"(multi-label){human}.</p>")
    metric = "multi-label accuracy" if sets is not None else "top-1 accuracy"
    for i, (spec, e) in enumerate(evs):
        if spec is None or e.subsets.empty:
            continue
        table = _subset_table(e)
        title = html.escape(e.group_source or spec)
        parts.append(f"<h3>{metric.capitalize()} per group: {title}</h3>")
        if len(table) <= 8:
            parts.append(ctx.save_figure(subset_dots(e.subset_matrix(), metric), f"labels-groups-{i}",
                                         alt=f"{metric} per group of classes for each predictor"))
        parts.append(table_html(table, caption=f"{metric.capitalize()} (%) of each predictor on the images "
                                "whose label is in the group; images: how many it is measured on.",
                                float_digits=2))
    return Section("Is the label the problem?", "".join(parts))
