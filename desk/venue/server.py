"""Run the embedded venue on uvicorn: in the foreground (`desk venue`) or in a thread.

The listening socket is bound here, before uvicorn starts, so that a busy port
is a plain `OSError` for the caller (uvicorn itself would `sys.exit`). It is made
with IPPROTO_TCP and TCP_NODELAY: a protocol-0 socket never gets TCP_NODELAY from
asyncio and every response would stall ~40 ms. Port 0 picks a free port; the
real one is read back from the socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import threading
from collections.abc import Callable

import uvicorn

from desk.venue.http import create_app
from desk.venue.runtime import VenueRuntime


class RemoteBindError(ValueError):
    """A non-loopback host was asked for without --allow-remote."""


def check_host(host: str, allow_remote: bool) -> None:
    if allow_remote or host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise RemoteBindError(
            f"refusing to bind {host!r}: the embedded venue serves loopback only "
            f"(pass --allow-remote to expose it)")


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket on host:port (OSError if the port is taken)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


class _Uvicorn(uvicorn.Server):
    """uvicorn that ends open SSE streams as soon as it is asked to exit.

    A signal that led to a graceful shutdown is not raised again afterwards, so
    `desk venue` exits 0 after Ctrl-C or SIGTERM.
    """

    on_exit: Callable[[], None] = staticmethod(lambda: None)

    def handle_exit(self, sig, frame) -> None:  # noqa: ANN001 - uvicorn's signature
        self.on_exit()
        super().handle_exit(sig, frame)
        self._captured_signals.clear()


class VenueServer:
    def __init__(self, runtime: VenueRuntime | None = None, host: str = "127.0.0.1",
                 port: int = 0, allow_remote: bool = False, log_level: str = "warning"):
        check_host(host, allow_remote)
        self.runtime = runtime or VenueRuntime()
        self.host = host
        self._port = port
        config = uvicorn.Config(create_app(self.runtime), host=host, port=port,
                                log_level=log_level, access_log=False, lifespan="on",
                                timeout_graceful_shutdown=3, ws="none",
                                # the client's address is the socket's: a forwarded-for
                                # header must not pass a key's allowedIps fence
                                proxy_headers=False)
        self.server = _Uvicorn(config)
        self.server.on_exit = self._end_streams
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.server.servers[0].sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def _end_streams(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return

        def end() -> None:
            self.runtime.closing = True
            self.runtime.hub.drop_all()

        loop.call_soon_threadsafe(end)

    async def serve(self, ready: Callable[[str], None] | None = None) -> None:
        """Serve until asked to exit (Ctrl-C/SIGTERM in the main thread, or `stop()`)."""
        self._loop = asyncio.get_running_loop()
        sock = bind(self.host, self._port)
        task = asyncio.create_task(self.server.serve(sockets=[sock]))
        while not self.server.started:
            if task.done():
                await task  # a failed start (port in use...) raises here
                raise RuntimeError("the venue stopped before it started")
            await asyncio.sleep(0.01)
        if ready is not None:
            ready(self.url)
        await task

    # --- in a background thread (tests, the desk's embedded mode) --------------------

    def start(self, timeout: float = 15.0) -> str:
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            try:
                asyncio.run(self.serve(lambda url: started.set()))
            except BaseException as exc:  # reported to the caller of start()
                failure.append(exc)
                started.set()

        self._thread = threading.Thread(target=run, name="desk-venue", daemon=True)
        self._thread.start()
        if not started.wait(timeout):
            self.stop()
            raise TimeoutError("the embedded venue did not start in time")
        if failure:
            raise failure[0]
        return self.url

    def stop(self, timeout: float = 10.0) -> None:
        self._end_streams()
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def call(self, fn: Callable[[], object]) -> object:
        """Run `fn` on the server's loop and return its result (for tests and tools)."""
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(_as_coroutine(fn), self._loop)
        return future.result(10)

    def __enter__(self) -> VenueServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            self.stop()


async def _as_coroutine(fn: Callable[[], object]) -> object:
    return fn()
