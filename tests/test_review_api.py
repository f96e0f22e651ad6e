"""Every endpoint of the review app through FastAPI's test client, on a real SQLite file,
including bad and hostile input."""

from __future__ import annotations

import sqlite3

import pytest

pytest.importorskip("fastapi", reason="the review app needs misclass[review]")

from review_support import HOST, csrf_of, make_store, review_client, sign_in  # noqa: E402

from misclass.errors import InputError  # noqa: E402
from misclass.review.context import ReviewContext  # noqa: E402
from misclass.review.people import add_user  # noqa: E402
from misclass.review.schema import open_database  # noqa: E402
from misclass.review.tasks import create_task  # noqa: E402
from misclass.review.web import create_app  # noqa: E402

JSON = {"accept": "application/json"}


@pytest.fixture
def env(tmp_path):
    store = make_store(tmp_path / "store")
    db = open_database(store.path)
    ctx = ReviewContext.load(store)
    review = create_task(db, ctx, "dis", "disagreement")
    label = create_task(db, ctx, "lab", "random", mode="training", size=4)
    app = create_app(ctx, db)
    with review_client(app) as client:
        yield {"store": store, "db": db, "ctx": ctx, "client": client, "app": app, "review": review,
               "label": label}
    db.dispose()


def rows(store, sql):
    with sqlite3.connect(store.path / "annotations.sqlite") as con:
        return con.execute(sql).fetchall()


def test_database_is_sqlite_wal_in_the_store(env):
    assert (env["store"].path / "annotations.sqlite").is_file()
    assert rows(env["store"], "pragma journal_mode")[0][0] == "wal"


def test_pages_need_sign_in(env):
    c = env["client"]
    r = c.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert c.get("/api/classes?q=cat").status_code == 401
    assert c.get("/images/0.png", follow_redirects=False).status_code in (303, 401)
    assert c.post("/decide", data={"sample": 0, "class": 0, "value": "correct"}).status_code == 403


