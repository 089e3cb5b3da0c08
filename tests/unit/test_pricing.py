"""Pricing: spread models, skew, layers, inventory limits, rounding, post-only.

Worked examples come from strategy-params.md and the module docstring; the
property tests check the ladder invariants over random valid configurations.
"""

from __future__ import annotations

import math
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from desk.domain import Side, floor_to
from desk.engine.config import StrategyConfig
from desk.engine.pricing import (
    Ladder,
    Rules,
    Situation,
    build_ladder,
    horizon_left_s,
    skew_bps,
    spread_and_skew,
)

D = Decimal
BPS = D(10_000)
FINE = Rules(tick=D("0.001"), step=D("0.001"), min_quantity=D("0.001"))
BTC = Rules(tick=D("0.1"), step=D("0.001"), min_quantity=D("0.001"))


def cfg(**changes: Any) -> StrategyConfig:
    return StrategyConfig.model_validate({"name": "t", "market_id": "BTC-PERP", **changes})


def prices(levels) -> list[Decimal]:
    return [lv.price for lv in levels]


def sizes(levels) -> list[Decimal]:
    return [lv.quantity for lv in levels]


def is_multiple(x: Decimal, inc: Decimal) -> bool:
    return (x / inc) == (x / inc).to_integral_value()


# --- spec worked examples ------------------------------------------------------------------


def test_fixed_spread_10bps_at_64000():
    ladder = build_ladder(cfg(), BTC, Situation(fair=D(64000)))
    assert ladder.spread_bps == D(10)
    assert ladder.skew_bps == 0
    assert prices(ladder.bids) == [D("63968.0")]
    assert prices(ladder.asks) == [D("64032.0")]
    assert sizes(ladder.bids) == sizes(ladder.asks) == [D("1.0")]
    assert all(lv.side is Side.BUY for lv in ladder.bids)
    assert all(lv.side is Side.SELL for lv in ladder.asks)
    assert ladder.levels == ladder.bids + ladder.asks
    assert ladder.center == D(64000)


def test_linear_skew_spec_example_position_plus_5():
    c = cfg()  # linear, skew_factor 0.5
    assert skew_bps(c, D(5)) == D("2.5")
    assert spread_and_skew(c, Situation(fair=D(64000), position=D(5))) == (D(10), D("2.5"))

    flat = build_ladder(c, FINE, Situation(fair=D(64000)))
    long = build_ladder(c, FINE, Situation(fair=D(64000), position=D(5)))
    assert long.skew_bps == D("2.5")
    assert (flat.center - long.center) / D(64000) * BPS == D("2.5")
    assert long.center == D(63984)
    # both sides move down by 2.5 bps
    assert flat.bids[0].price == D(63968) and flat.asks[0].price == D(64032)
    assert long.bids[0].price == flat.bids[0].price * (1 - D("2.5") / BPS) == D("63952.008")
    assert long.asks[0].price == flat.asks[0].price * (1 - D("2.5") / BPS) == D("64015.992")


def test_linear_skew_short_moves_quotes_up_and_target_is_the_origin():
    c = cfg()
    assert skew_bps(c, D(-5)) == D("-2.5")
    short = build_ladder(c, FINE, Situation(fair=D(64000), position=D(-5)))
    assert short.center == D(64016)
    assert short.bids[0].price > D(63968) and short.asks[0].price > D(64032)

    c = cfg(target_position="3")
    _, skew = spread_and_skew(c, Situation(fair=D(64000), position=D(5)))
    assert skew == D("1.0")  # 0.5 * (5 - 3)
    _, skew = spread_and_skew(c, Situation(fair=D(64000), position=D(3)))
    assert skew == 0


def test_skew_is_zero_when_flat_or_factor_zero():
    assert skew_bps(cfg(), D(0)) == 0
    assert skew_bps(cfg(skew_factor="0"), D(7)) == 0
    assert skew_bps(cfg(skew_model="exponential", skew_factor="0"), D(7)) == 0


@pytest.mark.parametrize(
    ("q", "exponent", "factor", "expected"),
    [("4", 1.5, "0.5", "4"),       # 0.5 * 4^1.5 = 0.5 * 8
     ("-4", 1.5, "0.5", "-4"),
     ("3", 2.0, "0.5", "4.5"),     # 0.5 * 9
     ("-3", 2.0, "1", "-9"),
     ("0.25", 0.5, "2", "1"),      # 2 * 0.5
     ("9", 1.0, "0.5", "4.5")],    # exponent 1 == linear
)
def test_exponential_skew(q, exponent, factor, expected):
    c = cfg(skew_model="exponential", skew_exponent=exponent, skew_factor=factor)
    assert skew_bps(c, D(q)) == D(expected)


