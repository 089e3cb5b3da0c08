"""One backtest run: the live engine's `StrategyManager`, strategies, risk, hedging,
dead-man switch and metrics, against the exchange core and a simulated market, on a
virtual clock.

A run is a pure function of its config and seed: the exchange's ids, the market's
path and flow and the engine's ids all draw from generators seeded from it, and the
virtual loop runs callbacks in an order fixed by the program alone.

Timeline: the market steps every `step_s` (the venue's `sim_step_ms`, or the steps
mode's dt). After each step the reference feeds publish and the strategies react
within the same instant (plus `latency_ms` per venue call, if set). In steps mode
the reference first walks `warmup_steps` with the strategies stopped (their
volatility estimates fill), then quoting starts and `count` steps follow. At the
end each strategy's PnL is marked at its reference price and the desk shuts down
the way it does live (cancel-all first).
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field

from desk.backtest.config import BacktestConfig, ConfigError
from desk.backtest.paper import PaperMarket
from desk.backtest.simvenue import SimVenue
from desk.backtest.vloop import VirtualClock, VirtualLoop, run_virtual
from desk.engine.errors import StrategyError
from desk.engine.events import Event, EventType
from desk.engine.manager import StrategyManager
from desk.engine.strategy import Strategy
from desk.venue.exchange import Exchange
from desk.venue.market_sim import MarketSimulator

ACCOUNT = "backtest"


@dataclass(frozen=True)
class StrategyResult:
    name: str
    market_id: str
    final_pnl: float          # total, marked at the reference price, net of fees
    final_inventory: float
    fills: int
    volume: float             # notional traded, quote currency
    spread_captured_bps: float | None  # average per fill from fair value at send; None
                                       # when the run had no fills
    max_drawdown: float       # largest fall of total PnL from its running peak (currency)
    max_drawdown_pct: float   # the engine's own: % of peak attributed equity
    breaker_trips: int
    quotes_sent: int
    fees: float


@dataclass(frozen=True)
class Series:
    """Samples of one run: seconds since quoting started, PnL and inventory by strategy."""
    t: list[float] = field(default_factory=list)
    pnl: dict[str, list[float]] = field(default_factory=dict)
    inventory: dict[str, list[float]] = field(default_factory=dict)


@dataclass(frozen=True)
class RunResult:
    seed: int
    strategies: list[StrategyResult]
    deadman_trips: int
    events: int               # price updates, orders, cancels and fills the core handled
    cycles: int               # quoting cycles sent by the engine
    steps: int
    wall_s: float
    series: Series | None = None


class _Tracker:
    """Per strategy, while the run goes: the PnL peak and largest fall, and trips."""

    def __init__(self, strategies: list[Strategy], keep_series: bool):
        self.strategies = strategies
        self.peak = dict.fromkeys((s.id for s in strategies), 0.0)
        self.fall = dict.fromkeys((s.id for s in strategies), 0.0)
        self.trips = dict.fromkeys((s.id for s in strategies), 0)
        self.deadman = 0
        self.cycles = 0
        self.series = Series(pnl={s.config.name: [] for s in strategies},
                             inventory={s.config.name: [] for s in strategies}) \
            if keep_series else None

    def on_event(self, event: Event) -> None:
        if event.type is EventType.QUOTE_SENT:
            self.cycles += 1
        elif event.type is EventType.CIRCUIT_BREAKER:
            if event.strategy_id is None:
                self.deadman += 1
            elif event.strategy_id in self.trips:
                self.trips[event.strategy_id] += 1

    def sample(self, t: float) -> None:
        if self.series is not None:
            self.series.t.append(round(t, 9))
        for s in self.strategies:
            pnl = float(s.total_pnl())
            peak = self.peak[s.id] = max(self.peak[s.id], pnl)
            self.fall[s.id] = max(self.fall[s.id], peak - pnl)
            if self.series is not None:
                self.series.pnl[s.config.name].append(pnl)
                self.series.inventory[s.config.name].append(float(s.position))


async def _run(config: BacktestConfig, seed: int, keep_series: bool) -> RunResult:
    started = time.perf_counter()
    loop = asyncio.get_running_loop()
    assert isinstance(loop, VirtualLoop), "a backtest runs on a VirtualLoop"
    clock = VirtualClock(loop)
    b = config.backtest
    root = random.Random(seed)
    venue_cfg = config.venue.model_copy(update={"seed": seed})
    exchange = Exchange(venue_cfg, clock.ms, random.Random(root.getrandbits(64)))
    market_seed = root.getrandbits(64)
    if b.mode == "steps":
        market: PaperMarket | MarketSimulator = PaperMarket(exchange, market_seed, b.steps)
        step_ms = b.steps.dt_ms
    else:
        market = MarketSimulator(exchange, random.Random(market_seed))
        step_ms = venue_cfg.sim_step_ms
    venue = SimVenue(exchange, ACCOUNT, clock, latency_s=b.latency_ms / 1000)
    await venue.start()
    manager = StrategyManager(venue, clock=clock, rng=random.Random(root.getrandbits(64)),
                              engine=config.engine)
    await manager.open()
    try:
        ids = [manager.create(**s.model_dump()).id for s in config.strategies]
    except StrategyError as err:  # what the engine refuses is the file's fault
        raise ConfigError(f"strategies: {err}") from None
    strategies = [manager.strategies[i] for i in ids]
    tracker = _Tracker(strategies, keep_series)
    manager.subscribe_events(tracker.on_event)

    step_s = step_ms / 1000
    every = max(1, round(config.sample_s / step_s))
    t0 = loop.time()
    warmup, count = config.warmup_steps, config.step_count
    for k in range(warmup + count):
        if k == warmup:
            for i, sid in enumerate(ids):
                try:
                    await manager.start(sid)
                except StrategyError as err:
                    name = config.strategies[i].name
                    raise ConfigError(f"strategies[{i}] ({name}): cannot start: {err}"
                                      ) from None
            quoting_from = loop.time()
            tracker.sample(0.0)
        await asyncio.sleep(max(t0 + (k + 1) * step_s - loop.time(), 0.0))
        market.step(step_ms)
        venue.publish()
        done = k + 1 - warmup
        if done > 0 and (done % every == 0 or done == count):
            await asyncio.sleep(0)  # the step's fills reach their strategies first
            tracker.sample(loop.time() - quoting_from)

    results = []
    for s in strategies:
        m = s.metrics()
        q = s.quotes.stats()
        results.append(StrategyResult(
            s.config.name, s.market_id, float(m.total_pnl), float(s.position), m.trade_count,
            float(m.total_volume), q.avg_spread_captured_bps if q.quotes_filled else None,
            tracker.fall[s.id],
            m.max_drawdown_pct, tracker.trips[s.id], q.quotes_sent, float(m.fees)))
    deadman = tracker.deadman  # the shutdown below trips the switch too: not counted
    await manager.shutdown("backtest over")
    await venue.close()
    c = exchange.counters
    events = (warmup + count) * len(exchange.markets) + c["orders"] + c["cancels"] + c["fills"]
    return RunResult(seed, results, deadman, events, tracker.cycles, warmup + count,
                     time.perf_counter() - started, tracker.series)


def run_one(config: BacktestConfig, seed: int, keep_series: bool = False) -> RunResult:
    """One run on its own virtual loop (no threads, no I/O)."""
    return run_virtual(_run(config, seed, keep_series), VirtualLoop())
