"""The async REST client `desk.ocx.rest.OcxClient` against real servers on 127.0.0.1.

Most tests talk to the embedded venue (simulation off, so books hold only what the
tests put there; a second account is the counterparty). Faults come from the venue
itself (`POST /sim/faults`). Waits are observed through an injected `sleep` that
records the seconds asked for and returns at once, with an injected `monotonic`
that it moves forward; where the venue's rate window must move too, the venue runs
on a clock that the same fake sleep shifts.

Secrets never appear inside an `assert` expression or message: they are assigned to
variables (or checked through a boolean first), and they reach the client wrapped in
`Redacted`, so that a failing client call cannot print them in pytest's traceback.

Three tests here fail against the client as it stands; each names the contract rule it
holds the client to (previews spend the order-path budget; an ambiguous taker order is
not traded twice; reads with a malformed 200 are retried).
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
import uvicorn
from pydantic import ValidationError as PydanticError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from desk.domain import Liquidity, OrderStatus, OrderType, Side, TimeInForce
from desk.domain import records as r
from desk.domain.errors import (
    AuthError,
    BadRequestError,
    BusinessReject,
    DuplicateClientOrderIdError,
    ForbiddenError,
    InsufficientMarginError,
    InvalidStepError,
    InvalidTickError,
    MarketHaltedError,
    NotFoundError,
    PostOnlyWouldCrossError,
    PriceOutOfBandError,
    RateLimitedError,
    ReduceOnlyError,
    TransportError,
    ValidationError,
    VenueCallError,
)
from desk.ocx import wire as w
from desk.ocx.config import ClientConfig
from desk.ocx.pacing import full_jitter
from desk.ocx.rest import OcxClient
from desk.venue.runtime import FAULT_RETRY_MS
from desk.venue.server import VenueServer, bind
from tests.integration.conftest import BTC, ETH, window_start_clock

BASE_S, CAP_S = 0.01, 0.05
D = Decimal
DAY_MS = 86_400_000


def cfg(**overrides: Any) -> ClientConfig:
    return ClientConfig(**{"backoff_base_s": BASE_S, "backoff_cap_s": CAP_S, **overrides})


def limit(side: str, price: str, qty: str, market: str = BTC, **kw: Any) -> r.OrderRequest:
    return r.OrderRequest(market, Side(side), D(qty), price=D(price), **kw)


def level(side: str, price: str, qty: str, coid: str, **kw: Any) -> r.QuoteLevel:
    return r.QuoteLevel(Side(side), D(price), D(qty), coid, **kw)


def assert_decimal_record(obj: Any, *, allow_none: tuple[str, ...] = (),
                          ints: tuple[str, ...] = ()) -> None:
    """Every numeric field of a record or wire model is a Decimal (never a float or str)."""
    values = (dataclasses.asdict(obj) if dataclasses.is_dataclass(obj)
              else obj.model_dump())
    for name, value in values.items():
        if value is None:
            assert name in allow_none, name
        elif isinstance(value, bool) or name in ints:
            assert not isinstance(value, float), name
        elif not isinstance(value, (str, tuple, list, dict)):
            assert isinstance(value, Decimal), (name, type(value))


def assert_order_record(o: r.Order) -> None:
    assert isinstance(o, r.Order)
    assert isinstance(o.side, Side) and isinstance(o.status, OrderStatus)
    assert isinstance(o.type, OrderType) and isinstance(o.time_in_force, TimeInForce)
    for name in ("quantity", "filled_quantity", "remaining_quantity"):
        assert isinstance(getattr(o, name), Decimal), name
    assert o.price is None or isinstance(o.price, Decimal)
    assert o.order_id and o.created_at and o.updated_at


# --- accounts, clients, fake time ---------------------------------------------------------

class Redacted(str):
    """A secret whose repr is masked. pytest's long tracebacks print the arguments of
    every frame, the client's own `_send(headers=...)` included: a key passed to the
    client as a plain str would show there whenever a client call fails a test."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'<redacted>'"


def redacted(secret: str | None) -> str | None:
    return None if secret is None else Redacted(secret)


@dataclass(repr=False)
class Account:
    """One venue account: its session and a trade and a read key (repr shows no secret)."""

    name: str
    session: str
    trade_secret: str
    read_secret: str
    trade_id: str
    read_id: str

    def __repr__(self) -> str:
        return f"Account({self.name!r})"


async def open_account(url: str, name: str) -> Account:
    """A dev session, then a trade key and a read key, all through the client itself."""
    async with OcxClient(url, config=cfg()) as c:
        session = await c.dev_session(name)
        c.with_session(Redacted(session))
        trade = await c.create_api_key(f"{name}-trade", "trade")
        read = await c.create_api_key(f"{name}-read", "read")
    return Account(name, Redacted(session), Redacted(trade.secret), Redacted(read.secret),
                   trade.id, read.id)


@pytest.fixture
async def connect():
    """Make `OcxClient`s (fast backoff by default); all are closed at teardown."""
    clients: list[OcxClient] = []

    def make(url: str, api_key: str | None = None, session: str | None = None,
             **kw: Any) -> OcxClient:
        kw.setdefault("config", cfg())
        client = OcxClient(url, api_key=redacted(api_key), session=redacted(session), **kw)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
async def desk(venue: VenueServer) -> Account:
    return await open_account(venue.url, "desk")


@pytest.fixture
async def other(venue: VenueServer) -> Account:
    return await open_account(venue.url, "other")


class ShiftClock:
    """A venue clock (unix ms) whose one-minute window starts now, shifted on demand."""

    def __init__(self) -> None:
        self.base = window_start_clock()
        self.shift_ms = 0

    def __call__(self) -> int:
        return self.base() + self.shift_ms


class FakeTime:
    """`monotonic` and `sleep` for the client: sleeping records and moves time at once."""

    def __init__(self, venue_clock: ShiftClock | None = None,
                 on_sleep: Callable[[float], None] | None = None):
        self.now = 1_000.0
        self.sleeps: list[float] = []
        self.venue_clock = venue_clock
        self.on_sleep = on_sleep

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        if self.on_sleep is not None:
            self.on_sleep(seconds)
        self.sleeps.append(seconds)
        self.now += max(seconds, 0.0)
        if self.venue_clock is not None:
            self.venue_clock.shift_ms += int(seconds * 1000) + 1


def kw_time(fake: FakeTime) -> dict[str, Any]:
    return {"sleep": fake.sleep, "monotonic": fake.monotonic}


