"""Circuit breakers (daily/hourly loss, drawdown, volatility) and the margin de-risk guard."""

from __future__ import annotations

from decimal import Decimal

import pytest

from desk.engine.config import StrategyConfig
from desk.engine.metrics import PnlSeries
from desk.engine.risk import MarginGuard, breaker

D = Decimal
T0 = 19_000 * 86_400 + 3_600  # 01:00 UTC, well inside one day


def cfg(**kw) -> StrategyConfig:
    return StrategyConfig(name="x", market_id="BTC-PERP", **kw)


def series(*points: tuple[float, str | int], base: str | int = 1_000_000) -> PnlSeries:
    s = PnlSeries(D(base))
    for dt, total in points:
        s.sample(T0 + dt, D(total))
    return s


# --- breaker ---------------------------------------------------------------------------------


def test_nothing_trips_on_a_quiet_series():
    assert breaker(cfg(), series((0, 0), (60, -10), (120, 25)), None) is None
    assert breaker(cfg(), PnlSeries(D(10_000)), None) is None


def test_daily_loss_trips_and_names_max_daily_loss():
    # losses spread over hours, so the hourly breaker stays quiet
    s = series((0, 0), (3_000, -900), (6_000, -1_800), (9_000, -2_700), (12_000, -3_600),
               (15_000, -4_500), (18_000, -5_000))
    assert s.hourly() > -1_000
    reason = breaker(cfg(), s, None)
    assert reason is not None and "max_daily_loss" in reason
    assert "5000" in reason


def test_daily_loss_just_under_the_limit_does_not_trip():
    s = series((0, 0), (3_000, -900), (6_000, -1_800), (9_000, -2_700), (12_000, -3_600),
               (15_000, -4_500), (18_000, "-4999.99"))
    assert breaker(cfg(), s, None) is None


def test_daily_loss_limit_is_the_configured_one():
    s = series((0, 0), (60, -300))
    assert breaker(cfg(), s, None) is None
    reason = breaker(cfg(max_daily_loss=D(300)), s, None)
    assert reason is not None and "max_daily_loss" in reason


def test_the_daily_loss_restarts_at_midnight():
    day = 19_001 * 86_400
    s = PnlSeries(D(1_000_000))
    s.sample(day - 40_000, D(0))
    s.sample(day - 1, D(-290))
    cf = cfg(max_daily_loss=D(300), max_hourly_loss=D(10_000))
    assert breaker(cf, s, None) is None
    s.sample(day + 1, D(-295))       # a new day: the loss so far is yesterday's
    s.sample(day + 60, D(-400))
    assert breaker(cf, s, None) is None
    s.sample(day + 120, D(-595))
    reason = breaker(cf, s, None)
    assert reason is not None and "max_daily_loss" in reason


def test_hourly_loss_trips_and_names_max_hourly_loss():
    s = series((0, 0), (600, -400), (1_200, -1_000))
    reason = breaker(cfg(), s, None)
    assert reason is not None and "max_hourly_loss" in reason
    assert "1000" in reason


def test_hourly_loss_spread_over_more_than_an_hour_does_not_trip():
    s = series((0, 0), (1_800, -600), (3_700, -1_200))
    assert s.hourly() == D(-600)
    assert breaker(cfg(), s, None) is None


def test_drawdown_trips_and_names_max_drawdown_percent():
    # base 10000, peak 10500, equity 9900: 5.71 % down, hourly/daily losses small
    s = series((0, 0), (10, 500), (20, -100), base=10_000)
    reason = breaker(cfg(), s, None)
    assert reason is not None and "max_drawdown_percent" in reason
    assert "5.0" in reason


def test_drawdown_under_the_limit_does_not_trip():
    s = series((0, 0), (10, 500), (20, 0), base=10_000)  # 4.76 %
    assert breaker(cfg(), s, None) is None
    reason = breaker(cfg(max_drawdown_percent=4.5), s, None)
    assert reason is not None and "max_drawdown_percent" in reason


def test_drawdown_at_exactly_the_limit_trips():
    s = series((0, 0), (10, -500), base=10_000)  # exactly 5 %
    reason = breaker(cfg(max_hourly_loss=D(10_000)), s, None)
    assert reason is not None and "max_drawdown_percent" in reason


def test_volatility_trips_only_with_max_volatility_pause():
    s = series((0, 0))
    assert breaker(cfg(), s, 50.0) is None                     # pause off: ignored
    on = cfg(max_volatility_pause=True, volatility_threshold=5.0)
    reason = breaker(on, s, 5.0)
    assert reason is not None and "volatility_threshold" in reason
    assert breaker(on, s, 4.99) is None


def test_volatility_is_ignored_when_unknown():
    on = cfg(max_volatility_pause=True, volatility_threshold=0.001)
    assert breaker(on, series((0, 0)), None) is None


@pytest.mark.parametrize(("s", "vol"), [
    (series((0, 0), (60, -6_000)), None),                       # daily (and hourly)
    (series((0, 0), (60, -1_500)), None),                       # hourly
    (series((0, 0), (10, 500), (20, -100), base=10_000), None),  # drawdown
    (series((0, 0)), 99.0),                                     # volatility
])
def test_nothing_trips_with_the_circuit_breaker_disabled(s, vol):
    on = cfg(max_volatility_pause=True)
    assert breaker(on, s, vol) is not None
    assert breaker(on.changed(circuit_breaker_enabled=False), s, vol) is None


