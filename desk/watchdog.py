"""The crash-proof kill switch: a small process that outlives desk and pulls its quotes.

When desk trades it starts `python -m desk.watchdog` in a session of its own, with its
own trade key, and writes a heartbeat line to the watchdog's stdin from the engine's
event loop every `beat_s`. The watchdog fires an unscoped cancel-all when:
- heartbeats stop for longer than `timeout_s` (desk hung, or its engine loop wedged);
- its stdin reaches end-of-file without a "stop" line: desk died (even by SIGKILL, the
  kernel closes the pipe), and nothing it left resting is stood behind any more.
It retries until the venue confirms, reads the open orders back and cancels again while
any rest, writes what it did to its log, and exits. A clean desk exit sends "stop"
first, and the watchdog exits without touching anything.

What it did also goes, as one JSON line, into its actions file (`Orders.actions_path`,
beside desk's journal): desk journals those lines as events at its next start (and at
once when it replaces a watchdog that fired while desk lived on, hung), then empties
the file (`journal_actions`).

Limits: it runs on the same machine, so a dead machine (or a network cut between it
and the venue) takes the watchdog down too; OCX documents no server-side
cancel-after. The first line on stdin carries the key as JSON, so the secret is never
on a command line or in the environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import select
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TextIO

log = logging.getLogger(__name__)
BEAT = "beat"
STOP = "stop"


@dataclass(frozen=True)
class Orders:
    """What the watchdog is told on its first line."""
    url: str
    secret: str = field(repr=False)
    timeout_s: float
    log_path: str
    give_up_s: float = 300.0
    actions_path: str | None = None  # JSON lines of what it did, for desk's journal


def _log(out: TextIO, message: str) -> None:
    from desk.store.redact import redact

    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    out.write(f"{stamp} watchdog[{os.getpid()}]: {redact(message)}\n")
    out.flush()


async def pull_everything(orders: Orders, out: TextIO,
                          action: dict[str, Any] | None = None) -> bool:
    """Cancel-all until the venue confirms and nothing rests; False if it gave up.
    `action` gets the totals: cancelled, attempts, resting_after, error."""
    from desk.killswitch import KillSwitch
    from desk.ocx.rest import OcxClient

    switch = KillSwitch(partial(OcxClient, orders.url, api_key=orders.secret))
    deadline = time.monotonic() + orders.give_up_s
    totals: dict[str, Any] = action if action is not None else {}
    totals.update(cancelled=0, attempts=0, resting_after=None, error=None)
    try:
        while True:
            report = await switch.fire()
            totals["cancelled"] += report.cancelled
            totals["attempts"] += report.attempts
            totals["resting_after"] = report.resting_after
            totals["error"] = report.error
            _log(out, f"cancel-all: {report.cancelled} cancelled in {report.attempts} "
                      f"attempt(s), {report.resting_after} resting after, "
                      f"{report.elapsed_ms:.0f} ms" + (f" (last error: {report.error})"
                                                       if report.error else ""))
            if report.resting_after == 0:
                return True
            if switch.refused:
                _log(out, "gave up: the venue refuses this key a cancel-all")
                totals["gave_up"] = "the venue refuses this key a cancel-all"
                return False
            if time.monotonic() > deadline:
                _log(out, f"gave up after {orders.give_up_s:.0f} s: the venue never "
                          "confirmed that nothing rests")
                totals["gave_up"] = (f"after {orders.give_up_s:.0f} s the venue had not "
                                     "confirmed that nothing rests")
                return False
            await asyncio.sleep(1.0)
    finally:
        with contextlib.suppress(Exception):
            await switch.aclose()


def _first_line(fd: int) -> tuple[bytes, bytes]:
    """The orders line, and whatever came after it (read unbuffered, so no heartbeat or
    stop that arrived with it is lost)."""
    data = b""
    while b"\n" not in data:
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    line, _, rest = data.partition(b"\n")
    return line, rest


def watch(fd: int, timeout_s: float, buffer: bytes = b"") -> str:
    """Read heartbeats until something ends the watch: "stop", "eof" or "silent"."""
    last = time.monotonic()
    while True:
        *lines, buffer = buffer.split(b"\n")
        if any(line.strip() == STOP.encode() for line in lines):
            return STOP
        if lines:
            last = time.monotonic()
        left = timeout_s - (time.monotonic() - last)
        if left <= 0:
            return "silent"
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 4096)
        if not chunk:
            return "eof"
        buffer += chunk


NICE = 10  # the watchdog's loading must not slow desk's own start-up (2 cores, 3 processes)


def main() -> int:
    with contextlib.suppress(OSError):
        os.nice(NICE)  # it needs the CPU only when desk is dead or hung: then it is free
    fd = sys.stdin.fileno()
    first, rest = _first_line(fd)
    try:
        orders = Orders(**json.loads(first))
    except (ValueError, TypeError):
        print("desk watchdog: the first line must be its orders as JSON", file=sys.stderr)
        return 2
    del first
    import desk.killswitch  # noqa: F401  (loaded now: firing must not wait for imports)
    import desk.ocx.rest  # noqa: F401

    desk_pid = os.getppid()
    log = Path(orders.log_path)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a", encoding="utf-8") as out:
        _log(out, f"watching desk (pid {desk_pid}) on {orders.url}, timeout "
                  f"{orders.timeout_s:g} s")
        why = watch(fd, orders.timeout_s, rest)
        if why == STOP:
            _log(out, "desk stopped cleanly: nothing to do")
            return 0
        _log(out, "desk's pipe closed without a stop: desk died (or could not confirm its own "
                  "cancel-all)" if why == "eof" else
             f"no heartbeat for {orders.timeout_s:g} s: desk is hung")
        fired_at_ms = int(time.time() * 1000)
        action: dict[str, Any] = {}
        try:
            pulled = asyncio.run(pull_everything(orders, out, action))
        except Exception as exc:  # still say what happened, in both places
            _log(out, f"failed: {exc!r}")
            action["error"], pulled = repr(exc), False
        _log(out, "done: nothing rests" if pulled else "done: could not confirm")
        if orders.actions_path:
            try:
                record_action(Path(orders.actions_path), {
                    "id": f"{os.getpid()}-{fired_at_ms}", "fired_at_ms": fired_at_ms,
                    "done_at_ms": int(time.time() * 1000), "watchdog_pid": os.getpid(),
                    "desk_pid": desk_pid, "trigger": why,
                    "url": orders.url, "result": "nothing rests" if pulled
                    else "could not confirm", **action})
            except OSError as exc:
                _log(out, f"could not record the action in {orders.actions_path}: {exc}")
        return 0 if pulled else 1


TRIGGERS = {"eof": "desk died", "silent": "desk hung"}


def actions_path(journal_path: Path) -> Path:
    """The watchdog's actions file of a journal: beside it."""
    return journal_path.with_name(journal_path.name + ".watchdog.jsonl")


