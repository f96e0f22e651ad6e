"""Inference speed: misclass's single pass over several models against separate passes.

Generates JPEG images of ImageNet-like sizes (about 500x375, landscape and portrait) in a
temporary folder and runs three timm models with random weights over them:

1. **plain loop, per model** (what timm's ``inference.py`` does, single process): for each
   model, for each batch: open and decode every JPEG, apply the model's timm transform,
   stack, forward under ``torch.no_grad()``, softmax, top-5. Three separate passes. Run
   twice: with timm's defaults (contiguous tensors) and with misclass's forward settings
   (channels-last, inference mode), so the ratio can be read with and without the forward
   pass's memory-format gain.
2. **misclass**: ``misclass.engine.core.predict_models``: one pass, each JPEG decoded
   once in DataLoader workers, shared preprocessing, top-5 written to a store.
3. **forward only**: the same three forwards (misclass's settings) over tensors decoded and
   preprocessed beforehand: the floor that misclass's overhead is measured against.

Prints images/s of each, the ratio misclass / plain loop (target >= 1.5 on 2 CPU cores)
and misclass's overhead over the forward-only loop (target < 10%). The machine's load
average is printed too: other processes on the cores skew every figure.

    python benchmarks/infer_bench.py                 # 2,000 images (the issue's setting)
    python benchmarks/infer_bench.py --images 200    # a quick run
    python benchmarks/infer_bench.py --repeat 3      # fastest of 3 runs of each method
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

MODELS = "resnet18,mobilenetv3_small_100,efficientnet_b0"


def generate_images(folder: Path, n: int, seed: int = 0) -> list[Path]:
    """``n`` JPEGs of about 500x375: smooth colour fields with texture and noise."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        w, h = int(rng.integers(460, 501)), int(rng.integers(340, 376))
        if i % 3 == 2:
            w, h = h, w
        base = rng.random((h // 32 + 2, w // 32 + 2, 3)) * 255
        img = Image.fromarray(base.astype(np.uint8)).resize((w, h), Image.BICUBIC)
        arr = np.asarray(img, dtype=np.float32) + rng.normal(0, 10, (h, w, 3))
        path = folder / "images" / f"img{i:05d}.jpg"
        path.parent.mkdir(exist_ok=True)
        Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(path, quality=90)
        paths.append(path)
    return paths


def bench_dataset(folder: Path, paths: list[Path]):
    """A 1,000-class dataset over the generated files (labels are arbitrary)."""
    import pandas as pd

    from misclass.data.dataset import Dataset

    rel = [p.relative_to(folder).as_posix() for p in paths]
    samples = pd.DataFrame({"sample_id": rel, "label": np.arange(len(rel)) % 1000, "split": "test",
                            "path": rel})
    classes = pd.DataFrame({"id": [f"c{i}" for i in range(1000)],
                            "name": [f"class {i}" for i in range(1000)]})
    return Dataset(f"folder:{folder}", samples, classes, root=folder)


def plain_loop(model, transform, paths: list[Path], batch_size: int, channels_last: bool) -> float:
    """One model, one pass: decode, transform, forward, top-5. Returns seconds."""
    import torch
    from PIL import Image

    start = time.perf_counter()
    grad = torch.inference_mode() if channels_last else torch.no_grad()
    with grad:
        for i in range(0, len(paths), batch_size):
            x = torch.stack([transform(Image.open(p).convert("RGB")) for p in paths[i:i + batch_size]])
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            probs = model(x).softmax(dim=1)
            probs.topk(5, dim=1)
    return time.perf_counter() - start


def forward_only(models, inputs, batch_size: int) -> float:
    """The same forwards over pre-processed tensors (channels-last, inference mode)."""
    import torch

    n = len(next(iter(inputs.values())))
    start = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, n, batch_size):
            for model, key in models:
                x = inputs[key][i:i + batch_size].contiguous(memory_format=torch.channels_last)
                model(x).softmax(dim=1).topk(5, dim=1)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000, help="how many JPEGs (default 2000)")
    parser.add_argument("--models", default=MODELS, help=f"timm models (default {MODELS})")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=None,
                        help="misclass DataLoader workers (default: auto)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--folder", type=Path, default=None, help="reuse/keep the images here")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
    parser.add_argument("--repeat", type=int, default=1,
                        help="time each method this many times and keep the fastest (other processes "
                             "on the cores only ever slow a run down)")
    args = parser.parse_args(argv)

    import timm
    import torch

    from misclass.engine.core import EngineOptions, predict_models, prepare_store
    from misclass.engine.preprocess import apply_geometry, preprocess_from_transform, scale_batch
    from misclass.engine.specs import LoadedModel

    tmp = tempfile.TemporaryDirectory(prefix="misclass-bench-")
    folder = args.folder or Path(tmp.name) / "data"
    paths = sorted((folder / "images").glob("*.jpg")) if (folder / "images").is_dir() else []
    if len(paths) != args.images:
        t = time.perf_counter()
        paths = generate_images(folder, args.images)
        print(f"generated {len(paths)} JPEGs (about 500x375) in {time.perf_counter() - t:.1f} s")
    device = torch.device(args.device)
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    torch.manual_seed(0)
    models = {n: timm.create_model(n, pretrained=False).eval() for n in names}
    transforms = {n: timm.data.create_transform(**timm.data.resolve_data_config({}, model=m))
                  for n, m in models.items()}
    print(f"torch {torch.__version__}, timm {timm.__version__}, {torch.get_num_threads()} threads, "
          f"device {device}, batch {args.batch_size}, load average {os.getloadavg()[0]:.2f}")

    # warm-up (first-call kernel selection) on a few images, every memory format
    warm = paths[: args.batch_size]
    for n, m in models.items():
        plain_loop(m, transforms[n], warm, args.batch_size, channels_last=False)

    # 1. plain loop, timm defaults
    def best(run):
        return min(run() for _ in range(max(args.repeat, 1)))

    plain = {n: best(lambda n=n, m=m: plain_loop(m, transforms[n], paths, args.batch_size, False))
             for n, m in models.items()}
    # misclass settings (channels-last) for the rest
    for m in models.values():
        m.to(memory_format=torch.channels_last)
        plain_loop(m, transforms[names[0]], warm, args.batch_size, channels_last=True)
    plain_cl = {n: best(lambda n=n, m=m: plain_loop(m, transforms[n], paths, args.batch_size, True))
                for n, m in models.items()}

    # 2. misclass
    dataset = bench_dataset(folder, paths)
    store = prepare_store(Path(tmp.name) / "store", dataset)
    loaded = [LoadedModel(n, m, preprocess_from_transform(transforms[n]), {"source": "timm"})
              for n, m in models.items()]
    opts = EngineOptions(k=5, batch_size=args.batch_size, workers=args.workers, device=args.device,
                         force=True,
                         shard_size=max(args.images, 1))
    engine_times = []
    for _ in range(max(args.repeat, 1)):
        t = time.perf_counter()
        report = predict_models(dataset, loaded, store, opts)
        engine_times.append(time.perf_counter() - t)
    engine_s = min(engine_times)
    n_geo = len({lm.preprocess.geometry_key for lm in loaded})

    # 3. forward only, over tensors prepared beforehand (not timed)
    from PIL import Image

    keys = {lm.name: lm.preprocess.input_key for lm in loaded}
    inputs = {}
    for lm in loaded:
        if keys[lm.name] not in inputs:
            batch = torch.stack([apply_geometry(Image.open(p).convert("RGB"), lm.preprocess) for p in paths])
            inputs[keys[lm.name]] = scale_batch(batch, lm.preprocess, device)
    fwd_s = best(lambda: forward_only([(models[n], keys[n]) for n in names], inputs, args.batch_size))

    n = len(paths)
    base_s, base_cl_s = sum(plain.values()), sum(plain_cl.values())
    result = {
        "images": n, "repeat": args.repeat, "models": names, "batch_size": args.batch_size,
        "threads": torch.get_num_threads(),
        "workers": report.workers, "distinct_preprocessing": n_geo,
        "plain_loop_s": base_s, "plain_loop_per_model_s": plain,
        "plain_loop_channels_last_s": base_cl_s, "misclass_s": engine_s, "forward_only_s": fwd_s,
        "ratio_vs_plain": base_s / engine_s, "ratio_vs_plain_channels_last": base_cl_s / engine_s,
        "overhead_vs_forward_only": engine_s / fwd_s - 1, "load_average_end": os.getloadavg()[0],
    }
    print(f"\n{n} images x {len(names)} models ({', '.join(names)}), fastest of {args.repeat} run(s) "
          f"each; {n_geo} distinct preprocessings; "
          f"misclass used {report.workers} DataLoader worker(s)")
    print(f"  plain loop, 3 passes (timm defaults)     {base_s:8.1f} s  {n / base_s:7.1f} images/s  "
          f"({', '.join(f'{k} {v:.1f} s' for k, v in plain.items())})")
    print(f"  plain loop, 3 passes (channels-last)     {base_cl_s:8.1f} s  {n / base_cl_s:7.1f} images/s")
    print(f"  misclass, one pass                       {engine_s:8.1f} s  {n / engine_s:7.1f} images/s")
    print(f"  forward only (pre-decoded tensors)       {fwd_s:8.1f} s  {n / fwd_s:7.1f} images/s")
    print(f"ratio misclass / plain loop: {result['ratio_vs_plain']:.2f}x (target >= 1.5x); against the "
          f"channels-last plain loop: {result['ratio_vs_plain_channels_last']:.2f}x")
    overhead = 100 * result["overhead_vs_forward_only"]
    print(f"misclass overhead over forward only: {overhead:+.1f}% (target < 10%)")
    print(f"load average at the end: {result['load_average_end']:.2f}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    tmp.cleanup()
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
