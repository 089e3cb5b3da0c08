"""The dead-man switch against a scripted venue: a trip whose cancel-all the venue could
not confirm keeps retrying from `check`, and once a retry goes through the switch re-arms
(the order-path error count that tripped it no longer holds the desk down)."""

from __future__ import annotations

from dataclasses import dataclass, field

from desk.domain.errors import TransportError
from desk.domain.records import FeedState, Health
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
