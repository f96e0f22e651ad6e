"""Speed of ``misclass app`` on the seven shared ImageNet models (50,000 images), against a
pandas filter of the same queries in the same run.

Targets (2 cores): every query answers in under 100 ms; the first grid page shows in under
500 ms. The label-issue scores (``sort=label_issue``) are computed once, on their first use
(timed apart, as is ``misclass.label_issues`` for the pandas baseline), then reused.

The store is imported from ``../shared/data/imagenet-val-timm-top1`` (``misclass import
timm-csv ... --labels imagenet-val``) into a temporary folder and served on loopback by
uvicorn in this process, pinned to two cores. Each query is sent over HTTP with httpx
(``GET /api/images?...``, 100 ids a page: what a script or the grid asks) and timed from the
request to the parsed JSON: the first time (cold: the query's masks and scores are computed;
the connection is already open, its first request timed apart) and the median of 20 more
(warm). The baseline is what a notebook
does with pandas: the store's Parquet files read once into a DataFrame (one top-1 column per
model), then the same filter as boolean Series, the same order, the first 100 ids; timed the
same way (cold: the first run of that query). Both answers are checked to be equal.

The first grid page is timed in headless Chromium (Debian's, driven by Playwright, already
running), in a new tab: from the start of the navigation to ``/explore?QUERY`` until the
first 60 tiles are in the page, by the page's own clock (``performance.now()`` when a
MutationObserver sees them), and from outside (``goto`` until Playwright sees them; its
polling adds to it); on a fresh server (its first page) and again (warm, median of 5). And
over HTTP alone: the HTML page, which carries the grid's first tiles (the script then asks
``/api/images?...&include=items`` for the next ones).

The shared machine runs other work too: the load average is printed with the results.

Run: .venv/bin/python benchmarks/app_bench.py
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

CORES = 2
if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) > CORES:
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:CORES])
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, str(CORES))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "imagenet-val-timm-top1"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
A, B, C = "convit_tiny", "swin_base_patch4_window7_224", "deit_tiny_patch16_224"


def import_store(folder: Path) -> Path:
    from misclass.cli import main

    path = folder / "store"
    try:
        main(["import", "timm-csv", *map(str, sorted(DATA.glob("*.csv"))), "--labels", "imagenet-val",
              "--store", str(path)])
    except SystemExit as exc:
        if exc.code:
            raise
    return path


def read_frame(path: Path) -> pd.DataFrame:
    """The notebook's DataFrame: sample id, label and one top-1 column per model."""
    df = pd.read_parquet(path / "samples.parquet", columns=["sample_id", "label"])
    for f in sorted((path / "models").glob("*.parquet")):
        ids = pd.read_parquet(f, columns=["topk_ids"])["topk_ids"]
        df[f.stem] = np.array([x[0] for x in ids])
    return df