def key_uses(venue: VenueServer, key_id: str) -> int:
    """How many requests with this key reached the venue (its own counter)."""
    return venue.runtime.keys.keys[key_id].uses


async def faults(admin: OcxClient) -> dict[str, Any]:
    return (await admin.sim_state())["faults"]


async def build_long(c: OcxClient, cp: OcxClient, qty: str, price: str = "64000") -> None:
    """Make `c` long `qty` BTC by taking a resting ask of the counterparty `cp`."""
    await cp.place_order(limit("sell", price, qty, post_only=True))
    taken = await c.place_order(limit("buy", price, qty, time_in_force=TimeInForce.IOC))
    assert taken.status is OrderStatus.FILLED and taken.filled_quantity == D(qty)


def coid_counts(orders: list[r.Order]) -> Counter[str | None]:
    return Counter(o.client_order_id for o in orders)


async def assert_view_consistent(c: OcxClient, expected: dict[str, int]) -> None:
    """Open orders per the client's REST view: each expected clientOrderId exactly as
    often as expected, no clientOrderId twice, all of them live."""
    live = await c.orders()
    counts = coid_counts(live)
    assert all(o.status.live for o in live), live
    assert all(n == 1 for n in counts.values()), counts
    assert {k: counts.get(k, 0) for k in expected} == expected


# --- public market data ---------------------------------------------------------------------

async def test_public_market_data_as_decimal_records(venue, desk, other, connect):
    c = connect(venue.url, desk.trade_secret)
    cp = connect(venue.url, other.trade_secret)

    markets = await c.markets()
    assert [m.market_id for m in markets] == [BTC, ETH, "SOL-PERP"]
    for m in markets:
        assert isinstance(m, r.Market) and m.trading is True
        assert_decimal_record(m)
    btc = next(m for m in markets if m.market_id == BTC)
    eth = next(m for m in markets if m.market_id == ETH)
    assert (btc.tick_size, btc.step_size, btc.min_quantity) == (D("0.1"), D("0.001"),
                                                                 D("0.001"))
    assert (eth.tick_size, eth.step_size) == (D("0.01"), D("0.01"))
    assert btc.index_price == D("64000")
    assert btc.price_band_low < btc.index_price < btc.price_band_high

    empty = await c.orderbook(BTC)
    assert isinstance(empty, w.OrderBookW) and empty.bids == [] and empty.asks == []

    await cp.place_order(limit("buy", "63000", "0.2"))
    await cp.place_order(limit("buy", "62999.9", "0.001"))
    await cp.place_order(limit("sell", "65000", "0.3"))
    book = await c.orderbook(BTC, depth=1)
    assert book.market_id == BTC and book.sequence > empty.sequence
    assert book.bids == [(D("63000"), D("0.2"))] and book.asks == [(D("65000"), D("0.3"))]
    assert all(isinstance(x, Decimal) for lvl in book.bids + book.asks for x in lvl)
    deep = await c.orderbook(BTC)
    assert [p for p, _ in deep.bids] == [D("63000"), D("62999.9")]

    await c.place_order(limit("sell", "63000", "0.05", time_in_force=TimeInForce.IOC))
    stats = await c.market_stats(BTC)
    assert isinstance(stats, w.MarketStatsW) and stats.market_id == BTC
    assert_decimal_record(stats, allow_none=("high24h", "low24h"))
    assert stats.last == D("63000") and stats.volume24h > 0
    assert stats.open_interest == D("0.05")

    fees = await c.fees()
    assert isinstance(fees, w.FeesW) and len(fees.tiers) == 4
    for tier in fees.tiers:
        assert_decimal_record(tier, ints=("tier",))
    assert (fees.tiers[0].maker_fee_bps, fees.tiers[0].taker_fee_bps) == (D(2), D(5))
    assert fees.tiers[3].maker_fee_bps == D("-0.5")


# --- account reads --------------------------------------------------------------------------

async def test_account_reads_as_decimal_records(venue, desk, other, connect):
    c = connect(venue.url, desk.read_secret)
    trade = connect(venue.url, desk.trade_secret)
    cp = connect(venue.url, other.trade_secret)

    balances = await c.balances()
    assert isinstance(balances, r.Balances)
    assert_decimal_record(balances)
    assert balances.equity == balances.wallet_balance == balances.available_margin == D(100000)
    assert await c.positions() == [] and await c.orders() == []

    mine = await c.my_fees()
    assert isinstance(mine, w.MyFeesW) and mine.tier == 0
    assert_decimal_record(mine, ints=("tier",))
    assert (mine.maker_fee_bps, mine.taker_fee_bps, mine.volume30d) == (D(2), D(5), D(0))

    await build_long(trade, cp, "0.5")
    positions = await c.positions()
    assert len(positions) == 1
    pos = positions[0]
    assert isinstance(pos, r.Position)
    assert_decimal_record(pos, allow_none=("liquidation_price",))
    assert (pos.market_id, pos.quantity, pos.entry_price) == (BTC, D("0.5"), D("64000"))
    fees_paid = D("64000") * D("0.5") * 5 / 10_000  # taker
    after = await c.balances()
    assert after.wallet_balance == D(100000) - fees_paid
    assert after.initial_margin > 0 and after.available_margin < after.equity
    assert (await c.my_fees()).volume30d == D(32000)

    # filters: market and status
    a = await trade.place_order(limit("buy", "63000", "0.1", client_order_id="f-btc"))
    b = await trade.place_order(limit("buy", "3100", "1", market=ETH, client_order_id="f-eth"))
    await trade.cancel_order(b.order_id)
    assert [o.order_id for o in await c.orders()] == [a.order_id]
    assert [o.order_id for o in await c.orders(market_id=BTC)] == [a.order_id]
    assert await c.orders(market_id=ETH) == []
    cancelled = await c.orders(status="cancelled")
    assert [o.order_id for o in cancelled] == [b.order_id]
    assert cancelled[0].status is OrderStatus.CANCELLED
    filled = await c.orders(market_id=BTC, status="filled")
    assert [o.quantity for o in filled] == [D("0.5")]
    for o in await c.orders() + cancelled + filled:
        assert_order_record(o)


# --- trading ----------------------------------------------------------------------------------

