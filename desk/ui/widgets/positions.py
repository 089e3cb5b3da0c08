"""Positions across the account, one row per market with a position, marked live
(`DeskView.positions`): size, entry, uPnL, liquidation price and the distance to it.

Fixed column widths with a space between columns; a number never cut (fewer decimals,
then k/M, see `format.fit`). Two sets of widths: the compact one fits the 48
columns the panel has on a 120-column terminal; with 66 or more the market ids are
whole and prices keep their decimals."""

from __future__ import annotations

from decimal import Decimal

from rich.text import Text
from textual.widgets import DataTable

from desk.domain.records import Position
from desk.ui.format import fit, fit_position

# (name, compact width, wide width); every column but the first has one more for the
# space before it
COLUMNS = (("market", 6, 14), ("size", 7, 9), ("entry", 8, 10), ("uPnL", 8, 10),
           ("liq", 8, 10), ("liq Δ%", 6, 7))
WIDE = sum(wide for _, _, wide in COLUMNS) + len(COLUMNS) - 1
LIQ_DANGER_PCT = 5      # red below, yellow below LIQ_WARN_PCT
LIQ_WARN_PCT = 10


def liq_distance_pct(p: Position) -> Decimal | None:
    """How far the mark is from the liquidation price, in % of the mark."""
    if p.liquidation_price is None or p.mark_price is None or p.mark_price <= 0:
        return None
    return abs(p.mark_price - p.liquidation_price) / p.mark_price * 100


def widths(room: int) -> tuple[int, ...]:
    """The columns' text widths for a table `room` columns wide."""
    if room >= WIDE:
        return tuple(wide for _, _, wide in COLUMNS)
    compact = tuple(c for _, c, _ in COLUMNS)
    rest = room - (sum(compact) + len(COLUMNS) - 1)
    return (max(compact[0], compact[0] + rest),) + compact[1:]


def _name(market_id: str, width: int) -> str:
    if len(market_id) <= width:
        return market_id
    base = market_id.removesuffix("-PERP")
    return base if len(base) <= width else base[:width - 1] + "…"


def position_cells(p: Position, w: tuple[int, ...] | None = None) -> tuple[Text, ...]:
    """One row: the size signed (long +, short −, `format.position`), numbers
    right-aligned, each within its column's width."""
    w = w or tuple(c for _, c, _ in COLUMNS)
    upnl = p.unrealized_pnl
    dist = liq_distance_pct(p)
    dist_text = "-" if dist is None else ">999%" if dist >= 1000 else fit(dist, w[5] - 1, 1) + "%"
    dist_style = "" if dist is None else "bold red" if dist < LIQ_DANGER_PCT else \
        "yellow" if dist < LIQ_WARN_PCT else ""
    cells = (
        Text(_name(p.market_id, w[0])),
        Text(fit_position(p.quantity, w[1]), justify="right"),
        Text(fit(p.entry_price, w[2]), justify="right"),
        Text(fit(upnl, w[3], sign=True), justify="right",
             style="green" if upnl > 0 else "red" if upnl < 0 else ""),
        Text(fit(p.liquidation_price, w[4]), justify="right"),
        Text(dist_text, justify="right", style=dist_style),
    )
    return cells


class PositionsTable(DataTable, can_focus=True):
    """Focusable (`w` reaches it, `z` maximizes it); the cursor is off."""

    ALLOW_MAXIMIZE = True

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.widths: tuple[int, ...] = ()
        self.shown: tuple[Position, ...] = ()

    def on_mount(self) -> None:
        self.cursor_type = "none"
        self.cell_padding = 0
        self.zebra_stripes = True
        self._columns(widths(self.size.width))

    def _columns(self, w: tuple[int, ...]) -> None:
        self.clear(columns=True)
        self.widths = w
        for i, ((name, _, _), width) in enumerate(zip(COLUMNS, w, strict=True)):
            label = Text(name) if i == 0 else Text(name, justify="right")
            self.add_column(label, key=name, width=width if i == 0 else width + 1)

    def on_resize(self) -> None:
        if widths(self.size.width) != self.widths:
            self._columns(widths(self.size.width))
            self.show(self.shown)

    def show(self, positions: tuple[Position, ...]) -> None:
        self.shown = positions
        rows = {p.market_id: position_cells(p, self.widths) for p in positions}
        if not rows:
            rows = {"-": (Text("flat"),) + (Text(""),) * (len(COLUMNS) - 1)}
        for key in [k.value for k in self.rows if k.value not in rows]:
            self.remove_row(key)
        for key, cells in rows.items():
            if key not in self.rows:
                self.add_row(*cells, key=key)
                continue
            for (name, _, _), cell in zip(COLUMNS, cells, strict=True):
                if self.get_cell(key, name) != cell:
                    self.update_cell(key, name, cell)
