"""Judge saliency-guided erasure on the planted-cause dataset.

For each seed: build planted-digits, train a small CNN with misclass's training loop (its
test predictions go through the engine into a store), then run ``explain_model`` with each
saliency method at the issue's default setting (top 5%, 4x4 boxes, zero fill) and at a
smaller one (top 1%, 2x2 boxes). Reported per run: test accuracy, saliency mass inside the
patch (planted errors; the patch covers 1.56% of the image), the fix rate on planted
errors (predicted as the patch's class) and on other errors (images without a patch), the
random control's fix rates, McNemar's exact p (saliency vs random, planted errors) and
Fisher's one-sided p (planted errors fixed more often than other errors).

The CNN: cnn-plain, 16 first-stage channels, Adam (lr 0.003, cosine decay), batch 32, 20
epochs, the best validation epoch. Run (about 40 s per seed on one CPU core)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/explain_planted.py --seeds 0,1,2,3,4 --out planted.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

METHODS = ("gradcam", "gradient", "smoothgrad", "integrated-gradients")
SETTINGS = ((5.0, (4, 4)), (1.0, (2, 2)))


def run_seed(seed: int, root: Path, epochs: int, width: int) -> list[dict]:
    import torch

    from misclass.data.planted import load_planted_digits
    from misclass.explain import ExplainOptions, explain_model, load_explain_model
    from misclass.store import Store
    from misclass.training.loop import TrainConfig
    from misclass.training.run import train_and_predict

    torch.set_num_threads(1)
    store_path = root / f"seed{seed}"
    dataset = load_planted_digits(seed=seed)
    config = TrainConfig(epochs=epochs, batch_size=32, lr=0.003, optimizer="adam", weight_decay=0.0,
                         schedule="cosine", width=width, seed=seed)
    t0 = time.perf_counter()
    train_and_predict(dataset, ["cnn-plain"], store_path, config=config, replace=True,
                      progress=False)
    train_s = time.perf_counter() - t0
    store = Store(store_path)
    loaded = load_explain_model(store, "cnn-plain")
    rows = []
    for method in METHODS:
        for percent, box in SETTINGS:
            t0 = time.perf_counter()
            run = explain_model(store, loaded, ExplainOptions(method=method, percent=percent, box=box,
                                                              sweep=False, seed=seed), progress=False)
            d = run.to_dict()
            p = d["planted"]
            rows.append({
                "seed": seed, "method": method, "top_percent": percent, "box": d["box"],
                "accuracy": d["accuracy"], "train_s": round(train_s, 1),
                "explain_s": round(time.perf_counter() - t0, 1),
                "erased_fraction": d["accounting"]["erased_fraction"],
                "mass_in_patch_planted": p["saliency_mass_in_patch"]["planted_errors"],
                "mass_in_patch_other": p["saliency_mass_in_patch"]["other_errors"],
                "planted_errors": p["planted_errors"], "other_errors": p["other_errors"],
                "third_class_errors": p["other_planted_image_errors"],
                "fix_planted": p["fix_rate"]["planted_errors"],
                "fix_other": p["fix_rate"]["other_errors"],
                "fix_third_class": p["fix_rate"]["other_planted_image_errors"],
                "random_fix_planted": p["random_fix_rate"]["planted_errors"],
                "random_fix_other": p["random_fix_rate"]["other_errors"],
                "mcnemar_p_planted": p["mcnemar_planted_errors"]["p_exact"],
                "mcnemar_p_all": d["mcnemar"]["fixes"]["p_exact"],
                "fisher_p_planted_vs_other": p["fisher_planted_vs_other"]["p_one_sided"],
                "break_rate": d["accounting"]["saliency"]["break_rate"],
                "random_break_rate": d["accounting"]["random"]["break_rate"],
            })
            print(_line(rows[-1]), flush=True)
    return rows


def _pct(x) -> str:
    return "  -  " if x is None else f"{100 * x:5.1f}"


def _line(r: dict) -> str:
    return (f"seed {r['seed']} {r['method']:>20} top {r['top_percent']:g}% box {r['box']}: "
            f"acc {_pct(r['accuracy'])} | mass in patch {_pct(r['mass_in_patch_planted'])} | fixed: "
            f"planted {_pct(r['fix_planted'])} other {_pct(r['fix_other'])} | random: planted "
            f"{_pct(r['random_fix_planted'])} other {_pct(r['random_fix_other'])} | McNemar p "
            f"{r['mcnemar_p_planted']:.2g} | Fisher p {r['fisher_p_planted_vs_other']:.2g} | "
            f"n {r['planted_errors']}/{r['other_errors']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--out", type=Path, default=None, help="write the rows as JSON here")
    parser.add_argument("--keep", type=Path, default=None, help="keep the stores in this folder")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        rows = [r for s in seeds for r in run_seed(s, root, args.epochs, args.width)]
    import pandas as pd

    df = pd.DataFrame(rows)
    cols = ["mass_in_patch_planted", "fix_planted", "fix_other", "fix_third_class", "random_fix_planted",
            "random_fix_other", "mcnemar_p_planted", "fisher_p_planted_vs_other", "erased_fraction"]
    summary = df.groupby(["method", "top_percent", "box"], sort=False)[cols].mean()
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print("\nMean over seeds", seeds)
        print(summary.round(4).to_string())
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1))
        print(f"Wrote {args.out}")


if __name__ == "__main__":
    main()
