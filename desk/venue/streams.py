"""Server-sent event streams of the embedded venue.

Every connection registers with the `StreamHub`, through which account news
reaches it (coalesced as it arrives) and through which faults and revocations
reach it (`drop_streams`, `seq_gap`, a revoked key). Public streams (`book`,
`index`) number their messages with consecutive SSE ids starting at the book's
sequence; private streams (`user`, per-market `events`) wrap each message in the
envelope `{eventId, eventType, eventSeq, engineTs, payload}` with `eventSeq`
rising by exactly one. Idle connections get a `:heartbeat` comment every
`heartbeat_s`.

`intervalMs` paces a connection: it looks for news that often. With 0 it is
woken by every change instead (book changes for book streams, account news for
private streams).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from sse_starlette import ServerSentEvent

from desk.venue import views
from desk.venue.exchange import Fill, Order
from desk.venue.keys import ApiKey
from desk.venue.market import MarketState

if TYPE_CHECKING:
    from desk.venue.runtime import VenueRuntime

HEARTBEAT = b":heartbeat\r\n\r\n"  # sse-starlette sends bytes as they are
MAX_PENDING = 10_000  # news items a private connection may hold before it is dropped
PRIVATE_BOOK_DEPTH = 25


class Pending:
    """Account news for one private connection, coalesced as it arrives."""

    __slots__ = ("fills", "orders", "removed", "markets")

    def __init__(self) -> None:
        self.fills: list[Fill] = []
        self.orders: dict[str, Order] = {}  # live orders that changed, last state
        self.removed: dict[str, None] = {}  # ids that left the book, in order
        self.markets: set[str] = set()  # positions that changed

    def __len__(self) -> int:
        return len(self.fills) + len(self.orders) + len(self.removed) + len(self.markets)

    def add(self, kind: str, obj: object) -> None:
        if kind == "fill":
            assert isinstance(obj, Fill)
            self.fills.append(obj)
        elif kind == "order":
            assert isinstance(obj, Order)
            self.orders[obj.order_id] = obj
        elif kind == "removed":
            assert isinstance(obj, Order)
            self.orders.pop(obj.order_id, None)
            self.removed[obj.order_id] = None
        elif kind == "position":
            assert isinstance(obj, str)
            self.markets.add(obj)


class Connection:
    __slots__ = ("kind", "account_id", "market_id", "key_id", "eager", "wake", "pending",
                 "gap", "dropped", "overflowed")

    def __init__(self, kind: str, account_id: str | None, market_id: str | None,
                 key_id: str | None, eager: bool):
        self.kind = kind
        self.account_id = account_id
        self.market_id = market_id
        self.key_id = key_id
        self.eager = eager  # intervalMs 0: woken by every change
        self.wake = asyncio.Event()
        self.pending = Pending()
        self.gap = False
        self.dropped = False
        self.overflowed = False

    async def wait(self, timeout: float) -> None:
        """Sleep until woken or `timeout` seconds pass."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wake.wait(), timeout)
        self.wake.clear()

    def take(self) -> Pending:
        pending, self.pending = self.pending, Pending()
        return pending

    def next_id(self, current: int) -> int:
        """The next message number; a pending `seq_gap` fault skips one."""
        step = 2 if self.gap else 1
        self.gap = False
        return current + step


class StreamHub:
    def __init__(self) -> None:
        self.connections: set[Connection] = set()
        self._by_account: dict[str, set[Connection]] = {}
        self._by_book: dict[str, set[Connection]] = {}  # eager connections per market

    def open(self, kind: str, account_id: str | None = None, market_id: str | None = None,
             key_id: str | None = None, eager: bool = False) -> Connection:
        conn = Connection(kind, account_id, market_id, key_id, eager)
        self.connections.add(conn)
        if account_id is not None:
            self._by_account.setdefault(account_id, set()).add(conn)
        if market_id is not None and eager:
            self._by_book.setdefault(market_id, set()).add(conn)
        return conn

    def close(self, conn: Connection) -> None:
        self.connections.discard(conn)
        if conn.account_id is not None:
            self._by_account.get(conn.account_id, set()).discard(conn)
        if conn.market_id is not None:
            self._by_book.get(conn.market_id, set()).discard(conn)

    def on_exchange(self, account_id: str, kind: str, obj: object) -> None:
        conns = self._by_account.get(account_id)
        if not conns:
            return
        market_id = obj if isinstance(obj, str) else getattr(obj, "market_id", None)
        for conn in conns:
            if conn.market_id is None or conn.market_id == market_id:
                conn.pending.add(kind, obj)
                if len(conn.pending) > MAX_PENDING:
                    conn.overflowed = conn.dropped = True
                    conn.wake.set()
                elif conn.eager:
                    conn.wake.set()

    def on_book(self, market_id: str) -> None:
        for conn in self._by_book.get(market_id, ()):
            conn.wake.set()

    def wake_key(self, key_id: str) -> None:
        """A key was revoked: its private streams learn it now, not at their next tick."""
        for conn in self.connections:
            if conn.key_id == key_id:
                conn.wake.set()

    def drop_all(self) -> int:
        for conn in self.connections:
            conn.dropped = True
            conn.wake.set()
        return len(self.connections)

    def gap_all(self) -> int:
        for conn in self.connections:
            conn.gap = True
        return len(self.connections)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for conn in self.connections:
            out[conn.kind] = out.get(conn.kind, 0) + 1
        return out


