"""Private SSE streams: /perps/stream/user and /perps/stream/events (envelope, snapshot, deltas)."""

from __future__ import annotations

import httpx

from tests.helpers import new_key, new_trader
from tests.integration.conftest import (
    BTC,
    ETH,
    assert_balances,
    assert_error,
    assert_fill,
    assert_order,
    assert_position,
    envelope,
    field_errors,
    limit_order,
    market_order,
    ok,
    sse,
)


def _setup_positions(trader, counterparty):
    """The trader: long 0.2 BTC, a BTC bid 63000 x 0.1 and an ETH bid 3100 x 1."""
    ok(counterparty.post("/perps/orders", limit_order("sell", "64000", "1")))
    ok(trader.post("/perps/orders", market_order("buy", "0.2")))
    bid = ok(trader.post("/perps/orders", limit_order("buy", "63000", "0.1",
                                                      clientOrderId="bid")))
    eth = ok(trader.post("/perps/orders", limit_order("buy", "3100", "1", market=ETH)))
    return bid, eth


def test_user_stream_snapshot_then_deltas(venue, trader, counterparty):
    bid, eth = _setup_positions(trader, counterparty)
    with sse(venue.url, "/perps/stream/user", {"intervalMs": 20}, headers=trader.read) as events:
        snap = envelope(events.next())
        assert (snap["eventType"], snap["eventSeq"]) == ("snapshot", 1)
        payload = snap["payload"]
        assert set(payload) == {"orders", "positions", "balances"}
        for o in payload["orders"]:
            assert_order(o)
        assert {o["orderId"] for o in payload["orders"]} == {bid["orderId"], eth["orderId"]}
        (pos,) = payload["positions"]
        assert_position(pos)
        assert (pos["marketId"], pos["side"], pos["quantity"]) == (BTC, "long", "0.2")
        assert_balances(payload["balances"])

        # the counterparty sells into the trader's bid: a maker fill for the trader
        ok(counterparty.post("/perps/orders", market_order("sell", "0.1")))
        delta = envelope(events.next())
        assert (delta["eventType"], delta["eventSeq"]) == ("delta", 2)
        d = delta["payload"]
        assert {"fills", "orders", "removedOrderIds", "positions"} <= set(d)
        (fill,) = d["fills"]
        assert_fill(fill)
        assert (fill["orderId"], fill["clientOrderId"], fill["side"], fill["price"],
                fill["quantity"], fill["liquidity"]) == (bid["orderId"], "bid", "buy", "63000",
                                                         "0.1", "maker")
        assert d["removedOrderIds"] == [bid["orderId"]]
        assert d["orders"] == []
        (pos,) = d["positions"]
        assert (pos["marketId"], pos["side"], pos["quantity"]) == (BTC, "long", "0.3")
        assert_balances(d["balances"])
        assert delta["engineTs"] >= snap["engineTs"]

        # a new order of the trader's own: an order upsert
        new = ok(trader.post("/perps/orders", limit_order("sell", "65000", "0.1")))
        delta = envelope(events.next())
        assert delta["eventSeq"] == 3 and delta["eventType"] == "delta"
        assert [o["orderId"] for o in delta["payload"]["orders"]] == [new["orderId"]]
        assert delta["payload"]["orders"][0]["status"] == "open"
        assert delta["payload"]["fills"] == [] and delta["payload"]["removedOrderIds"] == []

        # a cancel: removed
        ok(trader.post(f"/perps/orders/{eth['orderId']}/cancel"))
        delta = envelope(events.next())
        assert delta["eventSeq"] == 4
        assert delta["payload"]["removedOrderIds"] == [eth["orderId"]]
        assert len({snap["eventId"], delta["eventId"]}) == 2


def test_user_stream_with_the_default_interval(venue, trader, counterparty):
    with sse(venue.url, "/perps/stream/user", headers=trader.trade) as events:
        assert envelope(events.next())["payload"]["orders"] == []
        o = ok(trader.post("/perps/orders", limit_order("buy", "63000", "0.1")))
        delta = envelope(events.next())
        assert delta["eventSeq"] == 2
        assert [x["orderId"] for x in delta["payload"]["orders"]] == [o["orderId"]]


def test_user_stream_is_per_account(venue, trader, counterparty):
    with sse(venue.url, "/perps/stream/user", {"intervalMs": 0}, headers=trader.read) as events:
        envelope(events.next())
        ok(counterparty.post("/perps/orders", limit_order("buy", "63000", "0.1")))
        mine = ok(trader.post("/perps/orders", limit_order("buy", "62000", "0.1")))
        delta = envelope(events.next())
        assert [o["orderId"] for o in delta["payload"]["orders"]] == [mine["orderId"]]


