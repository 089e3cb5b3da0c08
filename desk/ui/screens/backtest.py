"""The editor's quick backtest: it runs on open (away from the live desk), then shows the
statistics across runs and one run's PnL and inventory. Escape closes it; closing
before the result arrives just drops the result."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Label, Static
from textual_plotext import PlotextPlot

from desk.control import ControlError, QuickBacktest

Run = Callable[[], Awaitable[QuickBacktest]]


class BacktestScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape", "close", "Close")]

    def __init__(self, title: str, run: Run) -> None:
        super().__init__(classes="modal", id="backtest")
        self.title_text = title
        self.run = run
        self.result: QuickBacktest | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog backtest"):
            yield Label(self.title_text, id="bt-title", classes="dialog-title", markup=False)
            yield Static("running on the simulated market…", id="bt-status", markup=False)
            with Horizontal(id="bt-body"):
                yield DataTable(id="bt-table", cursor_type="none", zebra_stripes=True)
                with Vertical(id="bt-charts"):
                    yield PlotextPlot(id="bt-pnl")
                    yield PlotextPlot(id="bt-inventory")
            yield Static("", id="bt-footer", classes="dim", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Close (esc)", id="close", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#bt-body").display = False
        self._run()

    @work(exclusive=True, exit_on_error=False)
    async def _run(self) -> None:
        try:
            result = await self.run()
        except ControlError as err:
            self.query_one("#bt-status", Static).update(f"not run: {err}")
            return
        except Exception as err:  # the worker process died, or a bug: say so, keep the app
            self.query_one("#bt-status", Static).update(f"backtest failed: {err!r}"[:300])
            return
        self.show(result)

    def show(self, result: QuickBacktest) -> None:
        self.result = result
        self.query_one("#bt-title", Label).update(result.title)
        self.query_one("#bt-status").display = False
        table = self.query_one("#bt-table", DataTable)
        table.clear(columns=True)
        table.add_columns("statistic", "mean", "std")
        for statistic, mean, std in result.rows:
            table.add_row(statistic, mean, std)
        for chart_id, title, values in (("#bt-pnl", "PnL", result.pnl),
                                        ("#bt-inventory", "inventory", result.inventory)):
            chart = self.query_one(chart_id, PlotextPlot)
            chart.plt.clear_figure()
            chart.plt.title(title)
            chart.plt.plot(list(result.t), list(values), marker="braille")
            chart.plt.xlabel("seconds")
            chart.refresh()
        self.query_one("#bt-footer", Static).update(result.footer)
        self.query_one("#bt-body").display = True

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        self.dismiss(None)
