"""``misclass confusion``: where each model fails (class-wise errors, conditional confusion,
misclassification networks, shared patterns, homogeneity test, scores of errors)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.table import Table

from misclass.analysis.budget import ENV_VAR, check_budget, dense_bytes, over_budget
from misclass.analysis.confusion import (
    DEFAULT_THRESHOLD,
    ConfusionAnalysis,
    analyze_confusion,
    misclassification_network,
    network_bytes,
    top_confusions,
    worst_classes,
)
from misclass.analysis.confusion_scores import ScoreAnalysis
from misclass.cli.app import DEFAULT_STORE_PATH, JsonOpt, StoreOpt, _clean, app, console, get_store, pct
from misclass.errors import InputError
from misclass.gather import confusion_scores
from misclass.store.files import atomic_write, write_text
from misclass.validation import check_class_list, check_class_pairs


def _f(x: float, digits: int = 3) -> str:
    return "–" if x is None or np.isnan(x) else f"{x:.{digits}f}"


def _p(x: float) -> str:
    return "–" if x is None or np.isnan(x) else f"{x:.3g}"


def _matrix_json(rows: np.ndarray, cols: np.ndarray, values: np.ndarray, n: int) -> str:
    """A dense ``n`` x ``n`` finite float matrix given by its non-zero cells (sorted by row) as
    JSON (a list of rows); fast when most entries are 0."""
    values = [repr(x) for x in values.tolist()]
    starts = np.searchsorted(rows, np.arange(n + 1)).tolist()
    zero = ["0.0"] * n
    out = []
    for i in range(n):
        row = zero.copy()
        for k in range(starts[i], starts[i + 1]):
            row[cols[k]] = values[k]
        out.append("[" + ",".join(row) + "]")
    return "[" + ",".join(out) + "]"


def _dense_v_note(res: ConfusionAnalysis) -> str | None:
    """None when every model's dense v fits the memory budget in the JSON, else why not."""
    c, m = res.n_classes, len(res.models)
    text = over_budget("conditional confusion v(j|i) in the JSON", c, dense_bytes(c, matrices=m), matrices=m)
    return None if text is None else (
        f"{text} ({ENV_VAR}); each model's 'v_cells' holds the non-zero cells of v as [true, predicted, "
        "v] instead of the dense 'v'")


def _ready(obj):
    """``_clean(obj)`` without walking long lists of plain ints or strings (the class names and
    classes of a store with a million classes), which hold nothing to clean."""
    if isinstance(obj, dict):
        return {str(k): _ready(v) for k, v in obj.items()}
    if isinstance(obj, list) and len(obj) > 1000 and all(type(x) is int or type(x) is str for x in obj):
        return obj
    return _clean(obj)


CLASSES_HINT = ("restrict the classes with --classes N (the N most-confused classes) or --classes LIST "
                "(class names or ids)")


def _chosen_classes(text: str, res: ConfusionAnalysis, names: list[str]) -> np.ndarray:
    """``--classes``: a single number N, the N most-confused classes; else a list of classes."""
    if re.fullmatch(r"\s*\d+\s*", text):
        n = int(text)
        if n < 1:
            raise InputError(f"--classes {text}: expected a number of classes >= 1 or a list of classes")
        return np.sort(res.most_confused(min(n, res.n_classes)))
    return np.array(check_class_list(text, names, "--classes"), dtype=np.int64)


