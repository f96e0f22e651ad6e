"""The explore app's JSON API and pages through FastAPI's test client: every filter against an
independent count (pandas over the store's Parquet files) on the demo store, image details,
neighbours, summaries and the links they carry, thumbnails, access rules, and bad input."""

from __future__ import annotations

import re
import urllib.parse

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the explore app needs misclass[review]")

from app_support import Frame, all_ids, copy_store, cosine_order  # noqa: E402
from review_support import make_store, review_client, sign_in  # noqa: E402

from misclass.app.web import create_app  # noqa: E402
from misclass.review.people import add_user  # noqa: E402
from misclass.review.schema import open_database  # noqa: E402
from misclass.store import open_store  # noqa: E402

JSON = {"accept": "application/json"}


@pytest.fixture(scope="module")
def demo(demo_dirs, tmp_path_factory):
    """The demo store (a copy: the app writes thumbnails and a review database), the app on it,
    a client, and the store read with pandas."""
    path = copy_store(demo_dirs[0], tmp_path_factory.mktemp("app-demo") / "store")
    db = open_database(path)
    app = create_app(open_store(path), db)
    with review_client(app) as client:
        yield {"path": path, "db": db, "app": app, "client": client, "frame": Frame(path)}
    db.dispose()


def _q(**params) -> str:
    return urllib.parse.urlencode([(k, v) for k, vs in params.items()
                                   for v in (vs if isinstance(vs, list) else [vs])])


def test_every_filter_matches_an_independent_count(demo):
    f, c = demo["frame"], demo["client"]
    df, m = f.df, f.models
    assert len(m) == 11
    a, b = "naive-bayes", "decision-tree"
    ct, cp = (int(x) for x in f.confusions(a).index[0])
    lab = df["label"]
    cases = {
        _q(wrong=a): f.wrong(a),
        _q(right=a): f.right(a),
        _q(wrong=a, right=b): f.wrong(a) & f.right(b),
        _q(wrong=[a, b]): f.wrong(a) & f.wrong(b),
        _q(all_wrong=1): f.known & (f.n_wrong() == len(m)),
        _q(one_wrong=1): f.known & (f.n_wrong() == 1),
        _q(all_right=1): f.known & (f.n_wrong() == 0),
        _q(disagree=1): df[m].nunique(axis=1) > 1,
        _q(true=ct): df["label"] == ct,
        _q(true=[ct, cp]): df["label"].isin([ct, cp]),
        _q(pred=cp): f.predicted_by_any(cp),
        _q(pred=cp, model=a): df[a] == cp,
        _q(true=ct, pred=cp, model=a): (df["label"] == ct) & (df[a] == cp),
        _q(pred=cp, model=[a, b]): f.predicted_by_any(cp, [a, b]),
        _q(pair=f"{ct},{cp}", model=a): ((lab == ct) & (df[a] == cp)) | ((lab == cp) & (df[a] == ct)),
        _q(pair=[ct, cp]): ((lab == ct) & f.predicted_by_any(cp)) | ((lab == cp) & f.predicted_by_any(ct)),
        _q(wrong=a, disagree=1, true=ct): f.wrong(a) & (df[m].nunique(axis=1) > 1) & (df["label"] == ct),
        "": f.known | ~f.known,
    }
    some = 0
    for query, mask in cases.items():
        got = all_ids(c, query)
        assert got["sample_ids"] == f.ids(mask), query  # store order
        some += got["total"] > 0
    assert some >= len(cases) - 1  # the demo has no image every model misses


def test_class_names_ids_and_indices_name_the_same_class(demo):
    f, c = demo["frame"], demo["client"]
    name, cid = f.classes["name"][3], f.classes["id"][3]
    want = all_ids(c, "true=3")
    assert all_ids(c, _q(true=name)) == want and all_ids(c, _q(true=cid)) == want


def _msp(path, model):
    from scipy.special import softmax

    logits = path / "models" / f"{model}.logits.npy"
    if logits.exists():
        p = softmax(np.load(logits).astype(np.float64), axis=1)
    else:
        p = np.load(path / "models" / f"{model}.probs.npy").astype(np.float64)
    return 1.0 - p.max(axis=1)


