"""The dead-man switch: no quote outlives the desk's ability to stand behind it.

It trips on any of:
- the reference feed of a market with a running strategy older than that
  strategy's `stale_feed_ms` (or not live at all);
- the fill stream not live (silent past its heartbeat timeout, reconnecting,
  or stopped): without it inventory is unknown;
- `max_order_errors` consecutive order-path transport errors;
- an auth or scope refusal (401/403: revoked, expired or IP-fenced key) on any
  order-path call: at once, since nothing the engine's key sends will land;
- a signal (`trip("SIGTERM")` from the runner).

Tripping fires an unscoped `cancel-all` first (retried until the venue
confirms it), then holds every strategy down. When the venue refuses the
engine's key, the cancel-all goes through each fallback credential desk holds
(`Puller`s: the kill switch's key, the watchdog's, a session) until one is
confirmed and its read-back shows nothing resting. It re-arms only when every
watched feed is fresh, every stream is live again (re-snapshotted), the
engine's key is accepted again, and the account's open orders, read back from
the venue, are none; then the running strategies quote again.

The switch is event-driven: it sleeps until the moment the first watched feed
would turn stale, and is woken at once (`poke`) by a refusal or an order-error
count reaching its limit; `guard_interval_s` only bounds how long it sleeps
when nothing is due (stream health, which nothing announces).
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
from desk.engine.expiry import KeyExpiry
from desk.engine.ports import Clock, Puller, Venue

log = logging.getLogger(__name__)
FILL_STREAM = "user"  # the name of the fill stream's Health (see Venue.health)

# (market_id, stale_feed_ms) of every market a running strategy quotes
Watched = Callable[[], Iterable[tuple[str, int]]]
# waits for quoting cycles in flight; True if there were any
Drain = Callable[[], Awaitable[bool]]
# brings the strategies' inventory in line with the account before quoting resumes
Reconcile = Callable[[], Awaitable[None]]
REFUSALS = (venue_errors.AuthError, venue_errors.ForbiddenError)
REFUSED_PROBE_S = 10.0  # how often a refused engine key is tried again (one cancel-all)
VERIFY_ROUNDS = 3       # read-backs (and cancels) of a fallback credential's pull


def is_refusal(exc: BaseException) -> bool:
    """An auth or scope refusal: the credential is dead for this call, asking again
    will not help."""
    return isinstance(exc, REFUSALS)


class Guard:
    def __init__(self, venue: Venue, clock: Clock, bus: EventBus, config: EngineConfig,
                 watched: Watched, drain: Drain | None = None,
                 reconcile: Reconcile | None = None, pullers: Iterable[Puller] = ()):
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
        self.pullers = list(pullers)       # other credentials' cancel-all, in order
        self.key_label = "the engine's key"
        self.expiry = KeyExpiry()          # when the engine's key stops working, if known
        self.refused: str | None = None    # the venue's refusal of the engine's key
        self.pulled_by: str | None = None  # the credential of the last confirmed pull
        self.tripped_at: float | None = None  # wall time of the trip
        self.on_change: list[Callable[[bool], None]] = []
        self._task: asyncio.Task | None = None
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._tripping: asyncio.Task | None = None  # a trip started by `_trip_now`
        self._probe_at = 0.0

    # --- the Gate a strategy sees -------------------------------------------------------

    @property
    def quoting_allowed(self) -> bool:
        return self.tripped is None

    def order_ok(self) -> None:
        self.order_errors = 0

    def order_error(self) -> None:
        self.order_errors += 1
        if self.order_errors >= self.config.max_order_errors:
            self._trip_now()

    def refuse(self, exc: venue_errors.VenueReject) -> None:
        """The venue refused the engine's key on the order path: trip at once."""
        self.refused = f"{exc.code}: {exc.message}"[:200]
        self._trip_now()

    def _trip_now(self) -> None:
        """Trip from the caller's turn of the loop: the trip's task is the next to run
        (rather than the switch's own loop, a few turns away on a busy desk)."""
        if self.tripped is not None or self._task is None or self._tripping is not None:
            self.poke()
            return
        problem = self.problem()
        if problem is None:
            return
        self._tripping = asyncio.get_running_loop().create_task(self.trip(problem),
                                                                name="guard-trip")
        self._tripping.add_done_callback(self._tripped_now)

    def _tripped_now(self, task: asyncio.Task) -> None:
        self._tripping = None
        if not task.cancelled() and task.exception() is not None:
            log.error("dead-man trip failed: %r", task.exception())
        self.poke()

    def key_replaced(self, label: str | None = None, expires_at: float | None = None) -> None:
        """The engine trades with another key now: its refusal no longer holds."""
        if label is not None:
            self.key_label = label
        self.expiry.reset(expires_at)
        self.refused = None
        self._probe_at = 0.0
        self.poke()

    def poke(self) -> None:
        """Check now rather than at the next deadline."""
        self._wake.set()

    # --- checks -------------------------------------------------------------------------

    def stale_feeds(self) -> list[tuple[str, str]]:
        """The watched reference feeds quoting cannot trust: (market, why)."""
        out = []
        for market_id, stale_ms in self.watched():
            feed = self.venue.reference(market_id)
            state = feed.health().state
            if state is not FeedState.LIVE:
                out.append((market_id, f"reference feed {market_id} is {state}"))
                continue
            age_s = feed.price_age_s()
            if age_s is None or age_s * 1000 > stale_ms:
                age = "no price" if age_s is None else f"{age_s * 1000:.0f} ms old"
                out.append((market_id, f"reference feed {market_id} is stale ({age}, "
                                       f"limit {stale_ms} ms)"))
        return out

    def problem(self) -> str | None:
        """Why quoting is unsafe right now, or None."""
        if self.refused is not None:
            return f"{self.key_label} was refused: {self.refused}"
        if (expiring := self.expiry.due(self.clock.time())) is not None:
            return f"{self.key_label} {expiring}"
        stale = self.stale_feeds()
        if stale:
            return stale[0][1]
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
        """Unscoped cancel-all, retried until the venue confirms it; through the fallback
        credentials, in turn, once the venue refuses the engine's key."""
        if self.refused is None:
            try:
                cancelled = await self._retried(self.venue.cancel_all, self.key_label)
                self.pulled_by = self.key_label
                return cancelled
            except venue_errors.VenueReject as exc:
                if not is_refusal(exc):
                    raise
                self.refuse(exc)
        error: venue_errors.VenueCallError = venue_errors.AuthError(
            "NO_FALLBACK", f"{self.key_label} was refused and desk holds no other "
            "credential that may cancel", 401)
        for puller in self.pullers:
            try:
                cancelled = await self._confirmed(puller)
            except venue_errors.VenueCallError as exc:
                log.warning("dead-man cancel-all through %s failed: %s", puller.name, exc)
                error = exc
                continue
            self.pulled_by = puller.name
            return cancelled
        raise error

    async def _retried(self, cancel_all: Callable[[], Awaitable[list[str]]],
                       name: str) -> list[str]:
        attempts = self.config.pull_attempts
        for attempt in range(1, attempts + 1):
            try:
                return await cancel_all()
            except venue_errors.VenueCallError as exc:
                log.warning("dead-man cancel-all through %s failed (attempt %d/%d): %s",
                            name, attempt, attempts, exc)
                if attempt == attempts or is_refusal(exc):
                    raise
                await self.clock.sleep(min(0.05 * 2 ** attempt, 1.0))
        return []

    async def _confirmed(self, puller: Puller) -> list[str]:
        """A fallback's cancel-all, then its read-back until nothing rests."""
        cancelled = await self._retried(puller.cancel_all, puller.name)
        for _ in range(VERIFY_ROUNDS):
            if await puller.resting() == 0:
                return cancelled
            cancelled += await self._retried(puller.cancel_all, puller.name)
        raise venue_errors.TransportError(f"orders still rest after {puller.name}'s "
                                          "cancel-all", "bad_response")

    async def trip(self, reason: str, hold: bool = False) -> None:
        """Pull everything and stand the desk down. `hold`: stay down until `release()`.
        The cancel-all leaves first; the trip is announced while it is in flight."""
        self.held = self.held or hold
        async with self._lock:
            first = self.tripped is None
            self.tripped = reason
            pull = asyncio.ensure_future(self._pull())
            await asyncio.sleep(0)  # the request is written before anything else runs
            if first:
                self.trips += 1
                self.tripped_at = self.clock.time()
                for cb in self.on_change:
                    cb(False)
                self.bus.publish(EventType.CIRCUIT_BREAKER, None, reason=f"dead-man: {reason}",
                                 scope="desk")
            cancelled = await pull
            # a cycle that was already sending may land after that cancel: wait, pull again
            if self.drain is not None and await self.drain():
                cancelled += await self._pull()
            if first and self.pulled and cancelled:  # (a panic's switch pulled them first)
                self.bus.publish(EventType.QUOTE_CANCELLED, None, count=len(cancelled),
                                 by=self.pulled_by, reason=f"dead-man: {reason}", scope="desk")

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

    async def _probe_refused_key(self) -> None:
        """Now and then, one cancel-all with the refused engine key: accepted again (a
        fence lifted), the refusal no longer holds."""
        now = self.clock.monotonic()
        if now < self._probe_at:
            return
        self._probe_at = now + REFUSED_PROBE_S
        try:
            await self.venue.cancel_all()
        except venue_errors.VenueCallError as exc:
            if is_refusal(exc):
                self.refused = f"{exc.code}: {getattr(exc, 'message', exc)}"[:200]
            return
        self.refused = None

    async def check(self) -> None:
        """One pass: trip on a problem, or re-arm once healthy and reconciled."""
        if self._tripping is not None:
            return  # a trip is under way; the next pass follows it
        for warning in self.expiry.warnings(self.clock.time()):
            self.bus.publish(EventType.ERROR, None, Severity.WARNING, code="KEY_EXPIRING",
                             message=f"{self.key_label} {warning}")
        if self.refused is None:  # a stream the venue refused the engine's key
            self.refused = next((f"{h.refused} (stream {h.name})" for h in
                                 self.venue.health() if h.refused), None)
        if self.refused is not None and self.tripped is not None and self.pulled:
            async with self._lock:
                await self._probe_refused_key()
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
            await self._pause(self._next_due_s())

    def _next_due_s(self) -> float:
        """Until the first watched feed would turn stale (never more than the period)."""
        due = self.config.guard_interval_s
        if self.tripped is not None or self._tripping is not None:
            return due
        for market_id, stale_ms in self.watched():
            try:
                age_s = self.venue.reference(market_id).price_age_s()
            except KeyError:
                continue
            if age_s is not None:
                due = min(due, stale_ms / 1000 - age_s + 0.0005)  # just past it
        # a feed already past its limit while the switch is up (a trip under way, or
        # just started) is polled at the period, never spun on
        return due if due > 0 else self.config.guard_interval_s

    async def _pause(self, seconds: float) -> None:
        """Sleep `seconds`, or less when poked."""
        if self._wake.is_set():
            self._wake.clear()
            return
        sleep = asyncio.ensure_future(self.clock.sleep(seconds))
        woken = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait((sleep, woken), return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleep.cancel()
            woken.cancel()
        self._wake.clear()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self.run(), name="guard")

    async def stop(self) -> None:
        if self._tripping is not None:  # let a trip under way send its cancel-all
            with contextlib.suppress(Exception):
                await asyncio.shield(self._tripping)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