def test_events_stream_is_one_market_with_its_book(venue, trader, counterparty):
    bid, eth = _setup_positions(trader, counterparty)
    params = {"marketId": BTC, "intervalMs": 20}
    with sse(venue.url, "/perps/stream/events", params, headers=trader.read) as events:
        snap = envelope(events.next())
        assert (snap["eventType"], snap["eventSeq"]) == ("snapshot", 1)
        p = snap["payload"]
        assert set(p) == {"orders", "positions", "balances", "book"}
        assert [o["orderId"] for o in p["orders"]] == [bid["orderId"]]  # no ETH order
        assert [x["marketId"] for x in p["positions"]] == [BTC]
        assert_balances(p["balances"])
        assert set(p["book"]) == {"sequence", "bids", "asks"}
        assert p["book"]["bids"] == [{"price": "63000", "size": "0.1", "total": "0.1"}]
        assert p["book"]["asks"] == [{"price": "64000", "size": "0.8", "total": "0.8"}]

        ok(trader.post("/perps/orders", limit_order("buy", "3101", "1", market=ETH)))  # elsewhere
        ok(counterparty.post("/perps/orders", limit_order("sell", "64100", "0.5")))
        delta = envelope(events.next())
        assert (delta["eventType"], delta["eventSeq"]) == ("delta", 2)
        d = delta["payload"]
        assert d["fills"] == [] and d["orders"] == [] and d["removedOrderIds"] == []
        # the snapshot's book has [price, size] levels (as REST); deltas carry changed
        # levels as {price, size} (as book-stream updates), size "0" removing a level
        assert d["book"]["asks"] == [{"price": "64100", "size": "0.5"}]
        assert d["book"]["bids"] == []
        assert d["book"]["sequence"] > p["book"]["sequence"]

        ok(counterparty.post("/perps/orders", market_order("sell", "0.1")))
        delta = envelope(events.next())
        assert delta["eventSeq"] == 3
        d = delta["payload"]
        assert [f["orderId"] for f in d["fills"]] == [bid["orderId"]]
        assert d["removedOrderIds"] == [bid["orderId"]]
        assert [(x["marketId"], x["quantity"]) for x in d["positions"]] == [(BTC, "0.3")]
        assert d["book"]["bids"] == [{"price": "63000", "size": "0"}]


def test_heartbeats_on_an_idle_private_stream(make_venue):
    venue = make_venue(heartbeat_s=0.2)
    with httpx.Client(base_url=venue.url, timeout=5) as c:
        trader = new_trader(c, "desk")
        with sse(venue.url, "/perps/stream/user", {"intervalMs": 0},
                 headers=trader.read) as events:
            envelope(events.next())
            assert events.until(0.75) == []
            assert events.heartbeats >= 2


def test_revoking_the_key_ends_the_private_stream_with_an_error(venue, client, trader):
    key = new_key(client, trader.session, "read")
    headers = {"x-api-key": key["secret"]}
    with sse(venue.url, "/perps/stream/user", {"intervalMs": 20}, headers=headers) as events:
        envelope(events.next())
        r = client.delete(f"/perps/me/api-keys/{key['id']}", headers=trader.bearer)
        assert r.status_code == 204
        err = envelope(events.next(timeout=3))
        assert (err["eventType"], err["eventSeq"]) == ("error", 2)
        assert err["payload"]["code"] == "KEY_REVOKED"
        assert err["payload"]["retryable"] is False and err["payload"]["message"]
        assert events.rest(timeout=3) == []
    # reconnecting with the revoked key is refused
    r = client.get("/perps/stream/user", headers=headers)
    assert_error(r, 409, "KEY_REVOKED")


def test_revoking_ends_the_per_market_stream_too(venue, client, trader):
    key = new_key(client, trader.session, "trade")
    headers = {"x-api-key": key["secret"]}
    with sse(venue.url, "/perps/stream/events", {"marketId": ETH}, headers=headers) as events:
        envelope(events.next())
        r = client.delete(f"/perps/me/api-keys/{key['id']}", headers=trader.bearer)
        assert r.status_code == 204
        err = envelope(events.next(timeout=3))
        assert err["eventType"] == "error" and err["payload"]["code"] == "KEY_REVOKED"
        assert events.rest(timeout=3) == []


def test_an_expiring_key_ends_the_private_stream(venue, client, trader):
    key = new_key(client, trader.session, "read")
    headers = {"x-api-key": key["secret"]}
    with sse(venue.url, "/perps/stream/user", {"intervalMs": 20}, headers=headers) as events:
        envelope(events.next())

        def expire():
            venue.runtime.keys.keys[key["id"]].expires_at = 1

        venue.call(expire)
        err = envelope(events.next(timeout=3))
        assert err["eventType"] == "error" and err["payload"]["code"] == "KEY_EXPIRED"
        assert err["payload"]["retryable"] is False
        assert events.rest(timeout=3) == []
    r = client.get("/perps/stream/user", headers=headers)
    assert_error(r, 401, "KEY_EXPIRED")


def test_private_streams_need_a_key(client, trader):
    assert_error(client.get("/perps/stream/user"), 401, "UNAUTHENTICATED")
    r = client.get("/perps/stream/events", params={"marketId": BTC}, headers=trader.bearer)
    assert_error(r, 401, "UNAUTHENTICATED")
    r = client.get("/perps/stream/events", params={"marketId": "NOPE"}, headers=trader.read)
    assert_error(r, 404, "NOT_FOUND")
    r = client.get("/perps/stream/events", headers=trader.read)
    assert "marketId" in field_errors(r)
