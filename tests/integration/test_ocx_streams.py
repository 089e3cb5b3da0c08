"""The client's streams against the real embedded venue: fold, detect, reconnect, agree.

Every fault kind of the contract is fired at a live `OcxVenue`; afterwards its
local orders, positions and balances must equal the venue's REST view.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from desk.domain import Side
from desk.domain.errors import (
    InsufficientMarginError,
    MarketHaltedError,
    RateLimitedError,
    TransportError,
)
from desk.domain.records import FeedState, QuoteLevel
from desk.engine.ports import ReferenceFeed, Venue
from desk.ocx.adapter import OcxVenue
from desk.ocx.config import ClientConfig
from desk.ocx.feeds import BookMidFeed, IndexFeed
from desk.ocx.rest import OcxClient
from desk.ocx.streams import BookStream, IndexStream, MarketEventsStream, UserStream
from tests.helpers import Trader
from tests.integration.conftest import BTC, ETH, market_order, ok

FAST = ClientConfig(heartbeat_timeout_s=2.0, stale_after_s=0.4, reconnect_base_s=0.02,
                    reconnect_cap_s=0.1, stable_after_s=0.1, backoff_base_s=0.01,
                    backoff_cap_s=0.05, book_interval_ms=0, user_interval_ms=0)


async def eventually(check: Callable[[], Any], timeout: float = 5.0, what: str = "") -> Any:
    """Poll `check` (sync or async) until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.02)


def levels(mid: str, coid: str, size: str = "0.01") -> list[QuoteLevel]:
    m = Decimal(mid)
    return [QuoteLevel(Side.BUY, m - 50, Decimal(size), f"{coid}b"),
            QuoteLevel(Side.SELL, m + 50, Decimal(size), f"{coid}s")]


async def matches_rest(v: OcxVenue) -> bool:
    acct = v.account()
    if not acct.trusted:
        return False
    orders = {o.order_id: o for o in await v.open_orders()}
    positions = {p.market_id: p for p in await v.positions()}
    balances = await v.balances()
    return (acct.orders == orders and acct.open_positions() == positions
            and acct.balances == balances)


@pytest.fixture
async def live(venue, trader: Trader) -> AsyncIterator[OcxVenue]:
    client = OcxClient(venue.url, api_key=trader.trade_secret, session=trader.session,
                       config=FAST)
    v = OcxVenue(client, [BTC, ETH], reference="index")
    await v.start()
    yield v
    await v.close()


async def test_the_adapter_is_the_engines_venue(live: OcxVenue):
    assert isinstance(live, Venue)
    assert all(isinstance(live.reference(m), ReferenceFeed) for m in (BTC, ETH))
    assert {h.name for h in live.health()} == {"user", f"book:{BTC}", f"book:{ETH}",
                                               f"index:{BTC}", f"index:{ETH}"}
    assert all(h.state is FeedState.LIVE for h in live.health())
    assert live.reference(BTC).price() == Decimal("64000")


async def test_book_stream_folds_snapshot_and_updates(live: OcxVenue, trader: Trader,
                                                      counterparty: Trader):
    ok(counterparty.post("/perps/orders", {"marketId": BTC, "type": "limit", "side": "sell",
                                           "price": "64100", "quantity": "0.5"}))
    await live.bulk_quote(BTC, "q1", levels("64000", "a"))
    book = live.book(BTC)

    async def same_as_rest() -> bool:
        rest = await live.client.orderbook(BTC)
        return (book.trusted
                and [(lv.price, lv.size) for lv in book.levels(True, 25)] == list(rest.bids)
                and [(lv.price, lv.size) for lv in book.levels(False, 25)] == list(rest.asks))

    await eventually(same_as_rest, what="the local book to equal REST")
    assert book.best_bid().price == Decimal("63950")
    assert book.best_ask().price == Decimal("64050")
    assert book.mid() == Decimal("64000")
    await live.cancel_all(BTC)
    await eventually(lambda: book.best_bid() is None, what="our bid to leave the book")
    assert book.best_ask().price == Decimal("64100")


