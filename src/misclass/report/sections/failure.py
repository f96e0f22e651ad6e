"""Report section: which images will fail (risk-coverage, ROC, reliability, galleries)."""

from __future__ import annotations

import html

import numpy as np

from misclass.analysis.selective import risk_coverage, roc_points
from misclass.format import count, percent, plural
from misclass.report.gallery import gallery_html
from misclass.report.registry import ReportContext, Section, register_section, table_html
from misclass.report.units import as_percent
from misclass.workflows.failure import failure

MAX_MODELS = 12  # curves and galleries are drawn for at most this many models (the table has all)
#: columns of the metrics table: workflow frame column -> heading
TABLE_COLUMNS = {"model": "model", "score": "score", "auroc": "AUROC", "aupr_error": "AUPR (errors)",
                 "fpr95": "FPR at 95% TPR (%)", "aurc": "AURC (%)", "eaurc": "E-AURC (%)",
                 "selective_accuracy_0.90": "accuracy at 90% coverage (%)"}
PERCENT_COLUMNS = ("fpr95", "aurc", "eaurc", "selective_accuracy_0.90")  # of images (risk: error rate)
MAX_COLOURED = 6  # with more scores, the rest are drawn thin and grey
SHOWN_SCORES = ("msp", "margin", "entropy", "energy", "mc_mutual_info", "knn_distance", "mahalanobis",
                "disagreement", "class_error_rate", "learned")


def _highlighted(a) -> tuple[list[str], list[str]]:
    """The scores drawn in colour and in grey: every score when there are at most
    :data:`MAX_COLOURED`; else the learned predictor, MSP (the usual baseline) and the best
    others by AUROC, the rest thin and grey. Each list is best AUROC first."""
    shown = [s for s in SHOWN_SCORES if s in a.test_scores]

    def auroc(name: str) -> float:
        m = a.learned if name == "learned" else a.metrics.get(name)
        return -1.0 if m is None or m.auroc is None else float(m.auroc)

    shown.sort(key=lambda n: (-auroc(n), SHOWN_SCORES.index(n)))
    if len(shown) <= MAX_COLOURED:
        return shown, []
    first = [n for n in ("learned", "msp") if n in shown]
    rest = [n for n in shown if n not in first]
    colour = set(first + rest[: MAX_COLOURED - len(first)])
    return [n for n in shown if n in colour], [n for n in shown if n not in colour]


def _auroc_text(a, name: str) -> str:
    m = a.learned if name == "learned" else a.metrics.get(name)
    return "AUROC -" if m is None or m.auroc is None else f"AUROC {m.auroc:.3f}"


def _curves_figure(name: str, res):
    """Risk against coverage, the ROC of error detection and the reliability diagram of one
    model, with one legend below the panels (score and its AUROC)."""
    import textwrap

    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6), dpi=100, layout="constrained")
    errors = res.test_errors
    coloured, grey = _highlighted(res)
    palette = iter(["#2171b5", "#d94801", "#238b45", "#6a51a3", "#8c6d31", "#e7298a"])
    handles, texts = [], []
    for sname in [*grey, *coloured]:  # grey ones first, under the coloured ones
        values = res.test_scores[sname]
        if sname == "learned":
            style = {"lw": 2.6, "color": "black", "zorder": 4}
        elif sname in coloured:
            style = {"lw": 1.8, "color": next(palette), "zorder": 3}
        else:
            style = {"lw": 0.9, "color": "#b0b0b0", "zorder": 2}
        cov, risk = risk_coverage(values, errors)
        (line,) = axes[0].plot(cov * 100, risk * 100, **style)
        roc = roc_points(values, errors)
        if roc is not None:
            axes[1].plot(roc[0] * 100, roc[1] * 100, **style)
        if sname in coloured:
            handles.append(line)
            texts.append(f"{sname} ({_auroc_text(res, sname)})")
    if grey:
        handles.append(Line2D([], [], lw=0.9, color="#b0b0b0"))
        texts.append(f"{plural(len(grey), 'other score')}, grey: {', '.join(grey)} (see the table)")
    axes[0].set(xlabel="coverage: share of images kept, most confident first (%)",
                ylabel="risk: error rate of the kept images (%)",
                title="Risk vs coverage (lower is better)")
    axes[1].plot([0, 100], [0, 100], ls=":", color="grey")
    axes[1].set(xlabel="false-alarm rate: correct predictions flagged (%)",
                ylabel="errors flagged (%)", title="ROC of error detection (higher is better)")
    cal = res.confidence_calibration
    ax = axes[2]
    if cal is not None:
        centres = (cal.bin_edges[:-1] + cal.bin_edges[1:]) / 2
        filled = cal.bin_count > 0
        ax.bar(100 * centres[filled], 100 * cal.bin_accuracy[filled], width=100 / len(centres),
               edgecolor="black", color="#6baed6")
        ax.plot([0, 100], [0, 100], ls="--", color="grey")
        ax.set(xlim=(0, 100), ylim=(0, 100), xlabel="confidence: top-1 probability (%)",
               ylabel="accuracy of the images in the bin (%)",
               title=f"Reliability (ECE {100 * cal.ece:.1f}%)\nbars: accuracy per bin; dashed: calibrated")
    else:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title("Reliability")
        ax.text(0.5, 0.5, textwrap.fill(f"No reliability diagram: the store holds no probabilities "
                                        f"for {name} (top-1 answers only), so there is no confidence "
                                        "to compare with accuracy.", 34),
                transform=ax.transAxes, ha="center", va="center", fontsize=10, color="#555555")
    fig.legend(handles, texts, loc="outside lower center", ncol=min(len(texts), 4), fontsize=9,
               frameon=False, title="failure score (AUROC of error detection on the held-out images)",
               title_fontsize=9)
    fig.suptitle(f"{name}: failure scores judged on {count(len(errors))} held-out images, "
                 f"{plural(int(errors.sum()), 'error')}")
    return fig


