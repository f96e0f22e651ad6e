"""Per-model accuracy summaries.

>>> import numpy as np
>>> labels = np.array([0, 1, 2, -1])
>>> topk = np.array([[[0, 1]], [[2, 1]], [[1, 0]], [[0, 1]]])   # (N=4, M=1, k=2)
>>> topk_accuracy(labels, topk, 1).tolist(), topk_accuracy(labels, topk, 2).tolist()
([0.3333333333333333], [0.6666666666666666])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def topk_accuracy(labels: np.ndarray, topk: np.ndarray, k: int,
                  model_k: np.ndarray | None = None) -> np.ndarray:
    """Top-``k`` accuracy of each model over the samples with a known label.

    Parameters
    ----------
    labels : (N,) int, -1 for unknown (excluded)
    topk : (N, M, K) int, ranked predictions, -1 padding
    k : int
    model_k : (M,) int, optional
        How many predictions each model stored; models with fewer than ``k`` get NaN.

    Returns
    -------
    (M,) float: fractions in [0, 1], NaN where undefined.
    """
    labels = np.asarray(labels)
    known = labels >= 0
    m = topk.shape[1]
    if not known.any() or topk.shape[2] < k:
        return np.full(m, np.nan)
    hits = (topk[known, :, :k] == labels[known, None, None]).any(axis=2)
    acc = hits.mean(axis=0)
    if model_k is not None:
        acc = np.where(np.asarray(model_k) >= k, acc, np.nan)
    return acc


def summarize_models(names: Sequence[str], labels: np.ndarray, topk: np.ndarray,
                     model_k: np.ndarray) -> pd.DataFrame:
    """One row per model: ``name``, ``n`` (samples with a known label), ``top1``, ``top5``
    (NaN when the model stored fewer than 5 predictions)."""
    n = int((np.asarray(labels) >= 0).sum())
    return pd.DataFrame(
        {
            "name": list(names),
            "n": n,
            "top1": topk_accuracy(labels, topk, 1, model_k),
            "top5": topk_accuracy(labels, topk, 5, model_k),
        }
    )
