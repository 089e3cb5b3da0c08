"""Liquidation: an account whose equity falls below maintenance is closed at mark."""

from __future__ import annotations

from decimal import Decimal

from desk.domain import Liquidity, OrderStatus, OrderType, Side
from desk.venue.exchange import Fill, Order, OrderRequest

D = Decimal
BTC = "BTC-PERP"
ETH = "ETH-PERP"


def limit(side, qty, price, **kw):
    return OrderRequest(side=side, quantity=D(qty), price=D(price), **kw)


def _levered_long(exchange, events):
    """`lev` (5000 USD) buys 1 BTC from mm at 64000 and rests a bid 0.1 @ 61000.

    Fee 64000 * 5 bps = 32 -> wallet 4968. IM with the bid: 0.05*64000*1.1 = 3520 <= 4968.
    """
    exchange.open_account("lev", D("5000"))
    exchange.place_order("mm", BTC, limit(Side.SELL, "1", "64000"))
    exchange.place_order("lev", BTC, limit(Side.BUY, "1", "64000"))
    bid, _ = exchange.place_order("lev", BTC, limit(Side.BUY, "0.1", "61000"))
    exchange.sink = lambda acct, kind, obj: events.append((acct, kind, obj))
    assert exchange.accounts["lev"].wallet == D("4968")
    return bid


def test_healthy_accounts_are_not_liquidated(exchange):
    events = []
    _levered_long(exchange, events)
    exchange.refresh_marks()
    assert exchange.liquidate_underwater() == []
    assert exchange.counters["liquidations"] == 0
    assert events == []


def test_underwater_long_is_closed_at_mark(exchange, clock):
    events = []
    bid = _levered_long(exchange, events)
    clock.advance(5_000)
    exchange.set_index(BTC, D("60000"))
    exchange.refresh_marks()
    m = exchange.markets[BTC]
    # the bid at 61000 is the only order: one-sided book -> mark = index = 60000
    assert m.mark == D("60000")
    b = exchange.balances("lev")
    # equity = 4968 + (60000 - 64000) * 1 = 968 < MM = 0.025 * 60000 * 1 = 1500
    assert b["equity"] == D("968") and b["maintenanceMargin"] == D("1500")

    assert exchange.liquidate_underwater() == ["lev"]

    lev = exchange.accounts["lev"]
    assert lev.qty(BTC) == 0
    assert lev.positions[BTC].entry == 0
    assert lev.realized == D("-4000")
    assert lev.wallet == D("968")  # no fee on a liquidation
    assert lev.open_orders == {}
    assert bid.status is OrderStatus.CANCELLED
    assert m.book.bids.best() is None
    assert lev.liquidations == 1
    assert exchange.counters["liquidations"] == 1
    # the liquidation order is recorded as a filled reduce-only market order
    liq = lev.closed_orders[-1]
    assert isinstance(liq, Order)
    assert (liq.side, liq.type, liq.status, liq.reduce_only, liq.quote_id) == (
        Side.SELL, OrderType.MARKET, OrderStatus.FILLED, True, "liquidation")
    assert liq.filled == 1000
    # events: the bid removed, then the fill and the position
    kinds = [(a, k) for a, k, _ in events]
    assert kinds == [("lev", "removed"), ("lev", "fill"), ("lev", "position")]
    assert events[0][2] is bid
    fill = events[1][2]
    assert isinstance(fill, Fill)
    assert (fill.side, fill.price, fill.quantity, fill.fee, fill.liquidity) == (
        Side.SELL, D("60000"), D("1"), D("0"), Liquidity.TAKER)
    assert (fill.order_id, fill.market_id, fill.created_at) == (liq.order_id, BTC, clock())
    assert events[2][2] == BTC
    # the counterparty (mm, short 1) is untouched: the venue took the other side
    assert exchange.accounts["mm"].qty(BTC) == -1000
    # nothing left to liquidate
    assert exchange.liquidate_underwater() == []
    assert exchange.counters["liquidations"] == 1


