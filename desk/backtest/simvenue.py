"""`SimVenue`: the engine's `Venue` protocol over the in-process exchange core.

What the OCX client and its streams do live, done directly:
- order-path calls go straight to `desk.venue.exchange.Exchange` (no HTTP), counted
  against the venue's rate limit on the virtual clock, and a refusal becomes the
  same typed error the client raises;
- the account's live orders follow the exchange's own change reports at once;
  fills reach the listeners on the next turn of the loop, as a stream delivers them
  after the response;
- each market's reference feed is its index, published after every simulation step
  (`publish()`); a frozen index shows as an ageing price, as it does live;
- books are read from the exchange's book, always trusted.

`latency_s` > 0 delays every venue call by that much virtual time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from decimal import Decimal

from desk.backtest import convert
from desk.backtest.vloop import VirtualClock
from desk.domain import ZERO, Liquidity
from desk.domain import errors as de
from desk.domain import records as r
from desk.venue.errors import VenueError
from desk.venue.exchange import Exchange
from desk.venue.market import MarketState
from desk.venue.ratelimit import RateLimiter

LIVE = r.FeedState.LIVE


class SimFeed:
    """A market's index as a reference feed."""

    def __init__(self, m: MarketState, clock: VirtualClock):
        self.market_id = m.market_id
        self.m = m
        self.clock = clock
        self.listeners: list[Callable[[], None]] = []
        self._seen: tuple[int, Decimal] | None = None  # (index time, index) last told

    def price(self) -> Decimal | None:
        return self.m.index

    def price_age_s(self) -> float | None:
        return max(self.clock.ms() - self.m.index_ts, 0) / 1000

    def health(self) -> r.Health:
        return r.Health(f"index:{self.market_id}", LIVE, self.price_age_s())

    def on_update(self, callback: Callable[[], None]) -> None:
        self.listeners.append(callback)

    def publish(self) -> None:
        """Tell the listeners if the index took a new price since the last call."""
        seen = (self.m.index_ts, self.m.index)
        if seen == self._seen:
            return
        self._seen = seen
        for listener in self.listeners:
            listener()


class SimBook:
    """The exchange's book of one market, in prices and sizes."""

    trusted = True

    def __init__(self, m: MarketState):
        self.m = m

    def _best(self, bids: bool) -> r.BookLevel | None:
        side = self.m.book.bids if bids else self.m.book.asks
        price = side.best()
        if price is None:
            return None
        return r.BookLevel(price * self.m.tick, side.sizes[price] * self.m.step)

    def best_bid(self) -> r.BookLevel | None:
        return self._best(True)

    def best_ask(self) -> r.BookLevel | None:
        return self._best(False)

    def mid(self) -> Decimal | None:
        bid, ask = self.best_bid(), self.best_ask()
        return None if bid is None or ask is None else (bid.price + ask.price) / 2

    def levels(self, bids: bool, depth: int) -> list[r.BookLevel]:
        side = self.m.book.bids if bids else self.m.book.asks
        tick, step = self.m.tick, self.m.step
        return [r.BookLevel(p * tick, s * step) for p, s in side.depth(depth)]


class SimAccount:
    """The desk's account: live orders kept from the exchange's reports; positions and
    balances read when asked."""

    trusted = True

    def __init__(self, venue: SimVenue):
        self._venue = venue
        self.orders: dict[str, r.Order] = {}

    @property
    def positions(self) -> dict[str, r.Position]:
        return {p.market_id: p for p in self._venue.position_records(include_flat=True)}

    @property
    def balances(self) -> r.Balances:
        return self._venue.balance_record()


