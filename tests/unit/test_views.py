"""Wire views: money is exact inside and rounded to 8 decimals on the wire."""

from __future__ import annotations

from decimal import Decimal

from desk.domain import Side
from desk.venue import views
from desk.venue.exchange import OrderRequest
from tests.unit.exchange_helpers import BTC, D


def test_money_rounds_half_even_to_eight_decimals():
    assert views.money(D("1.000000005")) == "1"
    assert views.money(D("1.000000015")) == "1.00000002"
    assert views.money(D("-0.333333333333")) == "-0.33333333"
    assert views.money(D("2500")) == "2500"


def test_repeating_entry_price_does_not_leak_long_decimals(exchange):
    # taker buys 0.001 @ 64000.1, 0.001 @ 64000.2, 0.001 @ 64000.4: entry 64000.2333...
    for price in ("64000.1", "64000.2", "64000.4"):
        exchange.place_order("mm", BTC, OrderRequest(Side.SELL, D("0.001"), D(price)))
        exchange.place_order("taker", BTC, OrderRequest(Side.BUY, D("0.001"), D(price)))
    pos = views.position_views(exchange, "taker")[0]
    # mark 64000 (index; book is empty): upnl = (64000 - 64000.2333..) * 0.003 = -0.0007
    assert pos["unrealizedPnl"] == "-0.0007"
    assert pos["entryPrice"] == "64000.2333"  # a thousandth of a tick
    for value in views.balances_view(exchange, "taker").values():
        assert len(value.partition(".")[2]) <= 8, value
    exact = exchange.balances("taker")["equity"]
    assert Decimal(views.balances_view(exchange, "taker")["equity"]) == exact.quantize(
        views.EIGHT_DP)
