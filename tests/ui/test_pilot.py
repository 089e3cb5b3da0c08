"""Pilot tests of the desk TUI against the real thing: an `EngineHost` with its embedded
venue child process on 127.0.0.1, three default strategies quoting, and an independent
read of the venue (`VenueReader`: a read key made through the dev session, plain httpx).

One host serves most tests (module scope); each test undoes what the previous ones
left (`ensure_defaults_running`). Tests that stop a host (persistence, quit) build
their own. All tests share one event loop, as the kill switch's client lives on the
screen's loop.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from textual.command import CommandList, CommandPalette
from textual.widgets import Button, DataTable, Input, Select, Static

from desk.host import EngineHost
from desk.ui.app import DeskApp
from desk.ui.screens.detail import DetailScreen
from desk.ui.screens.editor import EditorScreen
from desk.ui.screens.help import HelpScreen
from desk.ui.screens.keys import CreateKeyModal, KeysScreen
from desk.ui.screens.modals import Choice, QuitModal, SecretModal
from tests.ui.pilot_support import (
    DEFAULT_NAMES,
    SIZE,
    VenueReader,
    by_name,
    desk_settings,
    ensure_defaults_running,
    eventually,
    holds,
    press_button,
    press_for_choice,
    raw_screenshot,
    screen_text,
    select_strategy,
    start_host,
    toasts,
    type_into,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


# --- fixtures (host and reader: tests/ui/conftest.py) ---------------------------------------

@pytest_asyncio.fixture(loop_scope="module")
async def ready(host: EngineHost, reader: VenueReader) -> EngineHost:
    """The shared host with the three default strategies running and resting orders."""
    await ensure_defaults_running(host, reader)
    return host


async def started(app: DeskApp, pilot) -> None:  # noqa: ANN001
    await eventually(lambda: app.main.is_attached and app.main.selected is not None,
                     pilot=pilot, what="the main screen with a strategy selected")


def defaults(host: EngineHost) -> list:
    return [by_name(host, n) for n in DEFAULT_NAMES]


def editor(app: DeskApp) -> EditorScreen:
    screen = app.screen
    assert isinstance(screen, EditorScreen), f"expected the editor, got {screen!r}"
    return screen


# --- 1. panic and re-arm --------------------------------------------------------------------

async def test_panic_pulls_every_quote_and_rearm_restores(ready: EngineHost,
                                                          reader: VenueReader) -> None:
    host = ready
    markets = [s.market_id for s in defaults(host)]
    assert all(reader.open_counts().get(m, 0) > 0 for m in markets)
    app = DeskApp(host)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await started(app, pilot)
        assert not app.main.banner.display
        assert "ALL QUOTES PULLED" not in screen_text(app)

        await pilot.press("ctrl+k")

        def stood_down() -> bool:
            v = host.view()
            return bool(v and v.panicked and all(s.state == "stopped" for s in defaults(host)))

        await eventually(stood_down, 10, pilot=pilot, what="panic: every strategy stopped")
        orders = reader.orders()
        assert orders == [], f"{len(orders)} orders still rest after the panic"
        # nothing quotes again while panicked
        await holds(lambda: reader.orders() == [], 1.0, pilot=pilot,
                    what="zero resting orders after the panic")
        assert all(s.state == "stopped" for s in defaults(host))
        assert host.view().resting == 0
        await eventually(lambda: app.main.banner.display, 3, pilot=pilot,
                         what="the panic banner")
        assert "every strategy stood down" in screen_text(app)
        await eventually(lambda: any(t.startswith("ALL QUOTES PULLED:") for t in toasts(app)),
                         3, pilot=pilot, what="the panic report toast")

        # p is refused while panicked: nothing starts quoting
        await pilot.press("p")
        await pilot.pause(0.5)
        assert by_name(host, "BTC MM").state == "stopped"
        assert reader.orders() == []

        await press_for_choice(pilot, app, "ctrl+r", "the re-arm confirmation")
        assert "Re-arm the desk?" in screen_text(app)
        await pilot.click("#yes")

        def back() -> bool:
            v = host.view()
            return bool(v and not v.panicked
                        and all(s.state == "running" for s in defaults(host)))

        await eventually(back, 10, pilot=pilot, what="re-arm: strategies running")
        await eventually(lambda: all(reader.open_counts().get(m, 0) > 0 for m in markets),
                         10, pilot=pilot, what="orders resting again on every market")
        await eventually(lambda: not app.main.banner.display, 3, pilot=pilot,
                         what="the banner gone")
        assert not app.panicked
        assert any(t.startswith("re-armed; 3 strategies restarted") for t in toasts(app))


# --- 2. pause / resume ---------------------------------------------------------------------

async def test_pause_pulls_only_the_selected_strategy_and_resume_brings_it_back(
        ready: EngineHost, reader: VenueReader) -> None:
    host = ready
    eth = by_name(host, "ETH MM")
    others = [s.market_id for s in defaults(host) if s.id != eth.id]
    app = DeskApp(host)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await started(app, pilot)
        await select_strategy(pilot, app, eth.id)

        await pilot.press("p")
        await eventually(lambda: by_name(host, "ETH MM").state == "paused", 5, pilot=pilot,
                         what="ETH MM paused")
        await eventually(lambda: reader.open_counts().get(eth.market_id, 0) == 0, 5,
                         pilot=pilot, what="no ETH orders at the venue")
        await holds(lambda: reader.open_counts().get(eth.market_id, 0) == 0, 1.0,
                    pilot=pilot, what="ETH stays without orders")
        counts = reader.open_counts()
        assert all(counts.get(m, 0) > 0 for m in others), counts
        assert all(by_name(host, n).state == "running" for n in ("BTC MM", "SOL MM"))

        await pilot.press("p")
        await eventually(lambda: by_name(host, "ETH MM").state == "running", 5, pilot=pilot,
                         what="ETH MM running again")
        await eventually(lambda: reader.open_counts().get(eth.market_id, 0) > 0, 10,
                         pilot=pilot, what="ETH orders resting again")


# --- 3. edit, validation, cancel, persistence ------------------------------------------------

async def test_edit_applies_live_validates_cancels_and_persists(tmp_path: Path) -> None:
    settings = desk_settings(tmp_path)
    first = start_host(settings)
    try:
        btc = by_name(first, "BTC MM")
        before = btc.config.base_spread_bps
        new = before + Decimal(7)
        assert btc.config.min_spread_bps < new < btc.config.max_spread_bps
        toml_before = settings.strategies_path.read_text()
        app = DeskApp(first)
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await started(app, pilot)
            await select_strategy(pilot, app, btc.id)

            # an invalid value: the error under the field, Apply disabled
            await pilot.press("e")
            ed = editor(app)
            field = ed.query_one("#f-base_spread_bps", Input)
            assert field.value == str(before)
            await type_into(pilot, field, "x")
            err = ed.query_one("#e-base_spread_bps", Static)
            assert err.display
            assert str(err.render()).strip(), "no message under the field"
            assert ed.query_one("#apply", Button).disabled
            assert field.has_class("-invalid")
            await pilot.press("ctrl+s")  # refused: the screen stays, nothing sent
            await pilot.pause(0.2)
            assert app.screen is ed
            assert by_name(first, "BTC MM").config.base_spread_bps == before

            # a valid value, then cancel: nothing changes
            await type_into(pilot, field, str(new), paste=True)
            assert not err.display
            assert not ed.query_one("#apply", Button).disabled
            await pilot.press("escape")
            await eventually(lambda: app.screen is app.main, 3, pilot=pilot,
                             what="the editor closed")
            await pilot.pause(0.3)
            assert by_name(first, "BTC MM").config.base_spread_bps == before
            assert settings.strategies_path.read_text() == toml_before

            # a valid value, ctrl+s: the engine takes it
            await pilot.press("e")
            ed = editor(app)
            await type_into(pilot, ed.query_one("#f-base_spread_bps", Input), str(new),
                            paste=True)
            await pilot.press("ctrl+s")
            await eventually(lambda: app.screen is app.main, 5, pilot=pilot,
                             what="the editor applied and closed")
            await eventually(
                lambda: by_name(first, "BTC MM").config.base_spread_bps == new, 5,
                pilot=pilot, what="the engine's config changed")
            cfg = await first.control(lambda m: _async(m.get(btc.id).config))
            assert cfg.base_spread_bps == new
            assert cfg.quote_size == btc.config.quote_size  # only the edited field
            # the running strategy quotes with it (fixed spread model: the ladder's spread)
            assert cfg.spread_model == "fixed"
            await eventually(lambda: by_name(first, "BTC MM").spread_bps == float(new), 5,
                             pilot=pilot, what="the ladder quoting the new spread")
            assert "BTC MM updated" in toasts(app)
    finally:
        first.stop()

    second = start_host(settings)
    try:
        again = by_name(second, "BTC MM")
        assert again.id == btc.id
        assert again.config.base_spread_bps == new
        assert {s.name for s in second.view().strategies} >= set(DEFAULT_NAMES)
    finally:
        second.stop()


async def _async(value):  # noqa: ANN001, ANN202
    return value


# --- 4. new strategy ---------------------------------------------------------------------------

async def test_new_strategy_is_created_and_a_refusal_shows_on_its_field(
        ready: EngineHost) -> None:
    host = ready
    count = len(host.view().strategies)
    app = DeskApp(host)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await started(app, pilot)
        await pilot.press("n")
        ed = editor(app)
        name = ed.query_one("#f-name", Input)
        market = ed.query_one("#f-market_id", Input)
        # a name taken already: refused by the engine, shown on the field, screen stays
        await type_into(pilot, name, "BTC MM", paste=True)
        await type_into(pilot, market, "BTC-PERP", paste=True)
        assert not ed.query_one("#apply", Button).disabled
        await pilot.press("ctrl+s")
        err = ed.query_one("#e-name", Static)
        await eventually(lambda: err.display and "exists already" in str(err.render()), 5,
                         pilot=pilot, what="the duplicate-name refusal under the field")
        assert app.screen is ed
        assert len(host.view().strategies) == count

        await type_into(pilot, name, "Pilot MM", paste=True)
        await pilot.press("ctrl+s")
        await eventually(lambda: app.screen is app.main, 5, pilot=pilot,
                         what="the editor applied and closed")

        def created():  # noqa: ANN202
            v = host.view()
            return next((s for s in v.strategies if s.name == "Pilot MM"), None)

        s = await eventually(created, 5, pilot=pilot, what="the new strategy in the view")
        assert s.market_id == "BTC-PERP"
        assert s.state in ("created", "stopped")
        assert len(host.view().strategies) == count + 1
        await eventually(lambda: "Pilot MM" in screen_text(app), 3, pilot=pilot,
                         what="the new strategy's panel")
        assert "Pilot MM" in host.settings.strategies_path.read_text()


async def test_new_strategy_editor_starts_with_empty_name_and_market(
        ready: EngineHost) -> None:
    app = DeskApp(ready)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await started(app, pilot)
        await pilot.press("n")
        ed = editor(app)
        values = (ed.query_one("#f-name", Input).value,
                  ed.query_one("#f-market_id", Input).value)
        await pilot.press("escape")
        assert values == ("", "")


# --- 5. stop (keep) and flatten ----------------------------------------------------------------

async def test_stop_keeps_the_position_and_flatten_closes_it(ready: EngineHost,
                                                             reader: VenueReader) -> None:
    host = ready

    def holder():  # noqa: ANN202
        positions = reader.positions()
        for s in defaults(host):
            q = positions.get(s.market_id, Decimal(0))
            if q != 0 and s.position == q:
                return s
        return None

    try:
        s = await eventually(holder, 15, interval=0.2, what="a strategy holding a position")
    except AssertionError:
        pytest.skip("the simulated flow filled none of our quotes within 15 s")
    app = DeskApp(host)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await started(app, pilot)
        await select_strategy(pilot, app, s.id)

        await press_for_choice(pilot, app, "s", "the stop choice")
        assert "Stop and flatten" in screen_text(app)
        await pilot.click("#keep")
        await eventually(lambda: by_name(host, s.name).state == "stopped", 5, pilot=pilot,
                         what=f"{s.name} stopped")
        await eventually(lambda: reader.open_counts().get(s.market_id, 0) == 0, 5,
                         pilot=pilot, what="its orders pulled")
        await pilot.pause(0.3)
        kept = by_name(host, s.name).position
        venue_qty = reader.positions().get(s.market_id, Decimal(0))
        assert kept != 0, "stop without flatten closed the position"
        assert venue_qty == kept
        others = [x.market_id for x in defaults(host) if x.id != s.id]
        counts = reader.open_counts()
        assert all(counts.get(m, 0) > 0 for m in others), counts

        await press_for_choice(pilot, app, "f", "the flatten confirmation")
        assert "Flatten" in screen_text(app)
        await pilot.click("#yes")
        await eventually(lambda: reader.positions().get(s.market_id, Decimal(0)) == 0, 10,
                         pilot=pilot, what="the venue position closed")
        await eventually(lambda: by_name(host, s.name).position == 0, 5, pilot=pilot,
                         what="the strategy's position zero")
        assert by_name(host, s.name).state == "stopped"
        assert reader.open_counts().get(s.market_id, 0) == 0


# --- 6. detail -----------------------------------------------------------------------------------

async def test_detail_shows_the_strategy_and_escape_returns(ready: EngineHost) -> None:
    host = ready
    sol = by_name(host, "SOL MM")
    app = DeskApp(host)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await started(app, pilot)
        await select_strategy(pilot, app, sol.id)
        await pilot.press("d")
        await eventually(lambda: isinstance(app.screen, DetailScreen), 3, pilot=pilot,
                         what="the detail screen")
        title = app.screen.query_one("#detail-title", Static)
        await eventually(lambda: "SOL MM" in str(title.render()), 3, pilot=pilot,
                         what="the strategy's name in the title")
        text = screen_text(app)
        assert "SOL-PERP" in text and sol.id in text
        assert "BTC MM" not in str(title.render())
        await pilot.press("escape")
        await eventually(lambda: app.screen is app.main, 3, pilot=pilot,
                         what="back on the main screen")


# --- 7. API keys ----------------------------------------------------------------------------------

async def _cursor_to(pilot, table: DataTable, row: int) -> None:  # noqa: ANN001
    table.focus()
    await pilot.pause()
    for _ in range(50):
        if table.cursor_row == row:
            return
        await pilot.press("down" if table.cursor_row < row else "up")
    raise AssertionError(f"could not move the cursor to row {row}")


async def open_keys(app: DeskApp, pilot: Any, listed: Any) -> KeysScreen:
    """Press `a`; the keys screen once its list satisfies `listed(rows)`."""
    await pilot.press("a")
    await eventually(lambda: isinstance(app.screen, KeysScreen), 3, pilot=pilot,
                     what="the keys screen")
    keys = app.screen
    await eventually(lambda: listed(keys.rows), 5, pilot=pilot, what="the key list")
    return keys


def engine_key_of(host: EngineHost):  # noqa: ANN201
    """The host's desk and the key its engine trades with."""
    desk = host.desk
    assert desk is not None
    engine_key = desk.keys.in_use(desk.url)
    assert engine_key is not None
    return desk, engine_key