@pytest.mark.parametrize("model", ["cnn-plain", "svm-rbf"])  # from logits; from probabilities
def test_sort_and_bound_by_a_failure_score(demo, model):
    f, c, path = demo["frame"], demo["client"], demo["path"]
    msp = _msp(path, model)
    idx = np.arange(len(msp))
    ids = f.df["sample_id"].to_numpy()
    assert all_ids(c, _q(sort=f"msp:{model}"))["sample_ids"] == ids[np.lexsort((idx, msp))].tolist()
    assert all_ids(c, _q(sort=f"-msp:{model}"))["sample_ids"] == ids[np.lexsort((idx, -msp))].tolist()
    low, high = np.quantile(msp, [0.5, 0.95])
    got = all_ids(c, _q(score=f"msp:{model}", min=repr(float(low)), max=repr(float(high)), wrong=model))
    assert got["sample_ids"] == ids[(msp >= low) & (msp <= high) & f.wrong(model).to_numpy()].tolist()


def test_sort_by_disagreement_label_and_sample_id(demo):
    f, c = demo["frame"], demo["client"]
    df = f.df
    others = [x for x in f.predictors if x != "knn"]
    dis = df[others].ne(df["knn"], axis=0).mean(axis=1).to_numpy()
    idx = np.arange(len(df))
    ids = df["sample_id"].to_numpy()
    assert all_ids(c, "sort=-disagreement:knn")["sample_ids"] == ids[np.lexsort((idx, -dis))].tolist()
    assert all_ids(c, "sort=label")["sample_ids"] == ids[np.lexsort((idx, df["label"]))].tolist()
    assert all_ids(c, "sort=sample_id")["sample_ids"] == sorted(ids.tolist())
    assert all_ids(c, "sort=-index")["sample_ids"] == ids[::-1].tolist()


def test_pages_add_up_to_the_whole(demo):
    c = demo["client"]
    whole = all_ids(c, "one_wrong=1&sort=-msp:mlp")["sample_ids"]
    pages = []
    for offset in range(0, len(whole) + 20, 20):
        body = c.get(f"/api/images?one_wrong=1&sort=-msp:mlp&offset={offset}&limit=20").json()
        assert body["total"] == len(whole)
        pages += body["sample_ids"]
    assert pages == whole
    assert c.get("/api/images?limit=0").json() == {"total": 360, "sample_ids": []}


def test_items_carry_labels_and_the_shown_predictions(demo):
    f, c = demo["frame"], demo["client"]
    body = c.get("/api/images?wrong=mlp&include=items&show=mlp&show=knn&limit=5").json()
    assert body["sample_ids"] == f.ids(f.wrong("mlp"))[:5] and body["offset"] == 0
    row = f.df.set_index("sample_id")
    names = f.classes["name"].astype(str).tolist()
    for item in body["items"]:
        r = row.loc[item["sample_id"]]
        assert item["label"] == r["label"] and item["label_name"] == names[r["label"]]
        got = {p["model"]: (p["class"], p["right"]) for p in item["predictions"]}
        assert got == {"mlp": (r["mlp"], False), "knn": (r["knn"], r["knn"] == r["label"])}
    # without show: the models the query names, else the first two
    cls = int(f.df.loc[f.wrong("mlp"), "svm-rbf"].iloc[0])
    named = c.get(f"/api/images?right=knn&wrong=mlp&pred={cls}&model=svm-rbf&include=items&limit=1").json()
    if named["total"] == 0:  # no image knn gets right there: drop that clause
        named = c.get(f"/api/images?wrong=mlp&pred={cls}&model=svm-rbf&include=items&limit=1").json()
        assert [p["model"] for p in named["items"][0]["predictions"]] == ["mlp", "svm-rbf"]
    else:
        assert [p["model"] for p in named["items"][0]["predictions"]] == ["knn", "mlp", "svm-rbf"]
    plain = c.get("/api/images?include=items&limit=1").json()
    assert [p["model"] for p in plain["items"][0]["predictions"]] == f.predictors[:2]


