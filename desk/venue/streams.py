"""Server-sent event streams of the embedded venue.

Every connection registers with the `StreamHub`, which wakes it when its book
changes or its account has news, and through which faults reach it
(`drop_streams`, `seq_gap`). Public streams (`book`, `index`) number their
messages with consecutive SSE ids starting at the book's sequence; private
streams (`user`, per-market `events`) wrap each message in the envelope
`{eventId, eventType, eventSeq, engineTs, payload}` with `eventSeq` rising by
exactly one. Idle connections get a `:heartbeat` comment every `heartbeat_s`.
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

if TYPE_CHECKING:
    from desk.venue.runtime import VenueRuntime

HEARTBEAT = ServerSentEvent(comment="heartbeat")


class Connection:
    __slots__ = ("kind", "account_id", "market_id", "wake", "pending", "gap", "dropped")

    def __init__(self, kind: str, account_id: str | None, market_id: str | None):
        self.kind = kind
        self.account_id = account_id
        self.market_id = market_id
        self.wake = asyncio.Event()
        self.pending: list[tuple[str, object]] = []
        self.gap = False
        self.dropped = False

    async def wait(self, timeout: float) -> None:
        """Sleep until woken or `timeout` seconds pass."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wake.wait(), timeout)
        self.wake.clear()

    def next_id(self, current: int) -> int:
        """The next message number; a pending `seq_gap` fault skips one."""
        step = 2 if self.gap else 1
        self.gap = False
        return current + step


class StreamHub:
    def __init__(self) -> None:
        self.connections: set[Connection] = set()
        self._by_account: dict[str, set[Connection]] = {}
        self._by_market: dict[str, set[Connection]] = {}

    def open(self, kind: str, account_id: str | None = None,
             market_id: str | None = None) -> Connection:
        conn = Connection(kind, account_id, market_id)
        self.connections.add(conn)
        if account_id is not None:
            self._by_account.setdefault(account_id, set()).add(conn)
        if market_id is not None:
            self._by_market.setdefault(market_id, set()).add(conn)
        return conn

    def close(self, conn: Connection) -> None:
        self.connections.discard(conn)
        if conn.account_id is not None:
            self._by_account.get(conn.account_id, set()).discard(conn)
        if conn.market_id is not None:
            self._by_market.get(conn.market_id, set()).discard(conn)

    def on_exchange(self, account_id: str, kind: str, obj: object) -> None:
        conns = self._by_account.get(account_id)
        if not conns:
            return
        market_id = obj if isinstance(obj, str) else getattr(obj, "market_id", None)
        for conn in conns:
            if conn.market_id is None or conn.market_id == market_id:
                conn.pending.append((kind, obj))
                conn.wake.set()

    def on_book(self, market_id: str) -> None:
        for conn in self._by_market.get(market_id, ()):
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


class _Pacer:
    """When to look again: every `interval` s, or on a wake-up when interval is 0."""

    def __init__(self, runtime: VenueRuntime, conn: Connection, interval_ms: int):
        self.runtime = runtime
        self.conn = conn
        self.interval = interval_ms / 1000
        self.last_sent = runtime.monotonic()

    async def wait(self) -> None:
        """Wait out the interval (a drop or shutdown cuts it short)."""
        clock = self.runtime.monotonic
        if self.interval > 0:
            deadline = clock() + self.interval
            while not self.over and (remaining := deadline - clock()) > 0:
                await self.conn.wait(remaining)
        else:
            idle = clock() - self.last_sent
            await self.conn.wait(max(self.runtime.config.heartbeat_s - idle, 0.001))

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


async def _numbered(runtime: VenueRuntime, conn: Connection, pacer: _Pacer, seq: int,
                    event: str, poll: Callable[[], Callable[[int], dict] | None]
                    ) -> AsyncIterator[ServerSentEvent]:
    """The public streams' loop: poll for news, number it with the next id, else heartbeat.

    `poll()` returns None when nothing changed, or a function of the new id that
    builds the message body.
    """
    try:
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
    finally:
        runtime.hub.close(conn)


async def book_stream(runtime: VenueRuntime, market_id: str, depth: int,
                      interval_ms: int) -> AsyncIterator[ServerSentEvent]:
    m = runtime.exchange.market(market_id)
    conn = runtime.hub.open("book", market_id=market_id)
    seq = m.book.sequence
    bids = views.levels(m, True, depth)
    asks = views.levels(m, False, depth)

    def poll() -> Callable[[int], dict] | None:
        nonlocal bids, asks
        new_bids, new_asks = views.levels(m, True, depth), views.levels(m, False, depth)
        bid_changes, ask_changes = diff_levels(bids, new_bids), diff_levels(asks, new_asks)
        if not (bid_changes or ask_changes):
            return None
        bids, asks = new_bids, new_asks
        return lambda seq: {"marketId": market_id, "sequence": seq, "bids": bid_changes,
                            "asks": ask_changes}

    snapshot = {"marketId": market_id, "sequence": seq,
                "bids": views.levels(m, True, depth, totals=True),
                "asks": views.levels(m, False, depth, totals=True)}
    yield ServerSentEvent(data=_dumps(snapshot), event="snapshot", id=str(seq))
    async for message in _numbered(runtime, conn, _Pacer(runtime, conn, interval_ms), seq,
                                   "update", poll):
        yield message


