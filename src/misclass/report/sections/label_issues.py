"""Report section: which given labels are likely wrong (``misclass label-issues``).

Calls :func:`misclass.workflows.label_issues.label_issues` with the report's models and seed
and the command's defaults; shows the sources and their weights, a gallery of the top-ranked
images (given vs suggested label), the ranking's first rows, every predictor's accuracy on
the corrected labels with its change of rank, and the precision curve against people.
"""

from __future__ import annotations

import html

from misclass.format import plural
from misclass.report.registry import ReportContext, Section, register_section, table_html
from misclass.report.units import as_percent

#: Images in the gallery and rows of the ranking table (drawing only; all are computed).
GALLERY = 24
TABLE_ROWS = 200


def gallery_captions(res, indices) -> list[str]:
    """The sample id, ``given -> suggested`` and the score of each image, for :func:`issue_gallery`."""
    names = res.class_names
    out = []
    for i in indices:
        s = int(res.combined.suggested[i])
        out.append(f"{res.sample_ids[i]}\n{names[int(res.labels[i])]} -> {names[s] if s >= 0 else '?'}\n"
                   f"score {res.combined.score[i]:.3g}")
    return out


def gallery_figure(store, res, *, size: int = GALLERY, columns: int = 8):
    """The gallery figure of the ``size`` top-ranked images, or None when the store has no images."""
    from misclass.errors import InputError
    from misclass.report.label_issue_figures import issue_gallery
    from misclass.store.images import StoreImages

    images = StoreImages(store)
    if not images.available:
        return None
    shown, pics = [], []
    for i in res.order[:size]:
        try:
            pics.append(images.load(int(i)))
        except InputError:
            continue
        shown.append(int(i))
    if not pics:
        return None
    return issue_gallery(pics, gallery_captions(res, shown), columns=columns,
                         title=f"The {plural(len(pics), 'label')} most likely wrong: sample id, given -> "
                               "suggested label, score")


@register_section("label-issues")
def build(ctx: ReportContext) -> Section | None:
    """Likely label errors from models and people."""
    from misclass.report.label_issue_figures import precision_figure
    from misclass.workflows.label_issues import label_issues

    pred = ctx.predictions
    if not pred.models or (pred.labels < 0).all():
        return None
    res = label_issues(ctx.store, models=list(pred.models), seed=int(ctx.options.get("seed") or 0))
    w = res.weights
    how = (f"learned on {w.n_planted:,} planted label errors" if w.method == "planted" else
           "equal (too few images to learn them)" if w.method == "equal" else "given")
    n_wrong = int((res.combined.logit > 0).sum())
    parts = [
        f"<p>{res.n_scored:,} labelled images scored by {', '.join(res.sources)}; the combined "
        f"log-odds is {w.intercept:+.3f} plus each source's log-odds times its weight ({how}). "
        f"{plural(n_wrong, 'label')} {'is' if n_wrong == 1 else 'are'} more likely wrong than right.</p>",
        table_html(res.weights_frame().reset_index().rename(columns={
            "fitted": "weight fitted", "planted_auroc": "AUROC on planted errors", "scored": "images scored",
            "says_wrong": "images it says are wrong"}), caption="Sources: weight, whether the fit set it, "
                   "how well the source alone finds the planted errors (AUROC), images it scores, "
                   "images it says are wrong.", float_digits=3),
    ]
    for note in res.notes:
        parts.append(f"<p class=note>{html.escape(note)}</p>")
    fig = gallery_figure(ctx.store, res)
    if fig is not None:
        parts.append(ctx.save_figure(fig, "label-issues-gallery",
                                     alt="The top-ranked images with their given and suggested labels"))
    ranking = res.top(min(TABLE_ROWS, res.n_scored)).reset_index()
    ranking = ranking.drop(columns=["index", "given", "suggested"]).rename(
        columns={"given_name": "given", "suggested_name": "suggested", "agree": "sources saying wrong",
                 "sample_id": "sample id", "score": "score (combined)",
                 **{f"score_{src}": f"score ({src})" for src in res.sources}})
    parts.append(table_html(ranking, caption=f"The {len(ranking):,} labels most likely wrong of "
                            f"{res.n_scored:,} (all in misclass label-issues --json).", float_digits=4))
    acc = as_percent(res.accuracy_frame().reset_index(), {
        "original": "accuracy, given labels (%)", "corrected": "accuracy, corrected labels (%)",
        "change": "change (points)"})
    for col in ("rank_original", "rank_corrected", "rank_change"):  # whole ranks; none for people
        acc[col] = acc[col].astype("Int64")
    acc = acc.rename(columns={"rank_original": "rank, given labels",
                              "rank_corrected": "rank, corrected labels", "rank_change": "ranks moved up"})
    people = acc["rank, given labels"].isna().any()
    parts.append(table_html(acc, caption=f"Accuracy (%) on the given and on the corrected labels (combined "
                            f"score >= {res.threshold:g}: the suggested label; reviewed images: their "
                            "review label sets); ranks among models (ranks moved up > 0: it moved up)."
                            + (" -: people are not ranked." if people else ""), float_digits=2))
    curve = res.precision_curve()
    if curve is not None:
        reference = ("review decisions" if res.people.source == "review" else
                     "people's votes (most chose another class)")
        parts.append(ctx.save_figure(precision_figure(curve, reference=reference),
                                     "label-issues-precision",
                                     alt="Share of the top-ranked images people judged wrong, per ranking"))
        if res.people.source == "votes":
            parts.append("<p class=note>The votes are also one of the sources, so their own curve is "
                         "not an independent check.</p>")
    return Section("Which labels are wrong?", "".join(parts))