async def test_previews_have_no_side_effects(venue, desk, other, connect):
    c = connect(venue.url, desk.trade_secret)
    cp = connect(venue.url, other.trade_secret)
    await cp.place_order(limit("sell", "64000", "1"))

    maker = await c.preview_order(limit("buy", "63000", "0.1", post_only=True))
    assert isinstance(maker, r.Preview)
    assert_decimal_record(maker, allow_none=("reason",))
    assert maker.approved is True and maker.reason is None
    assert maker.fee_role is Liquidity.MAKER and maker.fee_bps == D(2)
    assert maker.notional == D("6300") and maker.est_fee == D("1.26")
    btc = next(m for m in await c.markets() if m.market_id == BTC)
    assert maker.margin_required == D("0.1") * btc.mark_price * btc.initial_margin_rate

    taker = await c.preview_order(limit("buy", "64000", "0.1"))
    assert taker.fee_role is Liquidity.TAKER and taker.fee_bps == D(5)

    crossing = await c.preview_order(limit("buy", "64000", "0.1", post_only=True))
    assert crossing.approved is False and crossing.reason.startswith("POST_ONLY_WOULD_CROSS")

    huge = await c.preview_order(limit("buy", "61000", "40"))
    assert huge.approved is False and huge.reason.startswith("INSUFFICIENT_MARGIN")
    assert huge.margin_required > D(100000)

    ladder = await c.preview_quotes(BTC, [level("buy", "63000", "0.1", "p1"),
                                          level("sell", "65000", "0.2", "p2")])
    assert isinstance(ladder, r.Preview) and ladder.approved is True
    assert ladder.notional == D("6300") + D("13000") and ladder.fee_role is Liquidity.MAKER
    assert_decimal_record(ladder, allow_none=("reason",))

    assert await c.orders() == []  # nothing placed by any preview
    assert (await c.balances()).initial_margin == 0


async def test_place_cancel_and_cancel_again(venue, desk, connect):
    c = connect(venue.url, desk.trade_secret)
    order = await c.place_order(limit("buy", "63000.5", "0.123", client_order_id="pc-1",
                                      post_only=True))
    assert_order_record(order)
    assert (order.client_order_id, order.market_id, order.side) == ("pc-1", BTC, Side.BUY)
    assert (order.price, order.quantity) == (D("63000.5"), D("0.123"))
    assert order.status is OrderStatus.OPEN and order.remaining_quantity == D("0.123")
    assert order.filled_quantity == 0 and order.post_only is True
    assert [o.order_id for o in await c.orders()] == [order.order_id]

    first = await c.cancel_order(order.order_id)
    assert_order_record(first)
    assert first.order_id == order.order_id and first.status is OrderStatus.CANCELLED
    second = await c.cancel_order(order.order_id)  # idempotent: the cancelled order again
    assert second.order_id == order.order_id and second.status is OrderStatus.CANCELLED
    assert second.quantity == D("0.123")
    assert await c.orders() == []
    assert c.retries == 0


async def test_place_order_without_client_order_id_gets_one(venue, desk, connect):
    c = connect(venue.url, desk.trade_secret)
    order = await c.place_order(limit("sell", "65000", "0.01"))
    assert isinstance(order.client_order_id, str) and order.client_order_id
    assert [o.client_order_id for o in await c.orders()] == [order.client_order_id]

    fixed = connect(venue.url, desk.trade_secret, new_coid=lambda: "from-the-id-source")
    mine = await fixed.place_order(limit("sell", "65001", "0.01"))
    assert mine.client_order_id == "from-the-id-source"
    third = await c.place_order(limit("sell", "65002", "0.01"))
    assert third.client_order_id not in (order.client_order_id, mine.client_order_id)


async def test_bulk_quote_replaces_atomically(venue, desk, connect):
    c = connect(venue.url, desk.trade_secret)
    first = await c.bulk_quote(BTC, "q1", [level("buy", "63000", "0.1", "q1-b"),
                                           level("sell", "65000", "0.1", "q1-s")],
                               cancel_all=False)
    assert isinstance(first, r.BulkResult) and first.quote_id == "q1"
    assert [o.client_order_id for o in first.accepted] == ["q1-b", "q1-s"]
    assert first.rejected == () and first.cancelled == ()
    for o in first.accepted:
        assert_order_record(o)
        assert o.quote_id == "q1" and o.status is OrderStatus.OPEN
    eth = await c.place_order(limit("buy", "3100", "1", market=ETH, client_order_id="eth-1"))

    # the same clientOrderIds again: free, because cancelAll replaces the old quotes
    second = await c.bulk_quote(BTC, "q2", [level("buy", "63100", "0.2", "q1-b"),
                                            level("sell", "64900", "0.2", "q2-s"),
                                            level("sell", "64900.05", "0.2", "q2-bad")])
    assert set(second.cancelled) == {o.order_id for o in first.accepted}
    assert [o.client_order_id for o in second.accepted] == ["q1-b", "q2-s"]
    assert [(x.client_order_id, x.code) for x in second.rejected] == [("q2-bad",
                                                                       "INVALID_TICK")]
    assert isinstance(second.rejected[0], r.LevelReject) and second.rejected[0].message

    live = await c.orders()
    assert {o.order_id for o in live} == {o.order_id for o in second.accepted} | {eth.order_id}
    assert {o.price for o in live if o.market_id == BTC} == {D("63100"), D("64900")}
    cancelled = {o.order_id for o in await c.orders(status="cancelled")}
    assert cancelled == set(second.cancelled)


async def test_cancel_all_by_quote_by_market_and_everything(venue, desk, connect):
    c = connect(venue.url, desk.trade_secret)
    a = await c.bulk_quote(BTC, "qa", [level("buy", "63000", "0.1", "a1"),
                                       level("sell", "65000", "0.1", "a2")], cancel_all=False)
    b = await c.bulk_quote(BTC, "qb", [level("buy", "62000", "0.1", "b1")], cancel_all=False)
    e1 = await c.place_order(limit("buy", "3100", "1", market=ETH))
    e2 = await c.place_order(limit("sell", "3300", "1", market=ETH))

    by_quote = await c.cancel_all(quote_id="qa")
    assert sorted(by_quote) == sorted(o.order_id for o in a.accepted)
    by_market = await c.cancel_all(market_id=ETH)
    assert sorted(by_market) == sorted([e1.order_id, e2.order_id])
    assert [o.order_id for o in await c.orders()] == [b.accepted[0].order_id]
    assert await c.cancel_all(market_id=ETH) == []

    await c.place_order(limit("buy", "3100", "1", market=ETH))
    everything = await c.cancel_all()
    assert len(everything) == 2 and b.accepted[0].order_id in everything
    assert await c.orders() == []


