"""What a screen shows, as one immutable snapshot of the desk (`DeskView`).

`Monitor` lives where the engine runs: it keeps the recent events and a PnL
history per strategy, and `snapshot()` copies everything a frame needs out of the
engine's live state in one go, so a screen drawn on another thread never reads
state that is half-updated. Nothing here changes trading state.

Three event buffers, so the quote chatter (a re-quote every few hundred ms) never
pushes out what matters: `events` (everything but the chatter), `chatter`
(`quote_sent`, and `quote_cancelled` for a ladder replaced by the next one) and
`alarms` (every warning and error, chatter or not).

Positions are marked live on every snapshot (`mark_positions`): the venue pushes a
position (its mark and uPnL) only when it changes, so its record is as old as the
last fill. A position's mark is its strategy's (`Strategy.mark()`: the fair value),
else the market's reference price, else the book's mid, else the venue's record;
its uPnL is the strategies' own (average-cost) uPnL when they hold exactly that
position, else (mark − entry) · size. The balances' equity and uPnL are moved by
the same amount (`live_balances`), so the header, the positions table and the
detail screen show one number for one position.

The book (`book_view`) is reconciled with our resting orders: a level is ours when
an order of ours rests at its price and our size fits in the level's; an order of
ours that the book stream has not shown yet (or not at its full size) is shown as
pending, at its price, so the marker is never missing.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import TYPE_CHECKING

from desk.domain.records import (
    Balances,
    BookLevel,
    Fill,
    Health,
    Order,
    Position,
    resting_sizes,
)
from desk.engine.events import Event, EventType, Severity
from desk.engine.metrics import Metrics, QuoteStats

if TYPE_CHECKING:
    from desk.engine.config import StrategyConfig
    from desk.engine.manager import StrategyManager
    from desk.engine.ports import BookView
    from desk.engine.strategy import Strategy

BOOK_DEPTH = 12
MONEY = Decimal("1e-8")


@dataclass(frozen=True, slots=True)
class StrategyView:
    id: str
    name: str
    market_id: str
    state: str
    reason: str | None
    breaker: str | None
    position: Decimal
    soft_limit: Decimal
    max_position: Decimal
    fair: Decimal | None
    spread_bps: float | None
    skew_bps: float | None
    metrics: Metrics
    stats: QuoteStats
    config: StrategyConfig
    hedging: bool
    bids: tuple[tuple[Decimal, Decimal], ...]   # our ladder resting now: (price, size)
    asks: tuple[tuple[Decimal, Decimal], ...]
    fills: tuple[Fill, ...] = ()               # its recent fills, oldest first (journal)
    stood_down: bool = False                   # running, but held by the dead-man switch

    @property
    def unrealized_pnl(self) -> Decimal:
        """The live uPnL of this strategy's position (at `fair`, its mark, this frame):
        the number the positions table shows for the position when this strategy
        alone holds it."""
        return self.metrics.unrealized_pnl


@dataclass(frozen=True, slots=True)
class BookSide:
    levels: tuple[BookLevel, ...]      # best first; pending orders of ours included
    ours: frozenset[Decimal]           # levels holding an order of ours (size within)
    pending: frozenset[Decimal] = frozenset()  # ours, not (fully) in the book stream yet


@dataclass(frozen=True, slots=True)
class MarketBook:
    market_id: str
    trusted: bool
    bids: BookSide
    asks: BookSide
    fair: Decimal | None


@dataclass(frozen=True, slots=True)
class DeskView:
    """Everything one frame needs. `time` is the engine clock's wall time."""
    time: float
    venue: str
    armed: bool                        # the dead-man switch lets strategies quote
    guard_problem: str | None          # why it is tripped
    panicked: bool                     # pulled by hand; down until the operator re-arms
    balances: Balances | None          # equity and uPnL marked live (`live_balances`)
    feeds: tuple[Health, ...]
    strategies: tuple[StrategyView, ...]
    books: dict[str, MarketBook]
    positions: tuple[Position, ...]    # marked live: mark_price, unrealized_pnl of now
    events: tuple[Event, ...]          # oldest first, without the quote chatter
    pnl: dict[str, tuple[tuple[float, float], ...]]   # strategy id (or "total") -> (t, pnl)
    markets: tuple[str, ...] = ()
    resting: int = 0                   # our open orders, all markets (-1: not known)
    chatter: tuple[Event, ...] = ()    # quote_sent / quote_cancelled (replaced), oldest first
    alarms: tuple[Event, ...] = ()     # warnings and errors, kept longer, oldest first
    stale: tuple[str, ...] = ()        # markets whose reference feed is past its limit
    key_refused: bool = False          # the venue refuses the engine's key
    pulled: bool = True                # the last cancel-all was confirmed
    pulled_by: str | None = None       # by which credential

    def strategy(self, sid: str) -> StrategyView | None:
        return next((s for s in self.strategies if s.id == sid), None)

    def position(self, market_id: str) -> Position | None:
        """The (live-marked) position on one market, None when flat."""
        return next((p for p in self.positions if p.market_id == market_id), None)


