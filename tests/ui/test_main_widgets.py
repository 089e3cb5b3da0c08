"""The main screen's widgets, drawn: the book's colours and markers through the Line API,
the positions' columns, the event log's chatter, alarms and numbers, and the panels
the keyboard reaches and maximizes (Pilot over the fixed backend)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from rich.style import Style
from textual.app import App, ComposeResult
from textual.strip import Strip

from desk.domain.records import BookLevel, Position
from desk.engine.events import Event, EventType, Severity
from desk.engine.view import BookSide, MarketBook
from desk.ui.app import DeskApp
from desk.ui.screens.help import KEYS
from desk.ui.screens.main import MainScreen
from desk.ui.widgets.book import BookLadder
from desk.ui.widgets.event_log import EventLog
from desk.ui.widgets.positions import PositionsTable
from tests.ui.fixed_backend import NOW_MS, FixedBackend, build_view

D = Decimal
WIDE = (120, 40)
NARROW = (80, 24)


def _colour(strip: Strip, text: str) -> str | None:
    """The foreground colour name of the segment of `strip` that holds `text`."""
    for seg in strip:
        if text in seg.text and seg.style is not None:
            return seg.style.color.name if seg.style.color else None
    raise AssertionError(f"{text!r} not in {strip.text!r}")


def _style(strip: Strip, text: str) -> Style:
    for seg in strip:
        if text in seg.text:
            return seg.style or Style.null()
    raise AssertionError(f"{text!r} not in {strip.text!r}")


class BookApp(App[None]):
    def compose(self) -> ComposeResult:
        yield BookLadder(id="book")


def _book(trusted: bool = True) -> MarketBook:
    bids = (BookLevel(D("99.5"), D("3")), BookLevel(D("99"), D("1")))
    asks = (BookLevel(D("100.5"), D("2")), BookLevel(D("101"), D("4")))
    return MarketBook("X-PERP", trusted, BookSide(bids, frozenset({D("99.5")})),
                      BookSide(asks, frozenset(), frozenset({D("100.5")})), D(100))


async def test_the_book_draws_asks_red_bids_green_and_our_markers_through_the_line_api():
    app = BookApp()
    async with app.run_test(size=(40, 12)) as pilot:
        ladder = app.query_one(BookLadder)
        ladder.show(_book())
        await pilot.pause()
        rows = [ladder.render_line(y) for y in range(5)]
        texts = [r.text for r in rows]
        assert "101.0" in texts[0] and "100.5" in texts[1] and "fair" in texts[2]
        assert "99.5" in texts[3] and "99.0" in texts[4]
        # rows without a marker (no spans) keep their colour as well as those with one
        assert _colour(rows[0], "101.0") == "red" and _colour(rows[1], "100.5") == "red"
        assert _colour(rows[3], "99.5") == "green" and _colour(rows[4], "99.0") == "green"
        assert _style(rows[2], "fair").bold
        assert "◁ ours" in texts[1] and "◀ ours" in texts[3] and "ours" not in texts[4]
        assert _style(rows[3], "◀ ours").reverse and not _style(rows[1], "◁ ours").reverse

        ladder.show(_book(trusted=False))
        await pilot.pause()
        line = ladder.render_line(0)
        assert "book not trusted" in line.text
        assert _colour(line, "not trusted") == "yellow" and _style(line, "not trusted").bold


def _row_text(table: PositionsTable, market: str) -> str:
    for y in range(1, table.row_count + 1):
        text = table.render_line(y).text
        if text.startswith(market):
            return text
    raise AssertionError(f"no row for {market}")


FAR = Position("SOL-PERP", D("29.9"), D("188.10"), D("187.234"), D("1.10"), D(0),
               D("2330924.5"))   # a liquidation price that used to be cut to 10 characters
NEAR = Position("ETH-PERP", D("-3.2"), D("3420.10"), D("3412.55"), D("-1234567.891"), D(0),
                D("3550"))


async def test_positions_columns_are_separated_and_never_cut_with_the_distance_to_liq():
    backend = FixedBackend()
    view = build_view()
    backend._views["normal"] = replace(view, positions=(view.positions[0], FAR, NEAR))
    app = DeskApp(backend)
    async with app.run_test(size=WIDE) as pilot:
        await pilot.pause()
        table = app.main.query_one(PositionsTable)
        header = table.render_line(0).text
        assert "liq Δ%" in header and "uPnL" in header
        sol = _row_text(table, "SOL").split()
        assert sol == ["SOL", "+29.9", "188.10", "+1.10", "2,330.9k", ">999%"]
        eth = _row_text(table, "ETH").split()
        assert eth == ["ETH", "-3.2", "3,420.10", "-1,235k", "3,550.00", "4.0%"]
        assert all(len(t) <= 8 for t in eth)   # every cell within its column
        btc = _row_text(table, "BTC").split()
        assert btc[:2] == ["BTC", "+0.4"] and btc[-1] == "24.7%"

    # 80 columns: the panel spans the screen, market ids whole, prices with decimals
    app = DeskApp(backend)
    async with app.run_test(size=NARROW) as pilot:
        await pilot.pause()
        table = app.main.query_one(PositionsTable)
        assert _row_text(table, "SOL-PERP").split() == \
            ["SOL-PERP", "+29.9", "188.10", "+1.10", "2,330,924", ">999%"]


async def test_one_position_formatter_on_every_panel():
    app = DeskApp(FixedBackend())
    async with app.run_test(size=WIDE) as pilot:
        await pilot.pause()
        table = app.main.query_one(PositionsTable)
        assert _row_text(table, "BTC").split()[1] == "+0.4"
        panel = app.main.query_one("#strategy-btc-mm")
        assert "pos +0.4 / 10" in str(panel.render())
        log = app.main.query_one(EventLog)
        assert any("new_position=+0.4" in t.plain for t in log.lines)


def _event(seq: int, ago_s: float, type: EventType, severity: Severity = Severity.INFO,
           **data: object) -> Event:
    return Event(type, "btc-mm", NOW_MS - int(ago_s * 1000), dict(data), severity, seq)


async def test_quote_chatter_is_hidden_until_c_and_alarms_outlive_the_event_ring():
    backend = FixedBackend()
    view = build_view()
    alarm = _event(100, 600, EventType.CIRCUIT_BREAKER, Severity.ERROR, reason="dead-man")
    chatter = tuple(_event(200 + i, 100 - i * 0.3, EventType.QUOTE_SENT, fair=D("64012.3"),
                           spread_bps=D("16.762400")) for i in range(300))
    # the general ring has long lost the alarm; the alarm buffer has it
    backend._views["normal"] = replace(view, chatter=chatter, alarms=(alarm,))
    app = DeskApp(backend)
    async with app.run_test(size=WIDE) as pilot:
        await pilot.pause()
        log = app.main.query_one(EventLog)
        plain = [t.plain for t in log.lines]
        assert not any("quote_sent" in line for line in plain)
        assert "quotes hidden" in log.border_title
        await pilot.press("c")
        plain = [t.plain for t in log.lines]
        assert "quotes shown" in log.border_title
        assert sum("quote_sent" in line for line in plain) == 300 + 4  # and the view's own
        assert any("spread_bps=16.8" in line for line in plain)
        assert "16.762400" not in " ".join(plain)
        await pilot.press("c", "l", "l")   # chatter off, error+
        plain = [t.plain for t in log.lines]
        assert len(plain) == 2 and "RATE_LIMITED" in plain[0]
        assert "circuit_breaker" in plain[1] and "dead-man" in plain[1]


async def test_w_reaches_the_chart_and_the_log_at_80x24_and_z_maximizes():
    app = DeskApp(FixedBackend())
    async with app.run_test(size=NARROW) as pilot:
        await pilot.pause()
        screen = app.main
        assert screen.focused is None          # the arrows select strategies
        await pilot.press("down")
        assert screen.selected == "eth-mm"
        seen = []
        for _ in range(5):
            await pilot.press("w")
            await pilot.pause()
            seen.append(screen.focused.id if screen.focused else None)
            if screen.focused is not None:  # scrolled into view: inside the screen
                region = screen.focused.region
                assert 0 <= region.y < NARROW[1] - 1, (screen.focused.id, region)
        assert seen == ["book", "positions", "pnl", "events", None]
        await pilot.press("w", "w", "w", "w")
        log = screen.query_one(EventLog)
        assert screen.focused is log and "scroll" in log.border_subtitle
        first = log.scroll_offset.y
        await pilot.press("down", "down")
        assert log.scroll_offset.y == first + 2      # the log scrolls from the keyboard
        assert screen.selected == "eth-mm"           # the arrows were the log's
        await pilot.press("end")
        assert log.scroll_offset.y == log.max_scroll_y > 0
        line = log.render_line(0).text
        await pilot.press("right", "right")  # a line wider than 80 columns is read too
        assert log.scroll_offset.x == 2 and log.render_line(0).text.startswith(line[2:10])
        await pilot.press("home")
        await pilot.press("z")
        await pilot.pause()
        assert screen.maximized is log and log.size.height > 10
        await pilot.press("escape")
        await pilot.pause()
        assert screen.maximized is None and screen.focused is log
        await pilot.press("escape")
        assert screen.focused is None
        await pilot.press("z")                       # nothing focused: the log
        await pilot.pause()
        assert screen.maximized is log
        await pilot.press("z")
        await pilot.pause()
        assert screen.maximized is None


async def test_the_new_keys_are_in_the_footer_and_the_help():
    shown = {b.key: b.description for b in MainScreen.BINDINGS if b.show}
    assert shown["w"] == "Next panel" and shown["z"] == "Zoom the panel"
    keys = dict(KEYS)
    assert {"w", "z", "c", "esc"} <= set(keys)
    assert "quote chatter" in keys["c"] and "maximize" in keys["z"]
    assert "event log" in keys["w"] and "chart" in keys["w"]


async def test_a_log_scrolled_into_older_events_stays_on_them_as_new_ones_arrive():
    backend = FixedBackend()
    view = build_view()
    app = DeskApp(backend)
    async with app.run_test(size=WIDE) as pilot:
        await pilot.pause()
        log = app.main.query_one(EventLog)
        await pilot.press("w", "w", "w", "w")
        assert app.main.focused is log
        await pilot.press("down", "down", "down")
        top = log.lines[log.scroll_offset.y].plain
        news = tuple(_event(300 + i, 0.1, EventType.QUOTE_FILLED, side="buy", quantity=D(1),
                            price=D(64000)) for i in range(2))
        backend._views["normal"] = replace(view, events=view.events + news)
        app.main.redraw()
        await pilot.pause()
        assert log.scroll_offset.y == 3 + 2
        assert log.lines[log.scroll_offset.y].plain == top
