"""Report section: which images will fail (risk-coverage, ROC, reliability, galleries)."""

from __future__ import annotations

import html

import numpy as np

from misclass.analysis.selective import risk_coverage, roc_points
from misclass.report.gallery import gallery_html
from misclass.report.registry import ReportContext, Section, register_section, table_html
from misclass.workflows.failure import failure

MAX_MODELS = 12  # curves and galleries are drawn for at most this many models (the table has all)
#: columns of the metrics table: workflow frame column -> heading
TABLE_COLUMNS = {"model": "model", "score": "score", "auroc": "AUROC", "aupr_error": "AUPR (errors)",
                 "fpr95": "FPR at 95% TPR", "aurc": "AURC", "eaurc": "E-AURC",
                 "selective_accuracy_0.90": "accuracy at 90% coverage"}
SHOWN_SCORES = ("msp", "margin", "entropy", "energy", "mc_mutual_info", "knn_distance", "mahalanobis",
                "disagreement", "class_error_rate", "learned")


def _curves_figure(name: str, res):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.3), dpi=100, layout="constrained")
    errors = res.test_errors
    for sname in [s for s in SHOWN_SCORES if s in res.test_scores]:
        values = res.test_scores[sname]
        cov, risk = risk_coverage(values, errors)
        style = {"lw": 2.4, "color": "black"} if sname == "learned" else {"lw": 1.3}
        axes[0].plot(cov * 100, risk * 100, label=sname, **style)
        roc = roc_points(values, errors)
        if roc is not None:
            axes[1].plot(roc[0], roc[1], label=sname, **style)
    axes[0].set(xlabel="coverage: share of images kept, most confident first (%)",
                ylabel="risk: error rate of the kept images (%)",
                title=f"{name}: risk vs coverage (lower is better)")
    axes[1].plot([0, 1], [0, 1], ls=":", color="grey")
    axes[1].set(xlabel="false-alarm rate (correct predictions flagged)",
                ylabel="share of errors flagged", title=f"{name}: ROC of error detection")
    axes[0].legend(fontsize=7, ncol=2)
    axes[1].legend(fontsize=7, ncol=2, loc="lower right")
    cal = res.confidence_calibration
    ax = axes[2]
    if cal is not None:
        centres = (cal.bin_edges[:-1] + cal.bin_edges[1:]) / 2
        filled = cal.bin_count > 0
        ax.bar(centres[filled], cal.bin_accuracy[filled], width=1 / len(centres), edgecolor="black",
               color="#6baed6", label="accuracy in bin")
        ax.plot([0, 1], [0, 1], ls="--", color="grey", label="perfect calibration")
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence (top-1 probability)",
               ylabel="accuracy", title=f"{name}: reliability (ECE {cal.ece:.3f})")
        ax.legend(fontsize=7, loc="upper left")
    else:
        ax.set_axis_off()
        ax.set_title(f"{name}: no probabilities, no reliability diagram")
    fig.suptitle(f"{name}: scores judged on {len(errors)} held-out images, {int(errors.sum())} errors")
    return fig


@register_section("failure", order=60)
def build(ctx: ReportContext) -> Section | None:
    """Failure detection of every model (:func:`misclass.workflows.failure.failure`, the
    store's other models counting for disagreement): the metrics table of all, curves and
    galleries of the first :data:`MAX_MODELS`."""
    pred = ctx.predictions
    if not pred.models or (pred.labels < 0).all():
        return None
    res = failure(ctx.store, model=list(pred.models), seed=int(ctx.options.get("seed", 0)))
    table = res.to_frame().reset_index()[list(TABLE_COLUMNS)].rename(columns=TABLE_COLUMNS)
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
                     f"({100 * conf[i]:.1f}%)" for i in worst]
            cap_u = [f"true and predicted: {names[labels[idx[i]]]} ({100 * conf[i]:.1f}%)" for i in unsure]
            galleries.append(
                f"<h4>{name}: most confident mistakes</h4>" + gallery_html(ctx, idx[worst], cap_w)
                + f"<h4>{name}: least confident correct predictions</h4>"
                + gallery_html(ctx, idx[unsure], cap_u))
    limited = (f"The table covers all {len(res.models)} models; curves and galleries are drawn for the "
               f"first {MAX_MODELS}." if len(res.models) > MAX_MODELS else "")
    intro = ("<p>Each score rates how likely a prediction is wrong. Everything fitted (feature-space "
             "scores, the class error rate, the learned predictor) is fitted on a calibration half "
             "of the images and judged on the other half; all numbers below are on that held-out "
             "half. Disagreement counts every other model of the store (not people's answers, which "
             f"would give away the label), whichever models the report shows. {limited}</p>")
    intro += "".join(f"<p class=note>{html.escape(n)}</p>" for n in res.notes)
    table = table_html(table, caption="Higher AUROC / AUPR and lower FPR / AURC are better.")
    return Section("Which images will fail", intro + table + "".join(parts) + "".join(galleries))
