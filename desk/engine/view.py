"""What a screen shows, as one immutable snapshot of the desk (`DeskView`).

`Monitor` lives where the engine runs: it keeps the recent events and a PnL
history per strategy, and `snapshot()` copies everything a frame needs out of the
engine's live state in one go, so a screen drawn on another thread never reads
state that is half-updated. Nothing here changes trading state.
"""

from __future__ import annotations

import contextlib
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from desk.domain.records import Balances, BookLevel, Health, Position, resting_sizes
from desk.engine.events import Event
from desk.engine.metrics import Metrics, QuoteStats

if TYPE_CHECKING:
    from desk.engine.config import StrategyConfig
    from desk.engine.manager import StrategyManager
    from desk.engine.strategy import Strategy

BOOK_DEPTH = 12


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


@dataclass(frozen=True, slots=True)
class BookSide:
    levels: tuple[BookLevel, ...]
    ours: frozenset[Decimal]           # prices where an order of ours rests


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
    balances: Balances | None
    feeds: tuple[Health, ...]
    strategies: tuple[StrategyView, ...]
    books: dict[str, MarketBook]
    positions: tuple[Position, ...]
    events: tuple[Event, ...]
    pnl: dict[str, tuple[tuple[float, float], ...]]   # strategy id (or "total") -> (t, pnl)
    markets: tuple[str, ...] = ()
    resting: int = 0                   # our open orders, all markets

    def strategy(self, sid: str) -> StrategyView | None:
        return next((s for s in self.strategies if s.id == sid), None)


@dataclass
class Monitor:
    """Keeps what the screens show over time; `snapshot()` builds a `DeskView`."""
    manager: StrategyManager
    venue_label: str
    keep_events: int = 500
    keep_points: int = 600             # PnL points per strategy (10 min at 1 Hz)
    sample_s: float = 1.0
    events: deque[Event] = field(init=False)
    history: dict[str, deque[tuple[float, float]]] = field(init=False, default_factory=dict)
    _last_sample: float | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.events = deque(maxlen=self.keep_events)
        self.manager.subscribe_events(self.events.append)

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
        pnl = {s.id: float(s.metrics.total_pnl) for s in strategies}
        pnl["total"] = float(sum((s.metrics.total_pnl for s in strategies), Decimal(0)))
        self._sample(now, pnl)
        orders = list(account.orders.values()) if account.trusted else []
        books = {}
        for market_id in m.ctx.rules:
            try:
                book = venue.book(market_id)
            except KeyError:
                continue
            fair = None
            with contextlib.suppress(KeyError):
                fair = venue.reference(market_id).price()
            own = resting_sizes(orders, market_id)
            ours_bid = frozenset(price for is_bid, price in own if is_bid)
            ours_ask = frozenset(price for is_bid, price in own if not is_bid)
            books[market_id] = MarketBook(
                market_id, book.trusted,
                BookSide(tuple(book.levels(True, BOOK_DEPTH)), ours_bid),
                BookSide(tuple(book.levels(False, BOOK_DEPTH)), ours_ask), fair)
        positions = tuple(p for p in account.positions.values() if not p.flat) \
            if account.trusted else ()
        return DeskView(
            time=now, venue=self.venue_label, armed=m.guard.quoting_allowed,
            guard_problem=m.guard.tripped, panicked=m.panicked is not None,
            balances=account.balances,
            feeds=tuple(venue.health()), strategies=strategies, books=books,
            positions=positions, events=tuple(self.events),
            pnl={k: tuple(v) for k, v in self.history.items()},
            markets=tuple(m.ctx.rules), resting=len(orders))


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
        asks=tuple((lv.price, lv.quantity) for lv in ladder.asks) if resting else ())
