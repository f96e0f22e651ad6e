"""The explore app end to end in headless Chromium (Debian's chromium driven by Playwright), on
the demo store: build a query with the mouse, scroll the grid until every match is there,
open an image, and click a confusion-matrix cell and a PCR cell to land on exactly their
images."""

from __future__ import annotations

import urllib.parse

import pytest

pytest.importorskip("fastapi", reason="the explore app needs misclass[review]")
pytest.importorskip("uvicorn", reason="the explore app needs misclass[review]")
pytest.importorskip("playwright.sync_api", reason="playwright is not installed (misclass[dev])")

from app_support import Frame, copy_store  # noqa: E402
from review_support import chromium  # noqa: E402, F401  (chromium: the fixture browser)

from misclass.app.web import create_app  # noqa: E402
from misclass.review.schema import open_database  # noqa: E402
from misclass.review.server import serve  # noqa: E402
from misclass.store import open_store  # noqa: E402


@pytest.fixture(scope="module")
def served(demo_dirs, tmp_path_factory):
    """The app on a copy of the demo store, served on loopback; its URL and the store in pandas."""
    path = copy_store(demo_dirs[0], tmp_path_factory.mktemp("app-browser") / "store")
    db = open_database(path)
    with serve(create_app(open_store(path), db)) as url:
        yield url, Frame(path)
    db.dispose()


def _page(browser, url):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(15_000)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    return page, errors


def _total(page) -> int:
    page.wait_for_function("/^[0-9,]+ images?$/.test(document.getElementById('total').textContent)")
    return int(page.inner_text("#total").split()[0].replace(",", ""))


def _tiles(page) -> list[str]:
    return page.eval_on_selector_all(".tile", "ts => ts.map(t => t.dataset.sample)")


def test_build_a_query_with_the_mouse_and_scroll(served, browser):
    url, f = served
    page, errors = _page(browser, f"{url}/explore")
    assert _total(page) == 360
    assert len(_tiles(page)) < 360  # a page at a time
    # naive-bayes wrong, mlp right: two clicks on the models' switches
    page.click('tr[data-model="naive-bayes"] button[data-v=wrong]')
    page.click('tr[data-model="mlp"] button[data-v=right]')
    want = f.ids(f.wrong("naive-bayes") & f.right("mlp"))
    page.wait_for_function(f"document.getElementById('total').textContent === '{len(want)} images'")
    page.wait_for_function(f"document.querySelectorAll('.tile').length === {len(want)}")
    assert _tiles(page) == want
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(page.url).query)
    assert query == {"wrong": ["naive-bayes"], "right": ["mlp"]}
    # each tile shows the label and the two models' predictions, wrong in red, right in green
    first = page.locator(".tile").first
    assert "✗" in first.locator(".p.wrong").inner_text() and "naive-bayes" in first.inner_text()
    # a checkbox and a select: every image of the true class 8 the models disagree on
    page.click('tr[data-model="naive-bayes"] button[data-v=""]')
    page.click('tr[data-model="mlp"] button[data-v=""]')
    page.check("input[name=disagree]")
    page.fill("#true", "8: 8")
    want = f.ids((f.df[f.models].nunique(axis=1) > 1) & (f.df["label"] == 8))
    page.wait_for_function(f"document.getElementById('total').textContent === '{len(want)} images'")
    page.wait_for_function(f"document.querySelectorAll('.tile').length === {len(want)}")
    assert _tiles(page) == want
    # clear it, then scroll: the grid grows page by page until all 360 are there
    page.click("#reset")
    page.wait_for_function("document.getElementById('total').textContent === '360 images'")
    seen = [len(_tiles(page))]
    while "All 360 shown" not in page.inner_text("#end"):
        page.mouse.wheel(0, 4000)
        page.wait_for_timeout(150)
        seen.append(len(_tiles(page)))
        assert len(seen) < 200, seen
    assert _tiles(page) == f.df["sample_id"].tolist()
    assert len(set(seen)) >= 3  # it took several pages
    # thumbnails load lazily: those in view have pixels, their files are in the store
    page.mouse.wheel(0, -100000)
    page.wait_for_function("document.querySelector('.tile img').complete && "
                           "document.querySelector('.tile img').naturalWidth === 160")
    assert page.eval_on_selector(".tile img", "i => i.loading") == "lazy"
    assert errors == []


