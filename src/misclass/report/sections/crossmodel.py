"""Report section: does another model get it right? Correction rates, oracle accuracy of
combinations, per-class corrections, real ensembles and the images every model misses.
"""

from __future__ import annotations

import html
from collections import Counter

import pandas as pd

from misclass.format import Undefined, percent, plural
from misclass.report.crossmodel_figures import class_bars_data, draw_class_bars, greedy_figure, pair_heatmap
from misclass.report.gallery import MAX_IMAGES, gallery_html
from misclass.report.registry import ReportContext, Section, register_section, table_html
from misclass.report.units import as_percent, with_reason
from misclass.report.writer import Drawing
from misclass.workflows.compare import LIST_LIMIT, MAX_COMBINATIONS, CompareResult, compare

CLASS_CHART_MODELS = 12  # per-class bar charts for at most this many models


def _gallery(ctx: ReportContext, res: CompareResult) -> str:
    wrong = res.all_wrong()
    names = ctx.class_names
    size = int(ctx.options.get("gallery_size") or MAX_IMAGES)
    captions = []
    for r in wrong.head(size).to_dict("records"):
        votes = Counter(int(r[m]) for m in res.models)
        preds = ", ".join(f"{names[c] if c >= 0 else 'none'} ({n})" for c, n in votes.most_common(3))
        captions.append(f"true: {names[r['label']]} / predicted: {preds}")
    noun, verb = ("image", "is") if len(wrong) == 1 else ("images", "are")
    every = "both models" if len(res.models) == 2 else f"all {len(res.models)} models"
    intro = (f"<p>{len(wrong):,} {noun} ({percent(len(wrong) / res.n)}) {verb} misclassified by "
             f"{every}; in brackets, how many models predict each class.</p>")
    if not len(wrong):
        return intro
    return intro + gallery_html(ctx, wrong["index"].to_numpy()[: len(captions)], captions,
                                max_images=len(captions), total=len(wrong), order="in store order")


def _best_table(res: CompareResult) -> pd.DataFrame:
    best = res.best()
    table = pd.DataFrame({"k": best.index, "models": [", ".join(m) for m in best["models"]],
                          "oracle accuracy": best["virtual_accuracy"], "gain": best["gain"],
                          "search": [f"{method} ({search})" for method, search
                                     in zip(best["method"], best["search"], strict=True)]})
    return as_percent(table, {"oracle accuracy": "oracle accuracy (%)",
                              "gain": "gain over the best single model (points)"})


ENSEMBLE_UNDEFINED = "not computed for this set; the notes under the table say why"


def _ensemble_table(res: CompareResult) -> pd.DataFrame:
    table = res.ensembles().drop(columns="set")
    table["models"] = [", ".join(m) for m in table["models"]]
    percents = {"best_single_accuracy": "best member accuracy (%)", "oracle": "oracle accuracy (%)"}
    for kind, label in (("majority_vote", "majority vote"), ("mean_probability", "mean probability"),
                        ("selector", "learned selector")):
        percents[kind] = f"{label} accuracy (%)"
        percents[f"{kind}_share"] = f"{label}: share of the oracle's gain (%)"
    table = as_percent(table, percents).rename(columns={"best_single": "best member"})
    for col in table.columns[2:]:  # an ensemble that could not be built (no probabilities, too few images)
        table[col] = with_reason(table[col], ENSEMBLE_UNDEFINED)
    return table


PCR_UNDEFINED = "the base model A makes no mistakes, so there is nothing to correct"


def _has_undefined(values: pd.Series) -> bool:
    return bool(values.map(lambda v: isinstance(v, Undefined)).any())


def _pairs_table(res: CompareResult) -> pd.DataFrame:
    table = as_percent(res.pairs().reset_index(), {
        "virtual_accuracy": "oracle accuracy (%)", "correction_rate_b_over_a": "PCR of B over A (%)",
        "correction_rate_a_over_b": "PCR of A over B (%)", "equal_top1": "same top-1 (%)"})
    for col in ("PCR of B over A (%)", "PCR of A over B (%)"):
        table[col] = with_reason(table[col], PCR_UNDEFINED)
    return table.rename(columns={"error_consistency": "error consistency (kappa)"})


def compare_options(options: dict) -> dict:
    """The options of ``misclass compare`` from the report's options (the command's defaults
    for those not given)."""
    return {"k": int(options.get("k", 3)), "ensembles": bool(options.get("ensembles", True)),
            "seed": int(options.get("seed", 0)), "list_limit": int(options.get("list_limit", LIST_LIMIT)),
            "max_combinations": int(options.get("max_combinations", MAX_COMBINATIONS))}


