"""Sizes and leverage against the embedded venue (BTC-PERP near 64,000 on a 100,000
account): a new strategy is sized from price and equity; a strategy whose max_position
is worth more than warn_leverage × equity starts with a warning event; past the
engine's max_leverage it is refused on update and start, naming max_position (created, it
waits stopped: the price may differ by the time it starts)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from desk.engine.config import EngineConfig
from desk.engine.events import EventType, Severity
from desk.engine.manager import StrategyConfigError
from desk.engine.strategy import State
from tests.integration.conftest import BTC
from tests.integration.engine_support import FAST_ENGINE, desk_on
from tests.integration.test_engine_quoting import TIGHT, post_book
from tests.integration.test_ocx_streams import eventually

D = Decimal


def exposure_events(d, sid):  # noqa: ANN001, ANN201
    return [e for e in d.recorder.of(EventType.ERROR, sid) if e.data.get("code") == "EXPOSURE"]


async def test_a_new_strategy_is_sized_from_price_and_equity(venue, trader, counterparty):
    post_book(counterparty, *TIGHT)  # mid 64,000
    async with desk_on(venue, trader) as d:
        await eventually(lambda: d.venue.book(BTC).mid() is not None, 5)
        sizes = d.manager.suggested_sizes(BTC)
        assert sizes is not None
        assert sizes["quote_size"] == "0.015" and sizes["max_position"] == "0.312"
        assert d.manager.suggested_sizes("NOPE-PERP") is None
        info = d.manager.create(name="sized", market_id=BTC, **sizes)
        await d.manager.start(info.id)
        assert not exposure_events(d, info.id)  # 0.31x: nothing to say


async def test_the_default_max_position_on_btc_starts_with_a_leverage_warning(
        venue, trader, counterparty):
    post_book(counterparty, *TIGHT)
    async with desk_on(venue, trader) as d:
        await eventually(lambda: d.venue.book(BTC).mid() is not None, 5)
        info = d.manager.create(name="generic", market_id=BTC)  # max_position 10 BTC
        await d.manager.start(info.id)
        leverage, order = exposure_events(d, info.id)
        assert leverage.severity is order.severity is Severity.WARNING
        assert leverage.data["leverage"] == "6.40"
        assert leverage.data["max_notional"] == "640000"
        assert "above warn_leverage 3x" in leverage.data["message"]
        # and 1 BTC a side (the generic quote_size) is 64 % of equity an order
        assert "64.0% of the account's equity" in order.data["message"]
        assert d.manager.get(info.id).state is State.RUNNING


async def test_past_max_leverage_is_refused_on_start_and_update(venue, trader, counterparty):
    post_book(counterparty, *TIGHT)
    async with desk_on(venue, trader) as d:
        await eventually(lambda: d.venue.book(BTC).mid() is not None, 5)
        big = {"max_position": "20", "soft_position_limit": "7"}  # 1,280,000: 12.8x
        created = d.manager.create(name="big", market_id=BTC, **big)
        with pytest.raises(StrategyConfigError) as refused:
            await d.manager.start(created.id)
        assert set(refused.value.fields) == {"max_position"}
        assert "max_leverage is 10x" in refused.value.fields["max_position"]
        assert d.manager.get(created.id).state is not State.RUNNING
        assert not await d.venue.open_orders(BTC)

        info = d.manager.create(name="ok", market_id=BTC)
        await d.manager.start(info.id)
        with pytest.raises(StrategyConfigError) as refused:
            await d.manager.update(info.id, **big)
        assert "max_position" in refused.value.fields
        assert d.manager.get(info.id).config.max_position == D(10)  # unchanged

        # a stopped strategy's update is checked the same way
        await d.manager.stop(info.id)
        with pytest.raises(StrategyConfigError):
            await d.manager.update(info.id, **big)


async def test_a_loaded_strategy_past_the_limit_is_refused_at_start(venue, trader,
                                                                    counterparty):
    """A strategy from the settings file (never created through create) meets the limit
    when it starts; a desk that allows more leverage starts it."""
    post_book(counterparty, *TIGHT)
    strict = EngineConfig.model_validate({**FAST_ENGINE.model_dump(), "max_leverage": 5})
    async with desk_on(venue, trader, engine=strict) as d:
        await eventually(lambda: d.venue.book(BTC).mid() is not None, 5)
        info = d.manager.create(name="generic", market_id=BTC, max_position="7.5")  # 4.8x
        # as if loaded from the file: max_position 10 is 6.4x, past max_leverage 5
        d.manager.strategies[info.id].config = d.manager.strategies[info.id].config.changed(
            max_position="10")
        with pytest.raises(StrategyConfigError, match="max_position"):
            await d.manager.start(info.id)
        assert d.manager.get(info.id).state is not State.RUNNING


async def test_a_running_strategy_is_warned_again_only_when_its_exposure_changes(
        venue, trader, counterparty):
    post_book(counterparty, *TIGHT)
    async with desk_on(venue, trader) as d:
        await eventually(lambda: d.venue.book(BTC).mid() is not None, 5)
        info = d.manager.create(name="generic", market_id=BTC, quote_size="0.01",
                                min_quote_size="0.001")  # max_position 10: 6.4x
        await d.manager.start(info.id)
        assert len(exposure_events(d, info.id)) == 1
        await d.manager.update(info.id, base_spread_bps=20)  # not about size: no repeat
        assert len(exposure_events(d, info.id)) == 1
        await d.manager.update(info.id, max_position="12", soft_position_limit="8")  # 7.7x
        events = exposure_events(d, info.id)
        assert len(events) == 2 and events[-1].data["leverage"] == "7.68"
