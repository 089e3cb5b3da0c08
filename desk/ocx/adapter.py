"""`OcxVenue`: the engine's `Venue` protocol over the OCX client and its streams.

One user stream keeps the account; one book stream per market keeps the books;
reference feeds are the index stream (embedded venue) or the book mid. Nothing
here is used before `start()` has the account and books snapshotted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, Literal

from desk.domain import records as r
from desk.ocx.feeds import BookMidFeed, IndexFeed
from desk.ocx.rest import OcxClient
from desk.ocx.state import AccountState, LocalBook
from desk.ocx.streams import BookStream, IndexStream, SseStream, UserStream

Reference = Literal["index", "mid", "micro"]


class OcxVenue:
    def __init__(self, client: OcxClient, market_ids: Sequence[str],
                 reference: Reference = "index", **stream_kw: Any):
        self.client = client
        cfg = client.config
        kw = {"monotonic": client.monotonic, **stream_kw}
        self.user = UserStream(client.http, cfg, client.key_auth, **kw)
        self.books = {m: BookStream(client.http, m, cfg, **kw) for m in market_ids}
        self.indexes: dict[str, IndexStream] = {}
        self.feeds: dict[str, IndexFeed | BookMidFeed] = {}
        for m in market_ids:
            if reference == "index":
                self.indexes[m] = IndexStream(client.http, m, cfg, **kw)
                self.feeds[m] = IndexFeed(self.indexes[m])
            else:
                self.feeds[m] = BookMidFeed(self.books[m], micro=reference == "micro",
                                            own=lambda m=m: self.own_sizes(m))

    @property
    def streams(self) -> list[SseStream]:
        return [self.user, *self.books.values(), *self.indexes.values()]

    async def start(self, timeout: float = 10.0) -> None:
        for stream in self.streams:
            stream.start()
        await asyncio.gather(*(s.wait_live(timeout) for s in self.streams))

    def use_key(self, secret: str) -> None:
        """Trade with another key from the next request on; a stream the venue had
        refused the old key connects again with it."""
        self.client.use_key(secret)
        for stream in self.streams:
            stream.restart()

    async def close(self) -> None:
        await asyncio.gather(*(s.stop() for s in self.streams))
        await self.client.aclose()

    # --- REST -----------------------------------------------------------------------

    async def markets(self) -> list[r.Market]:
        return await self.client.markets()

    async def balances(self) -> r.Balances:
        return await self.client.balances()

    async def positions(self) -> list[r.Position]:
        return await self.client.positions()

    async def open_orders(self, market_id: str | None = None) -> list[r.Order]:
        return await self.client.orders(market_id)

    async def place_order(self, order: r.OrderRequest) -> r.Order:
        return await self.client.place_order(order)

    async def cancel_order(self, order_id: str) -> r.Order:
        return await self.client.cancel_order(order_id)

    async def bulk_quote(self, market_id: str, quote_id: str, levels: Sequence[r.QuoteLevel],
                         cancel_all: bool = True) -> r.BulkResult:
        return await self.client.bulk_quote(market_id, quote_id, levels, cancel_all)

    async def preview_quotes(self, market_id: str, levels: Sequence[r.QuoteLevel],
                             cancel_all: bool = True) -> r.Preview:
        return await self.client.preview_quotes(market_id, levels, cancel_all)

    async def cancel_all(self, market_id: str | None = None,
                         quote_id: str | None = None) -> list[str]:
        return await self.client.cancel_all(market_id, quote_id)

    async def close_position(self, market_id: str,
                             quantity: Decimal | None = None) -> r.CloseResult:
        return await self.client.close_position(market_id, quantity)

    async def traded_volume(self, market_id: str) -> Decimal:
        return (await self.client.market_stats(market_id)).volume24h

    def rate_limit_wait_s(self) -> float:
        return self.client.rate.wait_s(self.client.monotonic())

    # --- live state -----------------------------------------------------------------

    def account(self) -> AccountState:
        return self.user.account

    def book(self, market_id: str) -> LocalBook:
        return self.books[market_id].book

    def reference(self, market_id: str) -> IndexFeed | BookMidFeed:
        return self.feeds[market_id]

    def own_sizes(self, market_id: str) -> r.OwnSizes:
        """Our resting size at each (is_bid, price) of a market, from the account."""
        return r.resting_sizes(self.user.account.orders.values(), market_id)

    def on_fill(self, listener: Callable[[r.Fill], None]) -> None:
        self.user.account.on_fill.append(listener)

    def health(self) -> list[r.Health]:
        return [s.health() for s in self.streams]
