"""`desk` in a pseudo-terminal: ctrl+k, read by the terminal driver's input thread (which
fires the kill switch before the key reaches the screen's loop), pulls every quote and
says so; the journal counts what the kill switch cancelled."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from desk.store.journal import Journal
from tests.integration.test_cli_desk import Terminal

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")


def test_ctrl_k_in_a_real_terminal_pulls_every_quote(tmp_path: Path):
    term = Terminal(tmp_path)
    try:
        assert term.read_until(b"RUNNING", 30), term.seen[-2000:]
        time.sleep(1.0)  # quotes resting on every market
        os.write(term.fd, b"\x0b")  # ctrl+k
        assert term.read_until(b"ALL QUOTES PULLED", 15), term.seen[-3000:]
        with Journal(tmp_path / "journal.sqlite") as journal:
            stops = [e for e in journal.events(types=["quote_cancelled"])
                     if e.get("reason") == "emergency stop"]
        assert len(stops) == 1 and stops[0]["kill_switch"] > 0
        assert stops[0]["count"] == stops[0]["kill_switch"] + stops[0]["engine"]
    finally:
        term.kill()
