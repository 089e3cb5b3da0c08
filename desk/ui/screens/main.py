"""The desk: strategies, the selected market's book, positions, PnL and events.

Everything is redrawn from the latest `DeskView` on timers (8 Hz, the chart 1 Hz),
never per event. Actions go to the engine through the app's `act()`.

The keyboard reaches every panel: `w` moves the focus through the book, the
positions, the chart and the event log (and back to the strategies); the focused
panel scrolls with the arrows and page keys, `z` maximizes it (the event log when
none has the focus) and `z` or `escape` restores it. At 80x24 the screen scrolls the
focused panel into view.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.events import DescendantBlur, DescendantFocus
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Static

from desk.engine.events import Severity
from desk.engine.view import DeskView
from desk.ui.widgets.book import BookLadder
from desk.ui.widgets.event_log import SEVERITY_ORDER, EventLog
from desk.ui.widgets.header import DeskHeader
from desk.ui.widgets.log_badge import LogBadge
from desk.ui.widgets.pnl_chart import PnlChart
from desk.ui.widgets.positions import PositionsTable
from desk.ui.widgets.strategies import StrategyList

TABLE_HZ = 8.0
CHART_HZ = 1.0
PANELS = ("book", "positions", "pnl", "events")   # the order `w` moves the focus in
PANEL_HINT = "↑↓ pgup pgdn scroll · z zoom · esc back"
PANEL_KEYS = Binding.Group("Panels")   # one footer entry: "w z Panels"


class MainScreen(Screen):
    AUTO_FOCUS = ""   # nothing focused: the arrows select a strategy until `w`
    ALLOW_IN_MAXIMIZED_VIEW = "#header, #panic-banner, Footer"
    BINDINGS = [
        Binding("p", "app.pause_resume", "Pause"),       # or resume: the help says so
        Binding("s", "app.stop", "Stop"),
        Binding("f", "app.flatten", "Flatten"),
        Binding("e", "app.edit", "Edit"),
        Binding("n", "app.new", "New", show=False),     # in the help and the palette
        Binding("d", "app.detail", "Detail", show=False),
        Binding("ctrl+r", "app.rearm", "Re-arm"),
        Binding("w", "next_panel", "Next panel", group=PANEL_KEYS),
        Binding("z", "zoom", "Zoom the panel", group=PANEL_KEYS),
        Binding("escape", "back", "Back", show=False),
        Binding("down,tab", "select(1)", "Next", show=False),
        Binding("up,shift+tab", "select(-1)", "Previous", show=False),
        Binding("l", "severity", "Log level", show=False),
        Binding("o", "only_selected", "Log: selected only", show=False),
        Binding("c", "quotes", "Log: quote chatter", show=False),
    ]

    def __init__(self) -> None:
        super().__init__(id="main")
        self.least = Severity.INFO
        self.only_selected = False
        self.quotes = False                # quote chatter in the log
        self.view: DeskView | None = None

    def compose(self) -> ComposeResult:
        yield DeskHeader(id="header")
        yield Static("ALL QUOTES PULLED · every strategy stood down · ctrl+r re-arms",
                     id="panic-banner")
        with Horizontal(id="top"):
            yield StrategyList(id="strategies")
            yield BookLadder(id="book")
            with Vertical(id="right"):
                yield PositionsTable(id="positions")
                yield PnlChart(id="pnl")
        yield EventLog(id="events")
        yield LogBadge(id="log-badge")  # desk's own warnings and errors, while unseen
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.header = self.query_one(DeskHeader)
        self.banner = self.query_one("#panic-banner", Static)
        self.strategies = self.query_one(StrategyList)
        self.book = self.query_one(BookLadder)
        self.positions = self.query_one(PositionsTable)
        self.chart = self.query_one(PnlChart)
        self.log_view = self.query_one(EventLog)
        self.strategies.border_title = "strategies"
        self.positions.border_title = "positions"
        self.redraw()
        self.redraw_chart()
        self.set_interval(1 / TABLE_HZ, self.redraw)
        self.set_interval(1 / CHART_HZ, self.redraw_chart)

    @property
    def selected(self) -> str | None:
        return self.strategies.selected

    def redraw(self) -> None:
        view = self.view = self.app.backend.view()  # type: ignore[attr-defined]
        self.header.show(view)
        if view is None:
            return
        self.banner.display = view.panicked
        self.set_class(view.panicked, "-panicked")
        self.strategies.show(view.strategies)
        s = view.strategy(self.selected) if self.selected else None
        self.book.show(view.books.get(s.market_id) if s else None)
        self.positions.show(view.positions)
        names = {x.id: x.name for x in view.strategies}
        self.log_view.show(view.events, names,
                           self.selected if self.only_selected else None, self.least,
                           chatter=view.chatter, alarms=view.alarms, quotes=self.quotes)

    def redraw_chart(self) -> None:
        self.chart.show(self.view)

    def on_strategy_list_selected(self, message: StrategyList.Selected) -> None:
        self.strategies.selected = message.sid
        self.redraw()

    def action_select(self, step: int) -> None:
        self.strategies.move(step)
        self.redraw()

    def action_severity(self) -> None:
        i = SEVERITY_ORDER.index(self.least)
        self.least = SEVERITY_ORDER[(i + 1) % len(SEVERITY_ORDER)]
        self.redraw()

    def action_only_selected(self) -> None:
        self.only_selected = not self.only_selected
        self.redraw()

    def action_quotes(self) -> None:
        self.quotes = not self.quotes
        self.redraw()

    # --- reaching the panels ----------------------------------------------------------------

    def panels(self) -> list[Widget]:
        return [self.query_one(f"#{name}") for name in PANELS]

    def action_next_panel(self) -> None:
        """The focus to the next panel; after the last, back to the strategies (none)."""
        panels = self.panels()
        at = panels.index(self.focused) if self.focused in panels else -1
        if self.maximized is not None:
            self.minimize()
        if at + 1 < len(panels):
            panels[at + 1].focus()
        else:
            self.set_focus(None)

    def action_zoom(self) -> None:
        """Maximize the focused panel (the event log if none), or restore it."""
        if self.maximized is not None:
            self.minimize()
            return
        target = self.focused if self.focused in self.panels() else self.log_view
        target.focus()
        self.maximize(target, container=False)

    def action_back(self) -> None:
        if self.maximized is not None:
            self.minimize()
        elif self.focused is not None:
            self.set_focus(None)

    def on_descendant_focus(self, event: DescendantFocus) -> None:
        self._hints()

    def on_descendant_blur(self, event: DescendantBlur) -> None:
        self._hints()

    def _hints(self) -> None:
        for panel in self.panels():
            panel.border_subtitle = PANEL_HINT if panel.has_focus else ""
