"""Report section: what in the image causes the error (the saved ``misclass explain`` runs)."""

from __future__ import annotations

import html

import pandas as pd

from misclass.format import count, p_value, plural
from misclass.report.explain_figures import planted_figure, sweep_figure, triplet_figure
from misclass.report.registry import ReportContext, Section, register_section, table_html
from misclass.report.units import as_percent, with_reason
from misclass.workflows.explain import saved_explanations


def _accounting_table(d: dict) -> pd.DataFrame:
    rows = []
    for name, key in (("saliency-guided", "saliency"), ("random boxes, same area", "random")):
        a = d["accounting"][key]
        rows.append({"erasure": name, "misclassified": a["n_misclassified"], "fixed": a["fixed"],
                     "moved": a["moved"], "unchanged": a["unchanged"], "fix rate": a["fix_rate"],
                     "correct (control)": a["n_correct"], "broken": a["broken"],
                     "break rate": a["break_rate"]})
    table = as_percent(pd.DataFrame(rows), {"fix rate": "fix rate (%)", "break rate": "break rate (%)"})
    for col in ("fix rate (%)", "break rate (%)"):
        table[col] = with_reason(table[col], "no image to fix or break")
    return table


def _planted_table(p: dict) -> pd.DataFrame:
    rows = []
    for name, key, n in (("planted errors (predicted as the patch's class)", "planted_errors",
                          p["planted_errors"]),
                         ("other errors (images without a planted patch)", "other_errors", p["other_errors"]),
                         ("errors on planted images towards a third class", "other_planted_image_errors",
                          p["other_planted_image_errors"])):
        rows.append({"errors": name, "images": n, "fix rate": p["fix_rate"].get(key),
                     "random fix rate": p["random_fix_rate"].get(key),
                     "saliency mass in patch": p["saliency_mass_in_patch"].get(key)})
    table = as_percent(pd.DataFrame(rows), {
        "fix rate": "fix rate (%)", "random fix rate": "random fix rate (%)",
        "saliency mass in patch": "saliency mass in the patch (%)"})
    for col in ("fix rate (%)", "random fix rate (%)", "saliency mass in the patch (%)"):
        table[col] = with_reason(table[col], "no error of this kind")
    return table


def _one(ctx: ReportContext, d: dict, arrays: dict) -> str:
    model = d["model"]
    acc = d["accounting"]
    f, b = d["mcnemar"]["fixes"], d["mcnemar"]["breaks"]
    parts = [f"<h3>{html.escape(model)}</h3>",
             f"<p>{html.escape(d['method'])} saliency towards the {html.escape(d['target'])} class on "
             f"{plural(d['n_images'], 'image')}; boxes of {html.escape(d['box'])} pixels around the top "
             f"{d['top_percent']:g}% pixels, merged, filled with {html.escape(d['fill'])} "
             f"({100 * (acc['erased_fraction'] or 0):.1f}% of the pixels on average). The random control "
             "erases as many pixels at random places.</p>",
             table_html(_accounting_table(d), float_digits=1, caption="Accounting: misclassified images "
                        "fixed / moved to another wrong class / unchanged; correctly classified control "
                        "images broken."),
             f"<p>McNemar's test, fixes: {plural(f['b'], 'error')} fixed only by the saliency-guided "
             f"erasure, {count(f['c'])} only by the random one; exact p = {f['p_exact']:.3g}, chi-squared "
             f"{f['chi2']:.2f} "
             f"(p = {f['p_chi2']:.3g}). Breaks: {b['b']} vs {b['c']}, exact p = {b['p_exact']:.3g}.</p>"]
    p = d.get("planted")
    if p:
        parts.append(f"<h4>Planted cause</h4><p>The patch covers {100 * p['patch_area_fraction']:.2f}% of "
                     "the image; saliency mass inside it above that share means the map points at it. "
                     "Fisher's exact test, planted errors fixed more often than other errors: one-sided p = "
                     f"{p_value(p['fisher_planted_vs_other']['p_one_sided'])}; McNemar on planted errors, "
                     f"saliency vs random: p = {p_value(p['mcnemar_planted_errors']['p_exact'])}.</p>")
        parts.append(table_html(_planted_table(p), float_digits=1, caption="Share of each kind of error "
                                "that the erasure fixes (%), and of the saliency that falls in the patch; "
                                "-: no error of that kind."))
        parts.append(ctx.save_figure(planted_figure(p, model=model), f"explain-planted-{model}",
                                     alt=f"Fix rates on planted and other errors, {model}"))
    if arrays and len(arrays.get("original", [])):
        fig = triplet_figure(arrays, ctx.class_names, model=model, method=d["method"], target=d["target"])
        parts.append(ctx.save_figure(fig, f"explain-triplets-{model}",
                                     alt=f"Original, saliency and erased images of {model}"))
    if d.get("pairs"):
        pairs = as_percent(pd.DataFrame(d["pairs"]).drop(columns=["true", "predicted"]),
                           {"fix_rate": "fix rate (%)", "random_fix_rate": "random fix rate (%)"})
        pairs = pairs.rename(columns={
            "true_name": "true", "predicted_name": "predicted", "n": "images",
            "fixed_random": "fixed (random)", "p": "p (one-sided McNemar)",
            "confusion_type": "confusion type"})
        parts.append(table_html(pairs, max_rows=60, float_digits=3, caption=(
            "Per confusion pair: interference-like when the saliency-guided erasure fixes clearly more "
            "errors than the random control (one-sided exact McNemar p < 0.05), else similarity-like; "
            "pairs with fewer than 5 images are not labelled. The confusion type comes from the "
            "misclassification networks of the store's models.")))
    if d.get("sweep"):
        fig = sweep_figure(pd.DataFrame(d["sweep"]), model=model)
        parts.append(ctx.save_figure(fig, f"explain-sweep-{model}",
                                     alt=f"Sweep of erasure settings, {model}"))
    return "".join(parts)


@register_section("explain")
def build(ctx: ReportContext) -> Section | None:
    """One block per explain run kept in the store (:func:`misclass.workflows.explain.explain`
    saves each; the report does not rerun the model); nothing when it was never run."""
    runs = saved_explanations(ctx.store)
    if not runs:
        return None
    intro = ("<p>Saliency maps show which pixels drive a prediction; erasing boxes around the most salient "
             "pixels and reclassifying tests whether they cause the error. An error caused by something "
             "outside the object (interference) is fixed by the erasure far more often than by erasing "
             "the same area at random; an error between similar-looking classes is not.</p>")
    blocks = "".join(_one(ctx, r.payload, r.triplets) for r in runs)
    return Section("What in the image causes the error", intro + blocks)
