"""``misclass app``: serve the explore and review app of a store."""

from __future__ import annotations

from misclass.cli.app import DEFAULT_STORE_PATH, StoreOpt, app
from misclass.cli.review import (
    AllowedHostOpt,
    DbOpt,
    HostOpt,
    PortOpt,
    RequireTokensOpt,
    SessionHoursOpt,
    serve_app,
)


@app.command("app")
def explore_app(
    store: StoreOpt = DEFAULT_STORE_PATH,
    host: HostOpt = "127.0.0.1",
    port: PortOpt = 8000,
    db: DbOpt = None,
    require_tokens: RequireTokensOpt = False,
    allowed_host: AllowedHostOpt = None,
    session_hours: SessionHoursOpt = 12.0,
) -> None:
    """Explore the errors in a web app: query images by which models get them right or wrong,
    classes, scores and review state; browse them as thumbnails; open an image's predictions,
    votes and nearest neighbours; click confusion and PCR matrices. The review pages are part
    of it.

    On loopback (the default) the pages and the read-only JSON API (GET /api/images?...) need
    no sign-in; any other --host, or --require-tokens, needs a reviewer's token (misclass
    review add-user NAME), sent by scripts as 'Authorization: Bearer TOKEN'.

    Example: misclass app --store misclass-demo/store   (then open http://127.0.0.1:8000)
    """
    serve_app(store, db, host=host, port=port, require_tokens=require_tokens, allowed_host=allowed_host,
              session_hours=session_hours, explore=True)
