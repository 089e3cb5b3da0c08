"""Fees from the tier table, realized/unrealized PnL, entry prices and sink events.

Tier 0: maker 2 bps, taker 5 bps; tier 1 from 1,000,000 of 30-day volume: 1 / 4 bps.
"""

from __future__ import annotations

import random
from decimal import Decimal

from desk.domain import Liquidity, OrderStatus, OrderType, Side
from desk.venue.accounts import Position
from desk.venue.config import FeeTier, VenueConfig
from desk.venue.exchange import DAY_MS, Exchange, OrderRequest

D = Decimal
BTC = "BTC-PERP"


def limit(side, qty, price, **kw):
    return OrderRequest(side=side, quantity=D(qty), price=D(price), **kw)


def market(side, qty, **kw):
    return OrderRequest(side=side, quantity=D(qty), type=OrderType.MARKET, **kw)


def trade(ex, maker, taker, maker_side, qty, price):
    """`maker` rests `qty` at `price`, `taker` takes it all with a limit order."""
    ex.place_order(maker, BTC, limit(maker_side, qty, price))
    _, fills = ex.place_order(taker, BTC, limit(maker_side.opposite, qty, price))
    return fills


# --- fees ------------------------------------------------------------------------------


def test_maker_and_taker_fees_tier_0(exchange):
    fills = []
    exchange.sink = lambda a, kind, obj: fills.append(obj) if kind == "fill" else None
    trade(exchange, "mm", "taker", Side.SELL, "1", "64000")
    maker, taker = fills
    # maker: 64000 * 2 / 10000 = 12.8; taker: 64000 * 5 / 10000 = 32
    assert (maker.account_id, maker.liquidity, maker.fee) == ("mm", Liquidity.MAKER, D("12.8"))
    assert (taker.account_id, taker.liquidity, taker.fee) == ("taker", Liquidity.TAKER, D("32"))
    assert exchange.accounts["mm"].wallet == D("99987.2")
    assert exchange.accounts["taker"].wallet == D("99968")
    assert exchange.accounts["mm"].fees_paid == D("12.8")
    assert exchange.accounts["taker"].fees_paid == D("32")
    assert exchange.balances("taker")["realizedPnl"] == 0  # fees are not realized PnL


def test_fees_over_several_levels(exchange):
    for price, qty in (("64000", "0.5"), ("64010", "0.5"), ("64020", "1")):
        exchange.place_order("mm", BTC, limit(Side.SELL, qty, price))
    _, fills = exchange.place_order("taker", BTC, market(Side.BUY, "1.2"))
    # notional 32000 + 32005 + 12804 = 76809; taker 5 bps = 38.4045; maker 2 bps = 15.3618
    assert [f.fee for f in fills] == [D("16"), D("16.0025"), D("6.402")]
    assert exchange.accounts["taker"].wallet == D("99961.5955")
    assert exchange.accounts["mm"].wallet == D("99984.6382")


def test_fee_tier_upgrades_after_volume(exchange, clock):
    taker = exchange.accounts["taker"]
    assert exchange.fee_tier(taker).tier == 0
    # 15.625 BTC * 64000 = 1,000,000 of volume for both sides
    fills = trade(exchange, "mm", "taker", Side.SELL, "15.625", "64000")
    assert fills[0].fee == D("500")  # taker 5 bps of 1,000,000
    assert exchange.accounts["mm"].fees_paid == D("200")
    assert exchange.volume_30d(taker) == D("1000000")
    assert exchange.fee_tier(taker).tier == 1
    assert exchange.fee_tier(exchange.accounts["mm"]).tier == 1
    # next trade at tier 1: maker 1 bps -> 6.4, taker 4 bps -> 25.6
    events = []
    exchange.sink = lambda a, kind, obj: events.append(obj) if kind == "fill" else None
    trade(exchange, "mm", "taker", Side.BUY, "1", "64000")  # taker sells 1 back to mm
    assert {(f.account_id, f.fee) for f in events} == {("mm", D("6.4")), ("taker", D("25.6"))}
    # after 29 more days the volume still counts; on day 30 it has aged out
    clock.advance(29 * DAY_MS)
    assert exchange.fee_tier(taker).tier == 1
    clock.advance(DAY_MS)
    assert exchange.volume_30d(taker) == 0
    assert exchange.fee_tier(taker).tier == 0


def test_volume_just_below_a_tier_stays_in_the_lower_one(exchange):
    # 15.624 * 64000 = 999,936 < 1,000,000
    trade(exchange, "mm", "taker", Side.SELL, "15.624", "64000")
    assert exchange.volume_30d(exchange.accounts["taker"]) == D("999936")
    assert exchange.fee_tier(exchange.accounts["taker"]).tier == 0