def queries(df: pd.DataFrame, issues) -> list[tuple[str, str, object]]:
    """(what, API query, pandas function giving the first 100 ids); ``issues``: the store's
    :func:`misclass.label_issues`, computed once, as a notebook would."""
    models = [c for c in df.columns if c not in ("sample_id", "label")]
    groups = pd.read_csv(Path(__file__).resolve().parents[1] / "src" / "misclass" / "data" / "resources"
                         / "imagenet_groups.csv")
    dogs = groups.loc[groups["is_dog"] == 1, "index"].to_numpy()
    wrong_a = df[df[A] != df["label"]]
    ct, cp = wrong_a.groupby(["label", A]).size().idxmax()

    def known():
        return df["label"] >= 0

    def wrong(m):
        return known() & (df[m] != df["label"])

    def right(m):
        return known() & (df[m] == df["label"])

    def n_wrong():
        return sum(wrong(m).astype(int) for m in models)

    def disagreement(m):
        others = [x for x in models if x != m]
        return df[others].ne(df[m], axis=0).mean(axis=1)

    def first(mask, key=None, descending=False):
        sub = df[mask] if key is None else df[mask].assign(_k=-key[mask] if descending else key[mask])
        if key is not None:
            sub = sub.sort_values("_k", kind="stable")
        return sub["sample_id"].head(100).tolist()

    return [
        (f"{A} wrong, {B} right", f"wrong={A}&right={B}", lambda: first(wrong(A) & right(B))),
        ("every model wrong", "all_wrong=1", lambda: first(known() & (n_wrong() == len(models)))),
        ("exactly one model wrong", "one_wrong=1", lambda: first(known() & (n_wrong() == 1))),
        ("the models disagree", "disagree=1",
         lambda: first(df[models].ne(df[models[0]], axis=0).any(axis=1))),
        (f"confusion cell {ct}->{cp} of {A}", f"true={ct}&pred={cp}&model={A}",
         lambda: first((df["label"] == ct) & (df[A] == cp))),
        (f"true {ct}, predicted {cp} by any model", f"true={ct}&pred={cp}",
         lambda: first((df["label"] == ct) & df[models].eq(cp).any(axis=1))),
        (f"dogs, {A} wrong, {B} right, most disagreed first",
         f"group=dogs&wrong={A}&right={B}&sort=-disagreement:{A}",
         lambda: first(df["label"].isin(dogs) & wrong(A) & right(B), disagreement(A), True)),
        (f"all 50,000 by disagreement of {C}", f"sort=-disagreement:{C}",
         lambda: first(known() | ~known(), disagreement(C), True)),
        (f"{A}, {B}, {C} all wrong, by label", f"wrong={A}&wrong={B}&wrong={C}&sort=label",
         lambda: first(wrong(A) & wrong(B) & wrong(C), df["label"])),
        ("not reviewed yet", "review=unreviewed", lambda: first(known() | ~known())),
        ("all 50,000 by label-issue score, highest first", "sort=-label_issue",
         lambda: first(known() | ~known(), pd.Series(issues.combined.logit), True)),
        ("label-issue score at least 0.5, by label", "score=label_issue&min=0.5&sort=label",
         lambda: first(pd.Series(issues.combined.score) >= 0.5, df["label"])),
    ]


def timed(fn, repeat: int = 20) -> tuple[object, float, float]:
    """(answer, cold seconds, median warm seconds)."""
    t0 = time.perf_counter()
    out = fn()
    cold = time.perf_counter() - t0
    warm = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        warm.append(time.perf_counter() - t0)
    return out, cold, statistics.median(warm)


#: notes, in the page, when 60 tiles are in it (ms since the navigation started)
SHOWN = """
window.gridShown = null;
new MutationObserver((_, seen) => {
  if (document.querySelectorAll('.tile').length >= 60) {
    window.gridShown = performance.now();
    seen.disconnect();
  }
}).observe(document, {childList: true, subtree: true});
"""