def test_sort_by_label_issue_and_an_unavailable_key(served, browser):
    import json

    import misclass

    url, f = served
    page, errors = _page(browser, f"{url}/explore?sort=energy:knn")
    page.wait_for_function("document.getElementById('note').textContent.includes('needs stored logits')")
    assert page.inner_text("#total") == "–"
    # the ranking of misclass label-issues, most likely label errors first
    ranked = [x["sample_id"] for x in misclass.label_issues(f.path).to_dict()["issues"]]
    page.select_option("#sort", "label_issue")
    page.check("#desc")
    page.wait_for_url("**/explore?sort=-label_issue")
    page.wait_for_function(f"document.querySelector('.tile') !== null && "
                           f"document.querySelector('.tile').dataset.sample === {json.dumps(ranked[0])}")
    assert page.inner_text("#total") == "360 images" and page.inner_text("#note") == ""
    shown = _tiles(page)
    assert shown == ranked[:len(shown)]
    page.click(".tile >> nth=0")
    page.wait_for_url(f"**/explore/image/{ranked[0]}?sort=-label_issue")
    assert "rank 1 of 360" in page.inner_text("#label-issue")
    assert page.locator("#label-sources tr[data-source]").count() >= 2  # models and cleanlab
    assert errors == []


def test_open_an_image(served, browser):
    url, f = served
    page, errors = _page(browser, f"{url}/explore?wrong=naive-bayes")
    _total(page)
    first = _tiles(page)[0]
    page.click(".tile >> nth=0")
    page.wait_for_url(f"**/explore/image/{first}?wrong=naive-bayes")
    assert page.inner_text("h1") == first
    row = f.df.set_index("sample_id").loc[first]
    assert page.inner_text("#label") == str(f.classes["name"][row["label"]])
    assert page.locator("#predictions tr[data-model]").count() == 11
    assert "✗" in page.inner_text('#predictions tr[data-model="naive-bayes"]')
    assert page.eval_on_selector("#image", "i => i.complete && i.naturalWidth") > 0
    assert "image 1 of" in page.inner_text(".status")
    page.wait_for_selector("#neighbours .tile")  # nearest neighbours in a CNN's feature space
    assert page.locator("#neighbours .tile").count() == 12
    page.click("#next")
    page.wait_for_url(f"**/explore/image/{f.ids(f.wrong('naive-bayes'))[1]}?wrong=naive-bayes")
    page.click("#back")
    page.wait_for_url("**/explore?wrong=naive-bayes")
    assert errors == []


def test_click_a_confusion_cell_and_a_pcr_cell(served, browser):
    url, f = served
    page, errors = _page(browser, f"{url}/explore/summary")
    page.click('#cm-models a:text-is("naive-bayes")')
    page.wait_for_selector('#confusion[data-model="naive-bayes"]')
    (t, p), n = next(iter(f.confusions("naive-bayes").items()))
    cell = page.locator(f'#confusion a[data-true="{t}"][data-pred="{p}"]')
    assert int(cell.inner_text()) == n
    cell.click()
    page.wait_for_url("**/explore?*")
    want = f.ids((f.df["label"] == t) & (f.df["naive-bayes"] == p))
    words = f"{n} image" + ("" if n == 1 else "s")
    page.wait_for_function(f"document.getElementById('total').textContent === '{words}'")
    page.wait_for_function(f"document.querySelectorAll('.tile').length === {n}")
    assert _tiles(page) == want
    assert page.input_value("#true").startswith(f"{t}: ") and page.input_value("#model") == "naive-bayes"
    page.go_back()
    page.click('#pcr a[data-a="decision-tree"][data-b="mlp"]')
    want = f.ids(f.wrong("decision-tree") & f.right("mlp"))
    page.wait_for_function(f"document.getElementById('total').textContent === '{len(want)} images'")
    page.wait_for_function(f"document.querySelectorAll('.tile').length === {len(want)}")
    assert _tiles(page) == want
    assert errors == []
