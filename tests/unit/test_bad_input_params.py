"""Bad input everywhere: strategy parameters, the engine's create/update, the settings
file and DESK_* variables, and the API-key form.

Every invalid value is a clear error naming the field (`ValidationError` from the
model, `StrategyConfigError` from the engine, `SettingsError` from the settings, an
error dict from the key form), never another exception, never a traceback, and never
a partially applied change.

What tests/unit/test_strategy_config.py already checks (spec defaults, each
cross-field rule on its field, NaN/inf refused, a property over 16 numeric fields with
moderate values) and test_settings.py (a bad TOML value, a bad env value, broken TOML,
a missing file) is not repeated here; these go wider: every field, unknown names,
unicode and control characters, huge exponents, very long strings, containers, and
the engine's all-or-nothing promise against a real strategies file.

"""

from __future__ import annotations

import contextlib
import decimal
import ipaddress
import os
import random
import threading
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from desk.backtest.simvenue import SimVenue
from desk.backtest.vloop import VirtualClock, VirtualLoop
from desk.engine.config import StrategyConfig, describe, errors_by_field
from desk.engine.errors import StrategyError
from desk.engine.manager import StrategyConfigError, StrategyManager
from desk.engine.metrics import PnlSeries
from desk.engine.pricing import Rules, Situation, build_ladder
from desk.engine.risk import breaker
from desk.settings import SettingsError, load_settings
from desk.store.strategies import MemoryStrategyStore, StrategyStoreError, TomlStrategyStore
from desk.ui.screens.keys import KeyRequest, parse_key_request
from desk.venue.config import VenueConfig
from desk.venue.exchange import Exchange
from desk.venue.schemas import ApiKeyIn

D = Decimal
FIELDS = StrategyConfig.model_fields
FIELD_NAMES = sorted(FIELDS)
INT_FIELDS = sorted(n for n, f in FIELDS.items() if f.annotation is int)
NON_FIELD_KEY = "strategy"  # errors_by_field's key for an error with no location
# names that are not fields: `asset` is the documented spelling of a market (popped by
# the model), the rest must be refused by name
UNKNOWN = ["asset", "id", "bogus", "spread_bps", "Name", " name", "model_config",
           "__class__", "ménage", "a.b", "base_spread_bps "]
# cross-field rules (desk/engine/config.py): a change of the key may be reported on these
PARTNERS: dict[str, set[str]] = {
    "min_spread_bps": {"max_spread_bps", "base_spread_bps"},
    "max_spread_bps": {"base_spread_bps"},
    "min_quote_size": {"max_quote_size", "quote_size"},
    "max_quote_size": {"quote_size"},
    "max_position": {"target_position", "soft_position_limit", "hedge_threshold"},
    "hedge_threshold": {"hedge_target"},
}
# the engine's own cross checks (manager._validate) name these
ENGINE_CHECKS = {"name", "market_id", "hedge_venue"}

EMAX = decimal.getcontext().Emax  # 999999: beyond it Decimal arithmetic overflows


# --- value generators ----------------------------------------------------------------------

def _huge_exp_text(mantissa: int, exponent: int) -> str:
    return f"{mantissa}e{exponent}"


EXPONENTS = st.one_of(
    st.sampled_from([999_999_999, -999_999_999, 1_000_000, -1_000_000, 400, -400, 5000,
                     10**18, -(10**18), 10**20]),
    st.integers(-(10**10), 10**10))
huge_exp_text = st.builds(_huge_exp_text, st.integers(-99, 99), EXPONENTS)


def _as_decimal(text: str) -> Decimal:
    try:
        return Decimal(text)
    except decimal.InvalidOperation:  # an exponent beyond what Decimal can hold
        return Decimal("1e999999999")


huge_decimal = huge_exp_text.map(_as_decimal)
long_text = st.builds(lambda c, n: c * n, st.sampled_from(["9", "a", " ", "é", "\x00", "1e9",
                                                           "[", "€"]),
                      st.integers(1_000, 100_000))
control_text = st.text(alphabet=st.characters(max_codepoint=0xA0, exclude_categories=()),
                       max_size=8)

