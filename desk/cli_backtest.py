"""`desk backtest`: the configured strategies on the simulated market, on a virtual clock.

The report goes to stdout (a table of means and standard deviations across runs, then
a chart of the first run); the progress bar of a multi-run backtest to stderr; the
whole report as JSON to `--json OUT`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from desk.backtest.config import BacktestConfig
    from desk.backtest.report import Report
    from desk.settings import DeskSettings

log = logging.getLogger(__name__)

EXAMPLES = Path(__file__).parent / "backtest" / "examples"


def _runs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be 1 or more")
    return value


def add_parser(sub: argparse._SubParsersAction) -> None:
    bt = sub.add_parser(
        "backtest", help="run strategies against the simulated market on a virtual clock",
        description="Run the strategies of a backtest file against the embedded venue's "
                    "market simulation (or the papers' fixed-steps market), with the live "
                    f"engine's code, on a virtual clock. Examples: {EXAMPLES}")
    bt.add_argument("--config", dest="backtest_config", type=Path, required=True,
                    metavar="FILE", help="the backtest file (TOML)")
    bt.add_argument("--duration", default=None,
                    help="simulated time per run, e.g. 90s, 30m, 1h (continuous mode)")
    bt.add_argument("--seed", type=int, default=None, help="seed of the first run "
                                                           "(run i uses seed + i)")
    bt.add_argument("--runs", type=_runs, default=None, help="independent runs")
    bt.add_argument("--json", dest="json_out", type=Path, default=None, metavar="OUT",
                    help="write the whole report as JSON to OUT")
    bt.add_argument("--workers", type=_runs, default=None,
                    help="worker processes (default: one per core, at most one per run)")
    bt.add_argument("--no-chart", action="store_true", help="leave out the chart")
    bt.set_defaults(func=run_command)


def _check_writable(path: Path) -> str | None:
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        return f"--json: {str(path)!r} is a directory"
    if not parent.is_dir():
        return f"--json: no such directory {str(parent)!r}"
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return f"--json: cannot write {str(path)!r}"
    return None


def run_command(args: argparse.Namespace, settings: DeskSettings) -> int:
    from desk.backtest import report
    from desk.backtest.config import ConfigError, load

    try:
        config = load(args.backtest_config).with_overrides(args.duration, args.seed, args.runs)
    except ConfigError as err:
        print(f"desk backtest: {err}", file=sys.stderr)
        return 2
    if args.json_out is not None and (problem := _check_writable(args.json_out)):
        print(f"desk backtest: {problem}", file=sys.stderr)
        return 2
    try:
        result = _run(config, args.workers)
    except ConfigError as err:  # a strategy the engine refused to create or start
        print(f"desk backtest: {args.backtest_config}: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("desk backtest: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # a run that failed is a bug: say which, without a traceback
        log.debug("backtest failed", exc_info=True)
        print(f"desk backtest: a run failed: {err!r}", file=sys.stderr)
        return 1
    print(report.render_text(result))
    if not args.no_chart:
        width = min(max(_columns(), 60), 140)
        chart = report.render_chart(result, width=width)
        if chart:
            print()
            print(chart if sys.stdout.isatty() else _plain(chart))
    if args.json_out is not None:
        try:
            args.json_out.write_text(json.dumps(result.to_json(), indent=1, default=str),
                                     encoding="utf-8")
        except OSError as err:
            print(f"desk backtest: --json: cannot write {str(args.json_out)!r}: "
                  f"{err.strerror or err}", file=sys.stderr)
            return 1
        print(f"\nreport written to {args.json_out}")
    return 0


def _run(config: BacktestConfig, workers: int | None) -> Report:
    """The batch, with a progress bar on stderr when there is more than one run."""
    from desk.backtest import batch

    runs = config.backtest.runs
    if runs == 1:
        return batch.run_many(config, workers)
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (TextColumn("backtest"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("eta"), TimeRemainingColumn())
    with Progress(*columns, console=_stderr_console()) as bar:
        task = bar.add_task("runs", total=runs)
        return batch.run_many(config, workers,
                              lambda done, _: bar.update(task, completed=done))


def _stderr_console():
    from rich.console import Console

    return Console(file=sys.stderr)


def _columns() -> int:
    try:
        return os.get_terminal_size().columns
    except OSError:
        return 100


def _plain(text: str) -> str:
    """The chart without terminal colour codes (for a file or a pipe)."""
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", text)