def _write_json(path: Path | None, out: dict, res: ConfusionAnalysis, classes: np.ndarray | None) -> None:
    """Write ``out`` plus each model's v atomically as compact JSON: dense (C lists of C floats)
    when every model's fits the memory budget, else as its non-zero cells (``v_cells``, with a
    note); with ``classes`` (``--classes``), the dense block of those rows and columns and
    ``v_classes``. ``write_json``'s per-number cleaning and indentation take tens of seconds on
    7 x 1000 x 1000 numbers; the per-model part of ``out`` is NaN-free already, so only the
    rest is cleaned."""
    if path is None:
        return
    import json

    def dump(obj) -> str:
        return json.dumps(obj, separators=(",", ":"), allow_nan=False)

    note = None
    if classes is not None:
        m = len(res.models)
        check_budget("conditional confusion v(j|i) of --classes in the JSON", len(classes),
                     dense_bytes(len(classes), matrices=m), matrices=m, hint="give fewer --classes")
    else:
        note = _dense_v_note(res)
    rest = dict(out)
    models = rest.pop("models")
    parts = []
    for name, d in models.items():
        true, pred, v = res.models[name].v_cells()
        if classes is not None:
            block = dump(res.models[name].v_block(classes, classes).tolist())
            parts.append(f'{dump(name)}:{dump(d)[:-1]},"v":{block}}}')
        elif note is None:
            parts.append(f'{dump(name)}:{dump(d)[:-1]},"v":{_matrix_json(true, pred, v, res.n_classes)}}}')
        else:
            cells = [[i, j, x] for i, j, x in zip(true.tolist(), pred.tolist(), v.tolist(), strict=True)]
            parts.append(f'{dump(name)}:{dump(d)[:-1]},"v_cells":{dump(cells)}}}')
    if classes is not None:
        rest["v_classes"] = classes.tolist()
    if note is not None:
        rest["notes"] = [*rest.get("notes", []), note]
        console.print(note, style="dim", markup=False)
    text = '{"models":{' + ",".join(parts) + "}," + dump(_ready(rest))[1:]
    write_text(path, text)
    console.print(f"Wrote {path}")


def _t(test) -> str:
    return "–" if np.isnan(test.statistic) else f"{test.statistic:.2f} ({_p(test.p)})"


def _cls(name: str, idx: int) -> str:
    """A class as shown in tables: its name, and its id when the name is not the id."""
    return name if name == str(idx) else f"{name} ({idx})"


def _print_model(res: ConfusionAnalysis, name: str, rows: int) -> None:
    mc = res.models[name]
    names = res.class_names
    worst = worst_classes(mc, rows, class_names=names)
    t = Table(title=f"{name}: worst classes (accuracy {pct(mc.accuracy)})")
    for col in ("class", "images", "errors", "u", "most often predicted as", "v"):
        t.add_column(col, justify="left" if col in ("class", "most often predicted as") else "right")
    for r in worst.to_dict("records"):
        t.add_row(_cls(r["name"], r["class"]), str(r["n"]), str(r["errors"]), pct(r["u"]),
                  _cls(r["top_target_name"], r["top_target"]) if r["top_target"] >= 0 else "–",
                  _f(r["top_v"]))
    console.print(t)
    top = top_confusions(mc, rows, by="count", class_names=names)
    t = Table(title=f"{name}: top confusions (true -> predicted)")
    for col in ("true class", "predicted as", "images", "v(pred|true)", "edge"):
        t.add_column(col, justify="left" if col in ("true class", "predicted as") else "right")
    for r in top.itertuples():
        t.add_row(_cls(r.true_name, r.true), _cls(r.predicted_name, r.predicted), str(r.count),
                  _f(r.v), "yes" if r.edge else "")
    console.print(t)


