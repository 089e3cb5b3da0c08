"""The order book: price-time priority, level sizes, depth ordering, crosses()."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from desk.domain import OrderStatus, OrderType, Side
from desk.venue.book import BookSide, OrderBook
from desk.venue.exchange import OrderRequest

D = Decimal
BTC = "BTC-PERP"


@dataclass
class R:
    order_id: str
    price_ticks: int
    remaining: int
    account_id: str = "a"


# --- BookSide on its own ------------------------------------------------------------


def test_empty_side():
    side = BookSide(is_bid=True)
    assert len(side) == 0
    assert side.best() is None
    assert side.depth(10) == []
    assert list(side.orders()) == []
    assert side.crosses(100) is False
    assert BookSide(is_bid=False).crosses(100) is False


def test_bid_depth_is_descending_and_best_is_highest():
    bids = BookSide(is_bid=True)
    bids.add(R("a", 100, 5))
    bids.add(R("b", 102, 1))
    bids.add(R("c", 101, 3))
    bids.add(R("d", 100, 2))
    assert bids.best() == 102
    assert len(bids) == 3
    # level sizes: 102 -> 1, 101 -> 3, 100 -> 5 + 2 = 7
    assert bids.depth(10) == [(102, 1), (101, 3), (100, 7)]
    assert bids.depth(2) == [(102, 1), (101, 3)]
    assert bids.depth(0) == []


def test_ask_depth_is_ascending_and_best_is_lowest():
    asks = BookSide(is_bid=False)
    asks.add(R("a", 105, 4))
    asks.add(R("b", 103, 2))
    asks.add(R("c", 104, 6))
    asks.add(R("d", 103, 1))
    assert asks.best() == 103
    assert asks.depth(10) == [(103, 3), (104, 6), (105, 4)]
    assert asks.depth(1) == [(103, 3)]


def test_fifo_within_a_level_and_orders_best_price_first():
    asks = BookSide(is_bid=False)
    first, second, third = R("first", 100, 1), R("second", 100, 1), R("third", 100, 1)
    better = R("better", 99, 1)
    for o in (first, second, third, better):
        asks.add(o)
    assert asks.first_at(100) is first
    assert [o.order_id for o in asks.orders()] == ["better", "first", "second", "third"]
    asks.remove(first)
    assert asks.first_at(100) is second
    bids = BookSide(is_bid=True)
    for o in (R("x", 50, 1), R("y", 51, 1), R("z", 50, 1)):
        bids.add(o)
    assert [o.order_id for o in bids.orders()] == ["y", "x", "z"]


def test_remove_updates_sizes_and_drops_empty_levels():
    bids = BookSide(is_bid=True)
    a, b, c = R("a", 100, 5), R("b", 100, 2), R("c", 101, 3)
    for o in (a, b, c):
        bids.add(o)
    bids.remove(a)
    assert bids.depth(10) == [(101, 3), (100, 2)]
    bids.remove(c)
    assert bids.best() == 100
    assert len(bids) == 1
    bids.remove(b)
    assert len(bids) == 0
    assert bids.best() is None
    assert bids.levels == {} and bids.sizes == {}


def test_reduce_accounts_for_a_partial_fill():
    asks = BookSide(is_bid=False)
    a, b = R("a", 100, 5), R("b", 100, 2)
    asks.add(a)
    asks.add(b)
    asks.reduce(a, 3)  # 3 of a's 5 traded: level 7 -> 4
    a.remaining -= 3
    assert asks.depth(1) == [(100, 4)]
    asks.remove(a)  # removes what is left of a (2)
    assert asks.depth(1) == [(100, 2)]


def test_re_adding_after_level_vanished():
    asks = BookSide(is_bid=False)
    a = R("a", 100, 1)
    asks.add(a)
    asks.remove(a)
    asks.add(R("b", 100, 4))
    assert asks.depth(5) == [(100, 4)]


def test_crosses_for_bids_side():
    # a bid side with best 100: an incoming SELL at <= 100 trades
    bids = BookSide(is_bid=True)
    bids.add(R("a", 100, 1))
    bids.add(R("b", 98, 1))
    assert bids.crosses(100) is True
    assert bids.crosses(99) is True
    assert bids.crosses(1) is True
    assert bids.crosses(101) is False


def test_crosses_for_asks_side():
    # an ask side with best 105: an incoming BUY at >= 105 trades
    asks = BookSide(is_bid=False)
    asks.add(R("a", 105, 1))
    asks.add(R("b", 110, 1))
    assert asks.crosses(105) is True
    assert asks.crosses(106) is True
    assert asks.crosses(104) is False


def test_order_book_sides_and_sequence():
    book = OrderBook(BTC)
    assert book.side(True) is book.bids and book.side(False) is book.asks
    assert book.opposite(True) is book.asks and book.opposite(False) is book.bids
    assert book.sequence == 0
    book.touch()
    book.touch()
    assert book.sequence == 2


# --- price-time priority through the exchange -------------------------------------------


def _limit(side, qty, price, **kw):
    return OrderRequest(side=side, quantity=D(qty), price=D(price), **kw)


def _depth(ex, market=BTC):
    m = ex.markets[market]
    return ([(p * m.tick, s * m.step) for p, s in m.book.bids.depth(50)],
            [(p * m.tick, s * m.step) for p, s in m.book.asks.depth(50)])


def test_exchange_fills_oldest_order_first_at_a_level(exchange):
    exchange.open_account("mm2")
    first, _ = exchange.place_order("mm", BTC, _limit(Side.SELL, "1", "64000"))
    second, _ = exchange.place_order("mm2", BTC, _limit(Side.SELL, "1", "64000"))
    assert _depth(exchange)[1] == [(D("64000"), D("2"))]
    # taker buys 1.5: the older order (mm) gives its whole 1, then mm2 gives 0.5
    _, fills = exchange.place_order("taker", BTC, _limit(Side.BUY, "1.5", "64000"))
    assert [(f.quantity, f.price) for f in fills] == [(D("1"), D("64000")),
                                                       (D("0.5"), D("64000"))]
    assert first.status is OrderStatus.FILLED
    assert second.status is OrderStatus.PARTIALLY_FILLED
    assert second.remaining == 500
    assert exchange.accounts["mm"].qty(BTC) == -1000
    assert exchange.accounts["mm2"].qty(BTC) == -500
    assert _depth(exchange)[1] == [(D("64000"), D("0.5"))]


def test_exchange_fills_best_price_first(exchange):
    exchange.open_account("mm2")
    exchange.place_order("mm2", BTC, _limit(Side.SELL, "1", "64010"))
    exchange.place_order("mm", BTC, _limit(Side.SELL, "1", "64000"))  # later but better
    _, fills = exchange.place_order("taker", BTC, _limit(Side.BUY, "1", "64010"))
    assert len(fills) == 1
    assert fills[0].price == D("64000")
    assert exchange.accounts["mm"].qty(BTC) == -1000
    assert exchange.accounts["mm2"].qty(BTC) == 0
    assert _depth(exchange)[1] == [(D("64010"), D("1"))]


def test_exchange_best_bid_first_for_a_seller(exchange):
    exchange.open_account("mm2")
    exchange.place_order("mm", BTC, _limit(Side.BUY, "1", "63990"))
    exchange.place_order("mm2", BTC, _limit(Side.BUY, "1", "63995"))
    _, fills = exchange.place_order("taker", BTC, OrderRequest(Side.SELL, D("1.2"),
                                                                type=OrderType.MARKET))
    # 1 @ 63995 (mm2), then 0.2 @ 63990 (mm)
    assert [(f.price, f.quantity) for f in fills] == [(D("63995"), D("1")),
                                                       (D("63990"), D("0.2"))]
    assert _depth(exchange)[0] == [(D("63990"), D("0.8"))]


def test_exchange_depth_ordering_and_level_sizes(exchange):
    for price, qty in (("63990", "1"), ("63980", "0.5"), ("63990", "0.25"), ("63995", "0.1")):
        exchange.place_order("mm", BTC, _limit(Side.BUY, qty, price))
    for price, qty in (("64010", "0.3"), ("64005", "0.2"), ("64010", "0.7")):
        exchange.place_order("mm", BTC, _limit(Side.SELL, qty, price))
    bids, asks = _depth(exchange)
    assert bids == [(D("63995"), D("0.1")), (D("63990"), D("1.25")), (D("63980"), D("0.5"))]
    assert asks == [(D("64005"), D("0.2")), (D("64010"), D("1"))]
    # partial fill of the best bid level and the next one: sell 0.3 -> 0.1 @ 63995 + 0.2 @ 63990
    exchange.place_order("taker", BTC, _limit(Side.SELL, "0.3", "63990"))
    bids, _ = _depth(exchange)
    assert bids == [(D("63990"), D("1.05")), (D("63980"), D("0.5"))]


def test_exchange_level_size_after_cancel(exchange):
    a, _ = exchange.place_order("mm", BTC, _limit(Side.SELL, "1", "64000"))
    exchange.place_order("mm", BTC, _limit(Side.SELL, "0.4", "64000"))
    exchange.place_order("taker", BTC, _limit(Side.BUY, "0.3", "64000"))  # a: 0.7 left
    assert _depth(exchange)[1] == [(D("64000"), D("1.1"))]
    exchange.cancel_order("mm", a.order_id)
    assert _depth(exchange)[1] == [(D("64000"), D("0.4"))]


def test_exchange_book_sequence_rises_on_changes(exchange):
    m = exchange.markets[BTC]
    s0 = m.book.sequence
    o, _ = exchange.place_order("mm", BTC, _limit(Side.BUY, "1", "63990"))
    s1 = m.book.sequence
    assert s1 > s0
    exchange.cancel_order("mm", o.order_id)
    assert m.book.sequence > s1
