"""Local state folded from the venue's streams: a book, an index price, an account.

Each folder takes one SSE message at a time. It validates the whole message
first (a wrong shape raises `BadMessage` before anything changes) and then
applies it in place, so state is never half-applied. `untrust()` marks the
state unusable until the next snapshot replaces it.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from decimal import Decimal

from pydantic import ValidationError as PydanticError
from sortedcontainers import SortedDict

from desk.domain import ZERO
from desk.domain import records as r
from desk.ocx import wire as w

log = logging.getLogger("desk.ocx.state")


class BadMessage(Exception):
    """A message that is not the contract's: malformed, truncated, unknown, out of place."""


class Gap(Exception):
    """A missing message: state is lost until a fresh snapshot."""


def parse(model: type[w.Wire], data: str | dict, what: str) -> w.Wire:
    """Validate a message (JSON text, or an already decoded payload) as a whole."""
    try:
        if isinstance(data, dict):
            return model.model_validate(data)
        return model.model_validate_json(data)
    except PydanticError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the top level"
        raise BadMessage(f"{what}: {first['msg']} at {where}") from None


def snapshot_first(stream: str, event: str, first: bool) -> None:
    """A connection opens with its snapshot, and only then."""
    if first != (event == "snapshot"):
        raise BadMessage(f"{stream}: {event!r} where the snapshot belongs" if first
                         else f"{stream}: a second snapshot mid-stream")


class LocalBook:
    """One market's book: price → size per side, best first."""

    def __init__(self, market_id: str):
        self.market_id = market_id
        self.bids: SortedDict = SortedDict(lambda p: -p)
        self.asks: SortedDict = SortedDict()
        self.sequence: int | None = None
        self.trusted = False
        self.updates = 0

    def untrust(self) -> None:
        self.trusted = False

    def replace(self, msg: w.BookMessageW) -> None:
        self.bids.clear()
        self.asks.clear()
        self.merge(msg)
        self.trusted = True

    def merge(self, msg: w.BookMessageW) -> None:
        for levels, book in ((msg.bids, self.bids), (msg.asks, self.asks)):
            for lvl in levels:
                if lvl.size == ZERO:
                    book.pop(lvl.price, None)
                else:
                    book[lvl.price] = lvl.size
        if msg.sequence is not None:
            self.sequence = msg.sequence
        self.updates += 1

    def fold(self, event: str, data: str, first: bool) -> None:
        if event not in ("snapshot", "update"):
            raise BadMessage(f"book stream: unknown event {event!r}")
        snapshot_first("book stream", event, first)
        msg = parse(w.BookMessageW, data, f"book {event}")
        if msg.market_id is not None and msg.market_id != self.market_id:
            raise BadMessage(f"book stream: a book of {msg.market_id!r}, not {self.market_id!r}")
        if event == "snapshot":
            self.replace(msg)
        else:
            self.merge(msg)

    # --- reading ----------------------------------------------------------------------

    def best_bid(self) -> r.BookLevel | None:
        return r.BookLevel(*self.bids.peekitem(0)) if self.bids else None

    def best_ask(self) -> r.BookLevel | None:
        return r.BookLevel(*self.asks.peekitem(0)) if self.asks else None

    def mid(self) -> Decimal | None:
        if not (self.bids and self.asks):
            return None
        return (self.bids.peekitem(0)[0] + self.asks.peekitem(0)[0]) / 2

    def microprice(self) -> Decimal | None:
        """The touch prices weighted by the opposite side's size."""
        if not (self.bids and self.asks):
            return None
        (bid, bid_size), (ask, ask_size) = self.bids.peekitem(0), self.asks.peekitem(0)
        return (bid * ask_size + ask * bid_size) / (bid_size + ask_size)

    def levels(self, bids: bool, depth: int) -> list[r.BookLevel]:
        book = self.bids if bids else self.asks
        return [r.BookLevel(p, book[p]) for p in book.islice(0, depth)]

    def touch_without(self, own: r.OwnSizes, depth: int = 25
                      ) -> tuple[r.BookLevel | None, r.BookLevel | None]:
        """Best bid and ask of everyone else: `own` sizes ((is_bid, price) → size) out."""
        return r.touch_without(self.levels(True, depth), self.levels(False, depth), own)


