"""``misclass explain`` as a library call: saliency maps of a torch model on a store's images,
saliency-guided erasure with its random control, the accounting, the per-pair table, the
sweep, and (on datasets with a planted cause) how well the method finds it.

Everything happens on the model's own view of each image: the store's image goes through
the model's geometric preprocessing (resize, crop) to ``uint8`` pixels, saliency is taken
on those pixels and boxes are erased there (``fill="zero"`` paints them black), then the
model's normalisation is applied and the image reclassified.

Results are kept in the store folder for the report::

    explain/<model>.json    settings, accounting, tests, pairs, sweep, planted-cause figures
    explain/<model>.npz     example triplets: original, saliency, erased images, predictions
"""

from __future__ import annotations

from misclass.explain.files import explain_dir, load_explain_results, save_explain
from misclass.explain.model import TorchClassifier, load_explain_model, model_view
from misclass.explain.options import (
    DEFAULT_SWEEP_PERCENTS,
    SPARE_CHOICES,
    ExplainOptions,
    parse_pairs,
    parse_spare,
    select_images,
)
from misclass.explain.run import ExplainRun, explain_model, pair_table, pick_triplets, planted_figures

__all__ = [
    "DEFAULT_SWEEP_PERCENTS",
    "SPARE_CHOICES",
    "ExplainOptions",
    "ExplainRun",
    "TorchClassifier",
    "explain_dir",
    "explain_model",
    "load_explain_model",
    "load_explain_results",
    "model_view",
    "pair_table",
    "parse_pairs",
    "parse_spare",
    "pick_triplets",
    "planted_figures",
    "save_explain",
    "select_images",
]
