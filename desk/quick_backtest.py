"""The editor's Backtest button: a few short runs of one strategy's edited parameters on
the simulated market, in a process of their own, so the live desk's engine neither
shares its state nor waits for the CPU behind it.

The market is the embedded venue's settings for the strategy's market (from the
desk's settings). A market those settings do not know (a remote venue's) gets the
venue's default simulation scaled to its tick, step, minimum size and price.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from decimal import Decimal
from typing import Any

from desk.backtest import batch, report
from desk.backtest.config import BacktestConfig, ConfigError, validate
from desk.control import ControlError, QuickBacktest
from desk.engine.config import EngineConfig
from desk.venue.config import MarketConfig, MarketSim, VenueConfig

RUNS = 3
DURATION_S = 300.0
SEED = 1


def market_like(market_id: str, tick: Decimal, step: Decimal, min_quantity: Decimal,
                price: Decimal) -> MarketConfig:
    """A simulated market with the live one's increments and price."""
    base = market_id.split("-", 1)[0]
    price = max((price / tick).to_integral_value() * tick, tick)
    return MarketConfig(market_id=market_id, base=base, tick_size=tick, step_size=step,
                        min_quantity=min_quantity, initial_price=price,
                        sim=MarketSim(taker_size_median=min_quantity * 20,
                                      maker_size=min_quantity * 200))


def build(params: dict[str, Any], venue: VenueConfig, engine: EngineConfig,
          fallback: MarketConfig | None = None, runs: int = RUNS,
          duration_s: float = DURATION_S) -> BacktestConfig:
    market_id = str(params.get("market_id", ""))
    markets = [m for m in venue.markets if m.market_id == market_id]
    if not markets and fallback is not None:
        markets = [fallback]
    if not markets:
        raise ControlError(f"market_id: no simulation settings for {market_id!r}")
    data = {
        "backtest": {"mode": "continuous", "duration_s": duration_s, "seed": SEED,
                     "runs": runs},
        "venue": {**venue.model_dump(), "markets": [m.model_dump() for m in markets]},
        "engine": engine.model_dump(),
        "strategies": [{**params, "enabled": True}],
    }
    try:
        return validate(data)
    except ConfigError as err:
        raise ControlError(str(err).replace("strategies.0.", "")) from None


def job(config: BacktestConfig) -> QuickBacktest:
    """Runs in the worker process."""
    result = batch.run_many(config, workers=1)
    rows = tuple((heading, mean, std) for _, heading, mean, std in report.table_rows(result))
    run = next(r for r in result.runs if r.series is not None)
    series = run.series
    assert series is not None
    (name,) = series.pnl
    minutes = config.backtest.duration_s / 60
    return QuickBacktest(
        title=f"{name} on {config.strategies[0].market_id}: {len(result.runs)} runs of "
              f"{minutes:g} simulated minutes (seeds {SEED}..{SEED + len(result.runs) - 1})",
        rows=rows,
        footer=f"chart: run seed {run.seed} · {result.events():,} simulated events in "
               f"{result.wall_s:.1f} s · the live desk is untouched",
        t=tuple(series.t), pnl=tuple(series.pnl[name]), inventory=tuple(series.inventory[name]))


async def run(config: BacktestConfig) -> QuickBacktest:
    """`job` in a fresh process (spawned: this process runs threads)."""
    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    try:
        return await asyncio.get_running_loop().run_in_executor(pool, job, config)
    finally:  # never block the caller's loop on the worker's exit
        pool.shutdown(wait=False, cancel_futures=True)
