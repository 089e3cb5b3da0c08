"""One strategy in full: every metric, the quote stats, its ladder, recent fills and
events."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Static

from desk.engine.events import EventType
from desk.engine.view import DeskView, StrategyView
from desk.ui.format import bps, money, qty, signed
from desk.ui.widgets.event_log import EventLog

DETAIL_HZ = 4.0


def metrics_table(s: StrategyView) -> Table:
    m, q = s.metrics, s.stats
    t = Table.grid(padding=(0, 2))
    t.add_column(style="dim")
    t.add_column(justify="right")
    rows = [
        ("state", s.state + (f" ({s.reason})" if s.reason else "")),
        ("breaker", s.breaker or "ok"),
        ("market", s.market_id),
        ("position", f"{qty(m.position)} / {qty(s.max_position)}"),
        ("average price", money(m.average_price)),
        ("fair value", money(s.fair)),
        ("total PnL", signed(m.total_pnl)),
        ("today", signed(m.daily_pnl)),
        ("realised", signed(m.realized_pnl)),
        ("unrealised", signed(m.unrealized_pnl)),
        ("fees", money(m.fees)),
        ("volume", money(m.total_volume)),
        ("trades", str(m.trade_count)),
        ("win rate", f"{m.win_rate:.1f}%"),
        ("Sharpe", f"{m.sharpe_ratio:.2f}"),
        ("max drawdown", f"{m.max_drawdown:.2f}%"),
        ("quotes sent", str(q.quotes_sent)),
        ("quotes filled", str(q.quotes_filled)),
        ("fill rate", f"{q.fill_rate:.1f}%"),
        ("avg time to fill", f"{q.avg_fill_time_ms:,.0f} ms"),
        ("spread captured", bps(q.avg_spread_captured_bps)),
        ("spread / skew", f"{bps(s.spread_bps)} / {bps(s.skew_bps)}"),
    ]
    for k, v in rows:
        t.add_row(k, v)
    return t


def ladder_text(s: StrategyView) -> Text:
    text = Text("our ladder\n", style="bold")
    for p, size in reversed(s.asks):
        text.append(f"  ask {money(p):>12} {qty(size):>8}\n", style="red")
    for p, size in s.bids:
        text.append(f"  bid {money(p):>12} {qty(size):>8}\n", style="green")
    if not s.bids and not s.asks:
        text.append("  nothing resting\n", style="dim")
    return text


def fills_text(view: DeskView, sid: str, keep: int = 12) -> Text:
    text = Text("recent fills\n", style="bold")
    fills = [e for e in view.events if e.strategy_id == sid and e.type is
             EventType.QUOTE_FILLED][-keep:]
    for e in reversed(fills):
        text.append(f"  {e.data.get('side', ''):<4} {qty(e.data.get('quantity'))} @ "
                    f"{money(e.data.get('price'))}  {e.data.get('liquidity', '')}\n")
    if not fills:
        text.append("  none yet\n", style="dim")
    return text


class DetailScreen(Screen):
    BINDINGS = [Binding("escape,d", "app.pop_screen", "Back")]

    def __init__(self, sid: str) -> None:
        super().__init__(id="detail")
        self.sid = sid

    def compose(self) -> ComposeResult:
        yield Static("", id="detail-title")
        with Horizontal(id="detail-top"):
            yield Static("", id="detail-metrics")
            yield Static("", id="detail-side")
        yield EventLog(id="detail-events")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#detail-metrics").border_title = "metrics"
        self.query_one("#detail-side").border_title = "ladder and fills"
        self.redraw()
        self.set_interval(1 / DETAIL_HZ, self.redraw)

    def redraw(self) -> None:
        view = self.app.backend.view()  # type: ignore[attr-defined]
        s = view.strategy(self.sid) if view else None
        if view is None or s is None:
            self.query_one("#detail-title", Static).update("strategy gone")
            return
        self.query_one("#detail-title", Static).update(
            Text(f" {s.name} · {s.market_id} · {s.id}", style="bold"))
        self.query_one("#detail-metrics", Static).update(metrics_table(s))
        self.query_one("#detail-side", Static).update(ladder_text(s) + Text("\n")
                                                      + fills_text(view, s.id))
        from desk.engine.events import Severity
        self.query_one(EventLog).show(view.events, {s.id: s.name}, s.id, Severity.INFO)
