"""``misclass explain``: saliency maps and saliency-guided erasure with a random control."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.box import SIMPLE_HEAD
from rich.table import Table

from misclass.cli.app import DEFAULT_STORE_PATH, JsonOpt, StoreOpt, app, console, print_table, write_json
from misclass.cli.predict import DeviceOpt, ThreadsOpt
from misclass.format import count, number, p_value, percent

if TYPE_CHECKING:
    from misclass.workflows.explain import ExplainResult


@app.command()
def explain(
    model: Annotated[str, typer.Option("--model", "-m", help=(
        "A torch model in the store (trained by 'misclass train' or stored by 'misclass predict') or a "
        "model spec such as ckpt:PATH or timm:NAME@PATH."))],
    store: StoreOpt = DEFAULT_STORE_PATH,
    images: Annotated[str | None, typer.Option(
        help="Comma-separated sample ids to explain (default: every misclassified image).")] = None,
    pairs: Annotated[str | None, typer.Option(
        help="Only misclassified images of these TRUE:PREDICTED pairs, e.g. ship:airplane,cat:dog.")] = None,
    method: Annotated[str, typer.Option(
        help="Saliency: gradcam, gradient, smoothgrad or integrated-gradients.")] = "gradcam",
    target: Annotated[str, typer.Option(
        help="Class the saliency explains: predicted or true.")] = "predicted",
    top_percent: Annotated[float, typer.Option(
        "--top-percent", help="Share of the most salient pixels boxes are put around (%).")] = 5.0,
    box: Annotated[str | None, typer.Option(
        help="Box DXxDY in pixels around each top pixel (default: 1/8 of the image side, 4x4 at 32x32).")
    ] = None,
    fill: Annotated[str, typer.Option(help="Erased pixels become: zero (black), mean (dataset mean "
                                           "colour) or blur.")] = "zero",
    merge: Annotated[bool, typer.Option("--merge/--no-merge", help="Merge overlapping boxes.")] = True,
    spare: Annotated[str | None, typer.Option(help=(
        "Never erase these pixels: 'object' (the samples' object_y0..object_x1 columns) or Y0,X0,Y1,X1."))
    ] = None,
    correct: Annotated[int | None, typer.Option(help=(
        "Correctly classified control images (default: as many as misclassified, at most 500)."), min=0)
    ] = None,
    sweep: Annotated[bool, typer.Option("--sweep/--no-sweep", help="Also sweep top % and box size.")] = True,
    sweep_percents: Annotated[str, typer.Option(help="Top shares (%) of the sweep.")] = "1,2,5,10,20",
    sweep_boxes: Annotated[str | None, typer.Option(
        help="Boxes of the sweep, e.g. 2x2,4x4,8x8 (default: 1/16, 1/8, 1/4 of the side).")] = None,
    threshold: Annotated[float, typer.Option(
        help="Network threshold on v(j|i) for the pairs' symmetric / one-way type.", min=0.0, max=1.0)] = 0.3,
    seed: Annotated[int, typer.Option(help="Seed of the control images, random boxes and SmoothGrad.")] = 0,
    device: DeviceOpt = "cpu",
    threads: ThreadsOpt = None,
    json: JsonOpt = None,
) -> None:
    """Explain errors with saliency maps and test the explanation by erasing what is salient.

    For each misclassified image (and as many correctly classified controls) the saliency
    map towards the predicted class is computed; boxes around its top pixels are merged,
    filled and the image reclassified: fixed, moved to another wrong class, unchanged, or
    (controls) broken. A random-box control erases the same number of pixels elsewhere;
    McNemar's test compares the two. Results are also saved in STORE/explain/ for
    'misclass report'.

    Example: misclass explain --store S --model cnn-plain --top-percent 5 --box 4x4 --fill zero
    """
    from misclass.workflows.explain import explain as run_explain

    res = run_explain(store, model=model, images=images, pairs=pairs, method=method, target=target,
                      top_percent=top_percent, box=box, fill=fill, merge=merge, spare=spare, correct=correct,
                      sweep=sweep, sweep_percents=sweep_percents, sweep_boxes=sweep_boxes,
                      threshold=threshold, seed=seed, device=device, threads=threads, console=console)
    _print(res)
    console.print(f"Saved for the report: {Path(res.saved).resolve()}")
    write_json(json, res.to_dict())


def _print(res: ExplainResult) -> None:
    d = res.payload
    acc = d["accounting"]
    sal, rnd = acc["saliency"], acc["random"]
    table = Table(box=SIMPLE_HEAD, title=f"{res.model}: {d['method']} saliency towards the {d['target']} "
                        f"class, top {d['top_percent']:g}% pixels, {d['box']} boxes, fill {d['fill']} "
                        f"({percent(acc['erased_fraction'] or 0, 1)} of pixels erased); random: the same "
                        "number of pixels in boxes at random places")
    for col in ("erasure", "errors", "fixed", "moved", "unchanged", "controls", "broken"):
        table.add_column(col, justify="left" if col == "erasure" else "right")
    for name, a in (("saliency", sal), ("random", rnd)):
        table.add_row(name, count(a["n_misclassified"]), f"{count(a['fixed'])} ({percent(a['fix_rate'])})",
                      count(a["moved"]), count(a["unchanged"]), count(a["n_correct"]),
                      f"{count(a['broken'])} ({percent(a['break_rate'])})")
    print_table(table)
    f, b = d["mcnemar"]["fixes"], d["mcnemar"]["breaks"]
    console.print(f"McNemar, fixes: {count(f['b'])} fixed only by saliency erasure, {count(f['c'])} only by "
                  f"random; exact p = {p_value(f['p_exact'])}, chi2 = {number(f['chi2'], 2)} "
                  f"(p = {p_value(f['p_chi2'])}). Breaks: {count(b['b'])} vs {count(b['c'])}, "
                  f"exact p = {p_value(b['p_exact'])}.")
    pairs = res.pairs().reset_index()
    if len(pairs):
        pt = Table(box=SIMPLE_HEAD,
                   title="Per confusion pair, true -> predicted (most misclassified images first)")
        for col in ("pair", "images", "fixed", "random", "p", "label", "confusion type"):
            pt.add_column(col, justify="right" if col in ("images", "fixed", "random", "p") else "left")
        for r in pairs.head(15).itertuples():
            pt.add_row(f"{r.true_name} -> {r.predicted_name}", count(r.n), percent(r.fix_rate),
                       percent(r.random_fix_rate), p_value(r.p), r.label, r.confusion_type)
        print_table(pt)
    sweep = res.sweep()
    if sweep is not None and len(sweep):
        st = Table(box=SIMPLE_HEAD, title="Sweep: top % x box size (net gain = fixes - breaks)")
        for col in ("top %", "box", "erased", "fixes", "breaks", "net gain", "random fixes", "p (fixes)"):
            st.add_column(col, justify="right")
        for r in sweep.reset_index().itertuples():
            mark = " *" if r.best else ""
            st.add_row(f"{r.top_percent:g}", r.box, percent(r.erased_fraction), count(r.fixes),
                       count(r.breaks), f"{r.net_gain:+,}{mark}", count(r.random_fixes), p_value(r.p_fixes))
        print_table(st)
    p = d.get("planted")
    if p:
        m, fr, rr = p["saliency_mass_in_patch"], p["fix_rate"], p["random_fix_rate"]
        console.print(
            f"Planted cause: saliency mass inside the patch {percent(m['planted_errors'])} on planted "
            "errors, "
            f"{percent(m['other_errors'])} on other errors (patch area {percent(p['patch_area_fraction'])}). "
            "Fix rate: "
            f"planted errors {percent(fr['planted_errors'])} (random {percent(rr['planted_errors'])}, n = "
            f"{count(p['planted_errors'])}), other errors {percent(fr['other_errors'])} (random "
            f"{percent(rr['other_errors'])}, n = {count(p['other_errors'])}); McNemar on planted errors p = "
            f"{p_value(p['mcnemar_planted_errors']['p_exact'])}.")
