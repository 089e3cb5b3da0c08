"""Backoff and rate-limit pacing for the venue client.

Backoff is capped exponential with full jitter (a uniform draw in
[0, min(cap, base·2^attempt)]), drawn from an injected `random.Random` so
tests and backtests replay exactly. (tenacity and backoff both draw from the
global `random` module, which the project's determinism rule forbids.)
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping


def full_jitter(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """The wait before retry number `attempt` (1 = the first retry)."""
    return rng.uniform(0.0, min(cap, base * 2 ** min(attempt, 30)))


class RateLimitState:
    """The order-path budget as the venue last reported it (`X-RateLimit-*`).

    `remaining` counts down locally as calls go out, so concurrent callers do not
    all spend the last slot; a response's headers overwrite the local count.
    """

    def __init__(self) -> None:
        self.limit: int | None = None
        self.remaining: int | None = None
        self.reset_at: float | None = None  # monotonic seconds
        self.limited = 0                    # 429s received

    def update(self, headers: Mapping[str, str], now: float) -> None:
        """Take each header that parses; a venue's nonsense header is ignored, alone."""
        limit = _count(headers.get("x-ratelimit-limit"))
        remaining = _count(headers.get("x-ratelimit-remaining"))
        reset = _seconds(headers.get("x-ratelimit-reset"))
        if limit is not None:
            self.limit = limit
        if remaining is not None:
            self.remaining = remaining
        if reset is not None:
            self.reset_at = now + reset

    def limited_for(self, seconds: float, now: float) -> None:
        self.limited += 1
        self.remaining = 0
        self.reset_at = now + max(seconds, 0.0)

    def wait_s(self, now: float) -> float:
        """How long to hold an order-path call: zero unless the window is spent."""
        if self.remaining is None or self.remaining > 0 or self.reset_at is None:
            return 0.0
        return max(self.reset_at - now, 0.0)

    def spend(self, now: float) -> None:
        if self.reset_at is not None and now >= self.reset_at:
            self.remaining, self.reset_at = None, None  # a new window: unknown until told
        elif self.remaining is not None and self.remaining > 0:
            self.remaining -= 1


def _count(raw: str | None) -> int | None:
    try:
        value = int(raw) if raw is not None else None
    except ValueError:
        return None
    return value if value is None or value >= 0 else None


def _seconds(raw: str | None) -> float | None:
    try:
        value = float(raw) if raw is not None else None
    except ValueError:
        return None
    return value if value is None or (math.isfinite(value) and value >= 0) else None
