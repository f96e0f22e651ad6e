"""Import the seven shared ImageNet prediction files and load correct[N, M].

Targets (2 cores): import under 3 s, load under 0.3 s. Baseline, in the same run: the
plain pandas way a notebook does it (read each CSV, merge labels by file name, compare
columns), which has neither validation nor a store.

Run: .venv/bin/python benchmarks/import_bench.py
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "imagenet-val-timm-top1"


def measure(fn, setup=lambda: None):
    """Best-of-3 wall time (untraced), then the peak of Python allocations in a traced run."""
    times = []
    for _ in range(3):
        setup()
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    setup()
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return out, min(times), peak / 2**20


def pandas_baseline(files):
    from misclass.data.imagenet import imagenet_val_labels

    labels = imagenet_val_labels()
    frame = labels.copy()
    for f in files:
        df = pd.read_csv(f, header=None)
        frame = frame.merge(df.iloc[:, :2].set_axis(["file_name", f.stem], axis=1), on="file_name")
    return np.stack([(frame[f.stem] == frame["label"]).to_numpy() for f in files], axis=1)


def main() -> int:
    if not DATA.is_dir():
        print(f"skipped: {DATA} not found (the shared data folder must sit beside the repo)")
        return 0
    from misclass.data.imagenet import imagenet_classes, imagenet_val_labels
    from misclass.importers.readers import read_timm_csv
    from misclass.importers.store_import import import_predictions
    from misclass.store import Store

    imagenet_classes(), imagenet_val_labels()  # warm the package-data cache for both sides
    files = sorted(DATA.glob("*.csv"))
    tmp = Path(tempfile.mkdtemp())
    try:
        def do_import():
            items = [read_timm_csv(f) for f in files]
            return import_predictions(tmp / "S", items, labels="imagenet-val")

        _, t_import, m_import = measure(do_import, setup=lambda: shutil.rmtree(tmp / "S", True))
        correct, t_load_correct, m_load = measure(lambda: Store(tmp / "S").load().correct)
        base, t_base, m_base = measure(lambda: pandas_baseline(files))
        assert np.array_equal(base, correct), "baseline and misclass disagree"
    finally:
        shutil.rmtree(tmp)
    print("times are the best of 3 runs; peaks are Python allocations (tracemalloc)")
    assert correct.shape == (50000, len(files))
    print(f"files: {len(files)} x 50,000 rows")
    print(f"misclass import (validated, into a Parquet store): {t_import:.2f} s, peak {m_import:.0f} MiB "
          f"(target < 3 s) {'OK' if t_import < 3 else 'MISSED'}")
    print(f"misclass load correct[N, M]: {t_load_correct:.3f} s, peak {m_load:.0f} MiB "
          f"(target < 0.3 s) {'OK' if t_load_correct < 0.3 else 'MISSED'}")
    print(f"baseline pandas read+merge+compare: {t_base:.2f} s, peak {m_base:.0f} MiB")
    print(f"ratio import / baseline: {t_import / t_base:.2f}; load / baseline: "
          f"{t_load_correct / t_base:.3f}")
    ok = t_import < 3 and t_load_correct < 0.3
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