async def test_close_position_by_quantity_then_fully(venue, desk, other, connect):
    c = connect(venue.url, desk.trade_secret)
    cp = connect(venue.url, other.trade_secret)
    await build_long(c, cp, "0.5")
    await cp.place_order(limit("buy", "63900", "1"))

    part = await c.close_position(BTC, D("0.2"))
    assert isinstance(part, r.CloseResult)
    assert_order_record(part.order)
    assert part.order.type is OrderType.MARKET and part.order.reduce_only is True
    assert part.order.side is Side.SELL and part.order.status is OrderStatus.FILLED
    assert part.order.filled_quantity == D("0.2")
    assert [(f.price, f.quantity, f.liquidity) for f in part.fills] == [
        (D("63900"), D("0.2"), Liquidity.TAKER)]
    assert all(isinstance(f, r.Fill) and isinstance(f.fee, Decimal) for f in part.fills)
    assert part.fills[0].order_id == part.order.order_id
    [pos] = await c.positions()
    assert pos.quantity == D("0.3")

    rest = await c.close_position(BTC)
    assert rest.order.filled_quantity == D("0.3") and rest.order.reduce_only is True
    assert sum(f.quantity for f in rest.fills) == D("0.3")
    positions = await c.positions()
    assert all(p.flat for p in positions)
    with pytest.raises(NotFoundError):  # nothing left to close
        await c.close_position(BTC)


async def test_api_keys_list_create_revoke(venue, desk, connect):
    admin = connect(venue.url, session=desk.session)
    keys = await admin.api_keys()
    assert all(isinstance(k, w.ApiKeyW) for k in keys)
    assert {(k.id, k.scope, k.status) for k in keys} == {(desk.trade_id, "trade", "active"),
                                                         (desk.read_id, "read", "active")}

    created = await admin.create_api_key("bot", "trade", expires_in_days=7)
    assert isinstance(created, w.CreatedKeyW) and created.id.startswith("ocx_kid_")
    secret = created.secret
    well_formed = secret.startswith("ocx_sk_") and len(secret) > 20
    assert well_formed
    leaked = secret in repr(created)
    assert not leaked

    bot = connect(venue.url, secret)
    order = await bot.place_order(limit("buy", "63000", "0.01"))
    listed = {k.id: k for k in await admin.api_keys()}
    assert listed[created.id].name == "bot" and listed[created.id].status == "active"
    assert listed[created.id].expires_at is not None and listed[created.id].last_used_at

    await admin.revoke_api_key(created.id)
    listed = {k.id: k for k in await admin.api_keys()}
    assert listed[created.id].status == "revoked" and listed[created.id].revoked_at
    await admin.revoke_api_key(created.id)  # again: still fine
    with pytest.raises(AuthError):
        await bot.cancel_order(order.order_id)

    keyless = connect(venue.url)
    with pytest.raises(VenueCallError, match="session"):
        await keyless.api_keys()
    with pytest.raises(VenueCallError, match="API key"):
        await keyless.balances()


# --- typed errors -------------------------------------------------------------------------------

async def test_validation_errors_name_the_field(venue, desk, connect):
    c = connect(venue.url, desk.trade_secret)
    cases = [
        (limit("buy", "63000", "0"), "quantity"),
        (limit("buy", "63000", "-1"), "quantity"),
        (limit("buy", "0", "0.1"), "price"),
        (r.OrderRequest(BTC, Side.BUY, D("0.1")), "price"),  # a limit order without price
        (limit("buy", "63000", "0.1", client_order_id="no spaces allowed"), "clientOrderId"),
        (r.OrderRequest(BTC, Side.BUY, D("0.1"), type=OrderType.MARKET, post_only=True),
         "postOnly"),
    ]
    for request, field in cases:
        with pytest.raises(ValidationError) as info:
            await c.place_order(request)
        err = info.value
        assert (err.status, err.code) == (400, "VALIDATION")
        assert field in err.field_errors, (field, err.field_errors)
        assert all(msg for msg in err.field_errors[field])
    with pytest.raises(ValidationError) as info:
        await c.bulk_quote(BTC, "bad quote id!", [level("buy", "63000", "0.1", "v1")])
    assert "quoteId" in info.value.field_errors
    assert c.retries == 0 and await c.orders() == []


async def test_not_found_and_bad_request(make_venue, connect):
    venue = make_venue(max_accounts=3)
    desk = await open_account(venue.url, "desk")
    c = connect(venue.url, desk.trade_secret)
    admin = connect(venue.url, session=desk.session)
    calls = [
        lambda: c.place_order(limit("buy", "63000", "0.1", market="NOPE-PERP")),
        lambda: c.orderbook("NOPE-PERP"),
        lambda: c.market_stats("NOPE-PERP"),
        lambda: c.orders(market_id="NOPE-PERP"),
        lambda: c.cancel_order("01ARZ3NDEKTSV4RRFFQ69G5FAV"),
        lambda: c.close_position(BTC),  # no position
        lambda: admin.revoke_api_key("ocx_kid_nosuchkey"),
    ]
    for call in calls:
        with pytest.raises(NotFoundError) as info:
            await call()
        assert (info.value.status, info.value.code) == (404, "NOT_FOUND")
    assert c.retries == 0 and admin.retries == 0

    await admin.dev_session("second")
    await admin.dev_session("third")
    with pytest.raises(BadRequestError) as info:  # the venue's account cap
        await admin.dev_session("fourth")
    assert (info.value.status, info.value.code) == (400, "BAD_REQUEST")


async def test_business_rejects_are_typed_and_place_nothing(venue, desk, other, connect):
    c = connect(venue.url, desk.trade_secret)
    cp = connect(venue.url, other.trade_secret)
    await cp.place_order(limit("sell", "64000", "1"))
    cases = [
        (limit("buy", "64000", "0.1", post_only=True), PostOnlyWouldCrossError,
         "POST_ONLY_WOULD_CROSS"),
        (limit("sell", "65000", "0.1", reduce_only=True), ReduceOnlyError,
         "REDUCE_ONLY_WOULD_INCREASE"),
        (limit("buy", "70000", "0.1"), PriceOutOfBandError, "PRICE_OUT_OF_BAND"),
        (limit("buy", "63000.05", "0.1"), InvalidTickError, "INVALID_TICK"),
        (limit("buy", "63000", "0.0005"), InvalidStepError, "INVALID_STEP"),
        (limit("buy", "3100.001", "1", market=ETH), InvalidTickError, "INVALID_TICK"),
        (limit("buy", "3100", "0.005", market=ETH), InvalidStepError, "INVALID_STEP"),
    ]
    for request, cls, code in cases:
        with pytest.raises(cls) as info:
            await c.place_order(request)
        err = info.value
        assert isinstance(err, BusinessReject)
        assert (err.status, err.code) == (422, code) and err.message
    with pytest.raises(PriceOutOfBandError) as info:
        await c.place_order(limit("sell", "50000", "0.1"))
    band = info.value.details
    assert D(band["priceBandLow"]) > D("50000")
    assert c.retries == 0
    assert await c.orders() == [] and await c.positions() == []