def test_image_details(demo):
    import pandas as pd

    c, path = demo["client"], demo["path"]
    sid = demo["frame"].ids(demo["frame"].wrong("naive-bayes"))[0]
    d = c.get(f"/api/images/{sid}").json()
    i = d["index"]
    assert d["sample_id"] == sid and d["has_image"] and d["votes"] == {} and d["erasure"] == []
    assert [p["model"] for p in d["predictions"]] == demo["frame"].predictors
    for p in d["predictions"]:
        stored = pd.read_parquet(path / "models" / f"{p['model']}.parquet").iloc[i]
        pairs = zip(stored["topk_ids"], stored["topk_probs"], strict=True)
        kept = [(int(c), float(q)) for c, q in pairs if c >= 0]
        assert [t["class"] for t in p["topk"]] == [c for c, _ in kept]  # -1 pads left out
        assert [t["prob"] for t in p["topk"]] == pytest.approx([q for _, q in kept])
    assert {p["model"] for p in d["predictions"] if p["wrong"]} >= {"naive-bayes"}
    assert set(d["features"]) == {"cnn-plain", "cnn-residual", "cnn-separable"}
    assert d["review"] == {"decisions": [], "flags": []}
    page = c.get(f"/explore/image/{sid}?wrong=naive-bayes")
    assert page.status_code == 200 and sid in page.text and "image 1 of" in page.text


def test_neighbours_in_a_feature_space(demo):
    c, path = demo["client"], demo["path"]
    sid = demo["frame"].df["sample_id"][7]
    body = c.get(f"/api/neighbours/{sid}?model=cnn-plain&k=6").json()
    features = np.load(path / "models" / "cnn-plain.features.npy")
    want = cosine_order(features, 7, 6)
    assert [n["index"] for n in body["neighbours"]] == want
    assert body["metric"] == "cosine" and body["neighbours"][0]["predictions"][0]["model"] == "cnn-plain"
    r = c.get(f"/api/neighbours/{sid}?model=knn")
    assert r.status_code == 404 and "has no stored features" in r.json()["error"]


def test_summary_cells_open_exactly_their_images(demo):
    f, c = demo["frame"], demo["client"]
    s = c.get("/api/summary").json()
    assert s["models"] == f.models and s["all_classes"] and len(s["classes"]) == 10
    for model in ("naive-bayes", "mlp"):
        counts = f.df[f.known].groupby(["label", model]).size()
        for r, row in enumerate(s["confusion"][model]):
            for col, n in enumerate(row):
                assert n == counts.get((r, col), 0), (model, r, col)
    for a, ma in enumerate(f.models):
        for b, mb in enumerate(f.models):
            if a != b:
                wrong = f.wrong(ma)
                want = (wrong & f.right(mb)).sum() / wrong.sum() if wrong.any() else None
                assert s["pcr"][a][b] == pytest.approx(want), (ma, mb)
    top = s["top_pairs"][0]
    both = f.df["label"] == top["true"]
    assert top["total"] == sum(int((both & (f.df[m] == top["predicted"])).sum()) for m in f.models)
    # every link of the summary page opens as many images as its cell says
    html = c.get("/explore/summary?model=naive-bayes").text
    cells = re.findall(r'href="/explore\?([^"]+)" data-true="(\d+)" data-pred="(\d+)"[^>]*>(\d+)</a>', html)
    assert len(cells) == 100
    for query, _, _, n in cells:
        assert all_ids(c, query.replace("&amp;", "&"))["total"] == int(n)
    pcr = re.findall(r'href="/explore\?([^"]+)" data-a="([^"]+)" data-b="([^"]+)"', html)
    assert len(pcr) == 11 * 10
    for query, ma, mb in pcr[:12]:
        assert all_ids(c, query.replace("&amp;", "&"))["sample_ids"] == f.ids(f.wrong(ma) & f.right(mb))
    row = re.search(r'href="/explore\?([^"]+)" class="pair-row"', html).group(1).replace("&amp;", "&")
    assert all_ids(c, row)["sample_ids"] == f.ids(both & f.predicted_by_any(top["predicted"]))


def test_thumbnails_are_made_once_into_the_store(demo):
    from PIL import Image

    c, path = demo["client"], demo["path"]
    r = c.get("/thumbs/5")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    import io

    assert Image.open(io.BytesIO(r.content)).size == (160, 160)  # 8 x 8 digits, enlarged 20 times
    files = list((path / "thumbs" / "160").rglob("*.png"))
    assert len(files) == 1 and files[0].read_bytes() == r.content
    before = files[0].stat().st_mtime_ns
    assert c.get("/thumbs/5").content == r.content and files[0].stat().st_mtime_ns == before
    assert not list((path / "thumbs").rglob("*.tmp*"))
    assert c.get("/media/5.png").status_code == 200


