"""Every error of the contract over HTTP: status, body `{error, code, message, details}`.

After each refused order the public book and the trader's open orders are unchanged.
"""

from __future__ import annotations

import httpx
import pytest

from tests.integration.conftest import (
    BTC,
    assert_error,
    book,
    field_errors,
    inject,
    limit_order,
    market_order,
    ok,
    open_orders,
)


@pytest.fixture
def seeded(client, trader, counterparty):
    """A two-sided book (the counterparty's) and one resting trader bid with clientOrderId "dup"."""
    ok(counterparty.post("/perps/orders", limit_order("sell", "64010", "1")))
    ok(counterparty.post("/perps/orders", limit_order("buy", "63990", "1")))
    ok(trader.post("/perps/orders", limit_order("buy", "63000", "0.1", clientOrderId="dup")))
    return client


class Unchanged:
    """Snapshot of the book and the trader's orders; `check()` asserts nothing moved."""

    def __init__(self, client, trader):
        self.client, self.trader = client, trader
        self.book = book(client)
        self.orders = open_orders(trader)

    def check(self):
        assert book(self.client) == self.book, "a refused request changed the book"
        assert open_orders(self.trader) == self.orders


# --- 400 -----------------------------------------------------------------------------------

VALIDATION_CASES = [
    ("bad decimal", limit_order("buy", "abc", "0.1"), "price"),
    ("bad decimal quantity", limit_order("buy", "63000", "1.2.3"), "quantity"),
    ("negative size", limit_order("buy", "63000", "-1"), "quantity"),
    ("zero size", limit_order("buy", "63000", "0"), "quantity"),
    ("float price", limit_order("buy", 63000.5, "0.1"), "price"),
    ("float quantity", limit_order("buy", "63000", 0.1), "quantity"),
    ("NaN price", limit_order("buy", "NaN", "0.1"), "price"),
    ("zero price", limit_order("buy", "0", "0.1"), "price"),
    ("negative price", limit_order("buy", "-63000", "0.1"), "price"),
    ("unknown field", limit_order("buy", "63000", "0.1", leverage="10"), "leverage"),
    ("missing side", {"marketId": BTC, "price": "63000", "quantity": "0.1"}, "side"),
    ("missing quantity", {"marketId": BTC, "side": "buy", "price": "63000"}, "quantity"),
    ("missing market", {"side": "buy", "price": "63000", "quantity": "0.1"}, "marketId"),
    ("limit without price", {"marketId": BTC, "side": "buy", "quantity": "0.1"}, "price"),
    ("bad side", limit_order("up", "63000", "0.1"), "side"),
    ("bad type", limit_order("buy", "63000", "0.1", type="stop"), "type"),
    ("bad tif", limit_order("buy", "63000", "0.1", timeInForce="day"), "timeInForce"),
    ("market with price", market_order("buy", "0.1", price="64000"), "price"),
    ("bad clientOrderId", limit_order("buy", "63000", "0.1", clientOrderId="a b"),
     "clientOrderId"),
]


@pytest.mark.parametrize(("case", "body", "field"), VALIDATION_CASES,
                         ids=[c[0] for c in VALIDATION_CASES])
def test_order_validation_names_the_field(seeded, trader, case, body, field):
    state = Unchanged(seeded, trader)
    r = trader.post("/perps/orders", body)
    fields = field_errors(r)
    assert field in fields, fields
    state.check()


def test_underscored_number_is_not_a_decimal_string(seeded, trader):
    """"1_0" is no decimal string (the schema's pattern is -?[0-9]+(.[0-9]+)?), not 10."""
    state = Unchanged(seeded, trader)
    r = trader.post("/perps/orders", limit_order("buy", "63000", "1_0"))
    assert "quantity" in field_errors(r)
    state.check()


