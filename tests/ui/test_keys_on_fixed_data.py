"""The main screen's selection and log keys, and the calls keys make, on the fixed desk
(`FixedBackend`: nothing trades, every call is recorded)."""

from __future__ import annotations

from desk.control import use_refusal
from desk.ui.app import DeskApp
from desk.ui.screens.keys import KeysScreen
from desk.ui.widgets.book import BookLadder
from desk.ui.widgets.event_log import EventLog
from tests.ui.fixed_backend import FixedBackend

SIZE = (160, 50)


def calls(backend: FixedBackend) -> list[tuple[str, tuple]]:
    return [(c.name, c.args) for c in backend.calls]


async def test_arrows_tab_and_clicks_select_a_strategy_and_the_book_follows():
    app = DeskApp(FixedBackend())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        book = app.main.query_one(BookLadder)
        assert app.main.selected == "btc-mm" and book.border_title == "BTC-PERP book"
        seen = []
        for key in ("down", "tab", "down", "up", "shift+tab"):
            await pilot.press(key)
            seen.append((app.main.selected, book.border_title))
        assert seen == [("eth-mm", "ETH-PERP book"), ("sol-mm", "SOL-PERP book"),
                        ("btc-mm", "BTC-PERP book"), ("sol-mm", "SOL-PERP book"),
                        ("eth-mm", "ETH-PERP book")]
        await pilot.click("#strategy-sol-mm")
        assert app.main.selected == "sol-mm" and book.border_title == "SOL-PERP book"
        assert app.main.query_one("#strategy-sol-mm").has_class("-selected")
        assert not app.main.query_one("#strategy-eth-mm").has_class("-selected")


async def test_the_log_keys_filter_by_severity_and_by_the_selected_strategy():
    app = DeskApp(FixedBackend())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        log = app.main.query_one(EventLog)
        every = len(log.lines)
        assert log.border_title == "events · all strategies · info+ · quotes hidden"
        await pilot.press("l")
        assert "· warning+ ·" in log.border_title and len(log.lines) < every
        await pilot.press("l", "l")
        assert "· info+ ·" in log.border_title and len(log.lines) == every
        await pilot.press("o")
        assert log.border_title == "events · strategy BTC MM · info+ · quotes hidden"
        names = {"ETH MM", "SOL MM"}
        assert not any(n in line.plain for line in log.lines for n in names)
        await pilot.press("o")
        assert len(log.lines) == every


async def test_p_pauses_a_running_strategy_and_starts_a_paused_one():
    backend = FixedBackend().pause_one()  # ETH MM is paused
    app = DeskApp(backend)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("p")
        await pilot.press("down", "p")
        await app.workers.wait_for_complete()
        assert calls(backend) == [("pause", ("btc-mm",)), ("start", ("eth-mm",))]


async def test_while_panicked_p_is_refused_until_re_armed():
    backend = FixedBackend().panicked()
    app = DeskApp(backend)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()
        app.panicked = True
        await pilot.press("p")
        await app.workers.wait_for_complete()
        assert calls(backend) == []
        assert any("re-arm first" in n.message for n in app._notifications)


async def test_u_makes_the_engine_trade_with_the_selected_key():
    backend = FixedBackend()
    app = DeskApp(backend)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, KeysScreen)
        await app.workers.wait_for_complete()
        target = next(i for i, k in enumerate(screen.rows) if use_refusal(k) is None)
        for _ in range(target):
            await pilot.press("down")
        await pilot.press("u")
        await app.workers.wait_for_complete()
        await pilot.pause()
        key_id = backend.keys_list[target].id
        assert ("use_key", (key_id,)) in calls(backend)
        assert [k.id for k in screen.rows if k.in_use] == [key_id]