@pytest.mark.parametrize(
    ("q", "step", "expected"),
    [("2.7", "1", "1.0"),     # 0.5 * floor(2.7) * 1
     ("-2.7", "1", "-1.0"),
     ("2.7", "0.5", "1.25"),  # 0.5 * floor(5.4) * 0.5
     ("0.9", "1", "0"),       # below the first step: no skew
     ("-0.9", "1", "0"),
     ("3", "1", "1.5"),       # exactly on a step
     ("6.1", "2", "3")],      # 0.5 * 3 * 2
)
def test_step_skew(q, step, expected):
    c = cfg(skew_model="step", skew_step_size=step)
    assert skew_bps(c, D(q)) == D(expected)


@pytest.mark.parametrize("position", ["9", "-9"])
def test_skew_is_clamped_to_max_spread(position):
    c = cfg(skew_factor="100")
    _, skew = spread_and_skew(c, Situation(fair=D(64000), position=D(position)))
    assert skew == (D(50) if position == "9" else D(-50))


@pytest.mark.parametrize(
    ("mult", "vol", "expected"),
    [(1.0, 2.0, "30"),      # 10 * (1 + 1 * 2)
     (2.5, 1.2, "40"),      # 10 * (1 + 3)
     (1.0, None, "10"),     # no volatility yet: base
     (0.0, 4.0, "10"),
     (1.0, 10.0, "50"),     # 110 clamped to max_spread_bps
     (0.5, 0.5, "12.5")],
)
def test_volatility_spread_model(mult, vol, expected):
    c = cfg(spread_model="volatility", volatility_multiplier=mult)
    spread, skew = spread_and_skew(c, Situation(fair=D(64000), window_vol_pct=vol,
                                                 position=D(2)))
    assert spread == D(expected)
    assert skew == D(1)  # skew still from skew_model (linear 0.5 * 2)


@pytest.mark.parametrize(
    ("position", "target", "expected"),
    [("0", "0", "10"), ("5", "0", "15"), ("-5", "0", "15"), ("-3", "2", "15"),
     ("9.99", "0", "19.99"), ("2", "2", "10")],
)
def test_inventory_spread_model(position, target, expected):
    c = cfg(spread_model="inventory", target_position=target)
    spread, _ = spread_and_skew(c, Situation(fair=D(100), position=D(position)))
    assert spread == D(expected)


def test_inventory_spread_is_clamped_to_max():
    c = cfg(spread_model="inventory", max_spread_bps="12")
    spread, _ = spread_and_skew(c, Situation(fair=D(100), position=D(8)))
    assert spread == D(12)


def test_spread_is_clamped_to_min():
    # A-S with σ = 0 and a huge k: (2/γ)ln(1+γ/k) ≈ 2/k price units, far below 5 bps
    c = cfg(spread_model="avellaneda_stoikov", order_arrival_k=1e6)
    spread, skew = spread_and_skew(c, Situation(fair=D(100), sigma=0.0))
    assert spread == D(5)
    assert skew == 0


# --- optimal-quoting models ------------------------------------------------------------------

WIDE = {"min_spread_bps": "0.000001", "max_spread_bps": "10000"}
PAPER = {"risk_aversion": 0.1, "order_arrival_k": 1.5, "horizon_seconds": 1.0, **WIDE}


def test_avellaneda_stoikov_paper_numbers():
    # S = 100, σ = 2 (absolute) = 0.02 relative, γ = 0.1, k = 1.5, T - t = 1
    c = cfg(spread_model="avellaneda_stoikov", **PAPER)
    s = Situation(fair=D(100), sigma=0.02, elapsed_s=0.0)
    # γσ²τ + (2/γ)ln(1 + γ/k) = 0.4 + 20·ln(16/15) = 1.690770... price units
    expected_px = 0.1 * 2.0**2 * 1 + (2 / 0.1) * math.log(1 + 0.1 / 1.5)
    assert expected_px == pytest.approx(1.6907704, abs=1e-7)
    spread, skew = spread_and_skew(c, s)
    assert float(spread) == pytest.approx(expected_px / 100 * 1e4, abs=1e-6)  # 169.077042 bps
    assert skew == 0

    ladder = build_ladder(c, Rules(D("0.0001"), D("0.001"), D("0.001")), s)
    assert ladder.bids[0].price == D("99.1546")   # floor(100 - 0.845385)
    assert ladder.asks[0].price == D("100.8454")  # ceil(100 + 0.845385)