async def test_duplicate_client_order_id_is_raised_not_looked_up(venue, desk, connect):
    c = connect(venue.url, desk.trade_secret)
    first = await c.place_order(limit("buy", "63000", "0.1", client_order_id="dup-1"))
    with pytest.raises(DuplicateClientOrderIdError) as info:
        await c.place_order(limit("buy", "62000", "0.2", client_order_id="dup-1"))
    assert (info.value.status, info.value.code) == (409, "DUPLICATE_CLIENT_ORDER_ID")
    assert getattr(info.value, "attempts", None) == 1 and c.retries == 0
    live = await c.orders()
    assert [(o.order_id, o.price, o.quantity) for o in live] == [
        (first.order_id, D("63000"), D("0.1"))]
    # a bulk level with a live id is rejected alone, the rest goes in
    out = await c.bulk_quote(BTC, "dq", [level("buy", "61000", "0.1", "dup-1"),
                                         level("buy", "61000", "0.1", "dup-2")],
                             cancel_all=False)
    assert [x.code for x in out.rejected] == ["DUPLICATE_CLIENT_ORDER_ID"]
    assert [o.client_order_id for o in out.accepted] == ["dup-2"]


async def test_market_halted(venue, desk, other, connect):
    c = connect(venue.url, desk.trade_secret)
    cp = connect(venue.url, other.trade_secret)
    admin = connect(venue.url, session=desk.session)
    await build_long(c, cp, "0.1")
    resting = await c.place_order(limit("buy", "63000", "0.1"))
    await admin.inject_fault("halt_market", marketId=BTC, seconds=30)

    for call in (lambda: c.place_order(limit("buy", "63000", "0.1")),
                 lambda: c.bulk_quote(BTC, "hq", [level("buy", "63000", "0.1", "h1")]),
                 lambda: c.close_position(BTC)):
        with pytest.raises(MarketHaltedError) as info:
            await call()
        assert (info.value.status, info.value.code) == (409, "MARKET_HALTED")
    markets = {m.market_id: m for m in await c.markets()}
    assert markets[BTC].trading is False and markets[ETH].trading is True
    await c.place_order(limit("buy", "3100", "1", market=ETH))  # other markets trade
    assert await c.cancel_all(market_id=BTC) == [resting.order_id]  # pulling still works
    assert c.retries == 0
    [pos] = await c.positions()
    assert pos.quantity == D("0.1")


async def test_insufficient_margin_carries_required_and_available(venue, desk, connect):
    c = connect(venue.url, desk.trade_secret)
    admin = connect(venue.url, session=desk.session)
    with pytest.raises(InsufficientMarginError) as info:
        await c.place_order(limit("buy", "61000", "40"))
    err = info.value
    assert (err.status, err.code) == (422, "INSUFFICIENT_MARGIN")
    assert isinstance(err.required_margin, Decimal) and isinstance(err.available_margin,
                                                                   Decimal)
    assert err.available_margin == D("100000")  # all of the equity was free
    assert err.required_margin > err.available_margin
    assert err.required_margin >= D("40") * D("61000") * D("0.05")

    with pytest.raises(InsufficientMarginError):  # the batch as a whole
        await c.bulk_quote(BTC, "mq", [level("buy", "61000", "20", "m1"),
                                       level("buy", "61100", "20", "m2")])
    assert await c.orders() == []

    small = limit("buy", "63000", "2")  # IM 6400: fine until margin is squeezed to 100%
    await admin.inject_fault("margin_squeeze", factor="20", marketId=BTC, seconds=30)
    with pytest.raises(InsufficientMarginError) as info:
        await c.place_order(small)
    assert info.value.required_margin > info.value.available_margin
    assert info.value.required_margin >= D("2") * D("63000")  # the whole notional
    assert await c.orders() == []
    await c.place_order(limit("buy", "3100", "1", market=ETH))  # ETH is not squeezed


async def test_auth_errors_fail_at_once(venue, desk, connect):
    fake = FakeTime()
    admin = connect(venue.url, session=desk.session)
    bogus_secret = "ocx_sk_" + "x" * 43
    bogus = connect(venue.url, bogus_secret, **kw_time(fake))
    for call in (bogus.balances, lambda: bogus.place_order(limit("buy", "63000", "0.1")),
                 bogus.cancel_all):
        with pytest.raises(AuthError) as info:
            await call()
        assert (info.value.status, info.value.code) == (401, "UNAUTHENTICATED")
    assert bogus.retries == 0 and fake.sleeps == []

    created = await admin.create_api_key("short-lived", "trade")
    secret = created.secret
    doomed = connect(venue.url, secret, **kw_time(fake))
    order = await doomed.place_order(limit("buy", "63000", "0.1"))
    await admin.revoke_api_key(created.id)
    uses = key_uses(venue, created.id)
    for call in (doomed.balances, lambda: doomed.cancel_order(order.order_id),
                 doomed.cancel_all):
        with pytest.raises(AuthError) as info:
            await call()
        assert (info.value.status, info.value.code) == (409, "KEY_REVOKED")
    assert doomed.retries == 0 and fake.sleeps == []
    assert key_uses(venue, created.id) == uses  # refused before it counted as a use
    # its order is untouched: the account's other key still sees it
    trade = connect(venue.url, desk.trade_secret)
    assert [o.order_id for o in await trade.orders()] == [order.order_id]

    fenced = await admin.create_api_key("fenced", "trade", allowed_ips=["10.9.8.7"])
    fenced_secret = fenced.secret
    outsider = connect(venue.url, fenced_secret)
    with pytest.raises(ForbiddenError) as info:
        await outsider.balances()
    assert (info.value.status, info.value.code) == (403, "IP_NOT_ALLOWED")


