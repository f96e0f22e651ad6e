"""Gather what an analysis needs from a store: the one place views read the store's side files.

Analyses stay pure (arrays in); the CLI and the report call these helpers to build their
inputs.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from misclass.analysis.failure_scores import ScoreInputs
from misclass.analysis.image_stats import image_statistics
from misclass.store import Predictions, Store

MC_COLUMNS = {"entropy": "mc_entropy", "mutual_info": "mc_mutual_info", "variance": "mc_variance"}


def score_inputs(store: Store, pred: Predictions, model: str) -> ScoreInputs:
    """The failure-score inputs of ``model``: its outputs, the other models' top-1, and any
    stored full probabilities, logits, features and MC-dropout statistics. Probability scores
    read the logits (in float64) unless the model's probabilities are an MC-dropout mean.

    The others are the loaded predictors of kind ``"model"`` only: people's answers
    (``human-majority``, a labeler marked ``human``) agree with the label far more than any
    model, so counting them in ``disagreement`` would leak the label into a failure score."""
    j = pred.index(model)
    keep = [i for i, name in enumerate(pred.models)
            if i != j and store.model_metadata(name).get("kind", "model") == "model"]
    others = pred.top1[:, keep] if keep else None
    mc = {}
    per_image = store.read_per_image(model)
    if per_image is not None:
        mc = {k: per_image[c].to_numpy(dtype=np.float64) for k, c in MC_COLUMNS.items()
              if c in per_image.columns}
    return ScoreInputs(
        top1=pred.top1[:, j].astype(np.int64),
        labels=pred.labels,
        probs=store.read_probs(model),
        topk_probs=None if pred.topk_probs is None else pred.topk_probs[:, j],
        logits=store.read_logits(model),
        features=store.read_features(model),
        other_top1=others,
        mc=mc,
        probs_from_logits=not store.model_metadata(model).get("mc_dropout"),
    )


def store_image_statistics(store: Store, progress: Callable[[int], None] | None = None
                           ) -> pd.DataFrame | None:
    """Image statistics of every sample (store order), or None when the store holds no images
    (neither arrays nor readable files; relative paths resolve as
    :class:`~misclass.store.images.StoreImages` resolves them)."""
    from misclass.store.images import StoreImages

    images = StoreImages(store)
    if images.arrays is not None:
        return image_statistics(images.arrays, progress)
    if images.paths is None:
        return None
    paths = [images.path(i) for i in range(len(images.paths))]
    if not all(p.is_file() for p in paths):
        return None

    def load():
        for i in range(len(paths)):
            yield np.asarray(images.load(i))

    return image_statistics(load(), progress)
