"""Public SSE streams: book-stream (snapshot, then changed levels only) and index-stream."""

from __future__ import annotations

import random
import time
from decimal import Decimal

import httpx

from tests.integration.conftest import (
    BTC,
    ETH,
    assert_error,
    book,
    field_errors,
    is_decimal,
    limit_order,
    market_order,
    ok,
    sse,
)


def _update(events, expected_id):
    ev = events.next()
    assert ev.event == "update", ev.event
    assert ev.id == str(expected_id), (ev.id, expected_id)
    body = ev.json()
    assert set(body) == {"marketId", "sequence", "bids", "asks"}
    assert body["marketId"] == BTC and body["sequence"] == expected_id
    for level in body["bids"] + body["asks"]:
        assert set(level) == {"price", "size"}
        assert is_decimal(level["price"]) and is_decimal(level["size"])
    return body


def test_snapshot_first_then_only_changed_levels(venue, client, trader, counterparty):
    ok(counterparty.post("/perps/orders", limit_order("buy", "63990", "0.5")))
    far = ok(counterparty.post("/perps/orders", limit_order("buy", "63980", "1")))
    ok(counterparty.post("/perps/orders", limit_order("sell", "64010", "0.3")))
    rest = book(client)

    with sse(venue.url, "/perps/book-stream", {"marketId": BTC, "intervalMs": 20}) as events:
        snap = events.next()
        assert snap.event == "snapshot"
        body = snap.json()
        assert set(body) == {"marketId", "sequence", "bids", "asks"}
        assert body["marketId"] == BTC and snap.id == str(body["sequence"])
        assert body["sequence"] == rest["sequence"]
        assert body["bids"] == [{"price": "63990", "size": "0.5", "total": "0.5"},
                                {"price": "63980", "size": "1", "total": "1.5"}]
        assert body["asks"] == [{"price": "64010", "size": "0.3", "total": "0.3"}]
        seq = body["sequence"]

        ok(trader.post("/perps/orders", limit_order("buy", "63985", "0.2")))
        seq += 1
        up = _update(events, seq)
        assert up["bids"] == [{"price": "63985", "size": "0.2"}] and up["asks"] == []

        ok(counterparty.post(f"/perps/orders/{far['orderId']}/cancel"))
        seq += 1
        up = _update(events, seq)
        assert up["bids"] == [{"price": "63980", "size": "0"}] and up["asks"] == []

        ok(counterparty.post("/perps/orders", limit_order("buy", "63990", "0.25")))
        seq += 1
        up = _update(events, seq)
        assert up["bids"] == [{"price": "63990", "size": "0.75"}] and up["asks"] == []

        ok(trader.post("/perps/orders", limit_order("buy", "3100", "1", market=ETH)))
        ok(trader.post("/perps/orders", market_order("buy", "0.1")))
        seq += 1
        up = _update(events, seq)  # the ETH order does not show on the BTC stream
        assert up["asks"] == [{"price": "64010", "size": "0.2"}] and up["bids"] == []


def test_updates_rebuild_the_book(venue, client, trader, counterparty):
    """Applying every update to the snapshot gives the REST book, whatever the traffic."""
    rng = random.Random(11)
    with sse(venue.url, "/perps/book-stream", {"marketId": BTC, "intervalMs": 0}) as events:
        snap = events.next()
        bids = {lv["price"]: lv["size"] for lv in snap.json()["bids"]}
        asks = {lv["price"]: lv["size"] for lv in snap.json()["asks"]}
        last_id = int(snap.id)
        live = []
        for _ in range(25):
            who = rng.choice([trader, counterparty])
            action = rng.random()
            if action < 0.6 or not live:
                side = rng.choice(["buy", "sell"])
                price = 63950 + rng.randrange(0, 100) if side == "buy" else 64000 + rng.randrange(
                    0, 100)
                r = who.post("/perps/orders", limit_order(side, str(price),
                                                          f"0.{rng.randrange(1, 9)}"))
                live.append((who, ok(r)["orderId"]))
            elif action < 0.85:
                owner, oid = live.pop(rng.randrange(len(live)))
                ok(owner.post(f"/perps/orders/{oid}/cancel"))
            else:
                ok(who.post("/perps/orders", market_order(rng.choice(["buy", "sell"]), "0.3")))
        final = book(client)
        deadline = time.monotonic() + 5
        while (sorted(bids.items()) != sorted(tuple(x) for x in final["bids"])
               or sorted(asks.items()) != sorted(tuple(x) for x in final["asks"])):
            assert time.monotonic() < deadline, "the stream never caught up with the book"
            ev = events.next()
            assert ev.event == "update" and int(ev.id) == last_id + 1
            last_id = int(ev.id)
            body = ev.json()
            assert body["bids"] or body["asks"], "an update with no change"
            for levels, changes in ((bids, body["bids"]), (asks, body["asks"])):
                for ch in changes:
                    if ch["size"] == "0":
                        assert ch["price"] in levels, "removal of a level never sent"
                        del levels[ch["price"]]
                    else:
                        assert levels.get(ch["price"]) != ch["size"], "an unchanged level"
                        levels[ch["price"]] = ch["size"]
        assert Decimal(max(bids, key=Decimal, default="0")) < Decimal(
            min(asks, key=Decimal, default="1e9"))


