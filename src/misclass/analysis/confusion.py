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

from misclass.analysis.budget import check_budget, dense_bytes
from misclass.analysis.confusion_options import DEFAULT_THRESHOLD
from misclass.analysis.stats import ChiSquared, chi2_homogeneity
from misclass.errors import InputError

# --------------------------------------------------------------------------- one model
#: how the dense-matrix budget error tells an API user to do without the dense matrix
DENSE_HINT = ("restrict the classes: ModelConfusion.v_block(classes, classes) with "
              "ConfusionAnalysis.most_confused(n), as the heatmaps of misclass report --top-classes N "
              "do, or use the non-zero cells (cell_true, cell_pred, cell_count, cell_v)")


def _check_codes(labels: np.ndarray, predictions: np.ndarray, n_classes: int) -> np.ndarray:
    """The codes ``true * C + predicted`` of the samples with a known label and prediction."""
    labels = np.asarray(labels, dtype=np.int64)
    predictions = np.asarray(predictions, dtype=np.int64)
    if labels.shape != predictions.shape or labels.ndim != 1:
        raise InputError(f"confusion matrix: labels {labels.shape} and predictions "
                         f"{predictions.shape} must be 1-d and of equal length")
    keep = (labels >= 0) & (predictions >= 0)
    if (labels >= n_classes).any() or (predictions >= n_classes).any():
        raise InputError(f"confusion matrix: a class id is >= the number of classes {n_classes}")
    return labels[keep] * n_classes + predictions[keep]


