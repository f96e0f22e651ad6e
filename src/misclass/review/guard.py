"""ASGI middleware in front of the review app: refuse a request whose ``Host`` is not a name
the server answers to (400, against DNS rebinding), and a body over the size limit (413)
without reading it: a ``Content-Length`` above the limit is refused before the first byte,
and a body without one (chunked) is read up to the limit and no further.

The app then sees the whole (bounded) body as one ``http.request`` message.
"""

from __future__ import annotations

import json

from misclass.review.security import MAX_BODY, host_name


class RequestGuard:
    """Pure ASGI middleware: Host names in ``hosts`` only, bodies of at most ``max_body`` bytes."""

    def __init__(self, app, *, hosts: frozenset[str], max_body: int = MAX_BODY):
        self.app = app
        self.hosts = hosts
        self.max_body = max_body

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        name = host_name(headers.get("host", ""))
        if name not in self.hosts:
            await _refuse(send, 400, f"Host {name[:100]!r} is not a name this server answers to "
                          "(start it with --allowed-host NAME to accept one)")
            return
        length = headers.get("content-length", "").strip()
        if length and not length.isdigit():
            await _refuse(send, 400, f"Content-Length {length[:20]!r} is not a number")
            return
        if length and int(length) > self.max_body:
            await _refuse(send, 413, f"request body of {int(length)} bytes refused; at most {self.max_body}")
            return
        replay = await _read_bounded(receive, self.max_body)
        if replay is None:
            await _refuse(send, 413, f"request body over {self.max_body} bytes refused "
                          f"(at most {self.max_body}); not read further")
            return
        await self.app(scope, replay, send)


async def _read_bounded(receive, limit: int):
    """Read the body up to ``limit`` bytes; None when it is longer, else a ``receive`` that
    gives the body as one message and then defers to the server's."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away: pass that on
            pending = [message]
            break
        body = message.get("body", b"")
        size += len(body)
        if size > limit:
            return None
        chunks.append(body)
        if not message.get("more_body", False):
            pending = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]
            break

    async def replay():
        return pending.pop() if pending else await receive()

    return replay


async def _refuse(send, status: int, message: str) -> None:
    """Answer ``status`` with a JSON error and close the connection (the rest of a refused
    body is never read)."""
    body = json.dumps({"ok": False, "error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
