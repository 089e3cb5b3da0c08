"""Injected faults ([embedded only] POST /sim/faults) and their effect over HTTP and SSE."""

from __future__ import annotations

import re
import time

import httpx

from tests.helpers import new_trader
from tests.integration.conftest import (
    BTC,
    ETH,
    assert_error,
    assert_rate_headers,
    book,
    envelope,
    field_errors,
    inject,
    iso_ms,
    limit_order,
    ok,
    open_orders,
    sse,
    wait_until,
)


def _market(client, market_id):
    return next(m for m in ok(client.get("/perps/markets")) if m["marketId"] == market_id)


def _faults(client, trader):
    r = client.get("/sim/state", headers=trader.bearer)
    return ok(r)["faults"]


# --- the control route itself ---------------------------------------------------------------

def test_faults_need_a_session(client, trader):
    fault = {"kind": "error_burst", "count": 1}
    assert_error(client.post("/sim/faults", json=fault), 401, "UNAUTHENTICATED")
    r = client.post("/sim/faults", json=fault, headers=trader.trade)
    assert_error(r, 401, "UNAUTHENTICATED")
    r = client.get("/perps/markets")
    assert r.status_code == 200  # nothing was injected


def test_fault_validation(client, trader):
    def post(body):
        return client.post("/sim/faults", json=body, headers=trader.bearer)

    assert "kind" in field_errors(post({"kind": "meteor"}))
    assert "kind" in field_errors(post({}))
    assert "marketId" in field_errors(post({"kind": "freeze_index"}))
    assert "marketId" in field_errors(post({"kind": "halt_market"}))
    assert "ms" in field_errors(post({"kind": "latency", "seconds": 1}))
    assert "factor" in field_errors(post({"kind": "margin_squeeze", "factor": "0.5"}))
    assert "seconds" in field_errors(post({"kind": "stop_heartbeats", "seconds": 0}))
    assert "count" in field_errors(post({"kind": "rate_limit", "count": 0}))
    assert_error(post({"kind": "halt_market", "marketId": "NOPE"}), 404, "NOT_FOUND")
    injected = _faults(client, trader)["injected"]
    assert set(injected.values()) == {0}


# --- price feed and streams ----------------------------------------------------------------

