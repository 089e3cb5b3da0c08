"""Settings: TOML file, DESK_* environment overrides, clear errors naming the field."""

from __future__ import annotations

import os
from decimal import Decimal

import pytest

from desk.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def _no_desk_env(monkeypatch):
    for name in list(os.environ):
        if name.startswith("DESK_"):
            monkeypatch.delenv(name)


def test_toml_file_sets_venue_values(tmp_path):
    path = tmp_path / "desk.toml"
    path.write_text('[venue]\nseed = 9\nrate_limit_per_minute = 77\nstarting_balance = "2500"\n')
    settings = load_settings(path)
    assert settings.venue.seed == 9
    assert settings.venue.rate_limit_per_minute == 77
    assert settings.venue.starting_balance == Decimal("2500")
    assert [m.market_id for m in settings.venue.markets] == ["BTC-PERP", "ETH-PERP", "SOL-PERP"]


def test_environment_overrides_the_file(tmp_path, monkeypatch):
    path = tmp_path / "desk.toml"
    path.write_text("[venue]\nrate_limit_per_minute = 77\n")
    monkeypatch.setenv("DESK_VENUE__RATE_LIMIT_PER_MINUTE", "600")
    assert load_settings(path).venue.rate_limit_per_minute == 600


def test_missing_default_file_gives_defaults(tmp_path, monkeypatch):
    monkeypatch.setattr("desk.settings.default_config_path", lambda: tmp_path / "none.toml")
    assert load_settings().venue.heartbeat_s == 15.0


def test_missing_explicit_file_is_an_error(tmp_path):
    with pytest.raises(SettingsError, match="--config: no such file"):
        load_settings(tmp_path / "nope.toml")


def test_bad_values_name_every_field(tmp_path):
    path = tmp_path / "desk.toml"
    path.write_text("[venue]\nheartbeat_s = -1\nbogus = 1\n")
    with pytest.raises(SettingsError) as err:
        load_settings(path)
    assert "venue.heartbeat_s" in str(err.value)
    assert "venue.bogus" in str(err.value)


def test_bad_environment_value_names_the_field(tmp_path, monkeypatch):
    monkeypatch.setattr("desk.settings.default_config_path", lambda: tmp_path / "none.toml")
    monkeypatch.setenv("DESK_VENUE__RATE_LIMIT_PER_MINUTE", "lots")
    with pytest.raises(SettingsError, match="venue.rate_limit_per_minute"):
        load_settings()


def test_broken_toml_is_a_clear_error(tmp_path):
    path = tmp_path / "desk.toml"
    path.write_text("[venue\n")
    with pytest.raises(SettingsError, match="cannot read settings"):
        load_settings(path)


def test_market_rules_are_validated(tmp_path):
    path = tmp_path / "desk.toml"
    path.write_text(
        '[[venue.markets]]\nmarket_id = "X-PERP"\nbase = "X"\ntick_size = "0.1"\n'
        'step_size = "0.01"\nmin_quantity = "0.015"\ninitial_price = "10"\n'
        '[venue.markets.sim]\ntaker_size_median = "1"\nmaker_size = "1"\n')
    with pytest.raises(SettingsError, match="min_quantity must be a multiple of step_size"):
        load_settings(path)
