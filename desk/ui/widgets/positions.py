"""Positions across the account, one row per market with a position, updated by key."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from desk.domain.records import Position
from desk.ui.format import money, qty, signed

COLUMNS = (("market", 9), ("size", 8), ("entry", 10), ("uPnL", 9), ("liq", 10))


def position_cells(p: Position) -> tuple[Text, ...]:
    """The size is signed: long > 0, short < 0. Numbers right-aligned."""
    cells = (qty(p.quantity) if p.quantity < 0 else f"+{qty(p.quantity)}",
             money(p.entry_price), signed(p.unrealized_pnl), money(p.liquidation_price))
    return (Text(p.market_id), *(Text(c, justify="right") for c in cells))


class PositionsTable(DataTable, can_focus=False):
    def on_mount(self) -> None:
        self.cursor_type = "none"
        self.cell_padding = 0
        self.zebra_stripes = True
        for name, width in COLUMNS:
            self.add_column(name, key=name, width=width)

    def show(self, positions: tuple[Position, ...]) -> None:
        rows = {p.market_id: position_cells(p) for p in positions}
        if not rows:
            rows = {"-": (Text("flat"),) + (Text(""),) * (len(COLUMNS) - 1)}
        for key in [k.value for k in self.rows if k.value not in rows]:
            self.remove_row(key)
        for key, cells in rows.items():
            if key not in self.rows:
                self.add_row(*cells, key=key)
                continue
            for (name, _), cell in zip(COLUMNS, cells, strict=True):
                if self.get_cell(key, name) != cell:
                    self.update_cell(key, name, cell)
