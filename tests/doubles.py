"""Serve any ASGI app on 127.0.0.1 (port 0) in a thread: test doubles of a broken venue."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from desk.venue.server import bind


@contextmanager
def serve(app) -> Iterator[str]:  # noqa: ANN001 - any ASGI app
    """Yield the base URL of `app` served by uvicorn; stop it on exit."""
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False,
                                           lifespan="off", ws="none",
                                           timeout_graceful_shutdown=1))
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]

    def run() -> None:
        asyncio.run(server.serve(sockets=[sock]))

    thread = threading.Thread(target=run, name="test-double", daemon=True)
    thread.start()
    for _ in range(1000):
        if server.started:
            break
        threading.Event().wait(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(5)
