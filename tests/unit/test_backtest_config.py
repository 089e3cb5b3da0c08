"""The backtest file: durations, the examples shipped with desk, and refusals that name
the field at fault (every problem is a `ConfigError`, never a traceback); the command
line's overrides."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from desk.backtest import config as bt
from desk.backtest.config import BacktestConfig, ConfigError, load, parse_duration, validate

EXAMPLES = Path(bt.__file__).parent / "examples"
AS_FILE = EXAMPLES / "avellaneda_stoikov.toml"
CONTINUOUS_FILE = EXAMPLES / "continuous.toml"


def as_raw() -> dict[str, Any]:
    """The Avellaneda-Stoikov example as the plain dict TOML gives."""
    return tomllib.loads(AS_FILE.read_text(encoding="utf-8"))


def refused(data: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as info:
        validate(data)
    return str(info.value)


# --- durations ----------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "seconds"), [
    ("90s", 90.0), ("30m", 1800.0), ("1h30m", 5400.0), ("250ms", 0.25), ("2d", 172_800.0),
    ("1h", 3600.0), ("1.5h", 5400.0), ("1m30s", 90.0), ("1h 30m", 5400.0), (" 45s ", 45.0),
    ("90", 90.0), ("0.5", 0.5), (90, 90.0), (1.5, 1.5),
])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["1x", "", "   ", "-5s", "s", "1h30", "5 parsecs", "1hh",
                                  "forever", "1,5h"])
def test_parse_duration_refuses_what_is_not_a_duration(text):
    with pytest.raises(ConfigError) as info:
        parse_duration(text, "backtest.duration")
    message = str(info.value)
    assert message.startswith("backtest.duration: ")
    assert repr(text) in message
    assert "is not a duration" in message


@pytest.mark.parametrize("text", ["0s", "0", "0ms", "0h0m", 0, 0.0, -5, "-5", "nan"])
def test_parse_duration_refuses_nothing_and_less(text):
    with pytest.raises(ConfigError) as info:
        parse_duration(text, "--duration")
    message = str(info.value)
    assert message.startswith("--duration: ")
    assert repr(text) in message
    assert "longer than zero" in message


def test_parse_duration_does_not_take_a_bool_for_a_number():
    with pytest.raises(ConfigError, match="duration: True is not a duration"):
        parse_duration(True)


# --- the examples -----------------------------------------------------------------------


EXAMPLE_FILES = sorted(EXAMPLES.glob("*.toml"))


def test_there_are_examples():
    assert {p.name for p in EXAMPLE_FILES} >= {"avellaneda_stoikov.toml", "continuous.toml",
                                               "symmetric_fixed_spread.toml"}


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_every_example_validates(path):
    config = load(path)
    assert isinstance(config, BacktestConfig)
    markets = {m.market_id for m in config.venue.markets}
    assert config.strategies
    assert {s.market_id for s in config.strategies} <= markets
    assert config.step_count >= 1
    # what a run would use: as a dict and back, unchanged (the report keeps it as JSON)
    assert validate(config.model_dump(mode="json")) == config


def test_the_avellaneda_stoikov_example_is_the_papers_setting():
    config = load(AS_FILE)
    b = config.backtest
    assert b.mode == "steps"
    assert (b.steps.count, b.steps.dt_s, b.steps.dt_ms) == (200, 0.005, 5)
    assert (b.steps.sigma, b.steps.intensity_a, b.steps.intensity_k) == (2.0, 140.0, 1.5)
    assert config.step_count == 200
    assert config.warmup_steps == 200
    assert config.step_s == 0.005
    assert config.sample_s == 0.005  # every step, when [backtest] does not say
    (s,) = config.strategies
    assert (s.spread_model, s.risk_aversion, s.order_arrival_k) == ("avellaneda_stoikov",
                                                                    0.1, 1.5)


def test_the_continuous_example_steps_the_venue_simulation():
    config = load(CONTINUOUS_FILE)
    b = config.backtest
    assert b.mode == "continuous"
    assert b.duration_s == 900.0  # duration = "15m"
    assert b.latency_ms == 1
    assert config.step_s == 0.1  # venue.sim_step_ms = 100
    assert config.step_count == 9000
    assert config.warmup_steps == 0
    assert config.sample_s == 1.0
    assert [s.market_id for s in config.strategies] == ["BTC-PERP", "ETH-PERP"]


# --- refusals name the field ---------------------------------------------------------------


def test_a_strategy_on_a_market_the_venue_does_not_have():
    data = as_raw()
    data["strategies"][0]["market_id"] = "Y-PERP"
    message = refused(data)
    assert "strategies[0] (AS inventory).market_id" in message
    assert "Y-PERP" in message and "X-PERP" in message


def _two_markets(data: dict[str, Any]) -> dict[str, Any]:
    other = copy.deepcopy(data["venue"]["markets"][0])
    other.update(market_id="Z-PERP", base="Z")
    data["venue"]["markets"].append(other)
    return data


def test_two_strategies_with_one_name():
    data = _two_markets(as_raw())
    twin = {**data["strategies"][0], "market_id": "Z-PERP"}
    data["strategies"].append(twin)
    validate({**data, "strategies": [data["strategies"][0],
                                     {**twin, "name": "another"}]})  # fine when renamed
    message = refused(data)
    assert "strategies[1] (AS inventory).name" in message
    assert "'AS inventory'" in message


def test_two_strategies_on_one_market():
    data = as_raw()
    data["strategies"].append({**data["strategies"][0], "name": "rival"})
    message = refused(data)
    assert "strategies[1] (rival).market_id" in message
    assert "X-PERP" in message and "'AS inventory'" in message


@pytest.mark.parametrize("dt_s", [0.0015, 0.0001, 0.0105])
def test_a_step_that_is_not_a_whole_millisecond(dt_s):
    data = as_raw()
    data["backtest"]["steps"]["dt_s"] = dt_s
    message = refused(data)
    assert "dt_s" in message
    assert str(dt_s) in message
    assert "milliseconds" in message


def test_whole_millisecond_steps_pass():
    data = as_raw()
    data["backtest"]["steps"]["dt_s"] = 0.001
    assert validate(data).backtest.steps.dt_ms == 1
    data["backtest"]["steps"]["dt_s"] = 0.25
    assert validate(data).backtest.steps.dt_ms == 250


def test_a_taker_size_off_a_markets_step():
    data = as_raw()
    data["backtest"]["steps"]["taker_size"] = "1.5"  # X-PERP's step is 1
    message = refused(data)
    assert "backtest.steps.taker_size" in message
    assert "1.5" in message and "X-PERP" in message
    data["backtest"]["steps"]["taker_size"] = "1e30"  # too large to tell: refused, no crash
    assert "backtest.steps.taker_size" in refused(data)
    # continuous mode does not use it
    data["backtest"]["steps"]["taker_size"] = "1.5"
    data["backtest"]["mode"] = "continuous"
    assert validate(data).backtest.mode == "continuous"


@pytest.mark.parametrize(("where", "field"), [
    (("backtest",), "speed"),
    (("backtest", "steps"), "drift"),
    ((), "extras"),
])
def test_an_unknown_key_is_refused(where, field):
    data = as_raw()
    table = data
    for key in where:
        table = table[key]
    table[field] = 1
    message = refused(data)
    assert ".".join((*where, field)) in message
    assert "Extra inputs are not permitted" in message


@pytest.mark.parametrize(("field", "value"), [
    ("quote_size", -1), ("quote_size", "0"), ("risk_aversion", 0), ("quote_layers", 9),
])
def test_a_bad_strategy_parameter(field, value):
    data = as_raw()
    data["strategies"][0][field] = value
    message = refused(data)
    assert f"strategies.0.{field}" in message


@pytest.mark.parametrize(("path", "value", "named"), [
    (("backtest", "mode"), "weekly", "backtest.mode"),
    (("backtest", "runs"), 0, "backtest.runs"),
    (("backtest", "latency_ms"), -1, "backtest.latency_ms"),
    (("backtest", "steps", "count"), 0, "backtest.steps.count"),
    (("venue", "rate_limit_per_minute"), 0, "venue.rate_limit_per_minute"),
    (("engine", "min_requote_s"), "soon", "engine.min_requote_s"),
])
def test_other_bad_values_name_their_field(path, value, named):
    data = as_raw()
    table = data
    for key in path[:-1]:
        table = table[key]
    table[path[-1]] = value
    assert named in refused(data)


def test_no_strategies():
    data = as_raw()
    data["strategies"] = []
    assert "strategies" in refused(data)
    del data["strategies"]
    assert "strategies" in refused(data)


def test_a_bad_duration_in_the_file():
    data = as_raw()
    data["backtest"]["duration"] = "soon"
    message = refused(data)
    assert message.startswith("backtest.duration: ")
    assert "'soon'" in message


def test_the_duration_in_the_file_is_parsed():
    data = as_raw()
    data["backtest"]["mode"] = "continuous"
    data["backtest"]["duration"] = "1h30m"
    assert validate(data).backtest.duration_s == 5400.0


# --- files -----------------------------------------------------------------------------------


def test_a_missing_file(tmp_path):
    path = tmp_path / "nowhere.toml"
    with pytest.raises(ConfigError) as info:
        load(path)
    message = str(info.value)
    assert message.startswith("--config: no such file")
    assert str(path) in message


def test_a_file_that_is_not_toml(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("[backtest\nmode = 'steps'\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load(path)
    message = str(info.value)
    assert message.startswith(f"{path}: not valid TOML")


def test_a_deeply_nested_file_is_a_config_error(tmp_path):
    path = tmp_path / "deep.toml"
    path.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load(path)
    assert str(info.value).startswith(f"{path}: not valid TOML")


def test_a_directory_is_not_a_file(tmp_path):
    with pytest.raises(ConfigError, match="--config: cannot read"):
        load(tmp_path)


def test_a_refusal_from_a_file_names_the_file_and_the_field(tmp_path):
    data = as_raw()
    data["strategies"][0]["quote_size"] = -1
    path = tmp_path / "bad.toml"
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert "strategies.0.quote_size" in message


def test_a_file_written_back_loads_the_same(tmp_path):
    path = tmp_path / "copy.toml"
    path.write_text(tomli_w.dumps(as_raw()), encoding="utf-8")
    assert load(path) == load(AS_FILE)


# --- the command line's overrides ------------------------------------------------------------


def test_with_overrides_changes_only_what_it_is_given():
    config = load(CONTINUOUS_FILE)
    out = config.with_overrides(duration="90s", seed=7, runs=3)
    assert (out.backtest.duration_s, out.backtest.seed, out.backtest.runs) == (90.0, 7, 3)
    assert out.step_count == 900
    assert out.backtest.latency_ms == config.backtest.latency_ms
    assert out.backtest.steps == config.backtest.steps
    assert out.venue == config.venue
    assert out.engine == config.engine
    assert out.strategies == config.strategies
    # the original is untouched (frozen)
    assert (config.backtest.duration_s, config.backtest.seed, config.backtest.runs) == (
        900.0, 1, 1)


def test_with_overrides_one_at_a_time():
    config = load(AS_FILE)
    assert config.with_overrides(seed=42).backtest.seed == 42
    assert config.with_overrides(seed=0).backtest.seed == 0  # 0 is a seed, not "unset"
    assert config.with_overrides(runs=5).backtest.runs == 5
    assert config.with_overrides(seed=42).with_overrides(runs=5).backtest.seed == 42
    with pytest.raises(ConfigError, match="--duration: this file runs in steps mode"):
        config.with_overrides(duration="2m")  # its length is count × dt_s
    assert load(CONTINUOUS_FILE).with_overrides(duration="2m").backtest.duration_s == 120.0


def test_with_no_overrides_is_the_same_config():
    config = load(AS_FILE)
    assert config.with_overrides() is config
    assert config.with_overrides(None, None, None) is config


def test_bad_overrides_name_the_flag_or_field():
    config = load(CONTINUOUS_FILE)
    with pytest.raises(ConfigError) as info:
        config.with_overrides(duration="400d")  # beyond the longest run
    assert str(info.value).startswith("--duration: ")
    with pytest.raises(ConfigError) as info:
        config.with_overrides(duration="soon")
    assert str(info.value).startswith("--duration: ")
    with pytest.raises(ConfigError) as info:
        config.with_overrides(duration="0s")
    assert str(info.value).startswith("--duration: ")
    with pytest.raises(ConfigError, match="--runs"):
        config.with_overrides(runs=0)
