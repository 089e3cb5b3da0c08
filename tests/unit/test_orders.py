"""Order entry on the exchange core: matching, time in force, flags, validation, cancels.

The `exchange` fixture has the simulation off and two funded accounts, `mm` and
`taker` (100000 USD each). BTC-PERP: tick 0.1, step 0.001, min 0.001, index 64000,
band +-5% = 60800..67200.
"""

from __future__ import annotations

import random

import pytest

from desk.domain import OrderStatus, OrderType, Side, TimeInForce
from desk.venue.config import MarketConfig, MarketSim, VenueConfig
from desk.venue.errors import VenueError
from desk.venue.exchange import Exchange, OrderRequest
from tests.unit.exchange_helpers import BTC, ETH, D, depth, limit, market, refused, snapshot

# --- resting and matching -----------------------------------------------------------------


def test_limit_order_rests(exchange):
    order, fills = exchange.place_order("mm", BTC, limit(Side.BUY, "1", "63990",
                                                          client_order_id="b1"))
    assert fills == []
    assert order.status is OrderStatus.OPEN
    assert order.type is OrderType.LIMIT and order.tif is TimeInForce.GTC
    assert order.price_ticks == 639900 and order.qty == 1000 and order.filled == 0
    assert depth(exchange) == ([(D("63990"), D("1"))], [])
    mm = exchange.accounts["mm"]
    assert mm.open_buy[BTC] == 1000
    assert mm.open_orders == {order.order_id: order}
    assert mm.client_ids == {"b1": order.order_id}
    assert exchange.orders[order.order_id] is order
    assert exchange.counters["orders"] == 1


def test_limit_orders_match_at_maker_price(exchange):
    ask, _ = exchange.place_order("mm", BTC, limit(Side.SELL, "1", "64000"))
    # the taker bids higher (64010) but trades at the resting price 64000
    bid, fills = exchange.place_order("taker", BTC, limit(Side.BUY, "1", "64010"))
    assert len(fills) == 1
    f = fills[0]
    assert (f.price, f.quantity, f.side, f.order_id) == (D("64000"), D("1"), Side.BUY,
                                                          bid.order_id)
    assert bid.status is OrderStatus.FILLED and bid.remaining == 0
    assert ask.status is OrderStatus.FILLED
    assert depth(exchange) == ([], [])
    assert exchange.orders == {}
    assert exchange.accounts["mm"].open_orders == {}
    assert exchange.accounts["mm"].open_sell[BTC] == 0
    assert exchange.accounts["taker"].qty(BTC) == 1000
    assert exchange.accounts["mm"].qty(BTC) == -1000
    assert exchange.counters["fills"] == 2  # one per side
    assert exchange.markets[BTC].last == D("64000")


def test_partial_fills_of_maker_and_taker(exchange):
    ask, _ = exchange.place_order("mm", BTC, limit(Side.SELL, "1", "64000"))
    _, fills = exchange.place_order("taker", BTC, limit(Side.BUY, "0.4", "64000"))
    assert [f.quantity for f in fills] == [D("0.4")]
    assert ask.status is OrderStatus.PARTIALLY_FILLED
    assert (ask.filled, ask.remaining) == (400, 600)
    assert depth(exchange)[1] == [(D("64000"), D("0.6"))]
    assert exchange.accounts["mm"].open_sell[BTC] == 600
    # the taker now wants 1: takes the last 0.6 and rests 0.4 at 64000
    bid, fills = exchange.place_order("taker", BTC, limit(Side.BUY, "1", "64000"))
    assert [f.quantity for f in fills] == [D("0.6")]
    assert ask.status is OrderStatus.FILLED
    assert bid.status is OrderStatus.PARTIALLY_FILLED
    assert (bid.filled, bid.remaining) == (600, 400)
    assert depth(exchange) == ([(D("64000"), D("0.4"))], [])
    assert exchange.accounts["taker"].open_buy[BTC] == 400
    assert exchange.accounts["taker"].qty(BTC) == 1000


def test_market_order_walks_several_levels(exchange):
    for price, qty in (("64000", "0.5"), ("64010", "0.5"), ("64020", "1")):
        exchange.place_order("mm", BTC, limit(Side.SELL, qty, price))
    order, fills = exchange.place_order("taker", BTC, market(Side.BUY, "1.2"))
    # 0.5 @ 64000, 0.5 @ 64010, 0.2 @ 64020
    assert [(f.price, f.quantity) for f in fills] == [
        (D("64000"), D("0.5")), (D("64010"), D("0.5")), (D("64020"), D("0.2"))]
    assert order.status is OrderStatus.FILLED
    assert order.tif is TimeInForce.IOC  # a market order never rests
    assert order.price_ticks == 0
    assert depth(exchange)[1] == [(D("64020"), D("0.8"))]
    # average entry = (0.5*64000 + 0.5*64010 + 0.2*64020) / 1.2 = 76809 / 1.2 = 64007.5
    pos = exchange.accounts["taker"].positions[BTC]
    assert pos.qty == 1200
    assert pos.entry == D("64007.5")


