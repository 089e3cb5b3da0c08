"""The stop and flatten questions (issue 14): the focus starts on the safe choice, the
position shown is the one the engine shows now (redrawn while the question is open),
the wording matches the strategy's state, and the toasts use the event log's verbs.
On the fixed desk (`FixedBackend`: nothing trades, every call is recorded)."""

from __future__ import annotations

from decimal import Decimal

from textual.widgets import Button, Static

from desk.ui.app import DeskApp
from desk.ui.screens.modals import Choice
from tests.ui.fixed_backend import FixedBackend
from tests.ui.pilot_support import eventually, one_line, press_for_choice, select_strategy
from tests.ui.told import Told

SIZE = (120, 40)


def calls(backend: FixedBackend) -> list[tuple[str, tuple, dict]]:
    return [(c.name, c.args, c.kwargs) for c in backend.calls]


def question(app: DeskApp) -> str:
    return one_line(str(app.screen.query_one("#dialog-question", Static).render()))


def focused_id(app: DeskApp) -> str | None:
    focused = app.screen.focused
    return focused.id if isinstance(focused, Button) else None


_told: dict[int, Told] = {}


def messages(app: DeskApp) -> list[str]:
    return _told[id(app)].messages


def desk_app(backend: FixedBackend) -> DeskApp:
    app = DeskApp(backend)
    _told[id(app)] = Told(app)
    return app


async def test_stop_starts_on_keep_and_enter_stops_without_flattening():
    backend = FixedBackend()
    app = desk_app(backend)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()
        await press_for_choice(pilot, app, "s", "the stop question")
        await pilot.pause()
        assert focused_id(app) == "keep"
        assert "Position now: +0.4 BTC-PERP" in question(app)
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        assert calls(backend) == [("stop", ("btc-mm",), {"flatten_position": False})]
        assert "BTC MM stopped" in messages(app)


async def test_flatten_starts_on_cancel_and_enter_does_nothing():
    backend = FixedBackend()
    app = desk_app(backend)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await press_for_choice(pilot, app, "f", "the flatten question")
        await pilot.pause()
        assert focused_id(app) == "cancel"
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        assert calls(backend) == []
        assert app.screen is app.main


async def test_the_position_in_the_question_is_live_and_the_flatten_is_of_the_strategy():
    backend = FixedBackend()
    app = desk_app(backend)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()
        await press_for_choice(pilot, app, "f", "the flatten question")
        assert "now +0.4 BTC-PERP" in question(app)
        backend.move_position("btc-mm", Decimal("0.71"))   # a fill while it is open
        await eventually(lambda: "now +0.71 BTC-PERP" in question(app), 3, pilot=pilot,
                         what="the question redrawn with the new position")
        await pilot.click("#yes")
        await app.workers.wait_for_complete()
        # the engine closes what the venue holds at that moment (not a quantity of ours)
        assert calls(backend) == [("flatten", ("btc-mm",), {})]
        assert "BTC MM paused and flattened" in messages(app)  # as the log: paused, then the close


async def test_the_wording_follows_the_state():
    backend = FixedBackend().pause_one()   # ETH MM paused
    app = desk_app(backend)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await press_for_choice(pilot, app, "f", "the flatten question (running)")
        assert "It is paused (its quotes pulled)" in question(app)
        await pilot.press("escape")
        await select_strategy(pilot, app, "eth-mm")
        await press_for_choice(pilot, app, "f", "the flatten question (paused)")
        assert "It stays paused" in question(app) and "It is paused" not in question(app)
        await pilot.press("escape")
        backend.panicked()                   # every strategy stopped
        await press_for_choice(pilot, app, "f", "the flatten question (stopped)")
        assert "It stays stopped" in question(app)
        await pilot.press("escape")
        await press_for_choice(pilot, app, "s", "the stop question (stopped)")
        assert "ETH MM is stopped" in question(app)
        assert focused_id(app) == "cancel"
        assert [b.id for b in app.screen.query(Button)] == ["flatten", "cancel"]
        await pilot.press("escape")
        await pilot.pause()
        assert calls(backend) == []


async def test_a_flat_strategy_is_refused_before_any_question():
    backend = FixedBackend().move_position("btc-mm", Decimal(0))
    app = desk_app(backend)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()
        await pilot.press("f")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert not isinstance(app.screen, Choice)
        assert "BTC MM is flat: nothing to flatten" in messages(app)
        assert calls(backend) == []


async def test_toasts_say_resumed_for_a_paused_strategy_and_started_for_a_stopped_one():
    backend = FixedBackend().pause_one()   # ETH MM paused
    app = desk_app(backend)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()
        await select_strategy(pilot, app, "eth-mm")
        await pilot.press("p")
        await app.workers.wait_for_complete()
        assert "ETH MM resumed" in messages(app)
        backend.set_state("flat")            # every strategy stopped
        await pilot.press("p")
        await app.workers.wait_for_complete()
        assert "ETH MM started" in messages(app)
        assert [c[0] for c in calls(backend)] == ["start", "start"]
