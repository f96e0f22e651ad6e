"""``misclass confusion``: where each model fails (class-wise errors, conditional confusion,
misclassification networks, shared patterns, homogeneity test, scores of errors).

:func:`confusion` reads the store's labels, class names, top-k predictions and probabilities,
runs :func:`misclass.analysis.confusion.analyze_confusion` over every chosen model (each
model's confusion kept as its non-zero cells, so a million classes need no C x C array) and
:func:`misclass.analysis.confusion_scores.analyze_scores` per model. Its
:class:`ConfusionResult` gives the JSON of ``misclass confusion --json`` and the tables as
DataFrames indexed by class and model names; :meth:`ConfusionResult.write_graphml` writes the
misclassification networks (``--graphml``), and the result it returns records their files in
its JSON, as the command's does.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from misclass.analysis.confusion_options import DEFAULT_THRESHOLD, DEFAULT_TOP_CLASSES
from misclass.errors import InputError
from misclass.workflows.common import as_store, json_ready

if TYPE_CHECKING:
    import networkx as nx
    import pandas as pd

    from misclass.analysis.confusion import ConfusionAnalysis, Homogeneity, ModelConfusion
    from misclass.analysis.confusion_scores import ScoreAnalysis
    from misclass.store import Predictions, Store

__all__ = ["CLASSES_HINT", "DEFAULT_THRESHOLD", "DEFAULT_TOP_CLASSES", "ConfusionResult", "confusion"]

#: how the memory-budget error of the GraphML networks says to restrict the classes
CLASSES_HINT = ("restrict the classes with --classes N (the N most-confused classes) or --classes LIST "
                "(class names or ids)")

Pairs = tuple[tuple[int, int], ...]
#: classes as ``classes=`` takes them: N (the N most-confused), "N", "cat,dog,5", or names and ids
ClassesArg = int | str | Sequence[int | str]
#: confusion pairs as ``group_a=`` takes them: "cat:dog,1:0" or ((true, predicted), ...)
PairsArg = str | Sequence[tuple[int | str, int | str]]


@dataclass(frozen=True)
class ConfusionResult:
    """What ``misclass confusion`` computes on a store.

    ``analysis`` is the analysis result (per-model non-zero cells, patterns, homogeneity
    test) and ``scores`` each model's :class:`~misclass.analysis.confusion_scores.ScoreAnalysis`;
    the methods give their tables as DataFrames indexed by class names (names may repeat, as
    ImageNet's two "crane" classes do: the ``*_index`` columns tell them apart) and model names.

    ``classes`` (``--classes``) are the class ids of the GraphML networks and of the dense v
    in the JSON (the tables stay over all classes); ``v_note`` says why the JSON holds each
    model's v as non-zero cells (``v_cells``) when the dense v of all classes is over the
    memory budget (None: the dense ``v``); ``graphml`` names the files
    :meth:`write_graphml` wrote.
    """

    store: str
    analysis: ConfusionAnalysis
    scores: Mapping[str, ScoreAnalysis]
    groups: tuple[Pairs, Pairs] | None = None
    classes: np.ndarray | None = None
    top_classes: int = DEFAULT_TOP_CLASSES
    v_note: str | None = None
    graphml: Mapping[str, str] | None = None

    # ------------------------------------------------------------------ plain values
    @property
    def models(self) -> tuple[str, ...]:
        return self.analysis.names

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.analysis.class_names

    @property
    def n_classes(self) -> int:
        return self.analysis.n_classes

    @property
    def threshold(self) -> float:
        return self.analysis.threshold

    @property
    def homogeneity(self) -> Homogeneity:
        return self.analysis.homogeneity

    @property
    def notes(self) -> tuple[str, ...]:
        """What the JSON says about itself (why v is given as non-zero cells)."""
        return () if self.v_note is None else (self.v_note,)

    def model(self, name: str) -> ModelConfusion:
        """One model's confusion (:class:`~misclass.analysis.confusion.ModelConfusion`)."""
        if name not in self.analysis.models:
            raise InputError(f"model {name!r} is not in this result (models: {', '.join(self.models)})")
        return self.analysis.models[name]

    def to_dict(self) -> dict[str, Any]:
        """What ``misclass confusion --json`` writes: each model's v dense (C lists of C
        floats) when every model's fits the memory budget, else its non-zero cells
        (``v_cells``, each ``[true, predicted, v]``, with a note); with ``classes``, the dense
        block of those rows and columns and ``v_classes`` (over the budget,
        :class:`~misclass.errors.MemoryBudgetError`)."""
        d = self.analysis.to_dict(include_v=False)
        per_model, classes = d.pop("models"), d.pop("classes")  # JSON-ready already
        d["scores"] = {name: sc.to_dict() for name, sc in self.scores.items()}
        if self.groups is not None:
            d["groups"] = {"a": [list(p) for p in self.groups[0]], "b": [list(p) for p in self.groups[1]]}
        if self.graphml is not None:
            d["graphml"] = dict(self.graphml)
        for name, v in self._v_json().items():
            per_model[name].update(v)
        if self.classes is not None:
            d["v_classes"] = self.classes.tolist()
        if self.v_note is not None:
            d["notes"] = [self.v_note]
        rest = _ready(d)
        return {"models": per_model, "threshold": rest.pop("threshold"), "classes": classes, **rest}

    def _v_json(self) -> dict[str, dict[str, list]]:
        """Each model's ``{"v": ...}`` or ``{"v_cells": ...}`` of the JSON."""
        from misclass.analysis.budget import check_budget, dense_bytes

        out = {}
        if self.classes is not None:
            m = len(self.models)
            check_budget("conditional confusion v(j|i) of --classes in the JSON", len(self.classes),
                         dense_bytes(len(self.classes), matrices=m), matrices=m, hint="give fewer --classes")
        for name, mc in self.analysis.models.items():
            if self.classes is not None:
                out[name] = {"v": mc.v_block(self.classes, self.classes).tolist()}
                continue
            true, pred, v = mc.v_cells()
            if self.v_note is None:
                out[name] = {"v": _dense_rows(true, pred, v, mc.n_classes)}
            else:
                cells = zip(true.tolist(), pred.tolist(), v.tolist(), strict=True)
                out[name] = {"v_cells": [[i, j, x] for i, j, x in cells]}
        return out

    # ------------------------------------------------------------------ per model
    def to_frame(self) -> pd.DataFrame:
        """One row per model (index ``model``): ``accuracy``, ``images``, ``errors``,
        ``classes_with_errors``, ``edges``, ``symmetric_pairs``, ``unpredicted`` (labelled
        images without a prediction, left out), and the class with the highest weighted
        in-degree (``top_in_degree_class``, its name, None when no class has one;
        ``top_in_degree_index``, -1 then) and its ``top_in_degree``."""
        import pandas as pd

        rows = []
        for mc in self.analysis.models.values():
            top = int(np.argmax(mc.in_degree))
            has = mc.in_degree[top] > 0
            rows.append({"accuracy": mc.accuracy, "images": int(mc.n.sum()), "errors": int(mc.errors.sum()),
                         "classes_with_errors": int((mc.errors > 0).sum()), "edges": mc.n_edges,
                         "symmetric_pairs": mc.symmetric_pairs, "unpredicted": mc.unpredicted,
                         "top_in_degree_class": self.class_names[top] if has else None,
                         "top_in_degree_index": top if has else -1,
                         "top_in_degree": float(mc.in_degree[top])})
        return pd.DataFrame(rows, index=pd.Index(self.models, name="model"))

    def worst_classes(self, model: str, k: int | None = None) -> pd.DataFrame:
        """The ``k`` (default ``top_classes``) classes of ``model`` with the highest u (index
        ``class``): ``class_index``, ``n`` (images), ``errors``, ``u``, where their errors go
        most often (``top_target`` id, ``top_target_name``, "" for a class without errors)
        and that ``top_v``."""
        from misclass.analysis.confusion import worst_classes

        table = worst_classes(self.model(model), self.top_classes if k is None else k,
                              class_names=self.class_names)
        return table.rename(columns={"class": "class_index"}).set_index("name").rename_axis("class")

    def top_confusions(self, model: str, k: int | None = None, *, by: str = "count") -> pd.DataFrame:
        """The ``k`` (default ``top_classes``) largest (true, predicted) cells of ``model``,
        ``by`` "count" or "v" (index ``true``, ``predicted``: class names):
        ``true_index``, ``predicted_index``, ``count``, ``v``, ``edge``."""
        from misclass.analysis.confusion import top_confusions

        table = top_confusions(self.model(model), self.top_classes if k is None else k, by=by,
                               class_names=self.class_names)
        return self._pair_index(table, "true", "predicted")

    def conditional_confusion(self, model: str, classes: Sequence[int] | None = None) -> pd.DataFrame:
        """v(j|i) of ``model`` (rows: true class i, columns: predicted class j, by name) over
        ``classes`` (ids; default: the result's ``classes``, else all, within the memory
        budget)."""
        import pandas as pd

        mc = self.model(model)
        ids = self.classes if classes is None else np.asarray(classes, dtype=np.int64)
        values = mc.v if ids is None else mc.v_block(ids, ids)
        ids = np.arange(self.n_classes) if ids is None else ids
        names = [self.class_names[i] for i in ids]
        return pd.DataFrame(values, index=pd.Index(names, name="true"),
                            columns=pd.Index(names, name="predicted"))

    def network(self, model: str) -> nx.DiGraph:
        """The misclassification network of ``model`` as a ``networkx.DiGraph``, over the
        result's ``classes`` (default all; see
        :func:`~misclass.analysis.confusion.misclassification_network`)."""
        from misclass.analysis.confusion import misclassification_network

        return misclassification_network(self.model(model), self.class_names, self.classes)

    def check_graphml(self) -> None:
        """Raise :class:`~misclass.errors.MemoryBudgetError` when the largest network is over
        the memory budget (before anything is written)."""
        from misclass.analysis.budget import check_budget
        from misclass.analysis.confusion import network_bytes

        n = self.n_classes if self.classes is None else len(self.classes)
        need = max(network_bytes(mc, self.classes) for mc in self.analysis.models.values())
        check_budget("--graphml networks", n, need, thing=f"a network of {n:,} classes", hint=CLASSES_HINT)

    def write_graphml(self, directory: str | os.PathLike) -> ConfusionResult:
        """Write each model's network to ``directory/<model>.graphml`` (each file atomically;
        the memory budget is checked first); the same result with ``graphml`` naming the files."""
        import networkx as nx

        from misclass.store.files import atomic_write

        self.check_graphml()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        files = {}
        for name in self.models:
            path = directory / f"{name}.graphml"
            network = self.network(name)
            atomic_write(path, lambda tmp, g=network: nx.write_graphml(g, tmp))
            files[name] = str(path)
        return replace(self, graphml=files)

    # ------------------------------------------------------------------ per class
    def _class_frame(self, values: np.ndarray) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(values, index=pd.Index(self.class_names, name="class"),
                            columns=pd.Index(self.models, name="model"))

    def class_error_rate(self) -> pd.DataFrame:
        """u_i of each model (columns) on each class (rows; NaN for a class without images)."""
        return self._class_frame(np.stack([mc.u for mc in self.analysis.models.values()], axis=1))

    def class_errors(self) -> pd.DataFrame:
        """e_i, the misclassified images of each class (rows) per model (columns): the table
        of the chi-squared test before classes and models without errors are dropped."""
        return self._class_frame(np.stack([mc.errors for mc in self.analysis.models.values()], axis=1))

    def u_table(self) -> pd.DataFrame:
        """One row per class (index ``class``): ``class_index``, ``images`` (of the first
        model), u of each model and their ``mean u``."""
        table = self.analysis.u_table().rename(columns={"class": "class_index", "n": "images"})
        return table.set_index("name").rename_axis("class")

    # ------------------------------------------------------------------ across models
    def _pair_index(self, table: pd.DataFrame, a: str, b: str, index: tuple[str, str] | None = None
                    ) -> pd.DataFrame:
        """``table`` indexed by the names in ``{a}_name``, ``{b}_name`` (index names ``index``,
        default ``(a, b)``), the ids kept as ``{a}_index``, ``{b}_index``."""
        table = table.rename(columns={a: f"{a}_index", b: f"{b}_index"})
        return table.set_index([f"{a}_name", f"{b}_name"]).rename_axis(list(index or (a, b)))

    def top_pairs(self, k: int = 20) -> pd.DataFrame:
        """The ``k`` (true, predicted) pairs with the most misclassified images over all
        models (index ``true``, ``predicted``: class names): ``true_index``,
        ``predicted_index``, ``total``, then each model's count."""
        return self._pair_index(self.analysis.top_pairs(k), "true", "predicted")

    def patterns(self, scope: str | None = None) -> pd.DataFrame:
        """Every pair of classes linked in at least one model's network (index ``class a``,
        ``class b``: names, a < b by id), most models then most errors first: ``a_index``,
        ``b_index``, ``n_models`` (models linking the pair), ``scope`` (universal: linked in
        every model, or model-specific), ``kind`` (symmetric / one-way / mixed), ``pattern``
        and ``errors`` (images a -> b and b -> a over all models); only those of ``scope``
        when given. Each model's cell of each pair is in :meth:`pattern_cells`."""
        table = self.analysis.patterns[["a", "b", "a_name", "b_name", "n_models", "scope", "kind",
                                        "pattern", "errors"]]
        return self._pair_index(table, "a", "b", ("class a", "class b"))[self._scope(scope)]

    def pattern_cells(self, scope: str | None = None) -> pd.DataFrame:
        """The rows of :meth:`patterns` (same index and order), one column per model:
        "symmetric" (a -> b and b -> a are edges), "a->b", "b->a" or "none"."""
        cells = self.analysis.pattern_cells
        cells = self.analysis.patterns[list(self.models)] if cells is None else cells
        return cells.set_axis(self.patterns().index).rename_axis(columns="model")[self._scope(scope)]

    def _scope(self, scope: str | None) -> np.ndarray | slice:
        if scope is None:
            return slice(None)
        if scope not in ("universal", "model-specific"):
            raise InputError(f"pattern scope {scope!r}: expected 'universal' or 'model-specific'")
        return (self.analysis.patterns["scope"] == scope).to_numpy()

    def universal_patterns(self) -> pd.DataFrame:
        """``patterns("universal")``: the pairs linked in every model."""
        return self.patterns("universal")

    def chi_squared(self) -> pd.DataFrame:
        """The chi-squared test of homogeneity of the class-wise errors across models, one row
        (index ``test``): ``chi2``, ``dof``, ``p`` (NaN when not computed, ``undefined``
        says why), ``classes_tested``, ``dropped_classes`` (how many: no error in any model),
        ``dropped_models`` (names: no error at all), ``share_expected_below_5``."""
        import pandas as pd

        h = self.homogeneity
        t = h.test
        row = {"chi2": np.nan if t is None else t.statistic, "dof": None if t is None else t.dof,
               "p": np.nan if t is None else t.p, "classes_tested": len(h.kept_classes),
               "dropped_classes": len(h.dropped_classes), "dropped_models": h.dropped_models,
               "share_expected_below_5": np.nan if t is None else h.share_expected_below_5,
               "undefined": h.undefined or None}
        return pd.DataFrame([row], index=pd.Index(["homogeneity of class-wise errors"], name="test"))

    def chi_squared_table(self) -> pd.DataFrame:
        """The table the test is run on: e_i of the models (rows) with errors and the classes
        (columns, by name) with errors in some model."""
        import pandas as pd

        h = self.homogeneity
        models = [m for m in self.models if m not in h.dropped_models]
        return pd.DataFrame(h.table, index=pd.Index(models, name="model"),
                            columns=pd.Index([self.class_names[i] for i in h.kept_classes], name="class"))

    # ------------------------------------------------------------------ scores
    def score_summary(self) -> pd.DataFrame:
        """One row per model (index ``model``): ``errors``, ``scored``, ``outside_topk``,
        ``no_scores``, and mean, median and standard deviation of the ratio s_true/s_pred and
        the difference s_true - s_pred over the scored errors (NaN without any)."""
        import pandas as pd

        rows = []
        for s in self.scores.values():
            row = {"errors": s.errors, "scored": s.scored, "outside_topk": s.outside_topk,
                   "no_scores": s.no_scores}
            for quantity, d in s.summary().items():
                row |= {f"{quantity}_{k}": np.nan if x is None else x for k, x in d.items()}
            rows.append(row)
        return pd.DataFrame(rows, index=pd.Index(list(self.scores), name="model"))

    def score_comparisons(self) -> pd.DataFrame:
        """Group A vs group B per model and quantity (index ``model``, ``quantity``): sizes,
        means and both t-tests of A minus B; empty without groups."""
        import pandas as pd

        tables = [s.comparison_table() for s in self.scores.values() if s.comparisons]
        if not tables:
            return pd.DataFrame(index=pd.MultiIndex.from_arrays([[], []], names=["model", "quantity"]))
        return pd.concat(tables, ignore_index=True).set_index(["model", "quantity"])


def confusion(
    store: Store | str | os.PathLike,
    *,
    models: Sequence[str] | str | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    top_classes: int = DEFAULT_TOP_CLASSES,
    group_a: PairsArg | None = None,
    group_b: PairsArg | None = None,
    classes: ClassesArg | None = None,
) -> ConfusionResult:
    """Where each model fails, as ``misclass confusion`` computes it.

    Parameters
    ----------
    store : a :class:`~misclass.store.Store` or the path of one
    models : names of the models (default: every model of the store)
    threshold : network edge threshold: an edge i -> j where v(j|i) >= this
    top_classes : default rows of the per-model tables (:meth:`ConfusionResult.worst_classes`,
        :meth:`~ConfusionResult.top_confusions`); nothing computed depends on it
    group_a, group_b : confusion pairs (true, predicted) of two score groups, both or neither:
        ``"cat:dog,dog:cat"`` (class names or ids, as ``--group-a`` takes them) or
        ``[("cat", "dog"), (1, 0)]`` (names, or ints as class ids)
    classes : classes of the GraphML networks and of the dense v in the JSON: N (an int or
        ``"N"``), the N most-confused classes over the models, or a list of classes
        (``"cat,5"`` or ``["cat", 5]``: names, or ints as class ids)

    >>> import misclass, tempfile, numpy as np, pandas as pd
    >>> s = misclass.Store.create(tempfile.mkdtemp() + "/s",
    ...     samples=pd.DataFrame({"sample_id": list("abcdef"), "label": [0, 0, 1, 1, 2, 2]}),
    ...     classes=pd.DataFrame({"name": ["cat", "dog", "frog"]}))
    >>> s.write_model("x", np.array([[0], [1], [0], [1], [2], [2]]))
    >>> s.write_model("y", np.array([[1], [1], [0], [1], [2], [1]]))
    >>> res = misclass.confusion(s)
    >>> res.class_error_rate().loc["cat"].tolist()  # u of cat: x misses 1 of 2, y both
    [0.5, 1.0]
    >>> res.universal_patterns()[["pattern", "errors"]].reset_index().values.tolist()
    [['cat', 'dog', 'universal symmetric', 5]]
    >>> res.to_dict()["models"]["y"]["v"][2]  # frog's errors go to dog
    [0.0, 1.0, 0.0]
    """
    from misclass.analysis.confusion import analyze_confusion
    from misclass.validation import check_class_pairs

    if (group_a is None) != (group_b is None):
        raise InputError("--group-a and --group-b go together: give both or neither")
    if int(top_classes) < 1:
        raise InputError(f"--top-classes {top_classes}: expected at least 1 row")
    s = as_store(store)
    if isinstance(models, str):
        models = [models]
    from misclass.workflows.common import per_image_predictors

    pred = s.load(per_image_predictors(s, models).names)  # expected accuracy: no per-image answer
    if not pred.models:
        raise InputError(f"the store {s.path} holds no models; import or train some first")
    if (pred.labels < 0).all():
        raise InputError(f"the store {s.path} has no labelled samples; confusion needs true classes")
    names = s.class_names()
    groups = None
    if group_a is not None:
        groups = (tuple(check_class_pairs(group_a, names, "--group-a")),
                  tuple(check_class_pairs(group_b, names, "--group-b")))
    res = analyze_confusion(pred.labels, pred.top1, pred.models, len(names), threshold=threshold,
                            class_names=names)
    chosen = None if classes is None else _chosen_classes(classes, res, names)
    return ConfusionResult(str(s.path), res, _scores(pred, len(names), groups), groups, chosen,
                           int(top_classes), None if chosen is not None else _dense_v_note(res))


# --------------------------------------------------------------------------- helpers
def _scores(pred: Predictions, n_classes: int,
            groups: tuple[Pairs, Pairs] | None) -> dict[str, ScoreAnalysis]:
    """Score analysis of the misclassified images of every loaded model (see
    :mod:`misclass.analysis.confusion_scores`), from each model's full probabilities when
    stored, else its top-k probabilities."""
    from misclass.analysis.confusion_scores import analyze_scores, class_scores

    group_a, group_b = (None, None) if groups is None else groups
    out = {}
    for j, name in enumerate(pred.models):
        tp = None if pred.topk_probs is None else pred.topk_probs[:, j, : pred.k[j]]
        true_s, pred_s = class_scores(pred.labels, pred.topk[:, j, : pred.k[j]], tp, pred.probs(name))
        out[name] = analyze_scores(name, pred.labels, pred.top1[:, j], true_s, pred_s, n_classes,
                                   group_a=group_a, group_b=group_b)
    return out


def _chosen_classes(value: ClassesArg, res: ConfusionAnalysis, names: list[str]) -> np.ndarray:
    """``classes``: a number N, the N most-confused classes (ascending ids); else a list."""
    from misclass.validation import check_class_list

    if isinstance(value, str) and re.fullmatch(r"\s*\d+\s*", value):
        value = int(value)
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        if value < 1:
            raise InputError(f"--classes {value}: expected a number of classes >= 1 or a list of classes")
        return np.sort(res.most_confused(min(int(value), res.n_classes)))
    return np.array(check_class_list(value, names, "--classes"), dtype=np.int64)


def _dense_v_note(res: ConfusionAnalysis) -> str | None:
    """None when every model's dense v fits the memory budget in the JSON, else why not."""
    from misclass.analysis.budget import ENV_VAR, dense_bytes, over_budget

    c, m = res.n_classes, len(res.models)
    text = over_budget("conditional confusion v(j|i) in the JSON", c, dense_bytes(c, matrices=m), matrices=m)
    return None if text is None else (
        f"{text} ({ENV_VAR}); each model's 'v_cells' holds the non-zero cells of v as [true, predicted, "
        "v] instead of the dense 'v'")


def _dense_rows(rows: np.ndarray, cols: np.ndarray, values: np.ndarray, n: int) -> list[list[float]]:
    """The dense ``n`` x ``n`` matrix given by its non-zero cells (sorted by row) as ``n``
    lists; the zeros of all rows are one float object, so the lists take 8 bytes an entry, as
    the dense array would."""
    starts = np.searchsorted(rows, np.arange(n + 1)).tolist()
    cols, values = cols.tolist(), values.tolist()
    zero = [0.0] * n
    out = []
    for i in range(n):
        row = zero.copy()
        for k in range(starts[i], starts[i + 1]):
            row[cols[k]] = values[k]
        out.append(row)
    return out


def _ready(obj: Any) -> Any:
    """:func:`json_ready` without walking long lists of plain ints or strings (the dropped
    classes of a store with a million classes), which hold nothing to clean."""
    if isinstance(obj, dict):
        return {str(k): _ready(v) for k, v in obj.items()}
    if isinstance(obj, list) and len(obj) > 1000 and all(type(x) is int or type(x) is str for x in obj):
        return obj
    return json_ready(obj)