async def test_fills_reach_listeners_once_and_positions_agree(live: OcxVenue,
                                                              counterparty: Trader):
    heard = []
    live.on_fill(heard.append)
    await live.bulk_quote(BTC, "q1", levels("64000", "a", "0.2"))
    ok(counterparty.post("/perps/orders", market_order("sell", "0.05")))
    ok(counterparty.post("/perps/orders", market_order("sell", "0.05")))
    await eventually(lambda: len(heard) == 2, what="two fills")
    assert [f.quantity for f in heard] == [Decimal("0.05")] * 2
    assert {f.client_order_id for f in heard} == {"ab"}
    assert live.account().positions[BTC].quantity == Decimal("0.1")
    await eventually(lambda: matches_rest(live), what="account == REST")


async def test_per_market_events_stream_keeps_orders_and_book(venue, trader: Trader):
    async with OcxClient(venue.url, api_key=trader.trade_secret, config=FAST) as client:
        stream = MarketEventsStream(client.http, BTC, FAST, client.key_auth).start()
        await stream.wait_live()
        await client.bulk_quote(BTC, "q1", levels("64000", "a"))
        acct = stream.account
        await eventually(lambda: len(acct.orders) == 2, what="two orders")
        await eventually(lambda: acct.book.best_bid() is not None, what="the book")
        assert acct.book.best_bid().price == Decimal("63950")
        await stream.stop()
        assert stream.health().state is FeedState.STOPPED


# --- faults ---------------------------------------------------------------------------

async def test_drop_streams_reconnects_to_a_fresh_snapshot(live: OcxVenue, trader: Trader):
    await live.bulk_quote(BTC, "q1", levels("64000", "a"))
    await eventually(lambda: matches_rest(live))
    out = await live.client.inject_fault("drop_streams")
    assert out["streams"] >= 5
    await eventually(lambda: all(s.reconnects >= 1 for s in live.streams),
                     what="every stream to reconnect")
    await eventually(lambda: all(h.live for h in live.health()), what="all live again")
    await live.bulk_quote(BTC, "q2", levels("64010", "b"))
    await eventually(lambda: matches_rest(live), what="account == REST after the drop")
    assert {o.client_order_id for o in live.account().orders.values()} == {"bb", "bs"}


async def test_a_sequence_gap_forces_a_fresh_snapshot(live: OcxVenue):
    await live.client.inject_fault("seq_gap")
    # the next message on each connection skips an id
    await live.bulk_quote(BTC, "q1", levels("64000", "a"))
    user, book = live.user, live.books[BTC]
    await eventually(lambda: user.gaps >= 1 and book.gaps >= 1, what="both gaps seen")
    assert "gap" in (user.last_error or "") or user.health().live
    await eventually(lambda: user.health().live and book.health().live)
    await eventually(lambda: matches_rest(live), what="account == REST after the gap")
    await eventually(lambda: live.book(BTC).best_bid() is not None)


async def test_missing_heartbeats_mean_a_dead_link(make_venue):
    venue = make_venue(heartbeat_s=0.1)
    cfg = FAST.model_copy(update={"heartbeat_timeout_s": 0.5})
    with httpx.Client(base_url=venue.url) as c:
        from tests.helpers import new_trader
        trader = new_trader(c, "desk")
    async with OcxClient(venue.url, api_key=trader.trade_secret, session=trader.session,
                         config=cfg) as client:
        stream = UserStream(client.http, cfg, client.key_auth).start()
        await stream.wait_live()
        await asyncio.sleep(0.8)  # idle but heartbeating: no reconnect
        assert stream.reconnects == 0 and stream.health().live
        await client.inject_fault("stop_heartbeats", seconds=1.2)
        await eventually(lambda: stream.reconnects >= 1, what="a reconnect")
        assert "no bytes for 0.5 s" in stream.last_error
        await eventually(lambda: stream.health().live, timeout=5, what="live again")
        await client.bulk_quote(BTC, "q1", levels("64000", "a"))

        async def agrees() -> bool:
            acct = stream.account
            return (acct.orders == {o.order_id: o for o in await client.orders()}
                    and acct.balances == await client.balances())

        await eventually(agrees, what="account == REST after the silence")
        await stream.stop()


