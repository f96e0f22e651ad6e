"""Where each model fails: confusion matrices, class-wise and conditional misclassification
rates, misclassification networks, confusion patterns shared across models, and a chi-squared
test of whether models spread their errors over the classes alike.

For one model, with n_i the images of true class i, e_i those misclassified and n_{j|i}
those predicted as j:

- ``u_i = e_i / n_i``, the class-wise misclassification rate (NaN when class i has no images);
- ``v_{j|i} = n_{j|i} / e_i`` for j != i, the conditional misclassification rate; each row sums
  to 1 over j != i, and a class without errors has an all-zero row (never NaN); v_{i|i} = 0;
- the misclassification network: an edge i -> j wherever ``v_{j|i} >= threshold`` (and
  ``n_{j|i} > 0``), weight v_{j|i}; the weighted in-degree ``d_i`` sums v_{i|j} over the
  edges j -> i.

Images with an unknown label (-1) are left out; so are labelled images for which a model
stored no prediction (top-1 = -1), counted in ``unpredicted``.

>>> import numpy as np
>>> labels = np.array([0, 0, 0, 1, 1, 2])
>>> top1 = np.array([[0], [1], [2], [0], [1], [2]])
>>> res = analyze_confusion(labels, top1, ("m",), 3, threshold=0.5)
>>> mc = res.models["m"]
>>> mc.u.tolist(), mc.v[0].tolist(), mc.in_degree.tolist()
([0.6666666666666666, 0.5, 0.0], [0.0, 0.5, 0.5], [1.0, 0.5, 0.5])
>>> mc.edges[["source", "target", "weight"]].values.tolist()
[[0.0, 1.0, 0.5], [0.0, 2.0, 0.5], [1.0, 0.0, 1.0]]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from misclass.analysis.stats import ChiSquared, chi2_homogeneity
from misclass.errors import InputError

DEFAULT_THRESHOLD = 0.3


# --------------------------------------------------------------------------- one model
def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts ``(C, C)``: row = true class, column = predicted class.

    Samples with label -1 or prediction -1 are not counted.

    >>> confusion_matrix(np.array([0, 1, 1, -1]), np.array([1, 1, 0, 0]), 2).tolist()
    [[0, 1], [1, 1]]
    """
    labels = np.asarray(labels, dtype=np.int64)
    predictions = np.asarray(predictions, dtype=np.int64)
    if labels.shape != predictions.shape or labels.ndim != 1:
        raise InputError(f"confusion matrix: labels {labels.shape} and predictions "
                         f"{predictions.shape} must be 1-d and of equal length")
    keep = (labels >= 0) & (predictions >= 0)
    if (labels >= n_classes).any() or (predictions >= n_classes).any():
        raise InputError(f"confusion matrix: a class id is >= the number of classes {n_classes}")
    codes = labels[keep] * n_classes + predictions[keep]
    return np.bincount(codes, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def class_error_rate(counts: np.ndarray) -> np.ndarray:
    """``u_i = e_i / n_i`` from a confusion matrix; NaN for a class without images.

    >>> class_error_rate(np.array([[3, 1], [0, 0]])).tolist()
    [0.25, nan]
    """
    counts = np.asarray(counts)
    n = counts.sum(axis=1)
    errors = n - np.diag(counts)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, errors / np.maximum(n, 1), np.nan)


def conditional_confusion(counts: np.ndarray) -> np.ndarray:
    """``v_{j|i} = n_{j|i} / e_i`` for j != i, 0 on the diagonal and in rows without errors.

    >>> conditional_confusion(np.array([[5, 1, 3], [0, 2, 0], [2, 2, 0]])).tolist()
    [[0.0, 0.25, 0.75], [0.0, 0.0, 0.0], [0.5, 0.5, 0.0]]
    """
    off = np.array(counts, dtype=np.float64)
    np.fill_diagonal(off, 0)
    errors = off.sum(axis=1, keepdims=True)
    return np.divide(off, errors, out=np.zeros_like(off), where=errors > 0)