def record_action(path: Path, action: dict[str, Any]) -> None:
    """Append one action as a JSON line (redacted), on disk before the watchdog exits."""
    from desk.store.redact import redacted_json

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab+") as f:
        line = redacted_json(action) + "\n"
        if f.seek(0, os.SEEK_END) > 0:
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":  # a torn line (a killed writer): start a line of its own
                line = "\n" + line
        f.write(line.encode())
        f.flush()
        os.fsync(f.fileno())


def read_actions(path: Path) -> list[dict[str, Any]]:
    """The actions in the file, oldest first; a torn or foreign line is skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    actions = []
    for line in text.splitlines():
        with contextlib.suppress(ValueError):
            action = json.loads(line)
            if isinstance(action, dict) and isinstance(action.get("id"), str):
                actions.append(action)
    return actions


def journal_actions(path: Path, publish: Callable[[dict[str, Any]], object],
                    journaled: Callable[[], set[str]]) -> int:
    """Journal every action in the file not journaled yet, then drop the file; how many
    were journaled. The file is first renamed aside (a watchdog that fires meanwhile
    starts a new one, kept for next time; one left aside by a start that died is read
    first). `publish(fields)` journals one (`action_event`); `journaled()` gives the ids
    already in the journal (a start that died between journaling and dropping)."""
    aside = path.with_name(path.name + ".reading")
    with contextlib.suppress(FileNotFoundError):
        if aside.exists():  # a start that died while reading: its lines first
            with aside.open("a", encoding="utf-8") as out:
                out.write(path.read_text(encoding="utf-8"))
            path.unlink()
        else:
            os.replace(path, aside)
    actions = read_actions(aside)
    count = 0
    if actions:
        done = journaled()
        for a in actions:
            if a["id"] not in done:
                done.add(a["id"])
                publish(action_event(a))
                count += 1
    with contextlib.suppress(FileNotFoundError):
        aside.unlink()
    return count


def report_actions(path: Path, bus: Any, journal: Any) -> int:
    """`journal_actions` into desk's journal through its event bus (so the event log and
    `desk run` show them too): each a desk-wide `quote_cancelled` whose reason starts
    with "watchdog:"."""
    from desk.engine.events import EventType, Severity

    def publish(fields: dict[str, Any]) -> None:
        severity = Severity(fields.pop("severity"))
        bus.publish(EventType.QUOTE_CANCELLED, None, severity, **fields)

    def journaled() -> set[str]:
        events = journal.events(types=["quote_cancelled"], limit=1000)
        return {str(e["watchdog_id"]) for e in events if e.get("watchdog_id")}

    try:
        return journal_actions(path, publish, journaled)
    except Exception:  # never a reason not to start; the file stays for the next one
        log.exception("journaling the watchdog's actions from %s failed", path)
        return 0


def action_event(a: dict[str, Any]) -> dict[str, Any]:
    """The journal event's fields for one watchdog action."""
    why = TRIGGERS.get(str(a.get("trigger")), str(a.get("trigger")))
    confirmed = a.get("result") == "nothing rests"
    return {"reason": f"watchdog: {why}", "count": int(a.get("cancelled") or 0),
            "watchdog": "fired", "watchdog_id": a["id"], "fired_at_ms": a.get("fired_at_ms"),
            "done_at_ms": a.get("done_at_ms"), "trigger": why, "result": a.get("result"),
            "resting_after": a.get("resting_after"), "attempts": a.get("attempts"),
            "error": a.get("error"), "gave_up": a.get("gave_up"),
            "watchdog_pid": a.get("watchdog_pid"), "severity": "warning" if confirmed
            else "error"}