async def test_expired_key_is_refused(make_venue, connect):
    clock = ShiftClock()
    venue = make_venue(clock)
    desk = await open_account(venue.url, "desk")
    admin = connect(venue.url, session=desk.session)
    created = await admin.create_api_key("one-day", "read", expires_in_days=1)
    secret = created.secret
    c = connect(venue.url, secret)
    assert (await c.balances()).equity == D(100000)
    clock.shift_ms += 2 * DAY_MS
    with pytest.raises(AuthError) as info:
        await c.balances()
    assert (info.value.status, info.value.code) == (401, "KEY_EXPIRED")
    assert c.retries == 0
    listed = {k.id: k.status for k in await admin.api_keys()}
    assert listed[created.id] == "expired"


async def test_read_key_reads_but_cannot_trade(venue, desk, connect):
    trade = connect(venue.url, desk.trade_secret)
    read = connect(venue.url, desk.read_secret)
    resting = await trade.place_order(limit("buy", "63000", "0.1"))

    assert (await read.balances()).equity == D(100000)
    assert [o.order_id for o in await read.orders()] == [resting.order_id]
    assert await read.positions() == []
    assert (await read.my_fees()).tier == 0

    for call in (lambda: read.place_order(limit("buy", "62000", "0.1")),
                 lambda: read.cancel_order(resting.order_id),
                 lambda: read.bulk_quote(BTC, "rq", [level("buy", "62000", "0.1", "r1")]),
                 read.cancel_all,
                 lambda: read.close_position(BTC),
                 lambda: read.preview_order(limit("buy", "62000", "0.1"))):
        with pytest.raises(ForbiddenError) as info:
            await call()
        assert (info.value.status, info.value.code) == (403, "FORBIDDEN_SCOPE")
    assert read.retries == 0
    live = await trade.orders()
    assert [(o.order_id, o.status) for o in live] == [(resting.order_id, OrderStatus.OPEN)]


# --- rate limits ------------------------------------------------------------------------------

@pytest.fixture
async def limited(make_venue):
    """A venue allowing 3 order-path calls a minute, on a clock the fake sleep moves."""
    clock = ShiftClock()
    venue = make_venue(clock, rate_limit_per_minute=3)
    desk = await open_account(venue.url, "desk")
    return venue, clock, desk


async def test_spent_window_waits_for_the_reset_but_cancel_all_does_not(limited, connect):
    venue, clock, desk = limited
    uses_at_sleep: list[int] = []
    fake = FakeTime(clock, on_sleep=lambda s: uses_at_sleep.append(
        key_uses(venue, desk.trade_id)))
    c = connect(venue.url, desk.trade_secret, config=cfg(max_rate_wait_s=120),
                **kw_time(fake))

    await c.place_order(limit("buy", "63000", "0.1", client_order_id="rl-1"))
    assert (c.rate.limit, c.rate.remaining) == (3, 2)
    await c.place_order(limit("buy", "62000", "0.1", client_order_id="rl-2"))
    quote = await c.bulk_quote(BTC, "rlq", [level("sell", "65000", "0.1", "rl-3"),
                                            level("sell", "66000", "0.1", "rl-4")],
                               cancel_all=False)
    assert c.rate.remaining == 0 and fake.sleeps == []
    reset_s = c.rate.reset_at - fake.now
    assert 50 <= reset_s <= 60
    assert venue.runtime.limiter.peek("desk").remaining == 0

    # cancel-all goes out at once, spent window or not, and the venue serves it
    uses = key_uses(venue, desk.trade_id)
    pulled = await c.cancel_all(quote_id="rlq")
    assert sorted(pulled) == sorted(o.order_id for o in quote.accepted)
    assert fake.sleeps == [] and c.rate.limited == 0 and c.retries == 0
    assert key_uses(venue, desk.trade_id) == uses + 1
    assert [o.client_order_id for o in await c.orders()] == ["rl-1", "rl-2"]

    # the 4th order-path call waits out the window before it is sent, then goes in once
    uses = key_uses(venue, desk.trade_id)
    fourth = await c.place_order(limit("buy", "61000", "0.1", client_order_id="rl-5"))
    assert fourth.status is OrderStatus.OPEN
    assert fake.sleeps == [pytest.approx(reset_s)]
    assert uses_at_sleep == [uses]  # nothing was sent before the wait
    assert key_uses(venue, desk.trade_id) == uses + 1  # and one send after it, no 429
    assert c.rate.limited == 0 and c.retries == 0
    assert (c.rate.limit, c.rate.remaining) == (3, 2)  # a fresh window
    await assert_view_consistent(c, {"rl-1": 1, "rl-2": 1, "rl-5": 1})


async def test_spent_window_beyond_the_wait_budget_raises_without_sending(limited, connect):
    venue, clock, desk = limited
    fake = FakeTime(clock)
    c = connect(venue.url, desk.trade_secret, config=cfg(max_rate_wait_s=0), **kw_time(fake))
    for i in range(3):
        await c.place_order(limit("buy", str(63000 - i), "0.1"))
    uses = key_uses(venue, desk.trade_id)
    with pytest.raises(RateLimitedError) as info:
        await c.place_order(limit("buy", "62000", "0.1"))
    assert 50 <= info.value.retry_after_s <= 60
    assert key_uses(venue, desk.trade_id) == uses and fake.sleeps == []
    assert len(await c.cancel_all()) == 3  # never held back


async def test_preview_spends_the_order_path_budget(limited, connect):
    """The venue counts `POST /perps/orders/preview` as an order-path call (contract:
    `POST /perps/orders…`) and reports X-RateLimit-* on it; the client's budget must
    follow, or its next order meets a 429 instead of waiting."""
    venue, clock, desk = limited
    fake = FakeTime(clock)
    c = connect(venue.url, desk.trade_secret, config=cfg(max_rate_wait_s=300),
                **kw_time(fake))
    await c.place_order(limit("buy", "63000", "0.1"))
    await c.place_order(limit("buy", "62000", "0.1"))
    await c.preview_order(limit("buy", "61000", "0.1"))
    assert venue.runtime.limiter.peek("desk").remaining == 0
    assert c.rate.remaining == 0
    await c.place_order(limit("buy", "61000", "0.1"))
    assert c.rate.limited == 0  # waited for the window instead of meeting a 429


# --- injected faults ----------------------------------------------------------------------------

