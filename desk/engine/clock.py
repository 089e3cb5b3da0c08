"""The real clock. Everything in the engine takes a `Clock` (see `ports.py`), so tests and
backtests run on their own time."""

from __future__ import annotations

import asyncio
import time


class SystemClock:
    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def now_ms(clock: SystemClock) -> int:
    return int(clock.time() * 1000)
