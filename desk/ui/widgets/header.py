"""The top line, most urgent first (it is cut on narrow terminals): the pulled or
stood-down state, feed health, resting orders, the clock, equity, the venue."""

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
        if view.panicked:
            text.append(" · ALL QUOTES PULLED", style="bold reverse red")
        elif not view.armed:
            text.append(f" · stood down: {view.guard_problem}", style="bold yellow")
        down = [h for h in view.feeds if h.state is not FeedState.LIVE]
        text.append(" · feeds ")
        if down:
            text.append(f"● {len(down)} down", style="bold red")
        else:
            text.append("● live", style="bold green")
        text.append(f" · {view.resting} resting · {clock(view.time)} UTC")
        if view.balances is not None:
            text.append(f" · equity {money(view.balances.equity)}")
        text.append(f" · {view.venue}")
        self.update(text)