def test_bulk_and_close_validation(seeded, trader):
    state = Unchanged(seeded, trader)
    r = trader.post("/perps/quotes/bulk", {"marketId": BTC, "quoteId": "q",
                                           "quotes": [{"side": "buy", "price": "x",
                                                       "quantity": "0.1"}]})
    assert any("price" in k for k in field_errors(r))
    r = trader.post("/perps/quotes/bulk", {"marketId": BTC, "quotes": []})
    assert "quoteId" in field_errors(r)
    r = trader.post("/perps/positions/close", {"marketId": BTC, "quantity": 0.1})
    assert "quantity" in field_errors(r)
    r = trader.post("/perps/orders/cancel-all", {"market": BTC})
    assert "market" in field_errors(r)
    state.check()


def test_preview_validation_names_the_field(seeded, trader):
    """Preview takes an order or a bulk body; its fieldErrors should still say `price`."""
    r = trader.post("/perps/orders/preview", limit_order("buy", "abc", "0.1"))
    fields = field_errors(r)
    assert "price" in fields, sorted(fields)


@pytest.mark.parametrize("path", ["/perps/orders", "/perps/orders/preview", "/perps/quotes/bulk",
                                  "/perps/positions/close", "/perps/orders/cancel-all"])
def test_malformed_json_is_bad_request(seeded, trader, path):
    state = Unchanged(seeded, trader)
    r = seeded.post(path, content=b'{"marketId": "BTC-PERP", "side": ',
                    headers={**trader.trade, "content-type": "application/json"})
    assert_error(r, 400, "BAD_REQUEST")
    state.check()


# --- 401 / 403 -----------------------------------------------------------------------------

def test_unauthenticated(seeded, trader):
    state = Unchanged(seeded, trader)
    body = limit_order("buy", "63000", "0.1")
    for headers in ({}, {"x-api-key": ""}, {"x-api-key": "ocx_sk_unknown"}, trader.bearer):
        r = seeded.post("/perps/orders", json=body, headers=headers)
        assert_error(r, 401, "UNAUTHENTICATED")
    state.check()


def test_key_expired(venue, seeded, trader):
    state = Unchanged(seeded, trader)
    keys = venue.runtime.keys.keys

    def expire():
        keys[trader.trade_key_id].expires_at = 1
        keys[trader.read_key_id].expires_at = 1

    venue.call(expire)
    r = trader.post("/perps/orders", limit_order("buy", "63500", "0.1"))
    assert_error(r, 401, "KEY_EXPIRED")
    r = trader.get("/perps/balances")
    assert_error(r, 401, "KEY_EXPIRED")
    r = seeded.get("/perps/me/api-keys", headers=trader.bearer)
    assert {k["status"] for k in ok(r)["keys"]} == {"expired"}
    assert book(seeded) == state.book


def test_forbidden_scope_for_every_trading_route(seeded, trader):
    state = Unchanged(seeded, trader)
    read = trader.read
    oid = state.orders[0]["orderId"]
    for path, body in [("/perps/orders", limit_order("buy", "63500", "0.1")),
                       ("/perps/orders/preview", limit_order("buy", "63500", "0.1")),
                       (f"/perps/orders/{oid}/cancel", None),
                       ("/perps/quotes/bulk", {"marketId": BTC, "quoteId": "q", "quotes": []}),
                       ("/perps/orders/cancel-all", {}),
                       ("/perps/positions/close", {"marketId": BTC})]:
        r = trader.post(path, body, headers=read)
        assert_error(r, 403, "FORBIDDEN_SCOPE")
    state.check()


def test_ip_not_allowed(seeded, trader):
    state = Unchanged(seeded, trader)
    r = seeded.post("/perps/me/api-keys", headers=trader.bearer,
                    json={"name": "office", "scope": "trade", "allowedIps": ["10.1.2.3"]})
    assert r.status_code == 200
    headers = {"x-api-key": r.json()["secret"]}
    r = seeded.post("/perps/orders", json=limit_order("buy", "63500", "0.1"), headers=headers)
    body = assert_error(r, 403, "IP_NOT_ALLOWED")
    assert body["details"].get("ip") == "127.0.0.1"
    r = seeded.get("/perps/balances", headers=headers)
    assert_error(r, 403, "IP_NOT_ALLOWED")
    state.check()

    r = seeded.post("/perps/me/api-keys", headers=trader.bearer,
                    json={"name": "lo", "scope": "read", "allowedIps": ["127.0.0.0/8"]})
    assert r.status_code == 200
    r = seeded.get("/perps/balances", headers={"x-api-key": r.json()["secret"]})
    assert r.status_code == 200


