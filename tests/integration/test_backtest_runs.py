"""Whole backtests: a run is a pure function of its config and seed (the same however
many worker processes a batch has), the report survives JSON, the continuous example
trades, and `desk backtest` as a real subprocess: the table, the JSON file, and
refusals that exit 2 with the field named and no traceback."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import tomllib
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from desk.backtest import batch
from desk.backtest.config import BacktestConfig, load, validate
from desk.backtest.report import STATS, render_text
from desk.backtest.run import RunResult, run_one

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "desk" / "backtest" / "examples"
AS_FILE = EXAMPLES / "avellaneda_stoikov.toml"
CONTINUOUS_FILE = EXAMPLES / "continuous.toml"
NAME = "AS inventory"


def small(runs: int = 1, seed: int = 1) -> BacktestConfig:
    """The Avellaneda-Stoikov example cut to 20 warm-up and 40 quoting steps."""
    data = load(AS_FILE).model_dump()
    data["backtest"]["steps"].update(count=40, warmup_steps=20)
    data["backtest"].update(runs=runs, seed=seed)
    return validate(data)


def timeless(result: RunResult) -> RunResult:
    """Everything but the wall-clock time a run took."""
    return replace(result, wall_s=0.0)


# --- determinism --------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_run():
    config = small()
    a = run_one(config, 5, keep_series=True)
    b = run_one(config, 5, keep_series=True)
    assert timeless(a) == timeless(b)
    assert a.series is not None and a.series == b.series
    assert a.steps == 60
    (s,) = a.strategies
    assert s.name == NAME
    assert s.fills > 0 and s.quotes_sent > 0  # something happened to be equal about
    assert a.cycles > 0


def test_different_seeds_give_different_runs():
    config = small()
    runs = [timeless(run_one(config, seed)) for seed in (1, 2, 3)]
    assert runs[0] != runs[1] != runs[2] != runs[0]
    assert len({r.strategies[0].final_pnl for r in runs}) == 3
    assert [r.seed for r in runs] == [1, 2, 3]


def test_a_batch_is_the_same_on_one_worker_and_on_two():
    config = small(runs=4, seed=10)
    progress: list[tuple[int, int]] = []
    one = batch.run_many(config, workers=1, progress=lambda *p: progress.append(p))
    two = batch.run_many(config, workers=2)
    assert (one.workers, two.workers) == (1, 2)
    assert [r.seed for r in one.runs] == [r.seed for r in two.runs] == [10, 11, 12, 13]
    assert [timeless(r) for r in one.runs] == [timeless(r) for r in two.runs]
    assert one.stats() == two.stats()
    assert one.deadman() == two.deadman()
    assert one.events() == two.events()
    # the first run keeps its series for the chart, the others do not
    assert one.runs[0].series is not None and one.runs[0].series == two.runs[0].series
    assert all(r.series is None for r in one.runs[1:] + two.runs[1:])
    assert progress == [(1, 4), (2, 4), (3, 4), (4, 4)]
    # and each run of a batch replays alone, as the docs promise
    assert timeless(run_one(config, 12)) == timeless(one.runs[2])


def test_the_continuous_example_is_the_same_in_fresh_worker_processes():
    # spawned workers hash strings with seeds of their own: nothing may hang on set order
    config = load(CONTINUOUS_FILE).with_overrides(duration="20s", runs=2)
    one = batch.run_many(config, workers=1)
    two = batch.run_many(config, workers=2)
    assert [timeless(r) for r in one.runs] == [timeless(r) for r in two.runs]
    assert sum(s.fills for r in one.runs for s in r.strategies) > 0


def test_the_batch_statistics_are_those_of_its_runs():
    report = batch.run_many(small(runs=3), workers=1)
    pnl = [r.strategies[0].final_pnl for r in report.runs]
    stat = report.stats()[NAME]["final_pnl"]
    mean = sum(pnl) / 3
    assert stat.mean == pytest.approx(mean)
    assert stat.std == pytest.approx(math.sqrt(sum((p - mean) ** 2 for p in pnl) / 2))
    assert (stat.min, stat.max) == (min(pnl), max(pnl))


# --- the report as JSON ---------------------------------------------------------------------


def test_the_report_round_trips_through_json():
    config = small(runs=2)
    report = batch.run_many(config, workers=1)
    data = report.to_json()
    text = json.dumps(data, allow_nan=False)  # strict JSON: no NaN, no objects
    back = json.loads(text)
    assert back == data
    assert back["runs"] == 2 and back["seeds"] == [1, 2] and back["workers"] == 1
    assert [run["seed"] for run in back["per_run"]] == [1, 2]
    assert [run["strategies"][0] for run in back["per_run"]] == [
        asdict(r.strategies[0]) for r in report.runs]
    assert set(back["summary"]) == {NAME}
    assert set(back["summary"][NAME]) == {key for key, _, _ in STATS}
    assert set(back["deadman_trips"]) == {"mean", "std", "min", "max"}
    chart = back["chart_run"]
    assert chart["seed"] == 1
    assert len(chart["t"]) == len(chart["pnl"][NAME]) == len(chart["inventory"][NAME]) == 41
    # the config as run: the same backtest when read back
    assert validate(back["config"]) == config


def test_with_one_run_the_standard_deviation_is_null_in_json_and_a_dash_in_text():
    report = batch.run_many(small(), workers=1)
    back = json.loads(json.dumps(report.to_json(), allow_nan=False))
    assert back["summary"][NAME]["final_pnl"]["std"] is None
    text = render_text(report)
    assert "1 run (seed 1)" in text
    assert re.search(r"final PnL\s+-?[\d,.]+\s+–$", text, re.MULTILINE), text


# --- the continuous example ---------------------------------------------------------------------


def test_the_continuous_example_runs_briefly_and_its_strategies_fill():
    config = load(CONTINUOUS_FILE).with_overrides(duration="60s", seed=2)
    result = run_one(config, config.backtest.seed, keep_series=True)
    assert result.steps == 600  # 60 s of 100 ms steps
    assert [s.name for s in result.strategies] == ["BTC fixed", "ETH glft"]
    for s in result.strategies:
        assert s.quotes_sent > 0, s
        assert s.fills > 0, s
        assert s.volume > 0 and s.fees > 0, s  # makers pay 2 bps here
    assert result.deadman_trips == 0
    assert result.series is not None
    assert len(result.series.t) == 61  # a sample a second, and one at the start
    assert result.series.t[-1] == pytest.approx(60.0)


# --- `desk backtest`, a real subprocess -----------------------------------------------------------


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """No user settings file and no DESK_* overrides leak into the subprocess."""
    out = {k: v for k, v in os.environ.items() if not k.startswith("DESK_")}
    out.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "config"),
               XDG_DATA_HOME=str(tmp_path / "data"), PYTHONUNBUFFERED="1")
    out.pop("NO_COLOR", None)
    return out


def write_small(tmp_path: Path, **strategy: Any) -> Path:
    """The example file, cut short (and with strategy changes), as a TOML file."""
    data = tomllib.loads(AS_FILE.read_text(encoding="utf-8"))
    data["backtest"]["steps"].update(count=40, warmup_steps=20)
    data["strategies"][0].update(strategy)
    path = tmp_path / "small.toml"
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return path


def desk_backtest(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "desk", "backtest", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60)


def test_cli_runs_prints_the_table_and_writes_the_json(env, tmp_path):
    path = write_small(tmp_path)
    out = tmp_path / "report.json"
    proc = desk_backtest(env, "--config", str(path), "--runs", "3", "--json", str(out),
                         "--no-chart")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    # the progress bar went to stderr and got to the end; stdout is the report alone
    assert re.search(r"backtest .*3/3", proc.stderr), proc.stderr
    lines = proc.stdout.splitlines()
    assert re.fullmatch(r"strategy\s+statistic\s+mean\s+std", lines[0]), lines[0]
    assert lines[2].startswith(NAME)
    for _, heading, _ in STATS:
        assert any(re.search(rf"{re.escape(heading)}\s+\S+\s+\S+$", line)
                   for line in lines), heading
    assert "3 runs (seed 1..3)" in proc.stdout
    assert "dead-man trips per run" in proc.stdout
    assert f"report written to {out}" in proc.stdout
    assert "PnL, run seed" not in proc.stdout  # --no-chart

    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["runs"] == 3
    assert len(report["per_run"]) == 3
    assert [run["seed"] for run in report["per_run"]] == [1, 2, 3]
    # the subprocess's runs are this process's runs: same config, same seeds
    config = load(path)
    assert report["per_run"][1]["strategies"][0] == asdict(run_one(config, 2).strategies[0])
    mean = report["summary"][NAME]["final_pnl"]["mean"]
    assert re.search(rf"final PnL\s+{re.escape(f'{mean:,.2f}')}\s", proc.stdout)


def test_cli_single_run_with_its_chart(env, tmp_path):
    path = write_small(tmp_path)
    proc = desk_backtest(env, "--config", str(path), "--seed", "4")
    assert proc.returncode == 0, proc.stderr
    assert "1 run (seed 4)" in proc.stdout
    assert "PnL, run seed 4" in proc.stdout
    assert "\x1b[" not in proc.stdout  # not a terminal: no colour codes
    assert "report written" not in proc.stdout


def _refused(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert proc.stderr.startswith("desk backtest: "), proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""  # nothing ran
    return proc.stderr


def test_cli_a_missing_file(env, tmp_path):
    missing = tmp_path / "nowhere.toml"
    err = _refused(desk_backtest(env, "--config", str(missing)))
    assert "--config: no such file" in err
    assert str(missing) in err


def test_cli_a_bad_field(env, tmp_path):
    path = write_small(tmp_path, quote_size="-1")
    err = _refused(desk_backtest(env, "--config", str(path)))
    assert str(path) in err
    assert "strategies.0.quote_size" in err


def test_cli_a_duration_flag_on_a_steps_file(env, tmp_path):
    err = _refused(desk_backtest(env, "--config", str(write_small(tmp_path)),
                                 "--duration", "soon"))
    assert "--duration: this file runs in steps mode" in err


def test_cli_json_into_a_missing_directory_is_refused_before_running(env, tmp_path):
    out = tmp_path / "no" / "such" / "report.json"
    err = _refused(desk_backtest(env, "--config", str(write_small(tmp_path)), "--json",
                                 str(out)))
    assert "--json: no such directory" in err
    assert str(out.parent) in err
    assert not out.parent.exists()


def test_cli_json_onto_a_directory_is_refused(env, tmp_path):
    err = _refused(desk_backtest(env, "--config", str(write_small(tmp_path)), "--json",
                                 str(tmp_path)))
    assert "is a directory" in err


def test_cli_runs_must_be_a_positive_whole_number(env, tmp_path):
    proc = desk_backtest(env, "--config", str(write_small(tmp_path)), "--runs", "0")
    assert proc.returncode == 2
    assert "must be 1 or more" in proc.stderr
    assert "Traceback" not in proc.stderr
