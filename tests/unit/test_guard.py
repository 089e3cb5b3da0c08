"""The dead-man switch against a scripted venue: a trip whose cancel-all the venue could
not confirm keeps retrying from `check`, and once a retry goes through the switch re-arms
(the order-path error count that tripped it no longer holds the desk down)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from desk.domain.errors import AuthError, ForbiddenError, TransportError
from desk.domain.records import FeedState, Health
from desk.engine.clock import SystemClock
from desk.engine.config import EngineConfig
from desk.engine.events import EventBus, EventType
from desk.engine.guard import FILL_STREAM, Guard
from tests.helpers import StepClock


@dataclass
class Feed:
    def health(self) -> Health:
        return Health("index:BTC-PERP", FeedState.LIVE, 0.01)

    def price_age_s(self) -> float:
        return 0.01


@dataclass
class Account:
    trusted: bool = True


@dataclass
class Venue:
    """Healthy streams; `cancel_all` fails while `broken` is set."""
    broken: bool = False
    cancel_calls: int = 0
    resting: list[str] = field(default_factory=list)

    def reference(self, market_id: str) -> Feed:
        return Feed()

    def account(self) -> Account:
        return Account()

    def health(self) -> list[Health]:
        return [Health(FILL_STREAM, FeedState.LIVE, 0.01)]

    async def cancel_all(self) -> list[str]:
        self.cancel_calls += 1
        if self.broken:
            raise TransportError("POST /perps/orders/cancel-all: a 200 with a body that "
                                 "is not the contract's", "bad_response", 200)
        gone, self.resting = self.resting, []
        return gone

    async def open_orders(self) -> list[str]:
        return list(self.resting)


def make(venue: Venue) -> tuple[Guard, EventBus]:
    clock = StepClock()
    bus = EventBus(lambda: int(clock.t * 1000))
    guard = Guard(venue, clock, bus, EngineConfig(), watched=lambda: [("BTC-PERP", 5_000)])
    return guard, bus



async def test_order_errors_trip_and_a_confirmed_retry_re_arms():
    venue = Venue(broken=True, resting=["a", "b"])
    guard, bus = make(venue)
    seen: list = []
    bus.subscribe(seen.append)
    for _ in range(guard.config.max_order_errors):
        guard.order_error()
    await guard.check()                       # trips; every cancel-all attempt fails
    assert guard.tripped == f"{guard.config.max_order_errors} consecutive order-path errors"
    assert not guard.pulled and venue.cancel_calls == guard.config.pull_attempts
    await guard.check()                       # still broken: tries again, stays down
    assert guard.tripped and not guard.pulled
    assert venue.cancel_calls == guard.config.pull_attempts * 2
    venue.broken = False
    await guard.check()                       # the retry goes through...
    assert guard.pulled and venue.resting == []
    await guard.check()                       # ...and nothing else is wrong: re-armed
    assert guard.tripped is None and guard.quoting_allowed and guard.order_errors == 0
    types = [e.type for e in seen]
    assert types.count(EventType.CIRCUIT_BREAKER) == 1 and types[-1] is EventType.RESUMED
    assert "5 consecutive order-path errors" in seen[-1].data["reason"]


async def test_new_errors_after_a_confirmed_pull_count_from_zero():
    venue = Venue(resting=["a"])
    guard, _ = make(venue)
    for _ in range(guard.config.max_order_errors):
        guard.order_error()
    await guard.check()
    assert guard.tripped and guard.pulled and guard.order_errors == 0
    guard.order_error()
    await guard.check()                       # one new error is not a reason to stay down
    assert guard.tripped is None


# --- a refused key: trip at once, pull through the other credentials ----------------

KEY_REVOKED = AuthError("KEY_REVOKED", "the API key was revoked", 409)


@dataclass
class Book:
    """The account's resting orders, shared by every credential."""
    resting: list[str] = field(default_factory=list)


@dataclass
class RefusingVenue(Venue):
    """The engine's key: refused once `dead` is set."""
    book: Book = field(default_factory=Book)
    dead: bool = False

    async def cancel_all(self) -> list[str]:
        self.cancel_calls += 1
        if self.dead:
            raise KEY_REVOKED
        gone, self.book.resting = self.book.resting, []
        return gone

    async def open_orders(self) -> list[str]:
        if self.dead:
            raise KEY_REVOKED
        return list(self.book.resting)


@dataclass
class Other:
    """Another credential (the kill switch's key): refused when `dead`."""
    name: str
    book: Book
    dead: bool = False
    calls: int = 0

    async def cancel_all(self) -> list[str]:
        self.calls += 1
        if self.dead:
            raise ForbiddenError("IP_NOT_ALLOWED", "not from this address", 403)
        gone, self.book.resting = self.book.resting, []
        return gone

    async def resting(self) -> int:
        return len(self.book.resting)


def make_refusing(*others: Other, book: Book) -> tuple[Guard, EventBus, RefusingVenue]:
    venue = RefusingVenue(book=book)
    clock = StepClock()
    bus = EventBus(lambda: int(clock.t * 1000))
    guard = Guard(venue, clock, bus, EngineConfig(), watched=lambda: [("BTC-PERP", 5_000)],
                  pullers=others)
    guard.key_label = "the engine's key desk-engine"
    return guard, bus, venue