@register_section("failure", order=60)
def build(ctx: ReportContext) -> Section | None:
    """Failure detection of every model (:func:`misclass.workflows.failure.failure`, the
    store's other models counting for disagreement): the metrics table of all, curves and
    galleries of the first :data:`MAX_MODELS`."""
    pred = ctx.predictions
    if not pred.models or (pred.labels < 0).all():
        return None
    res = failure(ctx.store, models=list(pred.models), seed=int(ctx.options.get("seed", 0)))
    table = res.to_frame().reset_index()[list(TABLE_COLUMNS)]
    table = as_percent(table, {c: TABLE_COLUMNS[c] for c in PERCENT_COLUMNS}).rename(columns=TABLE_COLUMNS)
    parts, galleries = [], []
    names = ctx.class_names
    for name in res.models[:MAX_MODELS]:
        a = res.analyses[name]
        parts.append(ctx.save_figure(_curves_figure(name, a), f"failure-{name}",
                                     alt=f"Risk-coverage, ROC and reliability of {name}"))
        if "msp" in a.test_scores:
            conf = 1 - a.test_scores["msp"]
            idx = a.test_index
            wrong = np.flatnonzero(a.test_errors)
            right = np.flatnonzero(~a.test_errors)
            worst = wrong[np.argsort(-conf[wrong], kind="stable")][:8]
            unsure = right[np.argsort(conf[right], kind="stable")][:8]
            top1, labels = pred.top1[:, pred.index(name)], pred.labels
            cap_w = [f"true: {names[labels[idx[i]]]} / predicted: {names[top1[idx[i]]]} "
                     f"({percent(conf[i], digits=1)} sure)" for i in worst]
            cap_u = [f"true and predicted: {names[labels[idx[i]]]} ({percent(conf[i], digits=1)} sure)"
                     for i in unsure]
            galleries.append(  # one folded block per model: the page stays short, every image a click away
                f"<details><summary>{html.escape(name)}: the {len(worst)} most confident mistakes and the "
                f"{len(unsure)} least confident correct predictions</summary>"
                f"<h4>{name}: most confident mistakes</h4>"
                + gallery_html(ctx, idx[worst], cap_w, total=len(wrong), noun="mistakes on the held-out half",
                               order="the most confident first")
                + f"<h4>{name}: least confident correct predictions</h4>"
                + gallery_html(ctx, idx[unsure], cap_u, total=len(right),
                               noun="correct predictions on the held-out half",
                               order="the least confident first") + "</details>")
    limited = (f"The table covers all {len(res.models)} models; curves and galleries are drawn for the "
               f"first {MAX_MODELS}." if len(res.models) > MAX_MODELS else "")
    intro = ("<p>Each score rates how likely a prediction is wrong. Everything fitted (feature-space "
             "scores, the class error rate, the learned predictor) is fitted on a calibration half "
             "of the images and judged on the other half; all numbers below are on that held-out "
             "half. Disagreement counts every other model of the store (not people's answers, which "
             f"would give away the label), whichever models the report shows. {limited}</p>")
    intro += "".join(f"<p class=note>{html.escape(n)}</p>" for n in res.notes)
    undefined = table["AUROC"].isna().any()
    table = table_html(table, float_digits=3, caption="Higher AUROC / AUPR and lower FPR / AURC are better; "
                       "AUROC and AUPR are fractions (0 to 1); the FPR, the areas under the risk-coverage "
                       "curve (risk: the error rate) and the accuracy are in %."
                       + (" -: undefined, every held-out prediction is right (or every one wrong)."
                          if undefined else ""))
    shown = ("<h3>Images of each model</h3>" + "".join(galleries)) if galleries else ""
    return Section("Which images will fail", intro + table + "".join(parts) + shown)
