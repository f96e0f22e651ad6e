"""Failure prediction on real models and real images: ``misclass failure``'s learned predictor
against maximum softmax probability (MSP), judged on held-out CIFAR-10 test images.

The store holds the four published CIFAR-10 ResNets (resnet20/32/44/56) predicted on the
10,000 CIFAR-10 JPEG test images with logits and features (``misclass predict``; give
``--store`` to reuse one, else it is made here, which takes minutes on 2 cores). For each
model of the store, :func:`misclass.failure` splits the images 50:50 (error-stratified, seeded) into a
calibration half, on which the learned predictor (logistic regression on every score: MSP,
margin, entropy, energy, feature distances, the other ResNets' disagreement, image
statistics) is fitted, and a test half on which both are judged: AUROC of telling errors
apart (higher is better) and AURC, the area under the risk-coverage curve (lower is better).
Repeated over several seeds (splits); means are printed.

Only models go in the store: people's votes (``import votes``) would make ``disagreement``
a copy of the label.

Prints per model and seed the AUROC and AURC of both, then the mean AUROC gain of the learned
predictor and the ratio mean AURC(MSP) / mean AURC(learned) (above 1: the learned predictor
ranks errors better).

    python benchmarks/cifar10_failure.py --store cifar10-store     # a store of the four ResNets
    python benchmarks/cifar10_failure.py --seeds 5
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from cifar10_data import DATA, resnet_store


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", type=Path, default=None,
                    help="a store of the four ResNets (default: make one)")
    ap.add_argument("--data", type=Path, default=DATA, help="the shared data folder (../shared/data)")
    ap.add_argument("--seeds", type=int, default=3, help="calibration/test splits (default 3)")
    ap.add_argument("--learner", default="logistic", choices=["logistic", "boosting"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
    args = ap.parse_args(argv)

    import misclass
    from misclass.store import Store

    store, _tmp = resnet_store(args.store, args.data, threads=args.threads)
    s = Store(store)
    names = s.model_names()  # every model: the others give each its disagreement score
    if not names:
        print(f"{store}: no model; make the store with misclass predict (see --help)", file=sys.stderr)
        return 2
    humans = [n for n in names if s.model_metadata(n).get("kind") == "human"]
    if humans:
        print(f"{store} holds people ({', '.join(humans)}): their answers make disagreement a copy of the "
              "label; use a store of models only", file=sys.stderr)
        return 2
    print(f"{store}: {', '.join(s.model_names())}; {len(s.sample_ids()):,} images; learner {args.learner}; "
          f"{args.seeds} seeds; load average {os.getloadavg()[0]:.2f}")
    rows = []
    t0 = time.perf_counter()
    for seed in range(args.seeds):
        res = misclass.failure(s, models=names, learner=args.learner, seed=seed).to_dict()["models"]
        for name in names:
            msp, learned = res[name]["scores"]["msp"], res[name]["learned"]
            rows.append({"model": name, "seed": seed, "n_test": msp["n"], "errors": msp["n_errors"],
                         "msp_auroc": msp["auroc"], "learned_auroc": learned["auroc"],
                         "msp_aurc": msp["aurc"], "learned_aurc": learned["aurc"]})
            r = rows[-1]
            print(f"  {name} seed {seed}: {r['errors']} errors of {r['n_test']}; "
                  f"AUROC msp {r['msp_auroc']:.4f} learned {r['learned_auroc']:.4f}; "
                  f"AURC msp {r['msp_aurc']:.4f} learned {r['learned_aurc']:.4f}")
    seconds = time.perf_counter() - t0
    mean = {k: float(np.mean([r[k] for r in rows])) for k in ("msp_auroc", "learned_auroc", "msp_aurc",
                                                             "learned_aurc")}
    print(f"mean over {len(names)} models x {args.seeds} seeds: AUROC msp {mean['msp_auroc']:.4f}, learned "
          f"{mean['learned_auroc']:.4f} (gain {mean['learned_auroc'] - mean['msp_auroc']:+.4f}); AURC msp "
          f"{mean['msp_aurc']:.4f}, learned {mean['learned_aurc']:.4f}")
    print(f"ratio AURC(msp) / AURC(learned): {mean['msp_aurc'] / mean['learned_aurc']:.2f} "
          f"({seconds:.0f} s for the failure runs)")
    if args.json:
        ratio = mean["msp_aurc"] / mean["learned_aurc"]
        args.json.write_text(json.dumps({"rows": rows, "mean": mean, "seconds": seconds,
                                         "ratio_aurc_msp_over_learned": ratio}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
