"""`desk run`: the engine without a screen. Events go to stdout as JSON lines.

On SIGTERM or SIGINT every quote is pulled (unscoped cancel-all first), the
strategies stop, the embedded venue (if desk started one) stops, and the
process exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from desk.engine.events import Event
from desk.store import redact

if TYPE_CHECKING:
    from desk.settings import DeskSettings


def add_parser(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser(
        "run", help="run the strategies headless; events as JSON lines on stdout; "
                    "SIGTERM/SIGINT pulls every quote and exits 0",
        description="Run the enabled strategies without a screen: the embedded venue "
                    "(unless --venue-url), the engine, the dead-man switch and the "
                    "watchdog. Every event is printed to stdout as one JSON line; status "
                    "lines and log records go to stderr (or to --log-file). SIGTERM or "
                    "SIGINT pulls every quote (unscoped cancel-all first) and exits 0; 1 "
                    "if the venue never confirmed the cancel-all.")
    run.add_argument("--venue-url", default=None,
                     help="trade on this venue with the stored key in use for it "
                          "(default: start the embedded venue)")
    run.add_argument("--config", type=Path, default=argparse.SUPPRESS,
                     help="settings file; its [[strategies]] tables replace the saved "
                          "strategies for this run")
    run.add_argument("--seed", type=int, default=None,
                     help="seed of the embedded market and of desk's ids (reproducible runs)")
    run.add_argument("--log-file", type=Path, default=argparse.SUPPRESS, metavar="PATH",
                     help="write log records to this rotating file (default: stderr)")
    run.set_defaults(func=run_command)


def line(event: Event) -> str:
    """One event as a JSON line, every secret masked. The masking is the journal's
    (`redact.redacted_json`), whose text is laid out for the masks (` : ` after each
    key); the line printed is that text read back and written as plain JSON."""
    text = redact.redacted_json(event.to_json())
    try:
        return json.dumps(json.loads(text))
    except ValueError:  # a mask that broke the layout: the masked text as it is
        return text


def _print(event: Event) -> None:
    with contextlib.suppress(BrokenPipeError):  # a gone reader must not stop the desk
        # events carry venue messages: masked as the journal masks them
        print(line(event), flush=True)


def run_command(args: argparse.Namespace, settings: DeskSettings) -> int:
    try:
        return asyncio.run(_run(args, settings))
    except KeyboardInterrupt:
        return 0


async def _run(args: argparse.Namespace, settings: DeskSettings) -> int:
    from desk.launch import launch_failure, open_desk

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    received: list[str] = []

    def on_signal(sig: signal.Signals) -> None:
        received.append(sig.name)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        desk = await open_desk(settings, venue_url=args.venue_url,
                               config_path=getattr(args, "config", None), seed=args.seed,
                               on_event=_print)
    except Exception as err:
        failure = launch_failure(err)
        if failure is None:
            raise
        print(redact.redact(f"desk run: {failure[0]}"), file=sys.stderr)
        return failure[1]
    print(f"desk run: trading on {desk.url} with {len(desk.manager.strategies)} "
          f"strategies; SIGTERM or Ctrl-C pulls every quote and exits", file=sys.stderr)
    await stop.wait()
    await desk.close(received[0] if received else "exit")
    if not desk.manager.guard.pulled:  # say so: the operator must look at the venue
        print("desk run: stopped, but the venue never confirmed the cancel-all: check it "
              "for resting orders", file=sys.stderr)
        return 1
    print("desk run: every quote pulled, stopped", file=sys.stderr)
    return 0
