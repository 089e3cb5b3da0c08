"""The kill switch on a thread and an event loop of its own, with a first shot sent from
the thread that fires it.

The panic key must not wait for the screen. Textual composes and renders its frames
on the screen's event loop (a redraw plus a frame at 160x50 takes tens of ms on a
busy 2-core machine), and a key event, or a worker started for it, queued behind a
frame waits for that frame: one press in ten waited ~40 ms before its cancel-all
left. Nor may it wait for the engine (a wedged or busy engine is what the switch is
for). So the switch runs on a thread of its own with its own loop and its own pooled
connection, opened at start and kept open by a cheap public read every `keep_warm_s`
(the venue and httpx both drop an idle keep-alive connection after 5 s, and a panic
would then pay for a new one).

`fire()` may be called from any thread: the screen calls it from the thread that
reads the terminal, the moment the panic key arrives, before the key event reaches
the screen's loop. Handing the work to another thread costs a wake-up, and on a
loaded machine a woken thread can wait tens of ms for a CPU and the GIL, so the
first unscoped cancel-all is sent by the calling thread itself, over a small
synchronous client of the switch's (same key, its connection also kept open), and
waits for its answer (at most `FIRST_SHOT_S`). Then the switch's own `fire()` runs
on its thread as always: cancel-all until the venue confirms (a no-op after a
confirmed first shot, unless a cycle in flight landed since), read back, cancel
again while anything rests; its report counts the first shot too.

While a switch runs, the interpreter's switch interval is at most 1 ms: a thread
that wants the GIL (the one firing, or the switch's) otherwise waits up to 5 ms for
one that holds it (the screen drawing, the engine), which was the panic's tail.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from desk.control import PanicReport
from desk.killswitch import KillSwitch

log = logging.getLogger(__name__)
KEEP_WARM_S = 2.0
HOLD_S = 0.02          # without a first shot: the caller waits this long for the send
FIRST_SHOT_S = 2.0     # the first shot's answer: a venue slower than this is left to retry
CANCEL_ALL = "/perps/orders/cancel-all"
SWITCH_INTERVAL_S = 0.001  # the GIL's hand-over at most this late while a switch runs
WARM_PATH = "/perps/markets"


class SwitchThread:
    def __init__(self, switch: KillSwitch, keep_warm_s: float = KEEP_WARM_S,
                 first_shot: bool = True):
        self.switch = switch
        self.keep_warm_s = keep_warm_s
        self.first_shot = first_shot
        self.warmed = 0           # keep-warm rounds made (for tests)
        self.shots = 0            # first shots sent (for tests)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self._lock = threading.Lock()
        self._last_use = 0.0      # monotonic: the last request the switch made
        self._left: threading.Event | None = None  # set when the next cancel-all leaves
        self._sync: httpx.Client | None = None     # the first shot's client (any thread)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float = 5.0) -> None:
        """Start the thread (once); the connections are opened on it at once."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._started.clear()
                self._thread = threading.Thread(target=self._main, name="desk-kill-switch",
                                                daemon=True)
                self._thread.start()
        if sys.getswitchinterval() > SWITCH_INTERVAL_S:
            sys.setswitchinterval(SWITCH_INTERVAL_S)
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
        try:
            client = self.switch.client  # made on this loop, its home
            client.http.event_hooks["request"].append(self._on_request)
            if self.first_shot:
                self._sync = httpx.Client(
                    base_url=client.base_url, auth=client.key_auth,
                    timeout=httpx.Timeout(FIRST_SHOT_S, connect=min(FIRST_SHOT_S, 0.5)),
                    headers={"accept": "application/json"},
                    limits=httpx.Limits(max_connections=4, max_keepalive_connections=2))
        except Exception:  # no key, say: the switch's own fire() reports it
            log.exception("preparing the kill switch's first shot failed")
        self._started.set()
        try:
            while not stop.is_set():
                if time.monotonic() - self._last_use >= self.keep_warm_s:
                    await self._keep_warm()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.keep_warm_s / 2)
        finally:
            sync, self._sync = self._sync, None
            with contextlib.suppress(Exception):
                await self.switch.aclose()
            if sync is not None:
                with contextlib.suppress(Exception):
                    sync.close()

    async def _keep_warm(self) -> None:
        try:  # keeping warm must never end the switch's thread
            await self.switch.warm()
            if self._sync is not None:
                await asyncio.to_thread(self._warm_sync)
            self.warmed += 1
        except Exception:
            log.exception("keeping the kill switch's connections open failed")
        self._last_use = time.monotonic()

    def _warm_sync(self) -> None:
        sync = self._sync
        if sync is not None:
            with contextlib.suppress(httpx.HTTPError):
                sync.get(WARM_PATH)

    # --- firing -------------------------------------------------------------------------

    def fire(self, hold_s: float = HOLD_S) -> concurrent.futures.Future[PanicReport]:
        """Cancel everything, from any thread: the first shot from this thread (not the
        switch's own), then the switch's `fire()` on its loop; the future of its report.
        Without a first shot, returns once the switch's first cancel-all has left, or
        after `hold_s` (0: at once)."""
        self.start()
        assert self._loop is not None
        here = threading.current_thread() is not self._thread
        shot = self._first_shot() if here else None
        left = threading.Event()
        future = asyncio.run_coroutine_threadsafe(self._fire(left, shot), self._loop)
        if shot is None and here and hold_s > 0:
            left.wait(hold_s)
        return future

    def _first_shot(self) -> tuple[int, float, str | None] | None:
        """One unscoped cancel-all over the synchronous client, from this thread:
        (cancelled, ms, error); None without that client."""
        sync = self._sync
        if sync is None:
            return None
        self.shots += 1
        began = time.perf_counter()
        error = None
        cancelled = 0
        try:
            response = sync.post(CANCEL_ALL, json={})
            if response.status_code == 200:
                cancelled = len(response.json().get("cancelled") or ())
            else:
                error = f"POST {CANCEL_ALL}: HTTP {response.status_code}"
        except (httpx.HTTPError, ValueError, AttributeError, TypeError) as exc:
            error = f"POST {CANCEL_ALL}: {type(exc).__name__}"
        finally:
            self._last_use = time.monotonic()
        return cancelled, (time.perf_counter() - began) * 1000, error

    async def _fire(self, left: threading.Event,
                    shot: tuple[int, float, str | None] | None) -> PanicReport:
        self._left = left
        try:
            report = await self.switch.fire()
        finally:
            left.set()
            self._last_use = time.monotonic()
        if shot is None:
            return report
        cancelled, ms, _ = shot  # its failure, if any, the switch's own attempts cover
        return PanicReport(report.cancelled + cancelled, report.resting_after,
                           report.attempts + 1, report.elapsed_ms + ms, report.error)

    async def _on_request(self, request: httpx.Request) -> None:
        left = self._left
        if left is not None and request.url.path == CANCEL_ALL:
            self._left = None
            left.set()

    # --- for tests and benchmarks ---------------------------------------------------------

    def call(self, fn: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Run `fn()` on the switch's loop and return its result (its async client lives
        on that loop)."""
        self.start()
        assert self._loop is not None

        async def run() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    def add_hooks(self, on_request: Callable[[httpx.Request], None],
                  on_response: Callable[[httpx.Response], None]) -> None:
        """Call these (plain functions, from whichever thread sends) on every request
        and response of the switch's, over both of its clients."""

        async def request(r: httpx.Request) -> None:
            on_request(r)

        async def response(r: httpx.Response) -> None:
            on_response(r)

        def hook() -> None:
            hooks = self.switch.client.http.event_hooks
            hooks["request"].append(request)
            hooks["response"].append(response)

        self.call(hook)
        if self._sync is not None:
            self._sync.event_hooks["request"].append(on_request)
            self._sync.event_hooks["response"].append(on_response)

    def stop(self, timeout: float = 5.0) -> None:
        """Close the connections and end the thread."""
        loop, stop, thread = self._loop, self._stop, self._thread
        if loop is not None and stop is not None and thread is not None and thread.is_alive():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
            if thread is not threading.current_thread():
                thread.join(timeout)
