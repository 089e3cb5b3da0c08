"""`desk` in a pseudo-terminal while things go wrong: its log never reaches the terminal
(Textual draws there; a raw log line paints over the screen) but a rotating file in the
user log dir (or `--log-file`), and the screen says there are warnings to read."""

from __future__ import annotations

import os
import re
import signal
import sys
import time
from pathlib import Path

import pytest

from tests.integration.test_cli_desk import Terminal, alive, children

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")

# a log record as desk's log format writes it: `WARNING desk.ocx.streams: ...`
RAW_RECORD = re.compile(rb"(DEBUG|INFO|WARNING|ERROR|CRITICAL) [A-Za-z_][\w.]*: ")


def venue_of(pid: int) -> int:
    for child in children(pid):
        if b"venue" in Path(f"/proc/{child}/cmdline").read_bytes():
            return child
    raise AssertionError("no embedded venue among desk's children")


def kill_the_venue_and_quit(term: Terminal, log_file: Path) -> int | None:
    assert term.read_until(b"RUNNING", 40), term.seen[-2000:]
    venue = venue_of(term.pid)
    os.kill(venue, signal.SIGKILL)  # streams drop, calls fail: warnings and errors
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and "WARNING" not in _read(log_file):
        term.read_until(b"\x00never", 0.2)  # keep draining the terminal
    # the screen says so, in its own words
    assert term.read_until(b"L shows them", 10), term.seen[-3000:]
    os.kill(term.pid, signal.SIGTERM)
    return term.wait(60)


def _read(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def test_log_records_go_to_the_user_log_dir_never_the_terminal(tmp_path: Path):
    state = tmp_path / "state"
    term = Terminal(tmp_path, XDG_STATE_HOME=str(state))
    log_file = state / "desk" / "log" / "desk.log"
    try:
        code = kill_the_venue_and_quit(term, log_file)
        assert code is not None, "desk did not exit after SIGTERM"
        text = _read(log_file)
        assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ WARNING desk\.", text, re.M), text
        found = RAW_RECORD.search(term.seen)
        assert found is None, term.seen[max(0, found.start() - 200):found.end() + 200]
        assert b"warning(s)" in term.seen and str(log_file).encode() in term.seen  # at exit
    finally:
        term.kill()


def test_log_file_moves_the_log(tmp_path: Path):
    log_file = tmp_path / "elsewhere" / "my.log"
    term = Terminal(tmp_path, "--log-file", str(log_file),
                    XDG_STATE_HOME=str(tmp_path / "state"))
    try:
        assert kill_the_venue_and_quit(term, log_file) is not None
        assert "WARNING desk." in _read(log_file)
        assert not (tmp_path / "state" / "desk" / "log" / "desk.log").exists()
        assert RAW_RECORD.search(term.seen) is None
    finally:
        term.kill()
        for pid in children(term.pid) if alive(term.pid) else []:
            os.kill(pid, signal.SIGKILL)
