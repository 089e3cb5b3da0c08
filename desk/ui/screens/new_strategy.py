"""The editor for a new strategy (`n`): once the market field names a market the desk
knows, the size fields are filled from that market's price and the account's equity
(the engine's `suggested_sizes`: an order of about 1 % of equity, a position limit of
about 20 %, on the market's step). A size field the operator has typed into keeps
what was typed; one still showing a default or an earlier suggestion follows the
market."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from textual import on, work
from textual.widgets import Input

from desk.ui.screens.editor import Backtest, EditorScreen, Submit

Sizes = Callable[[str], Awaitable[dict[str, str] | None]]


class NewStrategyEditor(EditorScreen):
    def __init__(self, submit: Submit, backtest: Backtest | None, sizes: Sizes) -> None:
        super().__init__(None, " New strategy", submit, backtest)
        self.sizes = sizes
        self.suggested: dict[str, str] = {}   # what was filled in last, by field
        self.sized_for: str | None = None     # the market those sizes are for

    @on(Input.Changed, "#f-market_id")
    def _market_changed(self, event: Input.Changed) -> None:
        market = event.value.strip().upper()
        if market and market != self.sized_for:
            self._fill(market)

    @work(exclusive=True, group="sizing", exit_on_error=False)
    async def _fill(self, market: str) -> None:
        sizes = await self.sizes(market)
        if not sizes or not self.is_attached:
            return
        for name, value in sizes.items():
            widget = self.query_one(f"#f-{name}", Input)
            now = widget.value.strip()
            if now in (_text(self.initial.get(name)), self.suggested.get(name)):
                widget.value = value
        self.suggested, self.sized_for = dict(sizes), market


def _text(value: Any) -> str:
    return "" if value is None else str(value)
