"""Where desk's log lines go: stderr (the headless commands) or a rotating file (the
desk's screen, which Textual draws on the terminal), written by a thread of its own;
and the last warnings and errors, kept in memory for the screen to show.

The event loop that quotes must never wait for a log line. A stderr nobody reads (a
pipe whose reader is busy or gone, a terminal paused with ctrl+s) blocks the write, and
a plain `StreamHandler` would block the loop with it: the dead-man checks, the heartbeat
to the watchdog and the quotes all stop. So records go into a bounded queue
(`QueueHandler`) and one daemon thread writes them. When the queue is full a record is
dropped and counted, and the writer reports the count once it can write again.

Secrets are masked before a record is queued (`redact.install` on the root logger and
its handlers), so nothing unredacted ever waits in the queue, reaches the file or the
in-memory ring.

Under the screen nothing but the screen may reach the terminal: the log goes to
`desk.log` in the user log dir (or `--log-file`), rotated (`RotatingFileHandler`), and
a child process's stderr is a pipe whose lines are logged here (`child_stderr`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from logging.handlers import QueueHandler, RotatingFileHandler
from pathlib import Path
from typing import TextIO

from desk.store import redact

FORMAT = "%(levelname)s %(name)s: %(message)s"
FILE_FORMAT = "%(asctime)s " + FORMAT
CAPACITY = 10_000  # records waiting to be written; more are dropped (and counted)
FILE_BYTES = 5_000_000  # a log file this big is rotated: desk.log.1 .. desk.log.3
FILE_BACKUPS = 3
RECENT = 200  # warnings and errors kept in memory for the screen


def default_log_file() -> Path:
    """`desk.log` in the user log dir (on Linux ~/.local/state/desk/log/desk.log)."""
    import platformdirs

    return Path(platformdirs.user_log_dir("desk")) / "desk.log"


@dataclass(frozen=True, slots=True)
class LogLine:
    """One warning or error as the screen shows it (already redacted)."""
    ts: float        # unix seconds
    level: str       # WARNING, ERROR, CRITICAL
    logger: str
    message: str     # the first line of the message, and the exception's last line


class Recent(logging.Handler):
    """The last `capacity` records at WARNING and above, and how many there were. Only a
    lock and a deque append on the logging thread: it never waits on I/O."""

    def __init__(self, capacity: int = RECENT) -> None:
        super().__init__(logging.WARNING)
        self.lines: deque[LogLine] = deque(maxlen=capacity)
        self.warnings = 0
        self.errors = 0
        self.seen = (0, 0)  # the counts when the screen last showed them

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if record.exc_text or record.exc_info:
                text = record.exc_text or logging.Formatter().formatException(
                    record.exc_info)  # type: ignore[arg-type]
                message += " | " + text.strip().splitlines()[-1]
            line = LogLine(record.created, record.levelname, record.name, message)
        except Exception:
            return
        with self.lock:  # type: ignore[union-attr]
            self.lines.append(line)
            if record.levelno >= logging.ERROR:
                self.errors += 1
            else:
                self.warnings += 1

    def snapshot(self) -> tuple[list[LogLine], int, int]:
        """The kept lines (oldest first), and the warnings and errors counted so far."""
        with self.lock:  # type: ignore[union-attr]
            return list(self.lines), self.warnings, self.errors

    def unseen(self) -> tuple[int, int]:
        """Warnings and errors since the last `mark_seen`."""
        with self.lock:  # type: ignore[union-attr]
            return self.warnings - self.seen[0], self.errors - self.seen[1]

    def mark_seen(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self.seen = (self.warnings, self.errors)

    def clear(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self.lines.clear()
            self.warnings = self.errors = 0
            self.seen = (0, 0)


recent = Recent()  # the process's ring (on the root logger once `setup` has run)
_writer: LogWriter | None = None  # the one `setup` installed


def installed() -> bool:
    """Whether this process keeps the ring (`setup` ran on a bare root logger)."""
    return recent in logging.getLogger().handlers


def log_path() -> Path | None:
    """The log file this process writes (None: stderr, or not set up)."""
    return _writer.path if _writer is not None else None


class _Dropping(QueueHandler):
    """Queues a record without ever waiting; a full queue drops it and counts."""

    def __init__(self, q: queue.Queue[logging.LogRecord | None]) -> None:
        super().__init__(q)
        self.lock_dropped = threading.Lock()
        self.dropped = 0

    def enqueue(self, record: logging.LogRecord) -> None:
        try:
            self.queue.put_nowait(record)
        except queue.Full:
            with self.lock_dropped:
                self.dropped += 1

    def take_dropped(self) -> int:
        with self.lock_dropped:
            n, self.dropped = self.dropped, 0
        return n


class LogWriter:
    """The root logger's one handler, and the thread that empties its queue to `stream`."""

    def __init__(self, stream: TextIO | None = None, capacity: int = CAPACITY,
                 path: Path | None = None) -> None:
        """To `path` (a rotating file) when given, else to `stream` (default stderr)."""
        self.queue: queue.Queue[logging.LogRecord | None] = queue.Queue(capacity)
        self.handler = _Dropping(self.queue)
        self.path = path
        self.sink = "stderr" if path is None else "the log file"
        self.target: logging.Handler
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.target = RotatingFileHandler(path, maxBytes=FILE_BYTES,
                                              backupCount=FILE_BACKUPS, encoding="utf-8")
            formatter = logging.Formatter(FILE_FORMAT)
            formatter.converter = time.gmtime  # UTC, as the screen's clock
            self.target.setFormatter(formatter)
        else:
            self.target = logging.StreamHandler(stream if stream is not None else sys.stderr)
            self.target.setFormatter(logging.Formatter(FORMAT))
        self.thread = threading.Thread(target=self._write, name="desk-log", daemon=True)

    def _write(self) -> None:
        while True:
            record = self.queue.get()
            dropped = self.handler.take_dropped()
            if dropped:
                self.target.handle(logging.makeLogRecord({
                    "name": __name__, "levelno": logging.WARNING, "levelname": "WARNING",
                    "msg": f"{dropped} log line(s) dropped: {self.sink} was not keeping "
                           "up"}))
            if record is None:
                return
            self.target.handle(record)

    def stop(self, timeout: float = 1.0) -> None:
        """Write what is queued, for at most `timeout` s (a blocked stderr stays blocked)."""
        global _writer
        if _writer is self:
            _writer = None
        try:
            self.queue.put(None, timeout=timeout)
        except queue.Full:
            return
        self.thread.join(timeout)
        if self.path is not None:
            self.target.close()