async def test_a_frozen_index_makes_the_reference_feed_stale(make_venue):
    venue = make_venue(sim_enabled=True, sim_step_ms=20, heartbeat_s=0.1)
    with httpx.Client(base_url=venue.url) as c:
        from tests.helpers import new_trader
        trader = new_trader(c, "desk")
    async with OcxClient(venue.url, session=trader.session, config=FAST) as client:
        index = IndexStream(client.http, ETH, FAST, interval_ms=20).start()
        feed = IndexFeed(index)
        await index.wait_live()
        await eventually(lambda: feed.health().live)
        await client.inject_fault("freeze_index", marketId=ETH, seconds=1.5)
        stale = await eventually(lambda: feed.health().state is FeedState.STALE,
                                 what="the feed to go stale")
        assert stale and feed.price() is not None  # the last price stays visible
        assert index.reconnects == 0  # heartbeats kept the link alive: stale, not dead
        await eventually(lambda: feed.health().live, timeout=4, what="fresh prices again")
        await index.stop()


async def test_a_revoked_key_stops_the_private_stream_for_good(live: OcxVenue,
                                                               trader: Trader):
    ok(trader.client.delete(f"/perps/me/api-keys/{trader.trade_key_id}",
                            headers=trader.bearer), 204)
    await eventually(lambda: live.user.health().state is FeedState.STOPPED,
                     what="the stream to stop")
    assert "KEY_REVOKED" in live.user.last_error
    reconnects = live.user.reconnects
    await asyncio.sleep(0.3)
    assert live.user.reconnects == reconnects  # no loop against a dead key
    assert live.books[BTC].health().live  # public streams carry on


@pytest.mark.parametrize("kind", ["rate_limit", "error_burst", "latency", "halt_market",
                                  "margin_squeeze"])
async def test_after_each_fault_the_account_equals_the_rest_view(live: OcxVenue, kind: str):
    await live.bulk_quote(BTC, "q0", levels("64000", "a"))
    fields: dict[str, Any] = {"seconds": 1.0}
    if kind in ("rate_limit", "error_burst"):
        fields = {"count": 5}
    elif kind == "latency":
        fields["ms"] = 300
    elif kind == "halt_market":
        fields["marketId"] = BTC
    elif kind == "margin_squeeze":
        fields.update(marketId=BTC, factor="1000")
    await live.client.inject_fault(kind, **fields)
    expected = {"rate_limit": RateLimitedError, "error_burst": TransportError,
                "halt_market": MarketHaltedError, "margin_squeeze": InsufficientMarginError}
    try:
        await live.bulk_quote(BTC, "q1", levels("64020", "b", "2"))
    except Exception as exc:  # noqa: BLE001 - the type is the assertion
        assert kind in expected and isinstance(exc, expected[kind]), repr(exc)
    else:
        assert kind == "latency"  # slower, but within the read timeout
    await live.client.cancel_all()  # never refused, whatever the fault
    await eventually(lambda: matches_rest(live), timeout=8, what=f"account == REST ({kind})")
    assert all(h.state is not FeedState.STOPPED for h in live.health())


# --- a broken venue -----------------------------------------------------------------

def broken_book_app(script: list[list[str]]):
    """A venue double whose book stream sends the scripted raw SSE frames, one list
    per connection; after the script, a good snapshot and then silence."""
    from starlette.applications import Starlette
    from starlette.responses import StreamingResponse
    from starlette.routing import Route

    good = ('event: snapshot\nid: 7\ndata: {"marketId":"BTC-PERP","sequence":7,'
            '"bids":[{"price":"100","size":"1","total":"1"}],"asks":[]}\n\n')
    connections = iter(script)

    async def book(request):
        frames = next(connections, [good])

        async def body():
            for frame in frames:
                yield frame.encode()
            if frames[-1] == good:
                await asyncio.sleep(30)

        return StreamingResponse(body(), media_type="text/event-stream")

    return Starlette(routes=[Route("/perps/book-stream", book)])