def test_depth_limits_the_snapshot(venue, counterparty):
    for i in range(5):
        ok(counterparty.post("/perps/orders", limit_order("buy", str(63900 + i), "0.1")))
    with sse(venue.url, "/perps/book-stream", {"marketId": BTC, "depth": 2}) as events:
        snap = events.next().json()
        assert [lv["price"] for lv in snap["bids"]] == ["63904", "63903"]
        assert snap["bids"][1]["total"] == "0.2"


def test_heartbeat_comments_when_idle(make_venue):
    venue = make_venue(heartbeat_s=0.2)
    lines = []
    with httpx.Client(base_url=venue.url, timeout=5) as c, \
            c.stream("GET", "/perps/book-stream", params={"marketId": BTC}) as r:
        assert r.status_code == 200
        start = time.monotonic()
        for line in r.iter_lines():
            lines.append((time.monotonic() - start, line))
            if time.monotonic() - start > 1.1:
                break
    comments = [(t, line) for t, line in lines if line.startswith(":")]
    assert lines[0][1].startswith(("id:", "event:")), lines[:3]  # the snapshot comes first
    assert all(line[1:].strip() == "heartbeat" for _, line in comments), comments
    assert 4 <= len(comments) <= 7, [round(t, 2) for t, _ in comments]
    gaps = [b - a for (a, _), (b, _) in zip(comments, comments[1:], strict=False)]
    assert all(0.1 < g < 0.5 for g in gaps), gaps


def test_book_stream_refuses_bad_parameters(client):
    assert_error(client.get("/perps/book-stream", params={"marketId": "NOPE"}), 404, "NOT_FOUND")
    assert "marketId" in field_errors(client.get("/perps/book-stream"))
    assert "depth" in field_errors(client.get("/perps/book-stream",
                                              params={"marketId": BTC, "depth": 0}))
    assert_error(client.get("/perps/index-stream", params={"marketId": "NOPE"}), 404,
                 "NOT_FOUND")


def test_book_stream_with_the_simulation(make_venue):
    venue = make_venue(sim_enabled=True, sim_step_ms=20)
    with sse(venue.url, "/perps/book-stream", {"marketId": BTC, "intervalMs": 20}) as events:
        snap = events.next()
        assert snap.event == "snapshot"
        ids = [int(snap.id)]
        for _ in range(4):
            ev = events.next()
            assert ev.event == "update"
            body = ev.json()
            assert body["bids"] or body["asks"]
            ids.append(int(ev.id))
    assert ids == list(range(ids[0], ids[0] + 5))


def test_index_stream_with_the_simulation(make_venue):
    venue = make_venue(sim_enabled=True, sim_step_ms=20)
    with sse(venue.url, "/perps/index-stream", {"marketId": ETH, "intervalMs": 20}) as events:
        got = [events.next() for _ in range(8)]
    assert [ev.event for ev in got] == ["index"] * 8
    assert [int(ev.id) for ev in got] == list(range(1, 9))
    bodies = [ev.json() for ev in got]
    for b in bodies:
        assert set(b) == {"marketId", "price", "ts"} and b["marketId"] == ETH
        assert is_decimal(b["price"]) and isinstance(b["ts"], int)
        assert abs(Decimal(b["price"]) / Decimal(3200) - 1) < Decimal("0.05")
    assert all(a["ts"] < b["ts"] for a, b in zip(bodies, bodies[1:], strict=False))
