"""Reference (fair value) feeds over the venue's streams.

- `IndexFeed`: the embedded venue's index stream. Goes stale when no price has
  arrived for `stale_after_s` (a frozen index keeps heartbeating but sends no price).
- `BookMidFeed`: the venue's own book, mid or microprice. Live while the book
  stream is; None while either side of the book is empty. A quiet book is not
  a stale one: its price is current as long as the link lives.

A real venue's user plugs in their own feed: anything with `market_id`,
`price()` and `health()` (the engine's `ReferenceFeed` protocol).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from desk.domain.records import FeedState, Health, OwnSizes
from desk.ocx.streams import BookStream, IndexStream


class IndexFeed:
    def __init__(self, stream: IndexStream):
        self.stream = stream
        self.market_id = stream.index.market_id

    def price(self) -> Decimal | None:
        index = self.stream.index
        return index.price if index.trusted else None

    def health(self) -> Health:
        return self.stream.health()

    def price_age_s(self) -> float | None:
        """Every index message is a fresh price; heartbeats are not."""
        return self.stream.health().last_event_age_s if self.price() is not None else None

    def on_update(self, callback: Callable[[], None]) -> None:
        self.stream.listeners.append(callback)


class BookMidFeed:
    """`own` gives our resting sizes by (is_bid, price): they are taken out of the book
    first, or a skewed ladder of ours would drag its own fair value along."""

    def __init__(self, stream: BookStream, micro: bool = False,
                 own: Callable[[], OwnSizes] | None = None):
        self.stream = stream
        self.market_id = stream.book.market_id
        self.micro = micro
        self.own = own

    def price(self) -> Decimal | None:
        book = self.stream.book
        if not book.trusted:
            return None
        bid, ask = book.touch_without(self.own() if self.own else {})
        if bid is None or ask is None:
            return None
        if self.micro:
            return (bid.price * ask.size + ask.price * bid.size) / (bid.size + ask.size)
        return (bid.price + ask.price) / 2

    def health(self) -> Health:
        h = self.stream.health()
        if h.state is FeedState.LIVE and self.price() is None:
            return Health(h.name, FeedState.STALE, h.last_event_age_s, h.reconnects, h.gaps,
                          h.bad_messages, "one side of the book is empty")
        return h

    def price_age_s(self) -> float | None:
        """A quiet book is a current one while its link lives (a dead link is caught by
        the heartbeat timeout), so the age is 0 while the feed is live."""
        return 0.0 if self.health().state is FeedState.LIVE else None

    def on_update(self, callback: Callable[[], None]) -> None:
        self.stream.listeners.append(callback)