@pytest.mark.parametrize("q", [2, -3, 1])
def test_avellaneda_stoikov_reservation_price(q):
    c = cfg(spread_model="avellaneda_stoikov", **PAPER)
    s = Situation(fair=D(100), sigma=0.02, position=D(q))
    spread, skew = spread_and_skew(c, s)
    # r = s - q·γσ²(T-t) = 100 - q·0.4: the skew is the shift in bps of s
    assert float(skew) == pytest.approx(q * 0.4 / 100 * 1e4, abs=1e-6)
    ladder = build_ladder(c, FINE, s)
    assert float(ladder.center) == pytest.approx(100 - q * 0.4, abs=1e-7)
    # spread does not depend on inventory
    assert spread == spread_and_skew(c, Situation(fair=D(100), sigma=0.02))[0]


def test_avellaneda_stoikov_with_target_uses_position_minus_target():
    c = cfg(spread_model="avellaneda_stoikov", target_position="1", **PAPER)
    _, skew = spread_and_skew(c, Situation(fair=D(100), sigma=0.02, position=D(3)))
    assert float(skew) == pytest.approx(2 * 0.4 * 100, abs=1e-6)


def test_avellaneda_stoikov_ignores_skew_model():
    a = cfg(spread_model="avellaneda_stoikov", **PAPER)
    b = a.changed(skew_model="step", skew_factor="100", skew_step_size="5")
    s = Situation(fair=D(100), sigma=0.02, position=D(2))
    assert spread_and_skew(a, s) == spread_and_skew(b, s)


def test_avellaneda_stoikov_time_left_shrinks_the_risk_term():
    c = cfg(spread_model="avellaneda_stoikov", **{**PAPER, "horizon_seconds": 4.0})
    s = Situation(fair=D(100), sigma=0.02, position=D(1), elapsed_s=3.0)  # τ = 1
    spread, skew = spread_and_skew(c, s)
    assert float(spread) == pytest.approx((0.4 + 20 * math.log(16 / 15)) * 100, abs=1e-6)
    assert float(skew) == pytest.approx(40, abs=1e-6)


def test_avellaneda_stoikov_infinite_horizon_uses_refresh_interval():
    c = cfg(spread_model="avellaneda_stoikov", quote_refresh_seconds=5,
            **{**PAPER, "horizon_seconds": 0})
    spread, skew = spread_and_skew(c, Situation(fair=D(100), sigma=0.02, position=D(1),
                                                elapsed_s=12345.0))
    risk = 0.1 * 4 * 5  # γσ²τ with τ = quote_refresh_seconds
    assert float(spread) == pytest.approx((risk + 20 * math.log(16 / 15)) * 100, abs=1e-6)
    assert float(skew) == pytest.approx(risk * 100, abs=1e-6)


def test_avellaneda_stoikov_without_sigma_is_the_pure_arrival_term():
    c = cfg(spread_model="avellaneda_stoikov", **PAPER)
    spread, skew = spread_and_skew(c, Situation(fair=D(100), sigma=None, position=D(4)))
    assert float(spread) == pytest.approx(20 * math.log(16 / 15) * 100, abs=1e-6)
    assert skew == 0


def _glft(sigma_abs: float, g: float, k: float, a: float) -> tuple[float, float]:
    """(half-spread, ω) of the Guéant–Lehalle–Fernandez-Tapia closed form."""
    half = (1 / g) * math.log(1 + g / k)
    omega = math.sqrt(sigma_abs**2 * g / (2 * k * a) * (1 + g / k) ** (1 + k / g))
    return half, omega


@pytest.mark.parametrize("q", [0, 2, -1])
def test_glft_closed_form(q):
    c = cfg(spread_model="glft", arrival_intensity_a=140, **PAPER)
    half, omega = _glft(2.0, 0.1, 1.5, 140)
    assert omega == pytest.approx(0.0517172, abs=1e-7)
    spread, skew = spread_and_skew(c, Situation(fair=D(100), sigma=0.02, position=D(q)))
    # total = 2·((1/γ)ln(1+γ/k) + ω/2); reservation shift q·ω
    assert float(spread) == pytest.approx((2 * half + omega) * 100, abs=1e-6)
    assert float(spread) == pytest.approx(134.248764, abs=1e-5)
    assert float(skew) == pytest.approx(q * omega * 100, abs=1e-6)