def test_the_first_breaker_in_order_is_named():
    s = series((0, 0), (60, -6_000), base=10_000)  # daily, hourly and drawdown all hit
    on = cfg(max_volatility_pause=True)
    assert "max_daily_loss" in breaker(on, s, 99.0)
    assert "max_hourly_loss" in breaker(on.changed(max_daily_loss=D(100_000)), s, 99.0)
    assert "max_drawdown_percent" in breaker(
        on.changed(max_daily_loss=D(100_000), max_hourly_loss=D(100_000)), s, 99.0)
    assert "volatility_threshold" in breaker(
        on.changed(max_daily_loss=D(100_000), max_hourly_loss=D(100_000),
                   max_drawdown_percent=100.0), s, 99.0)


# --- MarginGuard -----------------------------------------------------------------------------


def test_a_fresh_guard_is_not_shrunk():
    g = MarginGuard()
    assert g.scale == 1 and g.max_layers == 5 and not g.shrunk
    assert g.recover_after == 20 and g.rejects == 0


def test_rejects_halve_the_scale_down_to_min_quote_size_then_cut_layers():
    cf = cfg(quote_size=D(1), min_quote_size=D("0.1"), quote_layers=3)
    g = MarginGuard()
    assert g.on_reject(cf) == "sizes scaled to 0.5"
    assert g.shrunk
    assert g.on_reject(cf) == "sizes scaled to 0.25"
    assert g.on_reject(cf) == "sizes scaled to 0.125"
    assert g.on_reject(cf) == "sizes scaled to 0.0625"   # 0.125 > 0.1 before halving
    assert g.scale == D("0.0625") and g.max_layers == 5
    assert g.on_reject(cf) == "layers cut to 2"          # from the configured 3
    assert g.on_reject(cf) == "layers cut to 1"
    assert g.on_reject(cf) == "layers cut to 1"          # never below one
    assert g.scale == D("0.0625") and g.max_layers == 1 and g.rejects == 7


def test_scaling_stops_once_the_size_is_at_the_floor():
    cf = cfg(quote_size=D(1), min_quote_size=D("0.25"), quote_layers=2)
    g = MarginGuard()
    g.on_reject(cf)
    g.on_reject(cf)
    assert g.scale == D("0.25")                          # 1 * 0.25 == min_quote_size
    assert g.on_reject(cf) == "layers cut to 1"
    assert g.scale == D("0.25")


def test_at_the_floor_already_the_first_reject_cuts_layers():
    cf = cfg(quote_size=D("0.1"), min_quote_size=D("0.1"), quote_layers=5)
    g = MarginGuard()
    assert g.on_reject(cf) == "layers cut to 4"
    assert g.scale == 1 and g.shrunk


def test_large_sizes_keep_halving_down_to_min_quote_size():
    cf = cfg(quote_size=D(5), min_quote_size=D("0.1"), quote_layers=3)
    g = MarginGuard()
    msgs = [g.on_reject(cf) for _ in range(6)]
    # 5 -> 2.5 -> 1.25 -> 0.625 -> 0.3125 -> 0.15625 -> 0.078125 (<= 0.1)
    assert all(m.startswith("sizes scaled") for m in msgs), msgs
    assert cf.quote_size * g.scale <= cf.min_quote_size
    assert g.on_reject(cf) == "layers cut to 2"


def test_clean_cycles_step_back_layers_first_then_scale():
    cf = cfg(quote_size=D(1), min_quote_size=D("0.25"), quote_layers=3)
    g = MarginGuard(recover_after=3)
    for _ in range(4):
        g.on_reject(cf)
    assert (g.scale, g.max_layers) == (D("0.25"), 1)

    def cycles(n: int) -> tuple[Decimal, int]:
        for _ in range(n):
            g.on_clean(cf)
        return g.scale, g.max_layers

    assert cycles(2) == (D("0.25"), 1)         # not yet
    assert cycles(1) == (D("0.25"), 2)
    assert cycles(3) == (D("0.25"), 5)         # the configured 3 layers: no cap left
    assert g.shrunk
    assert cycles(3) == (D("0.5"), 5)
    assert cycles(2) == (D("0.5"), 5)
    assert cycles(1) == (D(1), 5)
    assert not g.shrunk
    assert cycles(50) == (D(1), 5)             # never above full size
    assert g.clean == 0


def test_a_reject_restarts_the_clean_count():
    cf = cfg(quote_size=D(1), min_quote_size=D("0.1"))
    g = MarginGuard(recover_after=3)
    g.on_reject(cf)
    g.on_clean(cf)
    g.on_clean(cf)
    g.on_reject(cf)
    assert g.scale == D("0.25") and g.clean == 0
    g.on_clean(cf)
    g.on_clean(cf)
    assert g.scale == D("0.25")
    g.on_clean(cf)
    assert g.scale == D("0.5")


def test_clean_cycles_do_nothing_when_not_shrunk():
    cf = cfg()
    g = MarginGuard(recover_after=1)
    for _ in range(5):
        g.on_clean(cf)
    assert g.scale == 1 and g.max_layers == 5 and g.clean == 0 and not g.shrunk


def test_shrunk_by_layers_alone():
    cf = cfg(quote_size=D("0.1"), min_quote_size=D("0.1"), quote_layers=2)
    g = MarginGuard(recover_after=2)
    assert g.on_reject(cf) == "layers cut to 1"
    assert g.shrunk
    for _ in range(2 * 4):
        g.on_clean(cf)
    assert g.max_layers == 5 and not g.shrunk