async def test_keys_create_shows_the_secret_once_and_revoke(ready: EngineHost,
                                                            reader: VenueReader) -> None:
    host = ready
    desk, engine_key = engine_key_of(host)
    app = DeskApp(host)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await started(app, pilot)
        keys = await open_keys(app, pilot, lambda rows: len(rows) >= 3)
        ids = {k.id for k in keys.rows}
        assert {engine_key.id, desk.kill_key_id, reader.key_id} <= ids
        assert [k.id for k in keys.rows if k.in_use] == [engine_key.id]
        text = screen_text(app)
        assert "desk-engine" in text and "pilot-reader" in text
        assert "ocx_sk_" not in raw_screenshot(app)

        # create: name, scope trade, Create -> the secret, once
        await pilot.press("c")
        await eventually(lambda: isinstance(app.screen, CreateKeyModal), 3, pilot=pilot,
                         what="the create-key modal")
        modal = app.screen
        await type_into(pilot, modal.query_one("#key-name", Input), "pilot-made", paste=True)
        scope = modal.query_one("#key-scope", Select)
        scope.focus()
        await pilot.press("enter")
        await pilot.press("down")
        await pilot.press("enter")
        await eventually(lambda: scope.value == "trade", 3, pilot=pilot,
                         what="scope trade picked")
        await pilot.click("#create")
        await eventually(lambda: isinstance(app.screen, SecretModal), 5, pilot=pilot,
                         what="the secret modal")
        secret_modal = app.screen
        secret = str(secret_modal.query_one("#secret-value", Static).render()).strip()
        shaped = secret.startswith("ocx_sk_") and len(secret) > 20
        assert shaped, "the secret modal does not show an ocx_sk_ secret"
        # drawn a frame after the push (a loaded machine can take a while)
        await eventually(lambda s=secret: s in raw_screenshot(app), 5, pilot=pilot,
                         what="the secret on screen while the modal is open")
        works = reader.status_with(secret)
        assert works == 200, f"the new key does not work at the venue: {works}"
        new_id = next(k for k, v in reader.keys().items() if v["name"] == "pilot-made")
        assert reader.keys()[new_id]["scope"] == "trade"

        await pilot.click("#close")
        await eventually(lambda: app.screen is keys, 3, pilot=pilot,
                         what="back on the keys screen")
        await eventually(lambda: any(k.id == new_id for k in keys.rows), 5, pilot=pilot,
                         what="the new key listed")
        await pilot.pause(0.2)
        shot = raw_screenshot(app)
        leaked = secret in shot or "ocx_sk_" in shot
        assert not leaked, "a secret is on screen after the modal closed"
        assert "pilot-made" in screen_text(app)
        row = next(k for k in keys.rows if k.id == new_id)
        assert row.scope == "trade" and row.status == "active" and row.stored

        # revoke it, after the confirmation
        await _cursor_to(pilot, keys.query_one(DataTable),
                         [k.id for k in keys.rows].index(new_id))
        await press_for_choice(pilot, app, "r", "the revoke confirmation")
        assert "pilot-made" in screen_text(app)
        await pilot.click("#yes")
        await eventually(lambda: reader.keys()[new_id]["status"] == "revoked", 5,
                         pilot=pilot, what="the key revoked at the venue")
        await eventually(
            lambda: all(k.status == "revoked" for k in keys.rows if k.id == new_id), 5,
            pilot=pilot, what="the list showing it revoked (or gone)")
        refused = reader.status_with(secret)
        assert refused in (401, 403, 409), f"a revoked key still reads: {refused}"
        del secret

        # the engine's own key, and the kill switch's: refused, with a message
        for key_id, why in ((engine_key.id, "the key the engine trades with"),
                            (desk.kill_key_id, "the panic key's own key")):
            await _cursor_to(pilot, keys.query_one(DataTable),
                             [k.id for k in keys.rows].index(key_id))
            await pilot.press("r")  # refused at once: no question first
            await eventually(lambda key_id=key_id, why=why: any(
                f"{key_id} is {why}" in t for t in toasts(app)), 5, pilot=pilot,
                what=f"the refusal toast ({why})")
            assert reader.keys()[key_id]["status"] == "active"
        assert "ocx_sk_" not in raw_screenshot(app)

        await pilot.press("escape")
        await eventually(lambda: app.screen is app.main, 3, pilot=pilot,
                         what="back on the main screen")
        assert "ocx_sk_" not in raw_screenshot(app)