def test_negative_maker_fee_is_a_rebate(clock):
    tiers = [FeeTier(tier=0, min_volume_30d=D(0), maker_fee_bps=D("-1"), taker_fee_bps=D("3"))]
    ex = Exchange(VenueConfig(sim_enabled=False, fee_tiers=tiers), clock, random.Random(1))
    ex.open_account("mm")
    ex.open_account("taker")
    trade(ex, "mm", "taker", Side.SELL, "1", "64000")
    # maker earns 64000 * 1 bps = 6.4; taker pays 3 bps = 19.2
    assert ex.accounts["mm"].wallet == D("100006.4")
    assert ex.accounts["mm"].fees_paid == D("-6.4")
    assert ex.accounts["taker"].wallet == D("99980.8")


# --- PnL ------------------------------------------------------------------------------


def test_realized_pnl_on_close(exchange):
    trade(exchange, "mm", "taker", Side.SELL, "1", "64000")   # taker long 1 @ 64000, fee 32
    trade(exchange, "mm", "taker", Side.BUY, "1", "64100")    # taker sells at 64100
    taker = exchange.accounts["taker"]
    # realized (64100 - 64000) * 1 = 100; second fee 64100 * 5 bps = 32.05
    assert taker.realized == D("100")
    assert taker.positions[BTC].realized == D("100")
    assert taker.positions[BTC].qty == 0 and taker.positions[BTC].entry == 0
    assert taker.wallet == D("100035.95")
    # mm was short 1 @ 64000 and bought back at 64100: -100; fees 12.8 + 12.82
    mm = exchange.accounts["mm"]
    assert mm.realized == D("-100")
    assert mm.wallet == D("99874.38")
    b = exchange.balances("taker")
    assert b["realizedPnl"] == D("100") and b["unrealizedPnl"] == 0
    assert b["equity"] == D("100035.95")


def test_realized_pnl_on_flip(exchange):
    trade(exchange, "mm", "taker", Side.SELL, "1", "64000")   # taker long 1
    exchange.place_order("mm", BTC, limit(Side.BUY, "1.5", "64100"))
    _, fills = exchange.place_order("taker", BTC, market(Side.SELL, "1.5"))
    taker = exchange.accounts["taker"]
    pos = taker.positions[BTC]
    # closing 1: +100; the remaining 0.5 opens a short at the fill price
    assert pos.qty == -500
    assert pos.entry == D("64100")
    assert taker.realized == D("100")
    # fees: 32 + 64100 * 1.5 * 5 bps = 32 + 48.075
    assert taker.wallet == D("100019.925")
    mm = exchange.accounts["mm"]
    # mm: short 1 @ 64000 -> bought 1.5 @ 64100: -100 realized, long 0.5 @ 64100
    assert mm.positions[BTC].qty == 500 and mm.positions[BTC].entry == D("64100")
    assert mm.realized == D("-100")
    # 100000 - fees (12.8 + 96150 * 2 bps = 19.23) - 100 realized = 99867.97
    assert mm.wallet == D("99867.97")


def test_average_entry_price_and_partial_close(exchange):
    trade(exchange, "mm", "taker", Side.SELL, "1", "64000")
    trade(exchange, "mm", "taker", Side.SELL, "3", "64040")
    pos = exchange.accounts["taker"].positions[BTC]
    # (1 * 64000 + 3 * 64040) / 4 = 256120 / 4 = 64030
    assert pos.qty == 4000 and pos.entry == D("64030")
    trade(exchange, "mm", "taker", Side.BUY, "2", "64100")
    # (64100 - 64030) * 2 = 140; entry unchanged for the rest
    assert pos.qty == 2000 and pos.entry == D("64030") and pos.realized == D("140")
    trade(exchange, "mm", "taker", Side.BUY, "2", "63930")
    # (63930 - 64030) * 2 = -200 -> total -60
    assert pos.qty == 0 and pos.entry == 0 and pos.realized == D("-60")
    assert exchange.accounts["taker"].realized == D("-60")


def test_unrealized_follows_the_mark(exchange):
    trade(exchange, "mm", "taker", Side.SELL, "2", "64000")
    exchange.set_index(BTC, D("64250"))
    # taker long 2 @ 64000: (64250 - 64000) * 2 = 500; mm short 2: -500
    assert exchange.balances("taker")["unrealizedPnl"] == D("500")
    assert exchange.balances("mm")["unrealizedPnl"] == D("-500")
    assert exchange.balances("taker")["equity"] == D("100000") - D("64") + D("500")


