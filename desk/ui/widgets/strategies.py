"""One panel per strategy: status badge, position against its limits, PnL today,
spread, fill rate and breaker state. The list keeps the selection."""

from __future__ import annotations

from rich.text import Text
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static

from desk.engine.view import StrategyView
from desk.ui.format import bps, pct, position, qty, signed

BADGES = {"running": ("●", "green"), "paused": ("⏸", "yellow"), "halted": ("■", "red"),
          "stopped": ("○", "grey50"), "created": ("○", "grey50")}


def panel_text(s: StrategyView) -> Text:
    """Four short lines (cut with an ellipsis, never wrapped): who and state; position
    against the limits; PnL today and fill rate; the breaker, and the spread while it
    quotes."""
    mark, colour = BADGES.get(s.state, ("?", "white"))
    label = s.state.upper()
    if s.stood_down:  # running, but the dead-man switch holds it: nothing rests
        mark, colour, label = "◐", "yellow", "STOOD DOWN"
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f"{mark} ", style=f"bold {colour}")
    text.append(s.name, style="bold")
    text.append(f"  {s.market_id}  ")
    text.append(label, style=f"bold {colour}")
    if s.hedging:
        text.append("  HEDGING", style="bold cyan")
    text.append("\n  pos ")
    over_soft = abs(s.position) >= s.soft_limit
    text.append(position(s.position), style="bold yellow" if over_soft else "")
    text.append(f" / {qty(s.max_position)}  soft {qty(s.soft_limit)}")
    daily = s.metrics.daily_pnl
    text.append("\n  today ")
    text.append(signed(daily), style="green" if daily > 0 else "red" if daily < 0 else "")
    text.append(f"  fill {pct(s.stats.fill_rate)}")
    text.append("\n  ")
    if s.stood_down:
        text.append("dead-man switch: not quoting (see the header)", style="bold yellow")
    elif s.breaker:
        text.append(f"breaker: {s.breaker}", style="bold red")
    elif s.state == "halted" and s.reason:
        text.append(f"halted: {s.reason}", style="bold red")
    else:
        text.append("breaker ok", style="green")
        text.append(f"  spread {bps(s.spread_bps)}")
    return text


class StrategyPanel(Static):
    def __init__(self, sid: str) -> None:
        super().__init__(id=f"strategy-{sid}", classes="strategy-panel")
        self.sid = sid

    def show(self, s: StrategyView, selected: bool) -> None:
        self.set_class(selected, "-selected")
        for state in BADGES:
            self.set_class(s.state == state, f"-{state}")
        self.update(panel_text(s))

    def on_click(self) -> None:
        self.post_message(StrategyList.Selected(self.sid))


class StrategyList(VerticalScroll, can_focus=False):
    """The panels, in the engine's order. `selected` is a strategy id (or None). Not
    focusable: the arrow keys select a strategy (the screen's bindings), not scroll."""

    class Selected(Message):
        def __init__(self, sid: str) -> None:
            super().__init__()
            self.sid = sid

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.selected: str | None = None
        self.order: list[str] = []
        self.panels: dict[str, StrategyPanel] = {}

    def show(self, strategies: tuple[StrategyView, ...]) -> None:
        ids = [s.id for s in strategies]
        if ids != self.order:
            for sid in set(self.panels) - set(ids):
                self.panels.pop(sid).remove()
            for sid in ids:
                if sid not in self.panels:
                    self.panels[sid] = StrategyPanel(sid)
                    self.mount(self.panels[sid])
            self.order = ids
            if self.selected not in ids:
                self.selected = ids[0] if ids else None
        for s in strategies:
            self.panels[s.id].show(s, s.id == self.selected)

    def move(self, step: int) -> None:
        if not self.order:
            return
        i = self.order.index(self.selected) if self.selected in self.order else 0
        self.selected = self.order[(i + step) % len(self.order)]
        panel = self.panels.get(self.selected)
        if panel is not None:
            self.scroll_to_widget(panel, animate=False)