# --- 8. help and the command palette -----------------------------------------------------------

async def test_help_and_command_palette(ready: EngineHost, reader: VenueReader) -> None:
    host = ready
    app = DeskApp(host)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await started(app, pilot)
        await pilot.press("question_mark")
        await eventually(lambda: isinstance(app.screen, HelpScreen), 3, pilot=pilot,
                         what="the help screen")
        assert "PANIC: cancel every order" in screen_text(app)
        await pilot.press("escape")
        await eventually(lambda: app.screen is app.main, 3, pilot=pilot,
                         what="help closed")

        await pilot.press("ctrl+p")
        await eventually(lambda: isinstance(app.screen, CommandPalette), 3, pilot=pilot,
                         what="the command palette")
        palette = app.screen
        await pilot.press(*"Panic")
        hits = palette.query_one(CommandList)

        def prompts() -> list[str]:
            return [str(hits.get_option_at_index(i).prompt) for i in range(hits.option_count)]

        await eventually(lambda: any("Panic: pull every quote" in p for p in prompts()), 5,
                         pilot=pilot, what="the panic action in the palette")
        await pilot.press("escape")
        await eventually(lambda: app.screen is app.main, 3, pilot=pilot,
                         what="the palette closed")
        assert not host.view().panicked  # looking it up did not fire it
        assert reader.orders()