def default_log() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("desk")) / "watchdog.log"


class Watchdog:
    """desk's end: start the process, beat, stop it cleanly."""

    def __init__(self, orders: Orders):
        self.orders = orders
        self.proc: subprocess.Popen[bytes] | None = None
        self.broken = False
        self.restarts = 0
        self._beating: asyncio.Task | None = None
        # called when a watchdog that is gone is replaced (it may have fired while desk
        # lived on, hung): desk journals its actions then
        self.on_replaced: Callable[[], object] | None = None

    def start(self) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        # its own session: neither a ctrl+c at desk's terminal nor desk's death takes it
        self.proc = subprocess.Popen([sys.executable, "-m", "desk.watchdog"],
                                     stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, env=env,
                                     start_new_session=True)
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(self.orders.__dict__).encode() + b"\n")
        self.proc.stdin.flush()

    def _send(self, line: str) -> None:
        proc = self.proc
        if proc is None or proc.stdin is None or self.broken:
            return
        try:
            proc.stdin.write(line.encode() + b"\n")
            proc.stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            self.broken = True  # the watchdog is gone: `alive` says so

    def beat(self) -> None:
        self._send(BEAT)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None and not self.broken

    def stop(self, timeout: float = 5.0) -> None:
        """A clean exit: tell it so, and wait for it to leave."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        with contextlib.suppress(BrokenPipeError, ValueError, OSError):
            assert proc.stdin is not None
            proc.stdin.write(STOP.encode() + b"\n")
            proc.stdin.close()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)

    def hand_over(self) -> None:
        """An exit whose cancel-all the venue never confirmed: close the pipe without
        "stop", so the watchdog pulls the quotes (with its own key and retry budget) as
        if desk had died, and leave it running."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()

    def begin(self, beat_s: float) -> None:
        """Start the process and the heartbeats, on the running (the engine's) loop."""
        self.start()
        self._beating = asyncio.get_running_loop().create_task(self.run(beat_s),
                                                               name="watchdog-beat")

    async def end(self, pulled: bool = True) -> None:
        """desk's exit: no more heartbeats, then "stop" (waited for off the loop) when
        its quotes were pulled, or the pulling handed over to the watchdog when not."""
        if self._beating is not None:
            self._beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._beating
            self._beating = None
        if pulled:
            await asyncio.to_thread(self.stop)
        else:
            self.hand_over()

    async def run(self, beat_s: float) -> None:
        """Beat from the caller's event loop (the engine's): a wedged loop stops beating.
        A watchdog that is gone (it fired after a stall desk lived through, or it was
        killed) is replaced at once, and said so in desk's log."""
        while True:
            if self.proc is not None and not self.alive:
                old = self.proc
                self.restarts += 1
                log.warning("the watchdog (pid %s) is gone (exit %s): starting another",
                            old.pid, old.poll())
                with contextlib.suppress(OSError):
                    old.stdin.close()  # type: ignore[union-attr]
                self.broken = False
                self.start()
                if self.on_replaced is not None:
                    try:
                        self.on_replaced()
                    except Exception:  # the heartbeat must go on
                        log.exception("journaling the watchdog's actions failed")
            self.beat()
            await asyncio.sleep(beat_s)


if __name__ == "__main__":
    sys.exit(main())