def test_sign_in_forged_and_out(env):
    c = env["client"]
    c.get("/login")
    r = c.post("/login", data={"name": "ann", "csrf": "forged"}, follow_redirects=False)
    assert r.status_code == 403
    r = c.post("/login", data={"name": "../etc", "csrf": csrf_of(c.get("/login").text)},
               follow_redirects=False)
    assert r.status_code == 303 and "error=" in r.headers["location"]
    csrf = sign_in(c, "ann")
    assert "signed in as <b>ann</b>" in c.get("/").text
    assert c.post("/logout", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    assert c.get("/", follow_redirects=False).status_code == 303


def test_tokens_required_beyond_loopback(env):
    token = add_user(env["db"], "bob")
    app = create_app(env["ctx"], env["db"], require_tokens=True)
    with review_client(app) as c:
        page = c.get("/login")
        assert "required" in page.text
        r = c.post("/login", data={"name": "bob", "csrf": csrf_of(page.text)}, follow_redirects=False)
        assert "error=" in r.headers["location"]
        r = c.post("/login", data={"name": "bob", "token": "wrong", "csrf": csrf_of(page.text)},
                   follow_redirects=False)
        assert "wrong%20token" in r.headers["location"]
        sign_in(c, "bob", token)
        assert c.get("/").status_code == 200
    # a script uses the token as a bearer token; no cookie, no CSRF needed
    with review_client(app) as c:
        h = {"authorization": f"Bearer {token}", **JSON}
        r = c.post("/decide", data={"sample": 1, "class": 0, "value": "wrong"}, headers=h)
        assert r.status_code == 200 and r.json()["decisions"] == {"0": "wrong"}
        assert c.get("/api/samples/1", headers={"authorization": "Bearer nope"}).status_code == 401


def test_unknown_host_refused(env):
    c = env["client"]
    for host in ("evil.example", "testserver", "127.evil.com", "localhost.evil.com"):
        r = c.get("/login", headers={"host": host})
        assert r.status_code == 400
        assert f"Host '{host}' is not a name this server answers to" in r.json()["error"]
    for host in ("127.0.0.1:8000", "localhost", "LOCALHOST:80", "[::1]:8000"):
        assert c.get("/login", headers={"host": host}).status_code == 200, host


def test_allowed_hosts_of_a_server_beyond_loopback(env):
    app = create_app(env["ctx"], env["db"], host="10.1.2.3", allowed_hosts=("review.lab",))
    with review_client(app) as c:
        for host in ("10.1.2.3:8000", "review.lab", "Review.Lab:8000"):
            r = c.get("/login", headers={"host": host})
            assert r.status_code == 200 and "sign in with the token" in " ".join(r.text.split()), host
        for host in ("127.0.0.1", "localhost", "testserver", "other.lab"):
            r = c.get("/login", headers={"host": host})
            assert r.status_code == 400 and "--allowed-host" in r.json()["error"], host
    for bad in ("*", "a/b", ""):
        with pytest.raises(InputError, match="--allowed-host"):
            create_app(env["ctx"], env["db"], allowed_hosts=(bad,))


def _old_session(env, name: str = "ann") -> dict[str, str]:
    """The cookies of a session opened by name alone on a loopback server without tokens."""
    with review_client(env["app"]) as c:
        sign_in(c, name)
        return {"misclass_session": c.cookies["misclass_session"]}


def test_session_without_token_refused_after_restart_with_require_tokens(env):
    cookies = _old_session(env)
    token = add_user(env["db"], "bob")
    restarted = create_app(env["ctx"], env["db"], require_tokens=True)  # same database
    with review_client(restarted, cookies=cookies) as c:
        csrf = csrf_of(c.get("/login").text)  # any page's CSRF field; the session's own is refused anyway
        for r in (c.get("/api/samples/0"),
                  c.post("/decide", data={"csrf": csrf, "sample": 0, "class": 0, "value": "correct"},
                         headers=JSON)):
            assert r.status_code == 401
            assert r.json()["error"] == ("this session was opened without a token and this server "
                                         "requires one: sign in again with your token")
        r = c.get("/", follow_redirects=False)
        assert r.status_code == 303 and "opened%20without%20a%20token" in r.headers["location"]
        assert "opened without a token" in c.get(r.headers["location"]).text
    assert rows(env["store"], "select count(*) from decision_log")[0][0] == 0
    # a session opened with the token works across the restart; the old app still takes both
    with review_client(env["app"]) as c:
        csrf = sign_in(c, "bob", token)
        bob = {"misclass_session": c.cookies["misclass_session"]}
    with review_client(restarted, cookies=bob) as c:
        assert c.get("/api/samples/0").status_code == 200
        r = c.post("/decide", data={"csrf": csrf, "sample": 0, "class": 0, "value": "correct"}, headers=JSON)
        assert r.status_code == 200
    with review_client(env["app"], cookies=cookies) as c:
        assert c.get("/api/samples/0").status_code == 200


def test_session_from_an_older_database_counts_as_without_token(tmp_path):
    """A database made before sessions recorded their token: the column is added on open, and
    its old sessions are refused where tokens are required."""
    store = make_store(tmp_path / "store")
    db = open_database(store.path)
    ctx = ReviewContext.load(store)
    with review_client(create_app(ctx, db)) as c:
        sign_in(c, "ann")
        cookies = {"misclass_session": c.cookies["misclass_session"]}
    db.dispose()
    path = store.path / "annotations.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("alter table sessions drop column with_token")
    db = open_database(store.path)
    with sqlite3.connect(path) as con:
        assert con.execute("select with_token from sessions").fetchall() == [(0,)]
    with review_client(create_app(ctx, db, require_tokens=True), cookies=cookies) as c:
        r = c.get("/api/samples/0")
        assert r.status_code == 401 and "opened without a token" in r.json()["error"]
    with review_client(create_app(ctx, db), cookies=cookies) as c:
        assert c.get("/api/samples/0").status_code == 200
    db.dispose()


def test_session_from_a_peer_beyond_loopback_needs_a_token(env):
    """A loopback app reached from another address (say, served by hand on 0.0.0.0) treats that
    peer as if tokens were required."""
    cookies = _old_session(env)
    with review_client(env["app"], peer="203.0.113.7", cookies=cookies) as c:
        r = c.get("/api/samples/0")
        assert r.status_code == 401 and "opened without a token" in r.json()["error"]
        page = c.get("/login")
        assert "sign in with the token" in " ".join(page.text.split())
        r = c.post("/login", data={"name": "eve", "csrf": csrf_of(page.text)}, follow_redirects=False)
        assert "wrong%20token" in r.headers["location"]


def _age_sessions(store, hours: float) -> None:
    import datetime as dt

    then = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(hours=hours)
    with sqlite3.connect(store.path / "annotations.sqlite") as con:
        con.execute("update sessions set created_at = ?", (then.strftime("%Y-%m-%d %H:%M:%S.%f"),))


def test_sessions_expire(env):
    c = env["client"]
    csrf = sign_in(c, "ann")
    _age_sessions(env["store"], 11.9)
    assert c.get("/api/samples/0").status_code == 200
    _age_sessions(env["store"], 12.1)  # the default: 12 hours
    expired = "your session expired (sessions last 12 hours): sign in again"
    r = c.get("/api/samples/0")
    assert r.status_code == 401 and r.json()["error"] == expired
    r = c.post("/decide", data={"csrf": csrf, "sample": 0, "class": 0, "value": "correct"}, headers=JSON)
    assert r.status_code == 401 and r.json()["error"] == expired
    r = c.get("/tasks/1/0", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?error=your%20session%20expired")
    sign_in(c, "ann")  # a new session
    assert c.get("/api/samples/0").status_code == 200
    # another time, set by the app factory
    short = create_app(env["ctx"], env["db"], session_hours=0.5)
    with review_client(short, cookies={"misclass_session": c.cookies["misclass_session"]}) as c2:
        assert c2.get("/api/samples/0").status_code == 200
        _age_sessions(env["store"], 0.6)
        r = c2.get("/api/samples/0")
        assert r.status_code == 401 and "sessions last 0.5 hours" in r.json()["error"]
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(InputError, match="--session-hours"):
            create_app(env["ctx"], env["db"], session_hours=bad)


def _counting(app, counter: list[int]):
    """``app`` behind an ASGI layer that counts the body bytes the app reads."""
    async def counted_app(scope, receive, send):
        async def counted():
            message = await receive()
            counter[0] += len(message.get("body", b""))
            return message

        await app(scope, counted, send)

    return counted_app


def test_content_length_over_the_limit_refused_unread(env):
    read = [0]
    with review_client(_counting(env["app"], read)) as c:
        csrf = sign_in(c, "ann")
        read[0] = 0
        r = c.post("/decide", content=b"csrf=" + csrf.encode(), headers={
            **JSON, "content-type": "application/x-www-form-urlencoded", "content-length": str(300 * 2**20)})
        assert r.status_code == 413
        assert r.json()["error"] == "request body of 314572800 bytes refused; at most 16384"
        assert read[0] == 0 and r.headers["connection"] == "close"
        r = c.post("/tasks", content=b"x", headers={**JSON, "content-length": "12abc"})
        assert r.status_code == 400 and "Content-Length '12abc' is not a number" in r.json()["error"]


def test_streamed_body_refused_at_the_limit(env):
    """A 300 MB chunked post (no Content-Length) to a real uvicorn server: the app reads about
    the limit, answers 413 and closes; the client could send little more."""
    pytest.importorskip("uvicorn", reason="the review app needs misclass[review]")
    from misclass.review.server import serve

    read, offered = [0], [0]

    def body():  # 300 MB in 64 KiB pieces, framed for Transfer-Encoding: chunked
        piece = b"a=" + b"x" * (2**16 - 2)
        for _ in range(300 * 2**20 // len(piece)):
            offered[0] += len(piece)
            yield b"%x\r\n%s\r\n" % (len(piece), piece)
        yield b"0\r\n\r\n"

    with serve(_counting(env["app"], read)) as url:
        status, reply = _post_chunked(int(url.rsplit(":", 1)[1]), "/decide", body())
    assert status == 413 and b"request body over 16384 bytes refused" in reply
    assert read[0] <= 16384 + 2**18, read[0]  # the limit and at most one of the server's reads
    assert offered[0] < 32 * 2**20, offered[0]  # of 300 MB: the socket buffers, no more


def _post_chunked(port: int, path: str, chunks) -> tuple[int, bytes]:
    """Send a chunked POST on a raw socket until the server answers; (status, whole reply)."""
    import select
    import socket
    import time

    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nTransfer-Encoding: chunked\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\nAccept: application/json\r\n\r\n")
    reply, pending, sending = b"", b"", True
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head.encode())
        sock.setblocking(False)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            readable, writable, _ = select.select([sock], [sock] if sending else [], [], 5)
            if readable:
                try:
                    data = sock.recv(2**16)
                except ConnectionResetError:
                    break
                if not data:
                    break
                reply, sending = reply + data, False
            elif writable:
                pending = pending or next(chunks, b"")
                if not pending:  # all sent: wait for the reply
                    sending = False
                    continue
                try:
                    pending = pending[sock.send(pending):]
                except (BrokenPipeError, ConnectionResetError):
                    sending = False
    return int(reply.split(b" ", 2)[1]) if reply else 0, reply


def test_tasks_pages_and_progress(env):
    c, t = env["client"], env["review"]
    sign_in(c, "ann")
    index = c.get("/").text
    assert "Completed 0 of 4 images (0 of 1 parts)" in index and "lab" in index
    r = c.get(f"/tasks/{t.id}", follow_redirects=False)
    assert r.headers["location"] == f"/tasks/{t.id}/0"
    page = c.get(f"/tasks/{t.id}/0").text
    assert "img01.png" in page and "dataset label" in page and "a small feline" in page
    assert "1 of 3 models predict it" in page
    assert c.get(f"/tasks/{t.id}/4").status_code == 404
    assert c.get("/tasks/999").status_code == 404
    assert c.get(f"/tasks/{t.id}/x").status_code == 422
    assert c.get(f"/api/tasks/{t.id}/progress").json()["text"] == "Completed 0 of 4 images (0 of 1 parts)"
    assert c.get("/samples/3").status_code == 200
    assert c.get("/samples/12").status_code == 404


def test_decide_commits_each_decision(env):
    c, t, store = env["client"], env["review"], env["store"]
    csrf = sign_in(c, "ann")
    form = {"csrf": csrf, "sample": 1, "task": t.id}
    r = c.post("/decide", data={**form, "class": 0, "value": "correct"}, headers=JSON)
    assert r.status_code == 200 and r.json()["decisions"] == {"0": "correct"}
    # committed: another connection sees it at once
    assert rows(store, "select sample_id, class_index, value from decisions") == [("img01.png", 0, "correct")]
    r = c.post("/decide", data={**form, "class": 1, "value": "wrong"}, headers=JSON)
    assert r.json()["progress"]["done"] == 1  # candidates of image 1 are classes 0 and 1
    r = c.post("/decide", data={**form, "class": 1, "value": "unreviewed"}, headers=JSON)
    assert r.json()["decisions"] == {"0": "correct"} and r.json()["progress"]["done"] == 0
    assert [v for (v,) in rows(store, "select value from decision_log order by id")] == \
        ["correct", "wrong", "unreviewed"]
    who = rows(store, "select u.name, d.created_at from decisions d join users u on u.id = d.user_id")
    assert who[0][0] == "ann" and who[0][1]
    # without JavaScript: a redirect back to the page
    r = c.post("/decide", data={**form, "class": 1, "value": "unclear", "next": f"/tasks/{t.id}/0"},
               follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/tasks/{t.id}/0"
    page = c.get(f"/tasks/{t.id}/0").text
    assert 'data-value="unclear"' in page and 'data-value="correct"' in page
    api = c.get("/api/samples/1").json()
    assert {d["value"] for d in api["all_decisions"]} == {"correct", "unclear"}


@pytest.mark.parametrize("data, status, message", [
    ({"class": 0, "value": "maybe"}, 400, "value"),
    ({"class": 0, "value": "correct", "sample": 99}, 404, "sample 99"),
    ({"class": 0, "value": "correct", "sample": -1}, 404, "sample -1"),
    ({"class": 0, "value": "correct", "sample": "1; drop table decisions"}, 400, "not an integer"),
    ({"class": 4, "value": "correct"}, 404, "class 4"),
    ({"value": "correct"}, 400, "'class': missing"),
    ({"class": 0, "value": "correct", "task": 77}, 404, "task 77"),
    ({"class": 0, "value": "x" * 5000}, 400, "at most"),
])
def test_decide_bad_input(env, data, status, message):
    c = env["client"]
    csrf = sign_in(c, "ann")
    r = c.post("/decide", data={"csrf": csrf, "sample": 1, **data}, headers=JSON)
    assert r.status_code == status and message in r.json()["error"]
    assert rows(env["store"], "select count(*) from decision_log")[0][0] == 0


def test_forged_and_cross_site_posts_refused(env):
    c = env["client"]
    csrf = sign_in(c, "ann")
    data = {"sample": 1, "class": 0, "value": "correct"}
    assert c.post("/decide", data=data, headers=JSON).status_code == 403
    assert c.post("/decide", data={**data, "csrf": "x" + csrf[1:]}, headers=JSON).status_code == 403
    assert c.post("/decide", data={**data, "csrf": csrf},
                  headers={**JSON, "origin": "http://evil.example"}).status_code == 403
    assert c.post("/decide", data={**data, "csrf": csrf},
                  headers={**JSON, "sec-fetch-site": "cross-site"}).status_code == 403
    assert c.post("/decide", data={**data, "csrf": csrf},
                  headers={**JSON, "origin": "null"}).status_code == 403
    assert c.post("/decide", content=b'{"sample": 1}', headers={**JSON, "content-type": "application/json",
                                                               "x-csrf-token": csrf}).status_code == 400
    pad = {f"f{i}": "z" * 1900 for i in range(9)}
    big = c.post("/decide", data={**data, "csrf": csrf, **pad}, headers=JSON)
    assert big.status_code == 413 and "at most 16384" in big.json()["error"]
    many = c.post("/decide", data={**data, "csrf": csrf, **{f"f{i}": "1" for i in range(60)}}, headers=JSON)
    assert many.status_code == 400 and "fields" in many.json()["error"]
    # the CSRF header works as well as the field (JavaScript sends both)
    ok = c.post("/decide", data=data, headers={**JSON, "x-csrf-token": csrf, "origin": f"http://{HOST}"})
    assert ok.status_code == 200
    assert rows(env["store"], "select count(*) from decision_log")[0][0] == 1


def test_open_redirect_refused(env):
    c = env["client"]
    csrf = sign_in(c, "ann")
    for target in ("//evil.example/x", "https://evil.example", "/\\evil.example"):
        r = c.post("/decide", data={"csrf": csrf, "sample": 1, "class": 0, "value": "wrong", "next": target},
                   follow_redirects=False)
        assert r.headers["location"] == "/"
    r = c.get("/login?next=//evil.example")
    assert 'name="next" value="/"' in r.text


def test_bulk_actions(env):
    c, t = env["client"], env["review"]
    csrf = sign_in(c, "ann")
    form = {"csrf": csrf, "sample": 2, "task": t.id}
    r = c.post("/bulk", data={**form, "action": "label-correct"}, headers=JSON)
    assert r.json()["decisions"] == {"1": "correct"}  # image 2 is labeled class 1
    r = c.post("/bulk", data={**form, "action": "unreviewed-wrong"}, headers=JSON)
    assert r.json()["decisions"] == {"0": "wrong", "1": "correct", "2": "wrong"}
    assert r.json()["progress"]["done"] == 1
    r = c.post("/bulk", data={**form, "action": "everything"}, headers=JSON)
    assert r.status_code == 400 and "action" in r.json()["error"]


def test_flag_with_reason_escaped(env):
    c, t = env["client"], env["review"]
    csrf = sign_in(c, "ann")
    reason = '<script>alert("x")</script>'
    r = c.post("/flag", data={"csrf": csrf, "sample": 4, "task": t.id, "problematic": "1", "reason": reason},
               headers=JSON)
    assert r.json()["problematic"] is True and r.json()["progress"]["done"] == 1
    page = c.get(f"/tasks/{t.id}/2").text
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page
    assert rows(env["store"], "select problematic, reason from flags") == [(1, reason)]
    bad = c.post("/flag", data={"csrf": csrf, "sample": 4, "problematic": "yes"}, headers=JSON)
    assert bad.status_code == 400
    long = c.post("/flag", data={"csrf": csrf, "sample": 4, "problematic": "1", "reason": "r" * 600},
                  headers=JSON)
    assert long.status_code == 400 and "at most 500" in long.json()["error"]
    r = c.post("/flag", data={"csrf": csrf, "sample": 4, "problematic": "0"}, headers=JSON)
    assert r.json()["problematic"] is False


def test_images_by_index_only(env):
    c = env["client"]
    sign_in(c, "ann")
    r = c.get("/images/3.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.content[:8] == b"\x89PNG\r\n\x1a\n"
    from io import BytesIO

    from PIL import Image

    assert Image.open(BytesIO(r.content)).size == (256, 256)
    assert Image.open(BytesIO(c.get("/images/3.png?size=large").content)).size == (768, 768)
    assert c.get("/images/12.png").status_code == 404
    assert c.get("/images/-1.png").status_code == 404
    assert c.get("/images/3.png?size=../../x").status_code == 400
    for path in ("/images/..%2F..%2Fsamples.parquet", "/images/../store.json", "/images/%2e%2e/store.json",
                 "/images/1.png/../../../etc/passwd", "/static/../annotations.sqlite"):
        r = c.get(path)
        assert r.status_code in (404, 422) and b"PAR1" not in r.content and b"SQLite" not in r.content


def test_labeling_pick_becomes_human_predictor(env):
    c, t, store = env["client"], env["label"], env["store"]
    csrf = sign_in(c, "ann")
    page = c.get(f"/tasks/{t.id}/0").text
    assert "Browse" in page and "Dataset label" not in page  # hidden until a pick in training mode
    from misclass.review.tasks import task_items

    items = task_items(env["db"], t.id)
    i, _ = items[0]
    label = int(env["ctx"].labels[i])
    r = c.post("/pick", data={"csrf": csrf, "sample": i, "task": t.id, "class": (label + 1) % 4},
               headers=JSON)
    assert r.json()["answer"] == {"label": label, "name": env["ctx"].names[label], "right": False}
    r = c.post("/pick", data={"csrf": csrf, "sample": i, "task": t.id, "class": label}, headers=JSON)
    assert r.json()["answer"]["right"] is True and r.json()["progress"]["done"] == 1
    assert "Dataset label" in c.get(f"/tasks/{t.id}/0").text
    assert "human-ann" in store.model_names()
    meta = store.model_metadata("human-ann")
    assert meta["kind"] == "human" and meta["n_labeled"] == 1
    top1 = store.read_model("human-ann").topk_ids[:, 0]
    assert top1[i] == label and (top1 == -1).sum() == len(top1) - 1
    assert c.post("/pick", data={"csrf": csrf, "sample": i, "class": 9}, headers=JSON).status_code == 404
    r = c.post("/pick", data={"csrf": csrf, "sample": i, "task": t.id, "class": ""}, headers=JSON)
    assert r.json()["pick"] is None


def test_class_search(env):
    c = env["client"]
    sign_in(c, "ann")
    assert [x["name"] for x in c.get("/api/classes?q=sea").json()["classes"]] == ["sea lion"]
    assert [x["name"] for x in c.get("/api/classes?q=LION sea").json()["classes"]] == ["sea lion"]
    assert c.get("/api/classes?q=").json()["classes"] == []
    assert c.get("/api/classes?q=" + "a" * 300).status_code == 400


def test_create_task_from_the_app(env):
    c = env["client"]
    csrf = sign_in(c, "ann")
    r = c.post("/tasks", data={"csrf": csrf, "name": "pair", "kind": "pair", "pair": "cat, dog"},
               headers=JSON)
    # image 1: a cat predicted dog; image 2: a dog predicted cat
    assert r.status_code == 200 and r.json()["n_items"] == 2
    r = c.post("/tasks", data={"csrf": csrf, "name": "mine", "kind": "ids", "ids": "img03.png\nimg01.png\n"},
               follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/tasks/")
    for data, msg in [({"name": "pair", "kind": "random"}, "already exists"),
                      ({"name": "x", "kind": "everything"}, "task kind"),
                      ({"name": "x", "kind": "pair", "pair": "cat,zebra"}, "'zebra'"),
                      ({"name": "x", "kind": "ids", "ids": "img01.png\nnope.png"},
                       "line 2: sample id 'nope.png'"),
                      ({"name": "<b>", "kind": "random"}, "task name"),
                      ({"name": "x", "kind": "random", "mode": "fast"}, "mode"),
                      ({"name": "x", "kind": "random", "size": "0"}, "size")]:
        r = c.post("/tasks", data={"csrf": csrf, **data}, headers=JSON)
        assert r.status_code == 400 and msg in r.json()["error"], (data, r.json())


def test_disagreements_and_stats(env):
    c, t = env["client"], env["review"]
    csrf = sign_in(c, "ann")
    c.post("/decide", data={"csrf": csrf, "sample": 1, "class": 0, "value": "correct"}, headers=JSON)
    c.post("/decide", data={"csrf": csrf, "sample": 1, "class": 1, "value": "wrong"}, headers=JSON)
    with review_client(env["app"]) as bob:
        csrf_b = sign_in(bob, "bob")
        bob.post("/decide", data={"csrf": csrf_b, "sample": 1, "class": 0, "value": "wrong", "task": t.id},
                 headers=JSON)
        bob.post("/decide", data={"csrf": csrf_b, "sample": 1, "class": 1, "value": "wrong"}, headers=JSON)
        page = bob.get(f"/tasks/{t.id}/0").text
        assert 'ann: <b class="val-correct">Correct</b>' in page
    dis = c.get("/disagreements").text
    assert "img01.png" in dis and "ann: Correct" in dis and "bob: Wrong" in dis
    stats = c.get("/stats").text
    assert "Cohen" in stats and "<td>ann</td><td>bob</td>" in stats and "50.00%" in stats  # agreement 1 of 2


def test_images_from_dataset_files(tmp_path):
    """A folder dataset: paths relative to the dataset root recorded in store.json; a missing
    file is a 404, never another file."""
    import numpy as np
    import pandas as pd
    from PIL import Image

    from misclass.store import Store

    root = tmp_path / "photos"
    (root / "cat").mkdir(parents=True)
    Image.fromarray(np.full((40, 60, 3), 200, dtype=np.uint8)).save(root / "cat" / "a.png")
    samples = pd.DataFrame({"sample_id": ["cat/a.png", "cat/gone.png"], "label": [0, 0],
                            "path": ["cat/a.png", "cat/gone.png"]})
    store = Store.create(tmp_path / "store", samples=samples, classes=pd.DataFrame({"name": ["cat", "dog"]}),
                         info={"dataset": f"folder:{root}"})
    db = open_database(store.path)
    with review_client(create_app(ReviewContext.load(store), db)) as c:
        sign_in(c, "ann")
        r = c.get("/images/0.png")
        assert r.status_code == 200 and r.content[:4] == b"\x89PNG"
        from io import BytesIO

        assert Image.open(BytesIO(r.content)).size == (60 * 4, 40 * 4)  # small photos enlarged
        r = c.get("/images/1.png")
        assert r.status_code == 404 and "no readable image" in r.text
        assert "Sign in" not in c.get("/samples/0").text  # a store without models still reviews
    db.dispose()
