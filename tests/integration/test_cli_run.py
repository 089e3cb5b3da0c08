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


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A fresh home: no user settings, keys, journal or saved strategies leak in."""
    out = {k: v for k, v in os.environ.items() if not k.startswith("DESK_")}
    out.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "config"),
               XDG_DATA_HOME=str(tmp_path / "data"), PYTHONUNBUFFERED="1",
               DESK_KEY_DIR=str(tmp_path / "keys"))
    return out


class Run:
    def __init__(self, proc: subprocess.Popen[str]):
        self.proc = proc
        self.events: list[dict[str, Any]] = []

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
    with desk_run(env, "run", "--venue-url", venue.url, "--config", str(config)) as run:
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