@pytest.mark.parametrize(("url", "status", "words"), [
    ("/api/images?wrong=nope", 400, "wrong='nope': no such model in the store"),
    ("/api/images?right=", 400, "right='': no such model"),
    ("/api/images?true=zebra", 400, "'zebra' is neither a class index 0..9"),
    ("/api/images?true=10", 400, "class id 10 is out of range"),
    ("/api/images?pred=3&model=nope", 400, "model='nope'"),
    ("/api/images?pair=1", 400, "pair: expected two classes"),
    ("/api/images?pair=1&pair=2&pair=3", 400, "pair: expected two classes"),
    ("/api/images?group=dogs", 400, "group='dogs': no such group"),
    ("/api/images?limit=abc", 400, "limit='abc': expected a whole number"),
    ("/api/images?limit=-1", 400, "limit=-1: expected 0..100,000"),
    ("/api/images?limit=100001", 400, "limit=100001: expected 0..100,000"),
    ("/api/images?offset=-5", 400, "offset=-5: expected at least 0"),
    ("/api/images?limit=1&limit=2", 400, "limit: given 2 times"),
    ("/api/images?all_wrong=maybe", 400, "all_wrong='maybe': expected 1 or 0"),
    ("/api/images?colour=red", 400, "unknown query parameter 'colour'"),
    ("/api/images?sort=nope", 400, "sort='nope': not a score"),
    ("/api/images?sort=msp", 400, "sort='msp': not a score"),
    ("/api/images?sort=msp:nope", 400, "no such model"),
    ("/api/images?sort=energy:knn", 400, "sort='energy:knn': needs stored logits"),
    ("/api/images?sort=human_agreement", 400, "needs people's votes"),
    ("/api/images?min=0.5", 400, "min and max bound a score"),
    ("/api/images?score=msp:mlp&min=x", 400, "min='x': expected a number"),
    ("/api/images?score=msp:mlp&max=nan", 400, "max: expected a number, not NaN"),
    ("/api/images?review=maybe", 400, "review='maybe': expected one of reviewed, unreviewed, flagged"),
    ("/api/images?erasure=fixed", 400, "this store has no explain runs"),
    ("/api/images?include=all", 400, "include='all': expected items"),
    ("/api/images?show=nope", 400, "show='nope'"),
    ("/api/images?true=" + "x" * 600, 400, "at most 500"),
    ("/api/images/nope", 404, "image 'nope': no such sample id"),
    ("/api/images/{sid}?x=1", 400, "unknown query parameter 'x'"),
    ("/api/neighbours/{sid}", 400, "neighbours take model=NAME"),
    ("/api/neighbours/{sid}?model=cnn-plain&k=0", 400, "k=0: expected 1..100"),
    ("/api/neighbours/{sid}?model=cnn-plain&k=x", 400, "k='x': expected a whole number"),
    ("/api/neighbours/nope?model=cnn-plain", 404, "no such sample id"),
    ("/api/summary?x=1", 400, "unknown query parameter 'x'"),
    ("/thumbs/99999", 404, "no such image"),
    ("/thumbs/abc", 404, "no such image"),
    ("/media/-1.png", 404, "no such image"),
    ("/media/saliency/knn/0.png", 404, "no saliency map"),
])
def test_bad_input_is_one_clear_error(demo, url, status, words):
    url = url.replace("{sid}", demo["frame"].df["sample_id"][0])
    r = demo["client"].get(url, headers=JSON)
    assert r.status_code == status, (url, r.text)
    body = r.json()
    assert body["ok"] is False and words in body["error"], (url, body)


def test_bad_pages_are_error_pages_not_500(demo):
    c = demo["client"]
    r = c.get("/explore/summary?model=nope")
    assert r.status_code == 400 and "not a model of this store" in r.text
    r = c.get("/explore/image/nope")
    assert r.status_code == 404 and "no such sample id" in r.text
    # a bad query on an image page is a note, not an error page
    r = c.get(f"/explore/image/{demo['frame'].df['sample_id'][0]}?wrong=nope")
    assert r.status_code == 200 and "wrong=&#39;nope&#39;: no such model" in r.text