def _print_overview(res: ConfusionAnalysis, rows: int) -> None:
    t = Table(title=f"Misclassification networks (edge where v(j|i) >= {res.threshold:g})")
    for col in ("model", "accuracy", "classes with errors", "edges", "symmetric pairs",
                "highest in-degree"):
        t.add_column(col, justify="left" if col in ("model", "highest in-degree") else "right")
    names = res.class_names
    for name, mc in res.models.items():
        top = int(np.argmax(mc.in_degree))
        label = (f"{_cls(names[top], top) if names else top}: {mc.in_degree[top]:.2f}"
                 if mc.in_degree[top] > 0 else "–")
        t.add_row(name, pct(mc.accuracy), str(int((mc.errors > 0).sum())), str(mc.n_edges),
                  str(mc.symmetric_pairs), label)
    console.print(t)
    pats = res.patterns
    if len(pats):
        counts = pats["pattern"].value_counts()
        console.print("Confusion patterns over linked class pairs: "
                      + ", ".join(f"{k}: {v}" for k, v in counts.items()))
        shown = pats[pats["scope"] == "universal"].head(rows)
        if len(shown) and len(res.models) > 1:
            t = Table(title="Universal patterns (linked in every model), most errors first")
            for col in ("class a", "class b", "kind", "per model", "errors"):
                t.add_column(col, justify="right" if col == "errors" else "left")
            for r in shown.to_dict("records"):
                per = " ".join({"symmetric": "<->", "a->b": "->", "b->a": "<-"}[r[m]] for m in res.models)
                t.add_row(_cls(r["a_name"], r["a"]), _cls(r["b_name"], r["b"]), r["kind"], per,
                          str(r["errors"]))
            console.print(t)
    else:
        console.print("No class pair is linked in any model's network.")
    h = res.homogeneity
    if h.test is None:
        console.print(f"Chi-squared homogeneity of class-wise errors: not computed ({h.undefined}).")
    else:
        console.print(
            f"Chi-squared homogeneity of class-wise errors across models: chi2 = {h.test.statistic:.2f}, "
            f"dof = {h.test.dof}, p = {_p(h.test.p)} ({len(h.kept_classes)} classes"
            + (f"; dropped {len(h.dropped_classes)} without errors in any model"
               if len(h.dropped_classes) else "")
            + (f"; models without errors dropped: {', '.join(h.dropped_models)}" if h.dropped_models else "")
            + ")")
        if h.share_expected_below_5 > 0.2:
            console.print(f"  {pct(h.share_expected_below_5)} of the expected counts are below 5: the "
                          "p-value's chi-squared approximation is rough.", style="dim")


def _print_scores(scores: dict[str, ScoreAnalysis], grouped: bool) -> None:
    t = Table(title="Scores of misclassified images: ratio s_true/s_pred, difference s_true - s_pred")
    for col in ("model", "errors", "scored", "true not in top-k", "no scores", "mean ratio", "mean diff."):
        t.add_column(col, justify="left" if col == "model" else "right")
    for name, s in scores.items():
        d = s.summary()
        t.add_row(name, str(s.errors), str(s.scored), str(s.outside_topk), str(s.no_scores),
                  _f(d["ratio"]["mean"] if d["ratio"]["mean"] is not None else np.nan),
                  _f(d["difference"]["mean"] if d["difference"]["mean"] is not None else np.nan))
    console.print(t)
    if not grouped:
        return
    t = Table(title="Group A vs group B: t-tests of A minus B (– where undefined)")
    for col in ("model", "quantity", "A: mean (n)", "B: mean (n)", "pooled t (p)", "Welch t (p)",
                "not in top-k A/B"):
        t.add_column(col, justify="left" if col in ("model", "quantity") else "right")
    for name, s in scores.items():
        if not s.scored:
            continue
        for c in s.comparisons:
            t.add_row(name, c.quantity, f"{_f(c.mean_a)} ({c.n_a})", f"{_f(c.mean_b)} ({c.n_b})",
                      _t(c.pooled), _t(c.welch), f"{s.outside_a}/{s.outside_b}")
    console.print(t)


