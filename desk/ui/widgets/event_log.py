"""The event log: the newest events first, capped, filtered by strategy and severity.

The quote chatter (`quote_sent`, and `quote_cancelled` for a ladder the next one
replaced: a few a second) is hidden unless asked for (`c` on the main screen). The
warning and error filters read the view's own alarm buffer, so an alarm stays
findable long after the chatter has turned the general ring over. Numbers are
written to a sensible precision (bps to 0.1, positions signed, no trailing zeros).
Focusable: the arrows, page up/down, home and end scroll it."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text

from desk.engine.events import Event, Severity
from desk.engine.view import is_chatter
from desk.ui.format import clock, number, position, qty
from desk.ui.widgets.lines import LinesView

SEVERITY_ORDER = [Severity.INFO, Severity.WARNING, Severity.ERROR]
COLOURS = {Severity.WARNING: "yellow", Severity.ERROR: "bold red"}
SHOWN = 500
SKIP = {"pnl_update"}  # every few seconds per strategy: the panels show it
KEYS = ("reason", "side", "quantity", "price", "code", "message", "count",
        "new_position", "fair", "spread_bps")
POSITIONS = {"new_position", "old_position", "position"}
SIZES = {"quantity"}


def value(key: str, v: object) -> str:
    """One field of an event as the log writes it."""
    if key in POSITIONS:
        return position(v) if not isinstance(v, str) else v  # type: ignore[arg-type]
    if key in SIZES and not isinstance(v, (str, float)):
        return qty(v)  # type: ignore[arg-type]
    if key.endswith("_bps") and not isinstance(v, str):
        try:
            return f"{float(v):.1f}"  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return str(v)
    return number(v)


def describe(e: Event) -> str:
    d = e.data
    return " ".join(f"{key}={value(key, d[key])}" for key in KEYS
                    if key in d and d[key] is not None)


def _key(e: Event) -> tuple:
    return (e.seq, e.ts_ms, str(e.type), e.strategy_id)


def merged(*sources: Iterable[Event]) -> list[Event]:
    """The events of every source once each, oldest first."""
    parts = [tuple(s) for s in sources if s]
    if len(parts) <= 1:
        return list(parts[0]) if parts else []
    seen: dict[tuple, Event] = {}
    for part in parts:
        for e in part:
            seen.setdefault(_key(e), e)
    return sorted(seen.values(), key=lambda e: (e.ts_ms, e.seq))


def event_line(e: Event, who: str) -> Text:
    line = Text(f" {clock(e.ts_ms / 1000)} ", style="dim")
    line.append(f"{e.type!s:<16}", style=COLOURS.get(e.severity, "cyan"))
    line.append(f" {who:<12} ")
    line.append(describe(e)[:200])
    return line


def event_lines(events: tuple[Event, ...], names: dict[str, str], *,
                strategy: str | None = None, least: Severity = Severity.INFO,
                chatter: tuple[Event, ...] = (), alarms: tuple[Event, ...] = (),
                quotes: bool = False, cache: dict[tuple, Text] | None = None) -> list[Text]:
    """`events` (and `chatter` when `quotes`), or with `least` above info the `alarms`
    too, newest first. With `cache`, each event's line is built once (events do not
    change) and the same object is returned for it on every frame."""
    floor = SEVERITY_ORDER.index(least)
    pool = merged(events, alarms if floor > 0 else (), chatter if quotes else ())
    out = []
    for e in reversed(pool):
        if str(e.type) in SKIP:
            continue
        if SEVERITY_ORDER.index(e.severity) < floor:
            continue
        if not quotes and is_chatter(e):
            continue
        if strategy is not None and e.strategy_id not in (strategy, None):
            continue
        who = names.get(e.strategy_id or "", "desk")
        if cache is None:
            out.append(event_line(e, who))
        else:
            key = (*_key(e), who)
            line = cache.get(key)
            if line is None:
                line = cache[key] = event_line(e, who)
            out.append(line)
        if len(out) >= SHOWN:
            break
    return out or [Text(" no events", style="dim")]


class EventLog(LinesView, can_focus=True):
    """Scrolls both ways from the keyboard while focused (a line wider than the panel,
    at 80 columns, is read with → and ←); no horizontal bar is drawn."""

    DEFAULT_CSS = """
    EventLog { overflow-x: auto; scrollbar-size-horizontal: 0; }
    """
    ALLOW_MAXIMIZE = True
    CACHE = 4000   # lines kept built (the three buffers hold 1,500 events)

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)
        self.cache: dict[tuple, Text] = {}

    def show(self, events: tuple[Event, ...], names: dict[str, str],
             strategy: str | None, least: Severity, *, chatter: tuple[Event, ...] = (),
             alarms: tuple[Event, ...] = (), quotes: bool = False) -> None:
        who = f"strategy {names.get(strategy, strategy)}" if strategy else "all strategies"
        self.border_title = (f"events · {who} · {least}+ · "
                             f"{'quotes shown' if quotes else 'quotes hidden'}")
        if len(self.cache) > self.CACHE:
            self.cache.clear()
        self.set_lines(event_lines(events, names, strategy=strategy, least=least,
                                   chatter=chatter, alarms=alarms, quotes=quotes,
                                   cache=self.cache))

    def set_lines(self, lines: list[Text]) -> None:
        """Scrolled down into older events, the view stays on them as new ones arrive
        on top."""
        old, y = self.lines, self.scroll_offset.y
        super().set_lines(lines)
        if y > 0 and old and lines is self.lines:
            try:
                added = lines.index(old[0], 0, 64)
            except ValueError:
                return
            if added:
                self.scroll_to(y=y + added, animate=False)
