"""Virtual time for the engine: an asyncio loop whose clock only moves when nothing is
ready to run, and then jumps straight to the next timer.

The engine sleeps on its injected `Clock` (strategy refreshes, the dead-man switch,
housekeeping) and wakes on futures (a price tick). On `VirtualLoop` those sleeps are
ordinary asyncio timers, so the very same code runs unchanged; when every task is
waiting, the loop's "select" does no I/O and advances the clock to the earliest
timer instead of blocking. Nothing here uses threads or sockets, and the order in
which callbacks run depends only on the program: a run is a pure function of its
seeds.

A loop with nothing scheduled and nothing ready would wait forever on a real clock;
here that is a bug in the simulation, raised as `Stalled`.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Coroutine, Mapping
from typing import Any, TypeVar

T = TypeVar("T")
EPOCH = 1_767_225_600.0  # 2026-01-01T00:00:00Z: the wall time a backtest starts at


class Stalled(RuntimeError):
    """Every task waits on something that no timer will ever bring."""


def _fd(fileobj: Any) -> int:
    return fileobj if isinstance(fileobj, int) else fileobj.fileno()


class _NoIO(selectors.BaseSelector):
    """A selector that never reports I/O: `select(timeout)` moves virtual time on by
    `timeout` (the wait until the earliest timer) and returns at once."""

    def __init__(self, loop: VirtualLoop):
        self._loop = loop
        self._keys: dict[int, selectors.SelectorKey] = {}

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        key = selectors.SelectorKey(fileobj, _fd(fileobj), events, data)
        self._keys[key.fd] = key
        return key

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._keys.pop(_fd(fileobj))

    def select(self, timeout: float | None = None) -> list:
        if timeout is None:
            raise Stalled("nothing is scheduled and nothing is ready: the run cannot go on")
        if timeout > 0:
            self._loop.advance(timeout)
        return []

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self._keys

    def close(self) -> None:
        self._keys.clear()


class VirtualLoop(asyncio.SelectorEventLoop):
    """`time()` is virtual seconds from `start` (monotonic, as asyncio's is)."""

    def __init__(self, start: float = 0.0):
        self._now = start
        super().__init__(_NoIO(self))
        # asyncio runs timers due within the real clock's resolution early (15.6 ms on
        # some systems): virtual time is exact, and a run must not depend on the machine
        self._clock_resolution = 1e-9

    def time(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds


class VirtualClock:
    """The engine's `Clock` on a `VirtualLoop`: wall time starts at `epoch`."""

    def __init__(self, loop: VirtualLoop, epoch: float = EPOCH):
        self.loop = loop
        self.epoch = epoch

    def time(self) -> float:
        return self.epoch + self.loop.time()

    def monotonic(self) -> float:
        return self.loop.time()

    def ms(self) -> int:
        """Wall time in whole milliseconds (the exchange core's clock)."""
        return round(self.time() * 1000)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def run_virtual(main: Coroutine[Any, Any, T], loop: VirtualLoop | None = None) -> T:
    """Run `main` to completion on a (new) virtual loop, then close the loop."""
    loop = loop or VirtualLoop()
    try:
        return loop.run_until_complete(main)
    finally:
        try:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        finally:
            loop.close()
