"""The `desk` command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from desk import __version__, logs

if TYPE_CHECKING:
    from desk.settings import DeskSettings


def _venue(args: argparse.Namespace, settings: DeskSettings) -> int:
    from desk.venue.runtime import VenueRuntime
    from desk.venue.server import RemoteBindError, VenueServer

    overrides = {}
    if args.seed is not None:
        overrides["seed"] = args.seed
    if args.heartbeat_s is not None:
        overrides["heartbeat_s"] = args.heartbeat_s
    if args.no_sim:
        overrides["sim_enabled"] = False
    try:
        config = settings.venue.model_validate({**settings.venue.model_dump(), **overrides})
        server = VenueServer(VenueRuntime(config), host=args.host, port=args.port,
                             allow_remote=args.allow_remote)
        logs.cover("uvicorn", "uvicorn.error", "uvicorn.access")  # configured just now
    except (RemoteBindError, ValueError) as err:
        print(f"desk venue: {err}", file=sys.stderr)
        return 2

    def ready(url: str) -> None:
        print(f"venue listening on {url}", flush=True)

    try:
        asyncio.run(server.serve(ready))
    except OSError as err:
        print(f"desk venue: cannot listen on {args.host}:{args.port}: {err.strerror or err}",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


def _desk(args: argparse.Namespace, settings: DeskSettings) -> int:
    from desk import cli_desk

    return cli_desk.run(args, settings)


def _keys(args: argparse.Namespace, settings: DeskSettings) -> int:
    from desk import cli_keys

    return cli_keys.run(args, settings)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be greater than 0")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="desk", usage="desk [--venue-url URL] [--seed N] [--config FILE] "
                           "[--log-file PATH] [COMMAND ...]",
        description="A terminal trading desk for market makers on OCX-style "
                    "perpetual-futures venues. With no COMMAND it opens the desk: the "
                    "embedded venue (unless --venue-url), the engine, and the screen.")
    parser.add_argument("--version", action="version", version=f"desk {__version__}")
    parser.add_argument("--config", type=Path, default=None,
                        help="settings file (default: desk.toml in the user config dir)")
    parser.add_argument("--venue-url", default=None,
                        help="(the desk screen) trade on this venue with the stored key in "
                             "use for it (default: start the embedded venue)")
    parser.add_argument("--seed", type=int, default=None,
                        help="(the desk screen) seed of the embedded market and of ids")
    parser.add_argument("--log-file", type=Path, default=None, metavar="PATH",
                        help="(the desk screen) write the log here (default: log_file in "
                             "settings, else desk.log in the user log dir); nothing but "
                             "the screen reaches the terminal")
    parser.set_defaults(func=_desk, command="desk")
    # prog: a subcommand's usage line starts `desk venue`, not with the whole desk usage
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", prog="desk")

    venue = sub.add_parser(
        "venue", help="run the embedded OCX-compatible venue on loopback",
        description="Run the embedded OCX-compatible venue (REST and SSE streams, with a "
                    "simulated market) on loopback, until SIGTERM or Ctrl-C. It prints "
                    "'venue listening on URL' once it accepts connections.")
    venue.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    venue.add_argument("--port", type=_port, default=8731,
                       help="port to bind; 0 picks a free one (default 8731)")
    venue.add_argument("--seed", type=int, default=None, help="seed of the market simulation")
    venue.add_argument("--heartbeat-s", type=_positive_float, default=None,
                       help="seconds between heartbeats on idle streams (default 15)")
    venue.add_argument("--no-sim", action="store_true",
                       help="no synthetic market: only the orders clients send")
    venue.add_argument("--allow-remote", action="store_true",
                       help="allow binding an address other than loopback")
    venue.set_defaults(func=_venue)

    from desk import cli_backtest, cli_keys, cli_run
    cli_keys.add_parser(sub)
    sub.choices["keys"].set_defaults(func=_keys)
    cli_run.add_parser(sub)
    cli_backtest.add_parser(sub)
    return parser


def log_file(args: argparse.Namespace, settings: DeskSettings) -> Path | None:
    """Where this command logs: a file for the desk screen (Textual draws on the terminal,
    so a log line there would paint over it); stderr (None) for the others unless
    `--log-file` says otherwise."""
    if args.log_file is not None:
        return args.log_file
    if args.command == "desk":
        return settings.log_file or logs.default_log_file()
    return None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.command = args.command or "desk"  # the subcommands' dest, None without one
    from desk.settings import SettingsError, load_settings

    try:
        settings = load_settings(args.config)
    except SettingsError as err:
        print(f"desk {args.command}: {err}", file=sys.stderr)
        return 2
    path = log_file(args, settings)
    # redacted, and written by a thread of its own: a blocked log never stalls quoting
    try:
        writer = logs.setup(logging.WARNING, path=path)
    except OSError as err:
        print(f"desk {args.command}: cannot write the log file {path}: "
              f"{err.strerror or err}", file=sys.stderr)
        return 2
    try:
        return args.func(args, settings)
    finally:
        if writer is not None:
            writer.stop()
