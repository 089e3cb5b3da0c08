"""`desk run` as a real subprocess: JSON-line events, SIGTERM pulls every quote and exits 0,
a restart cancels what a killed run left resting, bad settings are clear errors."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from desk.store.keys import KeyStore
from tests.helpers import Trader

ROOT = Path(__file__).resolve().parents[2]


class Run:
    def __init__(self, proc: subprocess.Popen[str]):
        self.proc = proc
        self.events: list[dict[str, Any]] = []
        self.lines: list[str] = []  # as printed

    def read_until(self, predicate, timeout: float = 20.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if not ready:
                if self.proc.poll() is not None:
                    break
                continue
            line = self.proc.stdout.readline()
            if not line:
                break
            self.lines.append(line)
            event = json.loads(line)
            self.events.append(event)
            if predicate(event):
                return event
        raise AssertionError(f"no such event within {timeout} s; saw "
                             f"{[e['type'] for e in self.events][-20:]}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> tuple[int, str]:
        self.proc.send_signal(sig)
        out, err = self.proc.communicate(timeout=timeout)
        for line in out.splitlines():
            self.lines.append(line)
            self.events.append(json.loads(line))
        return self.proc.returncode, err


@contextmanager
def desk_run(env: dict[str, str], *args: str) -> Iterator[Run]:
    proc = subprocess.Popen([sys.executable, "-m", "desk", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield Run(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)


def store_key(env: dict[str, str], url: str, trader: Trader) -> None:
    store = KeyStore(Path(env["DESK_KEY_DIR"]))
    store.add(url, trader.trade_key_id, "engine", "trade", trader.trade_secret)
    store.use(url, trader.trade_key_id)


def resting(url: str, trader: Trader) -> list[dict[str, Any]]:
    r = httpx.get(f"{url}/perps/orders", headers=trader.read, timeout=10)
    r.raise_for_status()
    return r.json()


def book_for(counterparty: Trader) -> None:
    """Some depth on BTC-PERP so the mid (the fair value off the embedded index) exists."""
    for side, price in (("buy", "63990"), ("sell", "64010")):
        r = counterparty.post("/perps/orders", {"marketId": "BTC-PERP", "type": "limit",
                                                "side": side, "price": price, "quantity": "1"})
        assert r.status_code == 200


def write_config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "desk-run.toml"
    path.write_text(body)
    return path


ONE_BTC = """
reference = "mid"
[[strategies]]
name = "BTC test"
market_id = "BTC-PERP"
quote_size = "0.01"
min_quote_size = "0.001"
quote_refresh_seconds = 0.5
"""


def test_embedded_run_prints_events_and_exits_0_on_sigterm(env):
    with desk_run(env, "run", "--seed", "7") as run:
        run.read_until(lambda e: e["type"] == "quote_sent")
        started = [e for e in run.events if e["type"] == "started"]
        assert {e["market_id"] for e in started} == {"BTC-PERP", "ETH-PERP", "SOL-PERP"}
        code, err = run.stop(signal.SIGTERM)
    assert code == 0, err
    assert "every quote pulled" in err
    url = re.search(r"trading on (http://127\.0\.0\.1:\d+)", err).group(1)
    with pytest.raises(httpx.ConnectError):  # the embedded venue went with it
        httpx.get(f"{url}/perps/markets", timeout=2)
    stops = [e for e in run.events if e["type"] == "stopped"]
    assert {e["strategy_id"] for e in stops} == {e["strategy_id"] for e in started}
    assert all(e["reason"] == "SIGTERM" for e in stops)
    pulled = [e for e in run.events if e["type"] == "circuit_breaker" and e["scope"] == "desk"]
    assert pulled and pulled[-1]["reason"] == "dead-man: SIGTERM"
    # plain JSON: `"key": value`, no space before a colon
    assert run.lines and not [line for line in run.lines if '" :' in line]
    assert all(line.startswith('{"seq": ') for line in run.lines)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_leaves_zero_resting_orders(env, venue, trader, counterparty, tmp_path, sig):
    store_key(env, venue.url, trader)
    book_for(counterparty)
    config = write_config(tmp_path, ONE_BTC)
    with desk_run(env, "run", "--venue-url", venue.url, "--config", str(config)) as run:
        run.read_until(lambda e: e["type"] == "quote_sent")
        assert resting(venue.url, trader), "the strategy should be quoting"
        code, err = run.stop(sig)
    assert code == 0, err
    assert resting(venue.url, trader) == []


def test_a_restart_cancels_what_a_killed_run_left_resting(env, venue, trader, counterparty,
                                                          tmp_path):
    store_key(env, venue.url, trader)
    book_for(counterparty)
    config = write_config(tmp_path, ONE_BTC)
    unguarded = {**env, "DESK_WATCHDOG": "false"}  # nothing outlives desk to pull them
    with desk_run(unguarded, "run", "--venue-url", venue.url, "--config", str(config)) as run:
        run.read_until(lambda e: e["type"] == "quote_sent")
        run.proc.kill()  # no chance to pull anything
        run.proc.communicate(timeout=10)
    left = resting(venue.url, trader)
    assert left, "a killed desk leaves its quotes behind (no server-side cancel-after)"
    with desk_run(env, "run", "--venue-url", venue.url, "--config", str(config)) as run:
        orphaned = run.read_until(lambda e: e["type"] == "quote_cancelled"
                                  and e.get("reason") == "orphaned")
        assert sorted(orphaned["order_ids"]) == sorted(o["orderId"] for o in left)
        assert orphaned["count"] == len(left)
        run.read_until(lambda e: e["type"] == "quote_sent")
        code, err = run.stop()
    assert code == 0, err
    assert resting(venue.url, trader) == []


def watchdog_log(env: dict[str, str]) -> str:
    path = Path(env["XDG_DATA_HOME"]) / "desk" / "watchdog.log"
    return path.read_text() if path.exists() else ""


def wait_for(predicate, timeout: float) -> float | None:
    """Seconds until `predicate()` held, or None."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.05)
    return None