async def test_revoke_refusal_stays_in_the_keys_status_line(ready: EngineHost) -> None:
    host = ready
    desk, engine_key = engine_key_of(host)
    app = DeskApp(host)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await started(app, pilot)
        keys = await open_keys(app, pilot, lambda rows: any(k.id == engine_key.id
                                                             for k in rows))
        await _cursor_to(pilot, keys.query_one(DataTable),
                         [k.id for k in keys.rows].index(engine_key.id))
        await pilot.press("r")  # refused at once: no question first
        assert not isinstance(app.screen, Choice)
        await eventually(lambda: any("the key the engine trades with" in t
                                     for t in toasts(app)), 5, pilot=pilot,
                         what="the refusal toast")
        await pilot.pause(0.5)  # the reload that follows has landed
        status = str(keys.query_one("#keys-status", Static).render())
        assert "the key the engine trades with" in status, status


async def test_a_strategy_name_with_brackets_does_not_crash_the_stop_dialog(
        ready: EngineHost) -> None:
    host = ready
    name = "Probe [/] x"
    info = await host.control(lambda m: _async(m.create(name=name, market_id="BTC-PERP",
                                                        enabled=False)))
    try:
        app = DeskApp(host)
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await started(app, pilot)
            await eventually(lambda: info.id in app.main.strategies.order, 3, pilot=pilot,
                             what="the probe strategy listed")
            await select_strategy(pilot, app, info.id)
            await press_for_choice(pilot, app, "s", "the stop choice")
            await pilot.pause(0.3)
            assert f"Stop {name}?" in screen_text(app)
            await pilot.press("escape")
            await pilot.pause(0.2)
            assert app.return_code is None
    finally:
        await host.control(lambda m: m.remove(info.id))


