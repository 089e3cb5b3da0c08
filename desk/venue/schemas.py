"""Pydantic models of the contract's request and response bodies (the OpenAPI schema).

Requests are validated strictly (unknown fields and floats for prices are
refused); responses are documented for the schema and built by `views`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    Tag,
    WithJsonSchema,
)

from desk.domain import DECIMAL_PATTERN, OrderType, Side, TimeInForce, parse_decimal

WIRE_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"  # what the venue sends back


def _decimal(value: object) -> Decimal:
    return parse_decimal(value)


DecimalStr = Annotated[
    Decimal,
    BeforeValidator(_decimal),
    WithJsonSchema({"type": "string", "pattern": DECIMAL_PATTERN, "examples": ["64012.5"]}),
]
WireDecimal = Annotated[str, Field(pattern=WIRE_PATTERN)]
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")]
MarketId = Annotated[str, Field(min_length=1, max_length=32)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OrderIn(_Request):
    marketId: MarketId
    clientOrderId: Id | None = None
    type: OrderType = OrderType.LIMIT
    side: Side
    price: DecimalStr | None = None
    quantity: DecimalStr
    timeInForce: TimeInForce = TimeInForce.GTC
    postOnly: bool = False
    reduceOnly: bool = False


class QuoteLevelIn(_Request):
    side: Side
    price: DecimalStr
    quantity: DecimalStr
    clientOrderId: Id | None = None
    postOnly: bool = False
    reduceOnly: bool = False
    timeInForce: TimeInForce = TimeInForce.GTC


class BulkQuoteIn(_Request):
    marketId: MarketId
    quoteId: Id
    cancelAll: bool = False
    quotes: list[QuoteLevelIn] = Field(max_length=100)


def _preview_kind(value: object) -> str:
    return "BulkQuoteIn" if isinstance(value, dict) and "quotes" in value else "OrderIn"


# a preview body is one order or a whole bulk quote; told apart by `quotes`
PreviewIn = Annotated[
    Annotated[OrderIn, Tag("OrderIn")] | Annotated[BulkQuoteIn, Tag("BulkQuoteIn")],
    Discriminator(_preview_kind),
]
UNION_TAGS = frozenset({"OrderIn", "BulkQuoteIn"})


class CancelAllIn(_Request):
    marketId: MarketId | None = None
    quoteId: Id | None = None


class ClosePositionIn(_Request):
    marketId: MarketId
    quantity: DecimalStr | None = None


_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
IpOrNetwork = Annotated[str, Field(max_length=64), WithJsonSchema({
    "type": "string",
    "description": "an IPv4 or IPv6 address, or an IPv4 CIDR block",
    "anyOf": [{"format": "ipv4"}, {"format": "ipv6"},
              {"pattern": rf"^({_OCTET}\.){{3}}{_OCTET}/(3[0-2]|[12]?[0-9])$"}],
})]


class ApiKeyIn(_Request):
    name: str = Field(min_length=1, max_length=64)
    scope: Literal["read", "trade"]
    allowedIps: list[IpOrNetwork] = Field(default_factory=list, max_length=32)
    expiresInDays: int | None = Field(default=None, ge=1, le=3650)


class DevSessionIn(_Request):
    account: str = Field(default="desk", min_length=1, max_length=64,
                         pattern=r"^[A-Za-z0-9_.\-]+$")


class FaultIn(_Request):
    kind: Literal["freeze_index", "drop_streams", "seq_gap", "stop_heartbeats", "rate_limit",
                  "error_burst", "latency", "halt_market", "margin_squeeze", "expire_key",
                  "fence_key"]
    keyId: Id | None = None  # expire_key, fence_key: a key of the session's account
    allowedIps: list[IpOrNetwork] | None = Field(default=None, min_length=1, max_length=32)
    undo: StrictBool = False  # expire_key, fence_key: end the fault on that key now
    marketId: MarketId | None = None
    seconds: float | None = Field(default=None, gt=0, le=3600)
    count: int | None = Field(default=None, ge=1, le=100_000)
    ms: int | None = Field(default=None, ge=1, le=60_000)
    factor: DecimalStr | None = None


# --- responses (documentation of what `views` builds) ------------------------------

class ErrorOut(BaseModel):
    error: str
    code: str
    message: str
    details: dict[str, Any] = {}
    retryAfterMs: int | None = None


class MarketOut(BaseModel):
    marketId: str
    base: str
    quote: str
    type: Literal["perp"]
    tradingStatus: Literal["trading", "halted"]
    tickSize: WireDecimal
    stepSize: WireDecimal
    minQuantity: WireDecimal
    priceBandLow: WireDecimal
    priceBandHigh: WireDecimal
    makerFeeBps: WireDecimal
    takerFeeBps: WireDecimal
    markPrice: WireDecimal
    indexPrice: WireDecimal
    initialMarginRate: WireDecimal
    maintenanceMarginRate: WireDecimal


class OrderBookOut(BaseModel):
    marketId: str
    sequence: int
    timestamp: str
    bids: list[tuple[WireDecimal, WireDecimal]]
    asks: list[tuple[WireDecimal, WireDecimal]]


class MarketStatsOut(BaseModel):
    marketId: str
    last: WireDecimal | None
    markPrice: WireDecimal
    indexPrice: WireDecimal
    high24h: WireDecimal | None
    low24h: WireDecimal | None
    volume24h: WireDecimal
    openInterest: WireDecimal
    fundingRate: WireDecimal


class FeeTierOut(BaseModel):
    tier: int
    minVolume30d: WireDecimal
    makerFeeBps: WireDecimal
    takerFeeBps: WireDecimal


class FeesOut(BaseModel):
    tiers: list[FeeTierOut]


class MyFeesOut(BaseModel):
    tier: int
    makerFeeBps: WireDecimal
    takerFeeBps: WireDecimal
    volume30d: WireDecimal


class BalancesOut(BaseModel):
    equity: WireDecimal
    walletBalance: WireDecimal
    availableMargin: WireDecimal
    initialMargin: WireDecimal
    maintenanceMargin: WireDecimal
    marginUsage: WireDecimal
    unrealizedPnl: WireDecimal
    realizedPnl: WireDecimal


class PositionOut(BaseModel):
    marketId: str
    side: Literal["long", "short"]
    quantity: WireDecimal
    entryPrice: WireDecimal
    markPrice: WireDecimal
    unrealizedPnl: WireDecimal
    realizedPnl: WireDecimal
    liquidationPrice: WireDecimal | None


class OrderOut(BaseModel):
    orderId: str
    clientOrderId: str | None
    quoteId: str | None
    marketId: str
    side: Side
    type: OrderType
    price: WireDecimal | None
    quantity: WireDecimal
    filledQuantity: WireDecimal
    remainingQuantity: WireDecimal
    status: Literal["open", "partially_filled", "filled", "cancelled", "rejected"]
    timeInForce: TimeInForce
    postOnly: bool
    reduceOnly: bool
    createdAt: str
    updatedAt: str


class FillOut(BaseModel):
    fillId: str
    orderId: str
    clientOrderId: str | None
    quoteId: str | None
    marketId: str
    side: Side
    price: WireDecimal
    quantity: WireDecimal
    liquidity: Literal["maker", "taker"]
    fee: WireDecimal
    createdAt: int


class PreviewOut(BaseModel):
    notional: WireDecimal
    marginRequired: WireDecimal
    estFee: WireDecimal
    feeBps: WireDecimal
    feeRole: Literal["maker", "taker"]
    approved: bool
    reason: str | None = None


class RejectedOut(BaseModel):
    clientOrderId: str | None
    code: str
    message: str


class BulkQuoteOut(BaseModel):
    quoteId: str
    accepted: list[OrderOut]
    rejected: list[RejectedOut]
    cancelled: list[str]


class CancelAllOut(BaseModel):
    cancelled: list[str]
    count: int


class CloseOut(BaseModel):
    order: OrderOut
    fills: list[FillOut]


class ApiKeyOut(BaseModel):
    id: str
    name: str
    scope: Literal["read", "trade"]
    allowedIps: list[str]
    expiresAt: str | None
    createdAt: str
    revokedAt: str | None
    lastUsedAt: str | None
    lastUsedIp: str | None
    status: Literal["active", "expired", "revoked"]


class ApiKeyListOut(BaseModel):
    keys: list[ApiKeyOut]


class ApiKeyCreatedOut(BaseModel):
    id: str
    secret: str
    message: str


class DevSessionOut(BaseModel):
    token: str


class SimStateOut(BaseModel):
    clock: str
    clockMs: int
    markets: list[dict[str, Any]]
    accounts: list[dict[str, Any]]
    counters: dict[str, int]
    faults: dict[str, Any]
