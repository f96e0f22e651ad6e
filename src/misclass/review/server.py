"""Run the review app with uvicorn on a free loopback port in a background thread (from a
notebook, in tests, for screenshots and the load benchmark).

>>> from misclass.review.server import free_port
>>> 0 < free_port() < 65536
True
"""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(app, *, port: int | None = None):
    """Serve ``app`` on 127.0.0.1; yield its base URL; stop it on exit."""
    from misclass.extras import require

    uvicorn = require("uvicorn", "review", feature="serving the review app")

    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the review server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