anything = st.one_of(
    st.text(max_size=24),                                          # any unicode
    control_text,                                                  # C0/C1 controls, DEL
    st.sampled_from(["\ud800", "x\udfffy", "", " ", "\n", "NaN", "-inf", "sNaN", "1_0",
                     "0x10", "١٢", "1e", "--1", "+", "٣.٥", "1,5", "true", "None"]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**400), 10**400),
    st.integers(-10, 100),
    st.decimals(allow_nan=True, allow_infinity=True),
    huge_decimal,
    huge_exp_text,
    long_text,
    st.booleans(),
    st.none(),
    st.binary(max_size=6),
    st.lists(st.one_of(st.integers(), st.text(max_size=3)), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.tuples(st.integers()),
)

# values each field might well accept: the good half of a mixed change set
GOOD: dict[str, st.SearchStrategy[Any]] = {}
for _name, _field in FIELDS.items():
    args = getattr(_field.annotation, "__args__", None)
    if _field.annotation is bool:
        GOOD[_name] = st.booleans()
    elif args:  # a Literal
        GOOD[_name] = st.sampled_from(args)
    elif _field.annotation is int:
        GOOD[_name] = st.integers(0, 6)
    elif _name == "name":
        GOOD[_name] = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x2FF),
                              min_size=1, max_size=12)
    elif _name == "market_id":
        GOOD[_name] = st.sampled_from(["BTC-PERP", "ETH-PERP", "SOL-PERP"])
    else:  # near the default (valid against the other defaults), or anywhere near it
        _default = _field.default
        GOOD[_name] = st.one_of(
            st.sampled_from([D("0.9"), D(1), D("1.1")]).map(
                lambda k, d=_default: str(D(str(d)) * k)),
            st.decimals(min_value=0, max_value=60, places=3).map(str),
            st.floats(min_value=0, max_value=60).map(repr),
            st.integers(0, 60))


def minimal(**changes: Any) -> dict[str, Any]:
    return {"name": "mm", "market_id": "BTC-PERP", **changes}


# --- 1. the model: any mapping validates or is a ValidationError naming the fields ---------

def check_validation_error(err: ValidationError, data: dict[Any, Any]) -> dict[str, str]:
    errors = errors_by_field(err)
    assert errors, "a ValidationError with no field"
    unknown = {k for k in data if k not in FIELDS and k != "asset"}
    allowed = set(FIELDS) | {str(k) for k in unknown} | {NON_FIELD_KEY}
    if "asset" in data:
        allowed.add("asset")
        if "asset" in errors:  # a bad asset is refused before the fields are looked at
            assert not isinstance(data["asset"], str) and list(errors) == ["asset"]
            return errors
    for field, message in errors.items():
        assert field in allowed, (field, errors)
        assert isinstance(message, str) and message.strip(), (field, message)
    text = describe(err)
    for field, message in errors.items():
        assert f"{field}: {message}" in text
    for name in unknown:  # an unknown name is refused by its own name
        assert (str(name) or NON_FIELD_KEY) in errors, (name, errors)
    for name, value in data.items():
        # no field takes None or a container, whatever the others hold
        if name in FIELDS and (value is None or isinstance(value, list | dict | tuple)):
            assert name in errors, (name, value, errors)
    return errors


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(FIELD_NAMES + UNKNOWN), anything, max_size=10),
       st.booleans())
def test_any_mapping_validates_or_is_a_validation_error_naming_fields(data, from_minimal):
    payload = minimal(**data) if from_minimal else dict(data)
    try:
        cfg = StrategyConfig.model_validate(payload)
    except ValidationError as err:
        check_validation_error(err, payload)
        return
    # accepted: whole, and it survives the trip through the strategies file
    assert set(cfg.model_dump()) == set(FIELDS)
    assert StrategyConfig.model_validate(tomllib.loads(tomli_w.dumps(cfg.to_toml_dict()))) == cfg


@pytest.mark.parametrize("value", [None, [], {}, (), b"\xff", "\ud800", "x" * 100_000,
                                   "1e999999999", D("-1e-999999999"), 10**400, float("nan")],
                         ids=lambda v: repr(v)[:16])
