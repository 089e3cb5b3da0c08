"""The kill switch on a thread and an event loop of its own.

The panic key must not wait for the screen. Textual composes and renders its frames
on the screen's event loop (a redraw plus a frame at 160x50 takes tens of ms on a
busy 2-core machine), and a key event, or a worker started for it, queued behind a
frame waits for that frame: one press in ten waited ~40 ms before its cancel-all
left. Nor may it wait for the engine (a wedged or busy engine is what the switch is
for). So the switch runs on a thread of its own with its own loop and its own pooled
connection, opened at start and kept open by a cheap public read every `keep_warm_s`
(the venue and httpx both drop an idle keep-alive connection after 5 s, and a panic
would then pay for a new one). `fire()` may be called from any thread: the screen
calls it from the thread that reads the terminal, the moment the panic key arrives,
before the key event reaches the screen's loop. The caller then waits (at most
`hold_s`) until the first cancel-all request has left: it holds the GIL, and a
thread that wakes another and runs on would keep that one waiting for up to the
interpreter's switch interval (5 ms).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
import time

from desk.control import PanicReport
from desk.killswitch import KillSwitch

log = logging.getLogger(__name__)
KEEP_WARM_S = 2.0
HOLD_S = 0.02
CANCEL_ALL = "/perps/orders/cancel-all"


class SwitchThread:
    def __init__(self, switch: KillSwitch, keep_warm_s: float = KEEP_WARM_S):
        self.switch = switch
        self.keep_warm_s = keep_warm_s
        self.warmed = 0           # keep-warm reads made (for tests)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self._lock = threading.Lock()
        self._last_use = 0.0      # monotonic: the last request the switch made
        self._left: threading.Event | None = None  # set when the next cancel-all leaves

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float = 5.0) -> None:
        """Start the thread (once); the connection is opened on it at once."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._started.clear()
                self._thread = threading.Thread(target=self._main, name="desk-kill-switch",
                                                daemon=True)
                self._thread.start()
        if not self._started.wait(timeout):
            raise RuntimeError(f"the kill switch's thread did not start within {timeout:g} s")

    def _main(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._serve())
        except Exception:
            log.exception("the kill switch's thread failed")
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _serve(self) -> None:
        stop = self._stop = asyncio.Event()
        with contextlib.suppress(Exception):
            self.switch.client.http.event_hooks["request"].append(self._on_request)
        self._started.set()
        try:
            while not stop.is_set():
                if time.monotonic() - self._last_use >= self.keep_warm_s:
                    try:
                        await self.switch.warm()
                        self.warmed += 1
                    except Exception:  # keeping warm must never end the switch's thread
                        log.exception("keeping the kill switch's connection open failed")
                    self._last_use = time.monotonic()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.keep_warm_s / 2)
        finally:
            with contextlib.suppress(Exception):
                await self.switch.aclose()

    def fire(self, hold_s: float = HOLD_S) -> concurrent.futures.Future[PanicReport]:
        """The switch's `fire()` (cancel-all until confirmed, then read back), started now
        on its own loop from any thread; its future. Returns once the first cancel-all
        request has left, or after `hold_s` (0: at once)."""
        self.start()
        assert self._loop is not None
        left = threading.Event()
        future = asyncio.run_coroutine_threadsafe(self._fire(left), self._loop)
        if hold_s > 0 and threading.current_thread() is not self._thread:
            left.wait(hold_s)
        return future

    async def _fire(self, left: threading.Event) -> PanicReport:
        self._left = left
        try:
            return await self.switch.fire()
        finally:
            left.set()
            self._last_use = time.monotonic()

    async def _on_request(self, request: object) -> None:
        left = self._left
        if left is not None and getattr(getattr(request, "url", None), "path", "") == \
                CANCEL_ALL:
            self._left = None
            left.set()

    def call(self, fn, timeout: float = 5.0):  # noqa: ANN001, ANN201 - any callable
        """Run `fn()` on the switch's loop and return its result (tests, benchmarks: the
        switch's client lives on that loop)."""
        self.start()
        assert self._loop is not None

        async def run():  # noqa: ANN202
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        """Close the connection and end the thread."""
        loop, stop, thread = self._loop, self._stop, self._thread
        if loop is not None and stop is not None and thread is not None and thread.is_alive():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
            if thread is not threading.current_thread():
                thread.join(timeout)