# --- 404 / 409 ------------------------------------------------------------------------------

def test_not_found(seeded, trader):
    state = Unchanged(seeded, trader)
    r = trader.post("/perps/orders", limit_order("buy", "63000", "0.1", market="DOGE-PERP"))
    assert_error(r, 404, "NOT_FOUND")
    r = trader.post("/perps/orders/01ARZ3NDEKTSV4RRFFQ69G5FAV/cancel")
    assert_error(r, 404, "NOT_FOUND")
    r = trader.post("/perps/quotes/bulk", {"marketId": "DOGE-PERP", "quoteId": "q",
                                           "quotes": []})
    assert_error(r, 404, "NOT_FOUND")
    r = seeded.delete("/perps/me/api-keys/ocx_kid_unknown", headers=trader.bearer)
    assert_error(r, 404, "NOT_FOUND")
    for path in ("/perps/nope", "/nope", "/perps/orderbook"):
        assert_error(seeded.get(path), 404, "NOT_FOUND")
    assert_error(seeded.get("/perps/orderbook/DOGE-PERP"), 404, "NOT_FOUND")
    state.check()


def test_duplicate_client_order_id_places_nothing(seeded, trader):
    state = Unchanged(seeded, trader)
    r = trader.post("/perps/orders", limit_order("buy", "63500", "0.2", clientOrderId="dup"))
    body = assert_error(r, 409, "DUPLICATE_CLIENT_ORDER_ID")
    assert body["details"].get("clientOrderId") == "dup"
    state.check()


def test_market_halted(seeded, trader):
    state = Unchanged(seeded, trader)
    inject(seeded, trader.session, kind="halt_market", marketId=BTC, seconds=30)
    for path, body in [("/perps/orders", limit_order("buy", "63500", "0.1")),
                       ("/perps/quotes/bulk", {"marketId": BTC, "quoteId": "q", "cancelAll": True,
                                               "quotes": [{"side": "buy", "price": "63500",
                                                           "quantity": "0.1"}]})]:
        r = trader.post(path, body)
        assert_error(r, 409, "MARKET_HALTED")
    state.check()


def test_key_revoked(seeded, trader):
    state = Unchanged(seeded, trader)
    r = seeded.delete(f"/perps/me/api-keys/{trader.trade_key_id}", headers=trader.bearer)
    assert r.status_code == 204
    r = trader.post("/perps/orders", limit_order("buy", "63500", "0.1"))
    assert_error(r, 409, "KEY_REVOKED")
    state.check()


# --- 422 ---------------------------------------------------------------------------------

BUSINESS_CASES = [
    ("tick", limit_order("buy", "63500.05", "0.1"), "INVALID_TICK"),
    ("step", limit_order("buy", "63500", "0.0005"), "INVALID_STEP"),
    ("band high", limit_order("sell", "67200.1", "0.1"), "PRICE_OUT_OF_BAND"),
    ("band low", limit_order("buy", "60799.9", "0.1"), "PRICE_OUT_OF_BAND"),
    ("post only", limit_order("buy", "64010", "0.1", postOnly=True), "POST_ONLY_WOULD_CROSS"),
    ("reduce only", limit_order("sell", "64500", "0.1", reduceOnly=True),
     "REDUCE_ONLY_WOULD_INCREASE"),
    ("reduce only market", market_order("sell", "0.1", reduceOnly=True),
     "REDUCE_ONLY_WOULD_INCREASE"),
    ("margin", limit_order("buy", "63500", "100"), "INSUFFICIENT_MARGIN"),
]


@pytest.mark.parametrize(("case", "body", "code"), BUSINESS_CASES,
                         ids=[c[0] for c in BUSINESS_CASES])