async def test_rate_limit_fault_retries_after_retry_after_then_succeeds(venue, desk, connect):
    admin = connect(venue.url, session=desk.session)
    fake = FakeTime()
    c = connect(venue.url, desk.trade_secret, config=cfg(max_attempts=3), **kw_time(fake))
    await admin.inject_fault("rate_limit", count=2)

    out = await c.bulk_quote(BTC, "rf", [level("buy", "63000", "0.1", "rf-b"),
                                         level("sell", "65000", "0.1", "rf-s")])
    assert [o.client_order_id for o in out.accepted] == ["rf-b", "rf-s"]
    retry_after = FAULT_RETRY_MS / 1000
    assert len(fake.sleeps) == 2
    assert all(retry_after <= s <= retry_after + CAP_S for s in fake.sleeps), fake.sleeps
    assert c.retries == 2 and c.rate.limited == 2
    assert (await faults(admin))["rateLimitLeft"] == 0
    assert c.rate.remaining is not None and c.rate.remaining > 0  # the venue's count again
    await assert_view_consistent(c, {"rf-b": 1, "rf-s": 1})


async def test_rate_limit_fault_with_one_attempt_raises(venue, desk, connect):
    admin = connect(venue.url, session=desk.session)
    fake = FakeTime()
    c = connect(venue.url, desk.trade_secret, config=cfg(max_attempts=1), **kw_time(fake))
    await c.place_order(limit("buy", "62000", "0.1", client_order_id="keep"))
    await admin.inject_fault("rate_limit", count=2)

    with pytest.raises(RateLimitedError) as info:
        await c.bulk_quote(BTC, "r1", [level("buy", "63000", "0.1", "r1-b")])
    err = info.value
    assert (err.status, err.code) == (429, "ORDER_RATE_LIMIT")
    assert err.retry_after_s == FAULT_RETRY_MS / 1000 > 0
    assert fake.sleeps == [] and c.retries == 0 and c.rate.limited == 1
    assert c.rate.wait_s(fake.now) == pytest.approx(err.retry_after_s)  # held from now on
    assert (await faults(admin))["rateLimitLeft"] == 1
    assert await c.cancel_all(market_id=ETH) == []  # not refused, not one of the count
    assert (await faults(admin))["rateLimitLeft"] == 1
    await assert_view_consistent(c, {"keep": 1, "r1-b": 0})


async def test_error_burst_retries_reads_and_idempotent_calls_with_backoff(venue, desk,
                                                                           connect):
    admin = connect(venue.url, session=desk.session)
    fake = FakeTime()
    c = connect(venue.url, desk.trade_secret, **kw_time(fake), rng=random.Random(5))
    await admin.inject_fault("error_burst", count=2)

    balances = await c.balances()
    assert balances.equity == D(100000)
    expected_rng = random.Random(5)
    expected = [full_jitter(i, BASE_S, CAP_S, expected_rng) for i in (1, 2)]
    assert fake.sleeps == pytest.approx(expected)
    for attempt, s in enumerate(fake.sleeps, 1):
        assert 0 <= s <= min(CAP_S, BASE_S * 2 ** attempt)
    assert c.retries == 2
    assert (await faults(admin))["errorBurstLeft"] == 0

    await admin.inject_fault("error_burst", count=2)
    out = await c.bulk_quote(BTC, "eb", [level("buy", "63000", "0.1", "eb-b"),
                                         level("sell", "65000", "0.1", "eb-s")])
    assert len(out.accepted) == 2 and c.retries == 4 and len(fake.sleeps) == 4
    await admin.inject_fault("error_burst", count=1)
    order = await c.place_order(limit("buy", "62000", "0.1", client_order_id="eb-o"))
    assert order.status is OrderStatus.OPEN and order.client_order_id == "eb-o"

    await admin.inject_fault("error_burst", count=3)  # more than the attempts
    with pytest.raises(TransportError) as info:
        await c.positions()
    assert (info.value.kind, info.value.status) == ("server", 503)
    assert getattr(info.value, "attempts", None) == 3
    await assert_view_consistent(c, {"eb-b": 1, "eb-s": 1, "eb-o": 1})


@pytest.mark.parametrize("closes", ["before", "during"])
async def test_a_closed_quote_gate_stops_the_resends_of_a_bulk_quote(venue, desk, connect,
                                                                     closes):
    admin = connect(venue.url, session=desk.session)
    fake = FakeTime()
    c = connect(venue.url, desk.trade_secret, **kw_time(fake), rng=random.Random(5))
    gate = {"open": closes == "during"}
    c.may_quote = lambda: gate["open"]
    if closes == "during":  # the owner stands down while the client waits to resend
        sleep = fake.sleep

        async def closing(s: float) -> None:
            gate["open"] = False
            await sleep(s)
        c.sleep = closing
    await admin.inject_fault("error_burst", count=2)
    with pytest.raises(TransportError) as info:
        await c.bulk_quote(BTC, "g", [level("buy", "63000", "0.1", "g-b")])
    assert (info.value.kind, info.value.status) == ("server", 503)
    assert getattr(info.value, "attempts", None) == 1 and c.retries == 0
    assert (await faults(admin))["errorBurstLeft"] == 1     # one attempt, no resend
    assert len(fake.sleeps) == (1 if closes == "during" else 0)
    c.may_quote = lambda: True                               # open: resent as before
    out = await c.bulk_quote(BTC, "g", [level("buy", "63000", "0.1", "g-b")])
    assert len(out.accepted) == 1 and c.retries == 1


async def test_error_burst_close_position_is_not_retried(venue, desk, other, connect):
    admin = connect(venue.url, session=desk.session)
    fake = FakeTime()
    c = connect(venue.url, desk.trade_secret, **kw_time(fake))
    cp = connect(venue.url, other.trade_secret)
    await build_long(c, cp, "0.1")
    await cp.place_order(limit("buy", "63900", "1"))
    await admin.inject_fault("error_burst", count=2)

    with pytest.raises(TransportError) as info:
        await c.close_position(BTC)
    err = info.value
    assert (err.kind, err.status) == ("server", 503) and err.unsent is False
    assert getattr(err, "attempts", None) == 1
    assert fake.sleeps == [] and c.retries == 0
    assert (await faults(admin))["errorBurstLeft"] == 1  # one attempt consumed one

    [pos] = await c.positions()  # a read: retried through the rest of the burst
    assert pos.quantity == D("0.1") and c.retries == 1
    done = await c.close_position(BTC)
    assert done.order.filled_quantity == D("0.1")
    assert all(p.flat for p in await c.positions())