def grid_page(browser, url: str, query: str) -> tuple[float, float]:
    """(seconds from the navigation's start to 60 tiles in the page, as the page's clock
    says; seconds from ``goto`` until Playwright sees them)."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.add_init_script(SHOWN)
    t0 = time.perf_counter()
    page.goto(f"{url}/explore?{query}")
    page.wait_for_function("window.gridShown !== null")
    outside = time.perf_counter() - t0
    inside = page.evaluate("window.gridShown") / 1000
    page.close()
    return inside, outside


def main() -> None:
    import httpx

    import misclass
    from misclass.app.web import PAGE_SIZE, create_app
    from misclass.review.schema import open_database
    from misclass.review.server import serve
    from misclass.store import open_store

    if not DATA.is_dir():
        sys.exit(f"the shared ImageNet predictions are not at {DATA}")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"cores: {cores}; load average before: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp:
        path = import_store(Path(tmp))
        t0 = time.perf_counter()
        df = read_frame(path)
        print(f"pandas: the store read into a DataFrame in {time.perf_counter() - t0:.2f} s (once)")
        t0 = time.perf_counter()
        issues = misclass.label_issues(path)
        print(f"notebook: misclass.label_issues(store) in {time.perf_counter() - t0:.2f} s (once)")
        qs = queries(df, issues)
        db = open_database(path)
        t0 = time.perf_counter()
        app = create_app(open_store(path), db)
        print(f"app: built (store loaded) in {time.perf_counter() - t0:.2f} s (once, at start)")
        rows, worst = [], 0.0
        with serve(app) as url, httpx.Client(base_url=url, timeout=30) as client:
            t0 = time.perf_counter()
            client.get("/api/explore").raise_for_status()  # the connection, the server's first request
            first_request = time.perf_counter() - t0
            print(f"app: first request to the new server (GET /api/explore) {1000 * first_request:.1f} ms")
            t0 = time.perf_counter()
            client.get("/api/images?sort=-label_issue&limit=1").raise_for_status()
            print(f"app: label-issue scores computed on first use in {time.perf_counter() - t0:.2f} s "
                  "(once per snapshot; the queries below reuse them)")
            for what, query, baseline in qs:
                ids, api_cold, api_warm = timed(lambda q=query: client.get(f"/api/images?{q}").json())
                want, pd_cold, pd_warm = timed(baseline)
                assert ids["sample_ids"] == want, what
                worst = max(worst, api_cold, api_warm)
                rows.append((what, ids["total"], api_cold, api_warm, pd_cold, pd_warm))
            print("\nqueries (100 ids a page; app over HTTP, pandas in process; ms)")
            print(f"{'query':58} {'matches':>8} {'app cold':>9} {'app warm':>9} {'pandas cold':>12} "
                  f"{'pandas warm':>12} {'speed-up':>9}")
            for what, total, ac, aw, pc, pw in rows:
                print(f"{what[:58]:58} {total:>8,} {1000 * ac:>9.1f} {1000 * aw:>9.1f} {1000 * pc:>12.1f} "
                      f"{1000 * pw:>12.1f} {pw / aw:>8.1f}x")
            print(f"slowest app answer: {1000 * worst:.1f} ms (target < 100 ms)")
            grid_q = f"wrong={A}&right={B}"
            show = f"&show={A}&show={B}"

            def http_page():  # the page carries its first tiles
                return client.get(f"/explore?{grid_q}{show}").raise_for_status()

            _, hc, hw = timed(http_page, repeat=10)
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            sync_playwright = None
        browser_times = None
        if sync_playwright is not None and Path("/usr/bin/chromium").exists():
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
                blank = browser.new_page()  # the browser is running, as a user's is
                blank.set_content("<p>ready</p>")
                blank.close()
                fresh = create_app(open_store(path), db)  # a new server: its first page
                with serve(fresh) as url:
                    first = grid_page(browser, url, grid_q)
                    again = [grid_page(browser, url, grid_q) for _ in range(5)]
                browser.close()
            browser_times = (first, tuple(statistics.median(x[k] for x in again) for k in (0, 1)))
        db.dispose()
    print(f"\nfirst grid page ({grid_q}, {PAGE_SIZE} tiles; ms; target < 500 ms)")
    print(f"  HTTP (the page, which carries its first tiles): first {1000 * hc:.1f}, warm {1000 * hw:.1f}")
    print(f"load average after: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if browser_times:
        (fi, fo), (wi, wo) = browser_times
        print(f"  Chromium, navigation start to {PAGE_SIZE} tiles in the page: fresh server {1000 * fi:.1f}, "
              f"warm {1000 * wi:.1f} (seen from outside, goto to tiles: {1000 * fo:.1f}, {1000 * wo:.1f})")
    else:
        print("  Chromium: not measured (playwright or /usr/bin/chromium missing)")


if __name__ == "__main__":
    main()
