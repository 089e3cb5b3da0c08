"""The top line, most urgent first (it is cut on narrow terminals): the pulled or
stood-down state, feed health, resting orders, the clock, equity, the venue. While
the dead-man switch holds the desk down, a second line says why, as it stands now
(red when the venue refuses the engine's key or a cancel-all is unconfirmed), and
which credential pulled the quotes."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from desk.domain.records import FeedState
from desk.engine.view import DeskView
from desk.ui.format import clock, money


def header_text(view: DeskView) -> Text:
    text = Text(" desk", style="bold")
    alarm = view.key_refused or not view.pulled
    if view.panicked:
        text.append(" · ALL QUOTES PULLED", style="bold reverse red")
    elif not view.armed:
        text.append(" · STOOD DOWN", style="bold reverse " + ("red" if alarm else "yellow"))
    down = [h for h in view.feeds if h.state is not FeedState.LIVE]
    text.append(" · feeds ")
    if down:
        text.append(f"● {len(down)} down", style="bold red")
    elif view.stale:
        text.append(f"● {len(view.stale)} stale", style="bold red")
    else:
        text.append("● live", style="bold green")
    resting = "?" if view.resting < 0 else view.resting  # the fill stream is down
    text.append(f" · {resting} resting · {clock(view.time)} UTC")
    if view.balances is not None:
        text.append(f" · equity {money(view.balances.equity)}")
    text.append(f" · {view.venue}")
    return text


def alert_text(view: DeskView) -> Text | None:
    """Why the desk is down, or None while it quotes (or after the panic, which the
    first line says)."""
    if view.armed or (view.panicked and not view.key_refused and view.pulled):
        return None
    style = "bold red" if view.key_refused or not view.pulled else "bold yellow"
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f" ⚠ {view.guard_problem or 'stood down'}", style=style)
    if not view.pulled:
        text.append(" · cancel-all NOT confirmed: quotes may rest", style="bold reverse red")
    elif view.pulled_by:
        text.append(f" · pulled by {view.pulled_by}")
    return text


class DeskHeader(Static):
    def show(self, view: DeskView | None) -> None:
        if view is None:
            self.set_class(False, "-alert")
            self.update(Text(" desk", style="bold") + Text(" · starting …"))
            return
        text = header_text(view)
        alert = alert_text(view)
        self.set_class(alert is not None, "-alert")
        if alert is not None:
            text = Text("\n").join([text, alert])
        text.no_wrap, text.overflow = True, "ellipsis"  # each line cut, never wrapped
        self.update(text)