def test_random_queries_never_fail_the_server(demo):
    rng = np.random.default_rng(0)
    c = demo["client"]
    keys = ["right", "wrong", "all_wrong", "true", "pred", "model", "pair", "sort", "score", "min", "max",
            "limit", "offset", "review", "show", "include", "group", "erasure", "x"]
    values = ["mlp", "knn", "1", "0", "-1", "3", "3,5", "msp:mlp", "-msp:mlp", "nan", "1e309", "", "%00",
              "items", "zzz", "reviewed", "fixed", "\u00e9", "9" * 30]
    for _ in range(300):
        n = rng.integers(1, 5)
        q = urllib.parse.urlencode([(rng.choice(keys), rng.choice(values)) for _ in range(n)])
        r = c.get(f"/api/images?{q}")
        assert r.status_code in (200, 400), (q, r.text)
        if r.status_code == 400:
            assert r.json()["error"]


def test_review_states(demo):
    from misclass.review.people import sign_in as open_session
    from misclass.review.records import record_decisions, set_flag

    c, db, f = demo["client"], demo["db"], demo["frame"]
    _, ann = open_session(db, "ann", None, require_token=False)
    a, b = f.df["sample_id"][0], f.df["sample_id"][1]
    record_decisions(db, ann.id, a, [(int(f.df["label"][0]), "correct")])
    set_flag(db, ann.id, b, True, "two digits")
    assert all_ids(c, "review=reviewed")["sample_ids"] == [a, b]
    assert all_ids(c, "review=flagged")["sample_ids"] == [b]
    assert all_ids(c, "review=unreviewed")["total"] == 358
    d = c.get(f"/api/images/{b}").json()
    assert d["review"]["flags"] == [{"user": "ann", "problematic": True, "reason": "two digits"}]
    assert "flagged as problematic" in c.get(f"/explore/image/{b}").text


def test_pages_render(demo):
    c = demo["client"]
    r = c.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/explore"
    page = c.get("/explore").text
    assert 'data-model="naive-bayes"' in page and "/static/explore.js" in page
    assert '<option value="label_issue">label_issue</option>' in page
    # the grid's first page comes with the page
    first = re.search(r'<script id="meta" type="application/json">(.*?)</script>', page).group(1)
    import json

    assert json.loads(first)["first"]["total"] == 360 and len(json.loads(first)["first"]["items"]) == 60
    bad = c.get("/explore?wrong=nope").text
    assert "no such model in the store" in bad  # in the page's data, shown as a note by the script
    assert c.get("/static/explore.js").status_code == 200
    meta = c.get("/api/explore").json()
    assert meta["n"] == 360 and meta["has_images"] and "msp:mlp" in meta["keys"]
    assert meta["unavailable"]["energy:knn"] == "needs stored logits (--save-logits)"
    # the review pages are part of the app, with their sign-in
    assert c.get("/tasks", follow_redirects=False).status_code == 303
    with review_client(demo["app"]) as other:
        sign_in(other, "bob")
        assert "Tasks" in other.get("/tasks").text


def _mean_probs(f: Frame) -> np.ndarray:
    """The mean of the stored probabilities of the demo's models, read with numpy alone."""
    files = [f.path / "models" / f"{m}.probs.npy" for m in f.models]
    probs = [np.load(p).astype(np.float64) for p in files if p.is_file()]
    assert len(probs) == len(f.models)
    total = sum(probs)
    return total / total.sum(axis=1, keepdims=True)