def test_market_order_remainder_is_cancelled(exchange):
    exchange.place_order("mm", BTC, limit(Side.SELL, "0.5", "64000"))
    order, fills = exchange.place_order("taker", BTC, market(Side.BUY, "1"))
    assert [f.quantity for f in fills] == [D("0.5")]
    assert order.status is OrderStatus.CANCELLED
    assert (order.filled, order.remaining) == (500, 500)
    assert depth(exchange) == ([], [])
    assert exchange.accounts["taker"].open_orders == {}
    assert order.order_id not in exchange.orders


def test_market_order_on_empty_book_is_cancelled(exchange):
    order, fills = exchange.place_order("taker", BTC, market(Side.SELL, "1"))
    assert fills == []
    assert order.status is OrderStatus.CANCELLED and order.filled == 0
    assert exchange.accounts["taker"].closed_orders[-1] is order


def test_market_order_does_not_trade_beyond_the_band(exchange):
    exchange.place_order("mm", BTC, limit(Side.SELL, "0.5", "67200"))  # at the band edge
    exchange.set_index(BTC, D("63000"))  # band now 59850..66150: the ask is outside
    order, fills = exchange.place_order("taker", BTC, market(Side.BUY, "0.5"))
    assert fills == []
    assert order.status is OrderStatus.CANCELLED


def test_ioc_limit_remainder_cancelled(exchange):
    exchange.place_order("mm", BTC, limit(Side.SELL, "0.5", "64000"))
    exchange.place_order("mm", BTC, limit(Side.SELL, "0.5", "64010"))
    order, fills = exchange.place_order(
        "taker", BTC, limit(Side.BUY, "1", "64000", tif=TimeInForce.IOC))
    assert [(f.price, f.quantity) for f in fills] == [(D("64000"), D("0.5"))]
    assert order.status is OrderStatus.CANCELLED
    assert order.filled == 500
    # nothing of the IOC rests; the 64010 ask is untouched
    assert depth(exchange) == ([], [(D("64010"), D("0.5"))])


def test_fok_all_or_nothing(exchange):
    exchange.place_order("mm", BTC, limit(Side.SELL, "0.5", "64000"))
    exchange.place_order("mm", BTC, limit(Side.SELL, "0.5", "64010"))
    before = depth(exchange)
    # only 0.5 is available at <= 64000: the FOK does nothing at all
    order, fills = exchange.place_order(
        "taker", BTC, limit(Side.BUY, "1", "64000", tif=TimeInForce.FOK))
    assert fills == []
    assert order.status is OrderStatus.CANCELLED and order.filled == 0
    assert depth(exchange) == before
    assert exchange.accounts["taker"].qty(BTC) == 0
    # up to 64010 there is 1: the FOK fills completely
    order, fills = exchange.place_order(
        "taker", BTC, limit(Side.BUY, "1", "64010", tif=TimeInForce.FOK))
    assert [(f.price, f.quantity) for f in fills] == [(D("64000"), D("0.5")),
                                                       (D("64010"), D("0.5"))]
    assert order.status is OrderStatus.FILLED
    assert depth(exchange) == ([], [])


def test_fok_market_order(exchange):
    exchange.place_order("mm", BTC, limit(Side.BUY, "0.3", "63990"))
    order, fills = exchange.place_order("taker", BTC, market(Side.SELL, "0.5",
                                                             tif=TimeInForce.FOK))
    assert fills == [] and order.status is OrderStatus.CANCELLED
    assert order.tif is TimeInForce.FOK
    assert depth(exchange)[0] == [(D("63990"), D("0.3"))]
    order, fills = exchange.place_order("taker", BTC, market(Side.SELL, "0.3",
                                                             tif=TimeInForce.FOK))
    assert order.status is OrderStatus.FILLED and len(fills) == 1


def test_fok_does_not_count_own_resting_orders(exchange):
    exchange.place_order("taker", BTC, limit(Side.SELL, "0.5", "64000"))
    exchange.place_order("mm", BTC, limit(Side.SELL, "0.5", "64000"))
    before = snapshot(exchange)
    order, fills = exchange.place_order(
        "taker", BTC, limit(Side.BUY, "1", "64000", tif=TimeInForce.FOK))
    assert fills == [] and order.status is OrderStatus.CANCELLED
    # the taker's own ask was not self-trade-cancelled by a FOK that did not execute
    assert snapshot(exchange)[0] == before[0]


# --- post-only and reduce-only ---------------------------------------------------------------


def test_post_only_would_cross_is_rejected_and_book_unchanged(exchange):
    exchange.place_order("mm", BTC, limit(Side.SELL, "1", "64000"))
    rejects = exchange.counters["rejects"]
    err = refused(exchange, "POST_ONLY_WOULD_CROSS", exchange.place_order, "taker", BTC,
                  limit(Side.BUY, "1", "64000", post_only=True))
    assert err.status == 422
    assert err.details == {"price": "64000"}
    assert exchange.counters["rejects"] == rejects + 1
    refused(exchange, "POST_ONLY_WOULD_CROSS", exchange.place_order, "taker", BTC,
            limit(Side.BUY, "1", "64100", post_only=True))
    # one tick below the ask it rests as a maker
    order, fills = exchange.place_order("taker", BTC, limit(Side.BUY, "1", "63999.9",
                                                            post_only=True))
    assert fills == [] and order.status is OrderStatus.OPEN
    assert depth(exchange) == ([(D("63999.9"), D("1"))], [(D("64000"), D("1"))])


