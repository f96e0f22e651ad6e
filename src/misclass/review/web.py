"""The review web app (FastAPI, server-rendered Jinja2 pages, a little inline JavaScript).

Build it with :func:`create_app`; ``misclass review --store S`` serves it with uvicorn.
Every page needs a signed-in reviewer (a session cookie, or ``Authorization: Bearer TOKEN``
for scripts); every post must come from the app's own pages (same origin and the session's
CSRF token, or a bearer token). Sessions last ``session_hours`` from sign-in; where tokens are
required (beyond loopback, with ``require_tokens``, or for a peer that is not loopback) a
session opened by name alone is refused. :class:`~misclass.review.guard.RequestGuard` refuses
unknown Host names and oversized bodies before any handler runs. Posts answer JSON when asked
(``Accept: application/json``), else redirect back.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from misclass.errors import InputError, MisclassError
from misclass.extras import require
from misclass.format import count, number, percent

require("fastapi", "review", feature="The review app")

from fastapi import FastAPI, Request  # noqa: E402
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response  # noqa: E402
from fastapi.templating import Jinja2Templates  # noqa: E402

from misclass.analysis.agreement import reviewer_agreement  # noqa: E402
from misclass.review import people, records, tasks  # noqa: E402
from misclass.review.aggregate import find_disagreements  # noqa: E402
from misclass.review.context import ReviewContext  # noqa: E402
from misclass.review.export import write_human_predictors  # noqa: E402
from misclass.review.guard import RequestGuard  # noqa: E402
from misclass.review.images import ImageSource  # noqa: E402
from misclass.review.schema import VALUES, Database  # noqa: E402
from misclass.review.security import (  # noqa: E402
    MAX_BODY,
    Forbidden,
    allowed_host_names,
    check_csrf,
    check_same_origin,
    int_field,
    is_loopback,
    parse_form,
    safe_next,
)
from misclass.review.selection import TASK_KINDS  # noqa: E402

SESSION_COOKIE = "misclass_session"
LOGIN_COOKIE = "misclass_login"
VALUE_LABELS = {"correct": "Correct", "wrong": "Wrong", "unclear": "Unclear", "unknown": "Don't know",
                "unreviewed": "Unreviewed"}


class NotFound(Exception):
    """An unknown image, class or task (404)."""


@dataclass
class AppState:
    """What the app's handlers share."""

    ctx: ReviewContext
    db: Database
    images: ImageSource
    require_tokens: bool
    session_hours: float
    publish_lock: threading.Lock

    def tokens_needed(self, request: Request) -> bool:
        """Tokens are needed where the app requires them and for any peer beyond loopback."""
        return self.require_tokens or not is_loopback(request.client and request.client.host, resolve=False)

    def reviewer(self, request: Request) -> people.Reviewer | None:
        """The signed-in reviewer of a request: a bearer token, else the session cookie."""
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return people.token_reviewer(self.db, auth[7:].strip())
        return people.session_reviewer(self.db, request.cookies.get(SESSION_COOKIE),
                                       require_token=self.tokens_needed(request), hours=self.session_hours)


def _templates() -> Jinja2Templates:
    folder = Path(str(resources.files("misclass.review") / "templates"))
    t = Jinja2Templates(directory=str(folder))
    t.env.globals["VALUE_LABELS"] = VALUE_LABELS
    t.env.globals["VALUES"] = VALUES
    t.env.globals["EXPLORE"] = False  # the explore app (misclass app) sets it
    return t


