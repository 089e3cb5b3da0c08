"""Per-strategy PnL (average cost), performance metrics and quote statistics.

- `PnlBook`: position, average entry, realized PnL net of fees, volume, trades,
  closes and wins. A fill that reduces the position realises (price − average)·size
  on the closed part; a fill through zero closes the old side and opens the new one
  at the fill price. A close is a win when what it realised beats its own fee.
- `PnlSeries`: the strategy's total PnL sampled over time, for today's PnL (since
  00:00 UTC or since the series opened, whichever is later, carried over a restart
  from the journal by `restore_day`), the hourly loss, the drawdown of the equity
  attributed to it (starting account equity + its PnL: in currency and as % of the
  peak), the Sharpe ratio of per-minute PnL changes (annualised with √(minutes per
  year), and only from `SHARPE_MIN_RETURNS` changes over `SHARPE_MIN_SPAN_S` on), and
  the chart.
- `QuoteBook`: every level sent, when and against which fair value, so each
  fill gives its time to fill and the spread it captured (bps from fair,
  positive when bought below or sold above).
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from desk.domain import BPS, ZERO, Side
from desk.domain.records import Fill

MINUTES_PER_YEAR = 525_600
COST_QUANTUM = Decimal("1e-12")
# A Sharpe ratio from a few minutes annualised by √525600 is noise times 725 (a desk saw
# 1201 after 13 minutes): none is given before an hour of one-minute PnL changes.
SHARPE_MIN_RETURNS = 60
SHARPE_MIN_SPAN_S = 3600.0


@dataclass(frozen=True, slots=True)
class Metrics:
    total_pnl: Decimal
    daily_pnl: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    fees: Decimal
    total_volume: Decimal   # notional, quote currency
    trade_count: int
    win_rate: float | None  # % of closes (position-reducing fills) that won; None: no close
    sharpe_ratio: float | None  # None until it means something (SHARPE_MIN_RETURNS)
    max_drawdown: Decimal   # currency: the largest fall of the attributed equity from its peak
    position: Decimal
    average_price: Decimal | None
    max_drawdown_pct: float = 0.0  # the largest fall as % of the peak attributed equity
    wins: int = 0           # closes that realised more than their own fee
    closes: int = 0         # fills that reduced the position


@dataclass(frozen=True, slots=True)
class QuoteStats:
    quotes_sent: int
    quotes_filled: int
    fill_rate: float           # %
    avg_fill_time_ms: float
    avg_spread_captured_bps: float


class PnlBook:
    """Average-cost PnL kept through the open cost (Σ signed size · price), so that a
    book back at flat has realised exactly its cash flow."""

    def __init__(self) -> None:
        self.position = ZERO
        self.cost = ZERO      # of the open position, signed like it
        self.realized = ZERO  # net of fees
        self.fees = ZERO
        self.volume = ZERO
        self.trades = 0
        self.closes = 0
        self.wins = 0

    @property
    def average(self) -> Decimal | None:
        return self.cost / self.position if self.position else None

    def seed(self, position: Decimal, entry_price: Decimal | None) -> None:
        """Start from a position found on the venue."""
        self.position = position
        self.cost = position * entry_price if position and entry_price is not None else ZERO

    def on_fill(self, fill: Fill) -> Decimal:
        """Apply a fill; returns the PnL it realised (before fees)."""
        qty = fill.signed_quantity
        price = fill.price
        self.trades += 1
        self.volume += fill.quantity * price
        self.fees += fill.fee
        self.realized -= fill.fee
        pos = self.position
        if pos == 0 or (pos > 0) == (qty > 0):  # opening or adding
            self.position = pos + qty
            self.cost += qty * price
            return ZERO
        closed = min(abs(qty), abs(pos))
        # the share of the cost leaving, cut to 1e-12 so every sum stays exact
        removed = self.cost if closed == abs(pos) else \
            (self.cost * closed / abs(pos)).quantize(COST_QUANTUM)
        realised = (closed * price if pos > 0 else -closed * price) - removed
        self.realized += realised
        self.cost -= removed
        self.closes += 1
        if realised > fill.fee:  # a win pays its own fee (a rebate is a negative fee)
            self.wins += 1
        self.position = pos + qty
        if self.position != 0 and (self.position > 0) != (pos > 0):
            self.cost = self.position * price  # through zero: the rest opens at this price
        return realised

    def unrealized(self, mark: Decimal | None) -> Decimal:
        if self.position == 0 or mark is None:
            return ZERO
        return mark * self.position - self.cost

    def total(self, mark: Decimal | None) -> Decimal:
        return self.realized + self.unrealized(mark)


class PnlSeries:
    """Total PnL over time, from zero when the series starts. `sample()` keeps a point at
    most every `sample_s`; a new UTC day starts the daily PnL afresh. Today's PnL is
    `total − day_start`: since 00:00 UTC or since the series opened, whichever is later,
    plus what `open_at` restored of the day from before a restart."""

    def __init__(self, base_equity: Decimal, sample_s: float = 1.0):
        self.base_equity = base_equity
        self.sample_s = sample_s
        self.recent: deque[tuple[float, Decimal]] = deque()   # the last hour, per sample
        self.minutes: deque[tuple[float, Decimal]] = deque(maxlen=7 * 24 * 60)
        self.day: int | None = None
        self.day_start = ZERO
        self.peak = base_equity
        self.max_drawdown = ZERO      # currency
        self.max_drawdown_pct = 0.0   # % of the peak
        self.last = ZERO
        self.opening = ZERO
        self._restored_day: int | None = None
        self._last_t: float | None = None
        self._sharpe: tuple[tuple[int, float | None], float | None] | None = None

    def open_at(self, total: Decimal, today: Decimal = ZERO,
                points: Sequence[tuple[float, Decimal]] = (), t: float | None = None) -> None:
        """Start from `total` instead of zero (a position reloaded from the venue carries
        the PnL it made before this run, which is not today's or this hour's). `today`
        is what the strategy had made today before this run and `points` its (time,
        today's PnL then) of the last hour, both restored from the journal at wall time
        `t` (`restore_day`): the daily and hourly losses go on from them, so a restart
        never resets a breaker. They count only if the first sample is on `t`'s UTC day."""
        self.opening = self.last = total
        self.day_start = total - today
        self.peak = self.base_equity + total
        self._restored_day = int(t // 86400) if t is not None else None
        self.recent.clear()
        self.recent.extend((pt, self.day_start + value) for pt, value in points)

    def sample(self, t: float, total: Decimal) -> None:
        self.last = total
        day = int(t // 86400)
        if self.day is None:
            # The series starts at its opening: a loss made before the first sample counts.
            if self._restored_day is not None and self._restored_day != day:
                self.day_start = self.opening  # restored for a day that has ended
                self.recent.clear()
            self.day = day
            self._last_t = t
            self.recent.append((t, self.opening))
            self.minutes.append((t, self.opening))
        elif self.day != day:
            self.day, self.day_start = day, total
        equity = self.base_equity + total
        self.peak = max(self.peak, equity)
        self.max_drawdown = max(self.max_drawdown, self.peak - equity)
        if self.peak > 0:
            drawdown = float((self.peak - equity) / self.peak * 100)
            self.max_drawdown_pct = max(self.max_drawdown_pct, drawdown)
        if self._last_t is not None and t - self._last_t < self.sample_s:
            return
        self._last_t = t
        self.recent.append((t, total))
        while self.recent and self.recent[0][0] < t - 3600:
            self.recent.popleft()
        if not self.minutes or t - self.minutes[-1][0] >= 60:
            self.minutes.append((t, total))

    def daily(self, total: Decimal | None = None) -> Decimal:
        """Today's PnL at `total` (the live total; by default the last sample's)."""
        return (self.last if total is None else total) - self.day_start

    def hourly(self) -> Decimal:
        """PnL change over the last hour (from the oldest sample within it)."""
        return self.last - self.recent[0][1] if self.recent else ZERO

    def drawdown_pct(self) -> float:
        equity = self.base_equity + self.last
        return float((self.peak - equity) / self.peak * 100) if self.peak > 0 else 0.0

    def sharpe(self) -> float | None:
        """Annualised from the per-minute changes; None before `SHARPE_MIN_RETURNS` of
        them spanning `SHARPE_MIN_SPAN_S`, or while the PnL has not varied. Recomputed
        only when a minute point was added (the screens ask 10 times a second, the deque
        holds up to a week)."""
        key = (len(self.minutes), self.minutes[-1][0] if self.minutes else None)
        if self._sharpe is None or self._sharpe[0] != key:
            self._sharpe = (key, self._compute_sharpe())
        return self._sharpe[1]

    def _compute_sharpe(self) -> float | None:
        minutes = self.minutes
        if len(minutes) < SHARPE_MIN_RETURNS + 1 or \
                minutes[-1][0] - minutes[0][0] < SHARPE_MIN_SPAN_S:
            return None
        values = [float(v) for _, v in minutes]
        changes = [b - a for a, b in zip(values, values[1:], strict=False)]
        mean = sum(changes) / len(changes)
        var = sum((c - mean) ** 2 for c in changes) / (len(changes) - 1)
        if var <= 0:
            return None
        return mean / math.sqrt(var) * math.sqrt(MINUTES_PER_YEAR)


@dataclass(frozen=True, slots=True)
class DayRestore:
    """Today's PnL from before a restart, for `PnlSeries.open_at`."""
    today: Decimal
    points: tuple[tuple[float, Decimal], ...]   # (wall time, today's PnL then), last hour


def restore_day(last: Mapping[str, Any], hour: Sequence[Mapping[str, Any]], *,
                total: Decimal, mark: Decimal | None, same_book: bool) -> DayRestore:
    """The day's PnL so far, from the journal's `pnl_update` records of this strategy
    today: `last` the newest, `hour` those of the last hour (oldest first). `total` is
    the strategy's total PnL now, at `mark`.

    With `same_book` (this run's book was rebuilt from the strategy's journaled fills,
    so its total is on the recorded footing), today = the recorded daily + (total now −
    the recorded total): every fill after the record and the mark's move while the desk
    was down count. Otherwise (a position seeded from the venue), today = the recorded
    daily + the recorded position × (mark now − the recorded mark)."""
    today = Decimal(str(last["daily_pnl"]))
    if same_book and last.get("total_pnl") is not None:
        today += total - Decimal(str(last["total_pnl"]))
    else:
        held, was = last.get("position"), last.get("mark")
        if held is not None and was is not None and mark is not None:
            today += Decimal(str(held)) * (mark - Decimal(str(was)))
    points = tuple((int(r["ts_ms"]) / 1000, Decimal(str(r["daily_pnl"]))) for r in hour
                   if r.get("daily_pnl") is not None and r.get("ts_ms") is not None)
    return DayRestore(today, points)


@dataclass(slots=True)
class _Sent:
    side: Side
    fair: Decimal
    sent_ms: int
    filled: bool = False


class QuoteBook:
    """Quotes sent, by client order id, until their fills are seen. Every cycle replaces
    the whole ladder (at most 10 orders), so only the last few cycles' orders can still
    fill: `keep` 2,000 is 200 cycles, and the memory stays flat on a busy desk."""

    def __init__(self, keep: int = 2_000):
        self.keep = keep
        self.sent: OrderedDict[str, _Sent] = OrderedDict()
        self.quotes_sent = 0
        self.quotes_filled = 0
        self._fill_ms_sum = 0.0
        self._captured_sum = 0.0
        self._captured_n = 0

    def on_sent(self, client_order_id: str, side: Side, fair: Decimal, sent_ms: int) -> None:
        self.sent[client_order_id] = _Sent(side, fair, sent_ms)
        self.quotes_sent += 1
        while len(self.sent) > self.keep:
            self.sent.popitem(last=False)

    def on_fill(self, fill: Fill) -> float | None:
        """Record a fill of one of our levels; returns the spread it captured (bps)."""
        entry = self.sent.get(fill.client_order_id or "")
        if entry is None:
            return None
        if not entry.filled:
            entry.filled = True
            self.quotes_filled += 1
            self._fill_ms_sum += max(0, fill.created_at - entry.sent_ms)
        edge = (entry.fair - fill.price) if fill.side is Side.BUY else (fill.price - entry.fair)
        captured = float(edge / entry.fair * BPS)
        self._captured_sum += captured
        self._captured_n += 1
        return captured

    def stats(self) -> QuoteStats:
        sent, filled = self.quotes_sent, self.quotes_filled
        return QuoteStats(
            quotes_sent=sent, quotes_filled=filled,
            fill_rate=filled / sent * 100 if sent else 0.0,
            avg_fill_time_ms=self._fill_ms_sum / filled if filled else 0.0,
            avg_spread_captured_bps=(self._captured_sum / self._captured_n
                                     if self._captured_n else 0.0))
