"""The venue runtime: accounts and sessions are bounded, the sim loop survives a bad step."""

from __future__ import annotations

import asyncio
import random

import pytest

from desk.venue.config import VenueConfig
from desk.venue.errors import VenueError
from desk.venue.keys import MAX_SESSIONS
from desk.venue.runtime import VenueRuntime
from desk.venue.schemas import FaultIn
from tests.helpers import ManualClock


def runtime(**overrides) -> VenueRuntime:
    config = VenueConfig(**{"sim_enabled": False, **overrides})
    return VenueRuntime(config, clock=ManualClock(), rng=random.Random(3))


def test_accounts_are_capped():
    rt = runtime(max_accounts=4)  # the two synthetic ones do not exist with the sim off
    for name in ("a", "b", "c", "d"):
        rt.dev_session(name)
    with pytest.raises(VenueError) as err:
        rt.dev_session("e")
    assert err.value.code == "BAD_REQUEST" and err.value.details == {"maxAccounts": 4}
    rt.dev_session("a")  # an existing account may still sign in


def test_an_account_keeps_only_its_newest_sessions():
    rt = runtime()
    tokens = [rt.dev_session("desk") for _ in range(MAX_SESSIONS + 3)]
    assert len(rt.keys.sessions) == MAX_SESSIONS
    with pytest.raises(VenueError):
        rt.keys.session_account(tokens[0])
    assert rt.keys.session_account(tokens[-1]) == "desk"


def test_the_rate_limit_fault_says_nothing_is_left_and_to_retry_soon():
    rt = runtime()
    rt.dev_session("desk")
    rt.inject(FaultIn(kind="rate_limit", count=1))
    with pytest.raises(VenueError) as err:
        rt.check_order_path("desk")
    assert err.value.retry_after_ms == 1000
    assert err.value.headers["X-RateLimit-Remaining"] == "0"
    assert rt.check_order_path("desk").allowed  # one-off


async def test_a_failing_step_is_logged_and_the_loop_goes_on(caplog):
    rt = VenueRuntime(VenueConfig(sim_enabled=False, sim_step_ms=10))
    calls = []

    def flaky(dt_ms: int) -> None:
        calls.append(dt_ms)
        if len(calls) == 1:
            raise RuntimeError("boom")

    rt.step = flaky
    rt.start()
    await asyncio.sleep(0.2)
    await rt.stop()
    assert rt.sim_errors == 1 and len(calls) >= 3
    assert "simulation step failed" in caplog.text
