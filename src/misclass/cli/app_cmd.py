"""``misclass app``: serve the explore and review app of a store."""

from __future__ import annotations

import typer

from misclass.cli.app import app
from misclass.cli.review import serve_app, with_serve_options


@app.command("app")
@with_serve_options
def explore_app(ctx: typer.Context, **options) -> None:
    """Explore the errors in a web app: query images by which models get them right or wrong,
    classes, scores and review state; browse them as thumbnails; open an image's predictions,
    votes and nearest neighbours; click confusion and PCR matrices. The review pages are part
    of it.

    On loopback (the default) the pages and the read-only JSON API (GET /api/images?...) need
    no sign-in; any other --host, or --require-tokens, needs a reviewer's token (misclass
    review add-user NAME), sent by scripts as 'Authorization: Bearer TOKEN'.

    Example: misclass app --store misclass-demo/store   (then open http://127.0.0.1:8000)
    """
    serve_app(**options, explore=True)
