"""Screenshots of the HTML report (``misclass report``) for the README, taken in headless
Chromium at 1280 px wide from file://.

Uses a demo report (``--demo-report``, or runs ``misclass demo`` into a temporary folder: two
minutes or so) and saves docs/report-overview.png (the top of the page: the models figure and
table side by side, the start of the confusion section) and docs/report-small-multiples.png
(the per-model heatmaps and networks as small multiples); with the shared ImageNet predictions
(../shared/data/imagenet-val-timm-top1, or ``--imagenet-report``) also docs/report-table.png:
the 7,000-row per-class table, sorted and paged in the browser.

Run: .venv/bin/python scripts/report_screenshots.py [--demo-report DIR] [--imagenet-report DIR]
[--out docs]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking"]
IMAGENET = Path(__file__).resolve().parents[2] / "shared" / "data" / "imagenet-val-timm-top1"


def misclass(*args: str) -> None:
    """Run the misclass command line in a child process."""
    subprocess.run([sys.executable, "-c", "from misclass.cli import main; main()", *args], check=True)


def open_page(browser, index: Path):
    """The report at 1280 px wide with every image loaded (they load lazily)."""
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.goto(index.resolve().as_uri())
    page.evaluate("document.querySelectorAll('img').forEach(i => { i.loading = 'eager'; })")
    page.wait_for_function("Array.from(document.images).every(i => i.complete)", timeout=60_000)
    for y in range(0, page.evaluate("document.documentElement.scrollHeight"), 600):  # paint each
        page.evaluate(f"window.scrollTo(0, {y})")
        page.wait_for_timeout(60)
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(300)
    return page


def clip(page, path: Path, top: str, bottom: str | None = None, height: int = 1000) -> None:
    """Save the page from the top of ``top`` (a CSS selector) down to the top of ``bottom``
    (or ``height`` px)."""
    y0 = page.evaluate(f"document.querySelector({top!r}).getBoundingClientRect().top + scrollY")
    y1 = (page.evaluate(f"document.querySelector({bottom!r}).getBoundingClientRect().top + scrollY")
          if bottom else y0 + height)
    page.screenshot(path=str(path), full_page=True,
                    clip={"x": 0, "y": y0, "width": 1280, "height": y1 - y0})
    print(f"wrote {path} ({int(y1 - y0)} px tall)")


def main() -> None:
    """Take the screenshots."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--demo-report", type=Path,
                        help="a report of the demo store (default: run misclass demo)")
    parser.add_argument("--imagenet-report", type=Path, help="a report of the seven ImageNet models")
    parser.add_argument("--out", type=Path, default=Path("docs"))
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="report-shots-"))
    demo = args.demo_report
    if demo is None:
        demo = tmp / "demo-report"
        misclass("demo", "--store", str(tmp / "demo-store"), "--out", str(demo))
    inet = args.imagenet_report
    if inet is None and IMAGENET.is_dir():
        inet = tmp / "inet-report"
        csvs = [str(p) for p in sorted(IMAGENET.glob("*.csv"))]
        misclass("import", "timm-csv", *csvs, "--labels", "imagenet-val", "--store", str(tmp / "inet-store"))
        misclass("report", "--store", str(tmp / "inet-store"), "--out", str(inet))
    args.out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS, headless=True)
        page = open_page(browser, demo / "index.html")
        page.screenshot(path=str(args.out / "report-overview.png"))
        print(f"wrote {args.out / 'report-overview.png'}")
        # from "Conditional confusion" down to the heading after the networks
        clip(page, args.out / "report-small-multiples.png", "#confusion h3",
             "#confusion .figs.many ~ h3 ~ h3")
        if inet is not None:
            page = open_page(browser, inet / "index.html")
            holder = page.locator("div.big-table").filter(has_text="Every class and model")
            holder.locator("th").nth(4).click()  # accuracy, ascending
            holder.scroll_into_view_if_needed()
            box = holder.bounding_box()
            y = box["y"] + page.evaluate("scrollY")
            page.screenshot(path=str(args.out / "report-table.png"), full_page=True,
                            clip={"x": 0, "y": y - 4, "width": 1280, "height": min(box["height"] + 8, 760)})
            print(f"wrote {args.out / 'report-table.png'}")
        browser.close()


if __name__ == "__main__":
    main()
