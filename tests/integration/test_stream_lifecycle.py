"""Stream lifecycles: heartbeats whatever the pacing, prompt revocation, no leaked
connections, a 500 that keeps the connection."""

from __future__ import annotations

import time

import httpx

from tests.helpers import new_key, new_session
from tests.integration.conftest import (
    assert_error,
    envelope,
    limit_order,
    ok,
    sse,
    wait_until,
)


def test_a_slow_interval_still_gets_heartbeats_on_time(make_venue):
    venue = make_venue(heartbeat_s=0.3)
    params = {"marketId": "BTC-PERP", "intervalMs": 4000}
    with httpx.Client(base_url=venue.url, timeout=5) as c, \
            c.stream("GET", "/perps/book-stream", params=params) as r:
        lines = r.iter_lines()
        start = time.monotonic()
        while next(lines) != ":heartbeat":
            pass
        assert time.monotonic() - start < 2.0  # the heartbeat, not the 4 s interval


def test_revocation_reaches_an_eager_stream_at_once(make_venue):
    # heartbeat 10 s and intervalMs 0: only the revocation itself can wake the stream
    venue = make_venue(heartbeat_s=10)
    with httpx.Client(base_url=venue.url, timeout=5) as c:
        session = new_session(c, "desk")
        key = new_key(c, session, "read")
        headers = {"x-api-key": key["secret"]}
        with sse(venue.url, "/perps/stream/user", {"intervalMs": 0}, headers=headers,
                 read_timeout=15) as events:
            envelope(events.next())
            start = time.monotonic()
            r = c.delete(f"/perps/me/api-keys/{key['id']}",
                         headers={"Authorization": f"Bearer {session}"})
            assert r.status_code == 204
            err = envelope(events.next(timeout=3))
            assert err["payload"]["code"] == "KEY_REVOKED"
            assert time.monotonic() - start < 1.5


def test_closed_streams_leave_no_connection_behind(venue):
    hub = venue.runtime.hub
    for path, params in (("/perps/book-stream", {"marketId": "BTC-PERP"}),
                         ("/perps/index-stream", {"marketId": "BTC-PERP"})):
        with sse(venue.url, path, params) as events:
            events.next()  # only the first message, then hang up
    assert wait_until(lambda: not venue.call(lambda: len(hub.connections)), timeout=5)


def test_an_unexpected_error_is_internal_and_keeps_the_connection(venue, client, trader):
    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    ex = venue.runtime.exchange
    original = ex.place_order
    venue.call(lambda: setattr(ex, "place_order", explode))
    try:
        r = trader.post("/perps/orders", limit_order("buy", "63000", "0.1"))
        body = assert_error(r, 500, "INTERNAL")
        assert "boom" not in r.text and "Traceback" not in r.text
        assert body["message"] == "internal error"
        assert "server-timing" in r.headers and "x-ratelimit-limit" in r.headers
    finally:
        venue.call(lambda: setattr(ex, "place_order", original))
    # the same pooled connection carries on
    ok(trader.post("/perps/orders", limit_order("buy", "63000", "0.1")))


def test_a_stranger_ip_learns_nothing_of_a_revoked_key(client, trader):
    key = new_key(client, trader.session, "trade", allowedIps=["10.1.2.3"])
    r = client.delete(f"/perps/me/api-keys/{key['id']}", headers=trader.bearer)
    assert r.status_code == 204
    r = client.get("/perps/balances", headers={"x-api-key": key["secret"]})
    assert_error(r, 403, "IP_NOT_ALLOWED")