def test_label_issue_scores_are_those_of_misclass_label_issues(demo, capsys, tmp_path):
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores
    from helpers import cli_json

    from misclass.review.people import sign_in as open_session
    from misclass.review.records import record_decisions

    c, f = demo["client"], demo["frame"]
    store_order = f.df["sample_id"].tolist()

    def check(name: str) -> list[dict]:
        out = tmp_path / f"{name}.json"
        issues = cli_json(["label-issues", "--store", demo["path"]], capsys, out)["issues"]
        ranked = [x["sample_id"] for x in issues]
        assert all_ids(c, "sort=-label_issue")["sample_ids"] == ranked
        cut = issues[25]["score"]
        above = {x["sample_id"] for x in issues if x["score"] >= cut}
        got = all_ids(c, f"score=label_issue&min={cut!r}")["sample_ids"]
        assert got == [s for s in store_order if s in above] and len(got) >= 26
        for r in (0, 1, 100, len(issues) - 1):
            d = c.get(f"/api/images/{issues[r]['sample_id']}").json()["label_issue"]
            assert d["rank"] == r + 1 and d["of"] == len(issues)
            assert {k: d[k] for k in ("sample_id", "given", "suggested")} == \
                {k: issues[r][k] for k in ("sample_id", "given", "suggested")}
            assert d["score"] == pytest.approx(issues[r]["score"], rel=1e-12)
            assert set(d["sources"]) == set(issues[r]["sources"])
            for src, want in issues[r]["sources"].items():
                assert d["sources"][src]["score"] == pytest.approx(want["score"], rel=1e-12)
                assert d["sources"][src]["suggested"] == want["suggested"]
        return issues

    issues = check("before")
    assert len(issues) == 360
    # the cleanlab source is cleanlab on the mean of the models' probabilities
    labels = f.df["label"].to_numpy()
    probs = _mean_probs(f)
    quality = get_label_quality_scores(labels, probs, method="self_confidence")
    flags = find_label_issues(labels, probs, n_jobs=1)
    for i in (0, 17, 359):
        d = c.get(f"/api/images/{store_order[i]}").json()["label_issue"]
        assert d["sources"]["cleanlab"]["score"] == pytest.approx(1 - quality[i], rel=1e-9, abs=1e-12)
        assert d["sources"]["cleanlab"]["flagged"] == bool(flags[i])
    page = c.get(f"/explore/image/{issues[0]['sample_id']}").text
    assert 'id="label-sources"' in page and "rank 1 of 360" in page
    # a new review decision gives new scores, as misclass label-issues computes them
    _, ann = open_session(demo["db"], "lia", None, require_token=False)
    last = issues[-1]
    record_decisions(demo["db"], ann.id, last["sample_id"], [(last["given"], "wrong")])
    after = check("after")
    assert "review" in next(x for x in after if x["sample_id"] == last["sample_id"])["sources"]


def test_label_issue_scores_need_labels(tmp_path):
    import pandas as pd

    from misclass.store import Store

    samples = pd.DataFrame({"sample_id": ["a", "b", "c"], "label": [-1, -1, -1]})
    store = Store.create(tmp_path / "s", samples=samples, classes=pd.DataFrame({"name": ["cat", "dog"]}))
    store.write_model("x", np.array([[0], [0], [1]]))
    db = open_database(store.path)
    with review_client(create_app(store, db)) as c:
        for url in ("/api/images?sort=label_issue", "/api/images?score=label_issue&min=0.5"):
            r = c.get(url)
            assert r.status_code == 400
            assert "needs given labels: no image of this store has one" in r.json()["error"]
        meta = c.get("/api/explore").json()
        assert "label_issue" not in meta["keys"]
        assert "needs given labels" in meta["unavailable"]["label_issue"]
        d = c.get("/api/images/a").json()
        assert "needs given labels" in d["label_issue"]["unavailable"]
        assert "No label-issue score: needs given labels" in c.get("/explore/image/a").text
    db.dispose()


# --------------------------------------------------------------------------- small stores
@pytest.fixture
def small(tmp_path):
    store = make_store(tmp_path / "store")
    db = open_database(store.path)
    yield store, db
    db.dispose()


def test_api_is_open_on_loopback_and_needs_a_token_elsewhere(small):
    store, db = small
    token = add_user(db, "bob")
    with review_client(create_app(store, db)) as c:
        assert c.get("/api/images?wrong=m1").json() == {
            "total": 4, "sample_ids": ["img01.png", "img02.png", "img06.png", "img09.png"]}
        assert c.get("/explore").status_code == 200
    with review_client(create_app(store, db), peer="10.0.0.7") as c:  # a peer beyond loopback
        assert c.get("/api/images").status_code == 401
    app = create_app(store, db, require_tokens=True)
    with review_client(app) as c:
        for url in ("/api/images", "/api/images/img01.png", "/api/summary", "/api/explore",
                    "/api/neighbours/img01.png?model=m1"):
            r = c.get(url)
            assert r.status_code == 401 and r.json()["error"] == "sign in first", url
        for url in ("/explore", "/explore/summary", "/explore/image/img01.png", "/thumbs/1", "/media/1.png"):
            r = c.get(url, follow_redirects=False)
            assert r.status_code == 303 and r.headers["location"].startswith("/login"), url
        assert c.get("/api/images?limit=1", headers={"authorization": "Bearer nope"}).status_code == 401
        r = c.get("/api/images?limit=1", headers={"authorization": f"Bearer {token}"})
        assert r.status_code == 200 and r.json()["total"] == 12
        sign_in(c, "bob", token)  # a browser session opened with the token reads the pages
        assert c.get("/explore").status_code == 200 and c.get("/api/images").status_code == 200


