"""The host hands freed heap back to the system now and then (glibc only)."""

from __future__ import annotations

import sys
import threading

import pytest

from desk import host


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_malloc_trim_is_found_and_callable_on_linux():
    trim = host._malloc_trim()
    assert trim is not None
    assert trim() in (0, 1)  # 1: memory was released, 0: there was none to release


def test_the_trimmer_trims_until_told_to_stop(monkeypatch: pytest.MonkeyPatch):
    calls: list[int] = []
    stop = threading.Event()

    def fake_trim() -> int:
        calls.append(1)
        if len(calls) == 3:
            stop.set()
        return 0

    monkeypatch.setattr(host, "_malloc_trim", lambda: fake_trim)
    thread = threading.Thread(target=host._trim_memory, args=(stop, 0.001))
    thread.start()
    thread.join(5)
    assert not thread.is_alive() and len(calls) == 3


def test_without_malloc_trim_the_trimmer_returns_at_once(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(host, "_malloc_trim", lambda: None)
    host._trim_memory(threading.Event(), 1000.0)  # would block for 1000 s otherwise