async def test_garbage_from_a_broken_venue_is_counted_and_survived(caplog):
    from tests.doubles import serve
    snap = ('event: snapshot\nid: 1\ndata: {"marketId":"BTC-PERP","sequence":1,'
            '"bids":[{"price":"99","size":"2","total":"2"}],"asks":[]}\n\n')
    script = [
        [snap, 'event: update\nid: 2\ndata: {"bids":[{"price":"99","si\n\n'],  # truncated
        [snap, 'event: surprise\nid: 2\ndata: {}\n\n'],                          # unknown
        [snap, 'event: update\nid: 2\ndata: {"bids":[{"price":"abc","size":"1"}],'
               '"asks":[]}\n\n'],                                               # bad value
        ['event: update\nid: 5\ndata: {"bids":[],"asks":[]}\n\n'],             # no snapshot
        [snap, 'event: update\nid: 4\ndata: {"bids":[],"asks":[]}\n\n'],       # id gap
    ]
    caplog.set_level(logging.WARNING, "desk.ocx.streams")
    with serve(broken_book_app(script)) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            stream = BookStream(http, BTC, FAST).start()
            feed = BookMidFeed(stream)
            await eventually(lambda: stream.connects >= 6 and stream.book.trusted,
                             what="the good snapshot after the garbage")
            assert stream.bad_messages == 4 and stream.gaps == 1
            assert dict(stream.book.bids) == {Decimal("100"): Decimal("1")}
            assert feed.price() is None  # no asks: no mid
            assert feed.health().state is FeedState.STALE
            await stream.stop()
    logged = caplog.text
    assert "bad message (event 'surprise', id '2')" in logged
    assert "data starts" in logged


class Ceiling(random.Random):
    """Full jitter at its ceiling, so each wait shows which attempt it was."""

    def uniform(self, a: float, b: float) -> float:
        return b


async def test_backoff_starts_afresh_after_a_connection_that_worked(venue, trader: Trader):
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.sleep(0)

    async with OcxClient(venue.url, api_key=trader.trade_secret, session=trader.session,
                         config=FAST) as client:
        stream = UserStream(client.http, FAST, client.key_auth, sleep=sleep,
                            rng=Ceiling()).start()
        await stream.wait_live()
        for n in range(1, 4):
            await asyncio.sleep(FAST.stable_after_s)
            await client.inject_fault("drop_streams")
            await eventually(lambda n=n: stream.connects > n and stream.health().live)
        await stream.stop()
    # every drop hit a connection that had worked: each wait is a first retry's
    assert waits == [2 * FAST.reconnect_base_s] * 3


async def test_a_venue_that_hangs_up_after_each_snapshot_gets_a_growing_backoff():
    from tests.doubles import serve
    snap = ('event: snapshot\nid: 1\ndata: {"marketId":"BTC-PERP","sequence":1,'
            '"bids":[],"asks":[]}\n\n')
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.sleep(0)

    with serve(broken_book_app([[snap]] * 6 + [[snap, "x"]])) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            stream = BookStream(http, BTC, FAST, sleep=sleep, rng=Ceiling()).start()
            await eventually(lambda: len(waits) >= 5, what="five reconnects")
            await stream.stop()
    assert waits[:5] == [0.04, 0.08, 0.1, 0.1, 0.1]  # capped, never reset by a flap


async def test_a_private_stream_needs_no_sse_ids_only_event_seq():
    """The contract numbers private messages by eventSeq; a venue may send no `id:`."""
    from starlette.applications import Starlette
    from starlette.responses import StreamingResponse
    from starlette.routing import Route

    from tests.doubles import serve

    def frame(event: str, seq: int, payload: str) -> str:
        return (f'event: {event}\ndata: {{"eventId":"e{seq}","eventType":"{event}",'
                f'"eventSeq":{seq},"engineTs":1,"payload":{payload}}}\n\n')

    balances = ('{"equity":"1","walletBalance":"1","availableMargin":"1","initialMargin":"0",'
                '"maintenanceMargin":"0","marginUsage":"0","unrealizedPnl":"0",'
                '"realizedPnl":"0"}')
    frames = [frame("snapshot", 1, f'{{"orders":[],"positions":[],"balances":{balances}}}'),
              frame("delta", 2, '{"fills":[],"orders":[],"removedOrderIds":[],'
                                '"positions":[]}'),
              frame("delta", 4, '{"fills":[],"orders":[],"removedOrderIds":[],'
                                '"positions":[]}')]

    async def user(request):
        async def body():
            for f in frames:
                yield f.encode()
            await asyncio.sleep(30)
        return StreamingResponse(body(), media_type="text/event-stream")

    with serve(Starlette(routes=[Route("/perps/stream/user", user)])) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            stream = UserStream(http, FAST, httpx.BasicAuth("u", "p"),  # no reconnect here
                                sleep=lambda s: asyncio.sleep(30)).start()
            await eventually(lambda: stream.gaps >= 1, what="the eventSeq gap")
            assert stream.bad_messages == 0  # no `id:` is not a bad message
            assert stream.messages >= 2 and "eventSeq 4 after 2" in stream.last_error
            await stream.stop()
