"""The report's statistics, checked by hand: a tiny market whose every fill is known in
advance, then means, sample standard deviations and drawdowns on made-up runs."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from desk.backtest import config as bt_config
from desk.backtest.report import Report, render_chart, render_text, summarise, table_rows
from desk.backtest.run import RunResult, Series, StrategyResult, _Tracker, run_one


def tiny(steps: int = 10, maker_fee_bps: str = "0.5", **strategy: Any) -> dict[str, Any]:
    """Price pinned at 100 (sigma 0); each side hit on every step (A·dt ≥ 1, k = 0); a
    fixed 20 bps spread, one unit a side."""
    return {
        "backtest": {"mode": "steps", "seed": 3, "runs": 1,
                     "steps": {"count": steps, "dt_s": 0.01, "sigma": 0.0,
                               "intensity_a": 1000.0, "intensity_k": 0.0, "taker_size": "1"}},
        "venue": {"starting_balance": "1000000", "rate_limit_per_minute": 1_000_000,
                  "fee_tiers": [{"tier": 0, "min_volume_30d": "0",
                                 "maker_fee_bps": maker_fee_bps, "taker_fee_bps": "5"}],
                  "markets": [{"market_id": "X-PERP", "base": "X", "tick_size": "0.01",
                               "step_size": "1", "min_quantity": "1", "initial_price": "100",
                               "sim": {"taker_size_median": "1", "maker_size": "1"}}]},
        "engine": {"min_requote_s": 0},
        "strategies": [{"name": "fixed", "market_id": "X-PERP", "spread_model": "fixed",
                        "base_spread_bps": 20, "min_spread_bps": 1, "max_spread_bps": 100,
                        "requote_threshold_bps": 0, "quote_size": "1", "min_quote_size": "1",
                        "max_quote_size": "1", "skew_factor": "0", **strategy}],
    }


def test_a_market_of_known_fills_gives_the_hand_computed_statistics():
    # Every step a buyer lifts our ask at 100.10 and a seller hits our bid at 99.90, in
    # that order, and the strategy re-quotes the same ladder. Per step: 2 fills, 200 of
    # volume, 0.20 of spread less maker fees of 0.5 bps on 200 (0.01): +0.19. Each fill
    # is 10 bps from the fair value 100. PnL only rises, so no drawdown.
    config = bt_config.validate(tiny(steps=10))
    result = run_one(config, 3, keep_series=True)
    (s,) = result.strategies
    assert s.fills == 20
    assert s.volume == pytest.approx(2000.0)
    assert s.fees == pytest.approx(0.10)
    assert s.final_pnl == pytest.approx(1.90)
    assert s.final_inventory == 0.0
    assert s.spread_captured_bps == pytest.approx(10.0)
    assert s.max_drawdown == 0.0
    assert s.breaker_trips == 0
    assert result.series is not None
    assert result.series.pnl["fixed"] == pytest.approx([0.19 * k for k in range(11)])
    assert result.series.t == pytest.approx([0.01 * k for k in range(11)])


def test_fills_through_a_losing_fee_show_as_a_drawdown_and_a_breaker_trip():
    # A maker fee of 30 bps costs 0.60 a step against 0.20 of spread: -0.40 a step. With
    # max_hourly_loss 1, the breaker halts the strategy once the loss passes 1 (checked
    # every housekeeping pass) and its quotes are pulled: no more fills after that.
    data = tiny(steps=40, maker_fee_bps="30", max_hourly_loss="1", max_daily_loss="5")
    data["engine"]["housekeeping_s"] = 0.01
    config = bt_config.validate(data)
    (s,) = run_one(config, 3).strategies
    assert s.breaker_trips == 1
    assert s.fills < 80
    steps_traded = s.fills // 2
    assert s.final_pnl == pytest.approx(-0.40 * steps_traded)
    assert s.max_drawdown == pytest.approx(0.40 * steps_traded)
    assert s.final_pnl < -1.0


def _result(seed: int, pnl: float, inventory: float, fills: int, trips: int = 0) -> RunResult:
    s = StrategyResult("mm", "X-PERP", pnl, inventory, fills, fills * 100.0, 5.0, 1.0, 0.1,
                       trips, fills * 2, 0.0)
    return RunResult(seed, [s], 0, 10, 5, 100, 0.01,
                     Series([0.0, 1.0], {"mm": [0.0, pnl]}, {"mm": [0.0, inventory]})
                     if seed == 1 else None)


def test_mean_and_sample_standard_deviation_across_runs():
    runs = [_result(1, 1.0, -2.0, 10), _result(2, 2.0, 0.0, 20), _result(3, 4.0, 2.0, 30, 1)]
    stats = Report(runs, {}, 1.0, 1).stats()["mm"]
    assert stats["final_pnl"].mean == pytest.approx(7 / 3)
    # sample std: sqrt(((1 - 7/3)² + (2 - 7/3)² + (4 - 7/3)²) / 2) = sqrt(7/3)
    assert stats["final_pnl"].std == pytest.approx(math.sqrt(7 / 3))
    assert stats["final_inventory"].mean == 0.0
    assert stats["final_inventory"].std == pytest.approx(2.0)
    assert stats["fills"].mean == 20.0 and stats["fills"].std == pytest.approx(10.0)
    assert stats["breaker_trips"].mean == pytest.approx(1 / 3)
    assert (stats["final_pnl"].min, stats["final_pnl"].max) == (1.0, 4.0)


def test_one_run_has_no_standard_deviation():
    st = summarise([5.0])
    assert st.mean == 5.0 and st.std is None
    report = Report([_result(1, 5.0, 1.0, 4)], {}, 0.5, 1)
    assert all(row[3] == "–" for row in table_rows(report))
    assert json.loads(json.dumps(report.to_json()))["summary"]["mm"]["final_pnl"]["std"] is None


def test_text_json_and_chart_show_the_same_figures():
    runs = [_result(1, 1.0, -2.0, 10), _result(2, 2.0, 0.0, 20), _result(3, 4.0, 2.0, 30)]
    report = Report(runs, {"backtest": {"seed": 1}}, 1.5, 2)
    text = render_text(report)
    assert "final PnL" in text and "2.33" in text and "1.53" in text
    assert "3 runs (seed 1..3)" in text and "2 workers" in text
    data = json.loads(json.dumps(report.to_json()))
    assert data["seeds"] == [1, 2, 3]
    assert data["summary"]["mm"]["final_pnl"]["mean"] == pytest.approx(7 / 3)
    assert [r["strategies"][0]["final_pnl"] for r in data["per_run"]] == [1.0, 2.0, 4.0]
    assert data["chart_run"]["seed"] == 1 and data["chart_run"]["pnl"]["mm"] == [0.0, 1.0]
    chart = render_chart(report, width=80, height=20)
    assert chart is not None and "PnL" in chart and "inventory" in chart


def test_the_tracker_measures_the_largest_fall_from_the_running_peak():
    path = iter([Decimal(v) for v in (0, 5, 2, 7, 1, 3)])
    current = {"pnl": Decimal(0)}
    strategy = SimpleNamespace(id="s1", config=SimpleNamespace(name="mm"),
                               position=Decimal(0), total_pnl=lambda: current["pnl"])
    tracker = _Tracker([strategy], keep_series=True)  # type: ignore[list-item]
    for t, value in enumerate(path):
        current["pnl"] = value
        tracker.sample(float(t))
    assert tracker.fall["s1"] == 6.0  # from 7 down to 1
    assert tracker.series is not None and tracker.series.pnl["mm"] == [0, 5, 2, 7, 1, 3]
