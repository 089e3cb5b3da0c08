"""`desk` with no command: the engine on its own thread, the screen on the main one.

On quit (q), SIGTERM or a crash of the screen, every quote is pulled (unscoped
cancel-all first), the engine stops, and the embedded venue (if desk started one)
stops with it: nothing is left running.
"""

from __future__ import annotations

import argparse
import signal
import sys
from typing import TYPE_CHECKING

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
    return 0