@register_section("crossmodel")
def build(ctx: ReportContext) -> Section | None:
    """Correction rates, oracle accuracy, per-class corrections, ensembles, shared failures."""
    pred = ctx.predictions
    if len(pred.models) < 2 or (pred.labels < 0).all():
        return None
    res = compare(ctx.store, models=pred.models, **compare_options(ctx.options))
    names = list(res.models)
    parts = [f"<p>{len(names)} models on {res.n:,} labelled images. The <b>potential correction rate</b> "
             "PCR(A, B) is the share of model A's mistakes that model B classifies correctly; the "
             "<b>oracle (virtual) accuracy</b> of a set of models counts an image as right when any "
             "model of the set is right, an upper bound for any ensemble of them.</p>"]
    parts.append(ctx.save_figure(Drawing(pair_heatmap, (res.correction_rate(),), dict(
        colorbar="share of A's mistakes B gets right (%)",
        title="Potential correction rate: share of the row model's mistakes\nthat the column model "
              "classifies correctly (%)",
        diagonal="a model cannot correct itself", undefined="the row model makes no mistakes")),
        "crossmodel-pcr", alt="Heatmap of potential correction rates between models"))
    parts.append(ctx.save_figure(Drawing(pair_heatmap, (res.virtual_accuracy(),), dict(
        colorbar="oracle accuracy of the pair (%)",
        title="Oracle accuracy of each pair: images at least one of the two\nclassifies correctly (%); "
              "diagonal: the model's own accuracy")),
        "crossmodel-virtual-accuracy", alt="Heatmap of the oracle accuracy of every pair of models"))
    pairs = _pairs_table(res)
    undefined_pcr = any(_has_undefined(pairs[c]) for c in ("PCR of B over A (%)", "PCR of A over B (%)"))
    parts.append(table_html(pairs, float_digits=3, caption="Every pair, in % of the images (PCR: of the "
                            "base model's mistakes). Error consistency is Cohen's kappa of the two "
                            "correct/incorrect vectors (1: the same images are missed; 0: no more overlap "
                            "than chance)." + (f" -: {PCR_UNDEFINED}." if undefined_pcr else "")))
    parts.append("<h3>Best combinations</h3>")
    parts.append(table_html(_best_table(res), float_digits=2, caption="Best set of each size by oracle "
                            "accuracy; the gain in percentage points over the best single model. exact: "
                            "every combination considered (exhaustive or branch and bound); greedy: too "
                            "many combinations, the greedy set is shown."))
    parts.append(ctx.save_figure(Drawing(greedy_figure, (res.greedy(), res.best(), res.n)),
                                 "crossmodel-greedy", alt="Oracle accuracy as models are added greedily"))
    ensembles = res.comparison.ensembles
    if ensembles:
        parts.append("<h3>Real ensembles next to the oracle</h3>")
        table = _ensemble_table(res)
        missing = f" -: {ENSEMBLE_UNDEFINED}." if any(_has_undefined(table[c]) for c in table.columns) else ""
        parts.append(table_html(table, float_digits=2, caption="Accuracy (%) of real ensembles and the "
                                "share (%) of the oracle's gain over the best member they capture "
                                "(negative: worse than the best member). The selector is cross-validated "
                                f"({ensembles[0].folds} folds, seed {ensembles[0].seed}).{missing}"))
        parts.extend(f"<p class=note>{html.escape(n)}</p>" for n in res.ensemble_notes)
    parts.append("<h3>Per class: who corrects whom</h3>")
    shown = names[:CLASS_CHART_MODELS]  # a display limit: every model is analysed, and tabled below
    if len(names) > CLASS_CHART_MODELS:
        parts.append(f"<p class=note>Charts for the first {CLASS_CHART_MODELS} models; the table "
                     "below has all.</p>")
    for j, name in enumerate(shown):
        parts.append(ctx.save_figure(Drawing(draw_class_bars, kwargs=class_bars_data(res, name)),
                                     f"crossmodel-classes-{j}",
                                     alt=f"Per-class corrected and got-corrected images of {name}"))
    top = res.top_corrected().reset_index().rename(columns={"corrected": "images corrected"})
    parts.append(table_html(top.drop(columns="class_index").rename(columns={"rank": "rank in the model"}),
                            caption="Top-5 classes each model corrects: images of the class it gets right "
                            "while another model is wrong, summed over the other models."))
    hard = res.hard_classes()
    if len(hard):
        hard = as_percent(hard.reset_index(), {"best_accuracy": "best accuracy (%)",
                                               "mean_accuracy": "mean accuracy (%)"})
        hard = hard.rename(columns={"class_index": "class id", "n_images": "images",
                                    "best_model": "best model"})
        parts.append(table_html(hard, float_digits=2, caption=f"{plural(len(hard), 'class', 'classes')} on "
                                "which every model is below 50% accuracy (best model: the model that does "
                                "best on it)."))
    else:
        parts.append("<p>No class has every model below 50% accuracy.</p>")
    long = res.per_class().reset_index()
    long = as_percent(long[long["n_images"] > 0], {"accuracy": "accuracy (%)"}).rename(columns={
        "class_index": "class id", "n_images": "images", "corrected": "images it corrects",
        "got_corrected": "images others correct"})
    parts.append(table_html(long, float_digits=2, caption="Every class and model (filter by class or "
                            "model): accuracy on the class's images; images it gets right while another "
                            "model is wrong, and images it misses that another model gets right (summed "
                            "over the other models).", max_rows=20000))
    parts.append("<h3>Images every model misses</h3>")
    parts.append(_gallery(ctx, res))
    uniq = res.to_frame()["only_it_misses"].rename("images only this model misses").reset_index()
    n_one = len(res.only_one_wrong())
    parts.append(table_html(uniq, caption=f"{plural(n_one, 'image')} {'is' if n_one == 1 else 'are'} missed "
                            "by exactly one model."))
    parts.extend(f"<p class=note>{html.escape(n)}</p>" for n in res.notes)
    return Section("Does another model get it right?", "".join(parts))
