"""Report section: does another model get it right? Correction rates, oracle accuracy of
combinations, per-class corrections, real ensembles and the images every model misses.
"""

from __future__ import annotations

import html
from collections import Counter

import matplotlib
import numpy as np
import pandas as pd

from misclass.format import Undefined, percent, plural
from misclass.report.crossmodel_figures import class_bars_data, draw_class_bars
from misclass.report.figures import new_figure
from misclass.report.gallery import MAX_IMAGES, gallery_html
from misclass.report.registry import ReportContext, Section, register_section, table_html
from misclass.report.units import as_percent, with_reason
from misclass.report.writer import Drawing
from misclass.workflows.compare import LIST_LIMIT, MAX_COMBINATIONS, CompareResult, compare

ANNOTATE_LIMIT = 16  # heatmap cells are annotated up to this many models
CLASS_CHART_MODELS = 12  # per-class bar charts for at most this many models


def heatmap(frame: pd.DataFrame, *, title: str, colorbar: str, diagonal: str = "", undefined: str = ""):
    """An annotated (M, M) heatmap of a pair matrix of fractions (index and columns: model
    names) shown as percentages; rows are the base model, columns the corrector. With
    ``diagonal`` (why it has no value) the diagonal is grey and marked "–"; NaN cells are
    grey and marked "n/a". The key under the axes explains only the marks that appear
    (``undefined``: why a cell is NaN), or the grey cells when there are too many models to
    annotate."""
    names = list(frame.index)
    values = frame.to_numpy(dtype=float)
    m = len(names)
    hide_diagonal = bool(diagonal)
    off = ~np.eye(m, dtype=bool)
    annotated = m <= ANNOTATE_LIMIT
    marks = []
    if hide_diagonal:
        marks.append(f"{'–' if annotated else 'grey diagonal'}: {diagonal}")
    if np.isnan(values[off] if hide_diagonal else values).any():
        marks.append(f"{'n/a' if annotated else 'grey'}: {undefined or 'undefined'}")
    note = ". ".join(marks) + ("." if marks else "")
    size = max(4.5, 0.62 * m + 2.8)
    fig, ax = new_figure(size + 1.2, size)
    data = np.asarray(values, dtype=float) * 100
    if hide_diagonal:
        data = data.copy()
        np.fill_diagonal(data, np.nan)
    shown = np.ma.masked_invalid(data)
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="#dddddd")
    im = ax.imshow(shown, cmap=cmap, vmin=np.nanmin(shown) if shown.count() else 0,
                   vmax=np.nanmax(shown) if shown.count() else 100)
    ax.set_xticks(np.arange(m), names, rotation=40, ha="right", fontsize=8)
    ax.set_yticks(np.arange(m), names, fontsize=8)
    ax.set_xlabel("corrector model B (column)" + (f"\n{note}" if note else ""))
    ax.set_ylabel("base model A (row)")
    ax.set_title(title, fontsize=10)
    if annotated:
        lo, hi = im.get_clim()
        for i in range(m):
            for j in range(m):
                v = values[i, j]
                if hide_diagonal and i == j:
                    ax.text(j, i, "–", ha="center", va="center", fontsize=8, color="#555555")
                    continue
                if np.isnan(v):
                    ax.text(j, i, "n/a", ha="center", va="center", fontsize=7, color="#555555")
                    continue
                dark = (100 * v - lo) < 0.55 * (hi - lo)
                ax.text(j, i, f"{100 * v:.1f}", ha="center", va="center", fontsize=7,
                        color="white" if dark else "black")
    cbar = fig.colorbar(im, ax=ax, shrink=0.8)
    cbar.set_label(colorbar)
    return fig


def greedy_figure(res: CompareResult):
    """Oracle accuracy as models are added greedily, with the exact best of each size."""
    curve = res.greedy()
    fig, ax = new_figure(8.5, 5.2)
    x = curve.index.to_numpy()
    y = curve["virtual_accuracy"].to_numpy() * 100
    ax.plot(x, y, marker="o", color="#2171b5",
            label="greedy: add the model that fixes the most remaining images")
    best = res.best()
    bx = best.index.to_numpy()
    by = best["virtual_accuracy"].to_numpy() * 100
    kinds = ["exact" if method == "exact" else "greedy" for method in best["method"]]
    ax.scatter(bx, by, marker="*", s=160, color="#cb181d", zorder=3,
               label="best combination of that size (" + ", ".join(sorted(set(kinds))) + ")")
    ax.axhline(y[0], color="grey", ls=":", lw=1, label=f"best single model ({y[0]:.2f}%)")
    if len(x) <= 20:
        ax.set_xticks(x, [f"{s}\n+{name}" for s, name in zip(x, curve["added"], strict=True)],
                      rotation=30, ha="right", rotation_mode="anchor", fontsize=7)
        ax.set_xlabel("number of models in the set, and the model the greedy step adds")
    else:
        ax.set_xticks(np.linspace(1, len(x), 10).round().astype(int))
        ax.set_xlabel("number of models in the set")
    ax.set_ylabel("oracle accuracy (%):\nimages at least one model gets right")
    ax.set_title(f"Oracle accuracy as models are added ({res.n:,} images)")
    span = max(y[-1] - y[0], 1.0)
    ax.set_ylim(y[0] - 0.25 * span, y[-1] + 0.15 * span)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    return fig


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
    parts.append(ctx.save_figure(heatmap(
        res.correction_rate(), colorbar="share of A's mistakes B gets right (%)",
        title="Potential correction rate: share of the row model's mistakes\nthat the column model "
              "classifies correctly (%)",
        diagonal="a model cannot correct itself", undefined="the row model makes no mistakes"),
        "crossmodel-pcr", alt="Heatmap of potential correction rates between models"))
    parts.append(ctx.save_figure(heatmap(
        res.virtual_accuracy(), colorbar="oracle accuracy of the pair (%)",
        title="Oracle accuracy of each pair: images at least one of the two\nclassifies correctly (%); "
              "diagonal: the model's own accuracy"),
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
    parts.append(ctx.save_figure(greedy_figure(res), "crossmodel-greedy",
                                 alt="Oracle accuracy as models are added greedily"))
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
