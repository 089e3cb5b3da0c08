"""On exit the manager waits (up to 2 s) for the fill stream to show every order closed
after its cancel-all, so the fills from before the cancel are booked and journaled; it
does not wait for a stream that is down (a fresh snapshot would not replay fills)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest

from desk.backtest.simvenue import SimVenue
from desk.backtest.vloop import VirtualClock, VirtualLoop
from desk.engine.manager import StrategyManager
from desk.venue.config import VenueConfig
from desk.venue.exchange import Exchange


@dataclass
class LaggingAccount:
    """What the stream shows: one order still open until `clears_at` (virtual s)."""
    clock: VirtualClock
    clears_at: float
    trusted: bool = True
    positions: dict = field(default_factory=dict)
    balances: None = None

    @property
    def orders(self) -> dict:
        return {} if self.clock.monotonic() >= self.clears_at else {"o1": object()}


@pytest.mark.parametrize(("lag_s", "trusted", "waited"), [
    (0.3, True, (0.3, 0.35)),     # caught up: waits for it, no longer
    (60.0, True, (2.0, 2.05)),    # never: gives up after 2 s
    (60.0, False, (0.0, 0.01)),   # stream down: nothing to wait for
])
def test_shutdown_waits_for_the_stream_to_show_the_orders_closed(lag_s, trusted, waited):
    loop = VirtualLoop()
    clock = VirtualClock(loop)
    exchange = Exchange(VenueConfig(sim_enabled=False), clock.ms, random.Random(1))
    exchange.open_account("mm")
    venue = SimVenue(exchange, "mm", clock)
    manager = StrategyManager(venue, clock=clock, rng=random.Random(1))
    try:
        loop.run_until_complete(venue.start())
        loop.run_until_complete(manager.open())
        account = LaggingAccount(clock, clock.monotonic() + lag_s, trusted)
        venue.account = lambda: account  # type: ignore[method-assign]
        began = clock.monotonic()
        loop.run_until_complete(manager.shutdown("test"))
        took = clock.monotonic() - began
        assert waited[0] <= took < waited[1], took
        assert manager.guard.pulled
    finally:
        loop.run_until_complete(venue.close())
        loop.close()
