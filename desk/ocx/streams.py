"""Resilient SSE streams (httpx-sse) that keep local state right or say it is not.

One `SseStream` runs one connection at a time in a task:

- the first message must be the snapshot; later ones are folded in place;
- SSE `id:` (public streams) or `eventSeq` (private ones) must rise by exactly one: a gap
  closes the connection and the next one starts from a fresh snapshot;
- no bytes for `heartbeat_timeout_s` (heartbeats included) means a dead link:
  the read times out and the stream reconnects;
- a malformed, truncated or unknown message is logged with its context,
  counted, and handled like a gap; nothing half-applied survives;
- reconnects wait a capped exponential backoff with full jitter, which starts
  afresh only after a connection that stayed up `stable_after_s` (a venue that
  sends a snapshot and hangs up at once does not get a tight loop);
- state is untrusted from the moment a connection is lost until the next
  snapshot, and `health()` says so (live / stale / reconnecting / stopped).

A 401/403/404, or a private stream ending with a non-retryable error (revoked
key), stops the stream instead of looping: that needs an operator.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import httpx
from httpx_sse import SSEError, aconnect_sse

from desk.domain.errors import (
    AuthError,
    ForbiddenError,
    NotFoundError,
    TransportError,
    VenueCallError,
)
from desk.domain.records import FeedState, Health
from desk.ocx.config import ClientConfig
from desk.ocx.errors import error_from_response
from desk.ocx.pacing import full_jitter
from desk.ocx.state import AccountState, BadMessage, Gap, IndexState, LocalBook, StreamRefused


class StreamStoppedError(TransportError, RuntimeError):
    """A stream the venue refused for good before it was ever live."""


class StreamNotLiveError(TransportError, TimeoutError):
    """A stream that did not become live in time (the venue unreachable, or sending
    what is not the contract's); `last_error` says what the last attempt ran into."""


log = logging.getLogger("desk.ocx.streams")

FATAL = (AuthError, ForbiddenError, NotFoundError, StreamRefused)


class Folder(Protocol):
    trusted: bool

    def untrust(self) -> None: ...

    def fold(self, event: str, data: str, first: bool) -> None: ...


class SseStream:
    """One stream: connect, fold, detect trouble, reconnect. Start with `start()`.

    `numbered`: the contract numbers this stream's messages with consecutive SSE
    `id:`s (the public streams). Private streams are numbered by `eventSeq`
    inside the envelope, which their folder checks; their `id:` is not relied on.
    """

    numbered = True

    def __init__(self, name: str, http: httpx.AsyncClient, path: str,
                 params: dict[str, Any], folder: Folder, config: ClientConfig, *,
                 auth: httpx.Auth | None = None,
                 stale_after_s: float | None = None,
                 monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 rng: random.Random | None = None):
        self.name = name
        self.http = http
        self.path = path
        self.params = params
        self.folder = folder
        self.config = config
        self.auth = auth
        # the read timeout is the heartbeat timeout: no bytes that long, the link is dead
        self.timeout = httpx.Timeout(connect=config.connect_timeout_s,
                                     read=config.heartbeat_timeout_s,
                                     write=config.write_timeout_s, pool=config.pool_timeout_s)
        self.stale_after_s = stale_after_s
        self.monotonic = monotonic
        self.sleep = sleep
        # OS-seeded unless given: jitter exists to de-correlate clients (tests pass a seed)
        self.rng = rng or random.Random()
        self.connects = 0
        self.reconnects = 0
        self.gaps = 0
        self.bad_messages = 0
        self.messages = 0
        self.last_error: str | None = None
        self.last_event_at: float | None = None
        self.stopped = False
        self.refused: str | None = None  # stopped because the venue refused the credential
        self._snapshotted = False
        self._snapshot_at = 0.0
        self.snapshots = asyncio.Event()  # set at each fresh snapshot, for waiters
        self.listeners: list[Callable[[], None]] = []  # told after each folded message
        self._task: asyncio.Task | None = None

    # --- lifecycle ------------------------------------------------------------------

    def start(self) -> SseStream:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self.run(),
                                                                name=f"stream:{self.name}")
        return self

    def restart(self) -> None:
        """Connect again after the venue refused the credential for good (it has been
        replaced in place: `OcxClient.use_key`)."""
        if self.stopped and self.refused and (self._task is None or self._task.done()):
            self.stopped, self.refused, self._task = False, None, None
            self.start()

    async def stop(self) -> None:
        self.stopped = True
        self.folder.untrust()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def wait_live(self, timeout: float = 5.0) -> None:
        """Until the state is trusted (a snapshot has been applied); StreamNotLiveError
        after `timeout` s."""
        try:
            await self._wait_live(timeout)
        except TimeoutError:
            if self.folder.trusted:
                return
            raise StreamNotLiveError(
                f"{self.name} not live within {timeout:g} s"
                + (f" ({self.last_error})" if self.last_error else ""), "timeout") from None

    async def _wait_live(self, timeout: float) -> None:
        async with asyncio.timeout(timeout):
            while True:
                self.snapshots.clear()
                if self.folder.trusted:
                    return
                if self.stopped:
                    # refused for good (a revoked or expired key, a forbidden scope): a
                    # venue error the caller can report, not a crash
                    raise StreamStoppedError(f"{self.name} stopped: {self.last_error}",
                                             "stopped")
                await self.snapshots.wait()

    def health(self) -> Health:
        now = self.monotonic()
        age = None if self.last_event_at is None else now - self.last_event_at
        if self.stopped:
            state = FeedState.STOPPED
        elif not self.folder.trusted:
            state = FeedState.RECONNECTING
        elif self.stale_after_s is not None and age is not None and age > self.stale_after_s:
            state = FeedState.STALE
        else:
            state = FeedState.LIVE
        return Health(self.name, state, age, self.reconnects, self.gaps, self.bad_messages,
                      self.last_error, self.refused)

    # --- the loop -------------------------------------------------------------------

    async def run(self) -> None:
        attempt = 0
        while not self.stopped:
            self._snapshotted = False
            try:
                await self._connection()
                self.last_error = "the venue ended the stream"
            except FATAL as exc:
                self._lost(f"{type(exc).__name__}: {exc}")
                if isinstance(exc, AuthError | ForbiddenError | StreamRefused):
                    self.refused = str(exc)
                self.stopped = True
                self.folder.untrust()  # what it last said is no longer vouched for
                log.error("%s: stopped for good: %s", self.name, self.last_error)
                self.snapshots.set()
                return
            except Gap as exc:
                self.gaps += 1
                self._lost(f"gap: {exc}")
            except BadMessage as exc:
                self.bad_messages += 1
                self._lost(f"bad message: {exc}")
            except httpx.ReadTimeout:
                self._lost(f"no bytes for {self.config.heartbeat_timeout_s:g} s")
            except (httpx.HTTPError, SSEError, VenueCallError) as exc:  # incl. 5xx: try again
                self._lost(f"{type(exc).__name__}: {exc}")
            except Exception as exc:  # a bug must not end the stream silently
                log.exception("%s: unexpected failure", self.name)
                self._lost(f"{type(exc).__name__}: {exc}")
            self.folder.untrust()
            if (self._snapshotted and self.monotonic() - self._snapshot_at
                    >= self.config.stable_after_s):
                attempt = 0  # that connection worked for a while: start the backoff afresh
            attempt += 1
            self.reconnects += 1
            await self.sleep(full_jitter(attempt, self.config.reconnect_base_s,
                                         self.config.reconnect_cap_s, self.rng))

    def _lost(self, why: str) -> None:
        self.last_error = why
        log.warning("%s: reconnecting (%s)", self.name, why)

    async def _connection(self) -> None:
        """One connection, until it ends or fails; `_snapshotted` says if it got that far."""
        self.connects += 1
        async with aconnect_sse(self.http, "GET", self.path, params=self.params,
                                auth=self.auth or httpx.USE_CLIENT_DEFAULT,
                                timeout=self.timeout) as source:
            response = source.response
            if response.status_code != 200:
                await response.aread()
                raise error_from_response(response, f"GET {self.path}")
            last_id: int | None = None
            first = True
            async for sse in source.aiter_sse():
                if not sse.data:  # a heartbeat comment (httpx-sse repeats the last id)
                    continue
                if self.numbered:
                    seq = _sse_id(sse.id, self.name)
                    if last_id is not None and seq != last_id + 1:
                        raise Gap(f"id {seq} after {last_id}")
                    last_id = seq
                try:
                    self.folder.fold(sse.event, sse.data, first)
                except BadMessage as exc:
                    log.warning("%s: bad message (event %r, id %r): %s; data starts %r",
                                self.name, sse.event, sse.id, exc, sse.data[:120])
                    raise
                first = False
                self.messages += 1
                self.last_event_at = self.monotonic()
                for listener in self.listeners:
                    try:
                        listener()
                    except Exception:  # a listener's bug is not the stream's trouble
                        log.exception("%s: a listener failed", self.name)
                if not self._snapshotted:
                    self._snapshotted = True
                    self._snapshot_at = self.last_event_at
                    self.last_error = None
                    self.snapshots.set()