def test_glft_does_not_depend_on_horizon():
    s = Situation(fair=D(100), sigma=0.02, position=D(2), elapsed_s=0.3)
    a = cfg(spread_model="glft", **PAPER)
    b = a.changed(horizon_seconds=0, quote_refresh_seconds=60)
    assert spread_and_skew(a, s) == spread_and_skew(b, s)


def test_glft_scales_with_intensity():
    s = Situation(fair=D(2500), sigma=0.001, position=D(1))
    lo = cfg(spread_model="glft", arrival_intensity_a=10, **WIDE)
    hi = lo.changed(arrival_intensity_a=1000)
    _, skew_lo = spread_and_skew(lo, s)
    _, skew_hi = spread_and_skew(hi, s)
    # ω ∝ 1/√A
    assert float(skew_lo) / float(skew_hi) == pytest.approx(10, rel=1e-4)


@pytest.mark.parametrize("model", ["avellaneda_stoikov", "glft"])
def test_optimal_models_are_clamped(model):
    c = cfg(spread_model=model, risk_aversion=1.0, order_arrival_k=0.001,
            horizon_seconds=100)
    spread, skew = spread_and_skew(c, Situation(fair=D(100), sigma=0.05, position=D(9)))
    assert spread == D(50)
    assert skew == D(50)
    _, skew = spread_and_skew(c, Situation(fair=D(100), sigma=0.05, position=D(-9)))
    assert skew == D(-50)


@pytest.mark.parametrize(
    ("horizon", "refresh", "elapsed", "left"),
    [(0, 5, 0, 5), (0, 7.5, 1000, 7.5), (60, 5, 0, 60), (60, 5, 15, 45), (60, 5, 75, 45),
     (60, 5, 60, 60), (1, 5, 0.25, 0.75)],
)
def test_horizon_left(horizon, refresh, elapsed, left):
    c = cfg(horizon_seconds=horizon, quote_refresh_seconds=refresh)
    assert horizon_left_s(c, elapsed) == pytest.approx(left)


# --- inventory limits ------------------------------------------------------------------------


def test_soft_limit_halves_bids_not_asks():
    c = cfg(quote_layers=3)
    flat = build_ladder(c, BTC, Situation(fair=D(64000)))
    long = build_ladder(c, BTC, Situation(fair=D(64000), position=D(8)))
    assert sizes(flat.bids) == sizes(flat.asks) == [D(1)] * 3
    assert sizes(long.bids) == [D("0.5")] * 3
    assert sizes(long.asks) == [D(1)] * 3


def test_soft_limit_short_halves_asks_not_bids():
    short = build_ladder(cfg(), BTC, Situation(fair=D(64000), position=D(-8)))
    assert sizes(short.asks) == [D("0.5")]
    assert sizes(short.bids) == [D(1)]


def test_at_the_soft_limit_nothing_shrinks():
    ladder = build_ladder(cfg(), BTC, Situation(fair=D(64000), position=D(7)))
    assert sizes(ladder.bids) == sizes(ladder.asks) == [D(1)]


def test_reduction_factor_zero_drops_the_adding_side():
    c = cfg(position_reduction_factor="0")
    ladder = build_ladder(c, BTC, Situation(fair=D(64000), position=D("7.5")))
    assert ladder.bids == ()
    assert sizes(ladder.asks) == [D(1)]


@pytest.mark.parametrize("position", ["10", "10.5", "25"])
def test_at_or_beyond_the_hard_limit_no_bids(position):
    ladder = build_ladder(cfg(quote_layers=5, max_quote_size="50"), BTC,
                          Situation(fair=D(64000), position=D(position)))
    assert ladder.bids == ()
    assert ladder.asks
    assert D(position) - sum(sizes(ladder.asks)) >= -D(10)


def test_at_the_short_hard_limit_no_asks():
    ladder = build_ladder(cfg(), BTC, Situation(fair=D(64000), position=D(-10)))
    assert ladder.asks == ()
    assert sizes(ladder.bids) == [D(1)]