def create_app(ctx: ReviewContext, db: Database, *, require_tokens: bool = False, host: str = "127.0.0.1",
               allowed_hosts: tuple[str, ...] = (), session_hours: float = people.SESSION_HOURS) -> FastAPI:
    """The review app for a store's :class:`ReviewContext` and a :class:`Database`.

    ``require_tokens``: sign-in needs the user's token (always when ``host`` is not loopback).
    ``host``: the address the app is served on; the Host header must name it (or a loopback
    name when it is loopback) or one of ``allowed_hosts`` (DNS-rebinding guard).
    ``session_hours``: how long a browser session lasts from sign-in.
    """
    if not (isinstance(session_hours, int | float) and 0 < session_hours < math.inf):
        raise InputError(f"--session-hours {session_hours!r}: expected a positive number of hours")
    app = FastAPI(title="misclass review", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(RequestGuard, hosts=allowed_host_names(host, tuple(allowed_hosts)), max_body=MAX_BODY)
    state = AppState(ctx, db, ImageSource(ctx.store), require_tokens or not is_loopback(host),
                     float(session_hours), threading.Lock())
    app.state.review = state
    templates = _templates()
    app.state.templates = templates  # the explore app adds its pages to the same loader

    # ------------------------------------------------------------------ helpers
    tokens_needed = state.tokens_needed
    reviewer = state.reviewer

    def wants_json(request: Request) -> bool:
        return "application/json" in request.headers.get("accept", "")

    def answers_json(request: Request) -> bool:
        """Errors of posts and of the JSON API are JSON; those of pages are pages."""
        return wants_json(request) or request.method == "POST" or request.url.path.startswith("/api/")

    def page(request: Request, name: str, user, **context) -> HTMLResponse:
        return templates.TemplateResponse(request, name, dict(context, user=user, store=str(ctx.store.path)))

    def need_user(request: Request):
        user = reviewer(request)
        if user is None:
            raise SignInNeeded()
        return user

    async def posted(request: Request):
        """The signed-in reviewer and the checked form of a post."""
        form = parse_form(await request.body(), request.headers.get("content-type", ""))
        bearer = request.headers.get("authorization", "").lower().startswith("bearer ")
        if not bearer:
            check_same_origin(request.headers, request.headers.get("host", ""))
        user = reviewer(request)
        if user is None:
            raise Forbidden("sign in first")
        if not bearer:
            check_csrf(user.csrf, form.get("csrf") or request.headers.get("x-csrf-token"))
        return user, form

    async def posted_image(request: Request):
        """A post about one image: reviewer, form, sample index and id, task (or None)."""
        user, form = await posted(request)
        i, sid = sample_of(form)
        return user, form, i, sid, task_of(form)

    def sample_of(form) -> tuple[int, str]:
        i = int_field(form, "sample")
        if not 0 <= i < ctx.n:
            raise NotFound(f"sample {i}: no such image (0..{ctx.n - 1})")
        return i, str(ctx.sample_ids[i])

    def task_of(form) -> tasks.TaskInfo | None:
        tid = int_field(form, "task", required=False)
        if tid is None:
            return None
        try:
            return tasks.get_task(db, tid)
        except InputError as exc:
            raise NotFound(str(exc)) from None

    def image_state(user, i: int, task: tasks.TaskInfo | None) -> dict:
        sid = str(ctx.sample_ids[i])
        flag = records.user_flag(db, user.id, sid)
        out = {"sample": i, "sample_id": sid, "decisions": records.user_decisions(db, user.id, sid),
               "problematic": flag[0], "reason": flag[1], "pick": records.user_pick(db, user.id, sid)}
        if task is not None:
            out["progress"] = tasks.progress(ctx, db, task, user.id).to_dict()
        return out

    def done(request: Request, payload: dict, form) -> Response:
        if wants_json(request):
            return JSONResponse(dict(payload, ok=True))
        return RedirectResponse(safe_next(form.get("next")), status_code=303)

    # ------------------------------------------------------------------ errors
    async def _to_login(request: Request, exc):
        """No session (401 "sign in first"), or one refused with a reason to sign in again."""
        if answers_json(request):
            return JSONResponse({"ok": False, "error": str(exc) or "sign in first"}, status_code=401)
        error = f"error={_q(str(exc))}&" if str(exc) else ""
        return RedirectResponse(f"/login?{error}next={_q(request.url.path)}", status_code=303)

    app.add_exception_handler(SignInNeeded, _to_login)
    app.add_exception_handler(people.SessionRefused, _to_login)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc):
        return _error(request, 403, str(exc))

    @app.exception_handler(NotFound)
    async def _missing(request: Request, exc):
        return _error(request, 404, str(exc))

    @app.exception_handler(MisclassError)
    async def _bad(request: Request, exc):
        return _error(request, 400, str(exc))

    def _error(request: Request, status: int, message: str) -> Response:
        if answers_json(request):
            return JSONResponse({"ok": False, "error": message}, status_code=status)
        return templates.TemplateResponse(request, "error.html", {"status": status, "message": message,
                                                                  "user": None, "store": ""},
                                          status_code=status)

    app.state.error_response = _error  # the explore app answers its errors the same way

    # ------------------------------------------------------------------ sign in
    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, next: str = "/", error: str = ""):
        import secrets

        token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
        resp = page(request, "login.html", None, csrf=token, next=safe_next(next), error=error[:200],
                    require_tokens=tokens_needed(request))
        resp.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict")
        return resp

    @app.post("/login")
    async def login(request: Request):
        form = parse_form(await request.body(), request.headers.get("content-type", ""))
        check_same_origin(request.headers, request.headers.get("host", ""))
        check_csrf(request.cookies.get(LOGIN_COOKIE, ""), form.get("csrf"))
        try:
            token, _ = people.sign_in(db, form.get("name", "").strip(), form.get("token", "").strip() or None,
                                      require_token=tokens_needed(request))
        except InputError as exc:
            return RedirectResponse(f"/login?error={_q(str(exc))}&next={_q(safe_next(form.get('next')))}",
                                    status_code=303)
        resp = RedirectResponse(safe_next(form.get("next")), status_code=303)
        resp.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict")
        resp.delete_cookie(LOGIN_COOKIE)
        return resp

    @app.post("/logout")
    async def logout(request: Request):
        await posted(request)
        people.sign_out(db, request.cookies.get(SESSION_COOKIE))
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(SESSION_COOKIE)
        return resp

    # ------------------------------------------------------------------ tasks
    @app.get("/", response_class=HTMLResponse)
    @app.get("/tasks", response_class=HTMLResponse)
    def index(request: Request):
        user = need_user(request)
        rows = [(t, tasks.progress(ctx, db, t, user.id)) for t in tasks.list_tasks(db)]
        classes_hint = ", ".join(ctx.names[:3])
        return page(request, "index.html", user, tasks=rows, kinds=TASK_KINDS, n=ctx.n, models=ctx.models,
                    classes_hint=classes_hint)

    @app.post("/tasks")
    async def new_task(request: Request):
        user, form = await posted(request)
        pair_text = form.get("pair", "").strip()
        pair = tuple(x.strip() for x in pair_text.split(",")) if pair_text else None
        t = tasks.create_task(db, ctx, form.get("name", ""), form.get("kind", ""),
                              mode=form.get("mode", "review"), top5=form.get("top5") in ("1", "on"),
                              pair=pair, size=int_field(form, "size", required=False),
                              seed=int_field(form, "seed", required=False) or 0,
                              id_text=form.get("ids", ""), created_by=user.name)
        if wants_json(request):
            return JSONResponse({"ok": True, "task": t.id, "n_items": t.n_items})
        return RedirectResponse(f"/tasks/{t.id}", status_code=303)

    @app.get("/tasks/{task_id}")
    def task_start(request: Request, task_id: int):
        user = need_user(request)
        t = _task(task_id)
        pos = tasks.progress(ctx, db, t, user.id).next_position
        return RedirectResponse(f"/tasks/{task_id}/{pos if pos is not None else 0}", status_code=303)

    def _task(task_id: int) -> tasks.TaskInfo:
        try:
            return tasks.get_task(db, task_id)
        except InputError as exc:
            raise NotFound(str(exc)) from None

    @app.get("/tasks/{task_id}/{pos}", response_class=HTMLResponse)
    def task_item(request: Request, task_id: int, pos: int):
        user = need_user(request)
        t = _task(task_id)
        items = tasks.task_items(db, task_id)
        if not 0 <= pos < len(items):
            raise NotFound(f"task {task_id} has positions 0..{len(items) - 1}; {pos} is not one")
        return _image_page(request, user, items[pos][0], t, pos, len(items))

    @app.get("/samples/{index}", response_class=HTMLResponse)
    def sample_page(request: Request, index: int):
        user = need_user(request)
        if not 0 <= index < ctx.n:
            raise NotFound(f"sample {index}: no such image (0..{ctx.n - 1})")
        return _image_page(request, user, index, None, None, None)

    def _image_page(request, user, i, t, pos, total):
        st = image_state(user, i, t)
        label = int(ctx.labels[i])
        common = dict(i=i, sample_id=st["sample_id"], task=t, pos=pos, total=total, state=st,
                      label=label, label_name=ctx.names[label] if label >= 0 else "unknown",
                      csrf=user.csrf, n_models=len(ctx.models), has_image=state.images.available)
        if t is not None and t.mode in ("label", "training"):
            answer = None
            if t.mode == "training" and st["pick"] is not None:
                answer = {"label": label, "name": common["label_name"], "right": st["pick"] == label}
            groups = [(g, [(c, ctx.names[c]) for c in members]) for g, members in ctx.groups]
            return page(request, "label.html", user, groups=groups,
                        all_classes=[[c, n] for c, n in enumerate(ctx.names)],
                        pick_name=ctx.names[st["pick"]] if st["pick"] is not None else None,
                        answer=answer, **common)
        cands = ctx.candidates(i, top5=bool(t and t.top5))
        others: dict[int, list[tuple[str, str]]] = {}
        for d in records.sample_decisions(db, st["sample_id"]):
            if d["user"] != user.name:
                others.setdefault(d["class"], []).append((d["user"], d["value"]))
        return page(request, "review.html", user, candidates=cands, others=others, **common)

    # ------------------------------------------------------------------ images
    @app.get("/favicon.ico")
    def favicon():
        return Response(status_code=204)

    @app.get("/images/{index}.png")
    def image(request: Request, index: int, size: str = "small"):
        need_user(request)
        if not 0 <= index < ctx.n:
            raise NotFound(f"image {index}: no such image (0..{ctx.n - 1})")
        data = state.images.image_png(index, size)
        if data is None:
            raise NotFound(f"image {index}: the store holds no readable image for it")
        return Response(data, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})

    # ------------------------------------------------------------------ decisions
    @app.post("/decide")
    async def decide(request: Request):
        user, form, i, sid, t = await posted_image(request)
        c = int_field(form, "class")
        if not 0 <= c < len(ctx.classes):
            raise NotFound(f"class {c}: no such class (0..{len(ctx.classes) - 1})")
        value = form.get("value", "")
        if value not in VALUE_LABELS:
            raise InputError(f"field 'value': {value[:40]!r} is not one of {', '.join(VALUE_LABELS)}")
        records.record_decisions(db, user.id, sid, [(c, value)], task_id=t.id if t else None)
        return done(request, image_state(user, i, t), form)

    @app.post("/bulk")
    async def bulk(request: Request):
        user, form, i, sid, t = await posted_image(request)
        action = form.get("action", "")
        cands = ctx.candidates(i, top5=bool(t and t.top5))
        if action == "unreviewed-wrong":
            mine = records.user_decisions(db, user.id, sid)
            changes = [(c.index, "wrong") for c in cands if c.index not in mine]
        elif action == "label-correct":
            if ctx.labels[i] < 0:
                raise InputError(f"sample {i} has no dataset label")
            changes = [(int(ctx.labels[i]), "correct")]
        else:
            raise InputError(f"field 'action': {action[:40]!r} is not unreviewed-wrong or label-correct")
        records.record_decisions(db, user.id, sid, changes, task_id=t.id if t else None)
        return done(request, image_state(user, i, t), form)

    @app.post("/flag")
    async def flag(request: Request):
        user, form, i, sid, t = await posted_image(request)
        value = form.get("problematic", "")
        if value not in ("0", "1"):
            raise InputError(f"field 'problematic': {value[:40]!r}; expected 0 or 1")
        records.set_flag(db, user.id, sid, value == "1", form.get("reason", ""))
        return done(request, image_state(user, i, t), form)

    @app.post("/pick")
    async def pick(request: Request):
        user, form, i, sid, t = await posted_image(request)
        c = int_field(form, "class", required=False)
        if c is not None and not 0 <= c < len(ctx.classes):
            raise NotFound(f"class {c}: no such class (0..{len(ctx.classes) - 1})")
        records.set_pick(db, user.id, sid, i, c, task_id=t.id if t else None)
        with state.publish_lock:
            write_human_predictors(ctx.store, db, users=[user.name])
        payload = image_state(user, i, t)
        if t is not None and t.mode == "training" and c is not None:
            label = int(ctx.labels[i])
            payload["answer"] = {"label": label, "name": ctx.names[label] if label >= 0 else "unknown",
                                 "right": c == label}
        return done(request, payload, form)

    # ------------------------------------------------------------------ JSON
    @app.get("/api/classes")
    def api_classes(request: Request, q: str = "", limit: int = 30):
        need_user(request)
        if len(q) > 200:
            raise InputError(f"q: {len(q)} characters; at most 200")
        hits = ctx.search_classes(q, limit=max(1, min(limit, 200)))
        return {"classes": [{"index": c, "name": ctx.names[c], "description": ctx.descriptions[c]}
                            for c in hits]}

    @app.get("/api/samples/{index}")
    def api_sample(request: Request, index: int, task: int | None = None):
        user = need_user(request)
        if not 0 <= index < ctx.n:
            raise NotFound(f"sample {index}: no such image (0..{ctx.n - 1})")
        t = _task(task) if task is not None else None
        st = image_state(user, index, t)
        st["candidates"] = [c.to_dict() for c in ctx.candidates(index, top5=bool(t and t.top5))]
        st["all_decisions"] = records.sample_decisions(db, st["sample_id"])
        st["label"] = int(ctx.labels[index])
        return st

    @app.get("/api/tasks/{task_id}/progress")
    def api_progress(request: Request, task_id: int):
        user = need_user(request)
        return tasks.progress(ctx, db, _task(task_id), user.id).to_dict()

    # ------------------------------------------------------------------ people
    @app.get("/disagreements", response_class=HTMLResponse)
    def disagreements(request: Request):
        user = need_user(request)
        rows = records.all_decisions(db)
        pos = ctx.index_of
        known = [(pos[s], c, u, v) for s, c, u, v in rows if s in pos]
        pairs = find_disagreements(*zip(*known, strict=True)) if known else []
        votes: dict[tuple[int, int], list[tuple[str, str]]] = {}
        for s, c, u, v in known:
            votes.setdefault((s, c), []).append((u, v))
        items = [{"sample": s, "sample_id": str(ctx.sample_ids[s]), "class": c, "name": ctx.names[c],
                  "votes": sorted(votes[(s, c)])} for s, c in pairs]
        return page(request, "disagreements.html", user, items=items)

    @app.get("/stats", response_class=HTMLResponse)
    def stats(request: Request):
        user = need_user(request)
        rows = records.all_decisions(db)
        st = reviewer_agreement([f"{s}|{c}" for s, c, _, _ in rows], [u for *_, u, _ in rows],
                                [v for *_, v in rows])
        counts: dict[str, dict[str, int]] = {}
        for _, _, u, v in rows:
            counts.setdefault(u, dict.fromkeys(VALUES, 0))[v] += 1
        return page(request, "stats.html", user, stats=st, counts=counts, fmt=number, percent=percent,
                    count=count)

    return app


class SignInNeeded(Exception):
    """No signed-in reviewer: pages redirect to the sign-in page."""


def _q(text: str) -> str:
    from urllib.parse import quote

    return quote(text[:300], safe="")

