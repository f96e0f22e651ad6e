"""End to end in real headless Chromium (Debian's chromium driven by Playwright): open a task,
mark candidates with the mouse and with keys, flag an image, reload and see the decisions kept,
then check that ``misclass evaluate --labels review`` counts them."""

from __future__ import annotations

import sqlite3

import pytest

pytest.importorskip("fastapi", reason="the review app needs misclass[review]")
pytest.importorskip("uvicorn", reason="the review app needs misclass[review]")
pytest.importorskip("playwright.sync_api", reason="playwright is not installed (misclass[dev])")

from helpers import run_cli  # noqa: E402
from review_support import chromium, make_store  # noqa: E402, F401  (chromium: the fixture browser)

from misclass.review.context import ReviewContext  # noqa: E402
from misclass.review.schema import open_database  # noqa: E402
from misclass.review.server import serve  # noqa: E402
from misclass.review.tasks import create_task  # noqa: E402
from misclass.review.web import create_app  # noqa: E402


def decisions(store):
    with sqlite3.connect(store.path / "annotations.sqlite") as con:
        return dict(((s, c), v) for s, c, v in con.execute(
            "select sample_id, class_index, value from decisions"))


def test_review_in_chromium(tmp_path, browser, capsys):
    store = make_store(tmp_path / "store")
    db = open_database(store.path)
    ctx = ReviewContext.load(store)
    task = create_task(db, ctx, "disagreements", "disagreement")
    with serve(create_app(ctx, db)) as url:
        page = _signed_in(browser, url, "ann")
        page.click(f"table a[href='/tasks/{task.id}'] >> text=disagreements")
        page.wait_for_url(f"{url}/tasks/{task.id}/0")
        assert page.locator("img#image").evaluate("i => i.naturalWidth") == 256
        # image 1 (img01.png, a cat): candidates cat (dataset label, 2 models) and dog (1 model)
        cat = page.locator('.cand[data-class="0"]')
        dog = page.locator('.cand[data-class="1"]')
        cat.locator("button[value=correct]").click()  # the mouse
        page.wait_for_selector('.cand[data-class="0"][data-value="correct"]')
        page.keyboard.press("2")  # focus moved to the next open candidate: dog -> wrong
        page.wait_for_selector('.cand[data-class="1"][data-value="wrong"]')
        assert dog.locator("button.on").inner_text().startswith("Wrong")
        page.wait_for_function(
            "document.getElementById('progress-text').textContent.startsWith('Completed 1 of 4')")
        page.keyboard.press("f")  # flag, type a reason, Enter saves it
        page.wait_for_selector("#flagform.on")
        page.keyboard.type("blurry scan")
        page.keyboard.press("Enter")
        page.wait_for_function("document.activeElement.id !== 'reason'")
        page.reload()
        assert page.locator('.cand[data-class="0"]').get_attribute("data-value") == "correct"
        assert page.locator('.cand[data-class="1"]').get_attribute("data-value") == "wrong"
        assert "on" in page.locator("#flagform").get_attribute("class")
        assert page.input_value("#reason") == "blurry scan"
        # keys on the next image (img02.png, a dog that two models call cat): Z enlarges,
        # L marks the dataset label correct, W sets the rest to wrong
        page.keyboard.press("n")
        page.wait_for_url(f"{url}/tasks/{task.id}/1")
        page.keyboard.press("z")
        page.wait_for_selector("#overlay.show")
        page.keyboard.press("Escape")
        page.keyboard.press("l")
        page.wait_for_selector('.cand[data-class="1"][data-value="correct"]')
        page.keyboard.press("w")
        page.wait_for_selector('.cand[data-class="0"][data-value="wrong"]')
        page.wait_for_selector('.cand[data-class="2"][data-value="wrong"]')
        page.keyboard.press("ArrowLeft")
        page.wait_for_url(f"{url}/tasks/{task.id}/0")
        page.close()
    assert decisions(store) == {("img01.png", 0): "correct", ("img01.png", 1): "wrong",
                                ("img02.png", 1): "correct", ("img02.png", 0): "wrong",
                                ("img02.png", 2): "wrong"}
    with sqlite3.connect(store.path / "annotations.sqlite") as con:
        assert con.execute("select problematic, reason from flags").fetchall() == [(1, "blurry scan")]
    db.dispose()
    # image 1 is flagged (excluded); image 2 counts with the set {dog}, which no model predicts
    js = tmp_path / "eval.json"
    code, out, _ = run_cli(["evaluate", "--labels", "review", "--store", store.path, "--json", js], capsys)
    text = " ".join(out.split())
    assert code == 0 and "multi-label accuracy on 1 image;" in text and "1 problematic" in text
    import json

    models = json.loads(js.read_text())["models"]
    assert {m["name"]: m["multilabel"] for m in models} == {"m1": 0.0, "m2": 0.0, "m3": 0.0}


def test_labeling_in_chromium(tmp_path, browser):
    store = make_store(tmp_path / "store")
    db = open_database(store.path)
    ctx = ReviewContext.load(store)
    task = create_task(db, ctx, "train", "ids", mode="training", ids=_ids(tmp_path, "img06.png", "img07.png"))
    with serve(create_app(ctx, db)) as url:
        page = _signed_in(browser, url, "ann")
        page.goto(f"{url}/tasks/{task.id}")
        page.wait_for_url(f"{url}/tasks/{task.id}/0")
        assert page.locator("#answer").is_hidden()
        page.keyboard.press("/")  # search by keyword, Enter picks the first hit
        page.keyboard.type("lio")
        assert page.locator("#results li").all_inner_texts()[0].startswith("sea lion")
        page.keyboard.press("Enter")
        page.wait_for_selector("#answer.right")  # training mode: the answer after the pick
        assert "sea lion" in page.inner_text("#answer")
        page.keyboard.press("Escape")
        page.keyboard.press("n")
        page.wait_for_url(f"{url}/tasks/{task.id}/1")
        assert page.locator("details.group").count() == 1  # 4 classes: one open group
        page.click(".groupclasses button:has-text('cat')")
        page.wait_for_selector("#answer.wrong")
        page.close()
    assert ctx.store.read_model("human-ann").topk_ids[[6, 7], 0].tolist() == [3, 0]
    assert ctx.store.model_metadata("human-ann")["kind"] == "human"
    db.dispose()


def _signed_in(browser, url: str, name: str):
    page = browser.new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{url}/login")
    page.fill("input[name=name]", name)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/")
    return page


def _ids(folder, *ids):
    path = folder / "ids.txt"
    path.write_text("\n".join(ids) + "\n")
    return path
