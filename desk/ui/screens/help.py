"""Every key, in one place."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS = [
    ("ctrl+k", "PANIC: cancel every order on the venue, stand every strategy down"),
    ("ctrl+r", "re-arm after a panic (restarts the strategies it stopped)"),
    ("p", "pause / resume (or start) the selected strategy"),
    ("s", "stop the selected strategy (asks whether to flatten; Enter keeps it)"),
    ("f", "flatten: asks, then closes the selected strategy's position at market"),
    ("e", "edit the selected strategy's parameters (applied live)"),
    ("n", "new strategy"),
    ("d", "detail of the selected strategy"),
    ("a", "API keys"),
    ("up / down, tab", "select a strategy"),
    ("w", "next panel: book, positions, chart, event log (then back); arrows and "
          "page up/down scroll it"),
    ("z", "zoom: maximize the focused panel (the event log if none) / restore"),
    ("esc", "restore a zoomed panel / leave the panel"),
    ("l", "event log: cycle the least severity shown"),
    ("o", "event log: only the selected strategy / all"),
    ("c", "event log: show / hide the quote chatter (quote_sent, replaced ladders)"),
    ("L", "desk's log: the last warnings and errors (all of them in the log file)"),
    ("ctrl+p", "command palette (every action)"),
    ("?", "this help"),
    ("q", "quit: asks first (Cancel is the default); ctrl+q from any screen"),
]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss(None)", "Close")]

    def __init__(self) -> None:
        super().__init__(classes="modal")

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        for key, what in KEYS:
            table.add_row(key, what)
        with Vertical(classes="dialog help"):
            yield Static("desk · keys", classes="dialog-title")
            yield Static(table)
            yield Static("esc closes", classes="dim")