def is_chatter(e: Event) -> bool:
    """A routine re-quote: a ladder sent, or the previous one cancelled because the next
    replaced it. Hidden in the log by default; never a warning or an error."""
    if e.severity is not Severity.INFO:
        return False
    return e.type is EventType.QUOTE_SENT or (
        e.type is EventType.QUOTE_CANCELLED and e.data.get("reason") == "replaced")


@dataclass
class Monitor:
    """Keeps what the screens show over time; `snapshot()` builds a `DeskView`."""
    manager: StrategyManager
    venue_label: str
    keep_events: int = 500
    keep_points: int = 600             # PnL points per strategy (10 min at 1 Hz)
    sample_s: float = 1.0
    keep_chatter: int = 500
    keep_alarms: int = 500
    events: deque[Event] = field(init=False)
    chatter: deque[Event] = field(init=False)
    alarms: deque[Event] = field(init=False)
    history: dict[str, deque[tuple[float, float]]] = field(init=False, default_factory=dict)
    _last_sample: float | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.events = deque(maxlen=self.keep_events)
        self.chatter = deque(maxlen=self.keep_chatter)
        self.alarms = deque(maxlen=self.keep_alarms)
        self.manager.subscribe_events(self.keep)

    def keep(self, e: Event) -> None:
        """File one event: chatter in its own ring, warnings and errors in theirs too."""
        (self.chatter if is_chatter(e) else self.events).append(e)
        if e.severity is not Severity.INFO:
            self.alarms.append(e)

    def _sample(self, now: float, pnl: dict[str, float]) -> None:
        if self._last_sample is not None and now - self._last_sample < self.sample_s:
            return
        self._last_sample = now
        for sid, value in pnl.items():
            self.history.setdefault(sid, deque(maxlen=self.keep_points)).append((now, value))

    def snapshot(self) -> DeskView:
        m = self.manager
        venue = m.venue
        now = m.ctx.clock.time()
        account = venue.account()
        strategies = tuple(_strategy_view(s) for s in m.strategies.values())
        guard = m.guard
        if not guard.quoting_allowed:
            strategies = tuple(replace(v, stood_down=True) if v.state == "running" else v
                               for v in strategies)
        pnl = {s.id: float(s.metrics.total_pnl) for s in strategies}
        pnl["total"] = float(sum((s.metrics.total_pnl for s in strategies), Decimal(0)))
        self._sample(now, pnl)
        orders = list(account.orders.values()) if account.trusted else []
        books: dict[str, MarketBook] = {}
        marks: dict[str, Decimal] = {}
        for market_id in m.ctx.rules:
            fair = None
            with contextlib.suppress(KeyError):
                fair = venue.reference(market_id).price()
            try:
                book = venue.book(market_id)
            except KeyError:
                book = None
            if book is not None:
                books[market_id] = book_view(market_id, book, orders, fair)
            mark = fair if fair is not None else _mid(book)
            if mark is not None:
                marks[market_id] = mark
        positions: tuple[Position, ...] = ()
        balances = account.balances
        if account.trusted:
            recorded = tuple(p for p in account.positions.values() if not p.flat)
            positions = mark_positions(recorded, strategies, marks)
            balances = live_balances(balances, positions)
        return DeskView(
            time=now, venue=self.venue_label, armed=guard.quoting_allowed,
            # while down, the reason as it stands now (a stale feed's age moves on)
            guard_problem=(guard.problem() or guard.tripped) if guard.tripped else None,
            panicked=m.panicked is not None,
            balances=balances,
            feeds=tuple(venue.health()), strategies=strategies, books=books,
            positions=positions, events=tuple(self.events),
            pnl={k: tuple(v) for k, v in self.history.items()},
            markets=tuple(m.ctx.rules),
            # unknown while the fill stream is down, unless a confirmed pull read none back
            resting=len(orders) if account.trusted or (guard.tripped and guard.pulled)
            else -1,
            chatter=tuple(self.chatter), alarms=tuple(self.alarms),
            stale=tuple(market_id for market_id, _ in guard.stale_feeds()),
            key_refused=guard.refused is not None, pulled=guard.pulled,
            pulled_by=guard.pulled_by)


def _mid(book: BookView | None) -> Decimal | None:
    return book.mid() if book is not None and book.trusted else None


