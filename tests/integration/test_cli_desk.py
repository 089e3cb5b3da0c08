"""`desk` (the screen) as a real process in a pseudo-terminal: it starts the embedded
venue, shows the strategies quoting, and on `q` or SIGTERM exits 0 leaving no
process behind."""

from __future__ import annotations

import os
import pty
import select
import signal
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")


def children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with open(task / "children") as f:
            out += [int(x) for x in f.read().split()]
    return out


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


class Terminal:
    def __init__(self, tmp: Path, *args: str, **env_extra: str):
        env = {**os.environ, "DESK_JOURNAL_PATH": str(tmp / "journal.sqlite"),
               "DESK_STRATEGIES_PATH": str(tmp / "strategies.toml"),
               "DESK_KEY_DIR": str(tmp / "keys"), "TERM": "xterm-256color",
               "COLUMNS": "120", "LINES": "40", **env_extra}
        env.pop("NO_COLOR", None)
        argv = [sys.executable, "-m", "desk", "--seed", "2", *args]
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: desk in the terminal
            os.execve(sys.executable, argv, env)
        self.seen = b""

    def read_until(self, needle: bytes, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if needle in self.seen:
                return True
            ready, _, _ = select.select([self.fd], [], [], 0.1)
            if ready:
                try:
                    self.seen += os.read(self.fd, 1 << 16)
                except OSError:
                    return needle in self.seen
        return needle in self.seen

    def wait(self, timeout: float) -> int | None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.read_until(b"\x00never", 0.1)  # keep draining the terminal
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
        return None

    def kill(self) -> None:
        if alive(self.pid):
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        os.close(self.fd)


@pytest.mark.parametrize("how", ["q", "SIGTERM"])
def test_desk_quits_cleanly_and_leaves_nothing_running(tmp_path: Path, how: str):
    term = Terminal(tmp_path)
    try:
        assert term.read_until(b"RUNNING", 30), term.seen[-2000:]
        venues = children(term.pid)
        assert venues, "the embedded venue runs as desk's child"
        if how == "q":  # q asks (Cancel is the default); Left Left is Quit, then Enter
            os.write(term.fd, b"q")
            assert term.read_until(b"Quit desk", 10), term.seen[-2000:]
            time.sleep(0.5)
            os.write(term.fd, b"\x1b[D")
            time.sleep(0.2)
            os.write(term.fd, b"\x1b[D")
            time.sleep(0.2)
            os.write(term.fd, b"\r")
        else:
            os.kill(term.pid, signal.SIGTERM)
        assert term.wait(40) == 0  # at once when well; a loaded machine can be slow
        for pid in venues:
            for _ in range(50):
                if not alive(pid):
                    break
                time.sleep(0.1)
            assert not alive(pid), f"venue process {pid} outlived desk"
    finally:
        term.kill()
