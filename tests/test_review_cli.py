"""``misclass review`` commands, export -> ``--labels review`` round trip, bad input."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("sqlalchemy", reason="the review database needs misclass[review]")

from helpers import run_cli  # noqa: E402
from review_support import make_store  # noqa: E402

from misclass.analysis.labels import multilabel_accuracy  # noqa: E402
from misclass.errors import InputError  # noqa: E402
from misclass.review.people import add_user, sign_in  # noqa: E402
from misclass.review.records import record_decisions, set_flag, set_pick  # noqa: E402
from misclass.review.schema import open_database  # noqa: E402
from misclass.workflows.label_sources import load_label_sets  # noqa: E402


@pytest.fixture
def store(tmp_path):
    return make_store(tmp_path / "store")


def _review(store):
    """Two reviewers: image 2 (a dog both cat and dog), image 6 problematic, image 9 really a frog."""
    db = open_database(store.path)
    _, ann = sign_in(db, "ann", None, require_token=False)
    _, bob = sign_in(db, "bob", None, require_token=False)
    record_decisions(db, ann.id, "img02.png", [(0, "correct"), (1, "correct"), (2, "wrong")])
    record_decisions(db, bob.id, "img02.png", [(0, "correct"), (1, "unclear"), (2, "wrong")])
    set_flag(db, ann.id, "img06.png", True, "two animals")
    record_decisions(db, ann.id, "img09.png", [(1, "wrong"), (2, "correct")])
    record_decisions(db, bob.id, "img09.png", [(1, "wrong"), (2, "unknown")])
    set_pick(db, ann.id, "img03.png", 3, 1)
    db.dispose()


def test_add_user_prints_a_token(store, capsys):
    code, out, _ = run_cli(["review", "add-user", "alice", "--store", store.path], capsys)
    assert code == 0 and out.startswith("Token of alice: ")
    token = out.split(": ", 1)[1].strip()
    db = open_database(store.path)
    assert sign_in(db, "alice", token, require_token=True)[1].name == "alice"
    code, _, err = run_cli(["review", "add-user", "alice", "--store", store.path], capsys)
    assert code == 2 and "already exists" in err
    code, out, _ = run_cli(["review", "add-user", "alice", "--new-token", "--store", store.path], capsys)
    assert code == 0 and out.split(": ", 1)[1].strip() != token
    with pytest.raises(InputError, match="wrong token"):
        sign_in(db, "alice", token, require_token=True)
    code, _, err = run_cli(["review", "add-user", "../x", "--store", store.path], capsys)
    assert code == 2 and "user name '../x'" in err


def test_task_commands(store, tmp_path, capsys):
    s = ["--store", store.path]
    code, out, _ = run_cli(["review", "task", "dis", *s], capsys)
    assert code == 0 and "4 images in 1 part," in out
    code, out, _ = run_cli(["review", "task", "miss", "--kind", "all-miss", *s], capsys)
    assert "3 images" in out
    code, out, _ = run_cli(["review", "task", "cd", "--kind", "pair", "--pair", "cat,dog", "--top5", *s],
                           capsys)
    assert "2 images" in out
    code, out, _ = run_cli(["review", "task", "rnd", "--kind", "random", "--size", "5", "--mode", "label",
                            *s], capsys)
    assert "5 images" in out and "mode label" in out
    ids = tmp_path / "ids.txt"
    ids.write_text("img04.png\n\nimg00.png\n")
    code, out, _ = run_cli(["review", "task", "mine", "--kind", "ids", "--ids", ids, *s], capsys)
    assert code == 0 and "2 images" in out
    code, out, _ = run_cli(["review", "tasks", *s], capsys)
    assert all(n in out for n in ("dis", "miss", "cd", "rnd", "mine"))


@pytest.mark.parametrize("args, message", [
    (["x", "--kind", "ids", "--ids", "IDS"], "IDS: line 2: sample id 'nope.png' is not in the store"),
    (["x", "--kind", "ids", "--ids", "MISSING"], "no such file"),
    (["x", "--kind", "ids"], "needs --ids"),
    (["x", "--kind", "pair", "--pair", "cat,zebra"], "'zebra' is neither"),
    (["x", "--kind", "pair", "--pair", "cat"], "two classes separated by a comma"),
    (["x", "--kind", "nearly"], "task kind 'nearly'"),
    (["x", "--mode", "quick"], "mode 'quick'"),
    (["bad/name"], "task name"),
])
def test_task_bad_input(store, tmp_path, capsys, args, message):
    ids = tmp_path / "ids.txt"
    ids.write_text("img01.png\nnope.png\n")
    args = [str(ids) if a == "IDS" else str(tmp_path / "missing.txt") if a == "MISSING" else a for a in args]
    message = message.replace("IDS", str(ids))
    code, _, err = run_cli(["review", "task", *args, "--store", store.path], capsys)
    assert code == 2 and message in " ".join(err.split()), err
    db = open_database(store.path)
    from misclass.review.tasks import list_tasks

    assert list_tasks(db) == []  # nothing half-written


def test_unknown_store_and_db(tmp_path, capsys):
    code, _, err = run_cli(["review", "add-user", "ann", "--store", tmp_path / "nowhere"], capsys)
    assert code == 2 and "no misclass store here" in err
    code, _, err = run_cli(["review", "--store", tmp_path / "nowhere"], capsys)
    assert code == 2 and "no misclass store here" in err
    store = make_store(tmp_path / "s")
    code, _, err = run_cli(["review", "export", "--out", tmp_path / "r.jsonl", "--store", store.path], capsys)
    assert code == 2 and "annotations.sqlite does not exist" in err
    assert not (store.path / "annotations.sqlite").exists()
    code, _, err = run_cli(["review", "add-user", "ann", "--db", "nosuchdialect://x", "--store", store.path],
                           capsys)
    assert code == 2 and "not a usable SQLAlchemy URL" in err
    code, _, err = run_cli(["evaluate", "--labels", "review", "--store", store.path], capsys)
    assert code == 2 and "annotations.sqlite does not exist" in err


def test_help_has_examples(capsys):
    for cmd in ([], ["add-user"], ["task"], ["tasks"], ["export"]):
        code, out, _ = run_cli(["review", *cmd, "--help"], capsys)
        assert code == 0 and "Example: misclass review" in " ".join(out.split()), cmd


def test_export_round_trip_to_multilabel_accuracy(store, tmp_path, capsys):
    _review(store)
    out = tmp_path / "review.jsonl"
    code, text, _ = run_cli(["review", "export", "--out", out, "--store", store.path], capsys)
    assert code == 0 and "Wrote 3 reviewed images" in text and "human-ann" in text
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert lines == [
        {"sample_id": "img02.png", "labels": [0, 1], "problematic": False, "reason": "", "reviewers": 2},
        {"sample_id": "img06.png", "labels": [], "problematic": True, "reason": "two animals",
         "reviewers": 1},
        {"sample_id": "img09.png", "labels": [2], "problematic": False, "reason": "", "reviewers": 2},
    ]
    pred = store.load(["m1", "m2", "m3"])
    from_db = load_label_sets("review", pred.sample_ids, store.classes(), store=store)
    from_file = load_label_sets(str(out), pred.sample_ids, store.classes())
    for sets in (from_db, from_file):
        res = multilabel_accuracy(pred.top1, sets)
        # evaluable: image 2 (set {cat, dog}) and image 9 (set {frog}); m3 says frog on image 2
        assert res.n == 2 and res.accuracy.tolist() == [1.0, 1.0, 0.5]
        # img06 was flagged problematic (with no label chosen): it counts as problematic, not empty
        assert res.excluded == {"no_set": 9, "empty": 0, "problematic": 1}
    assert store.model_metadata("human-ann")["kind"] == "human"
    # the evaluate command counts the decisions too
    js = tmp_path / "eval.json"
    code, text, _ = run_cli(["evaluate", "--labels", "review", "--store", store.path, "--json", js], capsys)
    assert code == 0 and "multi-label accuracy on 2 images" in " ".join(text.split())
    got = {m["name"]: m["multilabel"] for m in json.loads(js.read_text())["models"]}
    assert got["m1"] == 1.0 and got["m3"] == 0.5
    # another database by URL
    url = f"sqlite:///{store.path / 'annotations.sqlite'}"
    sets = load_label_sets(f"review:{url}", pred.sample_ids, store.classes(), store=store)
    assert sets.set_of(2) == [0, 1]
    with pytest.raises(InputError, match="needs the store"):
        load_label_sets("review", pred.sample_ids, store.classes())


def test_export_refuses_a_folder_and_keeps_old_file(store, tmp_path, capsys):
    _review(store)
    code, _, err = run_cli(["review", "export", "--out", tmp_path, "--store", store.path], capsys)
    assert code == 2 and "is a folder" in err


def test_human_predictor_name_clash(store, capsys, tmp_path):
    import numpy as np

    store.write_model("human-ann", np.zeros((12, 1), dtype=int))
    _review(store)
    code, _, err = run_cli(["review", "export", "--out", tmp_path / "r.jsonl", "--store", store.path], capsys)
    assert code == 2 and "did not come from review" in err
    assert store.model_metadata("human-ann").get("source") != "review"


def test_add_user_with_token_signs_in(store):
    db = open_database(store.path)
    token = add_user(db, "cy")
    assert sign_in(db, "cy", token, require_token=True)[1].name == "cy"
    with pytest.raises(InputError, match="unknown user name or wrong token"):
        sign_in(db, "dan", "x", require_token=True)


def test_store_before_the_subcommand(store, capsys):
    code, out, _ = run_cli(["review", "--store", store.path, "add-user", "dan"], capsys)
    assert code == 0 and out.startswith("Token of dan: ")
    code, out, _ = run_cli(["review", "--store", store.path, "task", "t1", "--kind", "all-miss"], capsys)
    assert code == 0 and "3 images" in out


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0"])
def test_serve_command(store, host):
    """``misclass review --store S --port P`` serves the sign-in page (run as a subprocess); beyond
    loopback it asks for tokens and answers to the names given with --allowed-host only."""
    import subprocess
    import sys
    import time

    import httpx

    from misclass.review.server import free_port

    port = free_port()
    loopback = host.startswith("127")
    extra = [] if loopback else ["--allowed-host", "review.lab"]
    proc = subprocess.Popen([sys.executable, "-c", "from misclass.cli import main; main()", "review",
                             "--store", str(store.path), "--port", str(port), "--host", host, *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/login"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                r = httpx.get(url, timeout=1, headers={} if loopback else {"host": f"review.lab:{port}"})
                break
            except httpx.HTTPError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read().decode()
                time.sleep(0.1)
        assert r.status_code == 200 and "Sign in to review" in r.text
        if loopback:
            assert "a name is enough" in r.text  # loopback: no token needed
        else:
            assert "sign in with the token" in " ".join(r.text.split())
        other = httpx.get(url, timeout=5, headers={"host": f"elsewhere.example:{port}"})
        assert other.status_code == 400 and "'elsewhere.example' is not a name" in other.json()["error"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert f"http://{host}:{port}" in proc.stdout.read().decode()


def _hostile_dns(monkeypatch):
    """A resolver that sends 127.evil.com to a public address (as its owner may) and knows no
    other name but localhost."""
    import socket

    real = socket.getaddrinfo

    def fake(host, *args, **kwargs):
        if host == "127.evil.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("203.0.113.9", 0))]
        if host == "localhost":
            return real(host, *args, **kwargs)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fake)


def test_loopback_is_an_address_not_a_prefix(monkeypatch):
    from misclass.review.security import is_loopback

    _hostile_dns(monkeypatch)
    for host in ("127.0.0.1", "127.1.2.3", "::1", "[::1]", "::ffff:127.0.0.1", "localhost"):
        assert is_loopback(host), host
    for host in ("127.evil.com", "127.0.0.1.evil.com", "0.0.0.0", "::", "10.0.0.1", "no.such.name", "",
                 "128.0.0.1"):
        assert not is_loopback(host), host
    assert not is_loopback("localhost", resolve=False)  # peers are addresses: no look-up


def _served_app(monkeypatch, capsys, store, *args):
    """Run ``misclass review --store S ARGS`` in-process with uvicorn.run caught; (exit code,
    output, the app it would serve, or None)."""
    import uvicorn

    served = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.update(app=app, **kw))
    code, out, err = run_cli(["review", "--store", store.path, *args], capsys)
    return code, " ".join((out + err).split()), served.get("app")


def test_serve_decides_loopback_by_address(store, monkeypatch, capsys):
    pytest.importorskip("uvicorn", reason="the review app needs misclass[review]")
    _hostile_dns(monkeypatch)
    code, out, app = _served_app(monkeypatch, capsys, store, "--host", "127.evil.com")
    assert code == 0 and "sign-in needs a token" in out
    assert app.state.review.require_tokens
    code, out, app = _served_app(monkeypatch, capsys, store, "--host", "localhost")
    assert code == 0 and "sign-in needs a token" not in out and not app.state.review.require_tokens
    code, out, app = _served_app(monkeypatch, capsys, store, "--host", "0.0.0.0")
    assert "give --allowed-host NAME" in out and app.state.review.require_tokens


def test_serve_session_hours_and_allowed_hosts(store, monkeypatch, capsys):
    pytest.importorskip("uvicorn", reason="the review app needs misclass[review]")
    code, out, app = _served_app(monkeypatch, capsys, store, "--session-hours", "2", "--allowed-host",
                                 "review.lab", "--allowed-host", "r2.lab")
    assert code == 0 and app.state.review.session_hours == 2.0 and "also answers to review.lab, r2.lab" in out
    code, out, app = _served_app(monkeypatch, capsys, store, "--session-hours", "0")
    assert code == 2 and "--session-hours 0.0: expected a positive number of hours" in out and app is None
    code, out, app = _served_app(monkeypatch, capsys, store, "--allowed-host", "*")
    assert code == 2 and "--allowed-host '*': expected a host name or address" in out and app is None
