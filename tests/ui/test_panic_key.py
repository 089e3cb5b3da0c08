"""The panic key does not wait for the screen's loop: ctrl+k fires the kill switch from
the thread that delivers the key (the terminal's input thread; here Pilot's driver
call), and the kill switch runs on a thread and loop of its own. Against the real
thing: an `EngineHost` with its embedded venue, three default strategies quoting."""

from __future__ import annotations

import time

import pytest
from textual import events

from desk.host import EngineHost
from desk.ui.app import DeskApp
from tests.ui.pilot_support import (
    DEFAULT_NAMES,
    SIZE,
    VenueReader,
    by_name,
    eventually,
    toasts,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def quoting(host: EngineHost, reader: VenueReader, pilot) -> None:  # noqa: ANN001
    def ready() -> bool:
        ss = [by_name(host, n) for n in DEFAULT_NAMES]
        counts = reader.open_counts()
        return all(s is not None and s.state == "running" and counts.get(s.market_id)
                   for s in ss)
    await eventually(ready, 20, pilot=pilot, what="the default strategies quoting")


async def test_the_panic_key_pulls_every_quote_while_the_screen_s_loop_is_blocked(
        host: EngineHost, reader: VenueReader) -> None:
    app = DeskApp(host)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await quoting(host, reader, pilot)
        # the key as the terminal's input thread hands it over, then the screen's loop
        # is blocked (a long frame): nothing queued on it can run until it is free
        app._driver.send_message(events.Key("ctrl+k", None))
        began = time.monotonic()
        while reader.orders() and time.monotonic() - began < 5:
            time.sleep(0.01)  # blocking this loop on purpose
        blocked_for = time.monotonic() - began
        assert reader.orders() == [], "the cancel-all waited for the screen's loop"
        assert blocked_for < 5
        # then the key reaches the screen: the rest of the panic (the engine stands down,
        # the read-back) and its report, with what the key's cancel-all pulled
        await eventually(lambda: (v := host.view()) is not None and v.panicked, 10,
                         pilot=pilot, what="the engine stood down")
        toast = await eventually(lambda: next((t for t in toasts(app)
                                               if t.startswith("ALL QUOTES PULLED:")), None),
                                 10, pilot=pilot, what="the panic report")
        cancelled = int(toast.split(":")[1].split()[0])
        assert cancelled > 0
        assert app._keyed_panics == 0  # the key's cancel-all was the panic's first
        events_ = host.desk.journal.events(types=["quote_cancelled"], limit=20)
        stop = [e for e in events_ if e.get("reason") == "emergency stop"][-1]
        assert stop["kill_switch"] > 0 and stop["count"] == stop["kill_switch"] + \
            stop["engine"]
        assert reader.orders() == []
