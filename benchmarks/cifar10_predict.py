"""``misclass predict`` of the four published CIFAR-10 ResNets against a plain per-model loop,
on the real CIFAR-10 JPEG test images (../shared/data).

1. **plain loop, per model** (what a user writes by hand): for each of resnet20/32/44/56, load
   the published state dict into the architecture, then for each batch open and decode every
   JPEG with PIL, normalise, stack, forward under ``torch.inference_mode()``, softmax. Each
   model decodes all the images again.
2. **misclass**: ``misclass predict --data folder:... -m cifar-resnet20@... (x4) --save-probs
   --save-logits --save-features`` in the same process: one pass, each JPEG decoded once for
   all four models, everything written to a store.

Both use the same CPU threads and batch size. Prints each method's seconds and images/s, the
ratio plain / misclass (above 1: misclass is faster), and checks that both give the same
top-1 and the README's accuracies. Other processes on the cores slow both; the load average
is printed.

    python benchmarks/cifar10_predict.py                 # the 10,000 test images
    python benchmarks/cifar10_predict.py --limit 2000    # a quicker run on the first 2,000
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from cifar10_data import DATA, DEPTHS, MEAN, STD, predict_resnets


def plain_loop(depth: int, weights: Path, files: list[Path], batch_size: int) -> tuple[np.ndarray, float]:
    """One model, one pass: load the weights, decode every JPEG, forward. (top-1, seconds)."""
    import torch
    from PIL import Image

    from misclass.engine.cifar_resnet import cifar_resnet

    start = time.perf_counter()
    state = torch.load(weights, map_location="cpu")["state_dict"]
    model = cifar_resnet(depth, num_classes=10)
    model.load_state_dict({k.removeprefix("module."): v for k, v in state.items()}, strict=False)
    model.eval()
    mean, std = torch.tensor(MEAN).view(1, 3, 1, 1), torch.tensor(STD).view(1, 3, 1, 1)
    top1 = []
    with torch.inference_mode():
        for i in range(0, len(files), batch_size):
            x = torch.stack([torch.from_numpy(np.array(Image.open(p).convert("RGB"))).permute(2, 0, 1)
                             for p in files[i:i + batch_size]]).float().div(255)
            probs = model((x - mean) / std).softmax(dim=1)
            top1.append(probs.argmax(dim=1).numpy())
    return np.concatenate(top1), time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA, help="the shared data folder (../shared/data)")
    ap.add_argument("--limit", type=int, default=None, help="only the first N test images (original order)")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads for both (default 2)")
    ap.add_argument("--batch-size", type=int, default=500)
    ap.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
    args = ap.parse_args(argv)

    import pandas as pd
    import torch

    from misclass.store import Store

    jpeg, weights = args.data / "cifar10-jpeg", args.data / "cifar10-resnets"
    if not (jpeg / "test_index.csv").is_file():
        print(f"CIFAR-10 JPEG images not found under {args.data}", file=sys.stderr)
        return 2
    index = pd.read_csv(jpeg / "test_index.csv")
    if args.limit:
        index = index.iloc[: args.limit]
    files = [jpeg / f for f in index["file_name"]]
    labels = index["label"].to_numpy()
    torch.set_num_threads(args.threads)
    print(f"{len(files):,} CIFAR-10 JPEG test images, 4 ResNets, torch {torch.__version__}, "
          f"{args.threads} threads, batch {args.batch_size}, load average {os.getloadavg()[0]:.2f}")

    plain, plain_top1 = {}, {}
    for d in DEPTHS:
        plain_top1[d], plain[d] = plain_loop(d, weights / f"resnet{d}.th", files, args.batch_size)
        acc = 100 * (plain_top1[d] == labels).mean()
        print(f"  plain loop resnet{d}: {plain[d]:.1f} s, top-1 {acc:.2f}%")

    with tempfile.TemporaryDirectory(prefix="misclass-cifar10-") as tmp:
        csv = Path(tmp) / "index.csv"
        index.to_csv(csv, index=False)
        engine = predict_resnets(args.data, Path(tmp) / "store", threads=args.threads,
                                 batch_size=args.batch_size, index=csv,
                                 save=("--save-probs", "--save-logits", "--save-features"))
        s = Store(Path(tmp) / "store")
        same = {d: bool(np.array_equal(s.read_model(f"resnet{d}").topk_ids[:, 0], plain_top1[d]))
                for d in DEPTHS}
        accuracy = {f"resnet{d}": s.model_metadata(f"resnet{d}")["top1"] for d in DEPTHS}

    total = sum(plain.values())
    n = len(files)
    print(f"plain per-model loop: {total:.1f} s ({4 * n / total:,.0f} image-model passes/s)")
    print(f"misclass predict:     {engine:.1f} s ({4 * n / engine:,.0f} image-model passes/s; "
          "also writes probabilities, logits and features to a store)")
    print(f"ratio plain / misclass: {total / engine:.2f}")
    print("top-1: " + ", ".join(f"{k} {100 * v:.2f}%" for k, v in accuracy.items())
          + f"; same top-1 as the plain loop: {all(same.values())}")
    result = {"images": n, "threads": args.threads, "batch_size": args.batch_size, "plain_s": plain,
              "plain_total_s": total, "misclass_s": engine, "ratio_plain_over_misclass": total / engine,
              "top1": accuracy, "same_top1": same, "load_average_end": os.getloadavg()[0]}
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0 if all(same.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
