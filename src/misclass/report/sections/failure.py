"""Report section: which images will fail (risk-coverage, ROC, reliability, galleries)."""

from __future__ import annotations

import html

import numpy as np

from misclass.format import percent
from misclass.report.failure_figures import curves_data, draw_curves
from misclass.report.gallery import gallery_html
from misclass.report.registry import ReportContext, Section, register_section, table_html
from misclass.report.units import as_percent
from misclass.report.writer import Drawing
from misclass.workflows.failure import failure

MAX_MODELS = 12  # curves and galleries are drawn for at most this many models (the table has all)
#: columns of the metrics table: workflow frame column -> heading
TABLE_COLUMNS = {"model": "model", "score": "score", "auroc": "AUROC", "aupr_error": "AUPR (errors)",
                 "fpr95": "FPR at 95% TPR (%)", "aurc": "AURC (%)", "eaurc": "E-AURC (%)",
                 "selective_accuracy_0.90": "accuracy at 90% coverage (%)"}
PERCENT_COLUMNS = ("fpr95", "aurc", "eaurc", "selective_accuracy_0.90")  # of images (risk: error rate)
@register_section("failure")
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
        parts.append(ctx.save_figure(Drawing(draw_curves, kwargs=curves_data(name, a)), f"failure-{name}",
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
