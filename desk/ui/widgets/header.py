"""The top line: venue, equity, feed health, the armed/pulled state and the clock."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from desk.domain.records import FeedState
from desk.engine.view import DeskView
from desk.ui.format import clock, money


class DeskHeader(Static):
    def show(self, view: DeskView | None) -> None:
        text = Text(" desk", style="bold")
        if view is None:
            self.update(text + Text(" · starting …"))
            return
        text.append(f" · {view.venue}")
        if view.balances is not None:
            text.append(f" · equity {money(view.balances.equity)}")
        down = [h for h in view.feeds if h.state is not FeedState.LIVE]
        text.append(" · feeds ")
        if down:
            text.append(f"● {len(down)} down", style="bold red")
        else:
            text.append("● live", style="bold green")
        if view.panicked:
            text.append(" · ALL QUOTES PULLED", style="bold reverse red")
        elif not view.armed:
            text.append(f" · stood down: {view.guard_problem}", style="bold yellow")
        text.append(f" · {view.resting} resting · {clock(view.time)} UTC")
        self.update(text)
