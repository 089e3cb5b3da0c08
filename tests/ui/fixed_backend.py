"""A deterministic `desk.control.Backend` for snapshot tests and screenshots.

Everything the screens draw is built by hand here: three strategies (BTC MM, ETH MM,
SOL MM on BTC-PERP / ETH-PERP / SOL-PERP), their books with our quotes marked,
positions, balances, live feeds, 60 PnL points per strategy plus "total", and ~20
events, all at a fixed clock (2026-01-05 12:04:31 UTC). No wall clock, no randomness.

`FixedBackend.set_state()` switches between the desks the snapshots show:
"normal", "paused" (ETH MM paused by the operator), "breaker" (SOL MM halted by its
daily-loss breaker) and "panic" (every quote pulled, every strategy stopped), and
"flat" (every strategy stopped, nothing resting, no position: the quit dialog's short
question).
Operator actions are recorded in `calls`, never executed.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Literal, TypeVar

from desk.control import (
    ControlError,
    FlattenReport,
    KeyRow,
    NewKey,
    PanicReport,
    QuickBacktest,
)
from desk.domain import Liquidity, Side
from desk.domain.records import Balances, BookLevel, FeedState, Fill, Health, Position
from desk.engine.config import StrategyConfig
from desk.engine.events import Event, EventType, Severity
from desk.engine.metrics import Metrics, QuoteStats
from desk.engine.view import BookSide, DeskView, MarketBook, StrategyView

T = TypeVar("T")
D = Decimal

State = Literal["normal", "paused", "breaker", "panic", "flat", "refused"]
STATES: tuple[State, ...] = ("normal", "paused", "breaker", "panic", "flat", "refused")

NOW = 1_767_614_671.0            # 2026-01-05 12:04:31 UTC
NOW_MS = int(NOW * 1000)
VENUE = "embedded venue 127.0.0.1:8731"
BREAKER = "daily loss 5,120.00 > max_daily_loss 5,000"
# Not a real secret, and deliberately not shaped like one (no `ocx_sk_` prefix), so a
# scan of the screenshots for secrets stays clean.
PLACEHOLDER_SECRET = "SECRET-SHOWN-ONCE-xxxxxxxxxxxxxxxx"


# --- strategies ------------------------------------------------------------------------

CONFIGS = {
    "btc-mm": StrategyConfig(
        name="BTC MM", market_id="BTC-PERP", base_spread_bps=D(10), min_quote_size=D("0.01"),
        max_quote_size=D("1"), quote_size=D("0.1"), max_position=D("10"),
        soft_position_limit=D("7"), skew_factor=D("0.5")),
    "eth-mm": StrategyConfig(
        name="ETH MM", market_id="ETH-PERP", spread_model="volatility", base_spread_bps=D(12),
        min_quote_size=D("0.1"), max_quote_size=D("10"), quote_size=D("0.8"),
        max_position=D("50"), soft_position_limit=D("35"), quote_layers=2,
        auto_hedge_enabled=True, hedge_threshold=D("40"), hedge_target=D("10")),
    "sol-mm": StrategyConfig(
        name="SOL MM", market_id="SOL-PERP", base_spread_bps=D(15), min_quote_size=D("1"),
        max_quote_size=D("50"), quote_size=D("5"), max_position=D("500"),
        soft_position_limit=D("350")),
}

FAIR = {"BTC-PERP": D("64012.3"), "ETH-PERP": D("3412.55"), "SOL-PERP": D("187.234")}


def _metrics(total: str, daily: str, realized: str, unrealized: str, fees: str, volume: str,
             trades: int, win: float, sharpe: float, dd: float, position: str,
             average: str | None) -> Metrics:
    # dd: the drawdown in % of a 100,000 equity; the metrics carry it in currency too
    return Metrics(D(total), D(daily), D(realized), D(unrealized), D(fees), D(volume), trades,
                   win, sharpe, D(str(dd)) * 1000, D(position), D(average) if average else None,
                   max_drawdown_pct=dd, wins=round(trades // 2 * win / 100),
                   closes=trades // 2)


METRICS = {
    "btc-mm": _metrics("412.37", "412.37", "347.45", "64.92", "18.40", "1284310.55", 214,
                       61.5, 3.42, 0.21, "0.4", "63850.0"),
    "eth-mm": _metrics("-37.80", "-37.80", "-61.96", "24.16", "9.12", "512004.10", 131,
                       48.2, -0.55, 0.34, "-3.2", "3420.10"),
    "sol-mm": _metrics("88.05", "88.05", "109.70", "-21.65", "4.75", "98120.00", 77,
                       55.0, 1.18, 0.12, "25", "188.10"),
}
BREAKER_METRICS = _metrics("-5087.40", "-5120.00", "-4980.25", "-107.15", "31.40",
                           "402118.70", 166, 21.4, -6.80, 5.12, "25", "191.52")

STATS = {
    "btc-mm": QuoteStats(1840, 596, 32.4, 1840.0, 3.1),
    "eth-mm": QuoteStats(1322, 302, 22.8, 2630.5, 2.4),
    "sol-mm": QuoteStats(905, 149, 16.5, 4120.0, 4.7),
}

LADDERS = {   # our quotes resting now: bids, asks, spread bps, skew bps
    "btc-mm": (((D("63980.5"), D("0.1")),), ((D("64044.0"), D("0.1")),), 9.9, -0.2),
    "eth-mm": (((D("3410.50"), D("0.8")), (D("3408.80"), D("0.8"))),
               ((D("3414.60"), D("0.8")), (D("3416.30"), D("0.8"))), 12.0, 1.6),
    "sol-mm": (((D("187.094"), D("5")),), ((D("187.375"), D("5")),), 15.0, -0.4),
}


def _strategy(sid: str) -> StrategyView:
    cfg = CONFIGS[sid]
    bids, asks, spread, skew = LADDERS[sid]
    m = METRICS[sid]
    return StrategyView(
        id=sid, name=cfg.name, market_id=cfg.market_id, state="running", reason=None,
        breaker=None, position=m.position, soft_limit=cfg.soft_position_limit,
        max_position=cfg.max_position, fair=FAIR[cfg.market_id], spread_bps=spread,
        skew_bps=skew, metrics=m, stats=STATS[sid], config=cfg, hedging=False,
        bids=bids, asks=asks, fills=FILLS.get(sid, ()))


# --- books -----------------------------------------------------------------------------

def _levels(prices: list[str], sizes: list[str]) -> tuple[BookLevel, ...]:
    return tuple(BookLevel(D(p), D(s)) for p, s in zip(prices, sizes, strict=True))


BOOK_SIZES = ["1.2", "0.8", "2.5", "0.35", "4.0", "1.1", "0.6", "1.35", "3.0", "7.5"]
BOOK_PRICES = {
    "BTC-PERP": (
        ["64010.0", "64006.5", "64002.0", "63997.5", "63993.0", "63988.5", "63984.0",
         "63980.5", "63976.0", "63971.5"],
        ["64014.5", "64018.0", "64022.5", "64027.0", "64031.5", "64036.0", "64040.5",
         "64044.0", "64049.5", "64055.0"]),
    "ETH-PERP": (
        ["3412.10", "3411.70", "3410.50", "3410.10", "3409.60", "3408.80", "3408.20",
         "3407.50", "3406.90", "3406.00"],
        ["3413.00", "3413.40", "3413.90", "3414.60", "3415.10", "3415.70", "3416.30",
         "3416.90", "3417.50", "3418.20"]),
    "SOL-PERP": (
        ["187.210", "187.180", "187.150", "187.120", "187.094", "187.060", "187.020",
         "186.990", "186.950", "186.910"],
        ["187.260", "187.290", "187.320", "187.350", "187.375", "187.410", "187.440",
         "187.480", "187.510", "187.550"]),
}


def _books(strategies: tuple[StrategyView, ...]) -> dict[str, MarketBook]:
    books = {}
    for s in strategies:
        bid_prices, ask_prices = BOOK_PRICES[s.market_id]
        books[s.market_id] = MarketBook(
            s.market_id, True,
            BookSide(_levels(bid_prices, BOOK_SIZES), frozenset(p for p, _ in s.bids)),
            BookSide(_levels(ask_prices, BOOK_SIZES), frozenset(p for p, _ in s.asks)),
            FAIR[s.market_id])
    return books


POSITIONS = (
    Position("BTC-PERP", D("0.4"), D("63850.0"), D("64012.3"), D("64.92"), D("347.45"),
             D("48210.5")),
    Position("ETH-PERP", D("-3.2"), D("3420.10"), D("3412.55"), D("24.16"), D("-61.96"),
             D("4520.00")),
    Position("SOL-PERP", D("25"), D("188.10"), D("187.234"), D("-21.65"), D("109.70"),
             D("120.40")),
)

BALANCES = Balances(
    equity=D("100412.20"), wallet_balance=D("100344.77"), available_margin=D("93120.55"),
    initial_margin=D("7291.65"), maintenance_margin=D("3645.82"), margin_usage=D("7.26"),
    unrealized_pnl=D("67.43"), realized_pnl=D("395.19"))

FEEDS = (
    Health("BTC-PERP reference", FeedState.LIVE, 0.12),
    Health("ETH-PERP reference", FeedState.LIVE, 0.08),
    Health("SOL-PERP reference", FeedState.LIVE, 0.21),
    Health("book stream", FeedState.LIVE, 0.03),
    Health("fills stream", FeedState.LIVE, 1.40),
    Health("orders stream", FeedState.LIVE, 0.90),
)


# --- PnL history -----------------------------------------------------------------------

POINTS = 60


def _series(end: float, wiggle: float, phase: float, crash_from: int | None = None,
            crash_to: float = 0.0) -> tuple[tuple[float, float], ...]:
    """60 one-second points ending at `end`: a drift with a fixed wiggle (no randomness);
    with `crash_from`, a slide from that point down to `crash_to`."""
    out = []
    for i in range(POINTS):
        t = NOW - (POINTS - 1 - i)
        v = end * i / (POINTS - 1) + wiggle * math.sin(i / 4 + phase)
        if crash_from is not None and i >= crash_from:
            k = (i - crash_from) / (POINTS - 1 - crash_from)
            v = v + (crash_to - v) * k
        out.append((t, round(v, 2)))
    return tuple(out)


def _pnl(strategies: tuple[StrategyView, ...], breaker: bool) -> dict[str, tuple]:
    series = {
        "btc-mm": _series(412.37, 40.0, 0.0),
        "eth-mm": _series(-37.80, 25.0, 1.3),
        "sol-mm": (_series(88.05, 15.0, 2.1, crash_from=40, crash_to=-5087.40) if breaker
                   else _series(88.05, 15.0, 2.1)),
    }
    ids = [s.id for s in strategies]
    total = tuple((series[ids[0]][i][0], round(sum(series[s][i][1] for s in ids), 2))
                  for i in range(POINTS))
    return {**{s: series[s] for s in ids}, "total": total}


# --- events ----------------------------------------------------------------------------

def _event(seq: int, ago_s: float, type: EventType, sid: str | None,
           severity: Severity | None = None, **data: Any) -> Event:
    defaults = {EventType.CIRCUIT_BREAKER: Severity.ERROR, EventType.ERROR: Severity.ERROR,
                EventType.HEDGE_TRIGGERED: Severity.WARNING, EventType.PAUSED: Severity.WARNING,
                EventType.STOPPED: Severity.WARNING}
    return Event(type, sid, NOW_MS - int(ago_s * 1000), data,
                 severity or defaults.get(type, Severity.INFO), seq)


def _fill(seq: int, ago: float, sid: str, side: str, q: str, p: str) -> Event:
    return _event(seq, ago, EventType.QUOTE_FILLED, sid, side=side, quantity=D(q),
                  price=D(p), liquidity="maker")


BASE_EVENTS = (
    _event(1, 58.0, EventType.STARTED, "btc-mm"),
    _event(2, 57.5, EventType.STARTED, "eth-mm"),
    _event(3, 57.0, EventType.STARTED, "sol-mm"),
    _event(4, 55.2, EventType.QUOTE_SENT, "btc-mm", fair=D("64001.8"), spread_bps=10.0),
    _event(5, 54.9, EventType.QUOTE_SENT, "eth-mm", fair=D("3415.20"), spread_bps=12.0),
    _event(6, 54.6, EventType.QUOTE_SENT, "sol-mm", fair=D("187.410"), spread_bps=15.0),
    _fill(7, 49.3, "btc-mm", "buy", "0.1", "63970.0"),
    _event(8, 49.3, EventType.POSITION_CHANGED, "btc-mm", new_position=D("0.5")),
    _fill(9, 44.0, "eth-mm", "sell", "0.8", "3416.30"),
    _event(10, 44.0, EventType.POSITION_CHANGED, "eth-mm", new_position=D("-3.2")),
    _event(11, 41.7, EventType.HEDGE_TRIGGERED, "eth-mm", reason="position past 3.0",
           quantity=D("0.2")),
    _event(12, 39.9, EventType.HEDGE_COMPLETED, "eth-mm", quantity=D("0.2"),
           price=D("3413.10")),
    _event(13, 33.2, EventType.QUOTE_CANCELLED, "sol-mm", count=2),
    _event(14, 30.5, EventType.ERROR, "sol-mm", code="RATE_LIMITED",
           message="429 on quotes/bulk; backing off 250 ms"),
    _fill(15, 26.1, "sol-mm", "buy", "5", "187.094"),
    _event(16, 26.1, EventType.POSITION_CHANGED, "sol-mm", new_position=D("25")),
    _event(17, 20.0, EventType.PNL_UPDATE, "btc-mm", total_pnl=D("398.10")),
    _fill(18, 12.4, "btc-mm", "sell", "0.1", "64044.0"),
    _event(19, 12.4, EventType.POSITION_CHANGED, "btc-mm", new_position=D("0.4")),
    _event(20, 4.8, EventType.QUOTE_SENT, "btc-mm", fair=D("64012.3"), spread_bps=9.9),
)

# each strategy's recent fills (the detail screen's), the same as the events above
FILLS: dict[str, tuple[Fill, ...]] = {}
for _e in BASE_EVENTS:
    if _e.type is EventType.QUOTE_FILLED and _e.strategy_id:
        FILLS[_e.strategy_id] = (*FILLS.get(_e.strategy_id, ()), Fill(
            f"fill-{_e.seq}", f"order-{_e.seq}", f"{_e.strategy_id}.q{_e.seq}", None,
            CONFIGS[_e.strategy_id].market_id, Side(_e.data["side"]), _e.data["price"],
            _e.data["quantity"], Liquidity.MAKER, D("0"), _e.ts_ms))


# --- the four desks --------------------------------------------------------------------

def build_view(state: State = "normal") -> DeskView:
    strategies = tuple(_strategy(sid) for sid in CONFIGS)
    events = BASE_EVENTS
    armed, problem, panicked, resting = True, None, False, 8
    if state == "paused":
        strategies = tuple(
            replace(s, state="paused", reason="by operator", bids=(), asks=(),
                    spread_bps=None, skew_bps=None) if s.id == "eth-mm" else s
            for s in strategies)
        events += (_event(21, 2.0, EventType.PAUSED, "eth-mm", reason="by operator"),
                   _event(22, 2.0, EventType.QUOTE_CANCELLED, "eth-mm", count=4))
        resting = 4
    elif state == "breaker":
        strategies = tuple(
            replace(s, state="halted", reason="circuit breaker", breaker=BREAKER, bids=(),
                    asks=(), spread_bps=None, skew_bps=None, metrics=BREAKER_METRICS)
            if s.id == "sol-mm" else s for s in strategies)
        events += (_event(21, 1.6, EventType.CIRCUIT_BREAKER, "sol-mm", reason=BREAKER),
                   _event(22, 1.6, EventType.QUOTE_CANCELLED, "sol-mm", count=2))
        resting = 6
    elif state == "panic":
        strategies = tuple(replace(s, state="stopped", reason="panic", bids=(), asks=(),
                                   spread_bps=None, skew_bps=None) for s in strategies)
        events += (_event(21, 1.0, EventType.QUOTE_CANCELLED, None, count=8,
                          reason="panic: unscoped cancel-all"),)
        events += tuple(_event(22 + i, 0.9, EventType.STOPPED, s.id, reason="panic")
                        for i, s in enumerate(strategies))
        armed, problem, panicked, resting = False, "panic", True, 0
    elif state == "refused":  # the venue refused the engine's key; the kill switch pulled
        strategies = tuple(replace(s, bids=(), asks=(), spread_bps=None, skew_bps=None,
                                   stood_down=True) for s in strategies)
        events += (_event(21, 1.2, EventType.CIRCUIT_BREAKER, None, reason=f"dead-man: {REFUSED}",
                          scope="desk"),
                   _event(22, 1.1, EventType.QUOTE_CANCELLED, None, count=8, scope="desk",
                          reason=f"dead-man: {REFUSED}", by=PULLED_BY))
        armed, problem, resting = False, REFUSED, 0
    elif state == "flat":
        strategies = tuple(replace(s, state="stopped", reason="operator", bids=(), asks=(),
                                   spread_bps=None, skew_bps=None, position=D(0))
                           for s in strategies)
        resting = 0
    positions = () if state == "flat" else POSITIONS
    refused = state == "refused"
    return DeskView(
        time=NOW, venue=VENUE, armed=armed, guard_problem=problem, panicked=panicked,
        balances=BALANCES, feeds=FEEDS, strategies=strategies, books=_books(strategies),
        positions=positions, events=events, pnl=_pnl(strategies, state == "breaker"),
        markets=tuple(FAIR), resting=resting, key_refused=refused,
        pulled_by=PULLED_BY if refused else None)


REFUSED = ("the engine's key desk-engine (ocx_kid_7f3a9c21e0b4) was refused: "
           "KEY_REVOKED: the API key was revoked")
PULLED_BY = "the kill switch's key desk-kill-switch (ocx_kid_4c0e8b7d19a2)"


# --- keys ------------------------------------------------------------------------------

KEYS = (
    KeyRow("ocx_kid_7f3a9c21e0b4", "desk-engine", "trade", ("127.0.0.1",),
           "2026-04-05T12:00:00Z", "active", "2026-01-05T12:04:30Z", True, True, "engine"),
    KeyRow("ocx_kid_4c0e8b7d19a2", "desk-kill-switch", "trade", (), None, "active",
           "2026-01-05T12:03:10Z", False, False, "kill switch"),
    KeyRow("ocx_kid_d5a1f6e2b830", "desk-watchdog", "trade", (), None, "active",
           "2026-01-05T12:04:31Z", False, False, "watchdog"),
    KeyRow("ocx_kid_2b81d0f4c6aa", "monitoring", "read", ("10.0.0.0/8", "127.0.0.1"),
           None, "active", "2026-01-05T11:58:02Z", True, False),
    KeyRow("ocx_kid_6e27a4c0f5d1", "spare-trade", "trade", ("127.0.0.1",), None, "active",
           None, True, False),
    KeyRow("ocx_kid_91e5c7a3d2f0", "old-bot", "trade", (), "2025-12-01T00:00:00Z",
           "revoked", "2025-11-30T23:59:59Z", False, False),
)
NEW_KEY_ID = "ocx_kid_example"


# --- the backend -----------------------------------------------------------------------

@dataclass
class Call:
    name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


class RecordingManager:
    """Stands in for `StrategyManager` inside `control()`: every method call is recorded
    and returns None; nothing trades."""

    def __init__(self, calls: list[Call]) -> None:
        self._calls = calls

    def __getattr__(self, name: str) -> Callable[..., None]:
        def method(*args: Any, **kwargs: Any) -> None:
            self._calls.append(Call(name, args, kwargs))
        return method


class FixedBackend:
    """Implements `desk.control.Backend` over hand-built data; see the module doc."""

    def __init__(self, state: State = "normal") -> None:
        self.calls: list[Call] = []
        self._views = {s: build_view(s) for s in STATES}
        self.state: State = state
        self.keys_list: list[KeyRow] = list(KEYS)
        # what flatten_all reports (None: every open position closed, nothing left)
        self.flatten_report: FlattenReport | None = None
        self.use_key_refusal: str | None = None   # use_key refuses with this (the venue)
        self.panic_report: PanicReport | None = None  # what panic reports (None: all pulled)

    # state switches
    def set_state(self, state: State) -> FixedBackend:
        if state not in STATES:
            raise ValueError(f"unknown state {state!r}: one of {STATES}")
        self.state = state
        return self

    def normal(self) -> FixedBackend:
        return self.set_state("normal")

    def pause_one(self) -> FixedBackend:
        return self.set_state("paused")

    def trip_breaker(self) -> FixedBackend:
        return self.set_state("breaker")

    def panicked(self) -> FixedBackend:
        return self.set_state("panic")

    def move_position(self, sid: str, position: Decimal) -> FixedBackend:
        """The strategy's position changes (a fill) in the current state's view."""
        view = self._views[self.state]
        self._views[self.state] = replace(view, strategies=tuple(
            replace(s, position=position) if s.id == sid else s for s in view.strategies))
        return self

    # the Backend protocol
    def view(self) -> DeskView:
        return self._views[self.state]

    async def control(self, action: Callable[[Any], Awaitable[T]]) -> T:
        result: Any = action(RecordingManager(self.calls))
        if inspect.isawaitable(result):
            result = await result
        return result

    async def panic(self) -> PanicReport:
        self.calls.append(Call("panic", (), {}))
        self.state = "panic"
        if self.panic_report is not None:
            return self.panic_report
        return PanicReport(cancelled=8, resting_after=0, attempts=1, elapsed_ms=14.0)

    async def flatten_all(self) -> FlattenReport:
        self.calls.append(Call("flatten_all", (), {}))
        if self.flatten_report is not None:
            return self.flatten_report
        return FlattenReport(tuple((p.market_id, p.quantity) for p in self.view().positions))

    async def rearm(self) -> list[str]:
        self.calls.append(Call("rearm", (), {}))
        self.state = "normal"
        return list(CONFIGS)

    async def keys(self) -> list[KeyRow]:
        return list(self.keys_list)

    async def create_key(self, name: str, scope: str, allowed_ips: list[str],
                         expires_in_days: int | None) -> NewKey:
        self.calls.append(Call("create_key", (name, scope, allowed_ips, expires_in_days), {}))
        row = KeyRow(NEW_KEY_ID, name, scope, tuple(allowed_ips),
                     "2026-02-04T12:04:31Z" if expires_in_days else None, "active", None,
                     True, False)
        self.keys_list.append(row)
        return NewKey(row, PLACEHOLDER_SECRET)

    async def revoke_key(self, key_id: str) -> None:
        self.calls.append(Call("revoke_key", (key_id,), {}))
        self.keys_list = [replace(k, status="revoked") if k.id == key_id else k
                          for k in self.keys_list]

    async def use_key(self, key_id: str) -> None:
        self.calls.append(Call("use_key", (key_id,), {}))
        if self.use_key_refusal is not None:
            raise ControlError(self.use_key_refusal)
        self.keys_list = [replace(k, in_use=k.id == key_id,
                                  role=_engine_role(k, k.id == key_id))
                          for k in self.keys_list]

    async def backtest(self, params: dict[str, Any]) -> QuickBacktest:
        self.calls.append(Call("backtest", (dict(params),), {}))
        return fixed_backtest(str(params.get("name", "")))


def _engine_role(k: KeyRow, engine: bool) -> str:
    others = [r for r in k.roles() if r != "engine"]
    return ", ".join((["engine"] if engine else []) + others)


def fixed_backtest(name: str) -> QuickBacktest:
    """A made-up quick backtest: 300 one-second samples of a PnL that climbs with
    a wobble and an inventory that swings."""
    t = tuple(float(i) for i in range(301))
    pnl = tuple(round(0.12 * i + 3 * math.sin(i / 17), 4) for i in t)
    inventory = tuple(round(0.4 * math.sin(i / 23) + 0.1 * math.sin(i / 5), 3) for i in t)
    rows = (("final PnL", "36.12", "4.87"), ("final inventory", "0.1200", "0.2131"),
            ("fills", "118.3", "9.1"), ("volume", "301,914.22", "21,330.10"),
            ("spread captured (bps/fill)", "4.96", "0.03"), ("max drawdown", "8.40", "2.05"),
            ("breaker trips", "0.00", "0.00"))
    return QuickBacktest(f"{name} on BTC-PERP: 3 runs of 5 simulated minutes (seeds 1..3)",
                         rows, "chart: run seed 1 · 145,210 simulated events in 3.9 s · the "
                               "live desk is untouched", t, pnl, inventory)
