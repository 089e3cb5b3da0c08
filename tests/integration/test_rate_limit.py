"""Order-path rate limits: headers, per-account counting, refusal, cancel-all exempt.

The venues here run on a clock whose one-minute window starts when the test
starts, so a count never straddles a window boundary.
"""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import new_key, new_trader
from tests.integration.conftest import (
    BTC,
    assert_error,
    assert_rate_headers,
    book,
    limit_order,
    ok,
    open_orders,
    window_start_clock,
)


@pytest.fixture
def limited(make_venue):
    venue = make_venue(window_start_clock(), rate_limit_per_minute=5)
    with httpx.Client(base_url=venue.url, timeout=10) as c:
        yield c, new_trader(c, "desk"), new_trader(c, "other")


def test_order_path_responses_carry_rate_headers_counting_down(limited):
    c, trader, _ = limited
    calls = [
        ("/perps/orders", limit_order("buy", "63000", "0.1", clientOrderId="a")),
        ("/perps/orders/preview", limit_order("buy", "63000", "0.1")),
        ("/perps/quotes/bulk", {"marketId": BTC, "quoteId": "q", "quotes": [
            {"side": "buy", "price": "62000", "quantity": "0.1"},
            {"side": "buy", "price": "61000", "quantity": "0.1"}]}),  # one bulk counts once
        ("/perps/orders/cancel-all", {"quoteId": "q"}),
    ]
    remaining = []
    for path, body in calls:
        r = trader.post(path, body)
        assert r.status_code == 200, (path, r.text)
        limit, left, reset = assert_rate_headers(r)
        assert limit == 5 and 50 <= reset <= 60
        remaining.append(left)
    assert remaining == [4, 3, 2, 1]


def test_errors_after_authentication_carry_rate_headers_too(limited):
    c, trader, _ = limited
    seen = []
    for body, status, code in [
        (limit_order("buy", "63000.05", "0.1"), 422, "INVALID_TICK"),
        (limit_order("buy", "abc", "0.1"), 400, "VALIDATION"),
        (limit_order("buy", "63000", "0.1", market="NOPE"), 404, "NOT_FOUND"),
    ]:
        r = trader.post("/perps/orders", body)
        assert_error(r, status, code)
        seen.append(assert_rate_headers(r)[1])
    r = trader.post("/perps/orders/01ARZ3NDEKTSV4RRFFQ69G5FAV/cancel")
    assert_error(r, 404, "NOT_FOUND")
    seen.append(assert_rate_headers(r)[1])
    r = trader.post("/perps/positions/close", {"marketId": BTC})  # no position
    assert_error(r, 404, "NOT_FOUND")
    seen.append(assert_rate_headers(r)[1])
    assert seen == [4, 3, 2, 1, 0]


