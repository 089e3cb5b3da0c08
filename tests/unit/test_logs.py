"""desk's log writer: a blocked stderr never blocks the thread that logs; what could not
wait is dropped and counted; secrets are masked before they are queued."""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable, Iterator

import pytest

from desk import logs

SECRET = "ocx_sk_" + "A1b2" * 8


class Gate(io.StringIO):
    """A stream whose writes block until the gate opens (a pipe nobody reads)."""

    def __init__(self) -> None:
        super().__init__()
        self.open = threading.Event()

    def write(self, text: str) -> int:
        self.open.wait()
        return super().write(text)


@pytest.fixture
def bare_root() -> Iterator[Callable[[], logging.Logger]]:
    """The root logger with no handlers (pytest's put back afterwards). pytest adds its
    capture handlers when the test starts, so this returns a function to call in it."""
    root = logging.getLogger()
    saved: list[logging.Handler] = []
    level, filters = root.level, list(root.filters)

    def strip() -> logging.Logger:
        saved.extend(root.handlers)
        for h in saved:
            root.removeHandler(h)
        return root

    yield strip
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in saved:
        root.addHandler(h)
    root.filters[:] = filters
    root.setLevel(level)


def test_a_blocked_stream_never_blocks_the_logger_and_drops_are_counted(bare_root):
    bare_root()
    stream = Gate()
    writer = logs.setup(logging.WARNING, stream=stream, capacity=50)
    assert writer is not None
    log = logging.getLogger("desk.test")
    done = threading.Event()

    def flood() -> None:
        for i in range(5_000):
            log.warning("line %d", i)
        done.set()

    threading.Thread(target=flood, daemon=True).start()
    assert done.wait(30), "logging waited for the blocked stream"
    stream.open.set()
    writer.stop(timeout=10)
    lines = stream.getvalue().splitlines()
    dropped = [ln for ln in lines if ln.startswith("WARNING desk.logs: ")]
    assert dropped and all(ln.endswith(" log line(s) dropped: stderr was not keeping up")
                           for ln in dropped)
    n = sum(int(ln.split()[2]) for ln in dropped)
    written = [ln for ln in lines if ln.startswith("WARNING desk.test: line ")]
    assert n + len(written) == 5_000      # every line is either written or counted
    assert 0 < len(written) <= 52         # the queue's worth (and the one in hand)
    assert written[0] == "WARNING desk.test: line 0"


def test_lines_are_written_in_order_and_redacted_before_queueing(bare_root):
    bare_root()
    stream = io.StringIO()
    writer = logs.setup(logging.INFO, stream=stream)
    assert writer is not None
    log = logging.getLogger("desk.test")
    log.info("key %s in use", SECRET)
    try:
        raise ValueError(f"bad header x-api-key: {SECRET}")
    except ValueError:
        log.exception("failed")
    log.debug("not at INFO")
    queued = list(writer.queue.queue)
    assert all(SECRET not in r.getMessage() for r in queued if r is not None)
    writer.stop(timeout=10)
    text = stream.getvalue()
    assert SECRET not in text
    assert text.startswith("INFO desk.test: key ocx_sk_*** in use\nERROR desk.test: failed\n")
    assert "ValueError: bad header x-api-key: ***" in text
    assert "not at INFO" not in text


def test_a_root_with_handlers_keeps_them_and_only_gains_redaction(bare_root):
    root = bare_root()
    seen = io.StringIO()
    mine = logging.StreamHandler(seen)
    root.addHandler(mine)
    assert logs.setup(logging.WARNING) is None
    assert root.handlers == [mine]
    logging.getLogger("desk.test").warning("secret %s", SECRET)
    assert SECRET not in seen.getvalue() and "ocx_sk_***" in seen.getvalue()


def test_stop_gives_up_on_a_stream_that_stays_blocked(bare_root):
    bare_root()
    stream = Gate()
    writer = logs.setup(logging.WARNING, stream=stream, capacity=5)
    assert writer is not None
    for i in range(20):
        logging.getLogger("desk.test").warning("line %d", i)
    stopped = threading.Event()
    threading.Thread(target=lambda: (writer.stop(timeout=0.2), stopped.set()),
                     daemon=True).start()
    assert stopped.wait(10), "stop() waited for a blocked stream"
    stream.open.set()


