"""Screenshots of the explore app (``misclass app``) for docs/app.md, taken in headless Chromium.

Uses the demo store (``--store``, or runs ``misclass demo`` into a temporary folder: two
minutes or so), adds a reviewer's decisions on one image, serves the app on loopback and saves
docs/app-grid.png, app-image.png and app-summary.png; with the shared ImageNet predictions
(../shared/data/imagenet-val-timm-top1) also app-imagenet.png, a store without pixels.

Run: .venv/bin/python scripts/app_screenshots.py [--store misclass-demo/store] [--out docs]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
IMAGENET = Path(__file__).resolve().parents[2] / "shared" / "data" / "imagenet-val-timm-top1"


def misclass(*args: str) -> None:
    """Run the misclass command line in a child process (its tables printed as it goes)."""
    subprocess.run([sys.executable, "-c", "from misclass.cli import main; main()", *args], check=True)


def demo_store(folder: Path, given: str | None) -> Path:
    """A copy of the given demo store, or a new one."""
    path = folder / "store"
    if given:
        skip = shutil.ignore_patterns("annotations.sqlite*", "thumbs", "training")
        shutil.copytree(given, path, ignore=skip)
    else:
        misclass("demo", "--store", str(path), "--out", str(folder / "report"))
    return path


def imagenet_store(folder: Path) -> Path | None:
    """The seven shared ImageNet models imported into a new store, or None without them."""
    if not IMAGENET.is_dir():
        return None
    path = folder / "imagenet"
    try:
        misclass("import", "timm-csv", *map(str, sorted(IMAGENET.glob("*.csv"))), "--labels", "imagenet-val",
                 "--store", str(path))
    except subprocess.CalledProcessError:  # --labels imagenet-val needs misclass[imagenet]
        return None
    return path


def main() -> None:
    """Serve the app on the demo store and save the screenshots."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", default=None, help="an existing demo store to copy")
    ap.add_argument("--out", default="docs")
    opts = ap.parse_args()
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    from misclass.app.web import create_app
    from misclass.review.people import sign_in
    from misclass.review.records import record_decisions
    from misclass.review.schema import open_database
    from misclass.review.server import serve
    from misclass.store import open_store
    from misclass.workflows.explore import explore

    with tempfile.TemporaryDirectory() as tmp:
        path = demo_store(Path(tmp), opts.store)
        store = open_store(path)
        db = open_database(path)
        ex = explore(store)
        sid = ex.query({"wrong": "naive-bayes", "right": "cnn-plain"}).sample_ids[0]
        i = ex.index_of(sid)
        label = int(store.labels()[i])
        wrong = next(p["top1"] for p in ex.image(sid)["predictions"] if p["model"] == "naive-bayes")
        for name, value in (("ann", "correct"), ("bob", "correct")):
            _, who = sign_in(db, name, None, require_token=False)
            record_decisions(db, who.id, sid, [(label, value), (int(wrong), "wrong")])
        grid = "wrong=naive-bayes&right=cnn-plain&show=naive-bayes&show=cnn-plain"
        with serve(create_app(store, db)) as url, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 820})
            page.goto(f"{url}/explore?one_wrong=1&sort=-msp:naive-bayes&show=naive-bayes")
            page.wait_for_selector(".tile img")
            page.wait_for_function("Array.from(document.querySelectorAll('.tile img')).slice(0, 12)"
                                   ".every(i => i.complete && i.naturalWidth > 0)")
            page.screenshot(path=out / "app-grid.png")
            page.goto(f"{url}/explore/image/{sid}?{grid}")
            page.wait_for_selector("#neighbours .tile img")
            page.wait_for_timeout(500)
            page.screenshot(path=out / "app-image.png", full_page=True)
            page.goto(f"{url}/explore/summary?model=naive-bayes")
            page.set_viewport_size({"width": 1280, "height": 1400})
            page.screenshot(path=out / "app-summary.png")
            browser.close()
        db.dispose()
        inet = imagenet_store(Path(tmp))
        if inet is not None:
            db = open_database(inet)
            with serve(create_app(open_store(inet), db)) as url, sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 820})
                page.goto(f"{url}/explore?group=dogs&wrong=convit_tiny&right=swin_base_patch4_window7_224"
                          "&sort=-disagreement:convit_tiny")
                page.wait_for_selector(".tile")
                page.screenshot(path=out / "app-imagenet.png")
                browser.close()
            db.dispose()
    print(f"wrote {', '.join(str(p) for p in sorted(out.glob('app-*.png')))}")


if __name__ == "__main__":
    main()