def network_edges(v: np.ndarray, threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
    """Adjacency ``(C, C)`` bool of the misclassification network: ``v_{j|i} >= threshold``
    and ``v_{j|i} > 0`` (so a threshold of 0 links only pairs that are actually confused).
    """
    if not 0 <= threshold <= 1:
        raise InputError(f"threshold {threshold}: expected a value in [0, 1]")
    return (v >= threshold) & (v > 0)


def weighted_in_degree(v: np.ndarray, adjacency: np.ndarray) -> np.ndarray:
    """``d_i = sum over edges j -> i of v_{i|j}`` (column sums of the kept weights)."""
    return np.where(adjacency, v, 0.0).sum(axis=0)


@dataclass(frozen=True)
class ModelConfusion:
    """Confusion of one model over C classes. Arrays are indexed by class id.

    Attributes
    ----------
    counts : (C, C) int64, rows true class, columns predicted class
    n, errors : (C,) int64, images and misclassified images per true class
    u : (C,) float, class-wise misclassification rate (NaN for a class without images)
    v : (C, C) float, conditional misclassification rate (zero rows for classes without errors)
    adjacency : (C, C) bool, network edges i -> j
    in_degree : (C,) float, weighted in-degree d_i
    threshold : float
    unpredicted : int, labelled images without a prediction, left out
    """

    model: str
    counts: np.ndarray
    n: np.ndarray
    errors: np.ndarray
    u: np.ndarray
    v: np.ndarray
    adjacency: np.ndarray
    in_degree: np.ndarray
    threshold: float
    unpredicted: int

    @property
    def n_classes(self) -> int:
        return int(self.counts.shape[0])

    @property
    def accuracy(self) -> float:
        total = int(self.n.sum())
        return float(np.trace(self.counts) / total) if total else float("nan")

    @property
    def edges(self) -> pd.DataFrame:
        """One row per edge: ``source``, ``target``, ``weight`` (v), ``count`` (n_{j|i}),
        sorted by source then target."""
        src, dst = np.nonzero(self.adjacency)
        return pd.DataFrame({"source": src, "target": dst, "weight": self.v[src, dst],
                             "count": self.counts[src, dst]})

    def to_dict(self, class_names: Sequence[str] | None = None, *, include_v: bool = True) -> dict:
        """JSON-ready, no NaN: ``v`` as C lists of C floats (left out with ``include_v=False``,
        for writers that encode the dense matrix themselves); ``counts`` as the non-zero cells,
        each ``[true, predicted, count]``; ``u`` with None for classes without images."""
        e = self.edges
        edges = [{"source": int(s), "target": int(t), "weight": float(w), "count": int(c)}
                 for s, t, w, c in zip(e["source"], e["target"], e["weight"], e["count"], strict=True)]
        if class_names is not None:
            for d in edges:
                d["source_name"], d["target_name"] = class_names[d["source"]], class_names[d["target"]]
        acc = self.accuracy
        return {
            "accuracy": None if np.isnan(acc) else acc,
            "unpredicted": self.unpredicted,
            "threshold": self.threshold,
            "n": self.n.tolist(),
            "errors": self.errors.tolist(),
            "u": [None if np.isnan(x) else x for x in self.u.tolist()],
            **({"v": self.v.tolist()} if include_v else {}),
            "counts": np.column_stack([*np.nonzero(self.counts), self.counts[self.counts > 0]]).tolist(),
            "in_degree": self.in_degree.tolist(),
            "edges": edges,
        }


def model_confusion(model: str, labels: np.ndarray, predictions: np.ndarray, n_classes: int, *,
                    threshold: float = DEFAULT_THRESHOLD) -> ModelConfusion:
    """Every per-model quantity of one model's top-1 ``predictions (N,)``."""
    counts = confusion_matrix(labels, predictions, n_classes)
    n = counts.sum(axis=1)
    v = conditional_confusion(counts)
    adjacency = network_edges(v, threshold)
    unpredicted = int(((np.asarray(labels) >= 0) & (np.asarray(predictions) < 0)).sum())
    return ModelConfusion(model, counts, n, n - np.diag(counts), class_error_rate(counts), v, adjacency,
                          weighted_in_degree(v, adjacency), float(threshold), unpredicted)


def _names(class_names: Sequence[str] | None, ids: np.ndarray) -> list[str]:
    return [str(i) if class_names is None else class_names[i] for i in ids]


def top_confusions(mc: ModelConfusion, k: int = 10, *, by: str = "count",
                   class_names: Sequence[str] | None = None) -> pd.DataFrame:
    """The ``k`` largest off-diagonal cells, ``by`` "count" (n_{j|i}) or "v" (v_{j|i}); ties
    go to the other measure, then to lower class ids. Columns: ``true``, ``predicted``, their
    names, ``count``, ``v``, ``edge`` (whether it is a network edge).
    """
    if by not in ("count", "v"):
        raise InputError(f"top confusions by {by!r}: expected 'count' or 'v'")
    off = mc.counts.copy()
    np.fill_diagonal(off, 0)
    src, dst = np.nonzero(off)
    cnt, v = off[src, dst], mc.v[src, dst]
    keys = (dst, src, -v, -cnt) if by == "count" else (dst, src, -cnt, -v)
    order = np.lexsort(keys)[:k]
    src, dst = src[order], dst[order]
    return pd.DataFrame({"true": src, "predicted": dst, "true_name": _names(class_names, src),
                         "predicted_name": _names(class_names, dst), "count": cnt[order],
                         "v": v[order], "edge": mc.adjacency[src, dst]})


def worst_classes(mc: ModelConfusion, k: int = 10, *,
                  class_names: Sequence[str] | None = None) -> pd.DataFrame:
    """The ``k`` classes with the highest u (ties: more errors first), with where their errors
    go most often (``top_target``, its name and v)."""
    has = mc.n > 0
    ids = np.flatnonzero(has)
    order = ids[np.lexsort((ids, -mc.errors[ids], -mc.u[ids]))][:k]
    target = mc.v[order].argmax(axis=1)
    has_err = mc.errors[order] > 0
    return pd.DataFrame({
        "class": order, "name": _names(class_names, order), "n": mc.n[order],
        "errors": mc.errors[order], "u": mc.u[order],
        "top_target": np.where(has_err, target, -1),
        "top_target_name": [nm if e else "" for nm, e in zip(_names(class_names, target), has_err,
                                                              strict=True)],
        "top_v": np.where(has_err, mc.v[order, target], 0.0),
    })


def misclassification_network(mc: ModelConfusion, class_names: Sequence[str] | None = None):
    """The network as a ``networkx.DiGraph``: one node per class (attributes ``name``, ``n``,
    ``errors``, ``u`` (-1 for a class without images, as GraphML has no NaN-free float),
    ``in_degree``) and one edge per network edge (``weight`` = v, ``count``)."""
    import networkx as nx

    g = nx.DiGraph(model=mc.model, threshold=mc.threshold)
    names = _names(class_names, np.arange(mc.n_classes))
    u = np.where(np.isnan(mc.u), -1.0, mc.u)
    g.add_nodes_from(
        (i, {"name": names[i], "n": int(mc.n[i]), "errors": int(mc.errors[i]), "u": float(u[i]),
             "in_degree": float(mc.in_degree[i])}) for i in range(mc.n_classes))
    e = mc.edges
    g.add_edges_from((int(s), int(t), {"weight": float(w), "count": int(c)})
                     for s, t, w, c in zip(e["source"], e["target"], e["weight"], e["count"], strict=True))
    return g


# --------------------------------------------------------------------------- across models
PATTERN_CELLS = ("none", "a->b", "b->a", "symmetric")


def find_patterns(adjacency: np.ndarray, models: Sequence[str], *, counts: np.ndarray | None = None,
                  class_names: Sequence[str] | None = None) -> pd.DataFrame:
    """Classify every pair of classes linked in at least one model's network.

    Parameters
    ----------
    adjacency : (M, C, C) bool, each model's network
    models : M model names (the per-model columns)
    counts : (M, C, C) int, optional, to rank pairs by the errors between them

    Returns
    -------
    DataFrame, one row per pair a < b: ``a``, ``b``, names, one column per model holding
    "symmetric" (a -> b and b -> a), "a->b", "b->a" or "none"; ``n_models`` (models linking
    the pair), ``scope`` ("universal" when every model links it, else "model-specific"),
    ``kind`` ("symmetric" / "one-way" when every linking model has it symmetric / one-way in
    the same direction, else "mixed"), ``pattern`` (scope and kind) and ``errors`` (images of
    a predicted as b or b as a, over all models). Sorted by ``n_models``, then ``errors``.
    """
    adj = np.asarray(adjacency, dtype=bool)
    if adj.ndim != 3 or adj.shape[1] != adj.shape[2] or adj.shape[0] != len(models):
        raise InputError(f"patterns: adjacency of shape {adj.shape} for {len(models)} models; "
                         "expected (M, C, C)")
    linked = np.triu((adj | adj.transpose(0, 2, 1)).any(axis=0), k=1)
    a, b = np.nonzero(linked)
    fwd, bwd = adj[:, a, b], adj[:, b, a]  # (M, P)
    code = fwd.astype(np.int8) + 2 * bwd.astype(np.int8)  # 0 none, 1 a->b, 2 b->a, 3 both
    is_linked = code > 0
    n_models = is_linked.sum(axis=0)
    all_sym = ((code == 3) | ~is_linked).all(axis=0)
    all_ab = ((code == 1) | ~is_linked).all(axis=0)
    all_ba = ((code == 2) | ~is_linked).all(axis=0)
    kind = np.where(all_sym, "symmetric", np.where(all_ab | all_ba, "one-way", "mixed"))
    scope = np.where(n_models == len(models), "universal", "model-specific")
    errors = (np.zeros(len(a), dtype=np.int64) if counts is None
              else (np.asarray(counts)[:, a, b] + np.asarray(counts)[:, b, a]).sum(axis=0))
    cells = np.array(PATTERN_CELLS)
    df = pd.DataFrame({"a": a, "b": b, "a_name": _names(class_names, a), "b_name": _names(class_names, b)})
    for m, name in enumerate(models):
        df[name] = cells[code[m]]
    df["n_models"] = n_models
    df["scope"] = scope
    df["kind"] = kind
    df["pattern"] = [f"{s} {k}" for s, k in zip(scope, kind, strict=True)]
    df["errors"] = errors
    order = np.lexsort((b, a, -errors, -n_models))
    return df.iloc[order].reset_index(drop=True)


@dataclass(frozen=True)
class Homogeneity:
    """Chi-squared test of homogeneity of the class-wise error counts across models.

    The table is models x classes of e_i. Classes without errors in any model (and models
    without any error) have zero totals and are dropped before the test; they are listed in
    ``dropped_classes`` / ``dropped_models``. ``test`` is None, with ``undefined`` saying why,
    when fewer than two models or two classes remain.
    """

    test: ChiSquared | None
    table: np.ndarray
    kept_classes: np.ndarray
    dropped_classes: np.ndarray
    dropped_models: tuple[str, ...]
    undefined: str = ""

    @property
    def share_expected_below_5(self) -> float | None:
        """Share of cells with an expected count below 5; when large (Cochran: above 20%) the
        chi-squared approximation of the p-value is rough."""
        return None if self.test is None else float((self.test.expected < 5).mean())

    def to_dict(self) -> dict:
        out = {"chi2": None, "dof": None, "p": None} if self.test is None else self.test.to_dict()
        return out | {"classes_tested": int(len(self.kept_classes)),
                      "share_expected_below_5": self.share_expected_below_5,
                      "dropped_classes": self.dropped_classes.tolist(),
                      "dropped_models": list(self.dropped_models),
                      "undefined": self.undefined or None}


def error_homogeneity(errors: np.ndarray, models: Sequence[str]) -> Homogeneity:
    """Test whether the models' errors ``(M, C)`` (e_i per model and class) share one
    distribution over the classes (see :class:`Homogeneity`)."""
    table = np.asarray(errors, dtype=np.int64)
    keep_cols = table.sum(axis=0) > 0
    keep_rows = table.sum(axis=1) > 0
    kept = np.flatnonzero(keep_cols)
    dropped_models = tuple(m for m, k in zip(models, keep_rows, strict=True) if not k)
    sub = table[keep_rows][:, keep_cols]
    reason = ""
    if len(models) < 2:
        reason = "needs at least two models"
    elif sub.shape[0] < 2:
        reason = "fewer than two models make any error"
    elif sub.shape[1] < 2:
        reason = "fewer than two classes have any error"
    test = None if reason else chi2_homogeneity(sub)
    return Homogeneity(test, sub, kept, np.flatnonzero(~keep_cols), dropped_models, reason)


def most_confused_classes(counts: np.ndarray, n: int) -> np.ndarray:
    """Up to ``n`` classes for a readable heatmap: the pairs with the most confusions (both
    directions, summed over models) are taken in turn and their classes added, so confused
    classes sit next to each other. ``counts`` is ``(C, C)`` or ``(M, C, C)``.

    >>> c = np.array([[9, 0, 5, 0], [1, 9, 0, 0], [2, 0, 9, 0], [0, 3, 0, 9]])
    >>> most_confused_classes(c, 3).tolist()
    [0, 2, 1]
    """
    total = np.asarray(counts)
    total = total.sum(axis=0) if total.ndim == 3 else total
    sym = (total + total.T).astype(np.int64)
    np.fill_diagonal(sym, 0)
    c = sym.shape[0]
    if n >= c:
        a, b = np.triu_indices(c, k=1)
    else:
        # only the strongest pairs can matter: n classes need at most n pairs beyond ties
        flat = np.triu(sym, k=1).ravel()
        cand = np.flatnonzero(flat)
        if len(cand) > 50 * n:
            cand = cand[np.argpartition(-flat[cand], 50 * n)[: 50 * n]]
        a, b = np.unravel_index(cand, sym.shape)
    w = sym[a, b]
    order = np.lexsort((b, a, -w))
    chosen: list[int] = []
    seen = np.zeros(c, dtype=bool)
    for i, j in zip(a[order], b[order], strict=True):
        if len(chosen) >= n or sym[i, j] == 0:
            break
        for x in (int(i), int(j)):
            if not seen[x] and len(chosen) < n:
                seen[x] = True
                chosen.append(x)
    if len(chosen) < n:  # fill with the classes with the most errors overall
        off = total.sum(axis=1) - np.diag(total)
        rest = [int(x) for x in np.lexsort((np.arange(c), -off)) if not seen[x]]
        chosen.extend(rest[: n - len(chosen)])
    return np.array(chosen, dtype=np.int64)


@dataclass(frozen=True)
class ConfusionAnalysis:
    """Per-model confusion of M models, their shared patterns and the homogeneity test."""

    models: dict[str, ModelConfusion]
    patterns: pd.DataFrame
    homogeneity: Homogeneity
    threshold: float
    class_names: tuple[str, ...] | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.models)

    def u_table(self) -> pd.DataFrame:
        """One row per class: ``class``, ``name``, ``n`` (images, from the first model), then
        u for each model and their mean."""
        c = next(iter(self.models.values())).n_classes
        ids = np.arange(c)
        df = pd.DataFrame({"class": ids, "name": _names(self.class_names, ids),
                           "n": next(iter(self.models.values())).n})
        for name, mc in self.models.items():
            df[name] = mc.u
        df["mean u"] = df[list(self.models)].mean(axis=1)
        return df

    def top_pairs(self, k: int = 20) -> pd.DataFrame:
        """The ``k`` (true, predicted) pairs with the most misclassified images over all
        models: ``true``, ``predicted``, names, ``total``, then each model's count n_{j|i}."""
        counts = np.stack([mc.counts for mc in self.models.values()])
        total = counts.sum(axis=0)
        np.fill_diagonal(total, 0)
        src, dst = np.nonzero(total)
        order = np.lexsort((dst, src, -total[src, dst]))[:k]
        src, dst = src[order], dst[order]
        df = pd.DataFrame({"true": src, "predicted": dst, "true_name": _names(self.class_names, src),
                           "predicted_name": _names(self.class_names, dst), "total": total[src, dst]})
        for m, name in enumerate(self.models):
            df[name] = counts[m, src, dst]
        return df

    def to_dict(self, *, include_v: bool = True) -> dict:
        names = None if self.class_names is None else list(self.class_names)
        pats = self.patterns
        per_model = list(self.models)
        patterns = [
            {"a": int(r["a"]), "b": int(r["b"]), "a_name": r["a_name"], "b_name": r["b_name"],
             "per_model": {m: r[m] for m in per_model}, "n_models": int(r["n_models"]),
             "scope": r["scope"], "kind": r["kind"], "pattern": r["pattern"], "errors": int(r["errors"])}
            for r in pats.to_dict("records")
        ]
        return {
            "threshold": self.threshold,
            "classes": names,
            "models": {m: mc.to_dict(names, include_v=include_v) for m, mc in self.models.items()},
            "patterns": patterns,
            "homogeneity": self.homogeneity.to_dict(),
        }