def test_post_only_sell_into_bid_rejected(exchange):
    exchange.place_order("mm", BTC, limit(Side.BUY, "1", "64000"))
    refused(exchange, "POST_ONLY_WOULD_CROSS", exchange.place_order, "taker", BTC,
            limit(Side.SELL, "0.1", "63900", post_only=True))


def test_reduce_only_without_position_is_rejected(exchange):
    err = refused(exchange, "REDUCE_ONLY_WOULD_INCREASE", exchange.place_order, "taker", BTC,
                  limit(Side.SELL, "1", "64000", reduce_only=True))
    assert err.status == 422
    assert err.details == {"position": "0", "quantity": "1"}


def _long_one(ex, account="taker"):
    """`account` buys 1 BTC from mm at 64000."""
    ex.place_order("mm", BTC, limit(Side.SELL, "1", "64000"))
    ex.place_order(account, BTC, limit(Side.BUY, "1", "64000"))
    assert ex.accounts[account].qty(BTC) == 1000


def test_reduce_only_that_would_increase_or_flip_is_rejected(exchange):
    _long_one(exchange)
    refused(exchange, "REDUCE_ONLY_WOULD_INCREASE", exchange.place_order, "taker", BTC,
            limit(Side.BUY, "0.1", "63000", reduce_only=True))
    err = refused(exchange, "REDUCE_ONLY_WOULD_INCREASE", exchange.place_order, "taker", BTC,
                  limit(Side.SELL, "1.5", "64100", reduce_only=True))
    assert err.details == {"position": "1", "quantity": "1.5"}
    # exactly the position is fine
    order, _ = exchange.place_order("taker", BTC, limit(Side.SELL, "1", "64100",
                                                        reduce_only=True))
    assert order.status is OrderStatus.OPEN and order.reduce_only


def test_reduce_only_resting_order_is_trimmed_as_soon_as_the_position_shrinks(exchange):
    _long_one(exchange)
    ro, _ = exchange.place_order("taker", BTC, limit(Side.SELL, "1", "64100",
                                                     reduce_only=True))
    # the position shrinks by 0.4 elsewhere: taker sells 0.4 into mm's bid
    exchange.place_order("mm", BTC, limit(Side.BUY, "0.4", "63900"))
    exchange.place_order("taker", BTC, market(Side.SELL, "0.4"))
    assert exchange.accounts["taker"].qty(BTC) == 600
    # the reduce-only ask is cut to the 0.6 it can still reduce, at once
    assert ro.qty == 600 and ro.status is OrderStatus.OPEN
    assert depth(exchange) == ([], [(D("64100"), D("0.6"))])
    assert exchange.accounts["taker"].open_sell[BTC] == 600
    # mm lifts it for 1: 0.6 trades, mm's remaining 0.4 rests
    bid, fills = exchange.place_order("mm", BTC, limit(Side.BUY, "1", "64100"))
    assert [(f.price, f.quantity) for f in fills] == [(D("64100"), D("0.6"))]
    assert exchange.accounts["taker"].qty(BTC) == 0
    assert ro.status is OrderStatus.FILLED and ro.filled == 600
    assert ro.order_id not in exchange.orders
    assert bid.status is OrderStatus.PARTIALLY_FILLED and bid.remaining == 400
    assert depth(exchange) == ([(D("64100"), D("0.4"))], [])


def test_reduce_only_order_is_cancelled_when_the_position_closes_elsewhere(exchange):
    _long_one(exchange)
    ro, _ = exchange.place_order("taker", BTC, limit(Side.SELL, "1", "64100",
                                                     reduce_only=True))
    exchange.place_order("mm", BTC, limit(Side.BUY, "1", "63900"))
    exchange.place_order("taker", BTC, market(Side.SELL, "1"))
    assert ro.status is OrderStatus.CANCELLED
    assert depth(exchange) == ([], [])
    # nothing stale is left to be charged margin or to fool a fill-or-kill buyer
    assert exchange.balances("taker")["initialMargin"] == 0
    fok, fills = exchange.place_order("mm", BTC, limit(Side.BUY, "1", "64100",
                                                       tif=TimeInForce.FOK))
    assert fills == [] and fok.status is OrderStatus.CANCELLED


def test_close_position_is_never_refused_for_margin(exchange):
    # long 1 with 2 resting sells: the close (a reduce-only market sell of 1) adds no risk
    _long_one(exchange)
    exchange.place_order("taker", BTC, limit(Side.SELL, "2", "64500"))
    exchange.place_order("mm", BTC, limit(Side.BUY, "1", "63900"))
    exchange.set_margin_factor(BTC, D("20"))  # initial margin now 100% of notional
    order, fills = exchange.close_position("taker", BTC)
    assert order.status is OrderStatus.FILLED and exchange.accounts["taker"].qty(BTC) == 0


