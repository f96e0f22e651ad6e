"""``misclass confusion``: where each model fails (class-wise errors, conditional confusion,
misclassification networks, shared patterns, homogeneity test, scores of errors)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from misclass.analysis.confusion_options import DEFAULT_THRESHOLD, DEFAULT_TOP_CLASSES
from misclass.cli.app import DEFAULT_STORE_PATH, JsonOpt, StoreOpt, app, console, print_table
from misclass.format import UNDEFINED, count, is_missing, number, p_value, percent, plural

if TYPE_CHECKING:
    from misclass.workflows.confusion import ConfusionResult


def _write_json(path: Path, res: ConfusionResult) -> None:
    """Write ``res.to_dict()`` atomically as compact JSON (7 x 1000 x 1000 numbers of v: an
    indented file would be several times larger and slower to write)."""
    import json

    from misclass.store.files import write_text

    d = res.to_dict()
    for note in res.notes:
        console.print(note, style="dim", markup=False)
    write_text(path, json.dumps(d, separators=(",", ":"), allow_nan=False))
    console.print(f"Wrote {path}")


def _t(test) -> str:
    return UNDEFINED if is_missing(test.statistic) else f"{number(test.statistic, 2)} ({p_value(test.p)})"


def _cls(name: str, idx: int) -> str:
    """A class as shown in tables: its name, and its id when the name is not the id."""
    return name if name == str(idx) else f"{name} ({idx})"


def _print_model(res: ConfusionResult, name: str) -> None:
    worst = res.worst_classes(name)
    t = Table(title=f"{name}: worst classes (accuracy {percent(res.model(name).accuracy)})")
    for col in ("class", "images", "errors", "u", "most often predicted as", "v"):
        t.add_column(col, justify="left" if col in ("class", "most often predicted as") else "right")
    for cls, r in zip(worst.index, worst.itertuples(index=False), strict=True):
        t.add_row(_cls(cls, r.class_index), count(r.n), count(r.errors), percent(r.u),
                  _cls(r.top_target_name, r.top_target) if r.top_target >= 0 else UNDEFINED, number(r.top_v))
    print_table(t)
    top = res.top_confusions(name, by="count")
    t = Table(title=f"{name}: top confusions (true -> predicted)")
    for col in ("true class", "predicted as", "images", "v(pred|true)", "edge"):
        t.add_column(col, justify="left" if col in ("true class", "predicted as") else "right")
    for (true, predicted), r in zip(top.index, top.itertuples(index=False), strict=True):
        t.add_row(_cls(true, r.true_index), _cls(predicted, r.predicted_index), count(r.count), number(r.v),
                  "yes" if r.edge else "")
    print_table(t)


def _print_overview(res: ConfusionResult) -> None:
    t = Table(title=f"Misclassification networks (edge where v(j|i) >= {res.threshold:g})")
    for col in ("model", "accuracy", "classes with errors", "edges", "symmetric pairs",
                "highest in-degree"):
        t.add_column(col, justify="left" if col in ("model", "highest in-degree") else "right")
    for name, r in zip(res.models, res.to_frame().itertuples(index=False), strict=True):
        top = r.top_in_degree_class
        label = (UNDEFINED if top is None else
                 f"{_cls(top, r.top_in_degree_index)}: {number(r.top_in_degree, 2)}")
        t.add_row(name, percent(r.accuracy), count(r.classes_with_errors), count(r.edges),
                  count(r.symmetric_pairs), label)
    print_table(t)
    pats = res.patterns()
    if len(pats):
        counts = pats["pattern"].value_counts()
        console.print("Confusion patterns over linked class pairs: "
                      + ", ".join(f"{k}: {count(v)}" for k, v in counts.items()))
        shown = res.universal_patterns().head(res.top_classes)
        cells = res.pattern_cells("universal").head(res.top_classes)
        if len(shown) and len(res.models) > 1:
            t = Table(title="Universal patterns (linked in every model), most errors first")
            for col in ("class a", "class b", "kind", "per model", "errors"):
                t.add_column(col, justify="right" if col == "errors" else "left")
            arrows = {"symmetric": "<->", "a->b": "->", "b->a": "<-"}
            for (a, b), r, per in zip(shown.index, shown.itertuples(index=False), cells.to_numpy(),
                                      strict=True):
                t.add_row(_cls(a, r.a_index), _cls(b, r.b_index), r.kind, " ".join(arrows[x] for x in per),
                          count(r.errors))
            print_table(t)
    else:
        console.print("No class pair is linked in any model's network.")
    h = res.homogeneity
    if h.test is None:
        console.print(f"Chi-squared homogeneity of class-wise errors: not computed ({h.undefined}).")
    else:
        console.print(
            "Chi-squared homogeneity of class-wise errors across models: "
            f"chi2 = {number(h.test.statistic, 2)}, dof = {count(h.test.dof)}, p = {p_value(h.test.p)} "
            f"({plural(len(h.kept_classes), 'class', 'classes')}"
            + (f"; dropped {count(len(h.dropped_classes))} without errors in any model"
               if len(h.dropped_classes) else "")
            + (f"; models without errors dropped: {', '.join(h.dropped_models)}" if h.dropped_models else "")
            + ")")
        if h.share_expected_below_5 > 0.2:
            console.print(f"  {percent(h.share_expected_below_5)} of the expected counts are below 5: the "
                          "p-value's chi-squared approximation is rough.", style="dim")


def _print_scores(res: ConfusionResult) -> None:
    t = Table(title="Scores of misclassified images: ratio s_true/s_pred, difference s_true - s_pred")
    for col in ("model", "errors", "scored", "true not in top-k", "no scores", "mean ratio", "mean diff."):
        t.add_column(col, justify="left" if col == "model" else "right")
    for name, r in zip(res.models, res.score_summary().itertuples(index=False), strict=True):
        t.add_row(name, count(r.errors), count(r.scored), count(r.outside_topk), count(r.no_scores),
                  number(r.ratio_mean), number(r.difference_mean))
    print_table(t)
    if res.groups is None:
        return
    t = Table(title=f"Group A vs group B: t-tests of A minus B ({UNDEFINED} where undefined)")
    for col in ("model", "quantity", "A: mean (n)", "B: mean (n)", "pooled t (p)", "Welch t (p)",
                "not in top-k A/B"):
        t.add_column(col, justify="left" if col in ("model", "quantity") else "right")
    for name, s in res.scores.items():
        if not s.scored:
            continue
        for c in s.comparisons:
            t.add_row(name, c.quantity, f"{number(c.mean_a)} ({count(c.n_a)})",
                      f"{number(c.mean_b)} ({count(c.n_b)})", _t(c.pooled), _t(c.welch),
                      f"{count(s.outside_a)}/{count(s.outside_b)}")
    print_table(t)


@app.command()
def confusion(
    store: StoreOpt = DEFAULT_STORE_PATH,
    model: Annotated[list[str] | None,
                     typer.Option("--model", "-m", help="Models (repeat). Default: all.")] = None,
    threshold: Annotated[float, typer.Option(
        help="Network edge threshold: an edge i -> j where v(j|i) >= this.", min=0.0, max=1.0)
    ] = DEFAULT_THRESHOLD,
    top_classes: Annotated[int, typer.Option(
        help="Rows in the tables of worst classes, top confusions and universal patterns.", min=1)
    ] = DEFAULT_TOP_CLASSES,
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
    from misclass.workflows.confusion import confusion as run_confusion

    res = run_confusion(store, models=model, threshold=threshold, top_classes=top_classes,
                        group_a=group_a, group_b=group_b, classes=classes)
    if graphml is not None:  # over the memory budget: refused before anything is printed or written
        res = res.write_graphml(graphml)
    for name in res.models:
        _print_model(res, name)
        if res.model(name).unpredicted:
            n_left = res.model(name).unpredicted
            verb = "has no prediction and is" if n_left == 1 else "have no prediction and are"
            console.print(f"{name}: {plural(n_left, 'labelled image')} {verb} left out", style="dim")
    _print_overview(res)
    if any(sc.scored or sc.outside_topk for sc in res.scores.values()):
        _print_scores(res)
    else:
        console.print("Score analysis skipped: no model stored probabilities.", style="dim")
    if res.graphml is not None:
        console.print(f"Wrote {plural(len(res.graphml), 'GraphML network')} to {graphml}")
    if json is not None:
        _write_json(json, res)