def analyze_confusion(labels: np.ndarray, top1: np.ndarray, models: Sequence[str], n_classes: int, *,
                      threshold: float = DEFAULT_THRESHOLD,
                      class_names: Sequence[str] | None = None) -> ConfusionAnalysis:
    """Everything above for M models' top-1 predictions.

    Parameters
    ----------
    labels : (N,) int, -1 unknown
    top1 : (N, M) int, -1 for no prediction
    models : M names, in column order
    n_classes : C
    threshold : network edge threshold on v
    class_names : C names, optional, for the tables
    """
    top1 = np.asarray(top1)
    if top1.ndim != 2 or top1.shape[1] != len(models):
        raise InputError(f"top1 has shape {top1.shape}; expected (N, {len(models)}) for models "
                         f"{list(models)}")
    if not models:
        raise InputError("confusion analysis needs at least one model")
    if class_names is not None and len(class_names) != n_classes:
        raise InputError(f"{len(class_names)} class names for {n_classes} classes")
    per = {m: model_confusion(m, labels, top1[:, j], n_classes, threshold=threshold)
           for j, m in enumerate(models)}
    adj = np.stack([mc.adjacency for mc in per.values()])
    counts = np.stack([mc.counts for mc in per.values()])
    patterns = find_patterns(adj, list(models), counts=counts, class_names=class_names)
    homogeneity = error_homogeneity(np.stack([mc.errors for mc in per.values()]), list(models))
    return ConfusionAnalysis(per, patterns, homogeneity, float(threshold),
                             None if class_names is None else tuple(class_names))
