"""Failure detection on held-out images: each score's AUROC and AURC and the learned
predictor's, with the mean gain of the learned predictor over maximum softmax probability.

Models: the builtin scikit-learn zoo on digits (trained on half of the 1,797 images, so the
other half, 899 images, can be split into calibration and test), and, when the torch extra is
installed, the builtin digits CNNs trained by the engine on the same split. Each model is
judged over several calibration/test splits (seeds) and the figures are averaged.

Target: the learned predictor beats maximum softmax probability on AUROC on average over
models. This script reports what it measures, whichever way it falls.

Run: .venv/bin/python benchmarks/failure_bench.py [--seeds 5] [--learner logistic|boosting]
"""

from __future__ import annotations

import argparse
import sys
import time
from types import SimpleNamespace

import numpy as np
import pandas as pd

from misclass.analysis.failure import analyze_failures
from misclass.analysis.failure_scores import ScoreInputs
from misclass.analysis.image_stats import image_statistics
from misclass.data import load_digits
from misclass.zoo import train_zoo


def cnn_predictions(data, seed):
    """Held-out predictions of the builtin digits CNN zoo, trained by misclass's training loop
    on ``data``'s train split (None without torch)."""
    import importlib.util
    import tempfile

    if importlib.util.find_spec("torch") is None:
        return None
    from misclass.store import Store
    from misclass.training.run import train_cnn_zoo

    with tempfile.TemporaryDirectory() as tmp:
        train_cnn_zoo(data, f"{tmp}/store", seed=seed, progress=False)
        store = Store(f"{tmp}/store")
        test = data.split("test")
        ids = test.samples["sample_id"].astype(str).to_numpy()
        assert np.array_equal(store.sample_ids(), ids), "the store keeps the test split's order"
        return [SimpleNamespace(name=name, probs=store.read_probs(name),
                                topk_probs=store.read_model(name).topk_probs,
                                features=store.read_features(name))
                for name in store.model_names()]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=5, help="calibration/test splits per model")
    ap.add_argument("--learner", default="logistic", choices=["logistic", "boosting"])
    args = ap.parse_args()
    t0 = time.perf_counter()
    data = load_digits(seed=0, test_size=0.5)
    train, test = data.split("train"), data.split("test")
    runs = [(r.name, "sklearn", r.probs, r.topk_probs, None) for r in
            train_zoo(train.images, train.labels, test.images, n_classes=10, seed=0)]
    cnns = cnn_predictions(data, 0)
    if cnns is None:
        print("note: torch is not installed; judging the scikit-learn zoo only")
    else:
        runs += [(r.name, "cnn", r.probs, r.topk_probs, getattr(r, "features", None)) for r in cnns]
    top1 = np.stack([np.asarray(r[2]).argmax(1) for r in runs], axis=1)
    stats = image_statistics(test.images)
    rows = []
    for j, (name, family, probs, topk_probs, feats) in enumerate(runs):
        inputs = ScoreInputs(top1=top1[:, j], labels=test.labels, probs=probs, topk_probs=topk_probs,
                             features=feats, other_top1=np.delete(top1, j, axis=1))
        for seed in range(args.seeds):
            res = analyze_failures(name, inputs, image_features=stats, learner=args.learner, seed=seed)
            entries = dict(res.metrics)
            if res.learned is not None:
                entries["learned"] = res.learned
            solo = ScoreInputs(top1=top1[:, j], labels=test.labels, probs=probs, topk_probs=topk_probs,
                               features=feats)
            res_solo = analyze_failures(name, solo, image_features=stats, learner=args.learner, seed=seed)
            if res_solo.learned is not None:
                entries["learned_solo"] = res_solo.learned
            for score, m in entries.items():
                rows.append({"model": name, "family": family, "seed": seed, "score": score,
                             "auroc": m.auroc, "aurc": m.aurc, "errors": m.n_errors, "n": m.n})
    df = pd.DataFrame(rows)
    by = df.groupby(["model", "score"])[["auroc", "aurc"]].mean().unstack("score")
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 30)
    print(f"{len(test)} held-out digits, split {len(test) // 2}/{len(test) - len(test) // 2} into "
          f"calibration/test, {args.seeds} seeds, learner {args.learner}")
    print("\nAUROC (errors vs correct; higher is better), mean over seeds:")
    print(by["auroc"].round(3).to_string())
    print("\nAURC (lower is better), mean over seeds:")
    print(by["aurc"].round(4).to_string())
    wide = by["auroc"]
    ok = wide[["msp", "learned"]].dropna()
    gain = (ok["learned"] - ok["msp"])
    print("\nlearned - msp AUROC per model: " + ", ".join(f"{m} {g:+.3f}" for m, g in gain.items()))
    print(f"mean AUROC gain of the learned predictor over msp: {gain.mean():+.3f} "
          f"({'better' if gain.mean() > 0 else 'not better'} on average; "
          f"better for {(gain > 0).sum()} of {len(gain)} models)")
    solo = (wide["learned_solo"] - wide["msp"]).dropna()
    print(f"without the other models (no disagreement input), learned_solo - msp AUROC: mean "
          f"{solo.mean():+.3f}, better for {(solo > 0).sum()} of {len(solo)} models")
    aurc_gain = (by["aurc"]["msp"] - by["aurc"]["learned"]).dropna()
    print(f"mean AURC reduction of the learned predictor over msp: {aurc_gain.mean():+.4f}")
    print(f"time: {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
