"""The misclass app (``misclass app --store S``): explore a store's errors and review its images.

:func:`create_app` builds the review app (:func:`misclass.review.web.create_app`: sign-in,
sessions, CSRF, the Host and body-size guard) and adds the explore pages, their JSON API and
the thumbnails to it, so both share one set of safety rules. The review pages keep their
addresses (the task list moves from ``/`` to ``/tasks``; ``/`` opens the explorer).

Reading is open on loopback: without ``require_tokens`` the explore pages and the read-only
JSON API answer a peer on loopback without sign-in. Where tokens are required (any host
other than loopback, ``require_tokens``, a peer beyond loopback) they need a signed-in
reviewer: a session opened with a token, or ``Authorization: Bearer TOKEN``.

Every answer comes from :mod:`misclass.workflows.explore` (queries, image details,
summaries); bad input is one JSON error (400, or 404 for an unknown image), never a 500.
"""

from __future__ import annotations

import hashlib
import math
from functools import lru_cache
from importlib import resources
from pathlib import Path
from urllib.parse import urlencode

import numpy as np

from misclass.extras import require

require("fastapi", "review", feature="The misclass app")

from fastapi import FastAPI, Request  # noqa: E402
from fastapi.responses import HTMLResponse, RedirectResponse, Response  # noqa: E402
from fastapi.staticfiles import StaticFiles  # noqa: E402
from jinja2 import ChoiceLoader, FileSystemLoader  # noqa: E402
from starlette.routing import Route  # noqa: E402

from misclass import format as fmt  # noqa: E402
from misclass.app.overlays import saliency_strip  # noqa: E402
from misclass.app.thumbs import Thumbnails  # noqa: E402
from misclass.errors import InputError  # noqa: E402
from misclass.review import people, records  # noqa: E402
from misclass.review import web as review_web  # noqa: E402
from misclass.review.context import ReviewContext  # noqa: E402
from misclass.review.schema import Database  # noqa: E402
from misclass.store import Store  # noqa: E402
from misclass.workflows.explore import (  # noqa: E402
    ERASURE_OUTCOMES,
    FLAGS,
    REVIEW_STATES,
    Explorer,
    NotFoundError,
    QueryError,
    explore,
)

PAGE_SIZE = 60
"""Tiles the grid asks for at a time."""


def _folder(name: str) -> str:
    return str(Path(str(resources.files("misclass.app") / name)))


def review_marks(db: Database, pos: dict[str, int]) -> dict[str, np.ndarray]:
    """``{reviewed, unreviewed, flagged}``: (N,) bool masks from the review database (``pos``:
    sample id -> store row). An image is reviewed once anyone decided on one of its classes,
    flagged it or picked its class."""
    n = len(pos)
    reviewed = np.zeros(n, dtype=bool)
    flagged = np.zeros(n, dtype=bool)
    for s, _, _, value in records.all_decisions(db):
        if s in pos and value != "unreviewed":
            reviewed[pos[s]] = True
    for s, _, problematic, _ in records.all_flags(db):
        if s in pos:
            reviewed[pos[s]] = True
            flagged[pos[s]] |= bool(problematic)
    for picks in records.all_picks(db).values():
        for i, _ in picks:
            if 0 <= i < n:
                reviewed[i] = True
    return {"reviewed": reviewed, "unreviewed": ~reviewed, "flagged": flagged}