def _sse_id(raw: str | None, name: str) -> int:
    try:
        return int(raw or "")
    except ValueError:
        raise BadMessage(f"{name}: SSE id {raw!r} is not a sequence number") from None


# --- the four streams of the contract -------------------------------------------------

class BookStream(SseStream):
    def __init__(self, http: httpx.AsyncClient, market_id: str, config: ClientConfig,
                 **kw: Any):
        self.book = LocalBook(market_id)
        super().__init__(f"book:{market_id}", http, "/perps/book-stream",
                         {"marketId": market_id, "depth": config.book_depth,
                          "intervalMs": config.book_interval_ms}, self.book, config, **kw)


class IndexStream(SseStream):
    """The embedded venue's reference price. Stale when no price came for `stale_after_s`."""

    def __init__(self, http: httpx.AsyncClient, market_id: str, config: ClientConfig,
                 interval_ms: int = 100, **kw: Any):
        self.index = IndexState(market_id)
        kw.setdefault("stale_after_s", config.stale_after_s)
        super().__init__(f"index:{market_id}", http, "/perps/index-stream",
                         {"marketId": market_id, "intervalMs": interval_ms}, self.index,
                         config, **kw)


class UserStream(SseStream):
    """All of the account, every market, on one connection (needs the key)."""

    numbered = False

    def __init__(self, http: httpx.AsyncClient, config: ClientConfig, auth: httpx.Auth,
                 **kw: Any):
        self.account = AccountState()
        super().__init__("user", http, "/perps/stream/user",
                         {"intervalMs": config.user_interval_ms}, self.account, config,
                         auth=auth, **kw)


class MarketEventsStream(SseStream):
    """One market's orders, positions and book on one private connection."""

    numbered = False

    def __init__(self, http: httpx.AsyncClient, market_id: str, config: ClientConfig,
                 auth: httpx.Auth, **kw: Any):
        self.account = AccountState(market_id)
        super().__init__(f"events:{market_id}", http, "/perps/stream/events",
                         {"marketId": market_id}, self.account, config, auth=auth, **kw)
