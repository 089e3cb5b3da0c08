"""When a backtest cannot go on: a strategy the engine refuses is the file's fault (named,
exit 2), a failing batch or ctrl+c stops its workers at once, and a run without fills has
no spread captured."""

from __future__ import annotations

import multiprocessing
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tomli_w

from desk.backtest import batch
from desk.backtest import config as bt_config
from desk.backtest.report import Report, table_rows
from desk.backtest.run import run_one

EXAMPLE = Path(__file__).resolve().parents[2] / "desk/backtest/examples/avellaneda_stoikov.toml"


def starved(runs: int = 1) -> dict:
    """The AS example with previews on and a balance too small for the first ladder: the
    engine refuses to start the strategy."""
    data = bt_config.load(EXAMPLE).model_dump(mode="json")
    data["backtest"].update(runs=runs)
    data["backtest"]["steps"].update(count=20, warmup_steps=10)
    data["venue"]["starting_balance"] = "1"
    data["engine"]["preview"] = True
    return data


def without_none(value):
    """TOML has no null: leave unset settings out."""
    if isinstance(value, dict):
        return {k: without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_none(v) for v in value]
    return value


def no_children(timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    return not multiprocessing.active_children()


def test_a_strategy_the_engine_will_not_start_is_named():
    config = bt_config.validate(starved())
    with pytest.raises(bt_config.ConfigError,
                       match=r"strategies\[0\] \(AS inventory\): cannot start: .*margin"):
        run_one(config, 1)


def test_an_external_hedge_venue_is_refused_by_the_file():
    data = starved()
    data["strategies"][0]["hedge_venue"] = "external"
    with pytest.raises(bt_config.ConfigError, match=r"hedge_venue: the backtest has one venue"):
        bt_config.validate(data)


def test_a_failing_batch_raises_the_named_error_and_leaves_no_worker():
    config = bt_config.validate(starved(runs=40))
    with pytest.raises(bt_config.ConfigError, match="cannot start"):
        batch.run_many(config, workers=2)
    assert no_children()


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_ctrl_c_stops_a_long_batch_and_its_workers_at_once(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "desk", "backtest", "--config",
                             str(EXAMPLE), "--runs", "5000", "--workers", "2",
                             "--no-chart"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.monotonic() + 60
        workers: list[int] = []
        while len(workers) < 2 and time.monotonic() < deadline:  # the pool is up
            time.sleep(0.2)
            workers = [p for p in _children(proc.pid) if _alive(p)]
        assert len(workers) >= 2
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=15)  # 5,000 runs would take about 2 minutes
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "desk backtest: interrupted" in err and "Traceback" not in err
    deadline = time.monotonic() + 5
    while any(_alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(p) for p in workers)


def test_the_command_says_which_strategy_and_exits_2(tmp_path):
    path = tmp_path / "starved.toml"
    path.write_text(tomli_w.dumps(without_none(starved())))
    proc = subprocess.run([sys.executable, "-m", "desk", "backtest", "--config", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "desk backtest:" in proc.stderr and "cannot start" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_runs_without_fills_have_no_spread_captured():
    data = bt_config.load(EXAMPLE).model_dump(mode="json")
    data["backtest"]["steps"].update(count=20, warmup_steps=10, intensity_a=0.0)
    config = bt_config.validate(data)
    result = run_one(config, 1)
    (s,) = result.strategies
    assert s.fills == 0 and s.spread_captured_bps is None
    report = Report([result, run_one(config, 2)], {}, 0.1, 1)
    stats = report.stats()["AS inventory"]
    assert stats["spread_captured_bps"] is None
    assert stats["fills"].mean == 0.0
    row = next(r for r in table_rows(report) if r[1].startswith("spread captured"))
    assert row[2:] == ("–", "–")
    assert report.to_json()["summary"]["AS inventory"]["spread_captured_bps"] is None