def _dumps(payload: Any) -> str:
    return json.dumps(payload, separators=(",", ":"))


def diff_levels(old: list[list[str]], new: list[list[str]]) -> list[dict[str, str]]:
    """Changed levels between two depth views; a vanished level has size "0"."""
    before = dict(old)
    after = dict(new)
    changes = [{"price": p, "size": s} for p, s in new if before.get(p) != s]
    changes += [{"price": p, "size": "0"} for p in before if p not in after]
    return changes


class BookView:
    """What one connection last sent of a book, to send only what changed since."""

    def __init__(self, m: MarketState, depth: int):
        self.m = m
        self.depth = depth
        self.bids: list[list[str]] = []
        self.asks: list[list[str]] = []

    def snapshot(self) -> dict[str, Any]:
        """The book now, levels as {price, size, total}; it becomes the baseline."""
        bids = views.levels(self.m, True, self.depth, totals=True)
        asks = views.levels(self.m, False, self.depth, totals=True)
        self.bids = [[lvl["price"], lvl["size"]] for lvl in bids]
        self.asks = [[lvl["price"], lvl["size"]] for lvl in asks]
        return {"sequence": self.m.book.sequence, "bids": bids, "asks": asks}

    def changes(self) -> dict[str, Any] | None:
        """Levels changed since the last call, as {price, size}; None if none did."""
        bids = views.levels(self.m, True, self.depth)
        asks = views.levels(self.m, False, self.depth)
        bid_changes, ask_changes = diff_levels(self.bids, bids), diff_levels(self.asks, asks)
        if not (bid_changes or ask_changes):
            return None
        self.bids, self.asks = bids, asks
        return {"sequence": self.m.book.sequence, "bids": bid_changes, "asks": ask_changes}


class _Pacer:
    """When a connection looks again, and when it owes a heartbeat."""

    def __init__(self, runtime: VenueRuntime, conn: Connection, interval_ms: int):
        self.runtime = runtime
        self.conn = conn
        self.interval = interval_ms / 1000
        self.last_sent = runtime.monotonic()

    async def wait(self) -> None:
        """Until the next look: the interval (or a wake-up when eager), cut short when
        a heartbeat falls due, the stream is dropped or its key revoked."""
        hb = self.runtime.config.heartbeat_s
        timeout = self.interval if self.interval > 0 else hb
        hb_left = self.last_sent + hb - self.runtime.monotonic()
        if hb_left > 0:
            timeout = min(timeout, hb_left)
        await self.conn.wait(timeout)

    def sent(self) -> None:
        self.last_sent = self.runtime.monotonic()

    def heartbeat_due(self) -> bool:
        if self.runtime.faults.heartbeats_stopped():
            return False
        if self.runtime.monotonic() - self.last_sent >= self.runtime.config.heartbeat_s:
            self.sent()
            return True
        return False

    @property
    def over(self) -> bool:
        return self.conn.dropped or self.runtime.closing


async def _numbered(runtime: VenueRuntime, conn: Connection, interval_ms: int, seq: int,
                    event: str, poll: Callable[[], Callable[[int], dict] | None]
                    ) -> AsyncIterator[ServerSentEvent | bytes]:
    """A public stream after its first message (id `seq`): news under the next ids.

    `poll()` returns None when nothing changed, or a function of the new id that
    builds the message body; idle connections get heartbeats.
    """
    pacer = _Pacer(runtime, conn, interval_ms)
    while True:
        await pacer.wait()
        if pacer.over:
            return
        news = poll()
        if news is not None:
            seq = conn.next_id(seq)
            yield ServerSentEvent(data=_dumps(news(seq)), event=event, id=str(seq))
            pacer.sent()
        elif pacer.heartbeat_due():
            yield HEARTBEAT


async def book_stream(runtime: VenueRuntime, market_id: str, depth: int,
                      interval_ms: int) -> AsyncIterator[ServerSentEvent | bytes]:
    m = runtime.exchange.market(market_id)
    conn = runtime.hub.open("book", market_id=market_id, eager=interval_ms == 0)
    try:
        book = BookView(m, depth)
        snapshot = {"marketId": market_id, **book.snapshot()}
        seq = snapshot["sequence"]
        yield ServerSentEvent(data=_dumps(snapshot), event="snapshot", id=str(seq))

        def poll() -> Callable[[int], dict] | None:
            changes = book.changes()
            if changes is None:
                return None
            return lambda seq: {"marketId": market_id, **changes, "sequence": seq}

        async for message in _numbered(runtime, conn, interval_ms, seq, "update", poll):
            yield message
    finally:
        runtime.hub.close(conn)


