"""`SimVenue`: the engine's `Venue` over a real exchange core, on a virtual loop.

Ladders rest and the account view follows at once; another account's market order
fills us and the fill reaches listeners on the next turn of the loop (as a stream
delivers it after the response); every refusal is the typed error the HTTP client
raises; the venue's rate limit counts on virtual time; the reference feed is the
index, told to listeners only when a new one was set; latency is virtual time.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from desk.backtest.simvenue import SimVenue
from desk.backtest.vloop import EPOCH, VirtualClock, VirtualLoop, run_virtual
from desk.domain import Liquidity, OrderStatus, OrderType, Side
from desk.domain import errors as de
from desk.domain import records as r
from desk.engine.ports import ReferenceFeed, Venue
from desk.venue.config import FeeTier, MarketConfig, MarketSim, VenueConfig
from desk.venue.exchange import Exchange, OrderRequest

D = Decimal
X = "X-PERP"
ME = "mm"
EPOCH_MS = round(EPOCH * 1000)

LADDER = (
    r.QuoteLevel(Side.BUY, D("99.50"), D(2), "q-b1"),
    r.QuoteLevel(Side.BUY, D("99.00"), D(2), "q-b2"),
    r.QuoteLevel(Side.SELL, D("100.50"), D(2), "q-a1"),
    r.QuoteLevel(Side.SELL, D("101.00"), D(2), "q-a2"),
)


def venue_config(**overrides: Any) -> VenueConfig:
    market = MarketConfig(market_id=X, base="X", tick_size=D("0.01"), step_size=D("1"),
                          min_quantity=D("1"), initial_price=D("100"),
                          price_band_pct=D("50"),
                          sim=MarketSim(taker_size_median=D("1"), maker_size=D("1")))
    fees = [FeeTier(tier=0, min_volume_30d=D(0), maker_fee_bps=D("1"), taker_fee_bps=D("5"))]
    return VenueConfig(**{"markets": [market], "fee_tiers": fees, "sim_enabled": False,
                          "starting_balance": D("100000"), **overrides})


@dataclass
class Sim:
    loop: VirtualLoop
    clock: VirtualClock
    ex: Exchange
    venue: SimVenue


def simulate(body: Callable[[Sim], Awaitable[Any]], *, latency_s: float = 0.0,
             rate_limit: int | None = None, **venue: Any) -> Any:
    """Run `body` against a started SimVenue on a fresh virtual loop."""
    loop = VirtualLoop()
    clock = VirtualClock(loop)
    ex = Exchange(venue_config(**venue), clock.ms, random.Random(1))
    sim = Sim(loop, clock, ex, SimVenue(ex, ME, clock, rate_limit_per_minute=rate_limit,
                                        latency_s=latency_s))

    async def main() -> Any:
        await sim.venue.start()
        try:
            return await body(sim)
        finally:
            await sim.venue.close()

    return run_virtual(main(), loop)


def taker_buys(sim: Sim, qty: str, account: str = "taker") -> list:
    sim.ex.open_account(account)
    _, fills = sim.ex.place_order(account, X, OrderRequest(Side.BUY, D(qty),
                                                           type=OrderType.MARKET))
    return fills


# --- the protocol ------------------------------------------------------------------------


def test_it_is_the_engines_venue():
    async def body(sim: Sim) -> None:
        assert isinstance(sim.venue, Venue)
        assert isinstance(sim.venue.reference(X), ReferenceFeed)
        (market,) = await sim.venue.markets()
        assert (market.market_id, market.tick_size, market.step_size, market.min_quantity) \
            == (X, D("0.01"), D("1"), D("1"))
        assert (market.maker_fee_bps, market.taker_fee_bps) == (D("1"), D("5"))
        assert market.trading
        assert market.index_price == D("100")
        assert (market.price_band_low, market.price_band_high) == (D("50"), D("150"))
        balances = await sim.venue.balances()
        assert balances.equity == balances.wallet_balance == D("100000")
        assert sim.venue.account().balances == balances
        assert await sim.venue.positions() == []
        assert await sim.venue.open_orders() == []
        assert sim.venue.account().trusted and sim.venue.book(X).trusted
        assert {h.name for h in sim.venue.health()} == {"user", f"book:{X}"}

    simulate(body)


def test_it_takes_over_the_exchanges_reports_until_closed():
    loop = VirtualLoop()
    clock = VirtualClock(loop)
    ex = Exchange(venue_config(), clock.ms, random.Random(1))
    venue = SimVenue(ex, ME, clock)
    assert ex.sink is not None
    assert ME in ex.accounts  # the desk's account is opened
    run_virtual(venue.close(), loop)
    assert ex.sink is None


# --- ladders and the account view ---------------------------------------------------------


def test_a_bulk_quote_rests_a_ladder_the_account_shows_at_once_and_cancel_all_clears():
    async def body(sim: Sim) -> None:
        v = sim.venue
        res = await v.bulk_quote(X, "q1", LADDER)
        orders = v.account().orders
        assert res.quote_id == "q1"
        assert res.rejected == () and res.cancelled == ()
        assert len(res.accepted) == 4
        assert {o.order_id for o in res.accepted} == set(orders)
        assert sorted((o.client_order_id, o.side, o.price, o.remaining_quantity, o.status)
                      for o in orders.values()) == [
            ("q-a1", Side.SELL, D("100.50"), D(2), OrderStatus.OPEN),
            ("q-a2", Side.SELL, D("101.00"), D(2), OrderStatus.OPEN),
            ("q-b1", Side.BUY, D("99.50"), D(2), OrderStatus.OPEN),
            ("q-b2", Side.BUY, D("99.00"), D(2), OrderStatus.OPEN),
        ]
        assert all(o.quote_id == "q1" and o.post_only for o in orders.values())
        assert {o.order_id for o in await v.open_orders(X)} == set(orders)

        book = v.book(X)
        assert book.best_bid() == r.BookLevel(D("99.50"), D(2))
        assert book.best_ask() == r.BookLevel(D("100.50"), D(2))
        assert book.mid() == D("100.00")
        assert book.levels(True, 5) == [r.BookLevel(D("99.50"), D(2)),
                                        r.BookLevel(D("99.00"), D(2))]

        # a replace (cancelAll) takes the old ladder away in the same call
        first = set(orders)
        res2 = await v.bulk_quote(X, "q2", LADDER[:2])
        assert set(res2.cancelled) == first
        assert set(v.account().orders) == {o.order_id for o in res2.accepted}
        assert book.best_ask() is None

        cancelled = await v.cancel_all(X)
        assert set(cancelled) == {o.order_id for o in res2.accepted}
        assert v.account().orders == {}
        assert await v.open_orders() == []
        assert book.best_bid() is None and book.mid() is None
        assert sim.ex.accounts[ME].open_orders == {}

    simulate(body)


def test_place_and_cancel_one_order():
    async def body(sim: Sim) -> None:
        v = sim.venue
        placed = await v.place_order(r.OrderRequest(X, Side.BUY, D(3), price=D("98.00"),
                                                     client_order_id="one"))
        assert placed.status is OrderStatus.OPEN
        assert v.account().orders[placed.order_id].price == D("98.00")
        gone = await v.cancel_order(placed.order_id)
        assert gone.status is OrderStatus.CANCELLED
        assert v.account().orders == {}

    simulate(body)


def test_a_preview_prices_the_ladder_without_placing_it():
    async def body(sim: Sim) -> r.Preview:
        preview = await sim.venue.preview_quotes(X, LADDER)
        assert sim.venue.account().orders == {}
        assert sim.ex.orders == {}
        return preview

    preview = simulate(body)
    assert preview.approved and preview.reason is None
    assert preview.notional == D("800.00")  # 2 × (99.50 + 99.00 + 100.50 + 101.00)
    assert preview.est_fee == D("0.08")  # 1 bps maker
    assert preview.fee_role is Liquidity.MAKER
    assert preview.margin_required > 0

    refused = simulate(body, starting_balance=D("1"))
    assert not refused.approved
    assert refused.reason is not None and refused.reason.startswith("INSUFFICIENT_MARGIN")


# --- fills ------------------------------------------------------------------------------------


def test_a_takers_market_order_fills_us_and_listeners_hear_on_the_next_turn():
    async def body(sim: Sim) -> None:
        v = sim.venue
        heard: list[r.Fill] = []
        v.on_fill(heard.append)
        res = await v.bulk_quote(X, "q1", LADDER)
        ask1, ask2 = (o.order_id for o in sorted(res.accepted, key=lambda o: o.price or 0)
                      if o.side is Side.SELL)
        now = sim.loop.time()

        fills = taker_buys(sim, "3")  # 2 at 100.50, then 1 at 101.00
        assert len(fills) == 2
        assert heard == []  # not from inside the exchange's call
        # the account view already follows the exchange
        orders = v.account().orders
        assert ask1 not in orders
        assert orders[ask2].filled_quantity == D(1)
        assert orders[ask2].remaining_quantity == D(1)
        assert orders[ask2].status is OrderStatus.PARTIALLY_FILLED
        assert v.account().positions[X].quantity == D(-3)
        (position,) = await v.positions()
        assert position.quantity == D(-3)
        assert position.entry_price == pytest.approx(D("100.6666667"))  # (2·100.50 + 101)/3
        assert position.realized_pnl == 0

        await asyncio.sleep(0)
        assert sim.loop.time() == now  # one turn, no time
        assert all(isinstance(f, r.Fill) for f in heard)
        assert [(f.order_id, f.client_order_id, f.quote_id, f.side, f.price, f.quantity,
                 f.liquidity) for f in heard] == [
            (ask1, "q-a1", "q1", Side.SELL, D("100.50"), D(2), Liquidity.MAKER),
            (ask2, "q-a2", "q1", Side.SELL, D("101.00"), D(1), Liquidity.MAKER),
        ]
        assert heard[0].fee == D("100.50") * 2 * D("0.0001")  # 1 bps maker fee
        assert heard[0].created_at == sim.clock.ms()
        assert heard[0].market_id == X
        assert len({f.fill_id for f in heard}) == 2

    simulate(body)


def test_only_the_desks_own_fills_are_delivered():
    async def body(sim: Sim) -> None:
        heard: list[r.Fill] = []
        sim.venue.on_fill(heard.append)
        sim.ex.open_account("maker")
        sim.ex.place_order("maker", X, OrderRequest(Side.SELL, D(1), D("100.10")))
        assert len(taker_buys(sim, "1")) == 1
        await asyncio.sleep(0)
        assert heard == []

    simulate(body)


def test_every_listener_hears_every_fill_in_order():
    async def body(sim: Sim) -> None:
        a: list[str] = []
        b: list[str] = []
        sim.venue.on_fill(lambda f: a.append(f.fill_id))
        sim.venue.on_fill(lambda f: b.append(f.fill_id))
        await sim.venue.bulk_quote(X, "q1", LADDER)
        taker_buys(sim, "4")
        await asyncio.sleep(0)
        assert a == b
        assert len(a) == 2
        assert sim.venue.calls == 1  # the taker's order is not a call of ours

    simulate(body)


def test_closing_the_position_returns_its_fills():
    async def body(sim: Sim) -> None:
        v = sim.venue
        await v.bulk_quote(X, "q1", LADDER)
        taker_buys(sim, "2")  # we are short 2
        sim.ex.open_account("maker")
        sim.ex.place_order("maker", X, OrderRequest(Side.SELL, D(5), D("100.20")))
        await v.cancel_all()
        result = await v.close_position(X)
        assert [(f.side, f.price, f.quantity, f.liquidity) for f in result.fills] == [
            (Side.BUY, D("100.20"), D(2), Liquidity.TAKER)]
        assert result.order.reduce_only
        assert await v.positions() == []
        with pytest.raises(de.NotFoundError):
            await v.close_position(X)  # nothing left to close

    simulate(body)


# --- refusals as typed errors ------------------------------------------------------------------


def test_a_post_only_level_that_would_cross_is_rejected_alone():
    async def body(sim: Sim) -> None:
        v = sim.venue
        sim.ex.open_account("maker")
        sim.ex.place_order("maker", X, OrderRequest(Side.SELL, D(1), D("100.00")))
        crossing = r.QuoteLevel(Side.BUY, D("100.00"), D(1), "q-cross")
        res = await v.bulk_quote(X, "q1", (crossing, *LADDER))
        (reject,) = res.rejected
        assert isinstance(reject, r.LevelReject)
        assert reject.client_order_id == "q-cross"
        assert reject.code == "POST_ONLY_WOULD_CROSS"
        assert de.REJECTS[reject.code] is de.PostOnlyWouldCrossError
        assert len(res.accepted) == 4
        assert "q-cross" not in {o.client_order_id for o in v.account().orders.values()}

        with pytest.raises(de.PostOnlyWouldCrossError) as info:
            await v.place_order(r.OrderRequest(X, Side.BUY, D(1), price=D("100.00"),
                                               post_only=True))
        assert info.value.code == "POST_ONLY_WOULD_CROSS"
        assert info.value.status == 422
        assert isinstance(info.value, de.BusinessReject)

    simulate(body)


def test_a_tiny_balance_is_insufficient_margin_and_changes_nothing():
    async def body(sim: Sim) -> None:
        v = sim.venue
        with pytest.raises(de.InsufficientMarginError) as info:
            await v.bulk_quote(X, "q1", LADDER)
        err = info.value
        assert err.code == "INSUFFICIENT_MARGIN" and err.status == 422
        assert err.required_margin is not None and err.available_margin is not None
        assert err.required_margin > err.available_margin
        assert v.account().orders == {}
        assert sim.ex.orders == {}
        with pytest.raises(de.InsufficientMarginError):
            await v.place_order(r.OrderRequest(X, Side.SELL, D(1), price=D("101.00")))

    simulate(body, starting_balance=D("1"))


def test_an_unknown_market_or_order_is_not_found():
    async def body(sim: Sim) -> None:
        v = sim.venue
        calls = [
            lambda: v.bulk_quote("NOPE-PERP", "q1", LADDER),
            lambda: v.place_order(r.OrderRequest("NOPE-PERP", Side.BUY, D(1),
                                                 price=D("1.00"))),
            lambda: v.cancel_all("NOPE-PERP"),
            lambda: v.cancel_order("no-such-order"),
            lambda: v.close_position("NOPE-PERP"),
            lambda: v.preview_quotes("NOPE-PERP", LADDER),
            lambda: v.traded_volume("NOPE-PERP"),
        ]
        for call in calls:
            with pytest.raises(de.NotFoundError) as info:
                await call()
            assert info.value.code == "NOT_FOUND" and info.value.status == 404

    simulate(body)


@pytest.mark.parametrize(("request_", "error", "code"), [
    (r.OrderRequest(X, Side.BUY, D(1), price=D("99.505")), de.InvalidTickError,
     "INVALID_TICK"),
    (r.OrderRequest(X, Side.BUY, D("1.5"), price=D("99.50")), de.InvalidStepError,
     "INVALID_STEP"),
    (r.OrderRequest(X, Side.BUY, D(1), price=D("200.00")), de.PriceOutOfBandError,
     "PRICE_OUT_OF_BAND"),
    (r.OrderRequest(X, Side.SELL, D(1), price=D("101.00"), reduce_only=True),
     de.ReduceOnlyError, "REDUCE_ONLY_WOULD_INCREASE"),
    (r.OrderRequest(X, Side.BUY, D(1)), de.ValidationError, "VALIDATION"),  # no price
    (r.OrderRequest(X, Side.BUY, D(1), price=D("99.00"), client_order_id="q-b1"),
     de.DuplicateClientOrderIdError, "DUPLICATE_CLIENT_ORDER_ID"),
])
def test_each_refusal_is_the_clients_typed_error(request_, error, code):
    async def body(sim: Sim) -> None:
        await sim.venue.bulk_quote(X, "q1", LADDER)
        with pytest.raises(error) as info:
            await sim.venue.place_order(request_)
        assert info.value.code == code
        assert isinstance(info.value, de.VenueReject)

    simulate(body)


def test_a_halted_market_refuses_orders():
    async def body(sim: Sim) -> None:
        sim.ex.set_halted(X, True)
        with pytest.raises(de.MarketHaltedError):
            await sim.venue.bulk_quote(X, "q1", LADDER)
        (market,) = await sim.venue.markets()
        assert not market.trading

    simulate(body)


# --- the rate limit, on virtual time -----------------------------------------------------------


def test_over_the_rate_limit_calls_are_refused_until_the_window_turns():
    async def body(sim: Sim) -> None:
        v = sim.venue
        assert v.rate_limit_wait_s() == 0.0
        await v.bulk_quote(X, "q1", LADDER)
        await v.bulk_quote(X, "q2", LADDER)
        assert v.rate_limit_wait_s() == 0.0  # one call left
        await v.bulk_quote(X, "q3", LADDER)
        # the virtual clock starts on a minute boundary: the window has 60 s to run
        assert v.rate_limit_wait_s() == 60.0
        with pytest.raises(de.RateLimitedError) as info:
            await v.bulk_quote(X, "q4", LADDER)
        assert info.value.code == "ORDER_RATE_LIMIT" and info.value.status == 429
        assert info.value.retry_after_s == 60.0
        with pytest.raises(de.RateLimitedError):
            await v.place_order(r.OrderRequest(X, Side.BUY, D(1), price=D("90.00")))
        assert {o.quote_id for o in v.account().orders.values()} == {"q3"}

        # reads are not on the order path, and cancel-all is counted but never refused
        await v.balances()
        await v.open_orders()
        assert len(await v.cancel_all()) == 4
        assert v.account().orders == {}

        await asyncio.sleep(20)
        assert v.rate_limit_wait_s() == 40.0
        await asyncio.sleep(info.value.retry_after_s - 20)  # as the engine would wait
        assert v.rate_limit_wait_s() == 0.0
        res = await v.bulk_quote(X, "q5", LADDER)
        assert len(res.accepted) == 4

    simulate(body, rate_limit=3)


def test_the_rate_limit_defaults_to_the_venues_setting():
    async def body(sim: Sim) -> None:
        assert sim.venue.limiter.limit == 2
        await sim.venue.bulk_quote(X, "q1", LADDER)
        await sim.venue.bulk_quote(X, "q2", LADDER)
        assert sim.venue.rate_limit_wait_s() > 0
        with pytest.raises(de.RateLimitedError):
            await sim.venue.bulk_quote(X, "q3", LADDER)

    simulate(body, rate_limit_per_minute=2)


# --- the reference feed ---------------------------------------------------------------------------


def test_the_reference_feed_publishes_only_a_new_index_and_ages_on_virtual_time():
    async def body(sim: Sim) -> None:
        v = sim.venue
        feed = v.reference(X)
        told: list[float] = []
        feed.on_update(lambda: told.append(sim.loop.time()))
        assert feed.market_id == X
        assert feed.price() == D("100")
        assert feed.price_age_s() == 0.0

        v.publish()
        assert told == []  # start() published the first index already

        await asyncio.sleep(2.5)
        assert feed.price_age_s() == 2.5
        assert feed.health().last_event_age_s == 2.5
        assert feed.health().state is r.FeedState.LIVE
        v.publish()
        assert told == []  # the index did not change: nothing to tell

        sim.ex.set_index(X, D("101.25"))
        assert told == []  # the run publishes after each step, not the exchange
        v.publish()
        assert told == [2.5]
        assert feed.price() == D("101.25")
        assert feed.price_age_s() == 0.0
        v.publish()
        v.publish()
        assert told == [2.5]  # once per new index

        await asyncio.sleep(0.5)
        sim.ex.set_index(X, D("101.25"))  # the same price, vouched for again
        v.publish()
        assert told == [2.5, 3.0]
        assert feed.price_age_s() == 0.0

    simulate(body)


def test_a_new_index_in_the_same_millisecond_is_still_published():
    async def body(sim: Sim) -> None:
        told: list[Decimal | None] = []
        feed = sim.venue.reference(X)
        feed.on_update(lambda: told.append(feed.price()))
        sim.ex.set_index(X, D("103.00"))  # virtual time has not moved since start()
        sim.venue.publish()
        assert told == [D("103.00")]

    simulate(body)


def test_every_listener_of_the_feed_is_told():
    async def body(sim: Sim) -> None:
        a: list[int] = []
        b: list[int] = []
        sim.venue.reference(X).on_update(lambda: a.append(1))
        sim.venue.reference(X).on_update(lambda: b.append(1))
        await asyncio.sleep(0.1)
        sim.ex.set_index(X, D("99.00"))
        sim.venue.publish()
        assert a == b == [1]

    simulate(body)


# --- latency ----------------------------------------------------------------------------------


def test_latency_delays_every_call_by_that_much_virtual_time():
    async def body(sim: Sim) -> None:
        v, loop = sim.venue, sim.loop
        assert loop.time() == 0.0
        res = await v.bulk_quote(X, "q1", LADDER)
        assert loop.time() == 0.25
        # the exchange saw the call when it arrived, not when it was sent
        assert sim.ex.orders[res.accepted[0].order_id].created_at == EPOCH_MS + 250

        await v.balances()
        assert loop.time() == 0.5
        await v.open_orders()
        assert loop.time() == 0.75

        # calls in flight together overlap: the delay is not a queue
        await asyncio.gather(v.positions(), v.cancel_all(X), v.markets())
        assert loop.time() == 1.0
        assert v.account().orders == {}

        # the live views are not calls: no delay
        v.account()
        v.book(X).mid()
        v.reference(X).price()
        v.rate_limit_wait_s()
        assert loop.time() == 1.0

    simulate(body, latency_s=0.25)


def test_without_latency_calls_take_no_virtual_time():
    async def body(sim: Sim) -> None:
        await sim.venue.bulk_quote(X, "q1", LADDER)
        await sim.venue.balances()
        await sim.venue.cancel_all()
        assert sim.loop.time() == 0.0

    simulate(body)
