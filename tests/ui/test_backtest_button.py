"""The editor's Backtest button: it hands the edited values (not applied) to the backend
and shows the report; a refusal is shown in the dialog; the live strategy is unchanged.
Then the host's side for real: the quick backtest of a strategy in its own process,
which is terminated when the screen gives it up."""

from __future__ import annotations

import asyncio
import multiprocessing
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Input, Static

from desk import quick_backtest
from desk.control import ControlError, QuickBacktest
from desk.engine.config import EngineConfig, StrategyConfig
from desk.ui.app import DeskApp
from desk.ui.screens.backtest import BacktestScreen
from desk.ui.screens.editor import EditorScreen
from desk.venue.config import VenueConfig
from tests.ui.fixed_backend import Call, FixedBackend

SIZE = (160, 50)


def no_children(timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    return not multiprocessing.active_children()


async def edit_spread(pilot, spread: str) -> EditorScreen:
    """Open the editor on the selected strategy (BTC MM) and type a base spread."""
    await pilot.pause()
    await pilot.press("e")
    await pilot.pause()
    editor = pilot.app.screen
    assert isinstance(editor, EditorScreen)
    editor.query_one("#f-base_spread_bps", Input).value = spread
    await pilot.pause()
    return editor


async def test_ctrl_b_backtests_the_edited_values_without_applying_them():
    backend = FixedBackend()
    app = DeskApp(backend)
    async with app.run_test(size=SIZE) as pilot:
        editor = await edit_spread(pilot, "14")
        await pilot.press("ctrl+b")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, BacktestScreen)
        (call,) = [c for c in backend.calls if c.name == "backtest"]
        params = call.args[0]
        assert params["base_spread_bps"] == "14" and params["name"] == "BTC MM"
        StrategyConfig.model_validate(params)  # the whole strategy, as edited
        table = screen.query_one("#bt-table", DataTable)
        assert table.row_count == 7
        assert [str(c) for c in table.get_row_at(0)] == ["final PnL", "36.12", "4.87"]
        assert screen.result is not None and len(screen.result.pnl) == 301
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is editor
        # nothing reached the engine: no update call was made
        assert not [c for c in backend.calls if c.name != "backtest"]


async def test_the_button_is_off_while_a_field_is_wrong():
    backend = FixedBackend()
    app = DeskApp(backend)
    async with app.run_test(size=SIZE) as pilot:
        editor = await edit_spread(pilot, "70")  # > max_spread_bps 50
        assert editor.query_one("#backtest").disabled
        await pilot.press("ctrl+b")
        await pilot.pause()
        assert isinstance(app.screen, EditorScreen)
        assert not [c for c in backend.calls if c.name == "backtest"]


async def test_a_refusal_is_shown_in_the_dialog():
    async def refuse() -> QuickBacktest:
        raise ControlError("market_id: no simulation settings for 'XYZ-PERP'")

    app = DeskApp(FixedBackend())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await app.push_screen(BacktestScreen("Backtest of x", refuse))
        await app.workers.wait_for_complete()
        await pilot.pause()
        status = app.screen.query_one("#bt-status", Static)
        assert "not run: market_id: no simulation settings for 'XYZ-PERP'" in \
            str(status.render())
        assert not app.screen.query_one("#bt-body").display


def test_build_names_a_bad_field_and_an_unknown_market():
    venue, engine = VenueConfig(), EngineConfig()
    good = {"name": "t", "market_id": "BTC-PERP", "quote_size": "0.05",
            "min_quote_size": "0.01", "max_quote_size": "0.5"}
    config = quick_backtest.build(good, venue, engine)
    assert [m.market_id for m in config.venue.markets] == ["BTC-PERP"]
    assert config.backtest.runs == quick_backtest.RUNS
    with pytest.raises(ControlError, match="quote_size"):
        quick_backtest.build({**good, "quote_size": "-1"}, venue, engine)
    with pytest.raises(ControlError, match="XYZ-PERP"):
        quick_backtest.build({**good, "market_id": "XYZ-PERP"}, venue, engine)
    like = quick_backtest.market_like("XYZ-PERP", Decimal("0.5"), Decimal("0.1"),
                                      Decimal("0.1"), Decimal("1234.3"))
    config = quick_backtest.build({**good, "market_id": "XYZ-PERP", "quote_size": "1",
                                   "min_quote_size": "0.1", "max_quote_size": "5"},
                                  venue, engine, like)
    assert config.venue.markets[0].initial_price == like.initial_price
    assert like.initial_price % like.tick_size == 0


BTC = {"market_id": "BTC-PERP", "quote_size": "0.05", "min_quote_size": "0.01",
       "max_quote_size": "0.5", "max_position": "1", "soft_position_limit": "0.7",
       "hedge_threshold": "0.8", "hedge_target": "0.3"}


