"""The command line's own text: each subcommand's usage line starts with its own name
(not the whole `desk` usage), each has a description, and `desk run`'s JSON lines are
plain JSON (no space before a colon) with secrets still masked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from desk.cli import build_parser
from desk.cli_run import line
from desk.engine.events import Event, EventType, Severity

COMMANDS = [["run"], ["venue"], ["keys"], ["backtest"], ["keys", "list"],
            ["keys", "create"], ["keys", "revoke"], ["keys", "use"]]


def help_text(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args([*argv, "--help"])
    assert done.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
def test_a_subcommand_usage_names_only_itself(argv, capsys):
    text = help_text(argv, capsys)
    first = text.splitlines()[0]
    assert first.startswith(f"usage: desk {' '.join(argv)} [-h]"), first
    assert "[COMMAND ...]" not in text.split("\n\n")[0]


@pytest.mark.parametrize("argv", [["run"], ["venue"], ["keys"], ["backtest"]], ids=" ".join)
def test_each_command_has_a_description(argv, capsys):
    paragraphs = help_text(argv, capsys).split("\n\n")
    # usage, then a description, then the arguments
    assert not paragraphs[1].startswith(("options:", "positional arguments:")), paragraphs[1]
    assert len(paragraphs[1].split()) > 10


def test_the_top_level_usage_is_unchanged(capsys):
    first = help_text([], capsys).splitlines()[0]
    assert first == ("usage: desk [--venue-url URL] [--seed N] [--config FILE] "
                     "[--log-file PATH] [COMMAND ...]")


def test_desk_run_lines_are_plain_json_and_masked():
    event = Event(EventType.ERROR, "s1", 1, {"code": "X", "headers": {"x-api-key": "k-1"},
                                             "message": 'x-api-key=abc"def ocx_sk_zzz'},
                  Severity.ERROR)
    text = line(event)
    assert '" :' not in text and text.startswith('{"seq": ')
    data = json.loads(text)
    assert data["headers"] == {"x-api-key": "***"}
    assert data["message"] == 'x-api-key=***"def ocx_sk_***'
    assert "abc" not in text and "zzz" not in text and "k-1" not in text


def test_desk_help_runs_as_a_command():
    out = subprocess.run([sys.executable, "-m", "desk", "run", "--help"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("usage: desk run [-h]")


def test_where_each_command_logs(tmp_path, monkeypatch):
    """The desk screen: a file (settings' log_file, else the user log dir); the others:
    stderr; --log-file wins everywhere."""
    from desk import cli, logs
    from desk.settings import DeskSettings

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    plain, configured = DeskSettings(), DeskSettings(log_file=tmp_path / "cfg.log")
    parse = build_parser().parse_args
    desk = parse([])
    desk.command = desk.command or "desk"  # as main() does
    assert cli.log_file(desk, plain) == logs.default_log_file() == \
        tmp_path / "state" / "desk" / "log" / "desk.log"
    assert cli.log_file(desk, configured) == tmp_path / "cfg.log"
    assert cli.log_file(parse(["--log-file", "x.log"]), configured) == Path("x.log")
    assert cli.log_file(parse(["run"]), configured) is None
    assert cli.log_file(parse(["run", "--log-file", "r.log"]), plain) == Path("r.log")
    assert cli.log_file(parse(["venue"]), plain) is None