async def test_a_refused_key_trips_at_once_and_the_next_credential_pulls():
    book = Book(["a", "b", "c"])
    dead_kill = Other("the kill switch's key", book, dead=True)
    dog = Other("the watchdog's key", book)
    guard, bus, venue = make_refusing(dead_kill, dog, book=book)
    seen: list = []
    bus.subscribe(seen.append)
    venue.dead = True
    guard.refuse(KEY_REVOKED)                 # one refusal on the order path is enough
    await guard.check()
    assert guard.tripped == ("the engine's key desk-engine was refused: KEY_REVOKED: "
                             "the API key was revoked")
    assert book.resting == [] and guard.pulled
    assert guard.pulled_by == "the watchdog's key"
    assert dead_kill.calls == 1               # refused: not retried, the next one is tried
    assert venue.cancel_calls == 0            # the refused key is not asked again at once
    types = [e.type for e in seen]
    assert types == [EventType.CIRCUIT_BREAKER, EventType.QUOTE_CANCELLED]
    assert seen[1].data["count"] == 3 and seen[1].data["by"] == "the watchdog's key"


async def test_with_every_credential_refused_the_switch_stays_down_and_keeps_trying():
    book = Book(["a"])
    kill = Other("the kill switch's key", book, dead=True)
    guard, bus, venue = make_refusing(kill, book=book)
    seen: list = []
    bus.subscribe(seen.append)
    venue.dead = True
    guard.refuse(KEY_REVOKED)
    await guard.check()
    assert guard.tripped and not guard.pulled and book.resting == ["a"]
    assert [e.data.get("code") for e in seen if e.type is EventType.ERROR] == \
        ["CANCEL_ALL_FAILED"]
    kill.dead = False                          # the fence on the kill switch's key is lifted
    await guard.check()
    assert guard.pulled and book.resting == [] and guard.pulled_by == kill.name
    await guard.check()                        # the engine's key is still refused: down
    assert guard.tripped is not None and not guard.quoting_allowed


async def test_a_refused_key_accepted_again_re_arms_and_a_replaced_key_clears_it():
    book = Book(["a"])
    guard, _, venue = make_refusing(Other("the kill switch's key", book), book=book)
    venue.dead = True
    guard.refuse(KEY_REVOKED)
    await guard.check()
    assert guard.tripped and guard.pulled
    await guard.check()                        # probed: still refused
    assert guard.refused is not None and guard.tripped
    venue.dead = False                         # e.g. the key's allowedIps put right
    guard.clock.t += 11                        # past the probe interval
    await guard.check()                        # the probe's cancel-all is accepted
    assert guard.refused is None
    await guard.check()
    assert guard.tripped is None and guard.quoting_allowed
    # refused again; then the operator moves the engine to another key
    guard.refuse(KEY_REVOKED)
    await guard.check()
    assert guard.tripped
    guard.key_replaced()
    await guard.check()
    assert guard.tripped is None


async def test_the_trip_is_announced_before_its_cancel_all_is_answered():
    """The circuit_breaker event is published at the trip, while the cancel-all is in
    flight, not after the venue answered it."""
    book = Book(["a"])
    guard, bus, venue = make_refusing(book=book)
    answer = asyncio.Event()
    order: list[str] = []
    bus.subscribe(lambda e: order.append(e.type.value))

    async def slow_cancel_all() -> list[str]:
        order.append("cancel-all sent")
        await answer.wait()
        order.append("cancel-all answered")
        return ["a"]

    venue.cancel_all = slow_cancel_all  # type: ignore[method-assign]
    trip = asyncio.ensure_future(guard.trip("reference feed BTC-PERP is stale"))
    for _ in range(5):
        await asyncio.sleep(0)
    assert order == ["cancel-all sent", "circuit_breaker"]
    answer.set()
    await trip
    assert order[-2:] == ["cancel-all answered", "quote_cancelled"]


async def test_the_switch_wakes_when_a_feed_turns_stale_not_at_the_next_poll():
    """Event-driven: a real loop, a feed that stops at t0 with a 30 ms limit and a 5 s
    poll period: the trip comes within a few ms of the limit."""
    import time

    class Frozen:
        def __init__(self) -> None:
            self.last = time.monotonic()

        def health(self) -> Health:
            return Health("index:BTC-PERP", FeedState.LIVE, 0.01)

        def price_age_s(self) -> float:
            return time.monotonic() - self.last

    feed = Frozen()
    venue = Venue(resting=["a"])
    venue.reference = lambda market_id: feed  # type: ignore[method-assign]
    sent: list[float] = []
    plain = venue.cancel_all

    async def cancel_all() -> list[str]:
        sent.append(time.monotonic())
        return await plain()

    venue.cancel_all = cancel_all  # type: ignore[method-assign]
    bus = EventBus(lambda: 0)
    config = EngineConfig(guard_interval_s=5)
    guard = Guard(venue, SystemClock(), bus, config, watched=lambda: [("BTC-PERP", 30)])
    guard.start()
    try:
        for _ in range(200):
            if sent:
                break
            await asyncio.sleep(0.005)
    finally:
        await guard.stop()
    assert sent, "the switch never tripped"
    late_ms = (sent[0] - feed.last) * 1000 - 30
    assert 0 <= late_ms < 500, late_ms  # at the deadline, not 5 s later at the poll


async def test_order_errors_reaching_the_limit_wake_the_switch():
    venue = Venue(resting=["a"])
    guard, _ = make(venue)
    assert not guard._wake.is_set()
    for _ in range(guard.config.max_order_errors - 1):
        guard.order_error()
    assert not guard._wake.is_set()
    guard.order_error()
    assert guard._wake.is_set()
