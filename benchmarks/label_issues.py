"""Label errors of the CIFAR-10 test set: misclass label-issues checked against people.

Builds a store from ../shared/data as a user would, all in this run:

- the four published CIFAR ResNets (20, 32, 44, 56 layers) predicted on the 10,000 JPEG test
  images with ``misclass predict`` (probabilities kept: the cleanlab source reads their mean;
  on 2 CPU cores about 10-15 minutes, on a GPU seconds; ``--no-resnets`` skips them, and a
  ``--work`` folder keeps the store so a second run reuses them);
- the 30 models of the CIFAR-10.1 testbed (top-1 lists) with ``misclass import list``;
- CIFAR-10H (about 51 people an image) with ``misclass import votes``.

Then ``misclass.label_issues`` ranks the images, and each ranking is checked against the 275
images of ``cifar10-label-errors/cifar10_mturk.json`` that 5 crowd workers each judged (54
confirmed label errors: fewer than 3 of 5 confirmed the given label). Printed per K = 50, 100,
275, 500 and per ranking (combined, each source alone, combined with equal weights, and
cleanlab's own ranking on ``cifar10_test_pyx.npy`` -- the out-of-sample probabilities the 275
were flagged from -- as the baseline): **recall** of the 54 confirmed errors in the top K, and
**confirmed share**: among the checked images in the top K, the share people confirmed (with
how many were checked). The baseline's top 275 are close to the checked set by construction,
so its recall is an upper bound, not a fair rival; the confirmed share is the fairer figure.

Run: .venv/bin/python benchmarks/label_issues.py [--no-resnets] [--work DIR] [--figure PNG] [--curve PNG]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
KS = (50, 100, 275, 500)
NORMALISE = "#mean=0.485,0.456,0.406#std=0.229,0.224,0.225"


def misclass_cli(args: list, log: io.StringIO) -> None:
    """Run ``misclass ARGS`` in this process, its output into ``log``; stop on failure."""
    from misclass.cli import main

    with contextlib.redirect_stdout(log):
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            if exc.code:
                sys.exit(f"misclass {' '.join(map(str, args))} failed:\n{log.getvalue()[-3000:]}")


def build_store(store: Path, data: Path, *, resnets: bool, log: io.StringIO) -> dict[str, float]:
    """The store of the ResNets (optional), the 30 testbed models and CIFAR-10H; seconds per step."""
    from misclass.store import Store

    jpeg, index = data / "cifar10-jpeg", data / "cifar10-jpeg" / "test_index.csv"
    times = {}
    t = time.perf_counter()
    if resnets:
        weights = data / "cifar10-resnets"
        specs = []
        for d in (20, 32, 44, 56):
            specs += ["-m", f"resnet{d}=cifar-resnet{d}@{weights / f'resnet{d}.th'}{NORMALISE}"]
        misclass_cli(["predict", "--data", f"folder:{jpeg},{index}", *specs, "--save-probs",
                      "--store", store], log)
        times["predict 4 ResNets"] = time.perf_counter() - t
    t = time.perf_counter()
    have = set(Store(store).model_names()) if (store / "samples.parquet").exists() else set()
    lists = sorted((data / "cifar10-testbed" / "original").glob("*_predictions.json"))
    todo = [f for f in lists if f.name[: -len("_predictions.json")] not in have]
    if todo:
        new = []
        if not (store / "samples.parquet").exists():  # a new store: images and class names too
            classes = store.parent / "classes.csv"
            names = sorted(p.name for p in (jpeg / "test").iterdir() if p.is_dir())
            pd.DataFrame({"name": names}).to_csv(classes, index=False)
            new = ["--images", jpeg, "--classes", classes]
        misclass_cli(["import", "list", *todo, "--ids", index, "--strip", "_predictions", *new,
                      "--store", store], log)
    times["import 30 testbed lists"] = time.perf_counter() - t
    t = time.perf_counter()
    if "human-random" not in have:
        misclass_cli(["import", "votes", data / "cifar10h" / "cifar10h-counts.npy", "--ids", index,
                      "--bootstrap", "10", "--store", store], log)
    times["import CIFAR-10H votes"] = time.perf_counter() - t
    return times


def cleanlab_baseline(labels: np.ndarray, pyx: np.ndarray) -> np.ndarray:
    """cleanlab's ranking: the issues ``find_label_issues`` flags, by self-confidence, then the
    other images by label quality."""
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    flagged = find_label_issues(labels, pyx, return_indices_ranked_by="self_confidence", n_jobs=1)
    quality = get_label_quality_scores(labels, pyx)
    rest = np.setdiff1d(np.arange(len(labels)), flagged)
    return np.concatenate([flagged, rest[np.argsort(quality[rest], kind="stable")]])


def table(rankings: dict[str, np.ndarray], confirmed: np.ndarray, checked: np.ndarray) -> pd.DataFrame:
    """recall@K, confirmed share@K and checked@K per ranking (rows) and K (columns)."""
    from misclass.analysis.label_issues import check_ranking

    rows = {}
    for name, order in rankings.items():
        c = check_ranking(order, confirmed, checked, ks=KS)
        row = {}
        for k in KS:
            row[("recall", k)] = c.loc[k, "recall"]
            row[("confirmed share", k)] = c.loc[k, "confirmed_share"]
            row[("checked", k)] = c.loc[k, "checked"]
        rows[name] = row
    return pd.DataFrame(rows).T


def markdown(frame: pd.DataFrame) -> str:
    """The table as Markdown: recall and confirmed share (checked images) per K."""
    head = "| ranking | " + " | ".join(f"recall@{k}" for k in KS) + " | " + \
        " | ".join(f"confirmed@{k} (checked)" for k in KS) + " |"
    lines = [head, "|" + "---|" * (1 + 2 * len(KS))]
    for name, row in frame.iterrows():
        rec = [f"{100 * row[('recall', k)]:.1f}%" for k in KS]
        con = [f"{100 * row[('confirmed share', k)]:.1f}% ({int(row[('checked', k)])})" for k in KS]
        lines.append(f"| {name} | " + " | ".join(rec + con) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder")
    parser.add_argument("--work", type=Path, default=None, help="keep the store here (reused if there)")
    parser.add_argument("--no-resnets", dest="resnets", action="store_false",
                        help="leave out the four ResNets (and with them the cleanlab source)")
    parser.add_argument("--figure", type=Path, default=None, help="write the gallery of the top 24 here")
    parser.add_argument("--curve", type=Path, default=None,
                        help="write the confirmed share per K of each ranking here")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    need = ["cifar10-jpeg", "cifar10-testbed", "cifar10h", "cifar10-label-errors"] + \
        (["cifar10-resnets"] if args.resnets else [])
    missing = [d for d in need if not (args.data / d).is_dir()]
    if missing:
        sys.exit(f"{args.data}: missing {', '.join(missing)} (the shared CIFAR-10 data)")

    import misclass

    work = args.work or Path(tempfile.mkdtemp(prefix="label-issues-"))
    store = work / "store"
    log = io.StringIO()
    times = build_store(store, args.data, resnets=args.resnets, log=log)
    s = misclass.open_store(store)
    t = time.perf_counter()
    res = misclass.label_issues(s, seed=args.seed)
    times["label_issues (all sources, weights learned)"] = time.perf_counter() - t
    equal = misclass.label_issues(s, seed=args.seed, weights={x: 1.0 for x in res.sources})

    # join: store rows <-> CIFAR-10 test indices (test_index.csv)
    index = pd.read_csv(args.data / "cifar10-jpeg" / "test_index.csv")
    row_of_test = pd.Series(np.arange(s.n_samples), index=s.sample_ids()).loc[index["file_name"]].to_numpy()
    mturk = json.loads((args.data / "cifar10-label-errors" / "cifar10_mturk.json").read_text())
    checked = np.zeros(s.n_samples, dtype=bool)
    confirmed = np.zeros(s.n_samples, dtype=bool)
    for item in mturk:
        row = row_of_test[item["id"]]
        checked[row] = True
        confirmed[row] = item["mturk"]["given"] < 3
    labels_test = np.load(args.data / "cifar10-label-errors" / "cifar10_test_labels.npy")
    assert (s.labels()[row_of_test] == labels_test).all(), "store labels differ from cifar10_test_labels.npy"
    pyx = np.load(args.data / "cifar10-label-errors" / "cifar10_test_pyx.npy")
    t = time.perf_counter()
    baseline = row_of_test[cleanlab_baseline(labels_test, pyx)]
    times["cleanlab baseline on cifar10_test_pyx.npy"] = time.perf_counter() - t

    from misclass.analysis.label_issues import rank_by_score

    rankings = {"combined (learned weights)": res.order, "combined (equal weights)": equal.order}
    for name, src in res.sources.items():
        label = {"models": f"models: 30 testbed{' + 4 ResNets' if args.resnets else ''}, top-1",
                 "cleanlab": "cleanlab on the 4 ResNets' mean probabilities",
                 "votes": "votes: CIFAR-10H"}.get(name, name)
        rankings[label] = rank_by_score(src.logit)
    rankings["baseline: cleanlab on cifar10_test_pyx.npy"] = baseline
    frame = table(rankings, confirmed, checked)

    print(f"store {store}: {s.n_samples:,} images, {len(s.model_names())} predictors "
          f"({', '.join(res.sources)} sources)")
    for step, sec in times.items():
        print(f"  {step}: {sec:.1f} s")
    print("\nweights (learned on planted label errors):")
    print(res.weights_frame().to_string(float_format=lambda x: f"{x:.4f}"))
    print(f"  intercept {res.weights.intercept:+.4f}, {res.weights.n_planted} planted")
    print(f"\nagainst the 275 images people checked ({int(confirmed.sum())} confirmed label errors):\n")
    print(markdown(frame))
    top = res.to_frame().head(10)[["sample_id", "given_name", "suggested_name", "score", "agree"]]
    print("\ntop 10:\n" + top.to_string())
    acc = res.accuracy_frame()
    models = acc[acc["kind"] == "model"].sort_values("rank_change")
    print("\naccuracy on the corrected labels (largest rank changes):")
    print(pd.concat([models.head(3), models.tail(3)])[["original", "corrected", "rank_original",
                                                        "rank_corrected", "rank_change"]].to_string())
    fixed = int(((res.combined.score >= res.threshold) & (res.labels >= 0)).sum())
    print(f"  {fixed} labels corrected (combined score >= {res.threshold})")
    if args.curve is not None:
        from misclass.analysis.label_issues import check_ranking
        from misclass.report.figures import save_figure
        from misclass.report.label_issue_figures import precision_figure

        short = dict(zip(rankings, ["combined", "equal weights", *res.sources, "baseline"], strict=True))
        ks = (25, 50, 100, 200, 275, 500, 1000)
        curve = pd.DataFrame({short[n]: check_ranking(o, confirmed, checked, ks=ks)["confirmed_share"]
                              for n, o in rankings.items()})
        fig = precision_figure(curve, reference="the 275 images crowd workers checked")
        args.curve.parent.mkdir(parents=True, exist_ok=True)
        save_figure(fig, args.curve.parent, args.curve.stem)
        print(f"wrote {args.curve.with_suffix('.png')} and .svg")
    if args.figure is not None:
        from misclass.report.figures import save_figure
        from misclass.report.sections.label_issues import gallery_figure

        fig = gallery_figure(s, res)
        args.figure.parent.mkdir(parents=True, exist_ok=True)
        stem = save_figure(fig, args.figure.parent, args.figure.stem)
        print(f"\nwrote {args.figure.parent / stem.split('/')[-1]}.png and .svg")


if __name__ == "__main__":
    main()