@app.command()
def confusion(
    store: StoreOpt = DEFAULT_STORE_PATH,
    model: Annotated[list[str] | None,
                     typer.Option("--model", "-m", help="Models (repeat). Default: all.")] = None,
    threshold: Annotated[float, typer.Option(
        help="Network edge threshold: an edge i -> j where v(j|i) >= this.", min=0.0, max=1.0)
    ] = DEFAULT_THRESHOLD,
    top_classes: Annotated[int, typer.Option(
        help="Rows in the tables of worst classes, top confusions and universal patterns.", min=1)] = 10,
    group_a: Annotated[str | None, typer.Option(
        help="Confusion pairs true:predicted,... (class names or ids) of score group A.")] = None,
    group_b: Annotated[str | None, typer.Option(
        help="Confusion pairs of score group B (same form as --group-a).")] = None,
    graphml: Annotated[Path | None, typer.Option(
        help="Write each model's misclassification network to DIR/<model>.graphml.")] = None,
    classes: Annotated[str | None, typer.Option(
        "--classes", metavar="N|LIST",
        help="Classes of the --graphml networks and of the dense v in --json: N, the N most-confused "
             "classes over the models, or a comma list of class names or ids ('5,' is class 5 alone); "
             "the tables stay over all classes. Default: all classes, the dense v only within the "
             "memory budget (MISCLASS_MEMORY_BUDGET, default 2GiB; beyond it v's non-zero cells), "
             "and networks over the budget are refused.")] = None,
    json: JsonOpt = None,
) -> None:
    """Where each model fails: class-wise error rate u_i, conditional confusion v(j|i),
    misclassification networks, confusion patterns shared across models, a chi-squared test of
    homogeneity of the class-wise errors, and (with stored probabilities) the scores of
    misclassified images compared between two groups of confusion pairs.

    Example: misclass confusion --store misclass-demo/store --threshold 0.3 --group-a 3:5,5:3
    --group-b 8:1 --graphml networks --json confusion.json

    Example: misclass confusion --store imagenet-store --classes 100 --graphml networks
    """
    if (group_a is None) != (group_b is None):
        raise InputError("--group-a and --group-b go together: give both or neither")
    s = get_store(store)
    pred = s.load(model)
    if not pred.models:
        raise InputError(f"the store {store} holds no models; import or train some first")
    if (pred.labels < 0).all():
        raise InputError(f"the store {store} has no labelled samples; confusion needs true classes")
    names = s.class_names()
    pairs_a = pairs_b = None
    if group_a is not None:
        pairs_a = check_class_pairs(group_a, names, "--group-a")
        pairs_b = check_class_pairs(group_b, names, "--group-b")
    res = analyze_confusion(pred.labels, pred.top1, pred.models, len(names), threshold=threshold,
                            class_names=names)
    chosen = None if classes is None else _chosen_classes(classes, res, names)
    if graphml is not None:  # before anything is printed or written
        need = max(network_bytes(mc, chosen) for mc in res.models.values())
        check_budget("--graphml networks", len(names) if chosen is None else len(chosen), need,
                     thing=f"a network of {len(names) if chosen is None else len(chosen):,} classes",
                     hint=CLASSES_HINT)
    for name in pred.models:
        _print_model(res, name, top_classes)
        if res.models[name].unpredicted:
            console.print(f"{name}: {res.models[name].unpredicted} labelled images have no prediction "
                          "and are left out", style="dim")
    _print_overview(res, top_classes)
    scores = confusion_scores(pred, len(names), pairs_a, pairs_b)
    if any(sc.scored or sc.outside_topk for sc in scores.values()):
        _print_scores(scores, pairs_a is not None)
    else:
        console.print("Score analysis skipped: no model stored probabilities.", style="dim")
    out = res.to_dict(include_v=False)
    out["scores"] = {name: sc.to_dict() for name, sc in scores.items()}
    if pairs_a is not None:
        out["groups"] = {"a": [list(p) for p in pairs_a], "b": [list(p) for p in pairs_b]}
    if graphml is not None:
        import networkx as nx

        graphml.mkdir(parents=True, exist_ok=True)
        files = {}
        for name in pred.models:
            path = graphml / f"{name}.graphml"
            network = misclassification_network(res.models[name], names, chosen)
            atomic_write(path, lambda tmp, g=network: nx.write_graphml(g, tmp))
            files[name] = str(path)
        console.print(f"Wrote {len(files)} GraphML networks to {graphml}")
        out["graphml"] = files
    _write_json(json, out, res, chosen)
