"""The kill switch on its own thread and event loop (`desk.switch_thread.SwitchThread`):
fired from any thread, it pulls the account's orders even while the caller's loop is
blocked; it keeps its connection open with a cheap read; it stops cleanly."""

from __future__ import annotations

import asyncio
import sys
import threading
import time

from desk.killswitch import KillSwitch
from desk.ocx.rest import OcxClient
from desk.switch_thread import SwitchThread
from tests.integration.conftest import limit_order, ok, open_orders
from tests.integration.engine_support import FAST_CLIENT


def switch_for(url: str, secret: str, **kw) -> SwitchThread:
    return SwitchThread(KillSwitch(lambda: OcxClient(url, api_key=secret,
                                                     config=FAST_CLIENT)), **kw)


def rest_orders(trader, n: int = 3) -> None:
    for i in range(n):
        ok(trader.post("/perps/orders", limit_order("buy", str(63000 - i), "0.01")))


async def test_a_fire_pulls_everything_while_the_caller_s_loop_is_blocked(venue, trader):
    rest_orders(trader)
    switch = switch_for(venue.url, trader.trade_secret)
    switch.start()
    try:
        future = switch.fire()
        # this loop is blocked from here on: a switch on it could not send anything
        deadline = time.monotonic() + 5
        while open_orders(trader) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert open_orders(trader) == []
        report = future.result(5)
        assert report.cancelled == 3 and report.resting_after == 0 and report.error is None
    finally:
        switch.stop()
    assert not switch.running


def test_the_first_cancel_all_goes_from_the_calling_thread(venue, trader):
    """No hand-over to wake first: the thread that fires sends the first shot itself,
    before fire() returns; the switch's own fire() follows on its thread."""
    rest_orders(trader, 2)
    switch = switch_for(venue.url, trader.trade_secret)
    switch.start()
    sent: list[tuple[str, float]] = []
    switch.add_hooks(lambda r: sent.append((threading.current_thread().name,
                                            time.perf_counter()))
                     if r.url.path == "/perps/orders/cancel-all" else None, lambda r: None)
    try:
        future = switch.fire()
        returned = time.perf_counter()
        assert sent and sent[0][0] == threading.current_thread().name
        assert sent[0][1] <= returned
        assert open_orders(trader) == []  # the first shot's answer came before the return
        report = future.result(5)
        assert report.cancelled == 2 and report.resting_after == 0 and report.error is None
        assert report.attempts == 2 and switch.shots == 1
        assert [name for name, _ in sent][1:] == ["desk-kill-switch"]
    finally:
        switch.stop()


def test_without_a_first_shot_fire_returns_once_the_cancel_all_has_left(venue, trader):
    rest_orders(trader, 1)
    switch = switch_for(venue.url, trader.trade_secret, first_shot=False)
    switch.start()
    left: list[float] = []
    switch.add_hooks(lambda r: left.append(time.perf_counter())
                     if r.url.path == "/perps/orders/cancel-all" else None, lambda r: None)
    try:
        future = switch.fire()
        returned = time.perf_counter()
        assert left and left[0] <= returned  # the caller held off until it had left
        assert future.result(5).cancelled == 1 and switch.shots == 0
        assert switch.fire(hold_s=0).result(5).cancelled == 0  # nothing rests now
    finally:
        switch.stop()


def test_a_first_shot_that_fails_is_covered_by_the_switch_s_retries(venue, trader):
    rest_orders(trader, 1)
    switch = switch_for(venue.url, trader.trade_secret)
    switch.start()
    try:
        assert switch._sync is not None
        switch._sync.base_url = "http://127.0.0.1:9"  # nothing listens: the shot fails
        report = switch.fire().result(10)
        assert report.cancelled == 1 and report.resting_after == 0
        assert open_orders(trader) == []
    finally:
        switch.stop()


def test_the_connection_is_kept_open_and_a_stopped_switch_starts_again(venue, trader):
    switch = switch_for(venue.url, trader.trade_secret, keep_warm_s=0.1)
    switch.start()
    try:
        deadline = time.monotonic() + 5
        while switch.warmed < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert switch.warmed >= 3  # a read every keep_warm_s while idle
        names = {t.name for t in threading.enumerate()}
        assert "desk-kill-switch" in names
        assert sys.getswitchinterval() <= 0.001  # the GIL is handed over promptly
    finally:
        switch.stop()
    assert not switch.running
    rest_orders(trader, 1)
    try:  # fired after a stop: a new thread, a new client on its loop
        assert switch.fire().result(5).cancelled == 1
    finally:
        switch.stop()


async def test_the_switch_is_not_the_caller_s_loop(venue, trader):
    switch = switch_for(venue.url, trader.trade_secret)
    try:
        loop = switch.call(asyncio.get_running_loop)
        assert loop is not asyncio.get_running_loop()
    finally:
        switch.stop()