def test_second_reduce_only_order_cancelled_when_position_is_gone(exchange):
    _long_one(exchange)
    a, _ = exchange.place_order("taker", BTC, limit(Side.SELL, "1", "64100", reduce_only=True))
    b, _ = exchange.place_order("taker", BTC, limit(Side.SELL, "1", "64200", reduce_only=True))
    order, fills = exchange.place_order("mm", BTC, market(Side.BUY, "2"))
    assert [(f.price, f.quantity) for f in fills] == [(D("64100"), D("1"))]
    assert a.status is OrderStatus.FILLED
    assert b.status is OrderStatus.CANCELLED and b.filled == 0
    assert order.status is OrderStatus.CANCELLED and order.filled == 1000
    assert depth(exchange) == ([], [])
    assert exchange.accounts["taker"].open_sell[BTC] == 0


# --- validation --------------------------------------------------------------------------


def test_invalid_tick(exchange):
    err = refused(exchange, "INVALID_TICK", exchange.place_order, "mm", BTC,
                  limit(Side.BUY, "1", "64000.05"))
    assert err.status == 422
    assert err.details == {"price": "64000.05", "tickSize": "0.1"}


def test_invalid_step(exchange):
    err = refused(exchange, "INVALID_STEP", exchange.place_order, "mm", BTC,
                  limit(Side.BUY, "0.0005", "64000"))
    assert err.status == 422
    assert err.details == {"quantity": "0.0005", "stepSize": "0.001"}
    # ETH step is 0.01
    refused(exchange, "INVALID_STEP", exchange.place_order, "mm", ETH,
            limit(Side.BUY, "1.005", "3200"))


@pytest.mark.parametrize("qty", ["0", "-1"])
def test_non_positive_quantity_is_validation(exchange, qty):
    err = refused(exchange, "VALIDATION", exchange.place_order, "mm", BTC,
                  limit(Side.BUY, qty, "64000"))
    assert err.status == 400
    assert "quantity" in err.details["fieldErrors"]


def _min_qty_exchange(clock):
    cfg = VenueConfig(sim_enabled=False, markets=[MarketConfig(
        market_id="TST-PERP", base="TST", tick_size=D("0.5"), step_size=D("0.001"),
        min_quantity=D("0.01"), initial_price=D("1000"),
        sim=MarketSim(taker_size_median=D("0.1"), maker_size=D("1")))])
    ex = Exchange(cfg, clock, random.Random(3))
    ex.open_account("a")
    return ex


def test_below_min_quantity_is_validation(clock):
    ex = _min_qty_exchange(clock)
    err = refused(ex, "VALIDATION", ex.place_order, "a", "TST-PERP",
                  limit(Side.BUY, "0.005", "1000"))
    assert err.status == 400
    assert list(err.details["fieldErrors"]) == ["quantity"]
    assert "0.01" in err.details["fieldErrors"]["quantity"][0]
    order, _ = ex.place_order("a", "TST-PERP", limit(Side.BUY, "0.01", "1000"))
    assert order.qty == 10 and order.status is OrderStatus.OPEN
    # tick 0.5: 1000.25 is off-tick
    refused(ex, "INVALID_TICK", ex.place_order, "a", "TST-PERP",
            limit(Side.BUY, "0.01", "1000.25"))


def test_limit_order_needs_a_positive_price(exchange):
    err = refused(exchange, "VALIDATION", exchange.place_order, "mm", BTC,
                  OrderRequest(Side.BUY, D("1")))
    assert "price" in err.details["fieldErrors"]
    err = refused(exchange, "VALIDATION", exchange.place_order, "mm", BTC,
                  limit(Side.BUY, "1", "0"))
    assert "price" in err.details["fieldErrors"]
    refused(exchange, "VALIDATION", exchange.place_order, "mm", BTC,
            limit(Side.BUY, "1", "-64000"))


def test_market_order_with_price_or_post_only_is_validation(exchange):
    err = refused(exchange, "VALIDATION", exchange.place_order, "mm", BTC,
                  OrderRequest(Side.BUY, D("1"), price=D("64000"), type=OrderType.MARKET))
    assert "price" in err.details["fieldErrors"]
    err = refused(exchange, "VALIDATION", exchange.place_order, "mm", BTC,
                  market(Side.BUY, "1", post_only=True))
    assert "postOnly" in err.details["fieldErrors"]


def test_price_band_is_five_percent_of_index(exchange):
    # index 64000: band = ceil(60800) .. floor(67200)
    m = exchange.markets[BTC]
    assert (m.band_low * m.tick, m.band_high * m.tick) == (D("60800"), D("67200"))
    err = refused(exchange, "PRICE_OUT_OF_BAND", exchange.place_order, "mm", BTC,
                  limit(Side.SELL, "0.001", "67200.1"))
    assert err.status == 422
    assert err.details == {"price": "67200.1", "priceBandLow": "60800",
                           "priceBandHigh": "67200"}
    refused(exchange, "PRICE_OUT_OF_BAND", exchange.place_order, "mm", BTC,
            limit(Side.BUY, "0.001", "60799.9"))
    # the edges are inside
    exchange.place_order("mm", BTC, limit(Side.SELL, "0.001", "67200"))
    exchange.place_order("mm", BTC, limit(Side.BUY, "0.001", "60800"))
    assert depth(exchange) == ([(D("60800"), D("0.001"))], [(D("67200"), D("0.001"))])


