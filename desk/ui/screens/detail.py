"""One strategy in full: every metric, the quote stats, its ladder, recent fills and
events.

What the numbers count (the README's "Metrics and events" says the same):
- total PnL: realised (average cost, net of fees) + unrealised at the live mark;
- today: since 00:00 UTC or since desk first had the strategy today (loaded at a start,
  or created), whichever is later, carried over a restart from the journal; "carried
  in" is total − today, the PnL from before (yesterday's, or a reloaded position's
  since its entry);
- closes won: fills that reduced the position and realised more than their own fee;
- Sharpe: "–" until an hour of one-minute PnL changes (`SHARPE_MIN_RETURNS`);
- max drawdown: the largest fall of the equity attributed to the strategy (account
  equity at start + its PnL) from its peak, in currency and as % of that peak.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from desk.domain.records import Fill
from desk.engine.metrics import Metrics
from desk.engine.view import StrategyView
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
        ("today (UTC)", signed(m.daily_pnl)),
        *([("carried in", signed(m.total_pnl - m.daily_pnl))]
          if m.total_pnl != m.daily_pnl else []),
        ("realised", signed(m.realized_pnl)),
        ("unrealised", signed(m.unrealized_pnl)),
        ("fees", money(m.fees)),
        ("volume", money(m.total_volume)),
        ("trades", str(m.trade_count)),
        ("closes won", closes_won(m)),
        ("Sharpe", "–" if m.sharpe_ratio is None else f"{m.sharpe_ratio:.2f}"),
        ("max drawdown", drawdown(m)),
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


def closes_won(m: Metrics) -> str:
    """Of the fills that reduced the position, how many realised more than their fee."""
    if m.win_rate is None:
        return "– (no close yet)"
    return f"{m.wins}/{m.closes} ({m.win_rate:.0f}%)"


def drawdown(m: Metrics) -> str:
    """In currency, and as a share of the attributed equity's peak (a small one shows as
    < 0.01 %, never as a bare 0.00 %)."""
    pct = m.max_drawdown_pct
    share = "0 %" if pct == 0 else "<0.01 %" if pct < 0.01 else f"{pct:.2f} %"
    return f"{money(m.max_drawdown)} ({share})"


def ladder_text(s: StrategyView) -> Text:
    text = Text("our ladder\n", style="bold")
    for p, size in reversed(s.asks):
        text.append(f"  ask {money(p):>12} {qty(size):>8}\n", style="red")
    for p, size in s.bids:
        text.append(f"  bid {money(p):>12} {qty(size):>8}\n", style="green")
    if not s.bids and not s.asks:
        text.append("  nothing resting\n", style="dim")
    return text


def _kind(fill: Fill, sid: str) -> str:
    cid = fill.client_order_id or ""
    if not cid:
        return "close"       # the operator's flatten: positions/close carries no id of ours
    return "hedge" if cid.startswith(f"{sid}.h") else str(fill.liquidity)


def fills_text(s: StrategyView, keep: int = 12) -> Text:
    """The strategy's last fills, newest first: its own record (kept from the journal
    over a restart), not the event ring, which a stream reconnect's chatter empties."""
    text = Text("recent fills\n", style="bold")
    fills = s.fills[-keep:]
    for f in reversed(fills):
        text.append(f"  {f.side!s:<4} {qty(f.quantity)} @ {money(f.price)}  "
                    f"{_kind(f, s.id)}\n")
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
            # scrollable (tab to a panel, then the arrows): 80x24 cannot show it all
            with VerticalScroll(id="detail-metrics-box", can_focus=True):
                yield Static("", id="detail-metrics")
            with VerticalScroll(id="detail-side-box", can_focus=True):
                yield Static("", id="detail-side")
        yield EventLog(id="detail-events")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#detail-metrics-box").border_title = "metrics"
        self.query_one("#detail-side-box").border_title = "ladder and fills"
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
                                                      + fills_text(s))
        from desk.engine.events import Severity
        self.query_one(EventLog).show(view.events, {s.id: s.name}, s.id, Severity.INFO)