# --- 9. quit ------------------------------------------------------------------------------------

async def test_quit_pulls_quotes_and_the_venue_child_goes(tmp_path: Path) -> None:
    own = start_host(desk_settings(tmp_path))
    try:
        assert own.desk is not None and own.desk.embedded is not None
        proc = own.desk.embedded.proc
        assert proc is not None and proc.poll() is None
        pid = proc.pid
        own_reader = VenueReader(own.desk.url, own.settings.account)
        try:
            await ensure_defaults_running(own, own_reader)
            app = DeskApp(own)
            async with app.run_test(size=SIZE, notifications=True) as pilot:
                await started(app, pilot)
                await pilot.press("q")
                await eventually(lambda: isinstance(app.screen, QuitModal), 3, pilot=pilot,
                                 what="the quit question")
                await press_button(app, pilot, "#quit")
                # the exit pulls, settles fills (up to 2 s), stops the watchdog and the
                # venue child: seconds on a machine running the suite on both cores
                await eventually(lambda: app.return_code is not None, 30,
                                 what="the app exited")
            assert app.return_code == 0
            orders = own_reader.orders()
            assert orders == [], f"{len(orders)} orders rest after quit"
            # the view is rebuilt 10 times a second: it may trail the stand-down a little
            await eventually(lambda: all(s.state == "stopped" for s in defaults(own)), 2,
                             what="every strategy stopped in the view")
        finally:
            own_reader.close()
    finally:
        own.stop()
    assert own.desk.embedded.proc is None
    assert proc.poll() is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
