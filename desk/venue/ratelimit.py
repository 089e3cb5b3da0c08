"""Per-account order-path rate limit in a fixed one-minute window."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

WINDOW_MS = 60_000


@dataclass(slots=True, frozen=True)
class RateState:
    allowed: bool
    limit: int
    remaining: int
    reset_ms: int  # until the window resets

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(-(-self.reset_ms // 1000)),
        }


class RateLimiter:
    def __init__(self, limit: int, clock: Callable[[], int]):
        self.limit = limit
        self.clock = clock
        self._windows: dict[str, list[int]] = {}  # account -> [window, count]

    def hit(self, account_id: str, refusable: bool = True) -> RateState:
        """Count one order-path call. `refusable=False` (cancel-all) is counted, never refused."""
        now = self.clock()
        window = now // WINDOW_MS
        slot = self._windows.get(account_id)
        if slot is None or slot[0] != window:
            slot = self._windows[account_id] = [window, 0]
        reset_ms = (window + 1) * WINDOW_MS - now
        if slot[1] >= self.limit and refusable:
            return RateState(False, self.limit, 0, reset_ms)
        slot[1] += 1
        return RateState(True, self.limit, max(self.limit - slot[1], 0), reset_ms)

    def peek(self, account_id: str) -> RateState:
        now = self.clock()
        window = now // WINDOW_MS
        slot = self._windows.get(account_id)
        used = slot[1] if slot and slot[0] == window else 0
        return RateState(used < self.limit, self.limit, max(self.limit - used, 0),
                         (window + 1) * WINDOW_MS - now)