@pytest.mark.parametrize("field", FIELD_NAMES)
def test_every_field_refuses_junk_by_name_or_accepts_it(field, value):
    try:
        StrategyConfig.model_validate(minimal(**{field: value}))
    except ValidationError as err:
        errors = check_validation_error(err, minimal(**{field: value}))
        if value is None or isinstance(value, list | dict | tuple | float):
            assert field in errors
        # a lone junk value is blamed on its own field or on a cross-field partner
        assert set(errors) <= {field} | PARTNERS.get(field, set()), errors


@pytest.mark.parametrize("data", [5, "name=mm", None, [("name", "mm")], 1.5, b"{}"])
def test_a_non_mapping_is_reported_under_the_documented_key(data):
    with pytest.raises(ValidationError) as info:
        StrategyConfig.model_validate(data)
    assert list(errors_by_field(info.value)) == [NON_FIELD_KEY]


def test_an_unknown_empty_name_is_reported_under_the_documented_key():
    with pytest.raises(ValidationError) as info:
        StrategyConfig.model_validate(minimal(**{"": 1}))
    assert set(errors_by_field(info.value)) == {NON_FIELD_KEY}


@pytest.mark.parametrize("value", ["1e1000000", "-1e999999999", D("1e999999999")])
def test_target_position_beyond_the_decimal_context_is_a_validation_error(value):
    with pytest.raises(ValidationError) as info:
        StrategyConfig.model_validate(minimal(target_position=value))
    assert "target_position" in errors_by_field(info.value)


@pytest.mark.parametrize("value", [D("1e3000000"), D("1e-3000000"), D("1e999999999"),
                                   D("1e-999999999")])
@pytest.mark.parametrize("field", INT_FIELDS)
def test_a_decimal_with_a_huge_exponent_for_an_int_field_is_refused(field, value):
    # before the fix these never returned (the int was worked out exactly): a liveness
    # check with a generous bound, not a speed claim
    out: list[Any] = []
    worker = threading.Thread(target=lambda: out.append(_errors_of(field, value)),
                              daemon=True)
    worker.start()
    worker.join(30)
    assert out, f"{field}={value}: validation did not return"
    assert "out of range" in out[0].get(field, ""), out[0]


def _errors_of(field: str, value: Any) -> dict[str, str]:
    try:
        StrategyConfig.model_validate(minimal(**{field: value}))
    except ValidationError as err:
        return errors_by_field(err)
    return {}


LARGEST = D("999999999999999")  # 15 digits: the most a number may have before the point


@pytest.mark.parametrize("huge", ["1e15", "1e999999999", 10**400])
def test_numbers_too_big_for_the_engine_are_refused_by_name(huge):
    for field in ("max_position", "max_daily_loss", "max_hourly_loss", "hedge_threshold",
                  "max_quote_size", "skew_step_size"):
        assert "out of range" in _errors_of(field, huge).get(field, ""), field


def test_the_largest_accepted_limits_still_price_a_ladder_and_run_the_breakers():
    cfg = StrategyConfig.model_validate(minimal(
        max_position=LARGEST, soft_position_limit=LARGEST - 1, hedge_threshold=LARGEST,
        max_daily_loss=LARGEST, max_hourly_loss=LARGEST, max_quote_size=LARGEST,
        target_position=-(LARGEST - 1)))
    rules = Rules(D("0.5"), D("0.001"), D("0.001"))
    ladder = build_ladder(cfg, rules, Situation(fair=D(64000), position=D(1)))
    assert ladder.bids or ladder.asks
    assert breaker(cfg, PnlSeries(D(100_000)), None) is None


@pytest.mark.parametrize("asset", [5, None, ["BTC"]])
def test_a_bad_asset_is_named_as_asset(asset):
    with pytest.raises(ValidationError) as info:
        StrategyConfig.model_validate({"name": "mm", "asset": asset})
    assert "asset" in errors_by_field(info.value)


# --- 2. the engine: create/update apply whole or not at all ----------------------------------

@dataclass
class Engine:
    loop: VirtualLoop
    manager: StrategyManager
    store: Any
    a: str
    b: str

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def file(self) -> bytes:
        return self.store.path.read_bytes()


