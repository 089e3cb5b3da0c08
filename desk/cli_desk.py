"""`desk` with no command: the engine on its own thread, the screen on the main one.

On quit (q), SIGTERM or a crash of the screen, every quote is pulled (unscoped
cancel-all first), the engine stops, and the embedded venue (if desk started one)
stops with it: nothing is left running.

Textual draws on the terminal, so nothing else may write there while it runs: the log
goes to a file (`desk.logs`, set up by `desk.cli.main`), and the children desk starts
write their stderr into that log (the embedded venue) or to the null device (the
watchdog, the quick backtest's worker).
"""

from __future__ import annotations

import argparse
import signal
import sys
from typing import TYPE_CHECKING

from desk import logs
from desk.store import redact

if TYPE_CHECKING:
    from desk.settings import DeskSettings


def run(args: argparse.Namespace, settings: DeskSettings) -> int:
    from desk.host import EngineHost
    from desk.launch import launch_failure
    from desk.ui.app import DeskApp

    host = EngineHost(settings, venue_url=args.venue_url,
                      config_path=getattr(args, "config", None), seed=args.seed)
    try:
        host.start()
    except Exception as err:
        host.stop()
        failure = launch_failure(err)
        if failure is None:
            raise
        print(redact.redact(f"desk: {failure[0]}"), file=sys.stderr)
        return failure[1]
    app = DeskApp(host)
    previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, lambda *_: app.call_later(app.exit))
    try:
        app.run()
    finally:
        signal.signal(signal.SIGTERM, previous)
        host.stop()  # pulls every quote, stops the engine and the embedded venue
        _say_where_the_log_is()
    return 0


def _say_where_the_log_is() -> None:
    """Once the screen is gone: if anything was logged, where to read it."""
    path = logs.log_path()
    _, warnings, errors = logs.recent.snapshot()
    if path is not None and (warnings or errors):
        print(f"desk: {warnings} warning(s) and {errors} error(s) logged to {path}",
              file=sys.stderr)
