"""Report section: which ImageNet-X factors of variation raise each model's errors.

Shown for ImageNet validation stores when ``imagenet-x`` is installed; ``ctx.options`` may set
``factor_set`` ("top" or "multi") and ``keep_prototypes``.
"""

from __future__ import annotations

import html

import pandas as pd

from misclass.data.imagenet_annotations import is_imagenet_classes
from misclass.errors import InputError, MissingExtraError
from misclass.report.label_figures import factor_heatmap
from misclass.report.registry import ReportContext, Section, register_section, table_html
from misclass.report.writer import Drawing
from misclass.workflows.evaluate import factors

TITLE = "Which factors of variation raise errors? (ImageNet-X)"


@register_section("factors")
def build(ctx: ReportContext) -> Section | None:
    """Models x factors error-ratio heatmap and each model's most harmful factors."""
    pred = ctx.predictions
    classes = ctx.store.classes()
    if not pred.models or not is_imagenet_classes(classes["id"]):
        return None
    which = str(ctx.options.get("factor_set", "top"))
    labels = str(ctx.options["labels"]) if ctx.options.get("labels") else None
    try:
        result = factors(ctx.store, models=list(pred.models), factor_set=which,
                         keep_prototypes=bool(ctx.options.get("keep_prototypes", False)), labels=labels)
    except MissingExtraError as exc:
        return Section(TITLE, f"<p class=note>{html.escape(str(exc))}</p>")
    except InputError:  # ImageNet classes, but not the validation images (or none annotated)
        return None
    res = result.errors
    img = ctx.save_figure(Drawing(factor_heatmap, (res,)), "factors-error-ratio",
                          alt="Heatmap of ImageNet-X error ratios, models by factors")
    top = result.top_factors()
    rows = [{"predictor": n, "kind": k, "error (%)": 100 * e,
             **{f"factor {i + 1}": (f"{top[n][i][0]} (x{top[n][i][1]:.2f})" if i < len(top[n]) else "")
                for i in range(3)}}
            for n, k, e in zip(res.models, res.kinds, res.overall_error, strict=True)]
    error = ("a top-1 prediction that is not the image's label" if labels is None else
             f"a top-1 prediction outside the image's label set ({html.escape(labels)}; images without a "
             "usable set are left out)")
    intro = (f"<p>ImageNet-X annotates {res.n_annotated:,} of this store's images with the factors that make "
             f"them differ from typical images of their class ({which} factors"
             f"{'' if result.keep_prototypes else ', prototypical images left out'}). An error is {error}. "
             "A factor's error ratio is the error rate on the images with that factor divided by the error "
             "rate on all annotated images: above 1 the factor raises errors. Ratios on factors with few "
             "images (count under each name) are noisy.</p>")
    return Section(TITLE, intro + img + table_html(pd.DataFrame(rows), caption="The factors that most raise "
                                                   "each predictor's errors (x: the error ratio).",
                                                   float_digits=2))