@contextlib.contextmanager
def engine(tmp: Path, store: Any = None) -> Iterator[Engine]:
    """A real StrategyManager, opened on the in-process exchange (SimVenue on a virtual
    loop: BTC-PERP, ETH-PERP, SOL-PERP), saving to a strategies TOML file; two
    strategies, "A" on BTC-PERP and "B" on ETH-PERP."""
    loop = VirtualLoop()
    clock = VirtualClock(loop)
    exchange = Exchange(VenueConfig(sim_enabled=False), clock.ms, random.Random(1))
    exchange.open_account("mm")
    venue = SimVenue(exchange, "mm", clock)
    store = store if store is not None else TomlStrategyStore(tmp / "strategies.toml")
    manager = StrategyManager(venue, clock=clock, rng=random.Random(1), store=store)

    async def open_() -> None:
        await venue.start()
        await manager.open()

    loop.run_until_complete(open_())
    try:
        a = manager.create(name="A", market_id="BTC-PERP").id
        b = manager.create(name="B", market_id="ETH-PERP").id
        yield Engine(loop, manager, store, a, b)
    finally:
        async def close() -> None:
            await manager.shutdown("test over")
            await venue.close()

        try:
            loop.run_until_complete(close())
        finally:
            loop.close()


def _mixed(draw: st.DrawFn) -> dict[str, Any]:
    clean = draw(st.integers(0, 2)) == 0  # a third of the sets: only likely-good values
    name = st.sampled_from(FIELD_NAMES) if clean else st.one_of(
        st.sampled_from(FIELD_NAMES), st.sampled_from(FIELD_NAMES), st.sampled_from(UNKNOWN[1:]))
    keys = draw(st.lists(name, min_size=1, max_size=5, unique=True))
    out = {}
    for k in keys:  # else three good values to one bad one
        good = k in GOOD and (clean or draw(st.integers(0, 3)) > 0)
        out[k] = draw(GOOD[k] if good else anything)
    return out


@st.composite
def change_sets(draw: st.DrawFn) -> dict[str, Any]:
    changes = _mixed(draw)
    if draw(st.integers(0, 5)) == 0:  # the engine's own checks
        changes[draw(st.sampled_from(sorted(ENGINE_CHECKS)))] = draw(st.sampled_from(
            ["B", "XRP-PERP", "both", "external", "A", "SOL-PERP", "internal"]))
    return changes


def check_refusal(err: StrategyConfigError, changes: dict[str, Any]) -> None:
    assert err.fields, "a refusal that names no field"
    for field, message in err.fields.items():
        assert isinstance(message, str) and message.strip(), (field, message)
        assert field in str(err), (field, str(err))
    blamed = set(changes) | {p for k in changes for p in PARTNERS.get(k, ())}
    assert set(err.fields) & (blamed | ENGINE_CHECKS), (err.fields, changes)
    assert set(err.fields) <= set(FIELDS) | set(changes) | {NON_FIELD_KEY}, err.fields


def test_update_applies_the_whole_change_or_nothing(tmp_path):
    with engine(tmp_path) as e:
        m = e.manager

        @settings(max_examples=120, deadline=None,
                  suppress_health_check=[HealthCheck.too_slow])
        @given(change_sets())
        def check(changes):
            old, other, file = m.get(e.a).config, m.get(e.b).config, e.file()
            try:
                info = e.run(m.update(e.a, **changes))
            except StrategyConfigError as err:
                event("refused")
                check_refusal(err, changes)
                assert m.get(e.a).config == old
                assert m.get(e.b).config == other
                assert e.file() == file, "the strategies file changed on a refusal"
                return
            event("applied")
            expected = StrategyConfig.model_validate({**old.model_dump(), **changes})
            assert info.config == expected == m.get(e.a).config
            assert m.get(e.b).config == other
            saved = {s["id"]: s for s in tomllib.loads(e.file().decode())["strategies"]}
            assert StrategyConfig.model_validate(
                {k: v for k, v in saved[e.a].items() if k != "id"}) == expected
            # back to the start, byte for byte, for the next example
            e.run(m.update(e.a, **old.model_dump()))
            assert m.get(e.a).config == old and e.file() == file

        check()


