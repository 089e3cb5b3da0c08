"""desk/engine/sizing.py: a new strategy's sizes from price and equity, and the exposure
check (warn past warn_leverage, refuse past max_leverage)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from desk.engine import sizing
from desk.engine.config import StrategyConfig

D = Decimal


def test_btc_on_a_100k_account_is_sized_from_its_price():
    sizes = sizing.new_strategy_sizes(D("64000"), D("100000"), D("0.001"), D("0.001"))
    assert sizes is not None
    # ~1 % of equity an order (1000 / 64000 = 0.0156), ~20 % a position (0.3125)
    assert sizes["quote_size"] == "0.015"
    assert sizes["max_position"] == "0.312"
    assert D(sizes["quote_size"]) * 64000 <= 1000
    config = StrategyConfig.model_validate({"name": "n", "market_id": "BTC-PERP", **sizes})
    assert config.max_position * 64000 / 100000 < D("0.25")  # far from 1 BTC a side


def test_a_tiny_account_gets_the_market_minimum():
    sizes = sizing.new_strategy_sizes(D("64000"), D("500"), D("0.001"), D("0.01"))
    assert sizes is not None
    assert sizes["quote_size"] == "0.01" and sizes["min_quote_size"] == "0.01"
    assert D(sizes["max_position"]) >= 4 * D(sizes["quote_size"])
    StrategyConfig.model_validate({"name": "n", "market_id": "BTC-PERP", **sizes})


def test_unknown_price_or_equity_keeps_the_defaults():
    assert sizing.new_strategy_sizes(None, D(1000), D("0.1"), D("0.1")) is None
    assert sizing.new_strategy_sizes(D(10), D(0), D("0.1"), D("0.1")) is None


@given(price=st.decimals("0.0001", "1000000", places=4),
       equity=st.decimals("1", "100000000", places=2),
       step=st.sampled_from([D("0.0001"), D("0.001"), D("0.01"), D("0.1"), D(1), D(10)]),
       mins=st.integers(1, 50))
def test_suggested_sizes_always_validate_and_sit_on_the_step(price, equity, step, mins):
    sizes = sizing.new_strategy_sizes(price, equity, step, step * mins)
    assert sizes is not None
    config = StrategyConfig.model_validate({"name": "n", "market_id": "X-PERP", **sizes})
    for name in ("quote_size", "min_quote_size", "max_quote_size", "max_position"):
        value = getattr(config, name)
        assert value % step == 0, (name, value)
    assert config.min_quote_size >= step * mins


def check(max_position: str, price: str = "64000", equity: str = "100000",
          order: str = "0.01", other: str = "0") -> sizing.Verdict | None:
    return sizing.check(max_position=D(max_position), order_size=D(order), price=D(price),
                        equity=D(equity), other_notional=D(other), warn_leverage=3.0,
                        max_leverage=10.0, warn_order_pct=10.0)


def test_within_limits_no_warning():
    verdict = check("0.5")  # 32,000 on 100,000: 0.32x
    assert verdict is not None and verdict.refusal is None and not verdict.warnings
    assert verdict.exposure.leverage == D("0.32")
    assert verdict.details["max_notional"] == "32000"


def test_past_warn_leverage_warns_with_the_numbers():
    verdict = check("10")  # the generic default on BTC: 640,000, 6.4x
    assert verdict is not None and verdict.refusal is None
    (warning,) = verdict.warnings
    assert "6.4x" in warning and "640,000.00" in warning and "warn_leverage 3x" in warning


def test_past_max_leverage_is_refused_naming_max_position():
    verdict = check("20")  # 1,280,000: 12.8x
    assert verdict is not None and verdict.refusal is not None
    field, message = verdict.refusal
    assert field == "max_position"
    assert "12.8x" in message and "max_leverage is 10x" in message


def test_the_desk_together_and_a_big_order_warn():
    verdict = check("1", other="300000")  # 0.64x alone, 3.64x with the others
    assert verdict is not None and len(verdict.warnings) == 1
    assert "running strategies" in verdict.warnings[0]
    verdict = check("1", order="0.5")  # an order of 32,000: 32 % of equity
    assert verdict is not None and any("32.0% of the account's equity" in w
                                       for w in verdict.warnings)


def test_nothing_to_check_without_a_price_or_equity():
    assert sizing.check(max_position=D(1), order_size=D(1), price=None, equity=D(1),
                        other_notional=D(0), warn_leverage=3, max_leverage=10,
                        warn_order_pct=10) is None
    assert check("1", equity="0") is None


def test_the_largest_order_is_the_outer_layer_capped_at_max_quote_size():
    assert sizing.largest_order(D(1), D(5), 3, D(2)) == D(4)
    assert sizing.largest_order(D(1), D(3), 3, D(2)) == D(3)
    assert sizing.largest_order(D(1), D(5), 3, D("0.5")) == D(1)
    assert sizing.largest_order(D(1), D(5), 1, D(2)) == D(1)


# --- the presets: kept on the account they suit, resized on one they do not -------------

def test_presets_stay_on_the_embedded_account_and_shrink_on_a_small_one():
    from desk.engine.presets import DEFAULT_STRATEGIES, fitted

    btc = DEFAULT_STRATEGIES[0]
    sizes = sizing.new_strategy_sizes(D(64000), D(10_000), D("0.001"), D("0.001"))
    # 0.5 BTC = 32,000: a third of 100,000, kept
    assert fitted(btc, D(64000), D(100_000), sizes) is btc
    # ... but 3.2x a 10,000 account: the sizes of a new strategy instead
    small = fitted(btc, D(64000), D(10_000), sizes)
    assert small["max_position"] == "0.031" and small["quote_size"] == "0.001"
    assert small["name"] == "BTC MM" and small["quote_layers"] == 2
    StrategyConfig.model_validate(small)
    assert fitted(btc, None, D(10_000), sizes) is btc  # no price yet: as it is