def test_host_guard_covers_the_explore_routes(small):
    store, db = small
    with review_client(create_app(store, db)) as c:
        r = c.get("/api/images", headers={"host": "evil.example"})
        assert r.status_code == 400 and "is not a name this server answers to" in r.json()["error"]


def test_a_store_without_pixels(tmp_path):
    import pandas as pd

    from misclass.store import Store

    samples = pd.DataFrame({"sample_id": ["a", "b", "c"], "label": [0, 1, -1]})
    store = Store.create(tmp_path / "s", samples=samples, classes=pd.DataFrame({"name": ["cat", "dog"]}))
    store.write_model("x", np.array([[0], [0], [1]]))
    db = open_database(store.path)
    with review_client(create_app(store, db)) as c:
        assert c.get("/api/images?wrong=x").json() == {"total": 1, "sample_ids": ["b"]}
        assert c.get("/api/images?right=x").json()["sample_ids"] == ["a"]  # c has no label: neither
        assert c.get("/api/explore").json()["has_images"] is False
        assert c.get("/thumbs/0").status_code == 404
        assert "holds no pixels" in c.get("/explore").text
        assert "holds no pixels" in c.get("/explore/image/a").text
        assert c.get("/api/images/c").json()["label_issue"] == {
            "unavailable": "the image has no given label, so no label-issue score"}
        assert c.get("/api/summary").json()["pcr"] is None  # one model: no pairs
    db.dispose()


def test_the_app_sees_a_changed_store(small):
    store, db = small
    with review_client(create_app(store, db)) as c:
        assert c.get("/api/images?wrong=m4").status_code == 400
        store.write_model("m4", np.zeros((12, 1), dtype=np.int64))
        assert c.get("/api/images?wrong=m4").json()["total"] == 9
        assert "m4" in c.get("/api/summary").json()["models"]


def test_votes_give_human_agreement(tmp_path, capsys):
    from helpers import run_cli

    store = make_store(tmp_path / "store")
    counts = np.random.default_rng(1).integers(0, 6, (12, 4))
    counts[:, 0] += 1  # every image has a vote
    np.save(tmp_path / "votes.npy", counts)
    code, out, err = run_cli(["import", "votes", tmp_path / "votes.npy", "--store", store.path], capsys)
    assert code == 0, out + err
    db = open_database(store.path)
    share = counts.max(axis=1) / counts.sum(axis=1)
    label_share = counts[np.arange(12), np.asarray(store.labels())] / counts.sum(axis=1)
    ids = np.asarray(store.sample_ids(), dtype=str)
    idx = np.arange(12)
    with review_client(create_app(store, db)) as c:
        assert all_ids(c, "sort=human_agreement")["sample_ids"] == ids[np.lexsort((idx, share))].tolist()
        got = all_ids(c, "sort=-human_label_share:human-random")["sample_ids"]
        assert got == ids[np.lexsort((idx, -label_share))].tolist()
        assert all_ids(c, "score=human_agreement&max=0.5")["sample_ids"] == ids[share <= 0.5].tolist()
        # people are predictors, but "every model wrong" counts the models only
        body = all_ids(c, "all_wrong=1")
        assert body["sample_ids"] == ["img02.png", "img06.png", "img09.png"]
        d = c.get("/api/images/img00.png").json()
        shares = d["votes"]["human-random"]["shares"]
        assert sum(s["share"] for s in shares) == pytest.approx(1.0)
        assert d["votes"]["human-majority"]["top_share"] == pytest.approx(share[0])
        assert "People's votes" in c.get("/explore/image/img00.png").text
        r = c.get("/api/images?sort=human_agreement:m1")
        assert r.status_code == 400 and "not a predictor imported from votes" in r.json()["error"]
    db.dispose()


