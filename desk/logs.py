"""Where desk's log lines go: stderr, written by a thread of its own.

The event loop that quotes must never wait for a log line. A stderr nobody reads (a
pipe whose reader is busy or gone, a terminal paused with ctrl+s) blocks the write, and
a plain `StreamHandler` would block the loop with it: the dead-man checks, the heartbeat
to the watchdog and the quotes all stop. So records go into a bounded queue
(`QueueHandler`) and one daemon thread writes them. When the queue is full a record is
dropped and counted, and the writer reports the count once it can write again.

Secrets are masked before a record is queued (`redact.install` on the root logger and
its handler), so nothing unredacted ever waits in the queue.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
from logging.handlers import QueueHandler
from typing import TextIO

from desk.store import redact

FORMAT = "%(levelname)s %(name)s: %(message)s"
CAPACITY = 10_000  # records waiting to be written; more are dropped (and counted)


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

    def __init__(self, stream: TextIO | None = None, capacity: int = CAPACITY) -> None:
        self.queue: queue.Queue[logging.LogRecord | None] = queue.Queue(capacity)
        self.handler = _Dropping(self.queue)
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
                    "msg": f"{dropped} log line(s) dropped: stderr was not keeping up"}))
            if record is None:
                return
            self.target.handle(record)

    def stop(self, timeout: float = 1.0) -> None:
        """Write what is queued, for at most `timeout` s (a blocked stderr stays blocked)."""
        try:
            self.queue.put(None, timeout=timeout)
        except queue.Full:
            return
        self.thread.join(timeout)


def setup(level: int = logging.WARNING, stream: TextIO | None = None,
          capacity: int = CAPACITY) -> LogWriter | None:
    """Send the root logger's records, redacted, through a `LogWriter` and return it (call
    `stop()` before the process exits, to flush). Like `logging.basicConfig`, a root
    logger that has handlers already (a host program's, pytest's) is left with them:
    only the redaction is added, and None is returned."""
    root = logging.getLogger()
    if root.handlers:
        redact.install()
        return None
    writer = LogWriter(stream, capacity)
    root.addHandler(writer.handler)
    root.setLevel(level)
    redact.install()
    writer.thread.start()
    return writer


def cover(*names: str) -> None:
    """Mask secrets on loggers that do not propagate to the root (uvicorn configures its
    own, with handlers of their own): on each logger and each of its handlers."""
    for name in names:
        redact.install(logging.getLogger(name))
