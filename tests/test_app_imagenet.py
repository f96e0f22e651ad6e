"""The explore API on the seven shared ImageNet models (50,000 images, no pixels): every filter,
sort and summary against an independent count with pandas over the store's Parquet files."""

from __future__ import annotations

import itertools
import urllib.parse
from importlib import resources

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("fastapi", reason="the explore app needs misclass[review]")

from app_support import Frame, all_ids, copy_store  # noqa: E402
from review_support import review_client  # noqa: E402

from misclass.app.web import create_app  # noqa: E402
from misclass.review.schema import open_database  # noqa: E402
from misclass.store import open_store  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def inet(imagenet_timm_store, tmp_path_factory):
    path = copy_store(imagenet_timm_store, tmp_path_factory.mktemp("app-imagenet") / "store")
    db = open_database(path)
    with review_client(create_app(open_store(path), db)) as client:
        yield {"client": client, "frame": Frame(path)}
    db.dispose()


def _q(**params) -> str:
    return urllib.parse.urlencode(params)


def test_filters_on_imagenet(inet):
    f, c = inet["frame"], inet["client"]
    df, m = f.df, f.models
    assert len(df) == 50_000 and len(m) == 7
    cases = {_q(all_wrong=1): f.known & (f.n_wrong() == 7), _q(one_wrong=1): f.known & (f.n_wrong() == 1),
             _q(all_right=1): f.known & (f.n_wrong() == 0), _q(disagree=1): df[m].nunique(axis=1) > 1}
    for a, b in itertools.islice(itertools.permutations(m, 2), 0, None, 5):
        cases[_q(wrong=a, right=b)] = f.wrong(a) & f.right(b)
    a = "convit_tiny"
    for (ct, cp), _ in f.confusions(a).head(3).items():
        cases[_q(true=ct, pred=cp, model=a)] = (df["label"] == ct) & (df[a] == cp)
        cases[_q(true=ct, pred=cp)] = (df["label"] == ct) & f.predicted_by_any(cp)
        cases[_q(wrong=a, true=ct)] = f.wrong(a) & (df["label"] == ct)
    groups = pd.read_csv(resources.files("misclass.data") / "resources" / "imagenet_groups.csv")
    dogs = groups.loc[groups["is_dog"] == 1, "index"].to_numpy()
    cases[_q(group="dogs")] = df["label"].isin(dogs)
    cases[_q(group="dogs", wrong="swin_base_patch4_window7_224", right=a)] = (
        df["label"].isin(dogs) & f.wrong("swin_base_patch4_window7_224") & f.right(a))
    for query, mask in cases.items():
        got = all_ids(c, query)
        assert got["total"] == int(mask.sum()), query
        assert got["sample_ids"] == f.ids(mask), query
    assert all_ids(c, _q(all_wrong=1))["total"] > 4000


def test_sort_by_disagreement_on_imagenet(inet):
    f, c = inet["frame"], inet["client"]
    df = f.df
    model = "convit_small"
    others = [x for x in f.predictors if x != model]
    dis = df[others].ne(df[model], axis=0).mean(axis=1).to_numpy()
    ids = df["sample_id"].to_numpy()
    order = np.lexsort((np.arange(len(df)), -dis))
    body = c.get(f"/api/images?sort=-disagreement:{model}&limit=500&offset=1000").json()
    assert body["total"] == 50_000 and body["sample_ids"] == ids[order][1000:1500].tolist()
    r = c.get(f"/api/images?sort=msp:{model}")
    assert r.status_code == 400 and "needs probabilities" in r.json()["error"]  # timm CSVs: top-1 only


def test_summaries_on_imagenet(inet):
    f, c = inet["frame"], inet["client"]
    df, m = f.df, f.models
    s = c.get("/api/summary").json()
    assert not s["all_classes"] and len(s["classes"]) == 20 and s["n_classes"] == 1000
    shown = [x["index"] for x in s["classes"]]
    model = m[0]
    counts = df[f.known].groupby(["label", model]).size()
    assert s["confusion"][model] == [[int(counts.get((r, col), 0)) for col in shown] for r in shown]
    for a, b in itertools.permutations(range(7), 2):
        wrong = f.wrong(m[a])
        assert s["pcr"][a][b] == pytest.approx((wrong & f.right(m[b])).sum() / wrong.sum())
    pairs = pd.concat([df.loc[f.wrong(x), ["label", x]].set_axis(["t", "p"], axis=1) for x in m])
    total = pairs.groupby(["t", "p"]).size().sort_values(ascending=False, kind="stable")
    for row in s["top_pairs"][:5]:
        assert row["total"] == total[(row["true"], row["predicted"])]
        q = _q(true=row["true"], pred=row["predicted"])
        want = (df["label"] == row["true"]) & f.predicted_by_any(row["predicted"])
        assert all_ids(c, q)["sample_ids"] == f.ids(want)
    assert s["top_pairs"][0]["total"] == total.iloc[0]


def test_no_pixels_on_imagenet(inet):
    c = inet["client"]
    assert c.get("/api/explore").json()["has_images"] is False
    assert c.get("/thumbs/0").status_code == 404
    page = c.get("/explore")
    assert page.status_code == 200 and "holds no pixels" in page.text and 'value="dogs"' in page.text
    sid = c.get("/api/images?all_wrong=1&limit=1").json()["sample_ids"][0]
    d = c.get(f"/api/images/{sid}").json()
    assert all(p["wrong"] for p in d["predictions"]) and len(d["predictions"]) == 7
    assert d["features"] == [] and not d["has_image"]
