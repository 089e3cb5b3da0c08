"""The detail screen (`d`) says what its numbers count (issue 14): today beside the total
with what was carried in, closes won as a count, no Sharpe before it means something,
the max drawdown in currency and %, and recent fills from the strategy's own record even
when the event ring holds none of them (a stream reconnect's chatter emptied it)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from desk.ui.app import DeskApp
from desk.ui.screens.detail import DetailScreen
from tests.ui.fixed_backend import FixedBackend
from tests.ui.pilot_support import screen_text

D = Decimal
SIZE = (160, 50)


def _backend(**metrics: object) -> FixedBackend:
    """The fixed desk, BTC MM's metrics changed, and no event left in the view."""
    backend = FixedBackend()
    view = backend._views["normal"]
    strategies = tuple(replace(s, metrics=replace(s.metrics, **metrics))
                       if s.id == "btc-mm" else s for s in view.strategies)
    backend._views["normal"] = replace(view, strategies=strategies, events=())
    return backend


async def _detail_text(backend: FixedBackend) -> str:
    app = DeskApp(backend)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.main.selected == "btc-mm"
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen)
        await pilot.pause(0.3)
        return screen_text(app)


async def test_an_early_strategy_shows_no_sharpe_and_no_close_yet():
    text = await _detail_text(_backend(
        total_pnl=D("6.32"), daily_pnl=D("6.80"), sharpe_ratio=None, win_rate=None,
        wins=0, closes=0, max_drawdown=D("31.20"), max_drawdown_pct=0.0031))
    assert "today (UTC)" in text and "+6.80" in text and "+6.32" in text
    assert "carried in" in text and "-0.48" in text        # total − today
    assert "– (no close yet)" in text
    lines = [line for line in text.splitlines() if "Sharpe" in line]
    assert lines and lines[0].split("Sharpe")[1].strip(" │").split()[0] == "–"
    assert "31.20 (<0.01 %)" in text                       # never a bare 0.00 %
    assert "win rate" not in text


async def test_closes_won_a_drawdown_and_fills_without_any_event():
    text = await _detail_text(_backend(
        total_pnl=D("-31.00"), daily_pnl=D("-31.00"), win_rate=100.0, wins=2, closes=2,
        sharpe_ratio=1.25, max_drawdown=D("1250.50"), max_drawdown_pct=1.25))
    assert "2/2 (100%)" in text and "1.25" in text
    assert "1,250.50 (1.25 %)" in text
    assert "carried in" not in text                       # started today: today is total
    # the two BTC fills of the fixed desk, newest first, though the view has no events
    assert "none yet" not in text
    sell, buy = text.index("sell 0.1 @ 64,044.00"), text.index("buy  0.1 @ 63,970.00")
    assert sell < buy
