"""desk's exit and the watchdog: a clean exit (the cancel-all confirmed) stops it; an exit
whose cancel-all the venue never confirmed hands the pulling over to it; what a watchdog
did for a killed desk reaches the journal at the next start."""

from __future__ import annotations

import io
import signal
import time
from pathlib import Path

import pytest

from desk.watchdog import Orders, Watchdog, pull_everything
from tests.integration.conftest import limit_order, ok, open_orders


@pytest.mark.parametrize("pulled", [True, False])
async def test_the_exit_stops_the_watchdog_only_when_the_quotes_were_pulled(
        venue, trader, tmp_path, pulled):
    ok(trader.post("/perps/orders", limit_order("buy", "63000", "0.01")))
    log = tmp_path / "watchdog.log"
    dog = Watchdog(Orders(venue.url, trader.trade_secret, 30.0, str(log), give_up_s=10.0))
    dog.begin(0.05)
    proc = dog.proc
    assert proc is not None
    for _ in range(100):  # until it has read its orders and is watching
        if log.exists() and "watching desk" in log.read_text():
            break
        time.sleep(0.05)
    await dog.end(pulled=pulled)
    proc.wait(15)
    text = log.read_text()
    if pulled:
        assert "desk stopped cleanly" in text and len(open_orders(trader)) == 1
    else:
        assert "could not confirm its own cancel-all" in text and "cancel-all:" in text
        assert open_orders(trader) == []


async def test_a_key_that_may_not_cancel_is_given_up_on_at_once(venue, trader, tmp_path):
    ok(trader.post("/perps/orders", limit_order("buy", "63000", "0.01")))
    out = io.StringIO()
    orders = Orders(venue.url, trader.read_secret, 2.0, str(tmp_path / "w.log"),
                    give_up_s=300.0)
    began = time.monotonic()
    assert await pull_everything(orders, out) is False
    assert time.monotonic() - began < 60  # not the 300 s budget
    text = out.getvalue()
    assert "cancel-all: 0 cancelled in 1 attempt(s), 1 resting after" in text
    assert "gave up: the venue refuses this key a cancel-all" in text
    assert len(open_orders(trader)) == 1


def test_a_killed_desk_s_watchdog_action_is_journaled_at_the_next_start(
        env, venue, trader, counterparty, tmp_path):
    """`desk run` SIGKILLed: its watchdog pulls the quotes and records what it did; the
    next `desk run` on the same journal journals it (and shows it) as an event."""
    from desk.store.journal import Journal
    from desk.watchdog import actions_path
    from tests.integration.test_cli_run import desk_run, quoting, resting, wait_for

    journal_path = Path(env["XDG_DATA_HOME"]) / "desk" / "journal.sqlite3"
    with quoting(env, venue, trader, counterparty, tmp_path) as run:
        left = len(resting(venue.url, trader))
        assert left > 0
        run.proc.kill()  # SIGKILL: desk pulls nothing itself
        run.proc.communicate(timeout=10)
        assert wait_for(lambda: actions_path(journal_path).exists(), 10.0) is not None
    assert resting(venue.url, trader) == []
    config = tmp_path / "desk-run.toml"
    with desk_run(env, "run", "--venue-url", venue.url, "--config", str(config)) as again:
        shown = again.read_until(lambda e: e["type"] == "quote_cancelled"
                                 and e.get("watchdog") == "fired")
        again.read_until(lambda e: e["type"] == "quote_sent")
        code, err = again.stop()
    assert code == 0, err
    assert shown["reason"] == "watchdog: desk died" and shown["count"] == left
    assert shown["result"] == "nothing rests" and shown["resting_after"] == 0
    assert shown["strategy_id"] is None and shown["severity"] == "warning"
    assert shown["fired_at_ms"] <= shown["done_at_ms"] <= shown["ts_ms"]
    with Journal(journal_path) as journal:
        fired = [e for e in journal.events(types=["quote_cancelled"])
                 if e.get("watchdog") == "fired"]
    assert len(fired) == 1 and fired[0]["watchdog_id"] == shown["watchdog_id"]
    assert not actions_path(journal_path).exists()  # journaled once, then dropped
    assert trader.trade_secret not in str(fired)


@pytest.mark.skipif(not hasattr(signal, "SIGSTOP"), reason="needs SIGSTOP")
def test_a_hung_desk_that_lives_on_journals_its_watchdog_s_action_at_once(
        env, venue, trader, counterparty, tmp_path):
    """Hung past the timeout, the watchdog pulls the quotes and exits; desk, running
    again, replaces it and journals what it did without waiting for a restart."""
    from tests.integration.test_cli_run import quoting, resting, wait_for

    with quoting(env, venue, trader, counterparty, tmp_path,
                 "watchdog_timeout_s = 1.0\n") as run:
        run.proc.send_signal(signal.SIGSTOP)
        try:
            assert wait_for(lambda: resting(venue.url, trader) == [], 8.0) is not None
            time.sleep(0.5)  # its action recorded before it exits
        finally:
            run.proc.send_signal(signal.SIGCONT)
        shown = run.read_until(lambda e: e["type"] == "quote_cancelled"
                               and e.get("watchdog") == "fired", timeout=20)
        code, err = run.stop()
    assert code == 0, err
    assert shown["reason"] == "watchdog: desk hung" and shown["count"] > 0
    assert shown["result"] == "nothing rests"
