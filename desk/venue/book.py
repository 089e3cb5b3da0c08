"""A price-time-priority order book for one market, on integer ticks and steps.

Prices are held as whole ticks and sizes as whole steps so that the hot path
does integer arithmetic; the exchange converts to `Decimal` at the boundary.
Each price level is an insertion-ordered dict of orders (oldest first), so a
cancel is O(1) and matching takes the oldest order at the best price.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from sortedcontainers import SortedList


class Resting(Protocol):
    order_id: str
    account_id: str
    price_ticks: int
    remaining: int


class BookSide:
    """One side of a book: bids (best = highest) or asks (best = lowest)."""

    __slots__ = ("is_bid", "prices", "levels", "sizes")

    def __init__(self, is_bid: bool):
        self.is_bid = is_bid
        self.prices: SortedList = SortedList()
        self.levels: dict[int, dict[str, Resting]] = {}
        self.sizes: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self.prices)

    def best(self) -> int | None:
        if not self.prices:
            return None
        return self.prices[-1] if self.is_bid else self.prices[0]

    def add(self, order: Resting) -> None:
        price = order.price_ticks
        level = self.levels.get(price)
        if level is None:
            level = self.levels[price] = {}
            self.prices.add(price)
            self.sizes[price] = 0
        level[order.order_id] = order
        self.sizes[price] += order.remaining

    def remove(self, order: Resting) -> None:
        price = order.price_ticks
        level = self.levels[price]
        del level[order.order_id]
        self.sizes[price] -= order.remaining
        if not level:
            del self.levels[price]
            del self.sizes[price]
            self.prices.remove(price)

    def reduce(self, order: Resting, steps: int) -> None:
        """Account for `steps` of a resting order having traded (before it shrinks)."""
        self.sizes[order.price_ticks] -= steps

    def first_at(self, price: int) -> Resting:
        return next(iter(self.levels[price].values()))

    def prices_best_first(self) -> Iterator[int]:
        return reversed(self.prices) if self.is_bid else iter(self.prices)

    def depth(self, levels: int) -> list[tuple[int, int]]:
        """The best `levels` price levels as (price ticks, size steps)."""
        out = []
        for price in self.prices_best_first():
            if len(out) >= levels:
                break
            out.append((price, self.sizes[price]))
        return out

    def crosses(self, price: int) -> bool:
        """Would an incoming order on the other side at `price` trade against this side?"""
        best = self.best()
        if best is None:
            return False
        return price <= best if self.is_bid else price >= best

    def orders(self) -> Iterator[Resting]:
        for price in self.prices_best_first():
            yield from self.levels[price].values()


class OrderBook:
    __slots__ = ("market_id", "bids", "asks", "sequence")

    def __init__(self, market_id: str):
        self.market_id = market_id
        self.bids = BookSide(is_bid=True)
        self.asks = BookSide(is_bid=False)
        self.sequence = 0  # rises on every change to the book

    def side(self, is_buy: bool) -> BookSide:
        """The side an order of this direction rests on."""
        return self.bids if is_buy else self.asks

    def opposite(self, is_buy: bool) -> BookSide:
        """The side an order of this direction trades against."""
        return self.asks if is_buy else self.bids

    def touch(self) -> None:
        self.sequence += 1
