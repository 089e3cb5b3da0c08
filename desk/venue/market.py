"""Runtime state of one market: book, index, mark, band, halt flag and 24h stats."""

from __future__ import annotations

from collections import deque
from decimal import ROUND_HALF_EVEN, Decimal

from desk.domain import ZERO, ceil_to, floor_to
from desk.venue.accounts import MarketRisk
from desk.venue.book import OrderBook
from desk.venue.config import MarketConfig

MINUTE_MS = 60_000
DAY_MINUTES = 24 * 60
FUNDING_CAP = Decimal("0.0075")
FUNDING_QUANT = Decimal("0.00000001")


class MarketState:
    def __init__(self, config: MarketConfig, now_ms: int):
        self.config = config
        self.market_id = config.market_id
        self.tick = config.tick_size
        self.step = config.step_size
        self.book = OrderBook(config.market_id)
        self.halted = False
        self.risk = MarketRisk(self.step, config.initial_price, config.initial_margin_rate,
                               config.maintenance_margin_rate)
        self.index = config.initial_price
        self.index_ts = now_ms
        self.mark = config.initial_price
        self.last: Decimal | None = None
        self.band_low = 0
        self.band_high = 0
        # (minute index, high, low, volume) buckets of the last 24 hours
        self.minutes: deque[list] = deque()
        self.set_index(config.initial_price, now_ms)

    @property
    def trading_status(self) -> str:
        return "halted" if self.halted else "trading"

    @property
    def initial_margin_rate(self) -> Decimal:
        return self.risk.imr

    def set_index(self, price: Decimal, now_ms: int | None = None) -> None:
        self.index = price
        if now_ms is not None:
            self.index_ts = now_ms
        band = self.config.price_band_pct / 100
        self.band_low = int(ceil_to(price * (1 - band), self.tick) / self.tick)
        self.band_high = int(floor_to(price * (1 + band), self.tick) / self.tick)

    def update_mark(self) -> None:
        """Mark = median of best bid, best ask and index (index alone on a one-sided book)."""
        bid, ask = self.book.bids.best(), self.book.asks.best()
        if bid is None or ask is None:
            mark = self.index
        else:
            mark = sorted((bid * self.tick, ask * self.tick, self.index))[1]
        self.mark = mark.quantize(self.tick, rounding=ROUND_HALF_EVEN)
        self.risk.mark = self.mark

    def set_margin_factor(self, factor: Decimal) -> None:
        self.risk.imr = min(self.config.initial_margin_rate * factor, Decimal(1))

    def record_trade(self, price: Decimal, quantity: Decimal, now_ms: int) -> None:
        self.last = price
        minute = now_ms // MINUTE_MS
        if self.minutes and self.minutes[-1][0] == minute:
            bucket = self.minutes[-1]
            bucket[1] = max(bucket[1], price)
            bucket[2] = min(bucket[2], price)
            bucket[3] += quantity
        else:
            self.minutes.append([minute, price, price, quantity])
            while self.minutes and self.minutes[0][0] <= minute - DAY_MINUTES:
                self.minutes.popleft()

    def stats_24h(self, now_ms: int) -> tuple[Decimal | None, Decimal | None, Decimal]:
        since = now_ms // MINUTE_MS - DAY_MINUTES
        recent = [b for b in self.minutes if b[0] > since]
        if not recent:
            return None, None, ZERO
        return (max(b[1] for b in recent), min(b[2] for b in recent),
                sum((b[3] for b in recent), ZERO))

    def funding_rate(self) -> Decimal:
        """Premium of mark over index, capped; informational (no funding is charged)."""
        premium = (self.mark - self.index) / self.index
        premium = max(-FUNDING_CAP, min(FUNDING_CAP, premium))
        return premium.quantize(FUNDING_QUANT)
