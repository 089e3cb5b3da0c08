"""The event log: the newest events first, capped, filtered by strategy and severity."""

from __future__ import annotations

from rich.text import Text

from desk.engine.events import Event, Severity
from desk.ui.format import clock
from desk.ui.widgets.lines import LinesView

SEVERITY_ORDER = [Severity.INFO, Severity.WARNING, Severity.ERROR]
COLOURS = {Severity.WARNING: "yellow", Severity.ERROR: "bold red"}
SHOWN = 300
SKIP = {"pnl_update"}  # every few seconds per strategy: the panels show it


def describe(e: Event) -> str:
    d = e.data
    parts = []
    for key in ("reason", "side", "quantity", "price", "code", "message", "count",
                "new_position", "fair", "spread_bps"):
        if key in d and d[key] is not None:
            parts.append(f"{key}={d[key]}")
    return " ".join(parts)


def event_lines(events: tuple[Event, ...], names: dict[str, str], *,
                strategy: str | None = None, least: Severity = Severity.INFO) -> list[Text]:
    floor = SEVERITY_ORDER.index(least)
    out = []
    for e in reversed(events):
        if str(e.type) in SKIP:
            continue
        if SEVERITY_ORDER.index(e.severity) < floor:
            continue
        if strategy is not None and e.strategy_id not in (strategy, None):
            continue
        who = names.get(e.strategy_id or "", "desk")
        line = Text(f" {clock(e.ts_ms / 1000)} ", style="dim")
        line.append(f"{e.type!s:<16}", style=COLOURS.get(e.severity, "cyan"))
        line.append(f" {who:<12} ")
        line.append(describe(e)[:200])
        out.append(line)
        if len(out) >= SHOWN:
            break
    return out or [Text(" no events", style="dim")]


class EventLog(LinesView):
    def show(self, events: tuple[Event, ...], names: dict[str, str],
             strategy: str | None, least: Severity) -> None:
        who = f"strategy {names.get(strategy, strategy)}" if strategy else "all strategies"
        self.border_title = f"events · {who} · {least}+"
        self.set_lines(event_lines(events, names, strategy=strategy, least=least))