def test_create_adds_a_whole_strategy_or_nothing(tmp_path):
    with engine(tmp_path) as e:
        m = e.manager

        @settings(max_examples=80, deadline=None,
                  suppress_health_check=[HealthCheck.too_slow])
        @given(change_sets(), st.booleans())
        def check(params, from_minimal):
            payload = {"name": "C", "market_id": "SOL-PERP", **params} if from_minimal \
                else params
            ids, file = [s.id for s in m.list()], e.file()
            try:
                info = m.create(**payload)
            except StrategyConfigError as err:
                event("refused")
                check_refusal(err, payload)
                assert [s.id for s in m.list()] == ids
                assert e.file() == file, "the strategies file changed on a refusal"
                return
            event("created")
            assert [s.id for s in m.list()] == [*ids, info.id]
            assert info.config == StrategyConfig.model_validate(payload)
            assert info.id in e.file().decode()
            e.run(m.remove(info.id))
            assert e.file() == file

        check()


@pytest.mark.parametrize(("changes", "field"), [
    ({"name": "B"}, "name"),
    ({"market_id": "XRP-PERP"}, "market_id"),
    ({"hedge_venue": "external"}, "hedge_venue"),
    ({"quote_size": "2", "max_position": "0"}, "max_position"),
    ({"quote_size": "2", "id": "x"}, "id"),
    ({"quote_size": "2", "name": "x\ny"}, "name"),
])
def test_a_refusal_names_its_field_and_keeps_the_good_values_out_too(tmp_path, changes, field):
    with engine(tmp_path) as e:
        old, file = e.manager.get(e.a).config, e.file()
        with pytest.raises(StrategyConfigError) as info:
            e.run(e.manager.update(e.a, **changes))
        assert field in info.value.fields and field in str(info.value)
        assert e.manager.get(e.a).config == old  # the good quote_size is not applied either
        assert e.file() == file


def test_update_with_an_overflowing_target_position_is_a_config_error(tmp_path):
    with engine(tmp_path) as e:
        old, file = e.manager.get(e.a).config, e.file()
        with pytest.raises(StrategyConfigError) as info:
            e.run(e.manager.update(e.a, target_position="1e1000000"))
        assert "target_position" in info.value.fields
        assert e.manager.get(e.a).config == old and e.file() == file


def test_update_with_asset_moves_the_strategy_or_is_refused(tmp_path):
    with engine(tmp_path) as e:
        try:
            info = e.run(e.manager.update(e.a, asset="SOL"))
        except StrategyConfigError as err:
            assert "asset" in err.fields
            return
        assert info.config.market_id == "SOL-PERP"


class FailingStore(MemoryStrategyStore):
    """A strategies store whose disk is full after the first two saves."""

    def __init__(self) -> None:
        super().__init__()
        self.saves = 0

    def save(self, strategies: list[dict[str, Any]]) -> None:
        self.saves += 1
        if self.saves > 2:
            raise StrategyStoreError("strategies.toml: cannot write: No space left on device")
        super().save(strategies)


def test_a_failed_save_leaves_the_running_config_unchanged(tmp_path):
    with engine(tmp_path, FailingStore()) as e:
        old = e.manager.get(e.a).config
        saved = e.store.load()
        with pytest.raises(StrategyError, match="not saved, so not applied: .*No space"):
            e.run(e.manager.update(e.a, base_spread_bps="12"))
        assert e.manager.get(e.a).config == old and e.store.load() == saved
        with pytest.raises(StrategyError, match="not saved"):
            e.manager.create(name="new one", market_id="SOL-PERP")
        assert [i.config.name for i in e.manager.list()].count("new one") == 0


# --- 3. settings: a bad value names the setting, never a traceback --------------------------