@pytest.mark.parametrize(
    ("position", "expected"),
    [("8.6", ["1", "0.4"]), ("9.3", ["0.7"]), ("9.999", ["0.001"]), ("6", ["1", "1", "1"])],
)
def test_bid_sizes_never_exceed_room_to_the_hard_limit(position, expected):
    c = cfg(quote_layers=3, position_reduction_factor="1")
    ladder = build_ladder(c, BTC, Situation(fair=D(64000), position=D(position)))
    assert sizes(ladder.bids) == [D(x) for x in expected]
    assert D(position) + sum(sizes(ladder.bids)) <= c.max_position


def test_cumulative_sizes_respect_max_position_with_large_layers():
    c = cfg(quote_layers=5, layer_size_multiplier="2", max_quote_size="5",
            position_reduction_factor="1")
    for pos in [D(x) / 4 for x in range(-39, 40)]:
        ladder = build_ladder(c, BTC, Situation(fair=D(64000), position=pos))
        assert pos + sum(sizes(ladder.bids)) <= c.max_position
        assert pos - sum(sizes(ladder.asks)) >= -c.max_position


# --- layers and sizes ------------------------------------------------------------------------


def test_layers_are_spaced_from_the_centre():
    c = cfg(quote_layers=3, layer_spacing_bps="5")
    ladder = build_ladder(c, BTC, Situation(fair=D(64000)))
    assert prices(ladder.bids) == [D("63968.0"), D("63936.0"), D("63904.0")]
    assert prices(ladder.asks) == [D("64032.0"), D("64064.0"), D("64096.0")]


def test_layer_sizes_grow_and_are_clamped_to_max_quote_size():
    c = cfg(quote_layers=4, layer_size_multiplier="2", max_quote_size="3",
            position_reduction_factor="1", max_position="100", soft_position_limit="50")
    ladder = build_ladder(c, BTC, Situation(fair=D(64000)))
    assert sizes(ladder.bids) == sizes(ladder.asks) == [D(1), D(2), D(3), D(3)]


def test_layer_sizes_shrink_and_levels_below_min_quantity_are_dropped():
    c = cfg(quote_layers=4, layer_size_multiplier="0.5")
    both = build_ladder(c, Rules(D("0.1"), D("0.01"), D("0.01")), Situation(fair=D(64000)))
    # 1, .5, .25, .125 -> .12 after the step
    assert sizes(both.bids) == [D(1), D("0.5"), D("0.25"), D("0.12")]
    cut = build_ladder(c, Rules(D("0.1"), D("0.01"), D("0.3")), Situation(fair=D(64000)))
    assert sizes(cut.bids) == sizes(cut.asks) == [D(1), D("0.5")]


def test_sizes_are_floored_to_the_step():
    c = cfg(quote_size="1.2345")
    ladder = build_ladder(c, Rules(D("0.1"), D("0.01"), D("0.01")), Situation(fair=D(64000)))
    assert sizes(ladder.bids) == sizes(ladder.asks) == [D("1.23")]
    ladder = build_ladder(c, Rules(D("0.1"), D("0.5"), D("0.5")), Situation(fair=D(64000)))
    assert sizes(ladder.bids) == [D("1.0")]


def test_nothing_quoted_when_size_is_below_market_minimum():
    ladder = build_ladder(cfg(quote_size="0.5"), Rules(D("0.1"), D("0.1"), D(1)),
                          Situation(fair=D(64000)))
    assert ladder.bids == () and ladder.asks == ()


def test_max_layers_from_situation_is_honoured():
    c = cfg(quote_layers=5)
    assert len(build_ladder(c, BTC, Situation(fair=D(64000))).bids) == 5
    ladder = build_ladder(c, BTC, Situation(fair=D(64000), max_layers=2))
    assert len(ladder.bids) == len(ladder.asks) == 2
    one = build_ladder(cfg(quote_layers=1), BTC, Situation(fair=D(64000), max_layers=3))
    assert len(one.bids) == 1


def test_size_scale_from_situation_is_honoured():
    c = cfg(quote_size="2", quote_layers=2)
    ladder = build_ladder(c, BTC, Situation(fair=D(64000), size_scale=D("0.5")))
    assert sizes(ladder.bids) == sizes(ladder.asks) == [D(1), D(1)]
    # never below min_quote_size
    ladder = build_ladder(c, BTC, Situation(fair=D(64000), size_scale=D("0.01")))
    assert sizes(ladder.bids) == [D("0.1"), D("0.1")]


# --- rounding and the touch ------------------------------------------------------------------