async def index_stream(runtime: VenueRuntime, market_id: str,
                       interval_ms: int) -> AsyncIterator[ServerSentEvent]:
    m = runtime.exchange.market(market_id)
    conn = runtime.hub.open("index")  # not woken by book changes: polled
    sent_ts = m.index_ts

    def body(_seq: int) -> dict:
        return {"marketId": market_id, "price": views.dec(m.index), "ts": m.index_ts}

    def poll() -> Callable[[int], dict] | None:
        nonlocal sent_ts
        if m.index_ts == sent_ts:
            return None
        sent_ts = m.index_ts
        return body

    yield ServerSentEvent(data=_dumps(body(1)), event="index", id="1")
    async for message in _numbered(runtime, conn, _Pacer(runtime, conn, max(interval_ms, 10)),
                                   1, "index", poll):
        yield message


def _delta(runtime: VenueRuntime, account_id: str,
           pending: list[tuple[str, object]]) -> dict[str, Any]:
    ex = runtime.exchange
    fills: list[dict[str, Any]] = []
    orders: dict[str, dict[str, Any]] = {}
    removed: list[str] = []
    markets: set[str] = set()
    for kind, obj in pending:
        if kind == "fill":
            assert isinstance(obj, Fill)
            fills.append(views.fill_view(obj))
        elif kind == "order":
            assert isinstance(obj, Order)
            orders[obj.order_id] = views.order_view(obj, ex.markets[obj.market_id])
        elif kind == "removed":
            assert isinstance(obj, Order)
            orders.pop(obj.order_id, None)
            removed.append(obj.order_id)
        elif kind == "position":
            assert isinstance(obj, str)
            markets.add(obj)
    return {
        "fills": fills,
        "orders": list(orders.values()),
        "removedOrderIds": removed,
        "positions": views.position_views(ex, account_id, markets, include_flat=True),
        "balances": views.balances_view(ex, account_id),
    }


async def private_stream(runtime: VenueRuntime, key: ApiKey, market_id: str | None,
                         interval_ms: int, new_event_id: Callable[[], str]
                         ) -> AsyncIterator[ServerSentEvent]:
    ex = runtime.exchange
    account_id = key.account_id
    m = ex.market(market_id) if market_id is not None else None
    conn = runtime.hub.open("events" if m else "user", account_id=account_id,
                            market_id=market_id)
    pacer = _Pacer(runtime, conn, interval_ms)
    seq = 0

    def envelope(event_type: str, payload: dict[str, Any]) -> ServerSentEvent:
        nonlocal seq
        seq = conn.next_id(seq)
        body = {"eventId": new_event_id(), "eventType": event_type, "eventSeq": seq,
                "engineTs": runtime.clock(), "payload": payload}
        pacer.sent()
        return ServerSentEvent(data=_dumps(body), event=event_type, id=str(seq))

    try:
        markets = {market_id} if market_id else None
        orders = [views.order_view(o, ex.markets[o.market_id])
                  for o in ex.orders_of(account_id, market_id, "open")]
        snapshot: dict[str, Any] = {
            "orders": orders,
            "positions": views.position_views(ex, account_id, markets),
            "balances": views.balances_view(ex, account_id),
        }
        if m is not None:
            bids = views.levels(m, True, 25)
            asks = views.levels(m, False, 25)
            # the same level shapes as the public book stream: {price, size, total} here,
            # {price, size} in deltas
            snapshot["book"] = {"sequence": m.book.sequence,
                                "bids": views.levels(m, True, 25, totals=True),
                                "asks": views.levels(m, False, 25, totals=True)}
        conn.pending.clear()
        yield envelope("snapshot", snapshot)
        while True:
            await pacer.wait()
            if conn.dropped:
                yield envelope("error", {"code": "UNAVAILABLE", "retryable": True,
                                         "message": "stream dropped by the venue; reconnect"})
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
            if conn.pending:
                pending, conn.pending = conn.pending, []
                payload = _delta(runtime, account_id, pending)
            if m is not None:
                new_bids, new_asks = views.levels(m, True, 25), views.levels(m, False, 25)
                changes = (diff_levels(bids, new_bids), diff_levels(asks, new_asks))
                if changes[0] or changes[1]:
                    bids, asks = new_bids, new_asks
                    payload = payload or {"fills": [], "orders": [], "removedOrderIds": [],
                                          "positions": []}
                    payload["book"] = {"sequence": m.book.sequence, "bids": changes[0],
                                       "asks": changes[1]}
            if payload is not None:
                yield envelope("delta", payload)
            elif pacer.heartbeat_due():
                yield HEARTBEAT
    finally:
        runtime.hub.close(conn)