@pytest.fixture
def no_desk_env(monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.startswith("DESK_"):
            monkeypatch.delenv(name)
    monkeypatch.setattr("desk.settings.default_config_path", lambda: tmp_path / "none.toml")


# DESK_* variable -> the setting its error must name
ENV = {
    "DESK_VENUE_URL": "venue_url",
    "DESK_ACCOUNT": "account",
    "DESK_REFERENCE": "reference",
    "DESK_WATCHDOG": "watchdog",
    "DESK_WATCHDOG_TIMEOUT_S": "watchdog_timeout_s",
    "DESK_STRATEGIES": "strategies",
    "DESK_VENUE": "venue",
    "DESK_ENGINE": "engine",
    "DESK_CLIENT": "client",
    "DESK_VENUE__SEED": "venue.seed",
    "DESK_VENUE__STARTING_BALANCE": "venue.starting_balance",
    "DESK_VENUE__MARKETS": "venue.markets",
    "DESK_ENGINE__GUARD_INTERVAL_S": "engine.guard_interval_s",
    "DESK_ENGINE__MAX_ORDER_ERRORS": "engine.max_order_errors",
    "DESK_ENGINE__PREVIEW": "engine.preview",
    "DESK_CLIENT__HEARTBEAT_TIMEOUT_S": "client.heartbeat_timeout_s",
}
env_text = st.one_of(
    st.text(alphabet=st.characters(exclude_characters="\x00", exclude_categories=("Cs",)),
            max_size=20),
    st.sampled_from(["nan", "inf", "-1", "0", "1e999999999", "[", "{", "[5]", '{"x": 1}',
                     "[{}]", '[{"name": 5}]', "null", "true", "ftp://x", "a b", "9" * 5000,
                     '{"seed": "x"}', '{"bogus": 1}']),
    huge_exp_text)


def _named(message: str, setting: str) -> bool:
    top = setting.split(".")[0]
    return setting in message or f'field "{top}"' in message


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.sampled_from(sorted(ENV)), env_text)
def test_a_bad_desk_variable_is_a_settings_error_naming_it(no_desk_env, name, value):
    os.environ[name] = value
    try:
        load_settings()
    except SettingsError as err:
        assert _named(str(err), ENV[name]), (name, value, str(err))
    finally:
        del os.environ[name]


# (section or None, key) -> the dotted setting name
TOML_SETTINGS = [(None, "venue_url"), (None, "account"), (None, "reference"),
                 (None, "watchdog"), (None, "watchdog_timeout_s"), (None, "strategies"),
                 (None, "key_dir"), ("venue", "seed"), ("venue", "heartbeat_s"),
                 ("venue", "starting_balance"), ("venue", "markets"), ("venue", "fee_tiers"),
                 ("engine", "pull_attempts"), ("engine", "min_requote_s"),
                 ("client", "heartbeat_timeout_s"), (None, "engine"), (None, "venue")]
toml_value = st.recursive(
    st.one_of(st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=12),
              st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=True, allow_infinity=True),
              st.booleans(), st.sampled_from(["1e999999999", "nan", "", "http://x y"])),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.sampled_from(["a", "seed", "market_id"]),
                                            inner, max_size=2)),
    max_leaves=6)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.sampled_from(TOML_SETTINGS), toml_value)
def test_a_bad_toml_setting_is_a_settings_error_naming_it(no_desk_env, tmp_path, where, value):
    section, key = where
    doc = {section: {key: value}} if section else {key: value}
    path = tmp_path / "desk.toml"
    try:
        path.write_text(tomli_w.dumps(doc), encoding="utf-8")
    except (TypeError, ValueError):
        assume(False)  # not expressible as TOML (e.g. a mixed-type array in a table)
    try:
        load_settings(path)
    except SettingsError as err:
        setting = f"{section}.{key}" if section else key
        # VenueConfig's whole-table rules (unique market ids, at least one market, the
        # first fee tier at volume 0) are reported on the table: `venue: ...`
        table_rule = section is not None and f"{section}: " in str(err)
        assert setting in str(err) or table_rule, (doc, str(err))


@pytest.mark.parametrize(("text", "words"), [
    (b"\xff\xfe[venue]\n", "cannot read settings"),
    (b"venue_url = 'http://x'\nvenue_url = 'http://y'\n", "cannot read settings"),
    (b"[engine]\npull_attempts = 1e999999999\n", "engine.pull_attempts"),
    (b'strategies = [5]\n', "strategies.0"),
])
def test_unreadable_or_odd_files_are_settings_errors(no_desk_env, tmp_path, text, words):
    path = tmp_path / "desk.toml"
    path.write_bytes(text)
    with pytest.raises(SettingsError, match=words.replace(".", r"\.")):
        load_settings(path)