def test_uvicorn_loggers_are_covered_once_configured(capsys):
    from desk.venue.server import VenueServer

    VenueServer()               # its uvicorn.Config sets up uvicorn's loggers (stderr)
    logs.cover("uvicorn", "uvicorn.error", "uvicorn.access")
    uv = logging.getLogger("uvicorn")     # its own handler, not the root's
    assert uv.handlers and not uv.propagate
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).error("a request with Bearer %s and key %s",
                                      "ocx_sess_" + "x" * 30, SECRET)
    err, out = capsys.readouterr()
    text = err + out
    leaked = SECRET[7:] in text or "x" * 30 in text
    assert not leaked, "a secret passed through uvicorn's handlers"
    assert text.count("Bearer *** and key ocx_sk_***") == 2


# --- to a file (the desk screen), the ring of recent warnings, children's stderr ----------

def test_a_log_file_is_written_rotated_and_redacted(bare_root, tmp_path):
    bare_root()
    path = tmp_path / "logs" / "desk.log"
    writer = logs.setup(logging.WARNING, path=path)
    assert writer is not None and logs.log_path() == path
    writer.target.maxBytes = 2_000  # type: ignore[attr-defined]  # rotate soon
    log = logging.getLogger("desk.test")
    log.warning("key %s refused", SECRET)
    for i in range(100):
        log.warning("line %03d %s", i, "x" * 40)
    writer.stop(timeout=10)
    text = path.read_text()
    assert SECRET not in text
    rotated = sorted(p.name for p in path.parent.iterdir())
    assert rotated == ["desk.log", "desk.log.1", "desk.log.2", "desk.log.3"]
    assert text.splitlines()[-1].endswith("WARNING desk.test: line 099 " + "x" * 40)
    # UTC timestamps, then desk's usual format
    assert text.splitlines()[-1][:4].isdigit() and " WARNING desk.test: " in text


def test_the_ring_keeps_the_last_warnings_and_errors_redacted(bare_root, tmp_path):
    bare_root()
    logs.recent.clear()
    writer = logs.setup(logging.WARNING, path=tmp_path / "desk.log")
    assert writer is not None and logs.installed()
    log = logging.getLogger("desk.test")
    log.info("not kept")
    for i in range(logs.RECENT + 5):
        log.warning("w %d", i)
    try:
        raise RuntimeError(f"x-api-key: {SECRET}")
    except RuntimeError:
        log.exception("boom %s", SECRET)
    lines, warnings, errors = logs.recent.snapshot()
    assert (warnings, errors) == (logs.RECENT + 5, 1)
    assert len(lines) == logs.RECENT and lines[0].message == "w 6"
    assert lines[-1].level == "ERROR" and SECRET not in lines[-1].message
    assert lines[-1].message == "boom ocx_sk_*** | RuntimeError: x-api-key: ***"
    assert logs.recent.unseen() == (logs.RECENT + 5, 1)
    logs.recent.mark_seen()
    log.error("again")
    assert logs.recent.unseen() == (0, 1)
    writer.stop(timeout=10)
    logs.recent.clear()


def test_a_childs_stderr_lands_in_the_log_file_not_on_desks(bare_root, tmp_path):
    import subprocess
    import sys
    import time

    bare_root()
    path = tmp_path / "desk.log"
    writer = logs.setup(logging.WARNING, path=path)
    assert writer is not None
    script = ("import sys; print('WARNING uvicorn.error: a warning', file=sys.stderr); "
              f"print('a traceback line {SECRET}', file=sys.stderr)")
    with logs.child_stderr("desk.venue.embedded") as stderr:
        assert isinstance(stderr, int)
        proc = subprocess.Popen([sys.executable, "-c", script], stderr=stderr)
    assert proc.wait(30) == 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "traceback" not in path.read_text():
        time.sleep(0.05)
    writer.stop(timeout=10)
    text = path.read_text()
    assert "WARNING desk.venue.embedded: uvicorn.error: a warning" in text
    assert "WARNING desk.venue.embedded: a traceback line ocx_sk_***" in text
    assert SECRET not in text
    logs.recent.clear()


def test_on_stderr_a_child_inherits_desks_stderr(bare_root):
    bare_root()
    writer = logs.setup(logging.WARNING, stream=io.StringIO())
    assert writer is not None and logs.log_path() is None
    with logs.child_stderr("desk.venue.embedded") as stderr:
        assert stderr is None
    writer.stop(timeout=10)
    logs.recent.clear()
