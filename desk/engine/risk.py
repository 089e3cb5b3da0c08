"""Circuit breakers and the margin de-risk state of one strategy.

`breaker()` names the first breaker that trips, or None: daily loss, hourly
loss, drawdown of the attributed equity, realised volatility (only with
`max_volatility_pause`). Nothing trips with `circuit_breaker_enabled` off.

`MarginGuard` is how a strategy answers an `INSUFFICIENT_MARGIN` reject: each
reject halves its sizes (down to `min_quote_size`), and once they are at the
floor it drops the outer layer; after `recover_after` clean cycles it steps
back one notch. A margin reject is never a reason to reconnect.
"""

from __future__ import annotations

from decimal import Decimal

from desk.domain import ONE
from desk.engine.config import StrategyConfig
from desk.engine.metrics import PnlSeries

HALF = Decimal("0.5")


def breaker(cfg: StrategyConfig, series: PnlSeries, vol_pct: float | None) -> str | None:
    if not cfg.circuit_breaker_enabled:
        return None
    daily = series.daily()
    if daily <= -cfg.max_daily_loss:
        return f"daily loss {-daily:.2f} reached max_daily_loss {cfg.max_daily_loss}"
    hourly = series.hourly()
    if hourly <= -cfg.max_hourly_loss:
        return f"hourly loss {-hourly:.2f} reached max_hourly_loss {cfg.max_hourly_loss}"
    drawdown = series.drawdown_pct()
    if drawdown >= cfg.max_drawdown_percent:
        return (f"drawdown {drawdown:.2f}% reached max_drawdown_percent "
                f"{cfg.max_drawdown_percent}")
    if cfg.max_volatility_pause and vol_pct is not None and vol_pct >= cfg.volatility_threshold:
        return (f"realised volatility {vol_pct:.2f}% reached volatility_threshold "
                f"{cfg.volatility_threshold}%")
    return None


class MarginGuard:
    def __init__(self, recover_after: int = 20):
        self.recover_after = recover_after
        self.scale = ONE
        self.max_layers = 5
        self.clean = 0
        self.rejects = 0

    def on_reject(self, cfg: StrategyConfig) -> str:
        self.rejects += 1
        self.clean = 0
        if cfg.quote_size * self.scale > cfg.min_quote_size:
            self.scale *= HALF
            return f"sizes scaled to {self.scale}"
        self.max_layers = max(1, min(self.max_layers, cfg.quote_layers) - 1)
        return f"layers cut to {self.max_layers}"

    def on_clean(self, cfg: StrategyConfig) -> None:
        if not self.shrunk:
            return
        self.clean += 1
        if self.clean >= self.recover_after:
            self.clean = 0
            if self.max_layers < 5:  # layers first; past the configured count means no cap
                self.max_layers = 5 if self.max_layers + 1 >= cfg.quote_layers else \
                    self.max_layers + 1
            else:
                self.scale = min(ONE, self.scale * 2)

    @property
    def shrunk(self) -> bool:
        return self.scale < ONE or self.max_layers < 5
