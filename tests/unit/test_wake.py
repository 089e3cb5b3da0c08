"""`Wake`: a strategy loop's sleep that a price tick or fill ends at once."""

from __future__ import annotations

import asyncio

from desk.engine.wake import Wake


class ManualClock:
    """Sleeps end only when the test says so."""

    def __init__(self) -> None:
        self.sleeps: list[tuple[float, asyncio.Event]] = []

    def time(self) -> float:
        return 0.0

    def monotonic(self) -> float:
        return 0.0

    async def sleep(self, seconds: float) -> None:
        done = asyncio.Event()
        self.sleeps.append((seconds, done))
        await done.wait()


async def test_set_ends_the_wait_in_one_turn_of_the_loop():
    clock = ManualClock()
    wake = Wake(clock)
    waiter = asyncio.create_task(wake.wait(30))
    for _ in range(3):
        await asyncio.sleep(0)
    assert [s for s, _ in clock.sleeps] == [30] and not waiter.done()
    wake.set()
    await asyncio.sleep(0)  # the waiting task resumes on the next turn
    assert waiter.done()


async def test_the_wait_ends_when_the_clocks_sleep_does():
    clock = ManualClock()
    wake = Wake(clock)
    waiter = asyncio.create_task(wake.wait(2))
    for _ in range(3):
        await asyncio.sleep(0)
    assert not waiter.done()
    clock.sleeps[0][1].set()
    await asyncio.wait_for(waiter, 1)


async def test_a_set_with_nobody_waiting_does_not_cut_the_next_wait_short():
    clock = ManualClock()
    wake = Wake(clock)
    wake.set()
    waiter = asyncio.create_task(wake.wait(5))
    for _ in range(3):
        await asyncio.sleep(0)
    assert not waiter.done()
    waiter.cancel()


async def test_a_woken_wait_leaves_no_sleep_running():
    wake = Wake(ManualClock())
    waiter = asyncio.create_task(wake.wait(60))
    await asyncio.sleep(0)
    wake.set()
    await waiter
    await asyncio.sleep(0)
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert others == []