def test_bids_round_down_and_asks_up_to_the_tick():
    ladder = build_ladder(cfg(), Rules(D("0.01"), D("0.001"), D("0.001")),
                          Situation(fair=D("100.003")))
    # raw 99.9529985 / 100.0530015
    assert prices(ladder.bids) == [D("99.95")]
    assert prices(ladder.asks) == [D("100.06")]


def test_coarse_tick_keeps_levels_strictly_monotone():
    c = cfg(quote_layers=5, layer_spacing_bps="0")
    ladder = build_ladder(c, Rules(D(10), D("0.001"), D("0.001")), Situation(fair=D(64000)))
    assert prices(ladder.bids) == [D(63960), D(63950), D(63940), D(63930), D(63920)]
    assert prices(ladder.asks) == [D(64040), D(64050), D(64060), D(64070), D(64080)]


def test_bids_at_or_below_zero_are_dropped():
    ladder = build_ladder(cfg(quote_layers=3), Rules(D("0.01"), D("0.1"), D("0.1")),
                          Situation(fair=D("0.012")))
    assert prices(ladder.bids) == [D("0.01")]  # next ones would be 0 and -0.01
    assert prices(ladder.asks) == [D("0.02"), D("0.03"), D("0.04")]


@pytest.mark.parametrize("best_ask", ["63968.0", "63960.0", "63900.5"])
def test_post_only_bid_below_crossing_best_ask(best_ask):
    c = cfg(quote_layers=3)
    ladder = build_ladder(c, BTC, Situation(fair=D(64000), best_ask=D(best_ask)))
    top = D(best_ask) - D("0.1")
    assert ladder.bids[0].price == top
    assert all(p < D(best_ask) for p in prices(ladder.bids))
    assert prices(ladder.bids) == sorted(prices(ladder.bids), reverse=True)
    assert len(set(prices(ladder.bids))) == 3
    assert prices(ladder.asks) == [D("64032.0"), D("64064.0"), D("64096.0")]


def test_post_only_ask_above_crossing_best_bid():
    ladder = build_ladder(cfg(quote_layers=2), BTC,
                          Situation(fair=D(64000), best_bid=D("64040.0")))
    assert prices(ladder.asks)[0] == D("64040.1")
    assert prices(ladder.asks)[1] == D("64064.0")
    assert prices(ladder.bids) == [D("63968.0"), D("63936.0")]


def test_post_only_touch_away_from_our_prices_changes_nothing():
    plain = build_ladder(cfg(), BTC, Situation(fair=D(64000)))
    touch = build_ladder(cfg(), BTC, Situation(fair=D(64000), best_bid=D(63990),
                                               best_ask=D(64010)))
    assert touch == plain


def test_without_post_only_the_touch_is_ignored():
    c = cfg(post_only=False)
    plain = build_ladder(c, BTC, Situation(fair=D(64000)))
    crossed = build_ladder(c, BTC, Situation(fair=D(64000), best_bid=D(64100),
                                             best_ask=D(63900)))
    assert crossed == plain
    assert crossed.bids[0].price > D(63900)


def test_post_only_with_a_crossed_touch_keeps_sides_apart():
    ladder = build_ladder(cfg(quote_layers=2), BTC,
                          Situation(fair=D(64000), best_bid=D(64100), best_ask=D(63900)))
    assert all(p < D(63900) for p in prices(ladder.bids))
    assert all(p > D(64100) for p in prices(ladder.asks))
    assert max(prices(ladder.bids)) < min(prices(ladder.asks))


# --- extremes ------------------------------------------------------------------------------


def test_full_skew_never_quotes_a_zero_price():
    c = cfg(max_spread_bps="10000", skew_factor="10000")
    ladder = build_ladder(c, BTC, Situation(fair=D(64000), position=D(1)))
    assert all(lv.price > 0 for lv in ladder.levels)


def test_huge_exponential_skew_is_clamped_not_a_crash():
    c = cfg(skew_model="exponential", skew_exponent=10, max_position="10000",
            soft_position_limit="7", target_position="0")
    spread, skew = spread_and_skew(c, Situation(fair=D(100), position=D(1000)))
    assert skew == D(50)


# --- properties ------------------------------------------------------------------------------

TICKS = [D("0.0001"), D("0.001"), D("0.01"), D("0.1"), D("0.5"), D(1), D(5)]
STEPS = [D("0.0001"), D("0.001"), D("0.01"), D("0.1"), D(1)]