def confusion_cells(labels: np.ndarray, predictions: np.ndarray,
                    n_classes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The non-zero cells of the confusion matrix, without the dense ``(C, C)`` matrix:
    ``(true, predicted, count)``, sorted by true then predicted class.

    Samples with label -1 or prediction -1 are not counted.

    >>> [x.tolist() for x in confusion_cells(np.array([0, 1, 1, -1]), np.array([1, 1, 0, 0]), 2)]
    [[0, 1, 1], [1, 0, 1], [1, 1, 1]]
    """
    codes, count = np.unique(_check_codes(labels, predictions, n_classes), return_counts=True)
    true, pred = np.divmod(codes, n_classes)
    return true, pred, count.astype(np.int64)


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts ``(C, C)``: row = true class, column = predicted class (the dense form of
    :func:`confusion_cells`; over the memory budget, :class:`~misclass.errors.MemoryBudgetError`).

    Samples with label -1 or prediction -1 are not counted.

    >>> confusion_matrix(np.array([0, 1, 1, -1]), np.array([1, 1, 0, 0]), 2).tolist()
    [[0, 1], [1, 1]]
    """
    codes = _check_codes(labels, predictions, n_classes)
    check_budget("confusion matrix", n_classes, dense_bytes(n_classes), hint=DENSE_HINT)
    return np.bincount(codes, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def _error_rate(errors: np.ndarray, n: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, errors / np.maximum(n, 1), np.nan)


def class_error_rate(counts: np.ndarray) -> np.ndarray:
    """``u_i = e_i / n_i`` from a dense confusion matrix; NaN for a class without images.

    >>> class_error_rate(np.array([[3, 1], [0, 0]])).tolist()
    [0.25, nan]
    """
    counts = np.asarray(counts)
    n = counts.sum(axis=1)
    return _error_rate(n - np.diag(counts), n)


def conditional_confusion(counts: np.ndarray) -> np.ndarray:
    """``v_{j|i} = n_{j|i} / e_i`` for j != i, 0 on the diagonal and in rows without errors,
    from a dense confusion matrix (:func:`model_confusion` computes it from the non-zero cells).

    >>> conditional_confusion(np.array([[5, 1, 3], [0, 2, 0], [2, 2, 0]])).tolist()
    [[0.0, 0.25, 0.75], [0.0, 0.0, 0.0], [0.5, 0.5, 0.0]]
    """
    off = np.array(counts, dtype=np.float64)
    np.fill_diagonal(off, 0)
    errors = off.sum(axis=1, keepdims=True)
    return np.divide(off, errors, out=np.zeros_like(off), where=errors > 0)


def _check_threshold(threshold: float) -> None:
    if not 0 <= threshold <= 1:
        raise InputError(f"threshold {threshold}: expected a value in [0, 1]")


def network_edges(v: np.ndarray, threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
    """Adjacency ``(C, C)`` bool of the misclassification network: ``v_{j|i} >= threshold``
    and ``v_{j|i} > 0`` (so a threshold of 0 links only pairs that are actually confused).
    """
    _check_threshold(threshold)
    return (v >= threshold) & (v > 0)


def weighted_in_degree(v: np.ndarray, adjacency: np.ndarray) -> np.ndarray:
    """``d_i = sum over edges j -> i of v_{i|j}`` (column sums of the kept weights)."""
    return np.where(adjacency, v, 0.0).sum(axis=0)


def _lookup(keys: np.ndarray, values: np.ndarray, want: np.ndarray, fill=0) -> np.ndarray:
    """``values`` at ``want`` in the sorted ``keys``; ``fill`` where a key is absent."""
    want = np.asarray(want, dtype=np.int64)
    pos = np.minimum(np.searchsorted(keys, want), max(len(keys) - 1, 0))
    found = keys[pos] == want if len(keys) else np.zeros(want.shape, dtype=bool)
    out = np.full(want.shape, fill, dtype=values.dtype)
    out[found] = values[pos[found]]
    return out


@dataclass(frozen=True)
class ModelConfusion:
    """Confusion of one model over C classes, kept as the non-zero cells of its confusion
    matrix (at most one per image), so that 20,000 or a million classes need no C x C array.
    Per-class arrays are indexed by class id.

    Attributes
    ----------
    n_classes : C
    cell_true, cell_pred, cell_count : (K,) int64, the non-zero cells n_{j|i} of the confusion
        matrix (diagonal included), sorted by true class i, then predicted class j
    cell_v : (K,) float, v_{j|i} of each cell (0 on the diagonal)
    is_edge : (K,) bool, whether the cell is a network edge i -> j
    n, errors : (C,) int64, images and misclassified images per true class
    u : (C,) float, class-wise misclassification rate (NaN for a class without images)
    in_degree : (C,) float, weighted in-degree d_i
    threshold : float
    unpredicted : int, labelled images without a prediction, left out

    ``counts``, ``v`` and ``adjacency`` are the dense (C, C) matrices, built on request when they
    fit the memory budget (:mod:`misclass.analysis.budget`); ``v_block`` gives rows and columns
    of chosen classes of v without them.
    """

    model: str
    n_classes: int
    cell_true: np.ndarray
    cell_pred: np.ndarray
    cell_count: np.ndarray
    cell_v: np.ndarray
    is_edge: np.ndarray
    n: np.ndarray
    errors: np.ndarray
    u: np.ndarray
    in_degree: np.ndarray
    threshold: float
    unpredicted: int

    @property
    def accuracy(self) -> float:
        total = int(self.n.sum())
        right = int(self.cell_count[self.cell_true == self.cell_pred].sum())
        return right / total if total else float("nan")

    @property
    def n_edges(self) -> int:
        return int(np.count_nonzero(self.is_edge))

    @property
    def symmetric_pairs(self) -> int:
        """Pairs of classes linked both ways (i -> j and j -> i are edges)."""
        c = self.n_classes
        src, dst = self.cell_true[self.is_edge], self.cell_pred[self.is_edge]
        return int(np.count_nonzero((src < dst) & np.isin(dst * c + src, src * c + dst)))

    def _dense(self, what: str, values: np.ndarray, dtype, mask: np.ndarray | None = None) -> np.ndarray:
        c = self.n_classes
        check_budget(f"{self.model}: {what}", c, dense_bytes(c, itemsize=np.dtype(dtype).itemsize),
                    hint=DENSE_HINT)
        out = np.zeros((c, c), dtype=dtype)
        keep = slice(None) if mask is None else mask
        out[self.cell_true[keep], self.cell_pred[keep]] = values
        return out

    @property
    def counts(self) -> np.ndarray:
        """The dense confusion matrix ``(C, C)`` int64, rows true class, columns predicted."""
        return self._dense("confusion counts", self.cell_count, np.int64)

    @property
    def v(self) -> np.ndarray:
        """The dense conditional misclassification rate ``(C, C)`` (zero rows for classes
        without errors)."""
        return self._dense("conditional confusion v", self.cell_v, np.float64)

    @property
    def adjacency(self) -> np.ndarray:
        """The dense network ``(C, C)`` bool, edges i -> j."""
        return self._dense("network adjacency", True, np.bool_, self.is_edge)

    def _codes(self) -> np.ndarray:
        return self.cell_true * self.n_classes + self.cell_pred

    def count_at(self, true: np.ndarray, pred: np.ndarray) -> np.ndarray:
        """n_{j|i} at the cells ``(true[k], pred[k])`` (0 where no image)."""
        want = np.asarray(true, dtype=np.int64) * self.n_classes + np.asarray(pred, dtype=np.int64)
        return _lookup(self._codes(), self.cell_count, want)

    def v_block(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """``v[np.ix_(rows, cols)]`` from the cells, without the dense v."""
        rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
        return _lookup(self._codes(), self.cell_v, rows[:, None] * self.n_classes + cols[None, :], 0.0)

    def v_cells(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The non-zero entries of v: ``(true, predicted, v)``, sorted by true then predicted."""
        off = self.cell_true != self.cell_pred
        return self.cell_true[off], self.cell_pred[off], self.cell_v[off]

    def top_targets(self, classes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each of ``classes``, where its errors go most often (ties: the lower class id)
        and that v; ``(-1, 0.0)`` for a class without errors."""
        true, pred, v = self.v_cells()
        order = np.lexsort((pred, -v, true))
        true, pred, v = true[order], pred[order], v[order]
        first = np.r_[True, true[1:] != true[:-1]] if len(true) else np.zeros(0, dtype=bool)
        classes = np.asarray(classes, dtype=np.int64)
        return _lookup(true[first], pred[first], classes, -1), _lookup(true[first], v[first], classes, 0.0)

    @property
    def edges(self) -> pd.DataFrame:
        """One row per edge: ``source``, ``target``, ``weight`` (v), ``count`` (n_{j|i}),
        sorted by source then target."""
        e = self.is_edge
        return pd.DataFrame({"source": self.cell_true[e], "target": self.cell_pred[e],
                             "weight": self.cell_v[e], "count": self.cell_count[e]})

    def to_dict(self, class_names: Sequence[str] | None = None, *, include_v: bool = True) -> dict:
        """JSON-ready, no NaN: ``v`` as C lists of C floats (left out with ``include_v=False``,
        for writers that encode the dense matrix themselves; over the memory budget,
        :class:`~misclass.errors.MemoryBudgetError`); ``counts`` as the non-zero cells, each
        ``[true, predicted, count]``; ``u`` with None for classes without images."""
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
            "u": _none_for_nan(self.u),
            **({"v": self.v.tolist()} if include_v else {}),
            "counts": np.column_stack([self.cell_true, self.cell_pred, self.cell_count]).tolist(),
            "in_degree": self.in_degree.tolist(),
            "edges": edges,
        }


def model_confusion(model: str, labels: np.ndarray, predictions: np.ndarray, n_classes: int, *,
                    threshold: float = DEFAULT_THRESHOLD) -> ModelConfusion:
    """Every per-model quantity of one model's top-1 ``predictions (N,)``, from the non-zero
    cells of its confusion matrix (memory in the images, not in C x C)."""
    _check_threshold(threshold)
    true, pred, count = confusion_cells(labels, predictions, n_classes)
    diag = true == pred
    n = np.bincount(true, weights=count, minlength=n_classes).astype(np.int64)
    errors = n - np.bincount(true[diag], weights=count[diag], minlength=n_classes).astype(np.int64)
    v = np.where(diag, 0.0, count / np.maximum(errors[true], 1))
    is_edge = (v >= threshold) & (v > 0)
    in_degree = np.bincount(pred[is_edge], weights=v[is_edge], minlength=n_classes)
    unpredicted = int(((np.asarray(labels) >= 0) & (np.asarray(predictions) < 0)).sum())
    return ModelConfusion(model, int(n_classes), true, pred, count, v, is_edge, n, errors,
                          _error_rate(errors, n), in_degree, float(threshold), unpredicted)


def _none_for_nan(x: np.ndarray) -> list:
    """``x.tolist()`` with None for NaN (JSON has no NaN)."""
    out = x.astype(object)
    out[np.isnan(x)] = None
    return out.tolist()


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
    off = mc.cell_true != mc.cell_pred
    src, dst, cnt, v = mc.cell_true[off], mc.cell_pred[off], mc.cell_count[off], mc.cell_v[off]
    keys = (dst, src, -v, -cnt) if by == "count" else (dst, src, -cnt, -v)
    order = np.lexsort(keys)[:k]
    return pd.DataFrame({"true": src[order], "predicted": dst[order],
                         "true_name": _names(class_names, src[order]),
                         "predicted_name": _names(class_names, dst[order]), "count": cnt[order],
                         "v": v[order], "edge": mc.is_edge[off][order]})


def worst_classes(mc: ModelConfusion, k: int = 10, *,
                  class_names: Sequence[str] | None = None) -> pd.DataFrame:
    """The ``k`` classes with the highest u (ties: more errors first), with where their errors
    go most often (``top_target``, its name and v)."""
    has = mc.n > 0
    ids = np.flatnonzero(has)
    order = ids[np.lexsort((ids, -mc.errors[ids], -mc.u[ids]))][:k]
    target, top_v = mc.top_targets(order)
    has_err = target >= 0
    return pd.DataFrame({
        "class": order, "name": _names(class_names, order), "n": mc.n[order],
        "errors": mc.errors[order], "u": mc.u[order],
        "top_target": target,
        "top_target_name": [nm if e else "" for nm, e in zip(_names(class_names, target), has_err,
                                                              strict=True)],
        "top_v": top_v,
    })


#: what one node or edge of a network takes while networkx writes it as GraphML (measured:
#: about 3.7 KiB a node at 100,000 nodes)
GRAPH_ITEM_BYTES = 4096


def network_bytes(mc: ModelConfusion, classes: np.ndarray | None = None) -> int:
    """About the memory :func:`misclassification_network` and its GraphML writer need."""
    if classes is None:
        return GRAPH_ITEM_BYTES * (mc.n_classes + mc.n_edges)
    inside = np.isin(mc.cell_true, classes) & np.isin(mc.cell_pred, classes) & mc.is_edge
    return GRAPH_ITEM_BYTES * (len(classes) + int(np.count_nonzero(inside)))


def misclassification_network(mc: ModelConfusion, class_names: Sequence[str] | None = None,
                              classes: Sequence[int] | None = None):
    """The network as a ``networkx.DiGraph``: one node per class (attributes ``name``, ``n``,
    ``errors``, ``u`` (-1 for a class without images, as GraphML has no NaN-free float),
    ``in_degree``) and one edge per network edge (``weight`` = v, ``count``). ``classes``:
    only these nodes and the edges between them (``in_degree`` still sums over all edges)."""
    import networkx as nx

    ids = np.arange(mc.n_classes) if classes is None else np.unique(np.asarray(classes, dtype=np.int64))
    g = nx.DiGraph(model=mc.model, threshold=mc.threshold)
    names = _names(class_names, ids)
    u = np.where(np.isnan(mc.u[ids]), -1.0, mc.u[ids])
    g.add_nodes_from(
        (int(i), {"name": name, "n": int(mc.n[i]), "errors": int(mc.errors[i]), "u": float(x),
                  "in_degree": float(mc.in_degree[i])}) for i, name, x in zip(ids, names, u, strict=True))
    e = mc.edges
    if classes is not None:
        e = e[np.isin(e["source"], ids) & np.isin(e["target"], ids)]
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
    a predicted as b or b as a, over all models). Sorted by ``n_models``, then ``errors``. A
    model named like one of these columns (:data:`PATTERN_COLUMNS`) has no column of its own:
    :func:`analyze_confusion` keeps every model's cells in ``pattern_cells``.
    """
    adj = np.asarray(adjacency, dtype=bool)
    if adj.ndim != 3 or adj.shape[1] != adj.shape[2] or adj.shape[0] != len(models):
        raise InputError(f"patterns: adjacency of shape {adj.shape} for {len(models)} models; "
                         "expected (M, C, C)")

    def errors_of(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return (np.asarray(counts)[:, a, b] + np.asarray(counts)[:, b, a]).sum(axis=0)

    return _patterns([np.nonzero(x) for x in adj], adj.shape[1], models,
                     None if counts is None else errors_of, class_names)[0]


#: the columns of the pattern table besides one per model; a model of one of these names has
#: its column only in the per-model cells (:attr:`ConfusionAnalysis.pattern_cells`)
PATTERN_COLUMNS = ("a", "b", "a_name", "b_name", "n_models", "scope", "kind", "pattern", "errors")


def _patterns(edges: Sequence[tuple[np.ndarray, np.ndarray]], n_classes: int, models: Sequence[str],
              errors_of, class_names: Sequence[str] | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`find_patterns` from each model's edges ``(sources, targets)``; ``errors_of(a, b)``
    gives the images between the pairs over all models (None: zeros). Also each model's cells
    alone (one column per model, the same rows), whatever the models' names."""
    lows = [np.minimum(src, dst).astype(np.int64) * n_classes + np.maximum(src, dst) for src, dst in edges]
    pairs = np.unique(np.concatenate(lows)) if lows else np.zeros(0, dtype=np.int64)
    a, b = np.divmod(pairs, n_classes)
    # per model and pair: 1 a->b, 2 b->a, 3 both (each directed edge is listed once), 0 none
    code = np.stack([np.bincount(np.searchsorted(pairs, key), weights=np.where(src < dst, 1, 2),
                                 minlength=len(pairs)).astype(np.int8)
                     for key, (src, dst) in zip(lows, edges, strict=True)])
    is_linked = code > 0
    n_models = is_linked.sum(axis=0)
    all_sym = ((code == 3) | ~is_linked).all(axis=0)
    all_ab = ((code == 1) | ~is_linked).all(axis=0)
    all_ba = ((code == 2) | ~is_linked).all(axis=0)
    kind = np.where(all_sym, "symmetric", np.where(all_ab | all_ba, "one-way", "mixed"))
    scope = np.where(n_models == len(models), "universal", "model-specific")
    errors = np.zeros(len(a), dtype=np.int64) if errors_of is None else errors_of(a, b)
    order = np.lexsort((b, a, -errors, -n_models))
    cells = np.array(PATTERN_CELLS)
    per_model = pd.DataFrame({name: cells[code[m][order]] for m, name in enumerate(models)},
                             columns=list(models))
    df = pd.DataFrame({"a": a, "b": b, "a_name": _names(class_names, a), "b_name": _names(class_names, b)})
    df = df.iloc[order].reset_index(drop=True)
    for name in models:
        if name not in PATTERN_COLUMNS:
            df[name] = per_model[name]
    df["n_models"] = n_models[order]
    df["scope"] = scope[order]
    df["kind"] = kind[order]
    df["pattern"] = [f"{s} {k}" for s, k in zip(df["scope"], df["kind"], strict=True)]
    df["errors"] = errors[order]
    return df, per_model


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
    a, b = np.nonzero(np.triu(sym, k=1))
    return _most_confused(a, b, sym[a, b], total.sum(axis=1) - np.diag(total), n)


def _most_confused(a: np.ndarray, b: np.ndarray, w: np.ndarray, errors: np.ndarray, n: int) -> np.ndarray:
    """:func:`most_confused_classes` from the confused pairs ``a < b`` (sorted by a, then b)
    with their images ``w > 0`` both ways, and each class's errors (for the fill)."""
    c = len(errors)
    if n < c and len(w) > 50 * n:
        # only the strongest pairs can matter: n classes need at most n pairs beyond ties
        keep = np.argpartition(-w, 50 * n)[: 50 * n]
        a, b, w = a[keep], b[keep], w[keep]
    order = np.lexsort((b, a, -w))
    chosen: list[int] = []
    seen = np.zeros(c, dtype=bool)
    for i, j in zip(a[order], b[order], strict=True):
        if len(chosen) >= n:
            break
        for x in (int(i), int(j)):
            if not seen[x] and len(chosen) < n:
                seen[x] = True
                chosen.append(x)
    if len(chosen) < n:  # fill with the classes with the most errors overall
        rest = np.lexsort((np.arange(c), -errors))
        chosen.extend(rest[~seen[rest]][: n - len(chosen)].tolist())
    return np.array(chosen, dtype=np.int64)


@dataclass(frozen=True)
class ConfusionAnalysis:
    """Per-model confusion of M models, their shared patterns and the homogeneity test.

    ``patterns`` is the table of :func:`find_patterns`; ``pattern_cells`` holds each model's
    cell of its rows (one column per model, the same rows), also for a model named like a
    column of ``patterns`` (``a``, ``errors``, ...), which has no column there.
    """

    models: dict[str, ModelConfusion]
    patterns: pd.DataFrame
    homogeneity: Homogeneity
    threshold: float
    class_names: tuple[str, ...] | None = None
    pattern_cells: pd.DataFrame | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.models)

    def u_table(self) -> pd.DataFrame:
        """One row per class: ``class``, ``name``, ``n`` (images, from the first model), then
        u for each model and their mean."""
        ids = np.arange(self.n_classes)
        df = pd.DataFrame({"class": ids, "name": _names(self.class_names, ids),
                           "n": next(iter(self.models.values())).n})
        for name, mc in self.models.items():
            df[name] = mc.u
        df["mean u"] = df[list(self.models)].mean(axis=1)
        return df

    @property
    def n_classes(self) -> int:
        return next(iter(self.models.values())).n_classes

    def _off_cells(self) -> tuple[np.ndarray, np.ndarray]:
        """Codes ``true * C + predicted`` of every model's misclassification cells (repeated
        across models) and their counts."""
        c = self.n_classes
        codes, counts = [], []
        for mc in self.models.values():
            off = mc.cell_true != mc.cell_pred
            codes.append(mc.cell_true[off] * c + mc.cell_pred[off])
            counts.append(mc.cell_count[off])
        return np.concatenate(codes), np.concatenate(counts)

    def top_pairs(self, k: int = 20) -> pd.DataFrame:
        """The ``k`` (true, predicted) pairs with the most misclassified images over all
        models: ``true``, ``predicted``, names, ``total``, then each model's count n_{j|i}."""
        codes, counts = self._off_cells()
        keys, where = np.unique(codes, return_inverse=True)
        total = np.bincount(where, weights=counts, minlength=len(keys)).astype(np.int64)
        src, dst = np.divmod(keys, self.n_classes)
        order = np.lexsort((dst, src, -total))[:k]
        src, dst = src[order], dst[order]
        df = pd.DataFrame({"true": src, "predicted": dst, "true_name": _names(self.class_names, src),
                           "predicted_name": _names(self.class_names, dst), "total": total[order]})
        for name, mc in self.models.items():
            df[name] = mc.count_at(src, dst)
        return df

    def most_confused(self, n: int) -> np.ndarray:
        """:func:`most_confused_classes` of the models' summed counts, from their cells."""
        c = self.n_classes
        codes, counts = self._off_cells()
        src, dst = np.divmod(codes, c)
        keys, where = np.unique(np.minimum(src, dst) * c + np.maximum(src, dst), return_inverse=True)
        w = np.bincount(where, weights=counts, minlength=len(keys)).astype(np.int64)
        a, b = np.divmod(keys, c)
        return _most_confused(a, b, w, np.sum([mc.errors for mc in self.models.values()], axis=0), n)

    def to_dict(self, *, include_v: bool = True) -> dict:
        names = None if self.class_names is None else list(self.class_names)
        pats = self.patterns
        cells = pats[list(self.models)] if self.pattern_cells is None else self.pattern_cells
        patterns = [
            {"a": int(r["a"]), "b": int(r["b"]), "a_name": r["a_name"], "b_name": r["b_name"],
             "per_model": per_model, "n_models": int(r["n_models"]),
             "scope": r["scope"], "kind": r["kind"], "pattern": r["pattern"], "errors": int(r["errors"])}
            for r, per_model in zip(pats.to_dict("records"), cells.to_dict("records"), strict=True)
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

    def errors_of(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.sum([mc.count_at(a, b) + mc.count_at(b, a) for mc in per.values()], axis=0)

    edges = [(mc.cell_true[mc.is_edge], mc.cell_pred[mc.is_edge]) for mc in per.values()]
    patterns, cells = _patterns(edges, n_classes, list(models), errors_of, class_names)
    homogeneity = error_homogeneity(np.stack([mc.errors for mc in per.values()]), list(models))
    return ConfusionAnalysis(per, patterns, homogeneity, float(threshold),
                             None if class_names is None else tuple(class_names), cells)