def setup(level: int = logging.WARNING, stream: TextIO | None = None,
          capacity: int = CAPACITY, path: Path | None = None) -> LogWriter | None:
    """Send the root logger's records, redacted, through a `LogWriter` (to the rotating
    file `path`, else to `stream`) and into the `recent` ring, and return the writer
    (call `stop()` before the process exits, to flush). Like `logging.basicConfig`, a
    root logger that has handlers already (a host program's, pytest's) is left with
    them: only the redaction is added, and None is returned."""
    global _writer
    root = logging.getLogger()
    if root.handlers:
        redact.install()
        return None
    writer = LogWriter(stream, capacity, path)
    root.addHandler(writer.handler)
    root.addHandler(recent)
    root.setLevel(level)
    redact.install()
    writer.thread.start()
    _writer = writer
    return writer


def cover(*names: str) -> None:
    """Mask secrets on loggers that do not propagate to the root (uvicorn configures its
    own, with handlers of their own): on each logger and each of its handlers."""
    for name in names:
        redact.install(logging.getLogger(name))


def _forward(fd: int, name: str) -> None:
    """Log each line a child writes to its stderr (the read end `fd`) under `name`, at
    the level the line starts with (desk's own format), else as a warning."""
    log = logging.getLogger(name)
    with open(fd, encoding="utf-8", errors="replace") as lines:
        for line in lines:
            line = line.rstrip()
            if not line:
                continue
            head, _, rest = line.partition(" ")
            level = logging.getLevelName(head)
            if isinstance(level, int) and rest:
                log.log(level, "%s", rest)
            else:
                log.warning("%s", line)


@contextlib.contextmanager
def child_stderr(name: str) -> Iterator[int | None]:
    """What to give a child process as its stderr while it is started (`Popen(stderr=)`):
    None (inherit desk's) when desk logs to stderr; when desk logs to a file (under the
    screen) the write end of a pipe whose lines a thread of desk's logs under `name`, so
    the child never writes on the terminal and its complaints are in desk's log."""
    if _writer is None or _writer.path is None:
        yield None
        return
    read, write = os.pipe()
    try:
        yield write
    except BaseException:
        os.close(read)
        raise
    finally:
        os.close(write)  # the child holds its own copy
    threading.Thread(target=_forward, args=(read, name), name=f"log-{name}",
                     daemon=True).start()
