"""The touch a strategy prices against (`Strategy._touch`: the best bid and ask of
everyone else, our resting sizes taken out) is the one of the top ten levels, however
many of them are ours; it looks at the top few first."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest

from desk.domain import OrderStatus, OrderType, Side, TimeInForce
from desk.domain.records import BookLevel, Order, touch_without
from desk.engine.strategy import Strategy

D = Decimal
M = "BTC-PERP"


class Book:
    trusted = True

    def __init__(self, bids: list[tuple[str, str]], asks: list[tuple[str, str]]):
        self.bids = [BookLevel(D(p), D(s)) for p, s in bids]
        self.asks = [BookLevel(D(p), D(s)) for p, s in asks]
        self.asked: list[int] = []

    def levels(self, bids: bool, depth: int) -> list[BookLevel]:
        self.asked.append(depth)
        return (self.bids if bids else self.asks)[:depth]


def order(n: int, side: Side, price: str, size: str, market: str = M) -> Order:
    return Order(f"o{n}", f"s1.{n}", "q", market, side, OrderType.LIMIT, D(price), D(size),
                 D(0), D(size), OrderStatus.OPEN, TimeInForce.GTC, True, False, "", "")


def strategy(orders: list[Order]) -> Strategy:
    s = Strategy.__new__(Strategy)
    account = SimpleNamespace(orders={o.order_id: o for o in orders})
    s.ctx = SimpleNamespace(venue=SimpleNamespace(account=lambda: account))
    s.config = SimpleNamespace(market_id=M)
    return s


def reference(book: Book, orders: list[Order]) -> tuple[D | None, D | None]:
    from desk.domain.records import resting_sizes
    own = resting_sizes(orders, M)
    bid, ask = touch_without(book.bids[:10], book.asks[:10], own)
    return (bid.price if bid else None), (ask.price if ask else None)


@pytest.mark.parametrize("ours", [0, 1, 2, 5, 9, 10, 12])
def test_the_touch_is_the_top_ten_s_whatever_share_is_ours(ours):
    bids = [(str(100 - i), "1") for i in range(15)]
    asks = [(str(101 + i), "1") for i in range(15)]
    orders = [order(i, Side.BUY, str(100 - i), "1") for i in range(ours)]
    orders += [order(50 + i, Side.SELL, str(101 + i), "0.5") for i in range(2)]  # partly
    orders += [order(90, Side.BUY, "5", "1", market="ETH-PERP")]  # another market's
    book = Book(bids, asks)
    got = strategy(orders)._touch(book)
    assert got == reference(book, orders)
    expected_bid = D(100 - ours) if ours < 10 else None
    assert got == (expected_bid, D(101))


def test_only_a_few_levels_are_built_when_the_touch_is_near():
    book = Book([(str(100 - i), "1") for i in range(15)], [(str(101 + i), "1") for i in range(15)])
    orders = [order(1, Side.BUY, "100", "1"), order(2, Side.SELL, "101", "1")]
    assert strategy(orders)._touch(book) == (D(99), D(102))
    assert book.asked == [3, 3]


def test_an_untrusted_book_has_no_touch():
    book = Book([("100", "1")], [("101", "1")])
    book.trusted = False
    assert strategy([])._touch(book) == (None, None)
