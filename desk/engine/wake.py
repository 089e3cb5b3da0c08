"""`Wake`: how a strategy's loop sleeps until its next refresh or until something
worth a re-quote happens, whichever is first.

A price tick must reach the loop in one hop of the event loop: `set()` resolves the
future the loop awaits. (An `asyncio.Event` raced against a sleep with `asyncio.wait`
takes three hops and two new tasks per wait, and every hop lets other ready work run
first.) The sleep itself runs on the injected clock.
"""

from __future__ import annotations

import asyncio

from desk.engine.ports import Clock


class Wake:
    def __init__(self, clock: Clock):
        self.clock = clock
        self._waiter: asyncio.Future[None] | None = None

    def set(self) -> None:
        """End the current wait now (a no-op when nothing waits: the loop looks at its
        state before every wait)."""
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self, seconds: float) -> None:
        """Sleep `seconds` on the clock, or less if `set()` is called."""
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        sleeper = loop.create_task(self.clock.sleep(seconds))
        sleeper.add_done_callback(lambda _: waiter.done() or waiter.set_result(None))
        try:
            await waiter
        finally:
            self._waiter = None
            sleeper.cancel()