def test_price_band_follows_the_index(exchange):
    exchange.set_index(BTC, D("70000"))
    # 70000 * 0.95 = 66500, 70000 * 1.05 = 73500
    m = exchange.markets[BTC]
    assert (m.band_low * m.tick, m.band_high * m.tick) == (D("66500"), D("73500"))
    refused(exchange, "PRICE_OUT_OF_BAND", exchange.place_order, "mm", BTC,
            limit(Side.BUY, "0.001", "64000"))
    order, _ = exchange.place_order("mm", BTC, limit(Side.SELL, "0.001", "73500"))
    assert order.status is OrderStatus.OPEN


def test_price_band_rounds_inward_to_ticks(exchange):
    # index 64000.3: 0.95 * 64000.3 = 60800.285 -> ceil to 60800.3;
    # 1.05 * 64000.3 = 67200.315 -> floor to 67200.3
    exchange.set_index(BTC, D("64000.3"))
    m = exchange.markets[BTC]
    assert (m.band_low * m.tick, m.band_high * m.tick) == (D("60800.3"), D("67200.3"))
    refused(exchange, "PRICE_OUT_OF_BAND", exchange.place_order, "mm", BTC,
            limit(Side.BUY, "0.001", "60800.2"))


def test_unknown_market_is_not_found(exchange):
    err = refused(exchange, "NOT_FOUND", exchange.place_order, "mm", "DOGE-PERP",
                  limit(Side.BUY, "1", "1"))
    assert err.status == 404
    assert err.details == {"marketId": "DOGE-PERP"}


def test_unknown_account_is_not_found(exchange):
    refused(exchange, "NOT_FOUND", exchange.place_order, "ghost", BTC,
            limit(Side.BUY, "1", "64000"))


def test_halted_market_refuses_orders(exchange):
    exchange.place_order("mm", BTC, limit(Side.SELL, "1", "64000"))
    exchange.set_halted(BTC, True)
    assert exchange.markets[BTC].trading_status == "halted"
    err = refused(exchange, "MARKET_HALTED", exchange.place_order, "taker", BTC,
                  limit(Side.BUY, "1", "64000"))
    assert err.status == 409
    assert err.details == {"marketId": BTC}
    # other markets still trade
    exchange.place_order("taker", BTC.replace("BTC", "ETH"), limit(Side.BUY, "1", "3100"))
    exchange.set_halted(BTC, False)
    _, fills = exchange.place_order("taker", BTC, limit(Side.BUY, "1", "64000"))
    assert len(fills) == 1


# --- clientOrderId ---------------------------------------------------------------------------


def test_duplicate_client_order_id_of_a_live_order(exchange):
    first, _ = exchange.place_order("mm", BTC, limit(Side.BUY, "1", "63990",
                                                     client_order_id="q-1"))
    err = refused(exchange, "DUPLICATE_CLIENT_ORDER_ID", exchange.place_order, "mm", BTC,
                  limit(Side.SELL, "1", "64010", client_order_id="q-1"))
    assert err.status == 409
    assert err.details == {"clientOrderId": "q-1"}
    # also across markets: the id belongs to the account
    refused(exchange, "DUPLICATE_CLIENT_ORDER_ID", exchange.place_order, "mm", ETH,
            limit(Side.SELL, "1", "3210", client_order_id="q-1"))
    # another account may use the same id
    other, _ = exchange.place_order("taker", BTC, limit(Side.BUY, "1", "63980",
                                                        client_order_id="q-1"))
    assert other.status is OrderStatus.OPEN
    # once the first order is gone the id is free again
    exchange.cancel_order("mm", first.order_id)
    again, _ = exchange.place_order("mm", BTC, limit(Side.BUY, "1", "63990",
                                                     client_order_id="q-1"))
    assert again.order_id != first.order_id
    assert exchange.accounts["mm"].client_ids == {"q-1": again.order_id}


def test_client_order_id_free_after_the_order_filled(exchange):
    ask, _ = exchange.place_order("mm", BTC, limit(Side.SELL, "1", "64000",
                                                   client_order_id="a1"))
    exchange.place_order("taker", BTC, limit(Side.BUY, "1", "64000", client_order_id="t1"))
    assert ask.status is OrderStatus.FILLED
    assert exchange.accounts["mm"].client_ids == {}
    assert exchange.accounts["taker"].client_ids == {}  # filled at once, never live
    exchange.place_order("mm", BTC, limit(Side.SELL, "1", "64000", client_order_id="a1"))
    exchange.place_order("taker", BTC, limit(Side.BUY, "0.5", "64000", client_order_id="t1"))


def test_fill_carries_client_order_id(exchange):
    exchange.place_order("mm", BTC, limit(Side.SELL, "1", "64000", client_order_id="ask-7"))
    fills = []
    exchange.sink = lambda acct, kind, obj: fills.append(obj) if kind == "fill" else None
    exchange.place_order("taker", BTC, limit(Side.BUY, "1", "64000", client_order_id="t-7"))
    assert {(f.account_id, f.client_order_id) for f in fills} == {("mm", "ask-7"),
                                                                    ("taker", "t-7")}


# --- cancels -----------------------------------------------------------------------------


def test_cancel_order(exchange, clock):
    order, _ = exchange.place_order("mm", BTC, limit(Side.BUY, "1", "63990",
                                                     client_order_id="c"))
    clock.advance(250)
    got = exchange.cancel_order("mm", order.order_id)
    assert got is order
    assert order.status is OrderStatus.CANCELLED
    assert order.updated_at == clock()
    assert depth(exchange) == ([], [])
    mm = exchange.accounts["mm"]
    assert mm.open_orders == {} and mm.client_ids == {}
    assert mm.open_buy[BTC] == 0
    assert order.order_id not in exchange.orders
    assert exchange.counters["cancels"] == 1


