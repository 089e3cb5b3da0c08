"""Fixtures shared by the whole suite.

Servers are real: uvicorn on 127.0.0.1, port 0, started and stopped here.
The embedded venue runs with the market simulation off unless a test asks for
it, so books hold only what tests put there; clocks and seeds are fixed.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from desk.venue.config import VenueConfig
from desk.venue.exchange import Exchange
from desk.venue.runtime import VenueRuntime
from desk.venue.server import VenueServer
from tests.helpers import ManualClock, Trader, new_trader

os.environ.pop("NO_COLOR", None)
os.environ.pop("TEXTUAL_THEME", None)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def exchange(clock: ManualClock) -> Exchange:
    """An in-process exchange with no simulation, two funded accounts: `mm` and `taker`."""
    ex = Exchange(VenueConfig(sim_enabled=False), clock, random.Random(1))
    ex.open_account("mm")
    ex.open_account("taker")
    return ex


@pytest.fixture
def make_venue() -> Iterator[Callable[..., VenueServer]]:
    """Start venues with config overrides: `make_venue(heartbeat_s=0.2, sim_enabled=True)`.

    `clock=` replaces the runtime's wall clock (unix ms).
    """
    servers: list[VenueServer] = []

    def start(clock: Callable[[], int] | None = None, **overrides: Any) -> VenueServer:
        config = VenueConfig(**{"sim_enabled": False, "heartbeat_s": 0.5, **overrides})
        runtime = VenueRuntime(config) if clock is None else VenueRuntime(config, clock=clock)
        server = VenueServer(runtime)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def venue(make_venue: Callable[..., VenueServer]) -> VenueServer:
    return make_venue()


@pytest.fixture
def client(venue: VenueServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=venue.url, timeout=10) as c:
        yield c


@pytest.fixture
def trader(client: httpx.Client) -> Trader:
    return new_trader(client, "desk")


@pytest.fixture
def counterparty(client: httpx.Client) -> Trader:
    return new_trader(client, "other")
