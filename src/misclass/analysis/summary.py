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
    (NaN when the model stored fewer than 5 predictions).
    """
    n = int((np.asarray(labels) >= 0).sum())
    return pd.DataFrame(
        {
            "name": list(names),
            "n": n,
            "top1": topk_accuracy(labels, topk, 1, model_k),
            "top5": topk_accuracy(labels, topk, 5, model_k),
        }
    )


def find_misclassified(labels: np.ndarray, top1: np.ndarray) -> pd.DataFrame:
    """Images that at least one model misclassifies, most-missed first.

    Returns a frame with ``index`` (row in store order), ``label``, ``n_wrong`` (models
    wrong), ``prediction`` (the most common wrong top-1; ties go to the lower class id).

    >>> labels = np.array([0, 1, 2])
    >>> top1 = np.array([[0, 0], [2, 2], [1, 2]])
    >>> find_misclassified(labels, top1).to_dict("list")
    {'index': [1, 2], 'label': [1, 2], 'n_wrong': [2, 1], 'prediction': [2, 1]}
    """
    labels = np.asarray(labels)
    top1 = np.asarray(top1)
    wrong = (top1 != labels[:, None]) & (labels[:, None] >= 0)
    n_wrong = wrong.sum(axis=1)
    rows = np.flatnonzero(n_wrong > 0)
    preds = np.where(wrong[rows], top1[rows], -1).astype(np.int64)
    prediction = np.empty(len(rows), dtype=np.int64)
    step = max(1, 2**22 // max(1, preds.shape[1] ** 2))  # rows per block of (rows, M, M) comparisons
    for start in range(0, len(rows), step):
        p = preds[start:start + step]
        count = (p[:, :, None] == p[:, None, :]).sum(axis=2)  # how many models made each wrong guess
        count[p < 0] = 0
        top = count == count.max(axis=1, keepdims=True)  # every row has a wrong guess: max >= 1
        # the most common wrong guess; ties: the lowest class id
        prediction[start:start + step] = np.where(top, p, np.iinfo(np.int64).max).min(axis=1)
    order = np.lexsort((rows, -n_wrong[rows]))
    return pd.DataFrame({
        "index": rows[order],
        "label": labels[rows][order],
        "n_wrong": n_wrong[rows][order],
        "prediction": prediction[order],
    })
