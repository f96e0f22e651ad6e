"""Report section: a gallery of misclassified images, most-missed first."""

from __future__ import annotations

from misclass.analysis.summary import find_misclassified
from misclass.report.gallery import gallery_html
from misclass.report.registry import ReportContext, Section, register_section


@register_section("misclassified", order=90)
def build(ctx: ReportContext) -> Section | None:
    """Thumbnails of the images the most models miss."""
    pred = ctx.predictions
    if not pred.models:
        return None
    wrong = find_misclassified(pred.labels, pred.top1)
    names = ctx.class_names
    m = len(pred.models)
    captions = [
        f"true: {names[r.label]} / predicted: {names[r.prediction]} ({r.n_wrong} of {m} models)"
        for r in wrong.head(ctx.options.get("gallery_size", 48)).itertuples()
    ]
    intro = (f"<p>{len(wrong):,} images are misclassified by at least one model; those missed by "
             "the most models come first. The predicted class is the most common wrong answer.</p>")
    body = gallery_html(ctx, wrong["index"].to_numpy()[: len(captions)], captions)
    return Section("Misclassified images", intro + body)
