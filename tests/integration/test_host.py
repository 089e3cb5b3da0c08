"""The engine on its own thread (`desk.host.EngineHost`) with the embedded venue as a
child process: start, the panic path that does not wait on the engine, stop."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import httpx
import pytest

from desk.control import ControlError
from desk.host import EngineHost
from desk.launch import LaunchError
from desk.settings import DeskSettings, load_settings
from tests.integration.test_ocx_streams import eventually


def settings_in(tmp: Path) -> DeskSettings:
    return load_settings(None).model_copy(update={
        "journal_path": tmp / "journal.sqlite", "strategies_path": tmp / "strategies.toml",
        "key_dir": tmp / "keys"})


def venue_orders(host: EngineHost) -> list[dict]:
    """The account's open orders, read over a key of the test's own."""
    url = host.desk.url
    with httpx.Client(base_url=url) as c:
        token = c.post("/auth/dev-session", json={"account": host.settings.account}).json()
        key = c.post("/perps/me/api-keys", json={"name": "test-read", "scope": "read"},
                     headers={"authorization": f"Bearer {token['token']}"}).json()
        r = c.get("/perps/orders", headers={"x-api-key": key["secret"]})
        r.raise_for_status()
        return r.json()


@pytest.fixture
def host(tmp_path: Path):
    h = EngineHost(settings_in(tmp_path), seed=4, engine_stall_s=0.5)
    h.start()
    yield h
    h.stop()


async def quoting(host: EngineHost) -> None:
    await eventually(lambda: (v := host.view()) is not None and v.resting >= 6, 10,
                     "three strategies quoting")


async def test_the_panic_pulls_everything_even_while_the_engine_is_wedged(host):
    await quoting(host)
    assert await asyncio.to_thread(venue_orders, host)

    wedged = host.submit(lambda m: _block(m, 2.0))  # the engine's loop is stuck for 2 s
    began = time.perf_counter()
    report = await host.panic()
    took = time.perf_counter() - began
    assert report.resting_after == 0 and report.error is None
    assert await asyncio.to_thread(venue_orders, host) == []
    assert took < 1.9, f"the panic waited on the wedged engine ({took:.2f} s)"
    await asyncio.wrap_future(wedged)
    await eventually(lambda: host.view().panicked and all(
        s.state == "stopped" for s in host.view().strategies), 3, "the engine stood down")
    assert await asyncio.to_thread(venue_orders, host) == []


async def _block(_manager: object, seconds: float) -> None:
    time.sleep(seconds)  # a wedge: blocks the engine's event loop


async def test_stop_pulls_every_quote_and_leaves_no_process(tmp_path: Path):
    h = EngineHost(settings_in(tmp_path), seed=5)
    h.start()
    try:
        await quoting(h)
        pid = h.desk.embedded.proc.pid
        url = h.desk.url
        orders_before = await asyncio.to_thread(venue_orders, h)
        assert orders_before
    finally:
        await asyncio.to_thread(h.stop)
    assert not h._thread.is_alive()
    with pytest.raises(ProcessLookupError):
        for _ in range(50):
            os.kill(pid, 0)
            await asyncio.sleep(0.1)
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/perps/markets", timeout=1.0)
    with pytest.raises(ControlError):
        h.submit(lambda m: m.panic())


def test_a_venue_without_a_stored_key_is_a_clear_start_error(tmp_path: Path):
    h = EngineHost(settings_in(tmp_path), venue_url="http://127.0.0.1:9")
    with pytest.raises(LaunchError, match="no API key in use for http://127.0.0.1:9"):
        h.start()
    h.stop()
    assert not h._thread.is_alive()


async def test_the_panic_s_event_counts_what_the_kill_switch_cancelled(host):
    """The kill switch pulls the quotes before the engine stands down, so the engine's
    own cancel-all finds nothing: the journaled event still says how many went."""
    await quoting(host)
    resting = len(await asyncio.to_thread(venue_orders, host))
    host.fire()  # as the panic key does, from the thread that reads it
    report = await host.panic()
    assert report.resting_after == 0 and report.cancelled > 0 and resting > 0

    def counted() -> list[dict]:  # a read-back's event is journaled after the report
        events = host.desk.journal.events(types=["quote_cancelled"], limit=50)
        stop = [e for e in events if e.get("reason") == "emergency stop"]
        read_back = sum(e["count"] for e in events
                        if e.get("reason") == "emergency stop: read-back")
        return stop if stop and stop[0]["kill_switch"] + read_back == report.cancelled \
            else []

    stop = await eventually(counted, 3, "the panic's events counting what was cancelled")
    assert len(stop) == 1 and stop[0]["kill_switch"] > 0
    assert stop[0]["count"] == stop[0]["kill_switch"] + stop[0]["engine"]