@contextmanager
def quoting(env, venue, trader, counterparty, tmp_path, settings: str = "") -> Iterator[Run]:
    """`desk run` on the venue with one BTC strategy, once it quotes."""
    store_key(env, venue.url, trader)
    book_for(counterparty)
    config = write_config(tmp_path, settings + ONE_BTC)
    with desk_run(env, "run", "--venue-url", venue.url, "--config", str(config)) as run:
        run.read_until(lambda e: e["type"] == "quote_sent")
        assert resting(venue.url, trader)
        yield run


def test_the_watchdog_pulls_the_quotes_of_a_killed_desk(env, venue, trader, counterparty,
                                                         tmp_path):
    with quoting(env, venue, trader, counterparty, tmp_path) as run:
        run.proc.kill()  # SIGKILL: desk pulls nothing itself
        run.proc.communicate(timeout=10)
        took = wait_for(lambda: resting(venue.url, trader) == [], 5.0)
    assert took is not None, "the watchdog should have pulled the quotes"
    assert wait_for(lambda: "done: nothing rests" in watchdog_log(env), 5.0) is not None
    log = watchdog_log(env)
    assert "desk died" in log and "cancel-all:" in log
    assert trader.trade_secret not in log


@pytest.mark.skipif(not hasattr(signal, "SIGSTOP"), reason="needs SIGSTOP")
def test_the_watchdog_pulls_the_quotes_of_a_hung_desk(env, venue, trader, counterparty,
                                                       tmp_path):
    with quoting(env, venue, trader, counterparty, tmp_path,
                 "watchdog_timeout_s = 1.0\n") as run:
        run.proc.send_signal(signal.SIGSTOP)  # hung: alive, but no heartbeat
        try:
            took = wait_for(lambda: resting(venue.url, trader) == [], 6.0)
        finally:
            run.proc.send_signal(signal.SIGCONT)
    assert took is not None and took >= 0.5, took
    assert "no heartbeat for 1 s: desk is hung" in watchdog_log(env)


def test_a_clean_exit_stops_the_watchdog_without_firing(env, venue, trader, counterparty,
                                                        tmp_path):
    with quoting(env, venue, trader, counterparty, tmp_path) as run:
        code, err = run.stop(signal.SIGTERM)
    assert code == 0, err
    assert wait_for(lambda: "desk stopped cleanly" in watchdog_log(env), 5.0) is not None
    assert "cancel-all:" not in watchdog_log(env)


def test_a_bad_strategy_in_the_config_is_a_clear_error(env, venue, trader, tmp_path):
    store_key(env, venue.url, trader)
    config = write_config(tmp_path, ONE_BTC.replace('quote_size = "0.01"',
                                                    'quote_size = "9"\nquote_layers = 8'))
    with desk_run(env, "run", "--venue-url", venue.url, "--config", str(config)) as run:
        code = run.proc.wait(30)
        err = run.proc.stderr.read()
    assert code == 2
    assert "quote_size" in err and "quote_layers" in err
    assert "Traceback" not in err
    assert resting(venue.url, trader) == []


def test_no_key_for_the_venue_says_how_to_get_one(env, venue):
    with desk_run(env, "run", "--venue-url", venue.url) as run:
        code = run.proc.wait(30)
        err = run.proc.stderr.read()
    assert code == 2
    assert f"no API key in use for {venue.url}" in err
    assert "desk keys create" in err


def test_log_file_takes_the_log_off_stderr(env, tmp_path):
    """`desk run` logs to stderr (headless) unless --log-file: then its records (and the
    embedded venue's) go to that file, and stderr keeps only desk run's status lines."""
    log_file = tmp_path / "run.log"
    with desk_run(env, "run", "--seed", "7", "--log-file", str(log_file)) as run:
        run.read_until(lambda e: e["type"] == "quote_sent")
        venue = next(pid for pid in _children(run.proc.pid)
                     if b"venue" in Path(f"/proc/{pid}/cmdline").read_bytes())
        os.kill(venue, signal.SIGKILL)  # streams drop and calls fail: warnings
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and " WARNING desk." not in _text(log_file):
            time.sleep(0.2)
        code, err = run.stop(signal.SIGTERM, timeout=60)
    assert " WARNING desk." in _text(log_file)
    assert not re.search(r"^(WARNING|ERROR) ", err, re.M), err
    assert "desk run: trading on" in err


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        out += [int(x) for x in (task / "children").read_text().split()]
    return out


def _text(path: Path) -> str:
    return path.read_text() if path.exists() else ""
