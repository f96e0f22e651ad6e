"""``misclass.label_issues``: the same JSON as ``misclass label-issues --json`` (in the issue's
format), the planted wrong label first, corrected labels from review, the review task of kind
label-issues, the report section, and one clear error for each bad input."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pandas as pd
import pytest
from helpers import cli_json, run_cli

import misclass
from misclass.errors import InputError
from misclass.store import Store
from misclass.workflows.label_issues import LabelIssuesResult

CLASSES = ["cat", "dog", "frog", "ship"]
N = 240


def _main(args: list) -> str:
    from misclass.cli import main

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), pytest.raises(SystemExit) as done:
        main([str(a) for a in args])
    assert done.value.code == 0, printed.getvalue()
    return printed.getvalue()


def make_store(path, *, votes: bool = True, rng_seed: int = 0) -> Store:
    """240 images (8x8) of 4 classes; 5 models right on ~88% of them (two store probabilities);
    30 people an image (votes imported as human-majority / human-random). Image 0 is labelled
    cat but is a frog to every model and person; image 1 is a hard dog every model calls a
    ship while people agree it is a dog."""
    rng = np.random.default_rng(rng_seed)
    labels = np.arange(N) % 4
    samples = pd.DataFrame({"sample_id": [f"img{i:03d}" for i in range(N)], "label": labels})
    images = rng.integers(0, 255, (N, 8, 8), dtype=np.uint8)
    store = Store.create(path, samples=samples, classes=pd.DataFrame({"name": CLASSES}), images=images)
    for j in range(5):
        top1 = np.where(rng.random(N) < 0.88, labels, rng.integers(0, 4, N))
        top1[0], top1[1] = 2, 3
        second = (top1 + 1 + rng.integers(0, 3, N)) % 4
        probs = None
        if j < 2:
            probs = np.full((N, 4), 0.1 / 3)
            probs[np.arange(N), top1] = 0.9
        store.write_model(f"m{j}", np.stack([top1, second], axis=1), probs=probs)
    if votes:
        counts = np.zeros((N, 4), dtype=np.int64)
        counts[np.arange(N), labels] = 27
        counts[np.arange(N), (labels + 1 + rng.integers(0, 3, N)) % 4] += 3
        counts[0], counts[1] = [0, 0, 30, 0], [0, 30, 0, 0]
        np.save(path.parent / "votes.npy", counts)
        _main(["import", "votes", path.parent / "votes.npy", "--store", path, "--bootstrap", "10"])
    return store


@pytest.fixture
def store(tmp_path) -> Store:
    return make_store(tmp_path / "store")


def _cli_json(capsys, tmp_path, store, *options) -> dict:
    return cli_json(["label-issues", "--store", store, *options], capsys, tmp_path / "issues.json")


def test_workflow_equals_the_cli_json(store, tmp_path, capsys):
    cli = _cli_json(capsys, tmp_path, store.path)
    assert misclass.label_issues(store.path).to_dict() == cli
    options = ["--sources", "models,votes", "--k", "2", "--weights", "models=1,votes=2", "--threshold", "0.8"]
    cli = _cli_json(capsys, tmp_path, store.path, *options)
    res = misclass.label_issues(store, sources=["models", "votes"], k=2, weights={"models": 1, "votes": 2},
                                threshold=0.8)
    assert res.to_dict() == cli
    assert set(cli["issues"][0]["sources"]) == {"models", "votes"}


def test_the_json_has_the_issue_format(store, tmp_path, capsys):
    d = _cli_json(capsys, tmp_path, store.path)
    assert set(d) == {"issues", "n_images"} and d["n_images"] == N
    assert len(d["issues"]) == N  # every labelled image has a score
    for issue in d["issues"]:
        assert set(issue) == {"sample_id", "given", "suggested", "score", "sources"}
        assert isinstance(issue["sample_id"], str) and isinstance(issue["given"], int)
        assert isinstance(issue["suggested"], int) and isinstance(issue["score"], float)
        assert 0 <= issue["score"] <= 1
        assert set(issue["sources"]) == {"models", "cleanlab", "votes"}
        for name, src in issue["sources"].items():
            extra = {"flagged"} if name == "cleanlab" else set()
            assert set(src) == {"score", "suggested"} | extra
    scores = [i["score"] for i in d["issues"]]
    assert scores == sorted(scores, reverse=True)
    first = d["issues"][0]
    assert first["sample_id"] == "img000" and first["given"] == 0 and first["suggested"] == 2
    ids = [i["sample_id"] for i in d["issues"]]
    assert ids.index("img001") > 0  # the hard image people agree with is below the planted one


def test_result_tables(store):
    res = misclass.label_issues(store)
    assert isinstance(res, LabelIssuesResult) and res.weights.method == "planted"
    frame = res.to_frame()
    assert list(frame.index[:3]) == [1, 2, 3] and frame.iloc[0]["sample_id"] == "img000"
    assert frame.iloc[0]["given_name"] == "cat" and frame.iloc[0]["suggested_name"] == "frog"
    assert frame.iloc[0]["agree"] == "models, cleanlab, votes"
    # agree, image by image from each source's log-odds (the column is built from bit codes)
    want = [", ".join(n for n, src in res.sources.items() if not np.isnan(src.logit[i]) and src.logit[i] > 0)
            for i in frame["index"]]
    assert frame["agree"].tolist() == want and len(set(want)) > 1
    assert {"score_models", "score_cleanlab", "score_votes"} <= set(frame.columns)
    assert len(res.top(5)) == 5 and res.top_indices(2).tolist() == [0, frame.iloc[1]["index"]]
    w = res.weights_frame()
    assert list(w.index) == ["models", "cleanlab", "votes"] and (w["scored"] == N).all()
    acc = res.accuracy_frame()
    assert set(acc.index) == {"m0", "m1", "m2", "m3", "m4", "human-majority", "human-random"}
    assert (acc.loc[["m0", "m1"], "kind"] == "model").all() and acc.loc["human-random", "kind"] == "human"
    # a person drawn at random: the expected accuracy, as the store counts it
    assert acc.loc["human-random", "original"] == pytest.approx(store.model_metadata("human-random")["top1"])
    assert acc.loc["human-random", "original"] < acc.loc["human-majority", "original"]
    # image 0 gets its suggested label (frog): every model predicted frog there, so each gains
    fixed = (res.combined.score >= res.threshold) & (res.labels >= 0)
    assert fixed[0]
    assert (acc.loc[["m0", "m1", "m2", "m3", "m4"], "change"] > 0).all()
    curve = res.precision_curve(ks=(1, 5))
    assert res.people.source == "votes" and curve.loc[1, "combined"] == 1.0
    assert list(curve.columns) == ["combined", "models", "cleanlab", "votes"]


def test_on_the_demo_store(demo_dirs, tmp_path, capsys):
    store, _ = demo_dirs
    cli = _cli_json(capsys, tmp_path, store, "--top", "5")
    assert misclass.label_issues(store).to_dict() == cli
    res = misclass.label_issues(store, sources="models", weights={"models": 1.0})
    assert list(res.sources) == ["models"] and res.weights.method == "given"


def test_votes_from_a_file_equal_the_imported_votes(store, tmp_path):
    imported = misclass.label_issues(store, sources="votes")
    from_file = misclass.label_issues(store, sources="votes", votes=tmp_path / "votes.npy")
    np.testing.assert_allclose(imported.sources["votes"].logit, from_file.sources["votes"].logit)


# --------------------------------------------------------------------------- bad input
def test_store_without_labels(tmp_path, capsys):
    samples = pd.DataFrame({"sample_id": ["a", "b", "c"], "label": [-1, -1, -1]})
    s = Store.create(tmp_path / "s", samples=samples, classes=pd.DataFrame({"name": ["x", "y"]}))
    s.write_model("m", np.array([[0], [1], [1]]))
    code, out, err = run_cli(["label-issues", "--store", s.path], capsys)
    assert code == 2 and "no image has a label" in err and out == ""
    assert err.count("error:") == 1


def test_votes_of_the_wrong_shape(store, tmp_path, capsys):
    np.save(tmp_path / "short.npy", np.ones((N - 1, 4), dtype=np.int64))
    code, _, err = run_cli(["label-issues", "--store", store.path, "--votes", tmp_path / "short.npy"], capsys)
    assert code == 2 and err.count("error:") == 1
    assert "shape (239, 4); expected (240, 4)" in err and "short.npy" in err
    np.save(tmp_path / "flat.npy", np.ones(N, dtype=np.int64))
    code, _, err = run_cli(["label-issues", "--store", store.path, "--votes", tmp_path / "flat.npy"], capsys)
    assert code == 2 and "(N, C)" in err
    with pytest.raises(InputError, match="expected \\(240, 4\\)"):
        misclass.label_issues(store, votes=np.ones((N, 3)))


def test_top_beyond_the_images(store, tmp_path, capsys):
    out = tmp_path / "never.json"
    code, printed, err = run_cli(["label-issues", "--store", store.path, "--top", N + 1, "--json", out],
                                 capsys)
    assert code == 2 and err.count("error:") == 1
    assert f"--top {N + 1}: only {N} of the store's {N} images have a score" in err
    assert not out.exists() and printed == ""
    with pytest.raises(InputError, match="--top 0"):
        misclass.label_issues(store).top(0)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"sources": ["faces"]}, "sources faces: name some of models, cleanlab, votes, review"),
    ({"sources": []}, "name some of"),
    ({"sources": ["review"]}, "source review: no review database"),
    ({"probs": ["m4"]}, "--probs: m4: not a model of the store with stored probabilities"),
    ({"weights": {"models": 1}}, "weights: give one weight per source"),
    ({"threshold": 0}, "threshold 0"),
    ({"plant_rate": 1.5}, "plant rate 1.5"),
])
def test_bad_options(store, kwargs, message):
    with pytest.raises(InputError, match=message.replace("(", "\\(")):
        misclass.label_issues(store, **kwargs)


def test_sources_the_store_lacks(tmp_path):
    s = make_store(tmp_path / "s", votes=False)
    res = misclass.label_issues(s)
    assert list(res.sources) == ["models", "cleanlab"] and any("votes: not used" in x for x in res.notes)
    assert res.people is None and res.precision_curve() is None
    with pytest.raises(InputError, match="source votes: no votes"):
        misclass.label_issues(s, sources="votes")


def test_a_review_database_without_the_review_extra(store, monkeypatch):
    import misclass.extras
    from misclass.errors import MissingExtraError

    def missing(module, extra, *, feature=None):
        raise MissingExtraError(f"{feature} needs the optional package {module!r}: pip install "
                                f"'misclass[{extra}]'")
    store.layout.annotations.touch()
    monkeypatch.setattr(misclass.extras, "require", missing)
    res = misclass.label_issues(store)
    assert "review" not in res.sources
    assert any(n.startswith("review: not used") and "misclass[review]" in n for n in res.notes)
    with pytest.raises(MissingExtraError, match="misclass\\[review\\]"):
        misclass.label_issues(store, sources="review")


# --------------------------------------------------------------------------- review
def test_review_task_from_the_ranking_and_decisions_back_as_corrected_labels(store, capsys):
    pytest.importorskip("sqlalchemy", reason="the review database needs misclass[review]")
    from misclass.review.people import sign_in
    from misclass.review.records import record_decisions, set_flag
    from misclass.review.schema import open_database
    from misclass.review.tasks import list_tasks, task_items

    before = misclass.label_issues(store)
    code, out, err = run_cli(["review", "task", "wrong-labels", "--kind", "label-issues", "--top", "6",
                              "--store", store.path], capsys)
    assert code == 0, err
    assert "6 images in 1 part," in out
    db = open_database(store.path)
    task = list_tasks(db)[0]
    assert task.kind == "label-issues"
    assert [i for i, _ in task_items(db, task.id)] == before.order[:6].tolist()  # ranking order
    second = int(before.order[1])
    _, ann = sign_in(db, "ann", None, require_token=False)
    _, bob = sign_in(db, "bob", None, require_token=False)
    for who in (ann, bob):  # image 0: cat is wrong, frog is right; the second: its label is right
        record_decisions(db, who.id, "img000", [(0, "wrong"), (2, "correct")])
        record_decisions(db, who.id, f"img{second:03d}", [(int(store.labels()[second]), "correct")])
    set_flag(db, ann.id, "img005", True, "blurred")
    db.dispose()
    after = misclass.label_issues(store)
    review = after.sources["review"]
    assert list(after.sources)[-1] == "review" and review.has_score.sum() == 3
    assert review.logit[0] > 0 and review.suggested[0] == 2 and review.logit[second] < 0
    assert review.logit[5] > 0  # a problematic flag speaks against the label
    assert after.people.source == "review"
    assert after.order[0] == 0
    assert after.weights.fitted[-1] == False  # noqa: E712  (too few reviewed images to fit)
    # corrected labels: reviewed images take their review sets (image 5: problematic, left out)
    assert misclass.label_issues(store, threshold=1.0).accuracy["corrected"].notna().all()
    code, _, err = run_cli(["review", "task", "x", "--kind", "label-issues", "--top", str(N + 1),
                            "--store", store.path], capsys)
    assert code == 2 and f"--top {N + 1}: only {N}" in err
    code, _, err = run_cli(["review", "task", "y", "--kind", "random", "--top", "3", "--store", store.path],
                           capsys)
    assert code == 2 and "--top is for --kind label-issues" in err


# --------------------------------------------------------------------------- report
def test_report_section_calls_the_workflow(store, tmp_path):
    res = misclass.report(store, out=tmp_path / "report", only=["label-issues"], progress=False)
    assert res.sections == ("label-issues",)
    assert {"figures/label-issues-gallery", "figures/label-issues-precision"} <= set(res.figures)
    page = res.index.read_text()
    assert "Which labels are wrong?" in page and "img000" in page


# --------------------------------------------------------------------------- real data
@pytest.mark.slow
def test_cifar10_label_errors_people_confirmed(tmp_path, capsys):
    """The 30 testbed models and CIFAR-10H on CIFAR-10's test set, checked against the 275
    images crowd workers judged (54 confirmed errors): the figures of benchmarks/label_issues.py
    without the ResNets."""
    from helpers import SHARED_DATA

    from misclass.analysis.label_issues import check_ranking

    need = [SHARED_DATA / d for d in ("cifar10-jpeg", "cifar10-testbed", "cifar10h", "cifar10-label-errors")]
    missing = [str(d) for d in need if not d.is_dir()]
    if missing:
        pytest.skip(f"the shared CIFAR-10 data is not there: {', '.join(missing)}")
    jpeg, testbed, cifar10h, errors = need
    index = jpeg / "test_index.csv"
    store = tmp_path / "store"
    _main(["import", "list", *sorted((testbed / "original").glob("*.json")), "--ids", index,
           "--strip", "_predictions", "--store", store])
    _main(["import", "votes", cifar10h / "cifar10h-counts.npy", "--ids", index, "--bootstrap", "10",
           "--store", store])
    d = _cli_json(capsys, tmp_path, store)
    res = misclass.label_issues(store)
    assert res.to_dict() == d and d["n_images"] == 10000 and len(d["issues"]) == 10000
    assert list(res.sources) == ["models", "votes"] and res.weights.method == "planted"
    row = {sid: i for i, sid in enumerate(res.sample_ids)}
    test_ids = pd.read_csv(index)["file_name"].to_numpy()
    checked = np.zeros(10000, dtype=bool)
    confirmed = np.zeros(10000, dtype=bool)
    for item in json.loads((errors / "cifar10_mturk.json").read_text()):
        checked[row[test_ids[item["id"]]]] = True
        confirmed[row[test_ids[item["id"]]]] = item["mturk"]["given"] < 3
    assert confirmed.sum() == 54
    combined = check_ranking(res.order, confirmed, checked, ks=(50, 100, 500))
    # measured: recall 27.8%, 44.4%, 79.6%; confirmed share 78.9% (19 checked), 64.9%, 40.2%
    assert (combined["recall"].to_numpy() >= [0.25, 0.40, 0.75]).all(), combined
    assert combined.loc[50, "confirmed_share"] >= 0.7
    # each source alone is worse than the combination at K = 100
    from misclass.analysis.label_issues import rank_by_score

    for name, src in res.sources.items():
        alone = check_ranking(rank_by_score(src.logit), confirmed, checked, ks=(100,))
        assert alone.loc[100, "recall"] < combined.loc[100, "recall"], name
    # the first label: a frog labelled cat (test image 2405), every source says so
    first = d["issues"][0]
    assert first["sample_id"] == "test/cat/0235.jpg" and (first["given"], first["suggested"]) == (3, 6)
