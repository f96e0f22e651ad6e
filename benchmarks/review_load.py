"""Load on the review app: 20 concurrent reviewers x 500 decisions against a running server on
loopback (a separate uvicorn process), SQLite in WAL mode.

Each reviewer is one thread with its own HTTP connection and token, posting its decisions one
after another as fast as the server answers (a person makes one every second or two, so this
is far above real load). Every decision is a distinct (image, class, reviewer), so the
database must end with exactly reviewers x decisions rows in ``decisions`` and in
``decision_log``: nothing lost.

Baselines in the same run: the same load with SQLite's rollback journal (journal_mode=DELETE),
and one reviewer alone (no contention). Ratios are printed against the WAL run.

Run: .venv/bin/python benchmarks/review_load.py [--reviewers 20] [--decisions 500]
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

N_IMAGES, N_CLASSES = 2000, 10


def make_store(path: Path):
    from misclass.store import Store

    rng = np.random.default_rng(0)
    labels = rng.integers(0, N_CLASSES, N_IMAGES)
    samples = pd.DataFrame({"sample_id": [f"img{i:05d}" for i in range(N_IMAGES)], "label": labels})
    store = Store.create(path, samples=samples, images=rng.integers(0, 255, (N_IMAGES, 8, 8), dtype=np.uint8),
                         classes=pd.DataFrame({"name": [f"class {c}" for c in range(N_CLASSES)]}))
    for m in range(5):
        noisy = np.where(rng.random(N_IMAGES) < 0.3, rng.integers(0, N_CLASSES, N_IMAGES), labels)
        store.write_model(f"model{m}", noisy[:, None])
    return store


def serve(store: str, port: int, journal: str) -> None:
    """Server process: the review app on 127.0.0.1:port."""
    import uvicorn

    from misclass.review.context import ReviewContext
    from misclass.review.schema import open_database
    from misclass.review.web import create_app

    db = open_database(store, journal_mode=journal)
    uvicorn.run(create_app(ReviewContext.load(store), db), host="127.0.0.1", port=port, log_level="warning",
                access_log=False)


def run_load(store, journal: str, reviewers: int, decisions: int) -> dict:
    import httpx

    from misclass.review.people import add_user
    from misclass.review.schema import open_database
    from misclass.review.server import free_port

    db_file = store.path / "annotations.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_file}{suffix}").unlink(missing_ok=True)
    db = open_database(store.path, journal_mode=journal)
    from misclass.review.context import ReviewContext
    from misclass.review.tasks import create_task

    task_id = create_task(db, ReviewContext.load(store), "load", "disagreement", size=200).id
    tokens = [add_user(db, f"r{u:02d}") for u in range(reviewers)]
    db.dispose()
    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(store.path), "--port", str(port),
                             "--journal", journal])
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/login", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.1)
        lat: list[list[float]] = [[] for _ in range(reviewers)]
        errors: list[str] = []
        barrier = threading.Barrier(reviewers)
        values = ("correct", "wrong", "unclear", "unknown")

        def reviewer(u: int) -> None:
            h = {"authorization": f"Bearer {tokens[u]}", "accept": "application/json"}
            with httpx.Client(base_url=url, headers=h, timeout=60) as c:
                barrier.wait()
                for k in range(decisions):
                    data = {"sample": (k * 7 + u) % N_IMAGES, "class": k * 7 // N_IMAGES + u % 3,
                            "value": values[(k + u) % 4], "task": task_id}
                    t0 = time.perf_counter()
                    r = c.post("/decide", data=data)
                    lat[u].append(time.perf_counter() - t0)
                    if r.status_code != 200:
                        errors.append(f"{r.status_code} {r.text[:100]}")

        threads = [threading.Thread(target=reviewer, args=(u,)) for u in range(reviewers)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    with sqlite3.connect(db_file) as con:
        n_dec = con.execute("select count(*) from decisions").fetchone()[0]
        n_log = con.execute("select count(*) from decision_log").fetchone()[0]
        mode = con.execute("pragma journal_mode").fetchone()[0]
    all_lat = np.array([x for xs in lat for x in xs]) * 1000
    return {"journal": mode, "reviewers": reviewers, "sent": reviewers * decisions, "errors": len(errors),
            "first_error": errors[0] if errors else "", "decisions": n_dec, "log": n_log, "wall": wall,
            "rate": reviewers * decisions / wall, "p50": float(np.percentile(all_lat, 50)),
            "p95": float(np.percentile(all_lat, 95)), "p99": float(np.percentile(all_lat, 99)),
            "max": float(all_lat.max()), "mean": statistics.fmean(all_lat)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reviewers", type=int, default=20)
    ap.add_argument("--decisions", type=int, default=500)
    ap.add_argument("--serve")
    ap.add_argument("--port", type=int)
    ap.add_argument("--journal", default="WAL")
    args = ap.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.journal)
        return
    folder = Path(tempfile.mkdtemp(prefix="review-load-"))
    try:
        store = make_store(folder / "store")
        n = args.reviewers
        runs = [(f"WAL, {n} reviewers", run_load(store, "WAL", n, args.decisions)),
                (f"baseline: DELETE journal, {n} reviewers", run_load(store, "DELETE", n, args.decisions)),
                ("baseline: WAL, 1 reviewer", run_load(store, "WAL", 1, args.decisions))]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"{'run':38s} {'sent':>6s} {'in db':>6s} {'log':>6s} {'errors':>6s} {'dec/s':>7s} "
          f"{'p50 ms':>7s} {'p95 ms':>7s} {'p99 ms':>7s} {'max ms':>7s}")
    for name, r in runs:
        print(f"{name:38s} {r['sent']:6d} {r['decisions']:6d} {r['log']:6d} {r['errors']:6d} "
              f"{r['rate']:7.0f} {r['p50']:7.1f} {r['p95']:7.1f} {r['p99']:7.1f} {r['max']:7.1f}")
        if r["first_error"]:
            print(f"  first error: {r['first_error']}")
    wal, delete, single = (r for _, r in runs)
    lost = wal["sent"] - wal["decisions"]
    print(f"\nWAL, {wal['reviewers']} reviewers: {lost} decisions lost ({wal['decisions']} of {wal['sent']} "
          f"in the database, {wal['log']} log rows)")
    print(f"DELETE / WAL: p50 x{delete['p50'] / wal['p50']:.2f}, p95 x{delete['p95'] / wal['p95']:.2f}, "
          f"throughput x{delete['rate'] / wal['rate']:.2f}")
    print(f"{wal['reviewers']} reviewers / 1 reviewer (WAL): p50 x{wal['p50'] / single['p50']:.2f}, "
          f"p95 x{wal['p95'] / single['p95']:.2f}, throughput x{wal['rate'] / single['rate']:.2f}")
    if lost or wal["errors"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
