"""The quit question (issue 14): `q` and `ctrl+q` ask, listing what rests and what is
open, with "Quit", "Flatten all and quit" and "Cancel"; Cancel is the default, so Enter
or Escape on a fresh dialog never quits. On the fixed desk (`FixedBackend`: nothing
trades, every call is recorded)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from textual.widgets import Button, Input, Static, Switch

from desk.control import FlattenReport, PanicReport
from desk.ui.app import DeskApp
from desk.ui.screens.editor import EditorScreen
from desk.ui.screens.modals import QuitModal
from tests.ui.fixed_backend import FixedBackend
from tests.ui.pilot_support import (
    VenueReader,
    by_name,
    desk_settings,
    ensure_defaults_running,
    eventually,
    one_line,
    press_button,
    start_host,
)
from tests.ui.told import Told

SIZE = (120, 40)


def names(backend: FixedBackend) -> list[str]:
    return [c.name for c in backend.calls]


def question(app: DeskApp) -> str:
    return one_line(str(app.screen.query_one("#dialog-question", Static).render()))


async def ask(pilot, app: DeskApp, key: str = "q") -> QuitModal:  # noqa: ANN001
    await pilot.press(key)
    await eventually(lambda: isinstance(app.screen, QuitModal), 3, pilot=pilot,
                     what="the quit question")
    await pilot.pause()
    return app.screen


async def test_q_asks_listing_resting_quotes_and_positions_and_enter_cancels():
    backend = FixedBackend()
    app = DeskApp(backend)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        modal = await ask(pilot, app)
        text = question(app)
        assert "Resting: 8 quote(s) (BTC MM 2, ETH MM 4, SOL MM 2)" in text
        assert "Open positions (3)" in text
        for market, q in (("BTC-PERP", "+0.4"), ("ETH-PERP", "-3.2"), ("SOL-PERP", "+25")):
            assert f"{market} {q}" in text
        assert modal.focused is modal.query_one("#cancel", Button)
        assert modal.query_one("#flatten", Button).display
        await pilot.press("enter")  # the default: stay
        await pilot.pause()
        assert app.is_running and app.screen is app.main
        await ask(pilot, app)
        await pilot.press("escape")
        await pilot.pause()
        assert app.is_running and app.screen is app.main
        assert names(backend) == []


async def test_left_and_right_move_between_the_shown_buttons_without_wrapping():
    backend = FixedBackend()
    app = DeskApp(backend)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        modal = await ask(pilot, app)
        seen = []
        for key in ("left", "left", "left", "right", "right", "right"):
            await pilot.press(key)
            seen.append(modal.focused.id)
        assert seen == ["flatten", "quit", "quit", "flatten", "cancel", "cancel"]
        await pilot.press("escape")
        backend.set_state("flat")            # no position: no flatten button to land on
        modal = await ask(pilot, app)
        await pilot.press("left", "left")
        assert modal.focused.id == "quit"
        await pilot.press("escape")
        await pilot.pause()
        assert names(backend) == []


async def test_quit_pulls_every_quote_then_exits():
    backend = FixedBackend()
    app = DeskApp(backend)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await ask(pilot, app)
        await press_button(app, pilot, "#quit")
        await eventually(lambda: app.return_code is not None, 5, pilot=pilot,
                         what="the app exited")
    assert names(backend) == ["panic"]


async def test_a_cancel_all_the_venue_did_not_confirm_exits_with_a_warning():
    backend = FixedBackend()
    backend.panic_report = PanicReport(cancelled=3, resting_after=2, attempts=4,
                                       elapsed_ms=900.0, error="503 from the venue")
    app = DeskApp(backend)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await ask(pilot, app)
        await press_button(app, pilot, "#quit")
        await eventually(lambda: app.return_code is not None, 5, pilot=pilot,
                         what="the app exited")
    assert app.return_code == 1   # desk's exit (host.stop) then pulls once more
    assert names(backend) == ["panic"]


async def test_flatten_all_and_quit_flattens_then_pulls_then_exits():
    backend = FixedBackend()
    app = DeskApp(backend)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await ask(pilot, app)
        await press_button(app, pilot, "#flatten")
        await eventually(lambda: app.return_code is not None, 5, pilot=pilot,
                         what="the app exited")
    assert names(backend) == ["flatten_all", "panic"]


async def test_a_flatten_that_leaves_a_position_open_does_not_quit():
    backend = FixedBackend()
    backend.flatten_report = FlattenReport(
        closed=(("BTC-PERP", Decimal("0.4")),), remaining=(("ETH-PERP", Decimal("-3.2")),),
        errors=("closing ETH-PERP: MARKET_HALTED: trading halted",))
    app = DeskApp(backend)
    told = Told(app)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()
        await ask(pilot, app)
        await press_button(app, pilot, "#flatten")
        await eventually(lambda: told.has("desk stays open"), 5, pilot=pilot,
                         what="the refusal to quit")
        message = next(m for m in told.messages if "stays open" in m)
        assert "open -3.2 ETH-PERP" in message and "MARKET_HALTED" in message
        assert app.is_running and app.return_code is None
        assert names(backend) == ["flatten_all"]   # no exit, no pull: the desk runs on
        await ask(pilot, app)                      # and can be asked again


async def test_with_nothing_at_risk_the_question_is_short_and_offers_no_flatten():
    backend = FixedBackend("flat")
    app = DeskApp(backend)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        modal = await ask(pilot, app)
        assert question(app) == "Nothing is resting and no position is open. Quit desk?"
        assert not modal.query_one("#flatten", Button).display
        assert modal.focused is modal.query_one("#cancel", Button)
        await pilot.press("enter")
        await pilot.pause()
        assert app.is_running and names(backend) == []


async def test_the_question_follows_the_desk_while_it_is_open():
    backend = FixedBackend("flat")
    app = DeskApp(backend)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        modal = await ask(pilot, app)
        backend.normal()  # quotes rest and positions open while the question is up
        await eventually(lambda: "Resting: 8" in question(app), 3, pilot=pilot,
                         what="the question redrawn")
        assert modal.query_one("#flatten", Button).display


async def test_ctrl_q_asks_from_any_screen_and_asks_only_once():
    backend = FixedBackend()
    app = DeskApp(backend)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("question_mark")  # the help screen
        await pilot.pause()
        await ask(pilot, app, "ctrl+q")
        await pilot.press("ctrl+q")
        await pilot.press("q")
        await pilot.pause()
        assert sum(isinstance(s, QuitModal) for s in app.screen_stack) == 1
        await pilot.press("escape")
        await pilot.pause()
        assert app.is_running and names(backend) == []


async def test_q_in_the_editor_asks_and_in_a_text_field_types_q():
    backend = FixedBackend()
    app = DeskApp(backend)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("e")
        await eventually(lambda: isinstance(app.screen, EditorScreen), 3, pilot=pilot,
                         what="the editor")
        editor = app.screen
        name = editor.query_one("#f-name", Input)
        name.focus()
        await pilot.pause()
        name.cursor_position = len(name.value)
        await pilot.press("q")
        await pilot.pause()
        assert name.value.endswith("q") and not isinstance(app.screen, QuitModal)

        editor.query(Switch).first().focus()  # the case: focus on a switch
        await pilot.pause()
        await ask(pilot, app)
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is editor and app.is_running and names(backend) == []


async def test_the_palette_has_one_quit_and_it_asks():
    backend = FixedBackend()
    app = DeskApp(backend)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        system = [c.title for c in app.get_system_commands(app.screen)]
        assert "Quit" not in system   # Textual's own quits at once
        await app.run_action("quit")  # what desk's palette entry runs
        await eventually(lambda: isinstance(app.screen, QuitModal), 3, pilot=pilot,
                         what="the quit question")
        await pilot.press("escape")
        await pilot.pause()
        assert app.is_running and names(backend) == []


# --- against the real thing: flatten all and quit ---------------------------------------------

async def test_flatten_all_and_quit_leaves_nothing_open_at_the_venue(tmp_path: Path) -> None:
    """A real host (embedded venue): a position no strategy owns (a market buy with a
    key of the test's own, BTC MM paused so it does not trade against us) and whatever
    the strategies hold; "Flatten all and quit" closes every one, then the exit pulls
    every quote."""
    own = start_host(desk_settings(tmp_path))
    try:
        assert own.desk is not None
        reader = VenueReader(own.desk.url, own.settings.account)
        try:
            await ensure_defaults_running(own, reader, timeout=30)
            btc = by_name(own, "BTC MM")
            await own.control(lambda m: m.pause(btc.id))
            await eventually(lambda: reader.open_counts().get("BTC-PERP", 0) == 0, 10,
                             what="BTC MM's quotes pulled")
            _market_buy(reader, "BTC-PERP", "0.01")
            await eventually(lambda: reader.positions().get("BTC-PERP", Decimal(0)) != 0, 10,
                             what="a BTC position at the venue")
            app = DeskApp(own)
            told = Told(app)
            async with app.run_test(size=SIZE, notifications=True) as pilot:
                await eventually(lambda: app.main.is_attached and app.main.selected, 10,
                                 pilot=pilot, what="the main screen")
                await eventually(lambda: any(p.market_id == "BTC-PERP"
                                             for p in own.view().positions), 10,
                                 pilot=pilot, what="the position in the desk's view")
                await ask(pilot, app)
                assert "BTC-PERP" in question(app)
                await press_button(app, pilot, "#flatten")
                try:
                    await eventually(lambda: app.return_code is not None, 30, pilot=pilot,
                                     what="the app exited")
                except AssertionError as exc:  # say what desk said
                    raise AssertionError(f"{exc}; desk said: {told.messages}") from None
            assert app.return_code == 0
            assert all(q == 0 for q in reader.positions().values()), reader.positions()
            assert reader.orders() == []
        finally:
            reader.close()
    finally:
        own.stop()


def _market_buy(reader: VenueReader, market: str, quantity: str) -> None:
    """A market buy on the desk's account with a trade key made for it (its secret is
    used and dropped here)."""
    r = reader.http.post("/perps/me/api-keys", headers=reader._session_headers(),
                         json={"name": "test-trader", "scope": "trade"})
    assert r.status_code in (200, 201), r.status_code
    secret = r.json()["secret"]
    r = reader.http.post("/perps/orders", headers={"x-api-key": secret},
                         json={"marketId": market, "type": "market", "side": "buy",
                               "quantity": quantity})
    del secret
    assert r.status_code in (200, 201), r.status_code