def test_the_cli_prints_a_bad_setting_by_name_without_a_traceback(no_desk_env, tmp_path,
                                                                  capsys, monkeypatch):
    from desk.cli import main

    path = tmp_path / "desk.toml"
    path.write_text("[engine]\npull_attempts = 0\n")
    monkeypatch.setenv("DESK_WATCHDOG_TIMEOUT_S", "soon")
    code = main(["--config", str(path), "keys", "use", "ocx_kid_nothing"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("desk keys: invalid settings in ")
    assert "engine.pull_attempts" in err and "watchdog_timeout_s" in err
    assert "Traceback" not in err


DEEP = "x = " + "[" * 1000 + "]" * 1000 + "\n"


def test_a_deeply_nested_settings_file_is_a_settings_error(no_desk_env, tmp_path):
    path = tmp_path / "desk.toml"
    path.write_text(DEEP)
    with pytest.raises(SettingsError, match="cannot read settings"):
        load_settings(path)


# --- 4. the API-key form: a request or errors naming each field ------------------------------

LABELS = {"name": "name:", "scope": "scope:", "allowed_ips": "allowed IPs:",
          "expires": "expires in days:"}
an_ip = st.one_of(st.ip_addresses().map(str),
                  st.builds(lambda ip, n: f"{ip}/{n}", st.ip_addresses(v=4), st.integers(0, 32)),
                  st.sampled_from(["::/0", "10.0.0.0/8", "1.2.3.4/255.0.0.0", "::ffff:1.2.3.4"]))
ip_list_text = st.one_of(
    st.text(max_size=30),
    st.lists(st.one_of(an_ip, st.text(max_size=8)), max_size=5).map(", ".join),
    st.lists(an_ip, max_size=6).map(lambda xs: " , ".join(xs)))
days_text = st.one_of(st.text(max_size=8), st.integers(-5, 4000).map(str),
                      st.sampled_from(["", " ", "1_0", "٣", "１２", "9" * 5000, "3650", "3651",
                                       "0", "-1", "1.5", "1e3", " 30 "]))
name_text = st.one_of(st.text(max_size=70), long_text,
                      st.sampled_from(["", "   ", "\t", "x" * 64, "x" * 65, " " + "y" * 64]))
scope_text = st.one_of(st.sampled_from(["read", "trade", "Read", " read", "admin", ""]),
                       st.text(max_size=6))


@settings(max_examples=400, deadline=None)
@given(name_text, scope_text, ip_list_text, days_text)
def test_the_key_form_gives_a_request_or_errors_naming_each_field(name, scope, ips, days):
    request, errors = parse_key_request(name, scope, ips, days)
    if request is None:
        assert errors
        for field, message in errors.items():
            assert field in LABELS, errors
            assert message.startswith(LABELS[field]) and message[len(LABELS[field]):].strip()
    else:
        assert errors == {}
        assert isinstance(request, KeyRequest)
        assert request.name == name.strip() and 1 <= len(request.name) <= 64
        assert request.scope == scope
        assert request.allowed_ips == [p.strip() for p in ips.split(",") if p.strip()]
        for ip in request.allowed_ips:
            ipaddress.ip_network(ip, strict=False)
        if days.strip():
            assert request.expires_in_days is not None and 1 <= request.expires_in_days <= 3650
        else:
            assert request.expires_in_days is None
    # each field is judged on its own: what is wrong with it is named, whatever the others
    if not name.strip() or len(name.strip()) > 64:
        assert "name" in errors
    if scope not in ("read", "trade"):
        assert "scope" in errors
    if days.strip() and not days.strip().lstrip("+-").replace("_", "").isdigit():
        assert "expires" in errors


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=64),
       st.sampled_from(["read", "trade"]), st.lists(an_ip, max_size=32), days_text)
def test_what_the_key_form_accepts_the_venue_accepts(name, scope, ips, days):
    request, _ = parse_key_request(name, scope, ", ".join(ips), days)
    assume(request is not None)
    ApiKeyIn.model_validate({"name": request.name, "scope": request.scope,
                             "allowedIps": request.allowed_ips,
                             "expiresInDays": request.expires_in_days})


@pytest.mark.parametrize("ips", [", ".join(f"10.0.0.{i}" for i in range(33)),
                                 "fe80::1%" + "z" * 60], ids=["33-addresses", "long-scope-id"])
def test_the_key_form_refuses_what_the_venue_refuses(ips):
    request, errors = parse_key_request("bot", "read", ips, "")
    if request is None:
        assert "allowed_ips" in errors
        return
    ApiKeyIn.model_validate({"name": request.name, "scope": request.scope,
                             "allowedIps": request.allowed_ips,
                             "expiresInDays": request.expires_in_days})
