"""Screenshots of the review app for docs/review.md, taken in headless Chromium.

Builds a digits store with six scikit-learn models (a minute or less), a few tasks and some
decisions by two reviewers, serves the app on loopback and saves docs/review-*.png.

Run: .venv/bin/python scripts/review_screenshots.py [--out docs]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
MODELS = ["logistic-regression", "svm-rbf", "knn", "decision-tree", "naive-bayes", "mlp"]


def build(folder: Path):
    """A digits store, four tasks and two reviewers' decisions on the first 14 images."""
    from misclass.data import load_digits
    from misclass.review.context import ReviewContext
    from misclass.review.people import sign_in
    from misclass.review.records import record_decisions, set_flag
    from misclass.review.schema import open_database
    from misclass.review.tasks import create_task, task_items
    from misclass.store import Store
    from misclass.zoo import train_zoo

    data = load_digits(seed=0)
    train, test = data.split("train"), data.split("test")
    store = Store.create(folder / "store", samples=test.samples, classes=data.classes, images=test.images,
                         info={"dataset": "digits", "seed": 0, "split": "test"})
    for r in train_zoo(train.images, train.labels, test.images, n_classes=10, models=MODELS, seed=0):
        store.write_model(r.name, r.topk_ids, r.topk_probs, metadata=r.metadata)
    db = open_database(store.path)
    ctx = ReviewContext.load(store)
    dis = create_task(db, ctx, "digits the models disagree on", "disagreement")
    create_task(db, ctx, "every model misses", "all-miss")
    create_task(db, ctx, "3 vs 8", "pair", pair=("3", "8"))
    create_task(db, ctx, "labeling practice", "random", size=40, mode="training")
    _, ann = sign_in(db, "ann", None, require_token=False)
    _, bob = sign_in(db, "bob", None, require_token=False)
    items = task_items(db, dis.id)
    for k, (i, sid) in enumerate(items[:14]):
        label = int(ctx.labels[i])
        for who in (ann, bob):
            changes = []
            for c in ctx.candidates(i):
                right = c.index == label
                if who is bob and k % 4 == 1 and not right:
                    changes.append((c.index, "unclear"))
                else:
                    changes.append((c.index, "correct" if right else "wrong"))
            record_decisions(db, who.id, sid, changes, task_id=dis.id)
        if k == 5:
            set_flag(db, ann.id, sid, True, "two digits in one box")
    return store, db, ctx, dis, len(items)


def main() -> None:
    """Serve the app, sign in, and save the screenshots."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="docs")
    out = Path(ap.parse_args().out)
    out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    from misclass.review.server import serve
    from misclass.review.web import create_app

    with tempfile.TemporaryDirectory() as tmp:
        store, db, ctx, dis, n = build(Path(tmp))
        with serve(create_app(ctx, db)) as url, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(f"{url}/login")
            page.fill("input[name=name]", "ann")
            page.click("button[type=submit]")
            page.wait_for_url(f"{url}/")
            page.screenshot(path=out / "review-tasks.png", full_page=True)
            # the review page on the first open image, one candidate marked, focus on the next
            page.goto(f"{url}/tasks/{dis.id}")
            page.locator(".cand >> nth=0").locator("button[value=correct]").click()
            page.wait_for_selector('.cand[data-value="correct"]')
            page.screenshot(path=out / "review-page.png")
            page.goto(f"{url}/tasks/{dis.id}/5")  # a flagged image with both reviewers' decisions
            page.screenshot(path=out / "review-flagged.png")
            page.goto(f"{url}/tasks/4")
            page.keyboard.press("/")
            page.keyboard.type("8")
            page.keyboard.press("Enter")
            page.wait_for_selector("#answer:not([hidden])")
            page.screenshot(path=out / "review-labeling.png")
            page.goto(f"{url}/stats")
            page.screenshot(path=out / "review-agreement.png", full_page=True)
            browser.close()
        db.dispose()
    print(f"wrote {', '.join(str(p) for p in sorted(out.glob('review-*.png')))} ({n} images in the task)")


if __name__ == "__main__":
    main()
