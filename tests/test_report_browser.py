"""The HTML report in headless Chromium (Debian's chromium driven by Playwright), opened from
file:// as a reader would: the demo report and the seven-model ImageNet report load without a
console error; the demo page is under 10,000 px tall at 1280 px wide, and stays so once every
lazy image has loaded; every image has a title; the largest table sorts in under 200 ms
(performance.now() in the page) and sorts right, pages and filters."""

from __future__ import annotations

import json
import re

import pytest

pytest.importorskip("playwright.sync_api", reason="playwright is not installed (misclass[dev])")

from review_support import chromium  # noqa: E402, F401  (chromium: the fixture browser)

MAX_HEIGHT = 10_000  # px at 1280 px wide, the demo page (issue 19)
MAX_SORT_MS = 200
MAX_INDEX_BYTES = 1_000_000  # the ImageNet report's index.html


def _open(browser, index):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(index.resolve().as_uri())
    page.wait_for_load_state("load")
    # text laid out in its final fonts: on a loaded machine the page was measured 1.5% shorter
    # before the fonts were in than after (CI: 9,633 then 9,778 px), though no image box grew
    page.evaluate("document.fonts.ready.then(() => true)")
    return page, errors


def _height(page) -> int:
    return page.evaluate("document.documentElement.scrollHeight")


def _load_every_image(page) -> None:
    page.evaluate("document.querySelectorAll('img').forEach(i => { i.loading = 'eager'; })")
    page.wait_for_function("Array.from(document.images).every(i => i.complete)", timeout=60_000)


def _images_have_titles(page) -> None:
    missing = page.evaluate("""() => Array.from(document.images).filter(i => {
        const cap = i.closest('figure') && i.closest('figure').querySelector('figcaption');
        return !(i.alt || '').trim() && !(cap && cap.textContent.trim());
      }).map(i => i.getAttribute('src'))""")
    assert not missing, f"images without a title or caption: {missing[:5]}"
    assert page.evaluate("document.images.length") > 0


def _largest_table(page, html: str) -> tuple[int, dict]:
    """The index of the long table with the most rows, and its JSON as the page got it."""
    specs = [json.loads(s) for s in re.findall(r'<div class="big-table">(?:<p class=caption>.*?</p>)?'
                                               r'<script type="application/json">(.*?)</script>', html, re.S)]
    assert specs and page.evaluate("document.querySelectorAll('div.big-table').length") == len(specs)
    i = max(range(len(specs)), key=lambda j: specs[j]["rows"])
    return i, specs[i]


def _column(spec: dict, c: int) -> list:
    d = spec["data"][c]
    return d if isinstance(d, list) else [None if k < 0 else d["keys"][k] for k in d["codes"]]


def _check_sorting(page, html: str) -> tuple[int, float]:
    """Click every header of the largest table (twice: up and down); each sort under the
    target; the first page after sorting a numeric column ascending is the smallest values
    in order, missing last. Returns (rows, slowest sort in ms)."""
    i, spec = _largest_table(page, html)
    times = page.evaluate("""(i) => {
        const holder = document.querySelectorAll('div.big-table')[i], out = [];
        holder.querySelectorAll('th').forEach(th => {
          for (const _ of [0, 1]) {
            const t0 = performance.now(); th.click(); out.push(performance.now() - t0);
          }
        });
        return out; }""", i)
    slowest = max(times)
    assert slowest < MAX_SORT_MS, f"sorting {spec['rows']:,} rows took {slowest:.0f} ms"
    num = next((c for c, col in enumerate(spec["columns"]) if col["kind"] == "num"), None)
    if num is not None:
        values = _column(spec, num)
        shown = page.evaluate("""([i, c]) => {
            const holder = document.querySelectorAll('div.big-table')[i];
            const th = holder.querySelectorAll('th')[c];
            th.click();  // ascending (or descending: then once more)
            if (th.getAttribute('aria-sort') !== 'ascending') th.click();
            return Array.from(holder.querySelectorAll('tbody tr')).map(r => r.cells[c].textContent); }""",
                              [i, num])
        present = sorted(float(str(v).replace(",", "")) for v in values if v is not None)
        got = [float(t.replace(",", "")) for t in shown if t != "-"]
        assert len(shown) == min(spec["page"], spec["rows"])
        assert got == pytest.approx(present[:len(got)]), "the first page is not the smallest values in order"
    return spec["rows"], slowest


def _check_paging_and_filter(page, html: str) -> None:
    i, spec = _largest_table(page, html)
    rows, size = spec["rows"], spec["page"]
    label = page.evaluate("""(i) => {
        const holder = document.querySelectorAll('div.big-table')[i];
        Array.from(holder.querySelectorAll('button')).find(b => b.textContent.startsWith('last')).click();
        return holder.querySelector('.tools span').textContent; }""", i)
    first = (rows - 1) // size * size + 1
    assert label == f"rows {first:,}–{rows:,} of {rows:,}", label
    text = _column(spec, next(c for c, col in enumerate(spec["columns"]) if col["kind"] == "text"))
    word = next(v for v in text if v)
    texts = [_column(spec, c) for c, col in enumerate(spec["columns"]) if col["kind"] == "text"]
    expected = sum(1 for r in range(rows) if any(word.lower() in str(col[r] or "").lower() for col in texts))
    page.locator("div.big-table").nth(i).locator("input.filter").fill(word)
    page.wait_for_timeout(400)  # the filter waits for typing to pause
    shown = page.evaluate("(i) => document.querySelectorAll('div.big-table')[i].misclassTable.shown()", i)
    assert shown >= expected and shown <= rows  # numbers may contain the word too, never fewer rows


def test_demo_report_in_chromium(browser, demo_dirs):
    _, report = demo_dirs  # the session's demo run (conftest.py)
    index = report / "index.html"
    page, errors = _open(browser, index)
    boxes = "Array.from(document.images).map(i => Math.round(i.getBoundingClientRect().height))"
    before, reserved = _height(page), page.evaluate(boxes)
    assert before < MAX_HEIGHT, f"the demo page is {before:,} px tall at 1280 px"
    _load_every_image(page)
    after, loaded = _height(page), page.evaluate(boxes)
    assert after < MAX_HEIGHT, f"the demo page is {after:,} px tall at 1280 px once its images loaded"
    grew = [(i, a, b) for i, (a, b) in enumerate(zip(reserved, loaded, strict=True)) if abs(a - b) > 2]
    assert not grew, f"images whose box was not reserved (index, before, after): {grew[:5]}"
    _images_have_titles(page)
    html = index.read_text()
    _check_sorting(page, html)
    _check_paging_and_filter(page, html)
    assert not errors, errors


@pytest.fixture(scope="module")
def imagenet_report(imagenet_timm_store, tmp_path_factory):
    import misclass

    return misclass.report(imagenet_timm_store, out=tmp_path_factory.mktemp("inet-report") / "r",
                           progress=False).index


@pytest.mark.slow
def test_imagenet_report_in_chromium(browser, imagenet_report):
    size = imagenet_report.stat().st_size
    assert size < MAX_INDEX_BYTES, f"index.html is {size:,} bytes"
    page, errors = _open(browser, imagenet_report)
    _images_have_titles(page)
    html = imagenet_report.read_text()
    rows, slowest = _check_sorting(page, html)
    assert rows >= 7000  # the per-class table: 1,000 classes x 7 models
    _check_paging_and_filter(page, html)
    assert not errors, errors
