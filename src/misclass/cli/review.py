"""``misclass review``: serve the review app; add reviewers, create tasks, export decisions."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from misclass.cli.app import DEFAULT_STORE_PATH, StoreOpt, app, console, get_store, print_table
from misclass.errors import InputError
from misclass.format import count, plural

review_app = typer.Typer(
    help="The review web app: people mark which candidate labels of each image are correct, flag "
    "problematic images and label images; the decisions feed 'misclass evaluate --labels review'.\n\n"
    "Example: misclass review --store misclass-demo/store   (then open http://127.0.0.1:8000)",
    invoke_without_command=True,
)
app.add_typer(review_app, name="review")

DbOpt = Annotated[str | None, typer.Option(
    "--db", help="SQLAlchemy URL of the review database. Default: sqlite:///<store>/annotations.sqlite "
    "(WAL mode); e.g. postgresql+psycopg://user@host/review.")]


def _database(store: Path, db: str | None, *, create: bool = True, ctx: typer.Context | None = None):
    """Open the store and its review database; ``--store``/``--db`` given before the sub-command
    (``misclass review --store S add-user NAME``) count when the sub-command has none."""
    from misclass.review.schema import open_database

    parent = ctx.parent.params if ctx is not None and ctx.parent is not None else {}
    if store == DEFAULT_STORE_PATH and parent.get("store") not in (None, DEFAULT_STORE_PATH):
        store = parent["store"]
    db = db or parent.get("db")
    s = get_store(store)
    return s, open_database(s.path, db, create=create)


HostOpt = Annotated[str, typer.Option(
    "--host", help="Address to listen on. Any address other than loopback requires every reviewer "
    "to sign in with a token.")]
PortOpt = Annotated[int, typer.Option("--port", help="Port to listen on.", min=1, max=65535)]
RequireTokensOpt = Annotated[bool, typer.Option(
    "--require-tokens", help="Require tokens even on loopback; sessions opened by name alone "
    "(by an earlier run without it) are refused.")]
AllowedHostOpt = Annotated[list[str] | None, typer.Option(
    "--allowed-host", help="Another host name reviewers reach the server by (the Host header); "
    "repeat for several. Without it only --host (and the loopback names on loopback) is "
    "accepted.")]
SessionHoursOpt = Annotated[float, typer.Option("--session-hours",
                                                help="How long a sign-in lasts, in hours.")]


def with_serve_options(fn: Callable[..., None]) -> Callable[..., None]:
    """The command ``fn(ctx, **options)`` with the options of a server as its parameters
    (``misclass review`` and ``misclass app`` share them); its name, help and module stay
    ``fn``'s."""

    def command(
        ctx: typer.Context,
        store: StoreOpt = DEFAULT_STORE_PATH,
        host: HostOpt = "127.0.0.1",
        port: PortOpt = 8000,
        db: DbOpt = None,
        require_tokens: RequireTokensOpt = False,
        allowed_host: AllowedHostOpt = None,
        session_hours: SessionHoursOpt = 12.0,
    ) -> None:
        fn(ctx, store=store, host=host, port=port, db=db, require_tokens=require_tokens,
           allowed_host=allowed_host, session_hours=session_hours)

    functools.update_wrapper(command, fn, assigned=("__module__", "__name__", "__qualname__", "__doc__"),
                             updated=())
    del command.__wrapped__  # Typer reads the parameters of ``command``, not of ``fn``
    return command


def serve_app(*, store: Path, db: str | None, host: str, port: int, require_tokens: bool,
              allowed_host: list[str] | None, session_hours: float, explore: bool) -> None:
    """Serve the review app, or with ``explore`` the whole misclass app, with uvicorn."""
    from misclass.extras import require

    uvicorn = require("uvicorn", "review", feature="misclass app" if explore else "misclass review")
    from misclass.review.security import is_loopback

    s, database = _database(store, db)
    tokens = require_tokens or not is_loopback(host)
    options = dict(require_tokens=tokens, host=host, allowed_hosts=tuple(allowed_host or ()),
                   session_hours=session_hours)
    if explore:
        from misclass.app.web import create_app as create_explore_app

        web = create_explore_app(s, database, **options)
    else:
        from misclass.review.context import ReviewContext
        from misclass.review.web import create_app

        web = create_app(ReviewContext.load(s), database, **options)
    console.print(f"{'Exploring' if explore else 'Reviewing'} {s.path} at http://{host}:{port}  "
                  f"(database: {database.url})"
                  + ("; sign-in needs a token (misclass review add-user NAME)" if tokens else "")
                  + (f"; also answers to {', '.join(allowed_host)}" if allowed_host else
                     "; give --allowed-host NAME for each name reviewers open it by"
                     if host in ("0.0.0.0", "::") else ""),
                  soft_wrap=True, highlight=False)
    uvicorn.run(web, host=host, port=port, log_level="warning")


@review_app.callback()
@with_serve_options
def serve(ctx: typer.Context, **options) -> None:
    """Serve the review app (without a sub-command), or run one of the sub-commands below.

    Example: misclass review --store misclass-demo/store --port 8000
    """
    if ctx.invoked_subcommand is not None:
        return
    serve_app(**options, explore=False)


