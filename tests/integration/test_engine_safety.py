"""The engine's safety nets on the real embedded venue: the dead-man switch (stale
reference feed, lost fill stream, order-path errors), margin rejects, hedging, a
restart after a crash, the journal against the venue's fills, and shutdown.

Unless a test says otherwise the market simulation is off, the desk runs with
`reference="mid"`, and a counterparty keeps a WIDE book (63900 / 64100, mid 64000)
so that our quotes are the touch and the counterparty can trade straight against
them with IOC limit orders. Venue calls from async tests go through a worker thread
so the desk's streams keep flowing meanwhile; timing bounds are measured, polling
is generous, and no assertion depends on a sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from desk.domain.records import Order
from desk.engine.events import Event, EventType
from desk.engine.manager import StrategyConfigError, StrategyManager
from desk.engine.strategy import State
from desk.ocx.adapter import OcxVenue
from desk.ocx.rest import OcxClient
from desk.store.journal import Journal
from desk.store.strategies import TomlStrategyStore
from desk.venue.server import VenueServer
from tests.helpers import Trader, new_trader
from tests.integration.conftest import BTC, ETH, limit_order, ok
from tests.integration.engine_support import FAST_CLIENT, FAST_ENGINE, Desk, desk_on
from tests.integration.test_ocx_streams import eventually

D = Decimal
WIDE = ("63900", "64100")
ETH_WIDE = ("3190", "3210")


# --- helpers ----------------------------------------------------------------------------

async def post(trader: Trader, path: str, body: Any) -> httpx.Response:
    """A venue call from a worker thread (the desk's loop keeps running)."""
    return await asyncio.to_thread(trader.post, path, body)


async def make_book(cp: Trader, bid: str, ask: str, qty: str = "2",
                    market: str = BTC) -> None:
    for side, price in (("buy", bid), ("sell", ask)):
        r = await post(cp, "/perps/orders", limit_order(side, price, qty, market))
        ok(r)


async def ioc(cp: Trader, side: str, price: D, qty: str, market: str = BTC) -> D:
    """An IOC limit order of the counterparty; returns what it filled."""
    r = await post(cp, "/perps/orders",
                   limit_order(side, str(price), qty, market, timeInForce="ioc"))
    return D(ok(r)["filledQuantity"])


async def resting(d: Desk, market: str | None = None) -> list[Order]:
    """The desk account's open orders, as the venue reports them (REST)."""
    return await d.venue.open_orders(market)


async def our_touch(d: Desk, market: str = BTC) -> tuple[D | None, D | None]:
    orders = await resting(d, market)
    bids = [o.price for o in orders if o.side.value == "buy" and o.price is not None]
    asks = [o.price for o in orders if o.side.value == "sell" and o.price is not None]
    return (max(bids) if bids else None), (min(asks) if asks else None)


async def trade_against(d: Desk, cp: Trader, side: str, qty: str,
                        market: str = BTC) -> D:
    """The counterparty `side`s `qty` at our best quote (retried if we re-quoted)."""
    for _ in range(50):
        bid, ask = await our_touch(d, market)
        price = bid if side == "sell" else ask
        if price is not None:
            filled = await ioc(cp, side, price, qty, market)
            if filled > 0:
                return filled
        await asyncio.sleep(0.02)
    raise AssertionError(f"could not {side} {qty} against our quotes")


async def first_true(check: Callable[[], Any], timeout: float, what: str) -> float:
    """`eventually`, returning the loop time at which `check` was first seen true."""
    await eventually(check, timeout, what)
    return asyncio.get_running_loop().time()


def venue_open_count(server: VenueServer, account: str = "desk") -> int:
    """Resting orders of `account` inside the venue itself (no HTTP: usable while a
    fault is eating requests; one len() of a dict is atomic)."""
    return len(server.runtime.exchange.accounts[account].open_orders)


def between(events: list[Event], after: Event, before: Event | None,
            type: EventType) -> list[Event]:
    return [e for e in events if e.type == type and e.seq > after.seq
            and (before is None or e.seq < before.seq)]


def desk_events(d: Desk, type: EventType) -> list[Event]:
    """Desk-wide events (strategy_id None) of one type."""
    return d.recorder.of(type, None)


async def started(d: Desk, **params: Any) -> str:
    """Create and start a strategy; returns once its ladder rests on the venue."""
    params.setdefault("name", "btc")
    params.setdefault("market_id", BTC)
    info = d.manager.create(**params)
    await d.manager.start(info.id)
    market = params["market_id"]
    await eventually(lambda: resting(d, market), 5, f"{market} quotes resting")
    return info.id


@pytest.fixture
def cp(counterparty: Trader) -> Trader:
    return counterparty


# --- 1. dead-man: stale reference feed ----------------------------------------------------

async def test_stale_index_pulls_every_quote_within_the_bound_and_resumes(make_venue):
    server = make_venue(sim_enabled=True, seed=11)
    with httpx.Client(base_url=server.url, timeout=10) as c:
        trader = new_trader(c, "desk")
    stale_ms = 500
    async with desk_on(server, trader, reference="index") as d:
        sid = await started(d, quote_size="0.1", stale_feed_ms=stale_ms)
        loop = asyncio.get_running_loop()

        t0 = loop.time()  # before the request: the measured delay can only be longer
        await d.client.inject_fault("freeze_index", marketId=BTC, seconds=3)
        t_empty = await first_true(lambda: _empty(d), 5, "every quote pulled")
        delay_ms = (t_empty - t0) * 1000
        assert delay_ms <= stale_ms + 500, f"quotes rested {delay_ms:.0f} ms into a stale feed"

        trip = await eventually(lambda: desk_events(d, EventType.CIRCUIT_BREAKER), 2,
                                "a desk-wide circuit_breaker")
        trip = trip[0]
        assert "stale" in trip.reason and BTC in trip.reason, trip.reason
        assert d.manager.guard.tripped is not None

        # nothing rests while the index is frozen (polls made while not yet re-armed)
        while not desk_events(d, EventType.RESUMED):
            orders = await resting(d)
            if desk_events(d, EventType.RESUMED):
                break
            assert orders == [], f"an order rests while the switch is tripped: {orders}"
            assert loop.time() - t0 < 8, "the switch never re-armed after the freeze"
            await asyncio.sleep(0.05)
        resumed = desk_events(d, EventType.RESUMED)[0]
        # the freeze lasts 3 s; re-arming before it ended would be quoting on a stale feed
        assert loop.time() - t0 > 2.5

        assert between(d.recorder.events, trip, resumed, EventType.QUOTE_SENT) == []
        await eventually(lambda: resting(d), 5, "quotes resting again")
        await eventually(lambda: d.recorder.of(EventType.QUOTE_SENT, sid)[-1].seq
                         > resumed.seq, 5, "a ladder sent after re-arming")
        assert d.manager.get(sid).state is State.RUNNING


async def _empty(d: Desk) -> bool:
    return await resting(d) == []


# --- 2. dead-man: the fill stream ------------------------------------------------------------

def slow(seconds: float) -> Callable[[float], Awaitable[None]]:
    """A reconnect wait of at least `seconds`: the venue is slow to take us back."""
    async def sleep(s: float) -> None:
        await asyncio.sleep(max(s, seconds))
    return sleep


async def test_lost_fill_stream_pulls_quotes_until_resnapshot(venue, trader, cp):
    await make_book(cp, *WIDE)
    async with desk_on(venue, trader) as d:
        sid = await started(d)
        d.venue.user.sleep = slow(0.8)  # only the user stream takes long to come back
        loop = asyncio.get_running_loop()
        samples: list[tuple[float, bool, int]] = []  # (time, user stream trusted, resting)

        async def monitor() -> None:
            while True:
                samples.append((loop.time(), d.venue.account().trusted,
                                venue_open_count(venue)))
                await asyncio.sleep(0.005)

        task = asyncio.create_task(monitor())
        try:
            reconnects = d.venue.user.reconnects
            await d.client.inject_fault("drop_streams")
            await eventually(lambda: d.venue.user.reconnects > reconnects, 3, "user lost")
            await eventually(
                lambda: d.manager.guard.tripped == "fill stream is not live (reconnecting)",
                2, "the switch held down by the fill stream")
            trip = (await eventually(lambda: desk_events(d, EventType.CIRCUIT_BREAKER), 2,
                                     "a desk-wide circuit_breaker"))[0]
            resumed = (await eventually(lambda: desk_events(d, EventType.RESUMED), 5,
                                        "re-armed after the re-snapshot"))[0]
            await eventually(lambda: venue_open_count(venue) > 0, 5, "quoting again")
            await eventually(lambda: d.recorder.of(EventType.QUOTE_SENT, sid)[-1].seq
                             > resumed.seq, 5, "a ladder sent after re-arming")
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        down = [s for s in samples if not s[1]]
        assert down, "the monitor never saw the user stream down"
        lost_at, back_at = down[0][0], down[-1][0]
        assert back_at - lost_at >= 0.7  # the outage the slow reconnect made
        # pulled within one guard period and a cancel round trip of losing the stream...
        cleared = next(t for t, trusted, n in samples if t >= lost_at and n == 0)
        assert cleared - lost_at <= 0.5, f"quotes rested {cleared - lost_at:.3f} s unwatched"
        # ...and nothing rested again until the stream was back
        assert all(n == 0 for t, trusted, n in samples if cleared <= t <= back_at)
        assert between(d.recorder.events, trip, resumed, EventType.QUOTE_SENT) == []
        assert d.venue.account().trusted
        assert d.manager.get(sid).state is State.RUNNING


async def test_fill_during_stream_outage_is_reconciled(venue, trader, cp):
    await make_book(cp, *WIDE)
    async with desk_on(venue, trader) as d:
        sid = await started(d)
        d.venue.user.sleep = slow(0.3)
        bid, _ = await our_touch(d)
        assert bid is not None
        # the desk's loop is blocked for the two calls (a busy desk): the drop and a
        # fill on our bid land before it can notice anything
        r = trader.client.post("/sim/faults", json={"kind": "drop_streams"},
                               headers={"Authorization": f"Bearer {trader.session}"})
        assert r.status_code == 200
        filled = D(ok(cp.post("/perps/orders",
                              limit_order("sell", str(bid), "0.3", timeInForce="ioc")))
                   ["filledQuantity"])
        assert filled == D("0.3")
        await eventually(lambda: desk_events(d, EventType.RESUMED), 5, "re-armed")
        venue_pos = d.venue.account().positions[BTC].quantity
        assert venue_pos == D("0.3")
        assert d.manager.get(sid).position == venue_pos


# --- 3. order-path errors --------------------------------------------------------------------

async def test_error_burst_halts_the_strategy_and_trips_the_switch(venue, trader, cp):
    await make_book(cp, *WIDE)
    async with desk_on(venue, trader) as d:
        sid = await started(d, quote_refresh_seconds=0.2, max_consecutive_errors=5)
        # five cycles of three attempts (the bulk call is retried), then the pulls
        await d.client.inject_fault("error_burst", count=24)
        paused = await eventually(lambda: d.recorder.of(EventType.PAUSED, sid), 10,
                                  "paused on errors")
        assert "5 consecutive order errors" in paused[0].reason, paused[0].reason
        assert d.manager.get(sid).state is State.HALTED
        errors = [e for e in d.recorder.of(EventType.ERROR, sid) if e.data.get("consecutive")]
        assert [e.consecutive for e in errors] == [1, 2, 3, 4, 5]
        # the same failures are transport errors: the dead-man switch trips on them too
        trip = await eventually(lambda: desk_events(d, EventType.CIRCUIT_BREAKER), 3,
                                "the switch tripped on order errors")
        assert "consecutive order-path errors" in trip[0].reason, trip[0].reason
        await eventually(lambda: venue_open_count(venue) == 0, 10, "every quote pulled")
        await eventually(lambda: venue.runtime.faults.error_burst_left == 0, 10,
                         "the burst spent")
        assert venue_open_count(venue) == 0
        assert d.manager.get(sid).state is State.HALTED


async def test_short_error_burst_is_ridden_out(venue, trader, cp):
    await make_book(cp, *WIDE)
    async with desk_on(venue, trader) as d:
        sid = await started(d, quote_refresh_seconds=0.2, pause_on_error=False)
        sent = len(d.recorder.of(EventType.QUOTE_SENT, sid))
        # two cycles of three attempts each fail: below both thresholds
        await d.client.inject_fault("error_burst", count=6)
        await eventually(lambda: venue.runtime.faults.error_burst_left == 0, 5, "spent")
        await eventually(lambda: len(d.recorder.of(EventType.QUOTE_SENT, sid)) > sent + 1, 5,
                         "quoting again")
        assert d.manager.get(sid).state is State.RUNNING
        assert desk_events(d, EventType.CIRCUIT_BREAKER) == []
        assert venue_open_count(venue) > 0


async def test_error_burst_without_pause_on_error_recovers(venue, trader, cp):
    await make_book(cp, *WIDE)
    async with desk_on(venue, trader) as d:
        sid = await started(d, quote_refresh_seconds=0.2, pause_on_error=False)
        await d.client.inject_fault("error_burst", count=30)
        errors = await eventually(
            lambda: [e for e in d.recorder.of(EventType.ERROR, sid)
                     if e.data.get("consecutive", 0) >= 5], 10, "five failed cycles")
        assert errors
        assert d.manager.get(sid).state is State.RUNNING  # pause_on_error is off
        trip = (await eventually(lambda: desk_events(d, EventType.CIRCUIT_BREAKER), 3,
                                 "the switch tripped on order errors"))[0]
        await eventually(lambda: venue.runtime.faults.error_burst_left == 0, 10, "spent")
        assert d.manager.get(sid).state is State.RUNNING
        await eventually(lambda: d.recorder.of(EventType.QUOTE_SENT, sid)[-1].seq > trip.seq,
                         3, "quoting again after the burst")
        assert venue_open_count(venue) > 0


# --- 4. margin rejects ---------------------------------------------------------------------

async def test_margin_squeeze_shrinks_the_ladder_without_reconnecting(venue, trader, cp):
    await make_book(cp, *WIDE, qty="0.1")
    async with desk_on(venue, trader) as d:
        sid = await started(d, quote_size="1", quote_layers=3)
        s = d.manager.strategies[sid]
        assert s.margin.scale == 1
        before = {h.name: (h.reconnects, h.gaps) for h in d.venue.health()}
        # initial margin x20 (100 %): the resting ladder alone now needs more than the
        # equity; a fill on our bid makes the next (same-size) ladder need even more
        await d.client.inject_fault("margin_squeeze", marketId=BTC, factor="20", seconds=30)
        assert await trade_against(d, cp, "sell", "1") == D(1)
        rejects = await eventually(
            lambda: [e for e in d.recorder.of(EventType.ERROR, sid)
                     if e.data.get("code") == "INSUFFICIENT_MARGIN"], 5, "a margin reject")
        first = rejects[0]
        # the rejected batch changed nothing at the venue: the old ladder was pulled
        nxt = await eventually(
            lambda: [e for e in d.recorder.events if e.seq > first.seq and e.strategy_id == sid
                     and e.type in (EventType.QUOTE_CANCELLED, EventType.QUOTE_SENT)],
            3, "the pull or the next quote after the reject")
        assert nxt[0].type is EventType.QUOTE_CANCELLED, nxt[:1]
        assert nxt[0].reason == "pulled"
        # the ladder shrinks until the venue takes it
        sent = await eventually(
            lambda: [e for e in d.recorder.of(EventType.QUOTE_SENT, sid)
                     if e.seq > first.seq and e.accepted > 0], 5, "a smaller ladder")
        assert s.margin.scale < 1
        sizes = [D(q) for _, q in sent[0].bids + sent[0].asks]
        assert sizes and max(sizes) < D(1), sizes
        # only the current ladder rests, at its own prices
        orders = await resting(d)
        assert orders and {o.quote_id for o in orders} == {s.quote_id}
        assert s.ladder is not None
        assert sorted((o.price, o.quantity) for o in orders) == \
            sorted((lv.price, lv.quantity) for lv in s.ladder.levels)
        # a business reject is never a reason to reconnect
        after = {h.name: (h.reconnects, h.gaps) for h in d.venue.health()}
        assert after == before
        assert desk_events(d, EventType.CIRCUIT_BREAKER) == []
        assert s.state is State.RUNNING


# --- 5. hedging ------------------------------------------------------------------------------

HEDGE = dict(auto_hedge_enabled=True, hedge_threshold="0.5", hedge_target="0.1",
             max_position="10", quote_size="1")


def hedge_fills(d: Desk, sid: str) -> list:
    return [f for f in d.venue.account().fills
            if (f.client_order_id or "").startswith(f"{sid}.h")]


async def test_market_hedge_brings_the_position_back_to_target(venue, trader, cp):
    await make_book(cp, *WIDE)
    async with desk_on(venue, trader) as d:
        with pytest.raises(StrategyConfigError) as exc:
            d.manager.create(name="ext", market_id=BTC, hedge_venue="external")
        assert "hedge_venue" in exc.value.fields

        sid = await started(d, hedge_algo="market", **HEDGE)
        assert await trade_against(d, cp, "sell", "0.7") == D("0.7")
        trig = (await eventually(lambda: d.recorder.of(EventType.HEDGE_TRIGGERED, sid), 5,
                                 "hedge_triggered"))[0]
        assert trig.side == "sell" and trig.hedge_quantity == D("0.6"), trig.data
        done = (await eventually(lambda: d.recorder.of(EventType.HEDGE_COMPLETED, sid), 5,
                                 "hedge_completed"))[0]
        assert done.outcome == "completed" and done.filled == D("0.6"), done.data
        await eventually(lambda: d.manager.get(sid).position == D("0.1"), 5, "at target")
        fills = hedge_fills(d, sid)
        assert len(fills) >= 1 and sum(f.quantity for f in fills) == D("0.6")
        assert all(f.side.value == "sell" for f in fills)
        hedges = [o for o in await d.client.orders(BTC, "filled")
                  if (o.client_order_id or "").startswith(f"{sid}.h")]
        assert len(hedges) == 1
        assert hedges[0].reduce_only and hedges[0].type.value == "market"
        positions = {p.market_id: p.quantity for p in await d.venue.positions()}
        assert positions[BTC] == D("0.1")
        assert len(d.recorder.of(EventType.HEDGE_TRIGGERED, sid)) == 1


async def test_twap_hedge_sends_several_reduce_only_children(venue, trader, cp):
    await make_book(cp, *WIDE)
    async with desk_on(venue, trader) as d:
        sid = await started(d, hedge_algo="twap", hedge_duration_minutes=0.01, **HEDGE)
        assert await trade_against(d, cp, "sell", "0.8") == D("0.8")
        done = (await eventually(lambda: d.recorder.of(EventType.HEDGE_COMPLETED, sid), 5,
                                 "hedge_completed"))[0]
        assert done.outcome == "completed", done.data
        assert done.filled == D("0.7"), done.data
        await eventually(lambda: d.manager.get(sid).position == D("0.1"), 5, "at target")
        fills = hedge_fills(d, sid)
        children = {f.order_id for f in fills}
        assert len(children) > 1, f"one child only: {fills}"
        assert sum(f.quantity for f in fills) == D("0.7")
        hedges = [o for o in await d.client.orders(BTC, "filled")
                  if (o.client_order_id or "").startswith(f"{sid}.h")]
        assert {o.order_id for o in hedges} == children
        assert all(o.reduce_only for o in hedges)


# --- 6. restart after a crash -----------------------------------------------------------------

async def test_restart_cancels_orphans_and_reloads_the_position(venue, trader, cp, tmp_path):
    await make_book(cp, *WIDE)
    path = tmp_path / "strategies.toml"

    # the first run, built by hand, dies without shutdown: its quotes stay at the venue
    client = OcxClient(venue.url, api_key=trader.trade_secret, session=trader.session,
                       config=FAST_CLIENT)
    first = OcxVenue(client, (BTC,), reference="mid")
    await first.start()
    try:
        m1 = StrategyManager(first, rng=random.Random(5), engine=FAST_ENGINE,
                             store=TomlStrategyStore(path))
        await m1.open()
        sid = m1.create(name="btc", market_id=BTC).id
        await m1.start(sid)
        crashed = Desk(m1, first, client, None)  # type: ignore[arg-type]
        await eventually(lambda: resting(crashed), 5, "first run quoting")
        assert await trade_against(crashed, cp, "sell", "0.3") == D("0.3")
        await eventually(lambda: m1.get(sid).position == D("0.3"), 5, "first run long 0.3")
        await eventually(lambda: _both_sides(crashed), 5, "first run re-quoted")
        # the crash: every loop ends, nothing is pulled
        await m1.guard.stop()
        if m1._housekeeper is not None:
            m1._housekeeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await m1._housekeeper
        for s in m1.strategies.values():
            await s.join()
    finally:
        await first.close()
    left = ok(trader.get("/perps/orders", params={"marketId": BTC}))
    left_ids = sorted(o["orderId"] for o in left)
    assert left_ids and all(o["clientOrderId"].startswith(f"{sid}.") for o in left)

    async with desk_on(venue, trader, store=TomlStrategyStore(path), seed=2) as d:
        assert await resting(d) == []
        orphaned = [e for e in desk_events(d, EventType.QUOTE_CANCELLED)
                    if e.reason == "orphaned"]
        assert len(orphaned) == 1
        assert sorted(orphaned[0].order_ids) == left_ids
        assert orphaned[0].count == len(left_ids)
        reloaded = [e for e in d.recorder.of(EventType.POSITION_CHANGED)
                    if e.data.get("reloaded")]
        assert len(reloaded) == 1
        assert reloaded[0].strategy_id == sid
        assert reloaded[0].new_position == D("0.3") and reloaded[0].market_id == BTC
        info = d.manager.get(sid)
        assert info.position == D("0.3") and info.state is State.CREATED
        position = {p.market_id: p for p in await d.venue.positions()}[BTC]
        strategy = d.manager.strategies[sid]
        assert strategy.pnl.average == position.entry_price
        # the PnL made before the restart is the series' opening, not today's loss or gain
        assert strategy.series.opening == strategy.pnl.total(position.mark_price)
        assert strategy.series.daily() == 0 and strategy.series.hourly() == 0


async def _both_sides(d: Desk) -> bool:
    bid, ask = await our_touch(d)
    return bid is not None and ask is not None


# --- 7. the journal against the venue ------------------------------------------------------------

async def test_journal_fills_equal_the_venue_fills(venue, trader, cp, tmp_path: Path):
    await make_book(cp, *WIDE)
    journal = Journal(tmp_path / "j.sqlite3")
    journaled_first: list[bool] = []
    try:
        async with desk_on(venue, trader, journal=journal) as d:
            def check(e: Event) -> None:  # a subscriber sees an event only once journaled
                if e.type is EventType.QUOTE_FILLED:
                    seqs = {j["seq"] for j in journal.events(types=["quote_filled"])}
                    journaled_first.append(e.seq in seqs)
            d.manager.subscribe_events(check)
            sid = await started(d, quote_size="0.5")
            trades = [("sell", "0.2"), ("buy", "0.3"), ("sell", "0.1"), ("sell", "0.25"),
                      ("buy", "0.05")]
            for side, qty in trades:
                assert await trade_against(d, cp, side, qty) == D(qty)
                await eventually(lambda: _both_sides(d), 5, "re-quoted")
            n = len(trades)
            await eventually(lambda: len(d.venue.account().fills) == n, 5, "fills streamed")
            await eventually(lambda: journal.fill_count() == n, 5, "fills journaled")

            def key(f: Any) -> tuple:
                return (f.fill_id, f.order_id, f.client_order_id, f.side.value, f.price,
                        f.quantity, f.fee)
            streamed = sorted(key(f) for f in d.venue.account().fills)
            assert sorted(key(f) for f in journal.fills()) == streamed
            assert all(f.client_order_id.startswith(f"{sid}.") for f in journal.fills())
            assert {f.fill_id for f in journal.fills(strategy_id=sid)} == \
                {f.fill_id for f in d.venue.account().fills}
            net = sum(f.quantity if f.side.value == "buy" else -f.quantity
                      for f in journal.fills())
            assert net == D("0.2")  # the counterparty sold 0.55 to us and bought 0.35
            positions = {p.market_id: p.quantity for p in await d.venue.positions()}
            assert positions[BTC] == net == d.manager.get(sid).position

            filled_events = d.recorder.of(EventType.QUOTE_FILLED, sid)
            assert sorted(e.fill_id for e in filled_events) == sorted(k[0] for k in streamed)
            journaled = journal.events(strategy_id=sid, types=["quote_filled"])
            assert [j["fill_id"] for j in journaled] == [e.fill_id for e in filled_events]
            assert journaled_first == [True] * n

            # a replayed fill is not counted twice
            s = d.manager.strategies[sid]
            before = (s.position, s.pnl.trades, s.pnl.volume, journal.fill_count(),
                      len(d.recorder.of(EventType.QUOTE_FILLED)))
            d.manager._on_fill(d.venue.account().fills[0])
            after = (s.position, s.pnl.trades, s.pnl.volume, journal.fill_count(),
                     len(d.recorder.of(EventType.QUOTE_FILLED)))
            assert after == before
    finally:
        journal.close()


# --- 8. shutdown -------------------------------------------------------------------------------

async def test_shutdown_pulls_everything_and_stops_every_strategy(venue, trader, cp):
    await make_book(cp, *WIDE)
    await make_book(cp, *ETH_WIDE, qty="20", market=ETH)
    async with desk_on(venue, trader, markets=(BTC, ETH)) as d:
        btc = await started(d, name="btc", market_id=BTC)
        eth = await started(d, name="eth", market_id=ETH, quote_size="5")
        idle = d.manager.create(name="idle", market_id=BTC).id
        await d.manager.shutdown()
        assert await resting(d) == []
        assert venue_open_count(venue) == 0
        for sid in (btc, eth):
            assert d.manager.get(sid).state is State.STOPPED
            assert len(d.recorder.of(EventType.STOPPED, sid)) == 1
        assert d.recorder.of(EventType.STOPPED, idle) == []
        assert d.manager.get(idle).state is State.CREATED