def test_position_apply_fill_directly():
    step = D("0.001")
    p = Position(BTC)
    assert p.apply_fill(-2000, D("50000"), step) == 0          # short 2 @ 50000
    assert p.apply_fill(-1000, D("53000"), step) == 0          # short 3 @ 51000
    assert p.entry == D("51000")
    assert p.apply_fill(1000, D("50000"), step) == D("1000")   # cover 1: +1000
    assert (p.qty, p.entry) == (-2000, D("51000"))
    assert p.apply_fill(5000, D("52000"), step) == D("-2000")  # cover 2 (-2000), long 3
    assert (p.qty, p.entry) == (3000, D("52000"))
    assert p.realized == D("-1000")


# --- sink events ----------------------------------------------------------------------


def test_sink_events(exchange):
    events = []
    exchange.sink = lambda a, kind, obj: events.append((a, kind, obj))
    ask, _ = exchange.place_order("mm", BTC, limit(Side.SELL, "1", "64000"))
    assert events == [("mm", "order", ask)]
    events.clear()
    exchange.place_order("taker", BTC, market(Side.BUY, "0.4"))
    assert [(a, k) for a, k, _ in events] == [
        ("mm", "fill"), ("mm", "position"), ("mm", "order"),
        ("taker", "fill"), ("taker", "position")]
    assert events[1][2] == BTC and events[4][2] == BTC
    assert events[2][2] is ask and ask.status is OrderStatus.PARTIALLY_FILLED
    assert (events[0][2].quantity, events[0][2].liquidity) == (D("0.4"), Liquidity.MAKER)
    events.clear()
    bid, _ = exchange.place_order("taker", BTC, limit(Side.BUY, "1", "64000"))
    assert [(a, k) for a, k, _ in events] == [
        ("mm", "fill"), ("mm", "position"), ("mm", "removed"),
        ("taker", "fill"), ("taker", "position"), ("taker", "order")]
    assert events[2][2] is ask and ask.status is OrderStatus.FILLED
    assert events[5][2] is bid and bid.status is OrderStatus.PARTIALLY_FILLED
    events.clear()
    exchange.cancel_order("taker", bid.order_id)
    assert events == [("taker", "removed", bid)]
    assert bid.status is OrderStatus.CANCELLED


def test_fill_fields(exchange, clock):
    exchange.place_order("mm", BTC, limit(Side.SELL, "0.25", "64000", client_order_id="m"),
                         quote_id="qq")
    clock.advance(123)
    fills = []
    exchange.sink = lambda a, kind, obj: fills.append(obj) if kind == "fill" else None
    order, returned = exchange.place_order("taker", BTC, limit(Side.BUY, "0.25", "64000"))
    maker, taker = fills
    assert returned == [taker]
    assert taker.order_id == order.order_id and taker.quote_id is None
    assert (maker.quote_id, maker.client_order_id, maker.side) == ("qq", "m", Side.SELL)
    assert maker.created_at == taker.created_at == clock()
    assert maker.fill_id != taker.fill_id
    # fee: 16000 * 2 bps = 3.2 (maker), 16000 * 5 bps = 8 (taker)
    assert (maker.fee, taker.fee) == (D("3.2"), D("8"))


def test_market_stats_after_trades(exchange, clock):
    trade(exchange, "mm", "taker", Side.SELL, "1", "64000")
    clock.advance(60_000)
    trade(exchange, "mm", "taker", Side.SELL, "0.5", "64100")
    m = exchange.markets[BTC]
    high, low, _ = m.stats_24h(clock())
    assert (high, low) == (D("64100"), D("64000"))
    assert m.last == D("64100")
    assert exchange.open_interest(BTC) == D("1.5")
    # a day later the stats are empty
    clock.advance(24 * 60 * 60_000)
    assert m.stats_24h(clock()) == (None, None, 0)


def test_volume_24h_counts_each_trade_once(exchange, clock):
    # two trades: 1 BTC, then 0.5 BTC a minute later -> 24h volume 1.5 BTC
    # (each trade has a maker fill and a taker fill; it is still one trade of 1 BTC)
    trade(exchange, "mm", "taker", Side.SELL, "1", "64000")
    clock.advance(60_000)
    trade(exchange, "mm", "taker", Side.SELL, "0.5", "64100")
    _, _, volume = exchange.markets[BTC].stats_24h(clock())
    assert volume == D("1.5")
