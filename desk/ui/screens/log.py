"""desk's log (`L`): the last warnings and errors (up to 200, newest first), as written
to the log file (redacted), with the file's path. Opening it marks them seen: the badge
above the footer then waits for the next one."""

from __future__ import annotations

import time

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from desk import logs

STYLE = {"WARNING": "yellow", "ERROR": "bold red", "CRITICAL": "bold red"}


def render_lines(lines: list[logs.LogLine]) -> Text:
    out = Text()
    for line in reversed(lines):
        stamp = time.strftime("%H:%M:%S", time.gmtime(line.ts))
        out.append(f"{stamp} ", "dim")
        out.append(f"{line.level:<8}", STYLE.get(line.level, ""))
        out.append(f" {line.logger}: ", "dim")
        out.append(line.message + "\n")
    return out


class LogScreen(Screen[None]):
    BINDINGS = [Binding("escape,L,q", "dismiss(None)", "Close")]

    def compose(self) -> ComposeResult:
        yield Static("", id="log-title", markup=False)
        with VerticalScroll(id="log-body"):
            yield Static("", id="log-lines", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.redraw()
        self.set_interval(1.0, self.redraw)
        self.query_one("#log-body").focus()

    def redraw(self) -> None:
        title = self.query_one("#log-title", Static)
        body = self.query_one("#log-lines", Static)
        if not logs.installed():
            title.update(" desk's log: not kept in this process")
            body.update("")
            return
        lines, warnings, errors = logs.recent.snapshot()
        logs.recent.mark_seen()
        where = logs.log_path()
        title.update(Text.assemble(
            (" desk's log", "bold"), f": {warnings} warning(s), {errors} error(s) since "
            f"start; the last {len(lines)} below, newest first",
            ("" if where is None else f" · all of it in {where}", "dim")))
        body.update(render_lines(lines) if lines else Text("nothing logged", "dim"))
