"""What the engine needs from the outside world, as protocols over `desk.domain` types.

`desk.ocx` implements `Venue` over HTTP/SSE, `desk.backtest` over the in-process
exchange. Nothing here knows HTTP: calls fail with the errors of
`desk.domain.errors` (TransportError vs VenueReject and its subclasses).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from desk.domain.records import (
    Balances,
    BookLevel,
    BulkResult,
    CloseResult,
    Fill,
    Health,
    Market,
    Order,
    OrderRequest,
    Position,
    Preview,
    QuoteLevel,
)


@runtime_checkable
class ReferenceFeed(Protocol):
    """A fair-value source for one market. `price()` is None until the feed is trusted;
    `health()` tells live from stale (a frozen feed keeps its last price but goes stale)."""

    market_id: str

    def price(self) -> Decimal | None: ...

    def health(self) -> Health: ...

    def price_age_s(self) -> float | None:
        """Seconds since the feed last vouched for its price (None: never). The dead-man
        switch compares it with `stale_feed_ms`."""
        ...

    def on_update(self, callback: Callable[[], None]) -> None:
        """Call `callback` (no arguments, must not block) after each new price."""
        ...


class BookView(Protocol):
    """A local copy of one market's book, kept by a stream."""

    trusted: bool

    def best_bid(self) -> BookLevel | None: ...

    def best_ask(self) -> BookLevel | None: ...

    def mid(self) -> Decimal | None: ...

    def levels(self, bids: bool, depth: int) -> list[BookLevel]: ...


class AccountView(Protocol):
    """The account as the private stream last told it; only `trusted` state is usable."""

    trusted: bool
    orders: dict[str, Order]
    positions: dict[str, Position]
    balances: Balances | None


@runtime_checkable
class Venue(Protocol):
    """Trading and live state on one venue account."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def markets(self) -> list[Market]: ...

    async def balances(self) -> Balances: ...

    async def positions(self) -> list[Position]: ...

    async def open_orders(self, market_id: str | None = None) -> list[Order]: ...

    async def place_order(self, order: OrderRequest) -> Order: ...

    async def cancel_order(self, order_id: str) -> Order: ...

    async def bulk_quote(self, market_id: str, quote_id: str, levels: Sequence[QuoteLevel],
                         cancel_all: bool = True) -> BulkResult: ...

    async def preview_quotes(self, market_id: str, levels: Sequence[QuoteLevel],
                             cancel_all: bool = True) -> Preview: ...

    async def cancel_all(self, market_id: str | None = None,
                         quote_id: str | None = None) -> list[str]: ...

    async def close_position(self, market_id: str,
                             quantity: Decimal | None = None) -> CloseResult: ...

    def rate_limit_wait_s(self) -> float: ...

    def account(self) -> AccountView: ...

    def book(self, market_id: str) -> BookView: ...

    def reference(self, market_id: str) -> ReferenceFeed: ...

    def on_fill(self, listener: Callable[[Fill], None]) -> None: ...

    def health(self) -> list[Health]: ...

    async def traded_volume(self, market_id: str) -> Decimal:
        """The market's traded volume so far (rolling 24 h on OCX): VWAP hedges
        follow its increments."""
        ...


class Puller(Protocol):
    """Another credential's own way to pull every quote on the account: the dead-man
    switch's fallback when the venue refuses the engine's key (`desk.ocx.pullers`)."""

    name: str  # which credential, for the operator ("the kill switch's key")

    async def cancel_all(self) -> list[str]:
        """Unscoped cancel-all; the ids the venue cancelled."""
        ...

    async def resting(self) -> int:
        """How many orders the account has open, read through this credential."""
        ...


class Clock(Protocol):
    """Wall time for days and hours, monotonic time for intervals, and sleep.
    Live desks use `engine.clock.SystemClock`; tests and backtests inject their own."""

    def time(self) -> float: ...

    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class Journal(Protocol):
    """Where events and fills are recorded before they are shown (`desk.store.journal`).
    `append_fill` returns False for a fill id it already holds (a replay). The readers
    let a restart carry on from the record: a strategy's fills rebuild its PnL book and
    its recent fills, its `pnl_update` events of the day today's PnL and the breakers."""

    def append_event(self, event: dict[str, Any]) -> None: ...

    def append_fill(self, fill: Fill, strategy_id: str | None) -> bool: ...

    def fills(self, strategy_id: str | None = None,
              market_id: str | None = None) -> list[Fill]:
        """Fills in venue time order."""
        ...

    def events(self, strategy_id: str | None = None, types: Iterable[str] | None = None,
               limit: int | None = None, since_ms: int | None = None) -> list[dict[str, Any]]:
        """Events (as journaled: `Event.to_json()`) oldest first, from `since_ms` (their
        `ts_ms`) on; with `limit`, the newest `limit` of them."""
        ...


class StrategyStore(Protocol):
    """Persisted strategy configurations: plain dicts, each with its `id`."""

    def load(self) -> list[dict[str, Any]]: ...

    def save(self, strategies: list[dict[str, Any]]) -> None: ...
