"""A key that will expire never expires under resting quotes.

`KeyExpiry` knows when the engine's key stops working (its `expiresAt`, when desk
knows it). It warns ahead (a day, an hour and ten minutes before), and from
`stand_down_s` before the moment it asks the dead-man switch to stand the desk
down, so the cancel-all goes out while the key still works. Another key (`u` on
the keys screen, `desk keys use`) lifts it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

WARN_AHEAD_S = (86_400.0, 3_600.0, 600.0)
STAND_DOWN_S = 60.0


def parse_expiry(iso: str | None) -> float | None:
    """Unix seconds of an ISO-8601 expiry (Z or an offset), or None."""
    if not iso:
        return None
    try:
        at = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.timestamp()


def when(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(at))


class KeyExpiry:
    def __init__(self, expires_at: float | None = None, stand_down_s: float = STAND_DOWN_S):
        self.expires_at = expires_at
        self.stand_down_s = stand_down_s
        self._warned: set[float] = set()

    def reset(self, expires_at: float | None) -> None:
        self.expires_at = expires_at
        self._warned = set()

    def due(self, now: float) -> str | None:
        """Why the desk must stand down now, or None."""
        if self.expires_at is None or now < self.expires_at - self.stand_down_s:
            return None
        return (f"expires at {when(self.expires_at)}: stood down before it does "
                "(trade with another key to go on)")

    def warnings(self, now: float) -> list[str]:
        """The warnings due now, each once."""
        if self.expires_at is None:
            return []
        left = self.expires_at - now
        out = []
        for ahead in WARN_AHEAD_S:
            if left <= ahead and ahead not in self._warned:
                self._warned.add(ahead)
                out.append(f"expires at {when(self.expires_at)}, in {_span(max(left, 0))}: "
                           "create and use another key before then")
        return out[-1:]  # only the nearest: a key already an hour from expiry warns once


def _span(seconds: float) -> str:
    if seconds >= 3_600:
        return f"{seconds / 3_600:.1f} h"
    return f"{seconds / 60:.0f} min"
