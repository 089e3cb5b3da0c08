"""The operator's controls beyond the strategy calls: panic and re-arm, flatten, the
kill switch's own client, and the `DeskView` snapshots the screens draw from
(against the embedded venue over real HTTP on 127.0.0.1)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from desk.engine.events import EventType
from desk.engine.strategy import State
from desk.engine.view import Monitor
from desk.killswitch import KillSwitch
from desk.ocx.rest import OcxClient
from tests.integration.conftest import BTC, ETH
from tests.integration.engine_support import FAST_CLIENT, desk_on
from tests.integration.test_engine_quoting import (
    ETH_TIGHT,
    TIGHT,
    call,
    fill_our_bid,
    ours,
    positions,
    post_book,
    start,
    taker,  # noqa: F401 - a fixture
)
from tests.integration.test_ocx_streams import eventually

D = Decimal


async def test_panic_pulls_everything_and_holds_until_rearmed(venue, trader, counterparty):
    post_book(counterparty, *TIGHT)
    post_book(counterparty, *ETH_TIGHT, market=ETH)
    async with desk_on(venue, trader, markets=(BTC, ETH)) as d:
        btc = await start(d, name="btc")
        eth = await start(d, name="eth", market_id=ETH, quote_size="1", min_quote_size="0.1")
        idle = d.manager.create(name="idle", market_id=ETH, quote_size="1",
                                min_quote_size="0.1").id
        assert len(await ours(d)) == 4

        await d.manager.panic()
        assert await ours(d) == []
        assert d.manager.panicked == [btc, eth]
        assert {d.manager.get(s).state for s in (btc, eth)} == {State.STOPPED}
        assert not d.manager.guard.quoting_allowed and d.manager.guard.held
        await asyncio.sleep(0.3)  # healthy feeds do not re-arm a held switch
        assert not d.manager.guard.quoting_allowed and await ours(d) == []

        started = await d.manager.rearm()
        assert sorted(started) == sorted([btc, eth]) and d.manager.panicked is None
        assert d.manager.get(idle).state is State.CREATED  # was not quoting: left alone
        await eventually(lambda: d.manager.guard.quoting_allowed, 3, "the switch re-armed")
        await eventually(lambda: len(d.venue.account().orders) == 4, 3, "quotes back")
        assert {d.manager.get(s).state for s in (btc, eth)} == {State.RUNNING}


async def test_a_second_panic_keeps_the_first_list_of_strategies(venue, trader, counterparty):
    post_book(counterparty, *TIGHT)
    async with desk_on(venue, trader) as d:
        sid = await start(d)
        await d.manager.panic()
        await d.manager.panic()  # everything is stopped by now: the list must survive
        assert d.manager.panicked == [sid]
        assert await d.manager.rearm() == [sid]


async def test_flatten_pauses_and_closes_the_position(venue, trader, counterparty, taker):  # noqa: F811
    post_book(counterparty, "63900", "64100")
    async with desk_on(venue, trader) as d:
        sid = await start(d, base_spread_bps="10", quote_size="1", min_quote_size="0.1")
        await fill_our_bid(d, sid, taker, "63900", "1")
        assert d.manager.get(sid).position == D(1)

        info = await d.manager.flatten(sid)
        assert info.state is State.PAUSED and info.position == 0
        assert (await call(positions, trader)).get(BTC, D(0)) == 0
        assert await ours(d) == []
        flattened = [e for e in d.recorder.of(EventType.POSITION_CHANGED, sid)
                     if e.data.get("flattened")]
        assert flattened and D(flattened[-1].flattened) == D(1)

        try:
            await d.manager.flatten(sid)
        except Exception as err:  # flat: refused with a message naming the strategy
            assert "flat" in str(err) and "mm-BTC-PERP" in str(err)
        else:
            raise AssertionError("flattening a flat strategy must be refused")


async def test_the_desk_view_shows_our_quotes_in_the_book(venue, trader, counterparty):
    post_book(counterparty, *TIGHT)
    async with desk_on(venue, trader) as d:
        monitor = Monitor(d.manager, "test venue", sample_s=0.0)  # sees events from now on
        sid = await start(d, quote_layers=2)
        await eventually(lambda: len(d.venue.account().orders) == 4, 3, "the ladder")
        view = monitor.snapshot()
        s = view.strategy(sid)
        assert s is not None and s.state == "running" and s.market_id == BTC
        assert len(s.bids) == 2 and len(s.asks) == 2
        book = view.books[BTC]
        assert book.trusted and book.fair == D(64000)
        assert book.bids.ours == {p for p, _ in s.bids}
        assert book.asks.ours == {p for p, _ in s.asks}
        book_prices = {lv.price for lv in book.bids.levels} | {lv.price for lv in
                                                                book.asks.levels}
        assert book.bids.ours | book.asks.ours <= book_prices
        assert view.resting == 4 and view.armed and not view.panicked
        assert view.balances is not None and view.venue == "test venue"
        assert any(e.type is EventType.QUOTE_SENT and e.strategy_id == sid
                   for e in view.chatter)  # the quote chatter has its own ring
        assert set(view.pnl) == {sid, "total"}

        await d.manager.panic()
        later = monitor.snapshot()
        assert later.panicked and not later.armed and later.resting == 0
        assert later.strategy(sid).state == "stopped" and later.strategy(sid).bids == ()
        assert len(later.pnl[sid]) == 2  # one point per snapshot at sample_s 0


async def test_monitor_caps_the_events_it_keeps(venue, trader, counterparty):
    post_book(counterparty, *TIGHT)
    async with desk_on(venue, trader) as d:
        monitor = Monitor(d.manager, "v", keep_events=5)
        for i in range(12):
            d.manager.bus.publish(EventType.ERROR, None, code="T", message=str(i))
        view = monitor.snapshot()
        assert [e.message for e in view.events] == [str(i) for i in range(7, 12)]


async def test_the_kill_switch_pulls_every_order_of_the_account(venue, trader, counterparty):
    post_book(counterparty, *TIGHT)
    async with desk_on(venue, trader) as d:
        await start(d, quote_layers=3)
        switch = KillSwitch(lambda: OcxClient(venue.url, api_key=trader.trade_secret,
                                              config=FAST_CLIENT))
        try:
            report = await switch.fire()
        finally:
            await switch.aclose()
        assert report.resting_after == 0 and report.cancelled >= 6 and report.error is None
        assert await ours(d) == []


async def test_a_kill_switch_that_cannot_reach_the_venue_says_so(venue, trader):
    switch = KillSwitch(lambda: OcxClient("http://127.0.0.1:9", api_key=trader.trade_secret,
                                          config=FAST_CLIENT), attempts=2, verify_rounds=1)
    try:
        report = await switch.fire()
    finally:
        await switch.aclose()
    assert report.resting_after == -1 and report.cancelled == 0
    assert report.attempts == 2 and report.error


async def test_stopping_a_stopped_strategy_announces_nothing(venue, trader, counterparty):
    post_book(counterparty, *TIGHT)
    async with desk_on(venue, trader) as d:
        sid = await start(d)
        await d.manager.stop(sid)
        info = await d.manager.stop(sid)
        assert info.state is State.STOPPED
        assert len(d.recorder.of(EventType.STOPPED, sid)) == 1