def create_app(store: Store | str, db: Database, *, require_tokens: bool = False, host: str = "127.0.0.1",
               allowed_hosts: tuple[str, ...] = (), session_hours: float = people.SESSION_HOURS) -> FastAPI:
    """The explore and review app of ``store`` with the review database ``db``; the options are
    those of :func:`misclass.review.web.create_app`."""
    ctx = ReviewContext.load(store)
    app = review_web.create_app(ctx, db, require_tokens=require_tokens, host=host,
                                allowed_hosts=allowed_hosts, session_hours=session_hours)
    app.title = "misclass"
    state = app.state.review
    explorer: Explorer = explore(ctx.store, review_marks=lambda: review_marks(db, explorer.data.index_of),
                                 review_db=db.engine.url.render_as_string(hide_password=False))
    explorer.warm()
    thumbs = Thumbnails(ctx.store)
    templates = app.state.templates
    templates.env.loader = ChoiceLoader([FileSystemLoader(_folder("templates")), templates.env.loader])
    templates.env.globals["EXPLORE"] = True
    templates.env.filters["percent"] = fmt.percent
    templates.env.filters["probability"] = fmt.probability
    templates.env.filters["count"] = fmt.count
    templates.env.filters["number"] = fmt.number
    error_response = app.state.error_response
    app.state.explorer = explorer

    # ------------------------------------------------------------------ access
    def reader(request: Request) -> people.Reviewer | None:
        """Who reads: anyone on open loopback (the reviewer when signed in), else a reviewer
        signed in with a token (:class:`~misclass.review.web.SignInNeeded` otherwise)."""
        if not state.tokens_needed(request):
            try:
                return state.reviewer(request)
            except people.SessionRefused:
                return None
        user = state.reviewer(request)
        if user is None:
            raise review_web.SignInNeeded()
        return user

    def page(request: Request, name: str, user, **context) -> HTMLResponse:
        return templates.TemplateResponse(request, name, dict(context, user=user, store=str(ctx.store.path)))

    @app.exception_handler(NotFoundError)  # a QueryError, like every MisclassError, answers 400
    async def _missing(request: Request, exc):
        return error_response(request, 404, str(exc))

    def row_of(text: str, where: str = "image") -> int:
        """A store row given in a path (digits only)."""
        if not text.isdigit() or not 0 <= int(text) < explorer.n:
            raise NotFoundError(f"{where} {text[:40]!r}: no such image (0..{explorer.n - 1})")
        return int(text)

    # ------------------------------------------------------------------ JSON API
    def meta() -> dict:
        d = explorer.data
        keys = explorer.score_keys()
        return {
            "store": str(ctx.store.path), "n": d.table.n,
            "models": [{"name": m, "kind": d.kinds[m]} for m in d.pred.models],
            "groups": sorted(d.groups), "flags": list(FLAGS), "review_states": list(REVIEW_STATES),
            "erasure_outcomes": list(ERASURE_OUTCOMES) if d.explain else [], "explained": list(d.explain),
            "keys": [k for k, why in keys.items() if why is None],
            "unavailable": {k: why for k, why in keys.items() if why is not None},
            "has_images": thumbs.available, "page_size": PAGE_SIZE, "class_names": d.names,
        }

    @app.get("/api/explore")
    def api_meta(request: Request):
        reader(request)
        return meta()

    @app.get("/api/images")
    def api_images(request: Request):
        reader(request)
        return explorer.query(request.query_params.multi_items()).to_dict()

    @app.get("/api/images/{sample_id:path}")
    def api_image(request: Request, sample_id: str):
        reader(request)
        _no_params(request)
        return image_details(sample_id)

    def image_details(sample_id: str) -> dict:
        out = explorer.image(sample_id)
        out["review"] = {
            "decisions": [dict(d, created_at=str(d.get("created_at", ""))) for d in
                          records.sample_decisions(db, out["sample_id"])],
            "flags": [{"user": u, "problematic": bool(p), "reason": r} for s, u, p, r in records.all_flags(db)
                      if s == out["sample_id"]],
        }
        out["has_image"] = thumbs.available
        return out

    @app.get("/api/neighbours/{sample_id:path}")
    def api_neighbours(request: Request, sample_id: str):
        reader(request)
        q = dict(request.query_params)
        unknown = sorted(set(q) - {"model", "k"})
        if unknown or "model" not in q:
            raise QueryError("neighbours take model=NAME and optionally k=1..100"
                             + (f"; unknown parameter {unknown[0][:100]!r}" if unknown else ""))
        k = q.get("k", "12")
        if not k.isdigit():
            raise QueryError(f"k={k[:40]!r}: expected a whole number 1..100")
        return explorer.neighbours(sample_id, q["model"], int(k))

    @app.get("/api/summary")
    def api_summary(request: Request):
        reader(request)
        _no_params(request)
        return summary()

    _summary: dict = {}

    def summary() -> dict:
        stamp = explorer.data  # a new snapshot (the store changed) makes a new summary
        if _summary.get("snapshot") is not stamp:
            _summary.update(snapshot=stamp, value=explorer.summary())
        return _summary["value"]

    @app.get("/api/class_names")
    def api_class_names(request: Request):
        reader(request)
        q = request.query_params.get("q", "")
        if len(q) > 200:
            raise QueryError(f"q: {len(q)} characters; at most 200")
        return {"classes": [{"index": c, "name": ctx.names[c]} for c in ctx.search_classes(q, limit=30)]}

    # ------------------------------------------------------------------ pixels
    @app.get("/thumbs/{index}")
    def thumbnail(request: Request, index: str):
        reader(request)
        got = thumbs.get(row_of(index.removesuffix(".png").removesuffix(".jpg")))
        if got is None:
            raise NotFoundError(f"image {index[:40]}: the store holds no readable image for it")
        return Response(got[0], media_type=got[1], headers={"Cache-Control": "private, max-age=86400"})

    @app.get("/media/{index}.png")
    def large_image(request: Request, index: str):
        reader(request)
        data = state.images.image_png(row_of(index), "large")
        if data is None:
            raise NotFoundError(f"image {index[:40]}: the store holds no readable image for it")
        return Response(data, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})

    @app.get("/media/saliency/{model}/{index}.png")
    def saliency(request: Request, model: str, index: str):
        reader(request)
        arrays = explorer.saliency(model, str(explorer.data.sample_ids[row_of(index)]))
        return Response(saliency_strip(arrays["original"], arrays["saliency"], arrays["erased"]),
                        media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})

    app.mount("/static", _Static(directory=_folder("static")), name="static")
    templates.env.globals["static"] = _static_url
    for name in ("explore.html", "image.html", "summary.html", "error.html"):  # compiled once, now
        templates.get_template(name)

    # ------------------------------------------------------------------ pages
    def home(request: Request):
        return RedirectResponse("/explore", status_code=303)

    # ahead of the review's task list, which stays at /tasks
    app.router.routes.insert(0, Route("/", home, methods=["GET"]))

    @app.get("/explore", response_class=HTMLResponse)
    def explore_page(request: Request):
        user = reader(request)
        d = explorer.data
        m = meta()
        # the grid's first page comes with the page: one request less before tiles show
        try:
            params = [(k, v) for k, v in request.query_params.multi_items() if k not in ("limit", "offset",
                                                                                        "include")]
            m["first"] = explorer.query(params + [("include", "items"), ("limit", str(PAGE_SIZE))]).to_dict()
        except InputError as exc:
            m["first"] = {"error": str(exc)}
        missing: dict[str, tuple[dict, dict]] = {}  # reason -> (score names, models), in order
        for key, why in m["unavailable"].items():
            name, _, model = key.partition(":")
            names, models = missing.setdefault(why, ({}, {}))
            names[name] = None
            if model:
                models[model] = None
        rows = [(why, ", ".join(names) + (f" of {', '.join(models)}" if models else ""))
                for why, (names, models) in missing.items()]
        return page(request, "explore.html", user, meta=m, class_names=d.names, missing=rows)

    @app.get("/explore/summary", response_class=HTMLResponse)
    def summary_page(request: Request):
        user = reader(request)
        s = summary()
        model = request.query_params.get("model") or (s["models"][0] if s["models"] else None)
        if model is not None and model not in s["confusion"]:
            raise QueryError(f"model={model[:200]!r}: not a model of this store; models: "
                             f"{', '.join(s['models'])}")
        cells = s["confusion"][model] if model else []
        peak = max((n for row in cells for n in row), default=0)
        peak_off = max((n for r, row in enumerate(cells) for c, n in enumerate(row) if r != c), default=0)
        return page(request, "summary.html", user, s=s, model=model, peak=max(peak, 1),
                    peak_off=max(peak_off, 1), q=_q)

    @app.get("/explore/image/{sample_id:path}", response_class=HTMLResponse)
    def image_page(request: Request, sample_id: str):
        user = reader(request)
        info = image_details(sample_id)
        query = [(k, v) for k, v in request.query_params.multi_items()
                 if k not in ("offset", "limit", "include", "show")]
        nav = {"query": urlencode(query), "position": None, "total": None, "prev": None, "next": None,
               "error": None}
        try:
            parsed = explorer.parse(query + [("limit", str(explorer.n))])
            res = explorer.run(parsed)
            hit = np.flatnonzero(res.indices == info["index"])
            nav["total"] = res.total
            if len(hit):
                p = int(hit[0])
                nav["position"] = p + 1
                nav["prev"] = res.sample_ids[p - 1] if p > 0 else None
                nav["next"] = res.sample_ids[p + 1] if p + 1 < res.total else None
        except InputError as exc:
            nav["error"] = str(exc)
        return page(request, "image.html", user, info=info, nav=nav, names=explorer.data.names,
                    q=_q, fmt_prob=_prob)

    return app


class _Static(StaticFiles):
    """The package's scripts and style sheet; their addresses carry a hash of their content
    (:func:`_static_url`), so browsers may keep them for a day."""

    def file_response(self, *args, **kwargs) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "public, max-age=86400"
        return response


@lru_cache(maxsize=16)
def _static_url(name: str) -> str:
    """``/static/NAME?v=HASH``: a new address whenever the file changes."""
    digest = hashlib.sha256((Path(_folder("static")) / name).read_bytes()).hexdigest()[:12]
    return f"/static/{name}?v={digest}"


def _no_params(request: Request) -> None:
    if request.query_params:
        name = next(iter(request.query_params))
        raise QueryError(f"unknown query parameter {name[:100]!r}; this address takes none")


def _q(**params) -> str:
    """A query string of the non-empty ``params`` (lists repeat their name)."""
    pairs = []
    for k, v in params.items():
        for x in v if isinstance(v, list | tuple) else [v]:
            if x is not None and x != "":
                pairs.append((k, str(x)))
    return urlencode(pairs)


def _prob(p) -> str:
    return "" if p is None or (isinstance(p, float) and math.isnan(p)) else fmt.percent(p, digits=1)