def test_cancel_of_finished_order_returns_it_unchanged(exchange, clock):
    order, _ = exchange.place_order("mm", BTC, limit(Side.BUY, "1", "63990"))
    exchange.cancel_order("mm", order.order_id)
    stamp = order.updated_at
    clock.advance(1000)
    again = exchange.cancel_order("mm", order.order_id)
    assert again is order
    assert again.status is OrderStatus.CANCELLED and again.updated_at == stamp
    assert exchange.counters["cancels"] == 1
    # a filled order too
    ask, _ = exchange.place_order("mm", BTC, limit(Side.SELL, "1", "64000"))
    exchange.place_order("taker", BTC, limit(Side.BUY, "1", "64000"))
    before = snapshot(exchange)
    got = exchange.cancel_order("mm", ask.order_id)
    assert got is ask and got.status is OrderStatus.FILLED and got.filled == 1000
    assert snapshot(exchange) == before


def test_cancel_unknown_or_foreign_order_is_not_found(exchange):
    order, _ = exchange.place_order("mm", BTC, limit(Side.BUY, "1", "63990"))
    err = refused(exchange, "NOT_FOUND", exchange.cancel_order, "mm", "01NOPE")
    assert err.status == 404 and err.details == {"orderId": "01NOPE"}
    refused(exchange, "NOT_FOUND", exchange.cancel_order, "taker", order.order_id)
    assert order.status is OrderStatus.OPEN


def _three_orders(ex):
    a, _ = ex.place_order("mm", BTC, limit(Side.BUY, "0.1", "63990"), quote_id="q1")
    b, _ = ex.place_order("mm", BTC, limit(Side.SELL, "0.1", "64010"), quote_id="q2")
    c, _ = ex.place_order("mm", ETH, limit(Side.BUY, "1", "3190"), quote_id="q1")
    t, _ = ex.place_order("taker", BTC, limit(Side.BUY, "0.1", "63980"), quote_id="q1")
    return a, b, c, t


def test_cancel_all_by_market(exchange):
    a, b, c, t = _three_orders(exchange)
    ids = exchange.cancel_all("mm", BTC)
    assert sorted(ids) == sorted([a.order_id, b.order_id])
    assert c.status is OrderStatus.OPEN and t.status is OrderStatus.OPEN
    assert depth(exchange) == ([(D("63980"), D("0.1"))], [])
    assert exchange.cancel_all("mm", BTC) == []


def test_cancel_all_by_quote_id(exchange):
    a, b, c, t = _three_orders(exchange)
    ids = exchange.cancel_all("mm", quote_id="q1")
    assert sorted(ids) == sorted([a.order_id, c.order_id])
    assert b.status is OrderStatus.OPEN and t.status is OrderStatus.OPEN
    assert exchange.accounts["mm"].open_orders == {b.order_id: b}


def test_cancel_all_by_market_and_quote_id(exchange):
    a, b, c, t = _three_orders(exchange)
    assert exchange.cancel_all("mm", ETH, "q1") == [c.order_id]
    assert a.status is OrderStatus.OPEN


def test_cancel_all_unscoped(exchange):
    a, b, c, t = _three_orders(exchange)
    ids = exchange.cancel_all("mm")
    assert sorted(ids) == sorted([a.order_id, b.order_id, c.order_id])
    assert exchange.accounts["mm"].open_orders == {}
    assert all(o.status is OrderStatus.CANCELLED for o in (a, b, c))
    assert t.status is OrderStatus.OPEN
    assert exchange.counters["cancels"] == 3


def test_cancel_all_unknown_market(exchange):
    _three_orders(exchange)
    refused(exchange, "NOT_FOUND", exchange.cancel_all, "mm", "NOPE-PERP")


# --- self-trade prevention -----------------------------------------------------------------


def test_self_trade_cancels_the_resting_order(exchange):
    ask, _ = exchange.place_order("mm", BTC, limit(Side.SELL, "1", "64000"))
    bid, fills = exchange.place_order("mm", BTC, limit(Side.BUY, "1", "64000"))
    assert fills == []
    assert ask.status is OrderStatus.CANCELLED
    assert bid.status is OrderStatus.OPEN
    assert depth(exchange) == ([(D("64000"), D("1"))], [])
    assert exchange.accounts["mm"].qty(BTC) == 0
    assert exchange.accounts["mm"].open_sell[BTC] == 0


def test_self_trade_prevention_then_trades_with_others(exchange):
    exchange.open_account("mm2")
    own, _ = exchange.place_order("mm", BTC, limit(Side.SELL, "1", "64000"))
    other, _ = exchange.place_order("mm2", BTC, limit(Side.SELL, "1", "64000"))
    bid, fills = exchange.place_order("mm", BTC, limit(Side.BUY, "1", "64000"))
    assert own.status is OrderStatus.CANCELLED
    assert [(f.price, f.quantity) for f in fills] == [(D("64000"), D("1"))]
    assert other.status is OrderStatus.FILLED and bid.status is OrderStatus.FILLED
    assert exchange.accounts["mm"].qty(BTC) == 1000
    assert exchange.accounts["mm2"].qty(BTC) == -1000