class SimVenue:
    def __init__(self, exchange: Exchange, account_id: str, clock: VirtualClock,
                 rate_limit_per_minute: int | None = None, latency_s: float = 0.0):
        self.ex = exchange
        self.account_id = account_id
        self.clock = clock
        self.latency_s = latency_s
        self.limiter = RateLimiter(rate_limit_per_minute or exchange.config.rate_limit_per_minute,
                                   clock.ms)
        exchange.open_account(account_id)
        exchange.sink = self._on_exchange
        self._account = SimAccount(self)
        self._books = {mid: SimBook(m) for mid, m in exchange.markets.items()}
        self.feeds = {mid: SimFeed(m, clock) for mid, m in exchange.markets.items()}
        self._fill_listeners: list[Callable[[r.Fill], None]] = []
        self.calls = 0  # order-path calls, for the report

    # --- the exchange's reports ----------------------------------------------------

    def _on_exchange(self, account_id: str, kind: str, obj: object) -> None:
        if account_id != self.account_id:
            return
        if kind == "order":
            o = obj  # type: ignore[assignment]
            self._account.orders[o.order_id] = convert.order(o, self.ex.markets[o.market_id])
        elif kind == "removed":
            self._account.orders.pop(obj.order_id, None)  # type: ignore[attr-defined]
        elif kind == "fill":
            f = convert.fill(obj)  # type: ignore[arg-type]
            self.clock.loop.call_soon(self._deliver, f)

    def _deliver(self, fill: r.Fill) -> None:
        for listener in self._fill_listeners:
            listener(fill)

    def publish(self) -> None:
        """After a simulation step: reference feeds with a new price tell their listeners."""
        for feed in self.feeds.values():
            feed.publish()

    # --- calls ---------------------------------------------------------------------

    async def _call(self, refusable: bool = True) -> None:
        """Latency, then the rate limit: what every order-path call goes through."""
        if self.latency_s > 0:
            await asyncio.sleep(self.latency_s)
        self.calls += 1
        state = self.limiter.hit(self.account_id, refusable)
        if not state.allowed:
            raise de.RateLimitedError("ORDER_RATE_LIMIT",
                                      f"order rate limit reached; retry in {state.reset_ms} ms",
                                      429, {"retryAfterMs": state.reset_ms},
                                      retry_after_s=state.reset_ms / 1000)

    async def _read(self) -> None:
        if self.latency_s > 0:
            await asyncio.sleep(self.latency_s)

    async def start(self) -> None:
        self.publish()

    async def close(self) -> None:
        self.ex.sink = None

    async def markets(self) -> list[r.Market]:
        await self._read()
        base = self.ex.fee_tiers[0]
        return [convert.market(m, base.maker_fee_bps, base.taker_fee_bps)
                for m in self.ex.markets.values()]

    def balance_record(self) -> r.Balances:
        b = self.ex.balances(self.account_id)
        return r.Balances(b["equity"], b["walletBalance"], b["availableMargin"],
                          b["initialMargin"], b["maintenanceMargin"], b["marginUsage"],
                          b["unrealizedPnl"], b["realizedPnl"])

    def position_records(self, include_flat: bool = False) -> list[r.Position]:
        acct = self.ex.account(self.account_id)
        out = []
        for market_id, pos in acct.positions.items():
            if pos.qty == 0 and not include_flat:
                continue
            m = self.ex.markets[market_id]
            qty = pos.qty * m.step
            out.append(r.Position(market_id, qty, pos.entry if pos.qty else None, m.mark,
                                  (m.mark - pos.entry) * qty if pos.qty else ZERO,
                                  pos.realized, acct.liquidation_price(market_id, self.ex.risks)))
        return out

    async def balances(self) -> r.Balances:
        await self._read()
        return self.balance_record()

    async def positions(self) -> list[r.Position]:
        await self._read()
        return self.position_records()

    async def open_orders(self, market_id: str | None = None) -> list[r.Order]:
        await self._read()
        try:
            orders = self.ex.orders_of(self.account_id, market_id, None)
        except VenueError as err:
            raise convert.error(err) from None
        return [convert.order(o, self.ex.markets[o.market_id]) for o in orders]

    async def place_order(self, order: r.OrderRequest) -> r.Order:
        await self._call()
        try:
            placed, _ = self.ex.place_order(self.account_id, order.market_id,
                                            convert.request(order))
        except VenueError as err:
            raise convert.error(err) from None
        return convert.order(placed, self.ex.markets[order.market_id])

    async def cancel_order(self, order_id: str) -> r.Order:
        await self._call()
        try:
            o = self.ex.cancel_order(self.account_id, order_id)
        except VenueError as err:
            raise convert.error(err) from None
        return convert.order(o, self.ex.markets[o.market_id])

    async def bulk_quote(self, market_id: str, quote_id: str, levels: Sequence[r.QuoteLevel],
                         cancel_all: bool = True) -> r.BulkResult:
        await self._call()
        try:
            res = self.ex.bulk_quote(self.account_id, market_id, quote_id, cancel_all,
                                     [convert.request(lv) for lv in levels])
        except VenueError as err:
            raise convert.error(err) from None
        m = self.ex.markets[market_id]
        live = self._account.orders  # resting ones were converted as they rested
        return r.BulkResult(quote_id, tuple(live.get(o.order_id) or convert.order(o, m)
                                            for o in res.accepted),
                            tuple(convert.reject(c, e) for c, e in res.rejected),
                            tuple(res.cancelled))

    async def preview_quotes(self, market_id: str, levels: Sequence[r.QuoteLevel],
                             cancel_all: bool = True) -> r.Preview:
        await self._call()
        try:
            p = self.ex.preview(self.account_id, market_id,
                                [convert.request(lv) for lv in levels], cancel_all)
        except VenueError as err:
            raise convert.error(err) from None
        return r.Preview(p["notional"], p["marginRequired"], p["estFee"],  # type: ignore[arg-type]
                         p["feeBps"], Liquidity(p["feeRole"]),  # type: ignore[arg-type]
                         bool(p["approved"]), p.get("reason"))  # type: ignore[arg-type]

    async def cancel_all(self, market_id: str | None = None,
                         quote_id: str | None = None) -> list[str]:
        await self._call(refusable=False)
        try:
            return self.ex.cancel_all(self.account_id, market_id, quote_id)
        except VenueError as err:
            raise convert.error(err) from None

    async def close_position(self, market_id: str,
                             quantity: Decimal | None = None) -> r.CloseResult:
        await self._call()
        try:
            o, fills = self.ex.close_position(self.account_id, market_id, quantity)
        except VenueError as err:
            raise convert.error(err) from None
        return r.CloseResult(convert.order(o, self.ex.markets[market_id]),
                             tuple(convert.fill(f) for f in fills))

    async def traded_volume(self, market_id: str) -> Decimal:
        await self._read()
        try:
            m = self.ex.market(market_id)
        except VenueError as err:
            raise convert.error(err) from None
        return m.stats_24h(self.clock.ms())[2]

    def rate_limit_wait_s(self) -> float:
        state = self.limiter.peek(self.account_id)
        return 0.0 if state.remaining > 0 else state.reset_ms / 1000

    # --- live state ------------------------------------------------------------------

    def account(self) -> SimAccount:
        return self._account

    def book(self, market_id: str) -> SimBook:
        return self._books[market_id]

    def reference(self, market_id: str) -> SimFeed:
        return self.feeds[market_id]

    def on_fill(self, listener: Callable[[r.Fill], None]) -> None:
        self._fill_listeners.append(listener)

    def health(self) -> list[r.Health]:
        return [r.Health("user", LIVE, 0.0), *(r.Health(f"book:{m}", LIVE, 0.0)
                                               for m in self._books)]

