"""A key that stops working mid-run never leaves a quote behind (issue 14, item 1).

`desk run` quotes against a venue with its engine key and a second stored trade key (the
kill switch's, which the watchdog shares); then the engine key is revoked, expired or
fenced off by allowedIps from outside, as a key with `expiresInDays` expires or an
operator tightens its fence. The venue must show nothing resting within a few seconds
(read through the account's read key), desk must say which key was refused and why, and
pull through the credential that still works. Without the fix the orders rested, still
fillable, while desk kept its feeds "live" (9 orders, indefinitely).
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from desk.store.keys import KeyStore
from tests.helpers import Trader
from tests.integration.test_cli_run import (
    ONE_BTC,
    book_for,
    desk_run,
    resting,
    write_config,
)


def engine_key(client, trader: Trader, name: str = "engine") -> tuple[str, str]:
    r = client.post("/perps/me/api-keys", json={"name": name, "scope": "trade"},
                    headers=trader.bearer)
    assert r.status_code in (200, 201), r.status_code
    body = r.json()
    return body["id"], body["secret"]


def kill_key(client, trader: Trader) -> tuple[str, str]:
    return engine_key(client, trader, "kill")


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s: {what}")


def kill(venue, client, trader: Trader, how: str, key_id: str) -> None:
    if how == "revoked":
        r = client.delete(f"/perps/me/api-keys/{key_id}", headers=trader.bearer)
        assert r.status_code == 204
        return
    body = ({"kind": "expire_key", "keyId": key_id} if how == "expired" else
            {"kind": "fence_key", "keyId": key_id, "allowedIps": ["10.9.9.9"]})
    r = client.post("/sim/faults", json=body, headers=trader.bearer)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(("how", "code"), [("revoked", "KEY_REVOKED"),
                                           ("expired", "KEY_EXPIRED"),
                                           ("fenced", "IP_NOT_ALLOWED")])
def test_a_refused_engine_key_pulls_every_quote_through_the_kill_switch_key(
        env, venue, client, trader, counterparty, tmp_path, how, code):
    store = KeyStore(Path(env["DESK_KEY_DIR"]))
    engine_id, engine_secret = engine_key(client, trader)
    kill_id, kill_secret = kill_key(client, trader)
    store.add(venue.url, engine_id, "desk-engine", "trade", engine_secret)
    store.use(venue.url, engine_id)
    store.add(venue.url, kill_id, "desk-kill", "trade", kill_secret)
    store.use_for_kill_switch(venue.url, kill_id)
    book_for(counterparty)
    config = write_config(tmp_path, ONE_BTC)
    with desk_run(env, "run", "--venue-url", venue.url, "--config", str(config)) as run:
        run.read_until(lambda e: e["type"] == "quote_sent")
        assert resting(venue.url, trader), "the strategy should be quoting"
        killed_at = time.monotonic()
        kill(venue, client, trader, how, engine_id)
        trip = run.read_until(lambda e: e["type"] == "circuit_breaker"
                              and e.get("scope") == "desk", timeout=10)
        assert "desk-engine" in trip["reason"] and engine_id in trip["reason"], trip
        assert "was refused" in trip["reason"] and code in trip["reason"], trip
        wait_for(lambda: resting(venue.url, trader) == [], 5, "nothing resting")
        took = time.monotonic() - killed_at
        pulled = run.read_until(lambda e: e["type"] == "quote_cancelled"
                                and e.get("scope") == "desk", timeout=5)
        assert pulled["by"] == f"the kill switch's key desk-kill ({kill_id})", pulled
        # nothing comes back while the key is dead
        time.sleep(1.5)
        assert resting(venue.url, trader) == []
        code_, err = run.stop(signal.SIGTERM)
    assert took < 5, took
    assert code_ == 0, err
    assert "Traceback" not in err
    assert resting(venue.url, trader) == []


def test_without_a_second_key_desk_says_the_kill_switch_shares_the_engine_key(
        env, venue, client, trader, counterparty, tmp_path):
    store = KeyStore(Path(env["DESK_KEY_DIR"]))
    engine_id, engine_secret = engine_key(client, trader)
    store.add(venue.url, engine_id, "desk-engine", "trade", engine_secret)
    store.use(venue.url, engine_id)
    book_for(counterparty)
    config = write_config(tmp_path, ONE_BTC)
    with desk_run(env, "run", "--venue-url", venue.url, "--config", str(config)) as run:
        run.read_until(lambda e: e["type"] == "quote_sent")
        code_, err = run.stop(signal.SIGTERM)
    assert code_ == 0, err
    assert "share the engine's key" in err and "--kill-switch" in err