# --- close_position ---------------------------------------------------------------------


def test_close_position_fully(exchange):
    _long_one(exchange)
    exchange.place_order("mm", BTC, limit(Side.BUY, "2", "63990"))
    order, fills = exchange.close_position("taker", BTC)
    assert order.type is OrderType.MARKET and order.reduce_only and order.side is Side.SELL
    assert [(f.price, f.quantity) for f in fills] == [(D("63990"), D("1"))]
    assert order.status is OrderStatus.FILLED
    taker = exchange.accounts["taker"]
    assert taker.qty(BTC) == 0
    # realized: (63990 - 64000) * 1 = -10
    assert taker.positions[BTC].realized == D("-10")
    assert depth(exchange)[0] == [(D("63990"), D("1"))]


def test_close_position_partially(exchange):
    _long_one(exchange)
    exchange.place_order("mm", BTC, limit(Side.BUY, "2", "64050"))
    order, fills = exchange.close_position("taker", BTC, D("0.4"))
    assert [(f.price, f.quantity) for f in fills] == [(D("64050"), D("0.4"))]
    taker = exchange.accounts["taker"]
    assert taker.qty(BTC) == 600
    assert taker.positions[BTC].entry == D("64000")
    # (64050 - 64000) * 0.4 = 20
    assert taker.positions[BTC].realized == D("20")


def test_close_short_position_buys(exchange):
    exchange.place_order("mm", BTC, limit(Side.BUY, "0.5", "64000"))
    exchange.place_order("taker", BTC, limit(Side.SELL, "0.5", "64000"))
    exchange.place_order("mm", BTC, limit(Side.SELL, "1", "63900"))
    order, fills = exchange.close_position("taker", BTC)
    assert order.side is Side.BUY
    assert [(f.price, f.quantity) for f in fills] == [(D("63900"), D("0.5"))]
    # short 0.5 from 64000 bought back at 63900: +50
    assert exchange.accounts["taker"].positions[BTC].realized == D("50")
    assert exchange.accounts["taker"].qty(BTC) == 0


def test_close_more_than_the_position_is_refused(exchange):
    _long_one(exchange)
    exchange.place_order("mm", BTC, limit(Side.BUY, "2", "63990"))
    refused(exchange, "REDUCE_ONLY_WOULD_INCREASE", exchange.close_position, "taker", BTC,
            D("1.5"))


def test_close_with_no_position_is_not_found(exchange):
    err = refused(exchange, "NOT_FOUND", exchange.close_position, "taker", BTC)
    assert err.status == 404 and err.details == {"marketId": BTC}
    refused(exchange, "NOT_FOUND", exchange.close_position, "taker", "NOPE-PERP")


def test_close_on_halted_market_is_refused(exchange):
    _long_one(exchange)
    exchange.set_halted(BTC, True)
    refused(exchange, "MARKET_HALTED", exchange.close_position, "taker", BTC)


def test_close_without_liquidity_leaves_position(exchange):
    _long_one(exchange)
    order, fills = exchange.close_position("taker", BTC)
    assert fills == [] and order.status is OrderStatus.CANCELLED
    assert exchange.accounts["taker"].qty(BTC) == 1000


# --- ids and counters ----------------------------------------------------------------------


def test_order_ids_are_unique_and_increasing(exchange):
    ids = [exchange.place_order("mm", BTC, limit(Side.BUY, "0.001", "63000"))[0].order_id
           for _ in range(20)]
    assert len(set(ids)) == 20
    assert ids == sorted(ids)


def test_counters(exchange):
    exchange.place_order("mm", BTC, limit(Side.SELL, "1", "64000"))
    exchange.place_order("taker", BTC, limit(Side.BUY, "0.5", "64000"))
    with pytest.raises(VenueError):
        exchange.place_order("taker", BTC, limit(Side.BUY, "0.5", "64000.01"))
    exchange.cancel_all("mm")
    assert exchange.counters == {"orders": 2, "fills": 2, "cancels": 1, "rejects": 1,
                                 "liquidations": 0}


# --- order listings and history -----------------------------------------------------------


def test_orders_of_filters(exchange):
    a, _ = exchange.place_order("mm", BTC, limit(Side.SELL, "1", "64000"))
    b, _ = exchange.place_order("mm", ETH, limit(Side.BUY, "1", "3190"))
    c, _ = exchange.place_order("mm", BTC, limit(Side.BUY, "1", "63000"))
    exchange.place_order("taker", BTC, limit(Side.BUY, "0.5", "64000"))  # a partly filled
    exchange.cancel_order("mm", c.order_id)
    assert list(exchange.orders_of("mm", None, None)) == [a, b]
    assert list(exchange.orders_of("mm", None, "open")) == [a, b]
    assert list(exchange.orders_of("mm", BTC, None)) == [a]
    assert list(exchange.orders_of("mm", None, "partially_filled")) == [a]
    assert list(exchange.orders_of("mm", None, "cancelled")) == [c]
    assert list(exchange.orders_of("mm", ETH, "cancelled")) == []
    exchange.place_order("taker", BTC, limit(Side.BUY, "0.5", "64000"))
    assert list(exchange.orders_of("mm", None, "filled")) == [a]
    assert [o.status for o in exchange.orders_of("taker", None, "filled")] == [
        OrderStatus.FILLED, OrderStatus.FILLED]


