"""PnL over time per strategy and in total (plotext, redrawn at 1 Hz)."""

from __future__ import annotations

from textual_plotext import PlotextPlot

from desk.engine.view import DeskView


class PnlChart(PlotextPlot, can_focus=True):
    """Focusable, so the keyboard reaches it (`w`) and maximizes it (`z`)."""

    ALLOW_MAXIMIZE = True

    def show(self, view: DeskView | None) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title("PnL")
        if view is None or not view.pnl.get("total"):
            self.refresh()
            return
        start = view.pnl["total"][0][0]
        names = {s.id: s.name for s in view.strategies}
        for sid, points in view.pnl.items():
            if sid != "total" and sid not in names:
                continue
            xs = [t - start for t, _ in points]
            ys = [v for _, v in points]
            plt.plot(xs, ys, label="total" if sid == "total" else names[sid],
                     marker="braille")
        plt.xlabel("seconds")
        self.refresh()
