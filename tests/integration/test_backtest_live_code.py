"""A backtest runs the live engine's own code: the same module objects, called.

Every piece a live desk relies on is wrapped with a counter on the module object
itself (the class or the name the engine calls it by) and a short backtest must go
through each: the manager, the strategy's cycle, pricing, volatility, PnL, quote
stats, the breakers, the dead-man switch and the hedger.
"""

from __future__ import annotations

import inspect
from collections import Counter
from typing import Any

import pytest

import desk.backtest.run as bt_run
import desk.engine.guard as guard_mod
import desk.engine.hedging as hedging_mod
import desk.engine.manager as manager_mod
import desk.engine.metrics as metrics_mod
import desk.engine.strategy as strategy_mod
import desk.engine.volatility as volatility_mod
from desk.backtest import config as bt_config


def _spy(monkeypatch: pytest.MonkeyPatch, calls: Counter, owner: Any, name: str,
         label: str) -> None:
    original = getattr(owner, name)
    if isinstance(original, staticmethod):
        original = original.__func__

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[label] += 1
        return original(*args, **kwargs)

    async def counted_async(*args: Any, **kwargs: Any) -> Any:
        calls[label] += 1
        return await original(*args, **kwargs)

    monkeypatch.setattr(owner, name,
                        counted_async if inspect.iscoroutinefunction(original) else counted)


def continuous(**strategy: Any) -> bt_config.BacktestConfig:
    return bt_config.validate({
        "backtest": {"mode": "continuous", "duration": "120s", "seed": 11},
        "strategies": [{"name": "btc", "market_id": "BTC-PERP", "quote_size": "0.05",
                        "min_quote_size": "0.01", "max_quote_size": "0.5",
                        "max_position": "1", "soft_position_limit": "0.7",
                        "base_spread_bps": 6, "min_spread_bps": 2, "hedge_threshold": "0.8",
                        "hedge_target": "0.3", **strategy}],
    })


def test_the_backtest_drives_the_live_engine_objects(monkeypatch):
    assert bt_run.StrategyManager is manager_mod.StrategyManager
    calls: Counter = Counter()
    _spy(monkeypatch, calls, manager_mod.StrategyManager, "open", "manager.open")
    _spy(monkeypatch, calls, manager_mod.StrategyManager, "shutdown", "manager.shutdown")
    _spy(monkeypatch, calls, strategy_mod.Strategy, "cycle", "strategy.cycle")
    _spy(monkeypatch, calls, strategy_mod.Strategy, "on_fill", "strategy.on_fill")
    _spy(monkeypatch, calls, strategy_mod, "build_ladder", "pricing.build_ladder")
    _spy(monkeypatch, calls, strategy_mod, "breaker", "risk.breaker")
    _spy(monkeypatch, calls, strategy_mod, "hedge_plan", "hedging.hedge_plan")
    _spy(monkeypatch, calls, hedging_mod.Hedge, "start", "hedging.Hedge.start")
    _spy(monkeypatch, calls, volatility_mod.RealisedVol, "add", "volatility.add")
    _spy(monkeypatch, calls, metrics_mod.PnlBook, "on_fill", "metrics.PnlBook.on_fill")
    _spy(monkeypatch, calls, metrics_mod.QuoteBook, "on_sent", "metrics.QuoteBook.on_sent")
    _spy(monkeypatch, calls, metrics_mod.PnlSeries, "sample", "metrics.PnlSeries.sample")
    _spy(monkeypatch, calls, guard_mod.Guard, "check", "guard.check")
    _spy(monkeypatch, calls, guard_mod.Guard, "trip", "guard.trip")

    config = continuous(auto_hedge_enabled=True, hedge_threshold="0.06", hedge_target="0")
    result = bt_run.run_one(config, 11)

    (s,) = result.strategies
    assert s.fills > 0 and s.quotes_sent > 0
    for label in ("manager.open", "manager.shutdown", "strategy.cycle", "strategy.on_fill",
                  "pricing.build_ladder", "risk.breaker", "hedging.hedge_plan",
                  "hedging.Hedge.start", "volatility.add", "metrics.PnlBook.on_fill",
                  "metrics.QuoteBook.on_sent", "metrics.PnlSeries.sample", "guard.check",
                  "guard.trip"):
        assert calls[label] > 0, f"{label} never ran"
    assert calls["strategy.cycle"] >= result.cycles  # every ladder sent came from a cycle
    # housekeeping ran on virtual time: 120 s at the default 0.25 s is about 480 passes;
    # each fill takes a sample of its own too (today's PnL and the breakers see it at once)
    assert 400 <= calls["metrics.PnlSeries.sample"] - calls["strategy.on_fill"] <= 520


def test_the_dead_man_switch_works_on_virtual_time():
    # The index moves every 100 ms; a strategy that calls a 50 ms old price stale trips
    # the switch between steps, exactly as it would live.
    tight = bt_run.run_one(continuous(stale_feed_ms=50), 11)
    relaxed = bt_run.run_one(continuous(stale_feed_ms=2000), 11)
    assert tight.deadman_trips > 0
    assert relaxed.deadman_trips == 0
    # each trip pulls the ladder until the switch re-arms: the quotes hardly rest
    assert tight.strategies[0].fills < relaxed.strategies[0].fills / 4