def test_freeze_index_stops_the_index_stream(make_venue):
    venue = make_venue(sim_enabled=True, sim_step_ms=20, heartbeat_s=0.2)
    with httpx.Client(base_url=venue.url, timeout=5) as c:
        trader = new_trader(c, "desk")
        params = {"marketId": ETH, "intervalMs": 20}
        with sse(venue.url, "/perps/index-stream", params) as events, \
                sse(venue.url, "/perps/index-stream", {"marketId": BTC, "intervalMs": 20}) as btc:
            for _ in range(3):
                ev = events.next()
                assert ev.event == "index"  # flowing
            last_id, last_ts = int(ev.id), ev.json()["ts"]
            out = inject(c, trader.session, kind="freeze_index", marketId=ETH, seconds=2.0)
            assert out["markets"] == [ETH]
            until = iso_ms(out["until"])
            frozen_at = until - 2000
            state = ok(c.get("/sim/state", headers=trader.bearer))
            frozen = {m["marketId"]: m["indexFrozen"] for m in state["markets"]}
            assert frozen == {BTC: False, ETH: True, "SOL-PERP": False}

            # listen only while the freeze surely holds: a loaded machine may be slow here
            listen_s = (until - time.time_ns() // 1_000_000) / 1000 - 0.4
            assert listen_s > 0.5, f"too slow to observe the freeze ({listen_s:.2f} s left)"
            during = events.until(listen_s)
            assert all(ev.json()["ts"] <= frozen_at for _, ev in during), [
                ev.data for _, ev in during]
            # at most what was already on its way: the 20 ms ticks from the last one read
            # to the freeze (a reader behind on a loaded machine has more of them queued)
            on_its_way = (frozen_at - last_ts) // 20 + 2
            assert len(during) <= on_its_way, (len(during), on_its_way)
            assert events.heartbeats >= 1  # idle, so heartbeats instead

            after = events.next(timeout=3)
            assert after.json()["ts"] >= until
            ids = [int(ev.id) for _, ev in during] + [int(after.id)]
            assert ids == list(range(last_id + 1, last_id + 1 + len(ids)))
            # the other market's index kept moving all along
            moved = [ev.json()["ts"] for _, ev in btc.until(0.3)]
            assert any(frozen_at < ts < until for ts in moved)


def test_drop_streams_ends_every_open_stream(venue, client, trader):
    with sse(venue.url, "/perps/book-stream", {"marketId": BTC}) as public, \
            sse(venue.url, "/perps/stream/user", {"intervalMs": 0},
                headers=trader.read) as user, \
            sse(venue.url, "/perps/stream/events", {"marketId": BTC},
                headers=trader.read) as per_market:
        assert public.next().event == "snapshot"
        assert envelope(user.next())["eventType"] == "snapshot"
        assert envelope(per_market.next())["eventType"] == "snapshot"

        out = inject(client, trader.session, kind="drop_streams")
        assert out["streams"] == 3

        assert public.rest(timeout=3) == []
        for stream in (user, per_market):
            err = envelope(stream.next(timeout=3))
            assert (err["eventType"], err["eventSeq"]) == ("error", 2)
            assert err["payload"]["retryable"] is True and err["payload"]["code"]
            assert err["payload"]["message"]
            assert stream.rest(timeout=3) == []

    # reconnecting works and starts with a fresh snapshot
    with sse(venue.url, "/perps/stream/user", headers=trader.read) as user:
        assert envelope(user.next())["eventSeq"] == 1


def test_seq_gap_skips_one_number(venue, client, trader):
    with sse(venue.url, "/perps/book-stream", {"marketId": BTC, "intervalMs": 0}) as public, \
            sse(venue.url, "/perps/stream/user", {"intervalMs": 0},
                headers=trader.read) as user:
        snap_id = int(public.next().id)
        assert envelope(user.next())["eventSeq"] == 1

        assert inject(client, trader.session, kind="seq_gap")["streams"] == 2

        ok(trader.post("/perps/orders", limit_order("buy", "63000", "0.1")))
        up = public.next()
        assert int(up.id) == snap_id + 2 and up.json()["sequence"] == snap_id + 2
        assert envelope(user.next())["eventSeq"] == 3

        ok(trader.post("/perps/orders", limit_order("buy", "62000", "0.1")))
        assert int(public.next().id) == snap_id + 3  # one gap only
        assert envelope(user.next())["eventSeq"] == 4


def test_stop_heartbeats_silences_idle_streams_for_the_duration(make_venue):
    venue = make_venue(heartbeat_s=0.2)
    with httpx.Client(base_url=venue.url, timeout=5) as c:
        trader = new_trader(c, "desk")
        beats = []
        with c.stream("GET", "/perps/book-stream", params={"marketId": BTC}) as r:
            lines = r.iter_lines()
            while not (next(lines).startswith(":")):
                pass  # the snapshot, then the first heartbeat
            inject(c, trader.session, kind="stop_heartbeats", seconds=1.0)
            start = time.monotonic()
            for line in lines:
                if line.startswith(":"):
                    beats.append(time.monotonic() - start)
                    if len(beats) == 3:
                        break
    assert beats[0] >= 0.85, beats  # nothing while stopped
    assert beats[0] < 1.6, beats
    assert beats[2] - beats[0] < 0.8, beats  # then regular again


# --- order path --------------------------------------------------------------------------------

def test_rate_limit_fault_refuses_the_next_calls_but_not_cancel_all(client, trader):
    ok(trader.post("/perps/orders", limit_order("buy", "63000", "0.1")))
    before, orders = book(client), open_orders(trader)
    assert inject(client, trader.session, kind="rate_limit", count=2)["count"] == 2

    r = trader.post("/perps/orders/cancel-all", {"marketId": ETH})
    assert r.status_code == 200  # never refused, and not one of the two
    r = trader.post("/perps/orders", limit_order("buy", "62000", "0.1"))
    body = assert_error(r, 429, "ORDER_RATE_LIMIT")
    assert isinstance(body["retryAfterMs"], int) and body["retryAfterMs"] > 0
    assert int(r.headers["Retry-After"]) >= 1
    assert_rate_headers(r)
    r = trader.post("/perps/orders/preview", limit_order("buy", "62000", "0.1"))
    assert_error(r, 429, "ORDER_RATE_LIMIT")
    assert book(client) == before and open_orders(trader) == orders
    r = trader.get("/perps/balances")
    assert r.status_code == 200  # reads are untouched

    r = trader.post("/perps/orders", limit_order("buy", "62000", "0.1"))
    assert r.status_code == 200
    r = trader.post("/perps/orders/cancel-all", {})
    assert ok(r)["count"] == 2


def test_error_burst_fails_the_next_calls_with_503(client, trader):
    ok(trader.post("/perps/orders", limit_order("buy", "63000", "0.1")))
    before = book(client)
    inject(client, trader.session, kind="error_burst", count=3)
    assert _faults(client, trader)["errorBurstLeft"] == 3  # control routes do not count

    r = client.get("/perps/markets")
    assert_error(r, 503, "UNAVAILABLE")
    r = trader.post("/perps/orders", limit_order("buy", "62000", "0.1"))
    assert_error(r, 503, "UNAVAILABLE")
    r = trader.get("/perps/balances")
    assert_error(r, 503, "UNAVAILABLE")

    r = client.get("/perps/markets")
    assert r.status_code == 200
    assert book(client) == before


def test_latency_slows_responses_for_a_while(client, trader):
    def timed():
        t = time.perf_counter()
        r = client.get("/perps/markets")
        assert r.status_code == 200
        return time.perf_counter() - t, r

    baseline, _ = timed()
    assert baseline < 0.2
    inject(client, trader.session, kind="latency", ms=250, seconds=0.8)
    for _ in range(2):
        elapsed, r = timed()
        assert elapsed >= 0.25, elapsed
        dur = float(re.search(r"dur=([0-9.]+)", r.headers["server-timing"]).group(1))
        assert dur >= 250, r.headers["server-timing"]
    t = time.perf_counter()
    r = trader.post("/perps/orders", limit_order("buy", "63000", "0.1"))
    assert r.status_code == 200 and time.perf_counter() - t >= 0.25  # the order path too
    assert wait_until(lambda: timed()[0] < 0.15, timeout=3), "latency never went away"


def test_halt_market_refuses_trading_until_it_expires(client, trader):
    ok(trader.post("/perps/orders", limit_order("buy", "63000", "0.1")))
    before, orders = book(client), open_orders(trader)
    out = inject(client, trader.session, kind="halt_market", marketId=BTC, seconds=0.6)
    assert out["markets"] == [BTC]
    assert _market(client, BTC)["tradingStatus"] == "halted"
    assert _market(client, ETH)["tradingStatus"] == "trading"

    r = trader.post("/perps/orders", limit_order("buy", "62000", "0.1"))
    assert_error(r, 409, "MARKET_HALTED")
    r = trader.post("/perps/quotes/bulk", {"marketId": BTC, "quoteId": "q", "quotes": []})
    assert_error(r, 409, "MARKET_HALTED")
    assert book(client) == before and open_orders(trader) == orders
    r = trader.post("/perps/orders", limit_order("buy", "3100", "1", market=ETH))
    assert r.status_code == 200  # other markets trade

    assert wait_until(lambda: _market(client, BTC)["tradingStatus"] == "trading", timeout=3)
    r = trader.post("/perps/orders", limit_order("buy", "62000", "0.1"))
    assert r.status_code == 200, r.text


def test_margin_squeeze_raises_initial_margin(client, trader):
    market = BTC
    order = limit_order("buy", "63000", "2")  # IM 6400 normally, 128000 at rate 1
    r = trader.post("/perps/orders/preview", order)
    assert ok(r)["approved"] is True
    assert _market(client, market)["initialMarginRate"] == "0.05"

    out = inject(client, trader.session, kind="margin_squeeze", marketId=market, factor="20",
                 seconds=0.8)
    assert out["markets"] == [market] and out["factor"] == "20"
    assert _market(client, market)["initialMarginRate"] == "1"
    assert _market(client, ETH)["initialMarginRate"] == "0.05"

    before = book(client)
    r = trader.post("/perps/orders", order)
    details = assert_error(r, 422, "INSUFFICIENT_MARGIN")["details"]
    assert details == {"requiredIm": "128000", "availableIm": "100000"}
    assert book(client) == before and open_orders(trader) == []
    r = trader.post("/perps/orders/preview", order)
    assert ok(r)["approved"] is False

    assert wait_until(lambda: _market(client, market)["initialMarginRate"] == "0.05", timeout=3)
    r = trader.post("/perps/orders", order)
    assert r.status_code == 200, r.text


# --- [embedded only] GET /sim/fills: the ground truth a journal is checked against ---------

def test_sim_fills_lists_the_session_accounts_fills_only(client, trader, counterparty):
    assert_error(client.get("/sim/fills", headers=trader.trade), 401, "UNAUTHENTICATED")
    assert ok(client.get("/sim/fills", headers=trader.bearer)) == []
    ok(trader.post("/perps/orders", limit_order("buy", "64000", "1")))
    ok(counterparty.post("/perps/orders", {"marketId": BTC, "type": "market",
                                           "side": "sell", "quantity": "0.4"}))
    ok(counterparty.post("/perps/orders", {"marketId": BTC, "type": "market",
                                           "side": "sell", "quantity": "0.1"}))
    mine = ok(client.get("/sim/fills", headers=trader.bearer))
    assert [(f["side"], f["quantity"], f["liquidity"]) for f in mine] == [
        ("buy", "0.4", "maker"), ("buy", "0.1", "maker")]
    theirs = ok(client.get("/sim/fills", headers=counterparty.bearer))
    assert {f["fillId"] for f in theirs}.isdisjoint(f["fillId"] for f in mine)
    later = ok(client.get("/sim/fills", params={"sinceMs": mine[1]["createdAt"]},
                          headers=trader.bearer))
    assert mine[1] in later and all(f["createdAt"] >= mine[1]["createdAt"] for f in later)
    field_errors(client.get("/sim/fills", params={"sinceMs": -1}, headers=trader.bearer))
    typo = field_errors(client.get("/sim/fills", params={"since": 5}, headers=trader.bearer))
    assert list(typo) == ["since"]
