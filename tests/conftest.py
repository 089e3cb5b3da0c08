"""Fixtures shared by the whole suite.

Servers are real: uvicorn on 127.0.0.1, port 0, started and stopped here.
The embedded venue runs with the market simulation off unless a test asks for
it, so books hold only what tests put there; clocks and seeds are fixed.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator
from pathlib import Path
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
for _name in [n for n in os.environ if n.startswith("DESK_")]:
    os.environ.pop(_name)  # the runner's own desk settings never reach a test

# Where desk keeps its files unless told otherwise: the settings file, keys and saved
# strategies (config), the journal and the watchdog's log (data), logs (state).
HOME_VARS = ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME")


def _home_env(home: Path) -> dict[str, str]:
    return {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
            "XDG_STATE_HOME": str(home / ".local" / "state"),
            "XDG_CACHE_HOME": str(home / ".cache")}


@pytest.fixture(scope="session", autouse=True)
def _session_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A home of this test process's own (each xdist worker has one), for what is set up
    before a test's own home: module- and session-scoped hosts and venues."""
    saved = {name: os.environ.get(name) for name in HOME_VARS}
    os.environ.update(_home_env(tmp_path_factory.mktemp("session-home")))
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(autouse=True)
def _home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test has a home of its own: nothing desk writes to its default places (the
    user's journal, keys, strategies, logs) is shared with another test or another
    worker, and nothing of the user's is read or touched."""
    for name, value in _home_env(tmp_path_factory.mktemp("home")).items():
        monkeypatch.setenv(name, value)


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