def test_explain_runs_give_erasure_outcomes_and_saliency(small):
    import json

    from misclass.store.files import atomic_write

    store, db = small
    folder = store.layout.explain
    images = [{"sample_id": f"img{i:02d}.png", "label": lab, "before": b, "after": a, "after_random": b,
               "outcome": o, "outcome_random": "unchanged", "erased": 3, "erased_fraction": 0.05}
              for i, lab, b, a, o in [(1, 0, 1, 0, "fixed"), (2, 1, 0, 2, "moved"), (3, 1, 1, 0, "broken")]]
    payload = {"model": "m1", "method": "gradient", "images": images}
    atomic_write(folder / "m1.json", lambda tmp: tmp.write_text(json.dumps(payload)))
    rng = np.random.default_rng(0)

    def npz(tmp):
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, sample_id=np.array(["img01.png"]),
                                original=rng.integers(0, 255, (1, 8, 8, 3)),
                                saliency=rng.random((1, 8, 8)).astype(np.float16),
                                erased=rng.integers(0, 255, (1, 8, 8, 3)))

    atomic_write(folder / "m1.npz", npz)
    with review_client(create_app(store, db)) as c:
        assert all_ids(c, "erasure=fixed")["sample_ids"] == ["img01.png"]
        assert all_ids(c, "erasure=broken&model=m1")["sample_ids"] == ["img03.png"]
        r = c.get("/api/images?erasure=fixed&model=m2")
        assert r.status_code == 400 and "no explain run of 'm2'" in r.json()["error"]
        d = c.get("/api/images/img01.png").json()
        assert d["erasure"][0]["outcome"] == "fixed" and d["erasure"][0]["saliency"] is True
        r = c.get("/media/saliency/m1/1.png")
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        assert c.get("/media/saliency/m1/2.png").status_code == 404
        page = c.get("/explore/image/img01.png").text
        assert "Saliency and erasure" in page and "/media/saliency/m1/1.png" in page
        assert c.get("/api/explore").json()["explained"] == ["m1"]


def test_the_command_serves_the_app(small, monkeypatch, capsys):
    import uvicorn
    from helpers import run_cli

    store, _ = small
    served = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.update(app=app, **kw))
    code, out, err = run_cli(["app", "--store", store.path, "--port", "8123"], capsys)
    assert code == 0 and f"Exploring {store.path} at http://127.0.0.1:8123" in out, out + err
    app = served["app"]
    assert served["port"] == 8123 and not app.state.review.require_tokens
    assert app.state.explorer.query({"all_wrong": "1"}).sample_ids == ["img02.png", "img06.png", "img09.png"]
    code, out, _ = run_cli(["app", "--store", store.path, "--host", "0.0.0.0", "--allowed-host", "lab"],
                           capsys)
    assert code == 0 and "sign-in needs a token" in out and served["app"].state.review.require_tokens
    # misclass review still serves the review pages alone
    code, out, _ = run_cli(["review", "--store", store.path], capsys)
    assert code == 0 and out.startswith("Reviewing") and not hasattr(served["app"].state, "explorer")


def test_thumbnails_of_image_files_follow_the_files(tmp_path):
    import io
    import os

    import pandas as pd
    from PIL import Image

    from misclass.store import Store

    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a.jpg", "b.jpg"):
        Image.fromarray(rng.integers(0, 255, (300, 400, 3), dtype=np.uint8)).save(folder / name)
    samples = pd.DataFrame({"sample_id": ["a.jpg", "b.jpg"], "label": [0, 1]})
    store = Store.create(tmp_path / "s", samples=samples, classes=pd.DataFrame({"name": ["cat", "dog"]}))
    store.write_model("x", np.array([[0], [0]]))
    store.set_image_paths(["a.jpg", "b.jpg"], folder)
    db = open_database(store.path)
    with review_client(create_app(store, db)) as c:
        r = c.get("/thumbs/0")
        assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
        assert Image.open(io.BytesIO(r.content)).size == (160, 120)  # shrunk, aspect kept
        cached = list((store.path / "thumbs").rglob("*.jpg"))
        assert len(cached) == 1
        # a changed file gets a new thumbnail; the old one is never shown again
        Image.fromarray(np.zeros((100, 100, 3), dtype=np.uint8)).save(folder / "a.jpg")
        os.utime(folder / "a.jpg", ns=(1, 10**18))
        r2 = c.get("/thumbs/0")
        assert Image.open(io.BytesIO(r2.content)).size == (100, 100)  # small: kept, as PNG
        assert r2.headers["content-type"] == "image/png"
        (folder / "b.jpg").unlink()
        assert c.get("/thumbs/1").status_code == 404  # a missing file: no image, no error
        assert c.get("/api/images/b.jpg").status_code == 200
    db.dispose()