@review_app.command("add-user")
def add_user(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Reviewer name: letters, digits, '.', '_', '-'.")],
    store: StoreOpt = DEFAULT_STORE_PATH,
    db: DbOpt = None,
    new_token: Annotated[bool, typer.Option("--new-token", help="Issue a new token to an existing reviewer "
                                            "(the old one stops working).")] = False,
) -> None:
    """Add a reviewer and print their sign-in token (shown once; only its hash is kept).

    Example: misclass review add-user alice --store misclass-demo/store
    """
    from misclass.review.people import add_user as _add

    _, database = _database(store, db, ctx=ctx)
    token = _add(database, name, new_token=new_token)
    console.print(f"Token of {name}: {token}", soft_wrap=True, highlight=False)


@review_app.command("task")
def task(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Task name, e.g. disagreements-1.")],
    store: StoreOpt = DEFAULT_STORE_PATH,
    kind: Annotated[str, typer.Option(
        "--kind", help="Which images: disagreement (models disagree), all-miss (every model wrong), "
        "pair (--pair A,B), random (--size), ids (--ids FILE), label-issues (--top K of misclass "
        "label-issues).")] = "disagreement",
    pair: Annotated[str | None, typer.Option("--pair", help="Two classes (index, id or name), e.g. "
                                             "'marmot,beaver'.")] = None,
    ids: Annotated[Path | None, typer.Option("--ids", help="File with one sample id a line (or a CSV with "
                                             "a sample_id column).")] = None,
    size: Annotated[int | None, typer.Option("--size", help="At most this many images (a seeded random "
                                             "subset); random samples default to 100.", min=1)] = None,
    top: Annotated[int | None, typer.Option("--top", help="Kind label-issues: the K labels most likely "
                                            "wrong, in ranking order (default 100).", min=1)] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of random choices.")] = 0,
    mode: Annotated[str, typer.Option(
        "--mode", help="review (judge candidate labels), label (pick the class) or training (pick, "
        "then see the answer).")] = "review",
    top5: Annotated[bool, typer.Option("--top5", help="Candidates include every model's top-5, not only "
                                       "top-1.")] = False,
    db: DbOpt = None,
) -> None:
    """Create a named task: a set of images in parts of 10.

    Example: misclass review task beavers --kind pair --pair marmot,beaver --store imagenet-store
    """
    from misclass.review.context import ReviewContext
    from misclass.review.tasks import create_task

    s, database = _database(store, db, ctx=ctx)
    pair_t = None
    if pair is not None:
        parts = [p.strip() for p in pair.split(",")]
        if len(parts) != 2 or not all(parts):
            raise InputError(f"--pair {pair!r}: expected two classes separated by a comma, "
                             "e.g. marmot,beaver")
        pair_t = (parts[0], parts[1])
    if top is not None:
        if kind != "label-issues":
            raise InputError(f"--top is for --kind label-issues; for kind {kind!r} use --size")
        if size is not None:
            raise InputError("--top and --size exclude each other: --top K takes the K labels most "
                             "likely wrong")
        size = top
    t = create_task(database, ReviewContext.load(s), name, kind, mode=mode, top5=top5, pair=pair_t, size=size,
                    seed=seed, ids=ids)
    parts = -(-t.n_items // 10)
    console.print(f"Task {t.name!r} (#{t.id}): {plural(t.n_items, 'image')} in {plural(parts, 'part')}, "
                  f"mode {t.mode}",
                  soft_wrap=True, highlight=False)


@review_app.command("tasks")
def list_tasks(ctx: typer.Context, store: StoreOpt = DEFAULT_STORE_PATH, db: DbOpt = None) -> None:
    """List the tasks with their size.

    Example: misclass review tasks --store misclass-demo/store
    """
    from misclass.review.tasks import list_tasks as _list

    _, database = _database(store, db, ctx=ctx)
    table = Table(title="Review tasks")
    for col in ("id", "name", "kind", "mode", "images"):
        table.add_column(col, justify="right" if col in ("id", "images") else "left")
    for t in _list(database):
        table.add_row(str(t.id), t.name, t.kind, t.mode, count(t.n_items))
    print_table(table)


@review_app.command("export")
def export(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", "-o", help="JSONL file to write.")],
    store: StoreOpt = DEFAULT_STORE_PATH,
    db: DbOpt = None,
    humans: Annotated[bool, typer.Option("--humans/--no-humans", help="Also write each labeler's picks as "
                                         "a predictor human-NAME (kind human) in the store.")] = True,
) -> None:
    """Write the decisions as label sets and problematic flags, one JSON object a line.

    A class is in an image's set when more reviewers marked it correct than wrong; an image is
    problematic when a reviewer flagged it. The file works with --labels of evaluate and report.

    Example: misclass review export --store misclass-demo/store --out review.jsonl
    """
    from misclass.review.export import export_jsonl, write_human_predictors

    s, database = _database(store, db, create=False, ctx=ctx)
    n = export_jsonl(database, s.sample_ids().tolist(), out)
    console.print(f"Wrote {plural(n, 'reviewed image')} to {out}", soft_wrap=True, highlight=False)
    if humans:
        names = write_human_predictors(s, database)
        if names:
            console.print(f"Labelers' picks as predictors: {', '.join(names)}", soft_wrap=True,
                          highlight=False)