def dec(lo: str, hi: str, places: int = 4) -> st.SearchStrategy[Decimal]:
    return st.decimals(min_value=D(lo), max_value=D(hi), places=places,
                       allow_nan=False, allow_infinity=False)


@st.composite
def configs(draw, spread_models=None, skew_models=None, min_skew_factor="0"):
    min_spread = draw(dec("0.1", "30", 2))
    # max_spread_bps stays below 10 000: a skew of exactly 10 000 bps is the known
    # zero-price bug covered by test_full_skew_never_quotes_a_zero_price
    max_spread = min_spread + draw(dec("0", "500", 2))
    base = min_spread + (max_spread - min_spread) * draw(dec("0", "1", 3))
    min_q = draw(dec("0.001", "1", 3))
    max_q = min_q * draw(dec("1", "20", 2))
    quote = min_q + (max_q - min_q) * draw(dec("0", "1", 3))
    max_pos = draw(dec("0.5", "200", 3))
    soft = max_pos * draw(dec("0.05", "0.99", 2))
    target = max_pos * draw(dec("-0.9", "0.9", 2))
    hedge = max_pos * draw(dec("0.1", "1", 2))
    data = {
        "name": "p", "market_id": "ETH-PERP",
        "spread_model": draw(st.sampled_from(spread_models or
                                             ["fixed", "volatility", "inventory",
                                              "avellaneda_stoikov", "glft"])),
        "min_spread_bps": min_spread, "max_spread_bps": max_spread, "base_spread_bps": base,
        "volatility_multiplier": draw(st.floats(0, 5)),
        "risk_aversion": draw(st.floats(0.01, 2)),
        "order_arrival_k": draw(st.floats(0.05, 20)),
        "arrival_intensity_a": draw(st.floats(1, 500)),
        "horizon_seconds": draw(st.sampled_from([0, 1, 60, 3600])),
        "quote_refresh_seconds": draw(st.floats(0.5, 60)),
        "min_quote_size": min_q, "max_quote_size": max_q, "quote_size": quote,
        "quote_layers": draw(st.integers(1, 5)),
        "layer_spacing_bps": draw(dec("0", "50", 2)),
        "layer_size_multiplier": draw(dec("0.25", "3", 2)),
        "post_only": draw(st.booleans()),
        "max_position": max_pos, "target_position": target,
        "skew_factor": draw(dec(min_skew_factor, "20", 3)),
        "skew_model": draw(st.sampled_from(skew_models or ["linear", "exponential", "step"])),
        "skew_exponent": draw(st.floats(0.5, 3)),
        "skew_step_size": draw(dec("0.01", "5", 2)),
        "soft_position_limit": soft,
        "position_reduction_factor": draw(dec("0", "1", 2)),
        "hedge_threshold": hedge, "hedge_target": hedge * D("0.5"),
    }
    try:
        return StrategyConfig.model_validate(data)
    except ValidationError:  # a rounding edge (e.g. soft == max): try another
        assume(False)


@st.composite
def rules(draw):
    tick = draw(st.sampled_from(TICKS))
    step = draw(st.sampled_from(STEPS))
    return Rules(tick=tick, step=step, min_quantity=step * draw(st.sampled_from([1, 2, 10])))


@st.composite
def situations(draw, c: StrategyConfig, r: Rules, position=None):
    fair = draw(dec("0.05", "150000", 4))
    assume(fair > 0)
    if position is None:
        position = (c.max_position * draw(dec("-0.999", "0.999", 3))).quantize(D("0.001"))
        assume(abs(position) < c.max_position)
    best_bid = best_ask = None
    if draw(st.booleans()):
        off = draw(dec("-100", "100", 2))  # the touch may sit anywhere around our fair
        best_bid = floor_to(fair * (1 - off / BPS), r.tick)
        best_ask = best_bid + r.tick * draw(st.integers(1, 20))
        if best_bid <= 0:
            best_bid = None
        if draw(st.booleans()):  # one-sided books
            best_bid, best_ask = draw(st.sampled_from([(best_bid, None), (None, best_ask)]))
    return Situation(
        fair=fair, position=position,
        sigma=draw(st.one_of(st.none(), st.floats(0, 0.005))),
        window_vol_pct=draw(st.one_of(st.none(), st.floats(0, 20))),
        best_bid=best_bid, best_ask=best_ask,
        elapsed_s=draw(st.floats(0, 1e5)),
        size_scale=draw(st.sampled_from([D(1), D("0.5"), D("0.25")])),
        max_layers=draw(st.integers(1, 5)),
    )