async def test_latency_fault_times_out_short_reads_only(venue, desk, connect):
    admin = connect(venue.url, session=desk.session)
    trade = connect(venue.url, desk.trade_secret)
    await trade.place_order(limit("buy", "63000", "0.1", client_order_id="lat-1"))
    await admin.inject_fault("latency", ms=400, seconds=3)

    impatient = connect(venue.url, desk.read_secret,
                        config=cfg(read_timeout_s=0.1, max_attempts=1))
    start = time.monotonic()
    with pytest.raises(TransportError) as info:
        await impatient.balances()
    assert info.value.kind == "timeout" and info.value.unsent is False
    assert time.monotonic() - start < 0.35
    assert impatient.retries == 0

    patient = connect(venue.url, desk.read_secret)
    start = time.monotonic()
    balances = await patient.balances()
    assert balances.equity == D(100000)
    assert time.monotonic() - start >= 0.35
    assert patient.retries == 0
    await assert_view_consistent(patient, {"lat-1": 1})


class AmbiguousOnce(httpx.AsyncBaseTransport):
    """Forwards requests to the venue; the first POST to `path` is delivered, but its
    response is dropped and a ReadTimeout raised instead (the classic ambiguous send)."""

    def __init__(self, path: str = "/perps/orders"):
        self.inner = httpx.AsyncHTTPTransport()
        self.path = path
        self.sent: list[str] = []
        self.dropped = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method == "POST":
            self.sent.append(request.url.path)
        if request.method == "POST" and request.url.path == self.path and not self.dropped:
            self.dropped += 1
            await response.aread()
            await response.aclose()
            raise httpx.ReadTimeout("the answer never came back", request=request)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_ambiguous_first_attempt_returns_the_order_that_landed(venue, desk, connect):
    transport = AmbiguousOnce()
    c = connect(venue.url, desk.trade_secret, transport=transport)
    order = await c.place_order(limit("buy", "63000", "0.1", client_order_id="amb-1"))
    assert transport.dropped == 1  # the first answer was lost
    assert order.client_order_id == "amb-1" and order.status is OrderStatus.OPEN
    live = await c.orders()
    assert [(o.order_id, o.client_order_id) for o in live] == [(order.order_id, "amb-1")]
    assert venue.runtime.exchange.counters["orders"] == 1


async def test_ambiguous_first_attempt_of_a_taker_order_is_not_doubled(venue, desk, other,
                                                                       connect):
    """An IOC order that filled on arrival is no longer live, so its clientOrderId is
    free again: a blind resend after a lost response would trade a second time."""
    cp = connect(venue.url, other.trade_secret)
    await cp.place_order(limit("sell", "64000", "1", post_only=True))
    transport = AmbiguousOnce()
    c = connect(venue.url, desk.trade_secret, transport=transport)
    order = await c.place_order(limit("buy", "64000", "0.1", client_order_id="amb-ioc",
                                      time_in_force=TimeInForce.IOC))
    assert order.client_order_id == "amb-ioc"
    [pos] = await c.positions()
    assert pos.quantity == D("0.1")  # filled once, not twice
    filled = await c.orders(market_id=BTC, status="filled")
    assert coid_counts(filled)["amb-ioc"] == 1


# --- a server that answers 200 with something else ---------------------------------------------

@pytest.fixture
def junk_server():
    """A tiny Starlette app on uvicorn (127.0.0.1, port 0, own thread) answering 200s
    that break the contract; counts the hits per "METHOD path"."""
    hits: Counter[str] = Counter()

    def counted(handler: Callable[[Request], Response]):
        async def endpoint(request: Request) -> Response:
            hits[f"{request.method} {request.url.path}"] += 1
            return handler(request)
        return endpoint

    app = Starlette(routes=[
        Route("/perps/markets", counted(lambda _: JSONResponse([{"marketId": 1}]))),
        Route("/perps/balances", counted(lambda _: PlainTextResponse("not json"))),
        Route("/perps/orders", counted(lambda _: JSONResponse({"orders": "nope"})),
              methods=["GET", "POST"]),
        Route("/perps/fees", counted(lambda _: JSONResponse(
            {"tiers": [{"tier": 0, "minVolume30d": "x", "makerFeeBps": "2",
                        "takerFeeBps": "5"}]}))),
    ])
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False,
                                           lifespan="off"))
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])),
                              name="junk-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "junk server did not start"
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}", hits
    server.should_exit = True
    thread.join(5)
    sock.close()


def assert_clean_bad_response(err: TransportError) -> None:
    assert err.kind == "bad_response" and err.status == 200
    for chained in (err.__cause__, None if err.__suppress_context__ else err.__context__):
        assert not isinstance(chained, PydanticError), repr(chained)
    text = str(err)
    assert "pydantic" not in text.lower() and "errors.pydantic.dev" not in text
    assert "\n" not in text and len(text) < 300


async def test_wrong_shapes_are_bad_responses_never_pydantic_errors(junk_server, connect):
    url, hits = junk_server
    c = connect(url, "ocx_sk_" + "j" * 43, config=cfg(max_attempts=1))
    for call in (c.markets, c.balances, c.orders, c.fees):
        with pytest.raises(TransportError) as info:
            await call()
        assert_clean_bad_response(info.value)
    assert hits == {"GET /perps/markets": 1, "GET /perps/balances": 1, "GET /perps/orders": 1,
                    "GET /perps/fees": 1}
    with pytest.raises(TransportError) as info:  # the order landed: never sent again
        await c.place_order(limit("buy", "63000", "0.1"))
    assert_clean_bad_response(info.value)
    assert hits["POST /perps/orders"] == 1


async def test_reads_with_bad_bodies_are_retried_before_failing(junk_server, connect):
    """A 200 whose body is not the contract's is transport trouble
    (`TransportError(kind="bad_response")`), and reads are retried on transport
    trouble: a read must be tried `max_attempts` times before it fails."""
    url, hits = junk_server
    fake = FakeTime()
    c = connect(url, "ocx_sk_" + "j" * 43, config=cfg(max_attempts=3), **kw_time(fake))
    with pytest.raises(TransportError) as info:
        await c.balances()
    assert_clean_bad_response(info.value)
    with pytest.raises(TransportError) as info:
        await c.markets()
    assert_clean_bad_response(info.value)
    assert (hits["GET /perps/balances"], hits["GET /perps/markets"]) == (3, 3)
    assert len(fake.sleeps) == 4 and c.retries == 4