async def index_stream(runtime: VenueRuntime, market_id: str,
                       interval_ms: int) -> AsyncIterator[ServerSentEvent | bytes]:
    m = runtime.exchange.market(market_id)
    conn = runtime.hub.open("index")  # polled: the index moves once a simulation step
    try:
        sent_ts = m.index_ts

        def body(_seq: int = 0) -> dict:
            return {"marketId": market_id, "price": views.dec(m.index), "ts": m.index_ts}

        def poll() -> Callable[[int], dict] | None:
            nonlocal sent_ts
            if m.index_ts == sent_ts:
                return None
            sent_ts = m.index_ts
            return body

        yield ServerSentEvent(data=_dumps(body()), event="index", id="1")
        async for message in _numbered(runtime, conn, max(interval_ms, 10), 1, "index", poll):
            yield message
    finally:
        runtime.hub.close(conn)


def _delta(runtime: VenueRuntime, account_id: str, news: Pending) -> dict[str, Any]:
    ex = runtime.exchange
    return {
        "fills": [views.fill_view(f) for f in news.fills],
        "orders": [views.order_view(o, ex.markets[o.market_id]) for o in news.orders.values()],
        "removedOrderIds": list(news.removed),
        "positions": views.position_views(ex, account_id, news.markets, include_flat=True),
        "balances": views.balances_view(ex, account_id),
    }


async def private_stream(runtime: VenueRuntime, key: ApiKey, market_id: str | None,
                         interval_ms: int, new_event_id: Callable[[], str]
                         ) -> AsyncIterator[ServerSentEvent | bytes]:
    ex = runtime.exchange
    account_id = key.account_id
    m = ex.market(market_id) if market_id is not None else None
    conn = runtime.hub.open("events" if m else "user", account_id=account_id,
                            market_id=market_id, key_id=key.key_id, eager=interval_ms == 0)
    try:
        async for message in _private(runtime, conn, key, m, interval_ms, new_event_id):
            yield message
    finally:
        runtime.hub.close(conn)


async def _private(runtime: VenueRuntime, conn: Connection, key: ApiKey, m: MarketState | None,
                   interval_ms: int, new_event_id: Callable[[], str]
                   ) -> AsyncIterator[ServerSentEvent | bytes]:
    ex = runtime.exchange
    account_id = key.account_id
    market_id = m.market_id if m is not None else None
    pacer = _Pacer(runtime, conn, interval_ms)
    book = BookView(m, PRIVATE_BOOK_DEPTH) if m is not None else None
    seq = 0

    def envelope(event_type: str, payload: dict[str, Any]) -> ServerSentEvent:
        nonlocal seq
        seq = conn.next_id(seq)
        body = {"eventId": new_event_id(), "eventType": event_type, "eventSeq": seq,
                "engineTs": runtime.clock(), "payload": payload}
        pacer.sent()
        return ServerSentEvent(data=_dumps(body), event=event_type, id=str(seq))

    snapshot: dict[str, Any] = {
        "orders": [views.order_view(o, ex.markets[o.market_id])
                   for o in ex.orders_of(account_id, market_id, "open")],
        "positions": views.position_views(ex, account_id,
                                          {market_id} if market_id else None),
        "balances": views.balances_view(ex, account_id),
    }
    if book is not None:
        snapshot["book"] = book.snapshot()
    conn.take()  # the snapshot already holds whatever was pending
    yield envelope("snapshot", snapshot)
    while True:
        await pacer.wait()
        if conn.dropped:
            why = ("too much news piled up unread" if conn.overflowed
                   else "stream dropped by the venue")
            yield envelope("error", {"code": "UNAVAILABLE", "retryable": True,
                                     "message": f"{why}; reconnect"})
            return
        if runtime.closing:
            return
        status = key.status(runtime.clock())
        if status != "active":
            code = "KEY_REVOKED" if status == "revoked" else "KEY_EXPIRED"
            yield envelope("error", {"code": code, "retryable": False,
                                     "message": f"the API key is {status}"})
            return
        payload: dict[str, Any] | None = None
        if len(conn.pending):
            payload = _delta(runtime, account_id, conn.take())
        changes = book.changes() if book is not None else None
        if changes is not None:
            payload = payload or {"fills": [], "orders": [], "removedOrderIds": [],
                                  "positions": []}
            payload["book"] = changes
        if payload is not None:
            yield envelope("delta", payload)
        elif pacer.heartbeat_due():
            yield HEARTBEAT
