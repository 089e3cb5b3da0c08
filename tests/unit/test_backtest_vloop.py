"""Virtual time: `VirtualLoop` jumps straight to the next timer when nothing is ready, so
hour-long sleeps cost no wall time and wake at exactly the time asked; a run that
waits on something no timer will bring is `Stalled`; `run_virtual` cleans up after
itself; `VirtualClock` is the engine's clock on top (epoch + loop time, whole ms)."""

from __future__ import annotations

import asyncio
import time

import pytest

from desk.backtest.vloop import EPOCH, Stalled, VirtualClock, VirtualLoop, run_virtual


def test_an_hour_long_sleep_is_instant_in_wall_time_and_exact_in_loop_time():
    loop = VirtualLoop()

    async def main() -> tuple[float, float]:
        before = loop.time()
        await asyncio.sleep(3600)
        return before, loop.time()

    started = time.perf_counter()
    before, after = run_virtual(main(), loop)
    assert time.perf_counter() - started < 0.5
    assert before == 0.0
    assert after == 3600.0


def test_sleeps_longer_than_asyncio_s_longest_select_timeout_still_land_exactly():
    # asyncio caps one select() at a day: two days are two jumps, and nothing is lost
    loop = VirtualLoop(start=100.0)

    async def main() -> float:
        await asyncio.sleep(2 * 86_400 + 0.5)
        return loop.time()

    assert run_virtual(main(), loop) == 100.0 + 2 * 86_400 + 0.5


def test_concurrent_sleeps_wake_in_time_order_at_their_own_virtual_times():
    loop = VirtualLoop()
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, *naps: float) -> None:
        for nap in naps:
            await asyncio.sleep(nap)
            woke.append((name, loop.time()))

    async def main() -> None:
        await asyncio.gather(sleeper("c", 3.0), sleeper("a", 0.25), sleeper("b", 2.5),
                             sleeper("twice", 1.0, 1.0))

    run_virtual(main(), loop)
    assert woke == [("a", 0.25), ("twice", 1.0), ("twice", 2.0), ("b", 2.5), ("c", 3.0)]
    assert loop.is_closed()


def test_time_stands_still_while_anything_is_ready():
    loop = VirtualLoop()

    async def busy() -> float:
        for _ in range(1000):
            await asyncio.sleep(0)
        return loop.time()

    async def main() -> tuple[float, float]:
        waiter = asyncio.ensure_future(asyncio.sleep(5))
        t = await busy()
        await waiter
        return t, loop.time()

    assert run_virtual(main(), loop) == (0.0, 5.0)


def test_a_timeout_is_a_timer_so_waiting_with_one_is_not_a_stall():
    loop = VirtualLoop()

    async def main() -> float:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(loop.create_future(), timeout=7.5)
        return loop.time()

    assert run_virtual(main(), loop) == 7.5


def test_a_future_that_nothing_resolves_raises_stalled():
    loop = VirtualLoop()

    async def main() -> None:
        await asyncio.sleep(10)
        await loop.create_future()  # no timer, nothing ready: would block forever

    started = time.perf_counter()
    with pytest.raises(Stalled, match="nothing is scheduled"):
        run_virtual(main(), loop)
    assert time.perf_counter() - started < 0.5
    assert loop.time() == 10.0  # it got as far as the last timer
    assert loop.is_closed()


def test_stalled_is_a_runtime_error():
    assert issubclass(Stalled, RuntimeError)


def test_run_virtual_cancels_leftover_tasks_and_closes_the_loop():
    loop = VirtualLoop()
    seen: list[object] = []

    async def forever() -> None:
        try:
            for _ in range(100):  # bounded, so that a missing cancel fails, not hangs
                await asyncio.sleep(1)
                seen.append(loop.time())
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    async def main() -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(forever())
        await asyncio.sleep(3.5)
        return task

    task = run_virtual(main(), loop)
    assert seen == [1.0, 2.0, 3.0, "cancelled"]
    assert task.cancelled()
    assert loop.is_closed()
    assert loop.time() == 3.5  # the clean-up moved no time


def test_run_virtual_closes_the_loop_when_main_raises_and_returns_its_value_otherwise():
    loop = VirtualLoop()

    async def boom() -> None:
        await asyncio.sleep(1)
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        run_virtual(boom(), loop)
    assert loop.is_closed()

    async def answer() -> int:
        await asyncio.sleep(60)
        return 42

    assert run_virtual(answer()) == 42  # on a loop of its own


def test_the_virtual_clock_is_the_epoch_plus_loop_time():
    loop = VirtualLoop()
    try:
        clock = VirtualClock(loop)
        assert EPOCH == 1_767_225_600.0  # 2026-01-01T00:00:00Z
        assert clock.epoch == EPOCH
        assert clock.monotonic() == 0.0
        assert clock.time() == EPOCH
        assert clock.ms() == 1_767_225_600_000
        loop.advance(90.5)
        assert clock.monotonic() == 90.5
        assert clock.time() == EPOCH + 90.5
        assert clock.ms() == 1_767_225_690_500
        assert VirtualClock(loop, epoch=1000.0).time() == 1090.5
    finally:
        loop.close()


def test_ms_rounds_to_the_nearest_millisecond_rather_than_truncating():
    loop = VirtualLoop()
    try:
        clock = VirtualClock(loop, epoch=0.0)
        for _ in range(10):
            loop.advance(0.1)
        assert clock.time() < 1.0  # 0.9999999999999999: float steps fall short
        assert clock.ms() == 1000
        loop.advance(0.0004)
        assert clock.ms() == 1000
        loop.advance(0.0002)  # 1000.6 ms
        assert clock.ms() == 1001
        on_epoch = VirtualClock(loop)
        assert on_epoch.ms() == 1_767_225_601_001
    finally:
        loop.close()


def test_clock_sleep_is_a_virtual_sleep():
    loop = VirtualLoop()
    clock = VirtualClock(loop)

    async def main() -> tuple[float, int]:
        await clock.sleep(2.25)
        return clock.monotonic(), clock.ms()

    started = time.perf_counter()
    assert run_virtual(main(), loop) == (2.25, 1_767_225_602_250)
    assert time.perf_counter() - started < 0.5
