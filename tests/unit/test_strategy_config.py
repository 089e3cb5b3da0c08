"""The strategy model: spec defaults, cross-field rules on the right field, copies, TOML."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from desk.engine.config import GROUPS, StrategyConfig, describe, errors_by_field

D = Decimal

# Every default of /work/shared/strategy-params.md, written out from the spec (not the model).
SPEC_DEFAULTS: dict[str, Any] = {
    # Identity
    "enabled": True,
    # Spread
    "spread_model": "fixed",
    "base_spread_bps": D(10),
    "min_spread_bps": D(5),
    "max_spread_bps": D(50),
    "volatility_multiplier": 1.0,
    "volatility_window_minutes": 30,
    "risk_aversion": 0.1,
    "order_arrival_k": 1.5,
    "arrival_intensity_a": 140,
    "horizon_seconds": 0,
    # Quotes
    "quote_size": D("1.0"),
    "min_quote_size": D("0.1"),
    "max_quote_size": D("5.0"),
    "quote_refresh_seconds": 5,
    "requote_threshold_bps": D(2),
    "quote_layers": 1,
    "layer_spacing_bps": D(5),
    "layer_size_multiplier": D("1.0"),
    "post_only": True,
    # Inventory
    "max_position": D("10.0"),
    "target_position": D("0.0"),
    "skew_factor": D("0.5"),
    "skew_model": "linear",
    "skew_exponent": 1.5,
    "skew_step_size": D("1.0"),
    "soft_position_limit": D("7.0"),
    "position_reduction_factor": D("0.5"),
    # Risk
    "circuit_breaker_enabled": True,
    "max_daily_loss": D(5000),
    "max_hourly_loss": D(1000),
    "max_drawdown_percent": 5.0,
    "max_volatility_pause": False,
    "volatility_threshold": 5.0,
    "pause_on_error": True,
    "max_consecutive_errors": 5,
    "auto_resume_enabled": False,
    "resume_delay_minutes": 30,
    "stale_feed_ms": 2000,
    # Hedging
    "auto_hedge_enabled": False,
    "hedge_threshold": D("5.0"),
    "hedge_target": D("2.0"),
    "hedge_algo": "market",
    "hedge_duration_minutes": 30,
    "hedge_venue": "internal",
}
REQUIRED = {"name", "market_id"}

DECIMAL_FIELDS = sorted(
    n for n, f in StrategyConfig.model_fields.items() if f.annotation in (Decimal, "Decimal")
)


def make(**changes: Any) -> StrategyConfig:
    return StrategyConfig.model_validate({"name": "mm", "market_id": "BTC-PERP", **changes})


def field_errors(**changes: Any) -> dict[str, str]:
    with pytest.raises(ValidationError) as info:
        make(**changes)
    return errors_by_field(info.value)


# --- defaults and groups -----------------------------------------------------------------


def test_spec_lists_all_47_fields():
    assert len(StrategyConfig.model_fields) == 47
    assert set(SPEC_DEFAULTS) | REQUIRED == set(StrategyConfig.model_fields)


@pytest.mark.parametrize("field", sorted(SPEC_DEFAULTS))
def test_default_matches_spec(field):
    cfg = make()
    value = getattr(cfg, field)
    expected = SPEC_DEFAULTS[field]
    assert value == expected
    assert type(value) is type(expected) or (
        isinstance(value, float) and isinstance(expected, int)
    ), f"{field}: {type(value).__name__}"


def test_every_default_is_valid_and_set():
    cfg = make()
    dumped = cfg.model_dump()
    assert {k: dumped[k] for k in SPEC_DEFAULTS} == SPEC_DEFAULTS


@pytest.mark.parametrize("field", sorted(REQUIRED))
def test_name_and_market_are_required(field):
    data = {"name": "mm", "market_id": "BTC-PERP"}
    del data[field]
    with pytest.raises(ValidationError) as info:
        StrategyConfig.model_validate(data)
    assert set(errors_by_field(info.value)) == {field}


def test_groups_cover_every_field_exactly_once():
    listed = [f for fields in GROUPS.values() for f in fields]
    assert len(listed) == len(set(listed)), "a field is listed in two groups"
    assert set(listed) == set(StrategyConfig.model_fields)
    assert list(GROUPS) == ["Identity", "Spread", "Quotes", "Inventory", "Risk", "Hedging"]


@pytest.mark.parametrize(
    ("field", "group"),
    [("name", "Identity"), ("market_id", "Identity"), ("horizon_seconds", "Spread"),
     ("post_only", "Quotes"), ("skew_model", "Inventory"), ("stale_feed_ms", "Risk"),
     ("hedge_venue", "Hedging")],
)
def test_groups_follow_the_spec_sections(field, group):
    assert field in GROUPS[group]


# --- identity ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("asset", "market"),
    [("btc", "BTC-PERP"), ("BTC", "BTC-PERP"), (" eth ", "ETH-PERP"), ("sol-usd", "SOL-USD")],
)
def test_asset_means_perp_market(asset, market):
    cfg = StrategyConfig.model_validate({"name": "mm", "asset": asset})
    assert cfg.market_id == market
    assert cfg.asset == market.split("-")[0]
    assert "asset" not in cfg.model_dump()


def test_explicit_market_id_wins_over_asset():
    cfg = StrategyConfig.model_validate({"name": "mm", "asset": "eth", "market_id": "BTC-PERP"})
    assert cfg.market_id == "BTC-PERP"


@pytest.mark.parametrize("market", ["btc-perp", "BTCPERP", "", "BTC-PERP-X", "BTC PERP"])
def test_bad_market_id_is_refused_on_market_id(market):
    assert "market_id" in field_errors(market_id=market)


@pytest.mark.parametrize("name", ["", "a\nb", "x" * 65, "tab\there"])
def test_bad_name_is_refused_on_name(name):
    assert "name" in field_errors(name=name)


# --- cross-field rules: the error names the field the module says ----------------------------


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        # min <= base <= max spread
        ({"base_spread_bps": "4"}, "base_spread_bps", "between min_spread_bps"),
        ({"base_spread_bps": "51"}, "base_spread_bps", "max_spread_bps"),
        ({"min_spread_bps": "12"}, "base_spread_bps", "between"),
        ({"max_spread_bps": "8"}, "base_spread_bps", "between"),
        ({"min_spread_bps": "60", "base_spread_bps": "70"}, "max_spread_bps",
         "at least min_spread_bps"),
        # min <= quote_size <= max quote size
        ({"quote_size": "0.05"}, "quote_size", "between min_quote_size"),
        ({"quote_size": "6"}, "quote_size", "max_quote_size"),
        ({"min_quote_size": "6", "quote_size": "7", "max_quote_size": "5"}, "max_quote_size",
         "at least min_quote_size"),
        # soft < hard limit
        ({"soft_position_limit": "10"}, "soft_position_limit", "below max_position"),
        ({"soft_position_limit": "11"}, "soft_position_limit", "max_position"),
        ({"max_position": "6", "hedge_threshold": "5"}, "soft_position_limit", "max_position"),
        # |target| < max_position
        ({"target_position": "10"}, "target_position", "max_position"),
        ({"target_position": "-10"}, "target_position", "max_position"),
        ({"target_position": "-12.5"}, "target_position", "max_position"),
        # hedge_threshold <= max_position
        ({"hedge_threshold": "10.5"}, "hedge_threshold", "max_position"),
        # hedge_target < hedge_threshold
        ({"hedge_target": "5"}, "hedge_target", "below hedge_threshold"),
        ({"hedge_target": "6"}, "hedge_target", "hedge_threshold"),
        ({"hedge_threshold": "1.5"}, "hedge_target", "hedge_threshold"),
        # layers 1-5
        ({"quote_layers": 0}, "quote_layers", ""),
        ({"quote_layers": 6}, "quote_layers", ""),
        # unknown field refused
        ({"spread_bps": 10}, "spread_bps", "not permitted"),
    ],
)
def test_rule_errors_land_on_the_named_field(changes, field, words):
    errors = field_errors(**changes)
    assert field in errors, errors
    assert words in errors[field]
    for other in changes:
        if other != field and other != "spread_bps":
            assert other not in errors, f"{other} should be fine: {errors}"


@pytest.mark.parametrize(
    "changes",
    [
        {"base_spread_bps": "5"},  # == min
        {"base_spread_bps": "50"},  # == max
        {"min_spread_bps": "10", "max_spread_bps": "10"},
        {"quote_size": "0.1"},
        {"quote_size": "5.0"},
        {"min_quote_size": "1", "max_quote_size": "1"},
        {"soft_position_limit": "9.999"},
        {"target_position": "9.999"},
        {"target_position": "-9.999"},
        {"hedge_threshold": "10"},  # == max_position is allowed
        {"hedge_target": "4.999"},
        {"hedge_target": "0"},
        {"quote_layers": 1},
        {"quote_layers": 5},
    ],
)
def test_boundary_values_are_accepted(changes):
    cfg = make(**changes)
    for k, v in changes.items():
        assert getattr(cfg, k) == (D(v) if isinstance(v, str) else v)


def test_cross_field_rule_is_not_reported_when_the_other_field_failed():
    # min_spread_bps itself is bad; base_spread_bps must not pile up a derived complaint
    errors = field_errors(min_spread_bps="-1")
    assert set(errors) == {"min_spread_bps"}


def test_several_bad_fields_are_all_reported_and_described():
    with pytest.raises(ValidationError) as info:
        make(quote_size="9", hedge_target="7", quote_layers=9, bogus=1)
    errors = errors_by_field(info.value)
    assert set(errors) == {"quote_size", "hedge_target", "quote_layers", "bogus"}
    text = describe(info.value)
    for field, message in errors.items():
        assert f"{field}: {message}" in text
    assert "Value error, " not in text
    assert text.count("; ") == len(errors) - 1


def test_errors_by_field_keeps_the_first_message_per_field():
    with pytest.raises(ValidationError) as info:
        make(quote_layers=0)
    errors = errors_by_field(info.value)
    assert errors == {"quote_layers": "Input should be greater than or equal to 1"}


def test_errors_by_field_first_message_wins_and_nested_locations_join():
    def err(loc: tuple, text: str) -> dict[str, Any]:
        return {"type": "value_error", "loc": loc, "input": 1, "ctx": {"error": ValueError(text)}}

    error = ValidationError.from_exception_data("StrategyConfig", [
        err(("quote_size",), "first"), err(("quote_size",), "second"),
        err(("hedge", 0, "venue"), "nested"), err((), "whole"),
    ])
    assert errors_by_field(error) == {"quote_size": "first", "hedge.0.venue": "nested",
                                      "strategy": "whole"}
    assert describe(error) == "quote_size: first; hedge.0.venue: nested; strategy: whole"


def test_non_mapping_input_is_reported_against_the_strategy():
    with pytest.raises(ValidationError) as info:
        StrategyConfig.model_validate(5)
    assert list(errors_by_field(info.value)) == ["strategy"]
    assert describe(info.value).startswith("strategy: ")


@pytest.mark.parametrize("field", DECIMAL_FIELDS)
@pytest.mark.parametrize("value", ["NaN", "nan", "sNaN", "Infinity", "-Infinity", "inf",
                                   float("nan"), float("inf"), D("NaN"), D("-Infinity")])
def test_nan_and_infinity_are_refused_for_decimals(field, value):
    assert field in field_errors(**{field: value})


@pytest.mark.parametrize("field", ["risk_aversion", "order_arrival_k", "horizon_seconds",
                                   "volatility_multiplier", "skew_exponent"])
@pytest.mark.parametrize("value", ["NaN", float("nan"), float("inf"), "-inf"])
def test_nan_and_infinity_are_refused_for_model_floats(field, value):
    assert field in field_errors(**{field: value})


def test_decimal_fields_parse_exactly():
    cfg = make(skew_factor="0.1", quote_size="0.3", min_quote_size="0.1")
    assert cfg.skew_factor == D("0.1")
    assert cfg.quote_size == D("0.3")
    assert cfg.quote_size - cfg.min_quote_size == D("0.2")


def test_config_is_frozen():
    cfg = make()
    with pytest.raises(ValidationError):
        cfg.quote_size = D(2)  # type: ignore[misc]
    assert cfg.quote_size == D(1)


# --- changed() and to_toml_dict() --------------------------------------------------------


def test_changed_returns_a_validated_copy_and_leaves_the_original():
    cfg = make()
    before = cfg.model_dump()
    new = cfg.changed(quote_size="2.5", spread_model="glft", quote_layers=3)
    assert new is not cfg
    assert isinstance(new, StrategyConfig)
    assert new.quote_size == D("2.5") and isinstance(new.quote_size, Decimal)
    assert new.spread_model == "glft"
    assert new.quote_layers == 3
    assert cfg.model_dump() == before
    assert {k: v for k, v in new.model_dump().items()
            if k not in ("quote_size", "spread_model", "quote_layers")} == {
        k: v for k, v in before.items() if k not in ("quote_size", "spread_model", "quote_layers")}


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"quote_size": "50"}, "quote_size"), ({"soft_position_limit": "20"},
                                            "soft_position_limit"),
     ({"max_position": "3"}, "soft_position_limit"), ({"nope": 1}, "nope"),
     ({"spread_model": "magic"}, "spread_model")],
)
def test_bad_change_raises_and_leaves_the_original(changes, field):
    cfg = make()
    before = cfg.model_dump()
    with pytest.raises(ValidationError) as info:
        cfg.changed(**changes)
    assert field in errors_by_field(info.value)
    assert cfg.model_dump() == before


def test_changed_with_nothing_is_an_equal_copy():
    cfg = make(name="x", quote_layers=2)
    assert cfg.changed() == cfg


def test_to_toml_dict_round_trips_exactly():
    cfg = make(name="odd one", market_id="ETH-PERP", quote_size="0.30000000000000000001",
               skew_factor="1E-7", target_position="-2.50", max_daily_loss="12345.6789",
               risk_aversion=0.3, horizon_seconds=60, skew_model="step", hedge_venue="both")
    toml = cfg.to_toml_dict()
    assert set(toml) == set(StrategyConfig.model_fields)
    for field in DECIMAL_FIELDS:
        assert isinstance(toml[field], str), field
    assert toml["quote_size"] == "0.30000000000000000001"
    assert toml["target_position"] == "-2.50"
    assert toml["risk_aversion"] == 0.3
    assert toml["quote_layers"] == 1 and toml["post_only"] is True
    again = StrategyConfig.model_validate(toml)
    assert again == cfg
    for field in DECIMAL_FIELDS:
        assert getattr(again, field) == getattr(cfg, field)
        assert str(getattr(again, field)) == str(getattr(cfg, field))


def test_to_toml_dict_values_are_toml_types():
    allowed = (str, bool, int, float)
    for k, v in make().to_toml_dict().items():
        assert isinstance(v, allowed), (k, type(v))


# --- property: any values either validate or give a ValidationError naming fields ----------

NUMERIC_FIELDS = ["min_spread_bps", "max_spread_bps", "base_spread_bps", "min_quote_size",
                  "max_quote_size", "quote_size", "max_position", "target_position",
                  "soft_position_limit", "hedge_threshold", "hedge_target", "quote_layers",
                  "risk_aversion", "horizon_seconds", "stale_feed_ms", "skew_factor"]

JUNK = ["NaN", "Infinity", "-inf", "sNaN", "abc", "", "1e400", "-0", "1_0", "0x10"]

values = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True),
    st.decimals(min_value=-20, max_value=60, places=2),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-20, max_value=60),
    st.integers(min_value=-10**30, max_value=10**30),
    st.integers(min_value=-5, max_value=60),
    st.text(max_size=6),
    st.sampled_from(JUNK),
    st.none(),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
)


def _obviously_bad(v: Any) -> bool:
    """Values no numeric field may take, whatever the other fields say."""
    if v is None or isinstance(v, list):
        return True
    if isinstance(v, float | Decimal):
        return not math.isfinite(v) if isinstance(v, float) else not v.is_finite()
    if isinstance(v, str):
        return v.strip().lower() in {"nan", "infinity", "-inf", "snan", "abc", ""}
    return False


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(NUMERIC_FIELDS), values, min_size=1, max_size=6))
def test_random_values_validate_or_raise_validation_error(data):
    try:
        cfg = make(**data)
    except ValidationError as err:
        errors = errors_by_field(err)
        assert errors
        text = describe(err)
        for field, message in errors.items():
            assert field in StrategyConfig.model_fields, field
            assert f"{field}: {message}" in text
        for field, value in data.items():
            if _obviously_bad(value):
                assert field in errors, (field, value, errors)
        return
    # accepted: the invariants the validators promise hold
    assert cfg.min_spread_bps <= cfg.base_spread_bps <= cfg.max_spread_bps
    assert cfg.min_quote_size <= cfg.quote_size <= cfg.max_quote_size
    assert cfg.soft_position_limit < cfg.max_position
    assert abs(cfg.target_position) < cfg.max_position
    assert cfg.hedge_target < cfg.hedge_threshold <= cfg.max_position
    assert 1 <= cfg.quote_layers <= 5
    for field in DECIMAL_FIELDS:
        assert getattr(cfg, field).is_finite()
    assert StrategyConfig.model_validate(cfg.to_toml_dict()) == cfg
