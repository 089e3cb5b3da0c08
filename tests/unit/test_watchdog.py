"""The watchdog's watch: what ends it, read from a real pipe (the kill itself is tested
end to end in tests/integration/test_cli_run.py)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time

from desk.watchdog import STOP, Orders, Watchdog, _first_line, watch


def pipe_with(*chunks: bytes, close: bool = True, delay: float = 0.0) -> int:
    r, w = os.pipe()

    def feed() -> None:
        for chunk in chunks:
            os.write(w, chunk)
            time.sleep(delay)
        if close:
            os.close(w)

    threading.Thread(target=feed, daemon=True).start()
    return r


def test_a_stop_line_ends_the_watch_quietly():
    r = pipe_with(b"beat\nbeat\n", b"stop\n", close=False)
    assert watch(r, 2.0) == STOP


def test_end_of_file_without_a_stop_means_desk_died():
    r = pipe_with(b"beat\n", b"beat\n")
    assert watch(r, 2.0) == "eof"


def test_silence_past_the_timeout_means_desk_is_hung():
    r = pipe_with(b"beat\n", close=False)
    began = time.monotonic()
    assert watch(r, 0.3) == "silent"
    assert 0.25 <= time.monotonic() - began < 2.0


def test_heartbeats_keep_it_watching():
    r = pipe_with(*([b"beat\n"] * 8), b"stop\n", close=False, delay=0.1)
    # 0.9 s of beats 0.1 s apart never leave a 0.3 s gap
    assert watch(r, 0.3) == STOP


def test_a_stop_that_came_with_the_orders_line_is_not_lost():
    r = pipe_with(b'{"url": "x"}\nbeat\nstop\n', close=False)
    line, rest = _first_line(r)
    assert line == b'{"url": "x"}'
    assert watch(r, 1.0, rest) == STOP


def test_orders_that_are_not_json_are_refused_with_a_message():
    proc = subprocess.run([sys.executable, "-m", "desk.watchdog"], input="nonsense\n",
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert "the first line must be its orders as JSON" in proc.stderr
    assert "Traceback" not in proc.stderr


async def test_a_watchdog_that_is_gone_is_replaced(tmp_path):
    log = tmp_path / "watchdog.log"
    dog = Watchdog(Orders("http://127.0.0.1:9", "not-a-secret", 30.0, str(log)))
    dog.start()
    beating = asyncio.create_task(dog.run(0.05))
    try:
        first = dog.proc
        assert first is not None
        await asyncio.sleep(0.3)
        first.send_signal(signal.SIGKILL)
        for _ in range(100):
            await asyncio.sleep(0.05)
            if dog.restarts and dog.alive:
                break
        assert dog.restarts == 1 and dog.alive and dog.proc is not first
    finally:
        beating.cancel()
        await asyncio.to_thread(dog.stop)
    assert "desk stopped cleanly" in log.read_text()
