"""Time and size of ``misclass report`` on the seven shared ImageNet models (issue 19).

Targets (2 cores): the report in under 10 s, ``index.html`` under 1 MB.

The seven timm CSVs of ``../shared/data/imagenet-val-timm-top1`` are imported into a
temporary store (``import timm-csv --labels imagenet-val``, needs misclass[imagenet]), then
the report is written twice in the same run, each in a fresh interpreter:

- **report**: ``misclass report`` as shipped: PNG figures written by worker processes
  while the sections compute, long tables as paged JSON;
- **baseline**: the same report with ``--svg`` and ``MISCLASS_REPORT_WORKERS=0``, i.e. every
  figure drawn in the report's own process as PNG and as SVG, as the report did before
  (its tables are today's, so its ``index.html`` is the same size; the old page with
  10,204 HTML rows was 2.1 MB).

For each: wall time (best of ``--repeat``), CPU seconds of the report's process and its
figure workers, ``index.html`` and the whole folder in MB, the files written; then the
ratios baseline / report. The machine's load average is printed too: on 2 shared cores a
busy neighbour stretches every wall time.

Run: .venv/bin/python benchmarks/report_bench.py [--repeat 1] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "imagenet-val-timm-top1"
MB = 1e6
TARGET_SECONDS, TARGET_INDEX_MB = 10.0, 1.0


def cli(args: list[str], env: dict | None = None) -> tuple[float, float]:
    """Run ``misclass ARGS`` in a fresh interpreter; return (wall seconds, CPU seconds of it and
    of every process it waited for, e.g. the figure workers)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    code = "import sys\nfrom misclass.cli import main\nsys.exit(main(sys.argv[1:]))"
    done = subprocess.run([sys.executable, "-c", code, *args], env={**os.environ, **(env or {})},
                          capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        sys.exit(f"misclass {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def folder_size(folder: Path) -> tuple[float, int]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / MB, len(files)


def run(store: Path, out: Path, repeat: int, extra: list[str], env: dict | None = None) -> dict:
    best = None
    for _ in range(repeat):
        shutil.rmtree(out, ignore_errors=True)
        wall, cpu = cli(["report", "--store", str(store), "--out", str(out), *extra], env)
        if best is None or wall < best[0]:
            best = (wall, cpu)
    total, n_files = folder_size(out)
    return {"wall": best[0], "cpu": best[1], "index": (out / "index.html").stat().st_size / MB,
            "total": total, "files": n_files, "svg": len(list(out.rglob("*.svg")))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=1, help="runs of each report; the fastest counts")
    parser.add_argument("--keep", type=Path,
                        help="write the store and both reports here (default: a temp folder)")
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"{DATA} is absent: this benchmark needs the shared ImageNet predictions")
    root = args.keep or Path(tempfile.mkdtemp(prefix="report-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    store = root / "store"
    if not store.exists():
        csvs = [str(p) for p in sorted(DATA.glob("*.csv"))]
        wall, _ = cli(["import", "timm-csv", *csvs, "--labels", "imagenet-val", "--store", str(store)])
        print(f"imported the 7 models in {wall:.1f} s")
    load_before = os.getloadavg()[0]
    new = run(store, root / "report", args.repeat, [])
    old = run(store, root / "baseline", args.repeat, ["--svg"], {"MISCLASS_REPORT_WORKERS": "0"})
    load_after = os.getloadavg()[0]

    print(f"misclass report on 7 ImageNet models x 50,000 images ({os.cpu_count()} cores, load average "
          f"{load_before:.1f} before, {load_after:.1f} after)")
    print(f"{'':28} {'wall s':>8} {'CPU s':>8} {'index.html MB':>14} {'total MB':>9} {'files':>6} {'SVG':>5}")
    for name, r in (("report (PNG, workers)", new), ("baseline (--svg, 1 process)", old)):
        print(f"{name:28} {r['wall']:8.1f} {r['cpu']:8.1f} {r['index']:14.3f} {r['total']:9.2f} "
              f"{r['files']:6d} {r['svg']:5d}")
    print(f"ratio baseline / report: wall {old['wall'] / new['wall']:.2f}, "
          f"CPU {old['cpu'] / new['cpu']:.2f}, total size {old['total'] / new['total']:.2f}")

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    print(f"targets: report under {TARGET_SECONDS:g} s: {verdict(new['wall'] < TARGET_SECONDS)} "
          f"({new['wall']:.1f} s); index.html under {TARGET_INDEX_MB:g} MB: "
          f"{verdict(new['index'] < TARGET_INDEX_MB)} ({new['index']:.3f} MB)")
    if args.keep is None:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
