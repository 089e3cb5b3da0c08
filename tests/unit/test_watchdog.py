"""The watchdog's watch: what ends it, read from a real pipe (the kill itself is tested
end to end in tests/integration/test_cli_run.py); its actions file and how desk journals
it (end to end in tests/integration/test_watchdog_exit.py)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time

from desk.engine.events import EventBus
from desk.store.journal import Journal
from desk.watchdog import (
    STOP,
    Orders,
    Watchdog,
    _first_line,
    actions_path,
    journal_actions,
    read_actions,
    record_action,
    report_actions,
    watch,
)


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


def action(n: int, **extra) -> dict:
    return {"id": f"4242-{n}", "fired_at_ms": 1_000 + n, "done_at_ms": 1_100 + n,
            "watchdog_pid": 4242, "desk_pid": 4000, "trigger": "eof", "url": "http://x",
            "result": "nothing rests", "cancelled": 3, "attempts": 1, "resting_after": 0,
            "error": None, **extra}


def test_actions_are_recorded_as_json_lines_and_read_back_skipping_a_torn_line(tmp_path):
    path = actions_path(tmp_path / "journal.sqlite3")
    assert path.name == "journal.sqlite3.watchdog.jsonl"
    record_action(path, action(1))
    with path.open("a") as f:
        f.write('{"id": "torn')  # a watchdog killed mid-write
    record_action(path, action(2, error="x-api-key: sk_live_abcdefghijklmnop0123"))
    got = read_actions(path)
    assert [a["id"] for a in got] == ["4242-1", "4242-2"]
    assert got[0] == action(1)
    assert "sk_live_abcdefghijklmnop0123" not in path.read_text()  # redacted


def test_journal_actions_journals_each_once_then_drops_the_file(tmp_path):
    path = actions_path(tmp_path / "j.sqlite3")
    for n in (1, 2):
        record_action(path, action(n))
    published: list[dict] = []
    assert journal_actions(path, published.append, lambda: {"4242-1"}) == 1
    assert [p["watchdog_id"] for p in published] == ["4242-2"]
    p = published[0]
    assert p["reason"] == "watchdog: desk died" and p["count"] == 3
    assert p["severity"] == "warning" and p["result"] == "nothing rests"
    assert p["fired_at_ms"] == 1_002 and p["done_at_ms"] == 1_102
    assert not path.exists() and not path.with_name(path.name + ".reading").exists()
    assert journal_actions(path, published.append, set) == 0  # nothing left


def test_a_file_left_aside_by_a_start_that_died_is_read_first(tmp_path):
    path = actions_path(tmp_path / "j.sqlite3")
    record_action(path.with_name(path.name + ".reading"), action(1, result="could not "
                                                                  "confirm"))
    record_action(path, action(2, trigger="silent"))
    published: list[dict] = []
    assert journal_actions(path, published.append, set) == 2
    assert [p["watchdog_id"] for p in published] == ["4242-1", "4242-2"]
    assert published[0]["severity"] == "error"  # not confirmed
    assert published[1]["reason"] == "watchdog: desk hung"


def test_report_actions_journals_desk_wide_events_through_the_bus(tmp_path):
    journal = Journal(tmp_path / "j.sqlite3")
    try:
        bus = EventBus(lambda: 5_000, journal)
        path = actions_path(journal.path)
        record_action(path, action(1))
        assert report_actions(path, bus, journal) == 1
        record_action(path, action(1))  # the same one again (a start that died midway)
        assert report_actions(path, bus, journal) == 0
        events = journal.events(types=["quote_cancelled"])
        assert len(events) == 1
        e = events[0]
        assert e["strategy_id"] is None and e["severity"] == "warning"
        assert e["watchdog"] == "fired" and e["count"] == 3 and e["ts_ms"] == 5_000
    finally:
        journal.close()


def test_each_action_is_one_line(tmp_path):
    path = tmp_path / "a.jsonl"
    for n in (1, 2, 3):
        record_action(path, action(n))
    assert len(path.read_text().splitlines()) == 3