def check_invariants(c: StrategyConfig, r: Rules, s: Situation, ladder: Ladder) -> None:
    bids, asks = prices(ladder.bids), prices(ladder.asks)
    assert c.min_spread_bps <= ladder.spread_bps <= c.max_spread_bps
    assert abs(ladder.skew_bps) <= c.max_spread_bps
    assert len(bids) <= min(c.quote_layers, s.max_layers)
    assert len(asks) <= min(c.quote_layers, s.max_layers)
    if bids and asks:
        assert max(bids) < min(asks)
    for lv in ladder.levels:
        assert lv.price > 0
        assert is_multiple(lv.price, r.tick), lv
        assert is_multiple(lv.quantity, r.step), lv
        assert lv.quantity >= r.min_quantity
    assert all(lv.side is Side.BUY for lv in ladder.bids)
    assert all(lv.side is Side.SELL for lv in ladder.asks)
    # no set of fills can take the position past the hard limit
    if ladder.bids:
        assert s.position + sum(sizes(ladder.bids)) <= c.max_position
    if ladder.asks:
        assert s.position - sum(sizes(ladder.asks)) >= -c.max_position
    assert all(a > b for a, b in zip(bids, bids[1:], strict=False))
    assert all(a < b for a, b in zip(asks, asks[1:], strict=False))
    if c.post_only:
        if s.best_ask is not None:
            assert all(p < s.best_ask for p in bids)
        if s.best_bid is not None:
            assert all(p > s.best_bid for p in asks)


PROPS = settings(max_examples=200, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@PROPS
@given(st.data())
def test_ladder_invariants(data):
    c = data.draw(configs())
    r = data.draw(rules())
    s = data.draw(situations(c, r))
    check_invariants(c, r, s, build_ladder(c, r, s))


@PROPS
@given(st.data())
def test_ladder_invariants_near_and_beyond_the_limits(data):
    c = data.draw(configs())
    r = data.draw(rules())
    edge = c.max_position * data.draw(st.sampled_from(
        [D(-2), D(-1), D("-0.999"), D(1), D("0.999"), D(2)]))
    soft = c.soft_position_limit * data.draw(st.sampled_from([D(-1), D(1)]))
    position = data.draw(st.sampled_from([edge, soft, c.target_position]))
    s = data.draw(situations(c, r, position=position))
    ladder = build_ladder(c, r, s)
    check_invariants(c, r, s, ladder)
    if position >= c.max_position:
        assert ladder.bids == ()
    if position <= -c.max_position:
        assert ladder.asks == ()


@PROPS
@given(st.data())
def test_long_skews_down_and_short_skews_up(data):
    c = data.draw(configs(spread_models=["fixed", "volatility", "inventory"],
                          min_skew_factor="0.001"))
    r = data.draw(rules())
    flat_s = data.draw(situations(c, r, position=c.target_position))
    room = c.max_position - abs(c.target_position)
    d = (room * data.draw(dec("0.001", "0.999", 3))).quantize(D("0.001"))
    assume(d > 0)
    long_s = replace(flat_s, position=c.target_position + d)
    short_s = replace(flat_s, position=c.target_position - d)
    assume(abs(long_s.position) < c.max_position and abs(short_s.position) < c.max_position)

    flat, long, short = (build_ladder(c, r, x) for x in (flat_s, long_s, short_s))
    assert flat.skew_bps == 0
    assert long.center <= flat.center <= short.center
    assert long.skew_bps >= 0 >= short.skew_bps
    if c.skew_model == "linear":
        assert long.center < flat.center < short.center
    if c.spread_model != "inventory":  # same spread: every price follows the centre
        for side in ("bids", "asks"):
            f, lo, hi = getattr(flat, side), getattr(long, side), getattr(short, side)
            if f and lo:
                assert lo[0].price <= f[0].price
            if f and hi:
                assert hi[0].price >= f[0].price


@PROPS
@given(st.data())
def test_skew_is_odd_and_monotone_in_inventory(data):
    c = data.draw(configs())
    a = data.draw(dec("0", "50", 3))
    b = a + data.draw(dec("0", "50", 3))
    assert skew_bps(c, -a) == -skew_bps(c, a)
    assert 0 <= skew_bps(c, a) <= skew_bps(c, b)
