"""Helpers for the review and explore apps' tests: a small store with images, a test client on
loopback, signing in, headless Chromium."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from misclass.store import Store

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

CLASSES = ["cat", "dog", "frog", "sea lion"]
LABELS = [0, 0, 1, 1, 2, 2, 3, 3, 0, 1, 2, 3]
TOP1 = {  # three models: they disagree on rows 1, 2, 4, 6; every model misses rows 2, 6, 9
    "m1": [0, 1, 0, 1, 2, 2, 0, 3, 0, 2, 2, 3],
    "m2": [0, 0, 0, 1, 1, 2, 2, 3, 0, 2, 2, 3],
    "m3": [0, 0, 2, 1, 2, 2, 0, 3, 0, 2, 2, 3],
}


def make_store(path) -> Store:
    """12 images (8x8), 4 classes, 3 models with top-2 predictions."""
    n = len(LABELS)
    samples = pd.DataFrame({"sample_id": [f"img{i:02d}.png" for i in range(n)], "label": LABELS})
    images = np.random.default_rng(0).integers(0, 255, (n, 8, 8), dtype=np.uint8)
    classes = pd.DataFrame({"name": CLASSES, "description": ["a small feline", "", "", "a marine mammal"]})
    store = Store.create(path, samples=samples, classes=classes, images=images)
    for name, top1 in TOP1.items():
        second = (np.asarray(top1) + 1) % len(CLASSES)
        store.write_model(name, np.stack([top1, second], axis=1))
    return store


HOST = "127.0.0.1"
"""The host the test clients call and come from: the app answers to loopback names only."""


def review_client(app, *, peer: str = HOST, **kwargs):
    """FastAPI's test client for ``app`` as a browser on loopback would use it (Host 127.0.0.1,
    not the test client's default "testserver", which the app refuses), from address ``peer``."""
    from fastapi.testclient import TestClient

    return TestClient(app, base_url=f"http://{HOST}", client=(peer, 50000), **kwargs)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def sign_in(client, name: str, token: str | None = None) -> str:
    """Sign ``client`` in as ``name``; return the session's CSRF token."""
    page = client.get("/login")
    data = {"name": name, "csrf": csrf_of(page.text), "next": "/"}
    if token:
        data["token"] = token
    r = client.post("/login", data=data, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/", r.headers.get("location")
    return csrf_of(client.get("/").text)


@pytest.fixture(name="browser")
def chromium():
    """Debian's headless Chromium driven by Playwright (skipped where either is missing); a test
    module imports ``chromium`` and asks for the fixture ``browser``."""
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="playwright is not installed (misclass[dev])")
    found = shutil.which("chromium")
    exe = CHROMIUM if CHROMIUM.exists() else Path(found) if found else None
    if exe is None:
        pytest.skip("Debian's chromium is not installed (/usr/bin/chromium); make test installs it")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(exe), args=ARGS, headless=True)
        yield b
        b.close()