def test_business_rejects(seeded, trader, case, body, code):
    state = Unchanged(seeded, trader)
    r = trader.post("/perps/orders", body)
    assert_error(r, 422, code)
    state.check()


def test_insufficient_margin_details(seeded, trader):
    state = Unchanged(seeded, trader)
    r = trader.post("/perps/orders", limit_order("buy", "63500", "100"))
    details = assert_error(r, 422, "INSUFFICIENT_MARGIN")["details"]
    # 0.05 x 64000 x (100 + the resting 0.1) minus what the resting bid already holds
    assert details == {"requiredIm": "320000", "availableIm": "99680"}
    state.check()


def test_band_and_tick_details(seeded, trader):
    r = trader.post("/perps/orders", limit_order("sell", "70000", "0.1"))
    details = assert_error(r, 422, "PRICE_OUT_OF_BAND")["details"]
    assert (details["priceBandLow"], details["priceBandHigh"]) == ("60800", "67200")
    r = trader.post("/perps/orders", limit_order("buy", "63500.05", "0.1"))
    assert assert_error(r, 422, "INVALID_TICK")["details"]["tickSize"] == "0.1"
    r = trader.post("/perps/orders", limit_order("buy", "63500", "0.0005"))
    assert assert_error(r, 422, "INVALID_STEP")["details"]["stepSize"] == "0.001"


# --- never a 500 -----------------------------------------------------------------------------

ODD_REQUESTS = [
    ("orders: huge quantity", "/perps/orders", limit_order("buy", "63500", "1e100")),
    ("orders: huge price", "/perps/orders", limit_order("buy", "1e100", "0.1")),
    ("orders: huge integer price", "/perps/orders", limit_order("buy", 10**30, "0.1")),
    ("orders: tiny quantity", "/perps/orders", limit_order("buy", "63500", "1e-100")),
    ("orders: infinite price", "/perps/orders", limit_order("buy", "Infinity", "0.1")),
    ("orders: list body", "/perps/orders", []),
    ("orders: null body", "/perps/orders", None),
    ("orders: string body", "/perps/orders", "order"),
    ("orders: boolean price", "/perps/orders", limit_order("buy", True, "0.1")),
    ("orders: long market id", "/perps/orders", limit_order("buy", "1", "1", market="X" * 500)),
    ("preview: huge quantity", "/perps/orders/preview", limit_order("buy", "63500", "1e100")),
    ("bulk: huge quantity", "/perps/quotes/bulk",
     {"marketId": BTC, "quoteId": "q", "quotes": [{"side": "buy", "price": "63500",
                                                   "quantity": "1e100"}]}),
    ("bulk: quotes not a list", "/perps/quotes/bulk",
     {"marketId": BTC, "quoteId": "q", "quotes": {"side": "buy"}}),
    ("bulk: too many quotes", "/perps/quotes/bulk",
     {"marketId": BTC, "quoteId": "q",
      "quotes": [{"side": "buy", "price": "63000", "quantity": "0.001"}] * 101}),
    ("close: huge quantity", "/perps/positions/close", {"marketId": BTC, "quantity": "1e100"}),
    ("cancel-all: list body", "/perps/orders/cancel-all", []),
]


@pytest.mark.parametrize(("case", "path", "body"), ODD_REQUESTS, ids=[c[0] for c in ODD_REQUESTS])
def test_odd_requests_are_refused_cleanly_never_a_500(venue, trader, case, path, body):
    # a fresh connection per request: a 500 may also drop the connection
    with httpx.Client(base_url=venue.url, timeout=5,
                      limits=httpx.Limits(max_keepalive_connections=0)) as c:
        before = book(c)
        r = c.post(path, json=body, headers=trader.trade)
        assert 400 <= r.status_code < 500, f"{case}: {r.status_code} {r.text}"
        assert_error(r, r.status_code, r.json()["code"])
        assert book(c) == before
        assert c.get("/perps/markets").status_code == 200