def test_refused_at_the_limit_with_retry_after(limited):
    c, trader, _ = limited
    for i in range(5):
        r = trader.post("/perps/orders", limit_order("buy", "63000", "0.001"))
        assert r.status_code == 200, (i, r.text)
    before = book(c)
    orders_before = open_orders(trader)

    r = trader.post("/perps/orders", limit_order("buy", "63000", "0.001"))
    body = assert_error(r, 429, "ORDER_RATE_LIMIT")
    assert isinstance(body["retryAfterMs"], int) and 0 < body["retryAfterMs"] <= 60_000
    assert int(r.headers["Retry-After"]) == -(-body["retryAfterMs"] // 1000)
    assert assert_rate_headers(r)[:2] == (5, 0)
    assert book(c) == before and open_orders(trader) == orders_before

    for path, body in [("/perps/orders/preview", limit_order("buy", "63000", "0.001")),
                       ("/perps/quotes/bulk", {"marketId": BTC, "quoteId": "q", "quotes": []}),
                       ("/perps/positions/close", {"marketId": BTC}),
                       (f"/perps/orders/{orders_before[0]['orderId']}/cancel", None)]:
        r = trader.post(path, body)
        assert_error(r, 429, "ORDER_RATE_LIMIT")
        assert "Retry-After" in r.headers
    assert book(c) == before


def _use_up_the_window(trader) -> None:
    """Five orders fill the limit of 5; the sixth is refused."""
    for _ in range(5):
        ok(trader.post("/perps/orders", limit_order("buy", "63000", "0.001")))
    r = trader.post("/perps/orders", limit_order("buy", "63000", "0.001"))
    assert_error(r, 429, "ORDER_RATE_LIMIT")


def test_cancel_all_is_never_refused_for_rate(limited):
    c, trader, _ = limited
    _use_up_the_window(trader)
    for _ in range(3):
        r = trader.post("/perps/orders/cancel-all", {})
        assert r.status_code == 200, r.text
        assert assert_rate_headers(r)[1] == 0
    r = trader.post("/perps/orders/cancel-all", {"marketId": BTC})
    assert ok(r)["count"] == 0
    assert open_orders(trader) == [] and book(c)["bids"] == []


def test_counted_per_account_across_its_keys(limited):
    c, trader, other = limited
    second = new_key(c, trader.session, "trade")
    second_headers = {"x-api-key": second["secret"]}
    left = []
    for headers in (trader.trade, second_headers, trader.trade, second_headers, trader.trade):
        r = trader.post("/perps/orders", limit_order("buy", "63000", "0.001"), headers=headers)
        assert r.status_code == 200
        left.append(assert_rate_headers(r)[1])
    assert left == [4, 3, 2, 1, 0]
    r = trader.post("/perps/orders", limit_order("buy", "63000", "0.001"),
                    headers=second_headers)
    assert_error(r, 429, "ORDER_RATE_LIMIT")

    # another account has its own window
    r = other.post("/perps/orders", limit_order("sell", "65000", "0.001"))
    assert r.status_code == 200
    assert assert_rate_headers(r)[1] == 4


def test_reads_and_streams_are_not_limited(limited):
    c, trader, _ = limited
    _use_up_the_window(trader)
    for _ in range(3):
        for path, params in [("/perps/balances", {}), ("/perps/orders", {}),
                             ("/perps/positions", {}), ("/perps/fees/me", {}),
                             ("/perps/markets", {}), (f"/perps/orderbook/{BTC}", {}),
                             ("/perps/market-stats", {"marketId": BTC})]:
            r = trader.get(path, params=params)
            assert r.status_code == 200, (path, r.status_code)
    with c.stream("GET", "/perps/book-stream", params={"marketId": BTC}) as r:
        assert r.status_code == 200
    r = trader.post("/perps/orders", limit_order("buy", "63000", "0.001"))
    assert_error(r, 429, "ORDER_RATE_LIMIT")  # reads did not reset anything


def test_default_limit_is_1200(trader):
    r = trader.post("/perps/orders", limit_order("buy", "63000", "0.001"))
    assert assert_rate_headers(r)[:2] == (1200, 1199)


def test_the_key_is_checked_and_counted_before_the_body_is_read(client, trader):
    garbage = {"content": b"{not json", "headers": {"content-type": "application/json"}}
    r = client.post("/perps/quotes/bulk", **garbage)
    assert_error(r, 401, "UNAUTHENTICATED")
    r = client.post("/perps/quotes/bulk", **{**garbage,
                                             "headers": {**garbage["headers"], **trader.read}})
    assert_error(r, 403, "FORBIDDEN_SCOPE")
    r = client.post("/perps/quotes/bulk", **{**garbage,
                                             "headers": {**garbage["headers"], **trader.trade}})
    assert_error(r, 400, "BAD_REQUEST")
    _, remaining, _ = assert_rate_headers(r)
    r = client.post("/perps/orders", **{**garbage,
                                        "headers": {**garbage["headers"], **trader.trade}})
    assert assert_rate_headers(r)[1] == remaining - 1