def test_closed_order_history_is_bounded(clock):
    ex = Exchange(VenueConfig(sim_enabled=False, max_closed_orders=10), clock, random.Random(1))
    ex.open_account("a")
    ids = []
    for _ in range(15):
        o, _ = ex.place_order("a", BTC, limit(Side.BUY, "0.001", "63000"))
        ex.cancel_order("a", o.order_id)
        ids.append(o.order_id)
    assert len(ex.accounts["a"].closed_orders) == 10
    assert ex.cancel_order("a", ids[-1]).status is OrderStatus.CANCELLED
    with pytest.raises(VenueError) as info:
        ex.cancel_order("a", ids[0])  # forgotten
    assert info.value.code == "NOT_FOUND"


# --- preview ----------------------------------------------------------------------------


def test_preview_maker_order_has_no_side_effects(exchange):
    before = snapshot(exchange)
    out = exchange.preview("mm", BTC, [limit(Side.BUY, "1", "63990")])
    # notional 63990; maker 2 bps -> 12.798; IM 0.05 * 64000 * 1 = 3200
    assert out == {"notional": D("63990"), "marginRequired": D("3200"), "estFee": D("12.798"),
                   "feeBps": D("2"), "feeRole": "maker", "approved": True}
    assert snapshot(exchange) == before
    assert exchange.counters["orders"] == 0


def test_preview_taker_order(exchange):
    exchange.place_order("mm", BTC, limit(Side.SELL, "1", "64000"))
    before = snapshot(exchange)
    out = exchange.preview("taker", BTC, [limit(Side.BUY, "1", "64000")])
    # crosses: taker 5 bps of 64000 = 32
    assert (out["feeRole"], out["estFee"], out["feeBps"]) == ("taker", D("32"), D("5"))
    # a market order is valued at the mark
    out = exchange.preview("taker", BTC, [market(Side.BUY, "0.5")])
    assert (out["notional"], out["estFee"], out["feeRole"]) == (D("32000"), D("16"), "taker")
    assert snapshot(exchange) == before


def test_preview_reports_the_first_problem(exchange):
    exchange.open_account("small", D("1000"))
    out = exchange.preview("small", BTC, [limit(Side.BUY, "1", "63990.05")])
    assert out["approved"] is False and out["reason"].startswith("INVALID_TICK: ")
    out = exchange.preview("small", BTC, [limit(Side.BUY, "1", "63990")])
    assert out["approved"] is False and out["reason"].startswith("INSUFFICIENT_MARGIN: ")
    assert out["marginRequired"] == D("3200")
    exchange.set_halted(BTC, True)
    out = exchange.preview("small", BTC, [limit(Side.BUY, "0.001", "63990")])
    assert out["approved"] is False and out["reason"].startswith("MARKET_HALTED: ")


# --- error bodies --------------------------------------------------------------------------


def test_venue_error_body_and_status():
    err = VenueError("INSUFFICIENT_MARGIN", "needs more", {"requiredIm": "1", "availableIm": "0"})
    assert err.status == 422
    assert err.body() == {"error": "BusinessReject", "code": "INSUFFICIENT_MARGIN",
                          "message": "needs more",
                          "details": {"requiredIm": "1", "availableIm": "0"}}
    assert VenueError("NOT_FOUND", "x").body()["details"] == {}
    with pytest.raises(ValueError):
        VenueError("NO_SUCH_CODE", "x")


@pytest.mark.parametrize(("code", "status"), [
    ("VALIDATION", 400), ("BAD_REQUEST", 400), ("UNAUTHENTICATED", 401), ("KEY_EXPIRED", 401),
    ("FORBIDDEN_SCOPE", 403), ("IP_NOT_ALLOWED", 403), ("NOT_FOUND", 404),
    ("DUPLICATE_CLIENT_ORDER_ID", 409), ("MARKET_HALTED", 409), ("KEY_REVOKED", 409),
    ("INSUFFICIENT_MARGIN", 422), ("POST_ONLY_WOULD_CROSS", 422),
    ("REDUCE_ONLY_WOULD_INCREASE", 422), ("PRICE_OUT_OF_BAND", 422), ("INVALID_TICK", 422),
    ("INVALID_STEP", 422), ("ORDER_RATE_LIMIT", 429), ("INTERNAL", 500), ("UNAVAILABLE", 503),
])
def test_error_statuses_match_the_contract(code, status):
    assert VenueError(code, "m").status == status


def test_a_preview_does_not_change_later_order_ids(clock):
    def fresh():
        ex = Exchange(VenueConfig(sim_enabled=False), clock, random.Random(1))
        ex.open_account("mm")
        return ex

    plain, previewed = fresh(), fresh()
    previewed.preview("mm", BTC, [limit(Side.BUY, "1", "63990")])
    a, _ = plain.place_order("mm", BTC, limit(Side.BUY, "1", "63990"))
    b, _ = previewed.place_order("mm", BTC, limit(Side.BUY, "1", "63990"))
    assert a.order_id == b.order_id
