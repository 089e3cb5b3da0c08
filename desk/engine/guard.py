"""The dead-man switch: no quote outlives the desk's ability to stand behind it.

It trips on any of:
- the reference feed of a market with a running strategy older than that
  strategy's `stale_feed_ms` (or not live at all);
- the fill stream not live (silent past its heartbeat timeout, reconnecting,
  or stopped): without it inventory is unknown;
- `max_order_errors` consecutive order-path transport errors;
- a signal (`trip("SIGTERM")` from the runner).

Tripping fires an unscoped `cancel-all` first (retried until the venue
confirms it), then holds every strategy down. It re-arms only when every
watched feed is fresh, every stream is live again (re-snapshotted), and the
account's open orders, read back from the venue, are none; then the running
strategies quote again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable

from desk.domain import errors as venue_errors
from desk.domain.records import FeedState
from desk.engine.config import EngineConfig
from desk.engine.events import EventBus, EventType, Severity
from desk.engine.ports import Clock, Venue

log = logging.getLogger(__name__)
FILL_STREAM = "user"  # the name of the fill stream's Health (see Venue.health)

# (market_id, stale_feed_ms) of every market a running strategy quotes
Watched = Callable[[], Iterable[tuple[str, int]]]
# waits for quoting cycles in flight; True if there were any
Drain = Callable[[], Awaitable[bool]]
# brings the strategies' inventory in line with the account before quoting resumes
Reconcile = Callable[[], Awaitable[None]]


class Guard:
    def __init__(self, venue: Venue, clock: Clock, bus: EventBus, config: EngineConfig,
                 watched: Watched, drain: Drain | None = None,
                 reconcile: Reconcile | None = None):
        self.venue = venue
        self.clock = clock
        self.bus = bus
        self.config = config
        self.watched = watched
        self.drain = drain
        self.reconcile = reconcile
        self.fill_reconnects: int | None = None  # of the fill stream, when last trusted
        self.pulled = True                # the last cancel-all went through
        self.tripped: str | None = None   # the reason, while tripped
        self.held = False                 # held down by hand (signal, panic): no re-arm
        self.order_errors = 0
        self.trips = 0
        self.on_change: list[Callable[[bool], None]] = []
        self._task: asyncio.Task | None = None
        self._lock = asyncio.Lock()

    # --- the Gate a strategy sees -------------------------------------------------------

    @property
    def quoting_allowed(self) -> bool:
        return self.tripped is None

    def order_ok(self) -> None:
        self.order_errors = 0

    def order_error(self) -> None:
        self.order_errors += 1

    # --- checks -------------------------------------------------------------------------

    def problem(self) -> str | None:
        """Why quoting is unsafe right now, or None."""
        for market_id, stale_ms in self.watched():
            feed = self.venue.reference(market_id)
            state = feed.health().state
            if state is not FeedState.LIVE:
                return f"reference feed {market_id} is {state}"
            age_s = feed.price_age_s()
            if age_s is None or age_s * 1000 > stale_ms:
                age = "no price" if age_s is None else f"{age_s * 1000:.0f} ms old"
                return f"reference feed {market_id} is stale ({age}, limit {stale_ms} ms)"
        if not self.venue.account().trusted:
            return "fill stream is not live (reconnecting)"
        for h in self.venue.health():
            if h.state not in (FeedState.LIVE, FeedState.STALE) and (
                    h.name == FILL_STREAM or h.name.startswith("book:")):
                return f"stream {h.name} is {h.state}"
            if h.name == FILL_STREAM and h.state is FeedState.STALE:
                return "fill stream is silent"
        if self.order_errors >= self.config.max_order_errors:
            return f"{self.order_errors} consecutive order-path errors"
        return None

    def _fill_stream_reconnected(self) -> bool:
        now = next((h.reconnects for h in self.venue.health() if h.name == FILL_STREAM), None)
        if self.fill_reconnects is None:
            self.fill_reconnects = now
            return False
        return now != self.fill_reconnects

    # --- actions ------------------------------------------------------------------------

    async def cancel_everything(self) -> list[str]:
        """Unscoped cancel-all, retried until the venue confirms it."""
        attempts = self.config.pull_attempts
        for attempt in range(1, attempts + 1):
            try:
                return await self.venue.cancel_all()
            except venue_errors.VenueCallError as exc:
                log.warning("dead-man cancel-all failed (attempt %d/%d): %s", attempt,
                            attempts, exc)
                if attempt == attempts:
                    raise
                await self.clock.sleep(min(0.05 * 2 ** attempt, 1.0))
        return []

    async def trip(self, reason: str, hold: bool = False) -> None:
        """Pull everything and stand the desk down. `hold`: stay down until `release()`."""
        self.held = self.held or hold
        async with self._lock:
            first = self.tripped is None
            self.tripped = reason
            if first:
                self.trips += 1
                for cb in self.on_change:
                    cb(False)
            cancelled = await self._pull()
            # a cycle that was already sending may land after that cancel: wait, pull again
            if self.drain is not None and await self.drain():
                cancelled += await self._pull()
            if first:
                self.bus.publish(EventType.CIRCUIT_BREAKER, None, reason=f"dead-man: {reason}",
                                 scope="desk", cancelled=len(cancelled))

    async def _pull(self) -> list[str]:
        try:
            cancelled = await self.cancel_everything()
        except venue_errors.VenueCallError as exc:
            self.pulled = False
            self.bus.publish(EventType.ERROR, None, Severity.ERROR, code="CANCEL_ALL_FAILED",
                             message=f"dead-man cancel-all failed: {exc}"[:300])
            return []
        self.pulled = True
        # the order path answers again: only new errors count (also when this pull is a
        # retry from `check`, or the old count would hold the desk down for good)
        self.order_errors = 0
        return cancelled

    def release(self) -> None:
        """Let the switch re-arm by itself once everything is healthy again."""
        self.held = False

    async def check(self) -> None:
        """One pass: trip on a problem, or re-arm once healthy and reconciled."""
        problem = self.problem()
        if problem is None and self.tripped is None and self._fill_stream_reconnected():
            # however short the outage, fills may have gone unseen: reconcile first
            problem = "fill stream reconnected: inventory to reconcile"
        if problem is not None:
            if self.tripped is None:
                await self.trip(problem)
            else:
                self.tripped = problem
                if not self.pulled:  # the venue did not confirm the cancel: keep trying
                    async with self._lock:
                        await self._pull()
            return
        if self.tripped is None or self.held:
            return
        if not self.pulled:
            async with self._lock:
                await self._pull()
        async with self._lock:
            try:
                resting = await self.venue.open_orders()
                if resting:  # something slipped through: pull again, re-arm next pass
                    await self.cancel_everything()
                    return
                if self.reconcile is not None:
                    await self.reconcile()
            except venue_errors.VenueCallError as exc:
                log.warning("dead-man reconcile failed: %s", exc)
                return
            self.fill_reconnects = next((h.reconnects for h in self.venue.health()
                                         if h.name == FILL_STREAM), None)
            reason, self.tripped = self.tripped, None
            self.order_errors = 0
        self.bus.publish(EventType.RESUMED, None, reason=f"dead-man re-armed after: {reason}",
                         scope="desk")
        for cb in self.on_change:
            cb(True)

    async def run(self) -> None:
        while True:
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("dead-man check failed")
            await self.clock.sleep(self.config.guard_interval_s)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self.run(), name="guard")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
