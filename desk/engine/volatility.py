"""Realised volatility of a reference price over a rolling window.

Prices are sampled at most once per `sample_s`; each sample adds a log return
r over an interval dt. The variance rate is Σr² / Σdt over the window (exact
for a random walk sampled at irregular times), so:

- `sigma()` is the volatility per √second, relative (1e-4 = 1 bp/√s); times
  the price it is σ in price units, as the optimal-quoting models want it;
- `window_pct()` is the realised volatility over the whole window in percent,
  √(rate · window) · 100: what `volatility_threshold` and the `volatility`
  spread model read.
"""

from __future__ import annotations

import math
from collections import deque
from decimal import Decimal


class RealisedVol:
    def __init__(self, window_s: float, sample_s: float = 1.0, min_returns: int = 5):
        self.window_s = window_s
        self.sample_s = sample_s
        self.min_returns = min_returns
        self._returns: deque[tuple[float, float, float]] = deque()  # (t, r², dt)
        self._sum_r2 = 0.0
        self._sum_dt = 0.0
        self._last: tuple[float, float] | None = None  # (t, log price)

    def add(self, t: float, price: Decimal) -> None:
        if price <= 0:
            return
        logp = math.log(price)
        if self._last is not None:
            t0, logp0 = self._last
            dt = t - t0
            if dt < self.sample_s:
                return
            r2 = (logp - logp0) ** 2
            self._returns.append((t, r2, dt))
            self._sum_r2 += r2
            self._sum_dt += dt
        self._last = (t, logp)
        self._evict(t)

    def _evict(self, now: float) -> None:
        while self._returns and self._returns[0][0] < now - self.window_s:
            _, r2, dt = self._returns.popleft()
            self._sum_r2 -= r2
            self._sum_dt -= dt
        if not self._returns:
            self._sum_r2 = self._sum_dt = 0.0

    def variance_rate(self) -> float | None:
        if len(self._returns) < self.min_returns or self._sum_dt <= 0:
            return None
        return max(self._sum_r2, 0.0) / self._sum_dt

    def sigma(self) -> float | None:
        rate = self.variance_rate()
        return None if rate is None else math.sqrt(rate)

    def window_pct(self) -> float | None:
        rate = self.variance_rate()
        return None if rate is None else math.sqrt(rate * self.window_s) * 100.0