async def test_the_quick_backtest_runs_in_its_own_process():
    config = quick_backtest.build({"name": "quick", **BTC}, VenueConfig(), EngineConfig(),
                                  runs=2, duration_s=30)
    result = await asyncio.wait_for(quick_backtest.run(config), 60)
    assert result.title.startswith("quick on BTC-PERP: 2 runs")
    assert [r[0] for r in result.rows][:3] == ["final PnL", "final inventory", "fills"]
    assert len(result.t) == len(result.pnl) == len(result.inventory) == 31
    assert result.t[-1] == pytest.approx(30.0)


async def test_a_quick_backtest_given_up_leaves_no_process():
    config = quick_backtest.build({"name": "long", **BTC}, VenueConfig(), EngineConfig(),
                                  runs=50, duration_s=3600)
    task = asyncio.create_task(quick_backtest.run(config))
    await asyncio.sleep(1.0)
    assert multiprocessing.active_children()  # the worker is busy
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(no_children)


# --- in a real terminal: sys.stderr is Textual's capture, whose fileno() is -1 ---------

class CapturedStderr:
    """What Textual puts in `sys.stderr` while the app runs (`textual.app._PrintCapture`):
    it takes writes and has no file descriptor."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        self.text += text
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return True

    def fileno(self) -> int:
        return -1


CAPTURED_RUN = f"""
import asyncio, sys
sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
from desk import quick_backtest
from desk.engine.config import EngineConfig
from desk.venue.config import VenueConfig
from tests.ui.test_backtest_button import BTC, CapturedStderr

config = quick_backtest.build({{"name": "quick", **BTC}}, VenueConfig(), EngineConfig(),
                              runs=1, duration_s=5)
real, sys.stderr = sys.stderr, CapturedStderr()
try:
    result = asyncio.run(quick_backtest.run(config))
finally:
    sys.stderr = real
print(result.title)
"""


def test_a_quick_backtest_runs_while_stderr_has_no_file_descriptor():
    """A fresh interpreter (no resource tracker yet, as in a desk that just started),
    stderr replaced as Textual replaces it: the spawn works and the result comes back.
    Before the fix: ValueError('bad value(s) in fds_to_keep')."""
    out = subprocess.run([sys.executable, "-c", CAPTURED_RUN], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("quick on BTC-PERP: 1 runs"), out.stdout


class RealBacktest(FixedBackend):
    """The fixed desk, but ctrl+b runs the quick backtest for real, in its process."""

    async def backtest(self, params: dict[str, Any]) -> QuickBacktest:
        self.calls.append(Call("backtest", (dict(params),), {}))
        config = quick_backtest.build(params, VenueConfig(), EngineConfig(), runs=1,
                                      duration_s=5)
        return await quick_backtest.run(config)


def _stop_resource_tracker() -> None:
    """So the next pool starts it again, as the first ctrl+b of a desk does. Earlier
    pools' semaphores are collected first: a stopped tracker unlinks what it still holds."""
    import gc
    from multiprocessing import resource_tracker

    gc.collect()

    stop = getattr(resource_tracker._resource_tracker, "_stop", None)
    if stop is not None:
        stop()


async def test_ctrl_b_in_the_app_runs_the_real_backtest_under_textuals_capture():
    _stop_resource_tracker()
    backend = RealBacktest()
    app = DeskApp(backend)
    async with app.run_test(size=SIZE) as pilot:
        # the real condition: while the app runs, stderr is Textual's capture
        assert sys.stderr.fileno() == -1
        editor = await edit_spread(pilot, "14")
        await pilot.press("ctrl+b")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, BacktestScreen)
        deadline = time.monotonic() + 90
        while screen.result is None and time.monotonic() < deadline:
            status = str(screen.query_one("#bt-status", Static).render())
            assert "not run" not in status and "failed" not in status, status
            await asyncio.sleep(0.2)
        assert screen.result is not None, str(screen.query_one("#bt-status",
                                                                Static).render())
        assert screen.result.title.startswith("BTC MM on BTC-PERP: 1 runs")
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is editor
    assert await asyncio.to_thread(no_children)


def test_the_hosts_children_start_while_stderr_has_no_file_descriptor(tmp_path):
    """The engine host's own children (the embedded venue, the watchdog: started before
    the app, restarted while it runs) with stderr replaced as Textual replaces it."""
    from desk.launch import EmbeddedVenue
    from desk.watchdog import Orders, Watchdog

    real, sys.stderr = sys.stderr, CapturedStderr()
    try:
        venue = EmbeddedVenue(seed=1)
        venue.spawn()
        try:
            assert venue.wait_ready(30).startswith("http://127.0.0.1:")
        finally:
            venue.stop()
        dog = Watchdog(Orders("http://127.0.0.1:9", "not-a-key", 600.0,
                              str(tmp_path / "watchdog.log"), give_up_s=1.0))
        dog.start()
        try:
            assert dog.alive
        finally:
            dog.stop()
    finally:
        sys.stderr = real