def book_side(levels: Iterable[BookLevel], own: Mapping[Decimal, Decimal], is_bid: bool,
              depth: int = BOOK_DEPTH) -> BookSide:
    """One side of the book as shown: the stream's `levels` (best first, at most `depth`)
    reconciled with `own`, our resting size at each price of this side. A level is
    ours when our size fits in it; our orders the stream has not shown yet (a price it
    lacks, or a level smaller than our size) are pending, added at their price when it
    falls inside the depth shown."""
    shown = list(levels)[:depth]
    by_price = {lv.price: lv for lv in shown}
    full = len(shown) >= depth           # then anything beyond the last level is unseen
    last = shown[-1].price if shown else None
    ours: set[Decimal] = set()
    pending: set[Decimal] = set()
    for price, size in own.items():
        if size <= 0:
            continue
        level = by_price.get(price)
        if level is not None:
            (ours if size <= level.size else pending).add(price)
            continue
        if full and last is not None and (price < last if is_bid else price > last):
            continue                     # deeper than the levels shown
        by_price[price] = BookLevel(price, size)
        pending.add(price)
    out = sorted(by_price.values(), key=lambda lv: -lv.price if is_bid else lv.price)[:depth]
    kept = {lv.price for lv in out}
    return BookSide(tuple(out), frozenset(ours & kept), frozenset(pending & kept))


def book_view(market_id: str, book: BookView, orders: Iterable[Order],
              fair: Decimal | None, depth: int = BOOK_DEPTH) -> MarketBook:
    """One market's book for the screen, reconciled with our resting `orders`."""
    own = resting_sizes(orders, market_id)
    bids = {price: size for (is_bid, price), size in own.items() if is_bid}
    asks = {price: size for (is_bid, price), size in own.items() if not is_bid}
    return MarketBook(market_id, book.trusted,
                      book_side(book.levels(True, depth), bids, True, depth),
                      book_side(book.levels(False, depth), asks, False, depth), fair)


def mark_positions(positions: Iterable[Position], strategies: Iterable[StrategyView],
                   marks: Mapping[str, Decimal]) -> tuple[Position, ...]:
    """Each position marked live. The mark is the market's strategy's (its `fair`, what
    its own PnL is marked at), else `marks[market]` (the reference price or the book's
    mid), else the venue's record. The uPnL is the sum of the strategies' own uPnL
    when the strategies on that market hold exactly this position (so the detail
    screen and this agree to the cent), else (mark − entry) · size."""
    by_market: dict[str, list[StrategyView]] = {}
    for s in strategies:
        by_market.setdefault(s.market_id, []).append(s)
    out = []
    for p in positions:
        held = [s for s in by_market.get(p.market_id, ()) if s.position != 0]
        marked = [s.fair for s in by_market.get(p.market_id, ()) if s.fair is not None]
        mark = marked[0] if marked else marks.get(p.market_id)
        if mark is None:
            out.append(p)
            continue
        if held and sum((s.position for s in held), Decimal(0)) == p.quantity \
                and all(s.fair == mark for s in held):
            upnl = sum((s.metrics.unrealized_pnl for s in held), Decimal(0))
        elif p.entry_price is not None:
            upnl = ((mark - p.entry_price) * p.quantity).quantize(MONEY)
        else:
            out.append(p)
            continue
        out.append(replace(p, mark_price=mark, unrealized_pnl=upnl))
    return tuple(out)


def live_balances(balances: Balances | None, positions: Iterable[Position]
                  ) -> Balances | None:
    """The account's balances with its uPnL replaced by the live-marked positions' sum:
    equity (and the margin available) move by the difference from the uPnL the venue
    counted in them."""
    if balances is None:
        return None
    upnl = sum((p.unrealized_pnl for p in positions), Decimal(0))
    shift = upnl - balances.unrealized_pnl
    if shift == 0:
        return balances
    return replace(balances, equity=balances.equity + shift, unrealized_pnl=upnl,
                   available_margin=balances.available_margin + shift)


def _strategy_view(s: Strategy) -> StrategyView:
    cfg = s.config
    ladder = s.ladder
    resting = s.quote_id is not None and ladder is not None
    return StrategyView(
        id=s.id, name=cfg.name, market_id=s.market_id, state=str(s.state), reason=s.reason,
        breaker=s.breaker, position=s.position, soft_limit=cfg.soft_position_limit,
        max_position=cfg.max_position, fair=s.mark(),
        spread_bps=float(ladder.spread_bps) if ladder is not None else None,
        skew_bps=float(ladder.skew_bps) if ladder is not None else None,
        metrics=s.metrics(), stats=s.quotes.stats(), config=cfg,
        hedging=bool(s.hedge and not s.hedge.done),
        bids=tuple((lv.price, lv.quantity) for lv in ladder.bids) if resting else (),
        asks=tuple((lv.price, lv.quantity) for lv in ladder.asks) if resting else (),
        fills=tuple(s.recent_fills))