class IndexState:
    """The latest reference price of one market from the index stream."""

    def __init__(self, market_id: str):
        self.market_id = market_id
        self.price: Decimal | None = None
        self.ts: int | None = None
        self.trusted = False

    def untrust(self) -> None:
        self.trusted = False

    def fold(self, event: str, data: str, first: bool) -> None:
        if event != "index":
            raise BadMessage(f"index stream: unknown event {event!r}")
        msg = parse(w.IndexW, data, "index")
        if msg.market_id != self.market_id:
            raise BadMessage(f"index stream: a price for {msg.market_id!r}, "
                             f"not {self.market_id!r}")
        self.price, self.ts, self.trusted = msg.price, msg.ts, True


class StreamRefused(Exception):
    """The venue ended a private stream for good (revoked or expired key)."""


class AccountState:
    """Orders, positions and balances of the account, from a private stream.

    `on_fill` listeners hear every fill once, in stream order. With `market_id`
    set (the per-market events stream) it also keeps that market's book.
    """

    def __init__(self, market_id: str | None = None, keep_fills: int = 1000):
        self.market_id = market_id
        self.orders: dict[str, r.Order] = {}
        self.positions: dict[str, r.Position] = {}
        self.balances: r.Balances | None = None
        self.fills: deque[r.Fill] = deque(maxlen=keep_fills)
        self.book = LocalBook(market_id) if market_id else None
        self.on_fill: list[Callable[[r.Fill], None]] = []
        self.trusted = False
        self.event_seq: int | None = None
        self.engine_ts: int | None = None

    def untrust(self) -> None:
        self.trusted = False
        self.event_seq = None
        if self.book is not None:
            self.book.untrust()

    def fold(self, event: str, data: str, first: bool) -> None:
        env = parse(w.EnvelopeW, data, f"private {event}")
        if env.event_type != event:
            raise BadMessage(f"private stream: event {event!r} carries {env.event_type!r}")
        if self.event_seq is not None and env.event_seq != self.event_seq + 1:
            raise Gap(f"eventSeq {env.event_seq} after {self.event_seq}")
        if event == "error":
            err = parse(w.StreamErrorW, env.payload, "stream error")
            if not err.retryable:
                raise StreamRefused(f"{err.code}: {err.message}")
            raise Gap(f"the venue asked for a reconnect ({err.code}: {err.message})")
        snapshot_first("private stream", event, first)
        fills: list[r.Fill] = []
        if event == "snapshot":
            self._snapshot(parse(w.PrivateSnapshotW, env.payload, "snapshot"))
        elif event == "delta":
            fills = self._delta(parse(w.PrivateDeltaW, env.payload, "delta"))
        else:
            raise BadMessage(f"private stream: unknown event {event!r}")
        self.event_seq, self.engine_ts = env.event_seq, env.engine_ts
        for fill in fills:  # after the state is whole: a failing listener cannot split it
            for listener in self.on_fill:
                try:
                    listener(fill)
                except Exception:
                    log.exception("a fill listener failed on %s", fill.fill_id)

    def _snapshot(self, snap: w.PrivateSnapshotW) -> None:
        if self.book is not None and snap.book is None:
            raise BadMessage("per-market snapshot without its book")
        self.orders = {o.order_id: o.to_domain() for o in snap.orders}
        self.positions = {p.market_id: p.to_domain() for p in snap.positions}
        self.balances = snap.balances.to_domain()
        if self.book is not None:
            self.book.replace(snap.book)
        self.trusted = True

    def _delta(self, delta: w.PrivateDeltaW) -> list[r.Fill]:
        fills = [f.to_domain() for f in delta.fills]
        for o in delta.orders:
            order = o.to_domain()
            if order.status.live:
                self.orders[order.order_id] = order
            else:
                self.orders.pop(order.order_id, None)
        for order_id in delta.removed_order_ids:
            self.orders.pop(order_id, None)
        for p in delta.positions:
            self.positions[p.market_id] = p.to_domain()
        if delta.balances is not None:
            self.balances = delta.balances.to_domain()
        if self.book is not None and delta.book is not None:
            self.book.merge(delta.book)
        self.fills.extend(fills)
        return fills

    def open_positions(self) -> dict[str, r.Position]:
        return {m: p for m, p in self.positions.items() if not p.flat}
