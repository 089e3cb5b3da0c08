"""Pydantic models of the OCX wire (`../shared/ocx-api.md`): camelCase JSON, Decimal values.

Each response model validates a body in one pass (so a wrong shape is refused
whole, never half-read) and turns into the shared records of `desk.domain.records`
with `to_domain()`. Unknown extra fields are ignored: a real venue may send more.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from pydantic.alias_generators import to_camel

from desk.domain import Liquidity, OrderStatus, OrderType, Side, TimeInForce
from desk.domain import records as r


class Wire(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True,
                              extra="ignore", frozen=True)


# --- market data ------------------------------------------------------------------------

class MarketW(Wire):
    market_id: str
    trading_status: str
    tick_size: Decimal
    step_size: Decimal
    min_quantity: Decimal
    price_band_low: Decimal
    price_band_high: Decimal
    maker_fee_bps: Decimal
    taker_fee_bps: Decimal
    mark_price: Decimal
    index_price: Decimal
    initial_margin_rate: Decimal
    maintenance_margin_rate: Decimal

    def to_domain(self) -> r.Market:
        return r.Market(self.market_id, self.tick_size, self.step_size, self.min_quantity,
                        self.trading_status == "trading", self.maker_fee_bps,
                        self.taker_fee_bps, self.mark_price, self.index_price,
                        self.initial_margin_rate, self.maintenance_margin_rate,
                        self.price_band_low, self.price_band_high)


class OrderBookW(Wire):
    market_id: str
    sequence: int
    timestamp: str | int | None = None
    bids: list[tuple[Decimal, Decimal]]
    asks: list[tuple[Decimal, Decimal]]


class MarketStatsW(Wire):
    market_id: str
    last: Decimal | None = None
    mark_price: Decimal
    index_price: Decimal
    high24h: Decimal | None = Field(None, alias="high24h")
    low24h: Decimal | None = Field(None, alias="low24h")
    volume24h: Decimal = Field(alias="volume24h")
    open_interest: Decimal
    funding_rate: Decimal


class FeeTierW(Wire):
    tier: int | str
    min_volume30d: Decimal = Field(alias="minVolume30d")
    maker_fee_bps: Decimal
    taker_fee_bps: Decimal


class FeesW(Wire):
    tiers: list[FeeTierW]


class MyFeesW(Wire):
    tier: int | str
    maker_fee_bps: Decimal
    taker_fee_bps: Decimal
    volume30d: Decimal = Field(alias="volume30d")


# --- account --------------------------------------------------------------------------

class BalancesW(Wire):
    equity: Decimal
    wallet_balance: Decimal
    available_margin: Decimal
    initial_margin: Decimal
    maintenance_margin: Decimal
    margin_usage: Decimal
    unrealized_pnl: Decimal
    realized_pnl: Decimal

    def to_domain(self) -> r.Balances:
        return r.Balances(self.equity, self.wallet_balance, self.available_margin,
                          self.initial_margin, self.maintenance_margin, self.margin_usage,
                          self.unrealized_pnl, self.realized_pnl)


class PositionW(Wire):
    market_id: str
    side: Literal["long", "short"]
    quantity: Decimal
    entry_price: Decimal | None = None
    mark_price: Decimal | None = None
    unrealized_pnl: Decimal
    realized_pnl: Decimal
    liquidation_price: Decimal | None = None

    def to_domain(self) -> r.Position:
        qty = self.quantity if self.side == "long" else -self.quantity
        entry = self.entry_price if qty else None
        return r.Position(self.market_id, qty, entry, self.mark_price, self.unrealized_pnl,
                          self.realized_pnl, self.liquidation_price)


class OrderW(Wire):
    order_id: str
    client_order_id: str | None = None
    quote_id: str | None = None
    market_id: str
    side: Side
    type: OrderType
    price: Decimal | None = None
    quantity: Decimal
    filled_quantity: Decimal
    remaining_quantity: Decimal
    status: OrderStatus
    time_in_force: TimeInForce
    post_only: bool
    reduce_only: bool
    created_at: str
    updated_at: str

    def to_domain(self) -> r.Order:
        return r.Order(self.order_id, self.client_order_id, self.quote_id, self.market_id,
                       self.side, self.type, self.price, self.quantity, self.filled_quantity,
                       self.remaining_quantity, self.status, self.time_in_force,
                       self.post_only, self.reduce_only, self.created_at, self.updated_at)


class FillW(Wire):
    fill_id: str
    order_id: str
    client_order_id: str | None = None
    quote_id: str | None = None
    market_id: str
    side: Side
    price: Decimal
    quantity: Decimal
    liquidity: Liquidity
    fee: Decimal
    created_at: int

    def to_domain(self) -> r.Fill:
        return r.Fill(self.fill_id, self.order_id, self.client_order_id, self.quote_id,
                      self.market_id, self.side, self.price, self.quantity, self.liquidity,
                      self.fee, self.created_at)


# --- trading --------------------------------------------------------------------------

class PreviewW(Wire):
    notional: Decimal
    margin_required: Decimal
    est_fee: Decimal
    fee_bps: Decimal
    fee_role: Liquidity
    approved: bool
    reason: str | None = None

    def to_domain(self) -> r.Preview:
        return r.Preview(self.notional, self.margin_required, self.est_fee, self.fee_bps,
                         self.fee_role, self.approved, self.reason)


class LevelRejectW(Wire):
    client_order_id: str | None = None
    code: str
    message: str = ""


class BulkResultW(Wire):
    quote_id: str
    accepted: list[OrderW]
    rejected: list[LevelRejectW]
    cancelled: list[str]

    def to_domain(self) -> r.BulkResult:
        return r.BulkResult(self.quote_id, tuple(o.to_domain() for o in self.accepted),
                            tuple(r.LevelReject(x.client_order_id, x.code, x.message)
                                  for x in self.rejected), tuple(self.cancelled))


class CancelAllW(Wire):
    cancelled: list[str]
    count: int


class CloseW(Wire):
    order: OrderW
    fills: list[FillW] = []

    def to_domain(self) -> r.CloseResult:
        return r.CloseResult(self.order.to_domain(), tuple(f.to_domain() for f in self.fills))


# --- keys -----------------------------------------------------------------------------

class ApiKeyW(Wire):
    id: str
    name: str
    scope: Literal["read", "trade"]
    allowed_ips: list[str] = []
    expires_at: str | None = None
    created_at: str | None = None
    revoked_at: str | None = None
    last_used_at: str | None = None
    last_used_ip: str | None = None
    status: str


class ApiKeysW(Wire):
    keys: list[ApiKeyW]


class CreatedKeyW(Wire):
    """The one response that carries a key secret: never log or print it whole."""
    id: str
    secret: str = Field(repr=False)
    message: str = ""


class SessionW(Wire):
    token: str = Field(repr=False)


# --- streams --------------------------------------------------------------------------

class StreamLevelW(Wire):
    price: Decimal = Field(gt=0)
    size: Decimal = Field(ge=0)


class BookMessageW(Wire):
    """A book-stream snapshot or update (and the `book` part of a per-market stream)."""
    market_id: str | None = None
    sequence: int | None = None
    bids: list[StreamLevelW]
    asks: list[StreamLevelW]


class IndexW(Wire):
    market_id: str
    price: Decimal
    ts: int


class EnvelopeW(Wire):
    event_id: str
    event_type: str
    event_seq: int
    engine_ts: int
    payload: dict[str, Any]


class PrivateSnapshotW(Wire):
    orders: list[OrderW]
    positions: list[PositionW]
    balances: BalancesW
    book: BookMessageW | None = None


class PrivateDeltaW(Wire):
    fills: list[FillW] = []
    orders: list[OrderW] = []
    removed_order_ids: list[str] = []
    positions: list[PositionW] = []
    balances: BalancesW | None = None
    book: BookMessageW | None = None


class StreamErrorW(Wire):
    code: str
    message: str = ""
    retryable: bool = True


class ErrorBodyW(Wire):
    """Both error forms: {error: Kind, code, message, details} and {error: CODE, message}."""
    error: str | None = None
    code: str | None = None
    message: str = ""
    details: dict[str, Any] = {}
    retry_after_ms: int | None = None

    @property
    def the_code(self) -> str:
        return self.code or self.error or "UNKNOWN"


MARKETS = TypeAdapter(list[MarketW])
POSITIONS = TypeAdapter(list[PositionW])
ORDERS = TypeAdapter(list[OrderW])
