"""Report section: a gallery of misclassified images, most-missed first."""

from __future__ import annotations

import html

from misclass.analysis.summary import find_misclassified
from misclass.errors import InputError
from misclass.format import plural
from misclass.report.gallery import MAX_IMAGES, gallery_html
from misclass.report.registry import ReportContext, Section, register_section
from misclass.workflows.common import per_image_predictors


@register_section("misclassified")
def build(ctx: ReportContext) -> Section | None:
    """Thumbnails of the images the most models miss."""
    pred = ctx.predictions
    if not pred.models:
        return None
    try:
        chosen = per_image_predictors(ctx.store, list(pred.models))  # an expectation misses no image
    except InputError:  # expected accuracies only: no image is missed by anyone
        return None
    wrong = find_misclassified(pred.labels, pred.top1[:, [pred.index(n) for n in chosen.names]])
    names = ctx.class_names
    m = len(chosen.names)
    captions = [
        f"true: {names[r.label]} / predicted: {names[r.prediction]} ({r.n_wrong} of {plural(m, 'model')})"
        for r in wrong.head(int(ctx.options.get("gallery_size") or MAX_IMAGES)).itertuples()
    ]
    intro = (f"<p>{plural(len(wrong), 'image')} {'is' if len(wrong) == 1 else 'are'} misclassified by at "
             "least one model; those missed by the most models come first. Each caption gives the "
             "image's sample id, its label and the most common wrong answer.</p>")
    if chosen.note:
        intro += f"<p class=note>{html.escape(chosen.note[0].upper() + chosen.note[1:])}.</p>"
    body = gallery_html(ctx, wrong["index"].to_numpy()[: len(captions)], captions, max_images=len(captions),
                        total=len(wrong), order="those missed by the most models first")
    return Section("Misclassified images", intro + body)
