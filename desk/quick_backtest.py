"""The editor's Backtest button: a few short runs of one strategy's edited parameters on
the simulated market, in a process of their own, so the live desk's engine neither
shares its state nor waits for the CPU behind it.

On the embedded venue the market is simulated from the venue's own settings for it.
On a remote venue (or for a market the settings do not describe) it is the venue's
default simulation scaled to the live market's tick, step, minimum size and price.
The fair value is always the simulated index.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import sys
import threading
from collections.abc import Iterator
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
          market: MarketConfig | None = None, runs: int = RUNS,
          duration_s: float = DURATION_S) -> BacktestConfig:
    """`market`: simulate this one (a live market's shape) instead of the settings'."""
    market_id = str(params.get("market_id", ""))
    markets = [market] if market is not None else \
        [m for m in venue.markets if m.market_id == market_id]
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
        footer=f"chart: run seed {run.seed} · fair value: the simulated index · "
               f"{result.events():,} simulated events in {result.wall_s:.1f} s · the live "
               "desk is untouched",
        t=tuple(series.t), pnl=tuple(series.pnl[name]), inventory=tuple(series.inventory[name]))


def _quiet() -> None:
    """In the worker, first: its stderr (the desk's terminal, inherited) goes to the null
    device, so nothing it might print lands on the screen. A failure reaches the desk as
    the job's exception."""
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    os.close(null)


def _fileno(stream: object) -> int:
    try:
        return int(stream.fileno())  # type: ignore[attr-defined]
    except Exception:
        return -1


@contextlib.contextmanager
def spawnable_stderr() -> Iterator[None]:
    """While processes are spawned: a `sys.stderr` with a real file descriptor.

    Inside the running app `sys.stderr` is Textual's capture, whose `fileno()` is -1; the
    spawn context's resource tracker hands that number to `spawnv_passfds`, which refuses
    it (`ValueError: bad value(s) in fds_to_keep`). For the moment of the spawn it is the
    null device instead (not the terminal: the screen is drawn there)."""
    if _fileno(sys.stderr) >= 0:
        yield
        return
    saved = sys.stderr
    with open(os.devnull, "w") as null:
        sys.stderr = null
        try:
            yield
        finally:
            sys.stderr = saved


async def run(config: BacktestConfig) -> QuickBacktest:
    """`job` in a fresh process (spawned: this process runs threads). The process is
    terminated when the result is in, or at once if the caller gives up (the screen
    closed), so repeated presses never pile up workers."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[QuickBacktest] = loop.create_future()

    def settle(setter: str, value: object) -> None:
        loop.call_soon_threadsafe(lambda: done.done() or getattr(done, setter)(value))

    with spawnable_stderr():  # starts the resource tracker (once) and the worker
        pool = multiprocessing.get_context("spawn").Pool(1, initializer=_quiet)
    try:
        pool.apply_async(job, (config,), callback=lambda r: settle("set_result", r),
                         error_callback=lambda e: settle("set_exception", e))
        return await done
    except ConfigError as err:  # the engine refused the strategy (e.g. a margin preview)
        raise ControlError(str(err)) from None
    finally:  # terminating joins the pool's threads: not on the caller's loop
        threading.Thread(target=pool.terminate, name="quick-backtest-end",
                         daemon=True).start()
