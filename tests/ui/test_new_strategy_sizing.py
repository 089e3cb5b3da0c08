"""`n` on a real desk (engine host, embedded venue: BTC-PERP near 64,000, a 100,000
account): once the market is typed, the editor's size fields come from the market's
price and the account's equity, not the generic 1-a-side and 10 limit; a field the
operator typed keeps its value; the strategy created carries those sizes."""

from __future__ import annotations

from decimal import Decimal

import pytest
from textual.widgets import Input

from desk.host import EngineHost
from desk.ui.app import DeskApp
from desk.ui.screens.new_strategy import NewStrategyEditor
from tests.ui.pilot_support import SIZE, eventually, type_into

pytestmark = pytest.mark.asyncio(loop_scope="module")
D = Decimal


def field(screen: NewStrategyEditor, name: str) -> Input:
    return screen.query_one(f"#f-{name}", Input)


async def test_n_on_btc_perp_gets_a_size_from_price_and_equity(host: EngineHost) -> None:
    app = DeskApp(host)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await eventually(lambda: app.main.is_attached and app.main.selected is not None,
                         pilot=pilot, what="the main screen")
        await pilot.press("n")
        await pilot.pause()
        ed = app.screen
        assert isinstance(ed, NewStrategyEditor)
        assert field(ed, "quote_size").value == "1.0"  # no market yet: the defaults
        await type_into(pilot, field(ed, "hedge_target"), "0.01", paste=True)  # typed
        await type_into(pilot, field(ed, "market_id"), "BTC-PERP", paste=True)
        await eventually(lambda: field(ed, "quote_size").value != "1.0", 10, pilot=pilot,
                         what="the sizes filled for BTC-PERP")
        quote = D(field(ed, "quote_size").value)
        limit = D(field(ed, "max_position").value)
        price = D(64000)  # the embedded market's starting price; it wanders a little
        assert D("0.005") <= quote <= D("0.03"), quote      # ~1 % of 100,000 at ~64,000
        assert D("0.2") <= limit <= D("0.4"), limit          # ~20 %
        assert quote % D("0.001") == 0 and limit % D("0.001") == 0  # on the market's step
        assert field(ed, "hedge_target").value == "0.01"     # what was typed stays

        await type_into(pilot, field(ed, "name"), "Sized MM", paste=True)
        await pilot.press("ctrl+s")
        await eventually(lambda: app.screen is app.main, 10, pilot=pilot,
                         what="the editor applied and closed")
        s = await eventually(lambda: next((v for v in host.view().strategies
                                           if v.name == "Sized MM"), None), 5, pilot=pilot,
                             what="the new strategy")
        assert s.config.quote_size == quote and s.config.max_position == limit
        assert s.config.max_position * price / D(100_000) < D("0.5")
