"""misclass.demo: the workflow makes the store and report ``misclass demo`` makes; the CLI only
prints its result."""

import importlib.util
import re

import numpy as np
import pytest
from helpers import run_cli

import misclass
from misclass.errors import StoreError
from misclass.store import Store

FAST = ("logistic-regression", "naive-bayes")


@pytest.fixture
def quick_demo(monkeypatch):
    """The demo with two fast zoo models, no CNN training (what train_cnn_zoo is asked is
    recorded) and a report of its summary section only."""
    import misclass.report.build as build
    import misclass.training.run as train_run
    import misclass.zoo as zoo
    from misclass.report.registry import sections

    monkeypatch.setattr(zoo, "ZOO", {name: zoo.ZOO[name] for name in FAST})
    calls = []
    monkeypatch.setattr(train_run, "train_cnn_zoo", lambda data, path, **kw: calls.append(kw) or {})
    summary = dict(sections())["summary"]
    monkeypatch.setattr(build, "sections", lambda: [("summary", summary)])
    return calls


def _page(index) -> str:
    """The page without the store's path and the time it was made."""
    page = re.sub(r"store [^ ]+ ·", "store - ·", index.read_text())
    return re.sub(r"made [^<]* by misclass", "made -", page)


def test_demo_workflow_equals_the_cli(quick_demo, demo_dirs, tmp_path, capsys):
    cli, api = tmp_path / "cli", tmp_path / "api"
    code, out, err = run_cli(["demo", "--store", cli / "store", "--out", cli / "report", "--seed", "2"],
                             capsys)
    assert code == 0, err
    result = misclass.demo(api / "store", out=api / "report", seed=2, progress=False)
    with_torch = importlib.util.find_spec("torch") is not None
    assert [kw["seed"] for kw in quick_demo] == [2, 2] * with_torch  # the CNN zoo, with the seed
    a, b = Store(cli / "store"), Store(api / "store")
    assert a.model_names() == b.model_names() == sorted(FAST)
    assert {**a.info(), "created": None} == {**b.info(), "created": None} and a.info()["seed"] == 2
    for name in FAST:
        assert np.array_equal(a.read_probs(name), b.read_probs(name))
    assert _page(result.report.index) == _page(cli / "report" / "index.html")
    # what the CLI prints is the result: one row per model, best first
    frame = result.to_frame()
    printed = [line for line in out.splitlines() if any(n in line for n in FAST)]
    assert [next(n for n in FAST if n in line) for line in printed] == list(frame.index)
    for line, (_, row) in zip(printed, frame.iterrows(), strict=True):
        assert f"{100 * row.top1:.2f}%" in line and row.family in line
    d = result.to_dict()
    assert d["n_train"] == result.n_train and d["n_test"] == 360 and d["store"] == str(b.path)
    assert [m["name"] for m in d["models"]] == list(frame.index)
    assert d["report"] == str(api / "report" / "index.html")

    # with seed 0 the workflow's models predict what the session's full demo (the CLI) stored
    zero = misclass.demo(tmp_path / "zero" / "store", out=tmp_path / "zero" / "report", progress=False)
    full = Store(demo_dirs[0])
    for name in FAST:
        assert np.array_equal(Store(zero.store).read_probs(name), full.read_probs(name))
        assert zero.to_frame().loc[name, "top1"] == full.model_metadata(name)["top1"]


def test_demo_refuses_a_store_it_did_not_make(small_store, tmp_path):
    with pytest.raises(StoreError, match="did not make"):
        misclass.demo(small_store, out=tmp_path / "r", progress=False)
    assert small_store.model_names() == ["a", "b"]
