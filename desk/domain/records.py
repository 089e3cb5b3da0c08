"""Trading records every layer shares: markets, orders, fills, positions, balances.

Plain frozen dataclasses with `Decimal` money and sizes. The venue client
builds them from the wire, the engine reads them, the backtest builds them from
the in-process exchange; none of them knows HTTP.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from desk.domain import ZERO, Liquidity, OrderStatus, OrderType, Side, TimeInForce


@dataclass(frozen=True, slots=True)
class Market:
    market_id: str
    tick_size: Decimal
    step_size: Decimal
    min_quantity: Decimal
    trading: bool
    maker_fee_bps: Decimal
    taker_fee_bps: Decimal
    mark_price: Decimal
    index_price: Decimal
    initial_margin_rate: Decimal
    maintenance_margin_rate: Decimal
    price_band_low: Decimal
    price_band_high: Decimal


@dataclass(frozen=True, slots=True)
class Order:
    order_id: str
    client_order_id: str | None
    quote_id: str | None
    market_id: str
    side: Side
    type: OrderType
    price: Decimal | None
    quantity: Decimal
    filled_quantity: Decimal
    remaining_quantity: Decimal
    status: OrderStatus
    time_in_force: TimeInForce
    post_only: bool
    reduce_only: bool
    created_at: str
    updated_at: str


@dataclass(frozen=True, slots=True)
class Fill:
    fill_id: str
    order_id: str
    client_order_id: str | None
    quote_id: str | None
    market_id: str
    side: Side
    price: Decimal
    quantity: Decimal
    liquidity: Liquidity
    fee: Decimal
    created_at: int  # unix ms

    @property
    def signed_quantity(self) -> Decimal:
        return self.quantity if self.side is Side.BUY else -self.quantity


@dataclass(frozen=True, slots=True)
class Position:
    market_id: str
    quantity: Decimal  # signed: long > 0, short < 0
    entry_price: Decimal | None
    mark_price: Decimal | None
    unrealized_pnl: Decimal
    realized_pnl: Decimal
    liquidation_price: Decimal | None

    @property
    def flat(self) -> bool:
        return self.quantity == ZERO


@dataclass(frozen=True, slots=True)
class Balances:
    equity: Decimal
    wallet_balance: Decimal
    available_margin: Decimal
    initial_margin: Decimal
    maintenance_margin: Decimal
    margin_usage: Decimal
    unrealized_pnl: Decimal
    realized_pnl: Decimal


@dataclass(frozen=True, slots=True)
class BookLevel:
    price: Decimal
    size: Decimal


@dataclass(frozen=True, slots=True)
class QuoteLevel:
    """One level of a bulk quote."""
    side: Side
    price: Decimal
    quantity: Decimal
    client_order_id: str
    post_only: bool = True
    reduce_only: bool = False
    time_in_force: TimeInForce = TimeInForce.GTC


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A single order. Without a `client_order_id` the client assigns one, so a retry
    can never place it twice."""
    market_id: str
    side: Side
    quantity: Decimal
    type: OrderType = OrderType.LIMIT
    price: Decimal | None = None
    client_order_id: str | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    reduce_only: bool = False


@dataclass(frozen=True, slots=True)
class LevelReject:
    client_order_id: str | None
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class BulkResult:
    quote_id: str
    accepted: tuple[Order, ...]
    rejected: tuple[LevelReject, ...]
    cancelled: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Preview:
    notional: Decimal
    margin_required: Decimal
    est_fee: Decimal
    fee_bps: Decimal
    fee_role: Liquidity
    approved: bool
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class CloseResult:
    order: Order
    fills: tuple[Fill, ...] = field(default_factory=tuple)


class FeedState(StrEnum):
    """How far a stream or reference feed can be trusted right now."""
    LIVE = "live"                  # snapshotted, and news arrived recently
    STALE = "stale"                # snapshotted, but silent for too long
    RECONNECTING = "reconnecting"  # no trusted state: waiting for a fresh snapshot
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class Health:
    """A stream's health for the dead-man switch and the UI."""
    name: str
    state: FeedState
    last_event_age_s: float | None  # None before the first event
    reconnects: int = 0
    gaps: int = 0
    bad_messages: int = 0
    last_error: str | None = None
    refused: str | None = None  # stopped for good: the venue refused the credential (why)

    @property
    def live(self) -> bool:
        return self.state is FeedState.LIVE


OwnSizes = dict[tuple[bool, Decimal], Decimal]  # (is_bid, price) -> our resting size


def resting_sizes(orders: Iterable[Order], market_id: str) -> OwnSizes:
    """Our resting size at each (is_bid, price) of one market."""
    out: OwnSizes = {}
    for o in orders:
        if o.market_id == market_id and o.price is not None:
            key = (o.side is Side.BUY, o.price)
            out[key] = out.get(key, ZERO) + o.remaining_quantity
    return out


def touch_without(bids: Iterable[BookLevel], asks: Iterable[BookLevel], own: OwnSizes
                  ) -> tuple[BookLevel | None, BookLevel | None]:
    """Best bid and ask of everyone else: levels (best first) with `own` sizes taken out."""
    out: list[BookLevel | None] = []
    for is_bid, levels in ((True, bids), (False, asks)):
        best = None
        for lv in levels:
            size = lv.size - own.get((is_bid, lv.price), ZERO)
            if size > 0:
                best = BookLevel(lv.price, size)
                break
        out.append(best)
    return out[0], out[1]
