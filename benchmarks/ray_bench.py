"""The same misclass predict job with the local engine and on a local Ray instance (2 workers).

    .venv/bin/python benchmarks/ray_bench.py [--images 512] [--shard-size 128]

Generates an image folder (random sizes, three classes), runs two random-weight timm models
over it with the local engine (torch on 2 threads) and with ``predict_models_ray`` on
``ray.init(num_cpus=2)`` (2 tasks at a time, 1 thread each), checks the stores hold the same
top-k ids, and prints the times side by side. The point is Ray's overhead (start-up, worker
processes importing torch, shipping the models). With ``workers=0`` the local engine decodes
in its main process while two Ray tasks decode in two processes, so on 2 cores warm Ray
workers can come out ahead of the local engine; ``--workers`` closes most of that gap locally.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def make_folder(root: Path, n: int) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(n):
        c = i % 3
        folder = root / ("cat", "dog", "frog")[c]
        folder.mkdir(parents=True, exist_ok=True)
        h, w = int(rng.integers(64, 160)), int(rng.integers(64, 160))
        base = np.zeros((h, w, 3), np.uint8)
        base[..., c] = 200
        img = np.clip(base + rng.normal(0, 40, (h, w, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(folder / f"{i:05d}.jpg")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=512)
    ap.add_argument("--shard-size", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=32)
    args = ap.parse_args()

    import ray
    import torch

    from misclass.data import load_folder
    from misclass.engine.core import EngineOptions, predict_models, prepare_store
    from misclass.engine.ray_engine import predict_models_ray
    from misclass.engine.specs import load_model

    specs = ("timm:test_resnet", "timm:test_efficientnet")
    opts = EngineOptions(batch_size=args.batch_size, workers=0, shard_size=args.shard_size, k=3)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_folder(root / "images", args.images)
        dataset = load_folder(root / "images")
        models = [load_model(s, num_classes=3) for s in specs]

        torch.set_num_threads(2)
        local_times = []
        for run in ("first", "warm"):  # the first run pays for one-off imports and kernel set-up
            local = prepare_store(root / f"local-{run}", dataset)
            t = time.perf_counter()
            predict_models(dataset, models, local, opts, progress=False)
            local_times.append(time.perf_counter() - t)
        t_local = local_times[1]

        t = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        t_init = time.perf_counter() - t
        try:
            times = []
            for run in ("first", "warm"):
                store = prepare_store(root / f"ray-{run}", dataset)
                t = time.perf_counter()
                predict_models_ray(dataset, models, store, opts, progress=False)
                times.append(time.perf_counter() - t)
        finally:
            ray.shutdown()
        same = all(np.array_equal(local.read_model(m.name).topk_ids, store.read_model(m.name).topk_ids)
                   for m in models)

    n_shards = -(-args.images // args.shard_size)
    print(f"{args.images} images, 2 models ({', '.join(specs)}), {n_shards} shards of {args.shard_size}, "
          f"batch {args.batch_size}, CPU")
    print(f"{'run':<34}{'seconds':>9}{'images/s':>10}{'x local warm':>14}")
    rows = [("local engine (2 threads), first", local_times[0]), ("local engine (2 threads), warm", t_local),
            ("ray.init(num_cpus=2)", t_init),
            ("ray, 2 workers, first run", times[0]), ("ray, 2 workers, warm workers", times[1]),
            ("ray incl. init, first run", t_init + times[0])]
    for name, sec in rows:
        rate = f"{args.images / sec:,.1f}" if "init(" not in name else ""
        print(f"{name:<34}{sec:>9.2f}{rate:>10}{sec / t_local:>14.2f}")
    print(f"same top-k ids as the local engine: {same}")


if __name__ == "__main__":
    main()