def test_underwater_short_is_closed_at_mark(exchange):
    exchange.open_account("lev", D("5000"))
    exchange.place_order("mm", BTC, limit(Side.BUY, "1", "64000"))
    exchange.place_order("lev", BTC, limit(Side.SELL, "1", "64000"))
    # wallet 4968; index 67000 -> equity 4968 - 3000 = 1968 >= MM 0.025 * 67000 = 1675
    exchange.set_index(BTC, D("67000"))
    assert exchange.liquidate_underwater() == []
    # index 67500: equity 4968 - 3500 = 1468 < 0.025 * 67500 = 1687.5
    exchange.set_index(BTC, D("67500"))
    events = []
    exchange.sink = lambda acct, kind, obj: events.append((acct, kind, obj))
    assert exchange.liquidate_underwater() == ["lev"]
    lev = exchange.accounts["lev"]
    assert lev.qty(BTC) == 0
    assert lev.realized == D("-3500")
    assert lev.wallet == D("1468")
    fills = [o for _, k, o in events if k == "fill"]
    assert [(f.side, f.price, f.quantity) for f in fills] == [(Side.BUY, D("67500"), D("1"))]


def test_equity_equal_to_maintenance_is_not_liquidated(exchange):
    events = []
    _levered_long(exchange, events)
    exchange.accounts["lev"].wallet = D("5500")
    exchange.set_index(BTC, D("60000"))
    # equity 5500 - 4000 = 1500 == MM 1500: not below
    assert exchange.liquidate_underwater() == []
    # 59999.9: equity 1499.9 < MM 1499.9975
    exchange.set_index(BTC, D("59999.9"))
    assert exchange.liquidate_underwater() == ["lev"]


def test_all_positions_of_the_account_are_closed(exchange):
    exchange.open_account("lev", D("5000"))
    exchange.place_order("mm", BTC, limit(Side.SELL, "1", "64000"))
    exchange.place_order("lev", BTC, limit(Side.BUY, "1", "64000"))
    exchange.place_order("mm", ETH, limit(Side.BUY, "1", "3200"))
    exchange.place_order("lev", ETH, limit(Side.SELL, "1", "3200"))
    eth_order, _ = exchange.place_order("lev", ETH, limit(Side.SELL, "0.5", "3300"))
    # ETH: short 1 @ 3200, fee 3200 * 5 bps = 1.6 -> wallet 5000 - 32 - 1.6 = 4966.4
    exchange.set_index(BTC, D("60000"))
    # equity 4966.4 - 4000 + 0 (ETH mark: median(-, 3300, 3200) -> ask side only -> 3200)
    assert exchange.markets[ETH].mark == D("3200")
    events = []
    exchange.sink = lambda acct, kind, obj: events.append((acct, kind, obj))
    assert exchange.liquidate_underwater() == ["lev"]
    lev = exchange.accounts["lev"]
    assert lev.qty(BTC) == 0 and lev.qty(ETH) == 0
    assert eth_order.status is OrderStatus.CANCELLED
    fills = sorted((f.market_id, f.side, f.price, f.quantity)
                   for _, k, f in events if k == "fill")
    assert fills == [(BTC, Side.SELL, D("60000"), D("1")), (ETH, Side.BUY, D("3200"), D("1"))]
    assert lev.liquidations == 1 and exchange.counters["liquidations"] == 1


def test_unlimited_accounts_are_never_liquidated(exchange):
    exchange.open_account("synthetic", D("0"), unlimited=True)
    exchange.place_order("mm", BTC, limit(Side.SELL, "5", "64000"))
    exchange.place_order("synthetic", BTC, limit(Side.BUY, "5", "64000"))
    exchange.set_index(BTC, D("40000"))
    assert exchange.liquidate_underwater() == []
    assert exchange.accounts["synthetic"].qty(BTC) == 5000


def test_accounts_without_positions_are_skipped(exchange):
    exchange.open_account("broke", D("0"))
    exchange.accounts["broke"].wallet = D("-10")
    assert exchange.liquidate_underwater() == []
