"""Account reads with x-api-key: balances, positions, orders (filters), fees/me."""

from __future__ import annotations

from decimal import Decimal

from tests.integration.conftest import (
    BTC,
    ETH,
    assert_balances,
    assert_error,
    assert_order,
    assert_position,
    field_errors,
    limit_order,
    market_order,
    ok,
)


def test_fresh_account_balances(trader):
    r = trader.get("/perps/balances")
    b = ok(r)
    assert_balances(b)
    assert b == {"equity": "100000", "walletBalance": "100000", "availableMargin": "100000",
                 "initialMargin": "0", "maintenanceMargin": "0", "marginUsage": "0",
                 "unrealizedPnl": "0", "realizedPnl": "0"}


def test_resting_order_reserves_initial_margin(trader):
    ok(trader.post("/perps/orders", limit_order("buy", "63000", "1")))
    r = trader.get("/perps/balances")
    b = ok(r)
    assert_balances(b)
    # IM = initialMarginRate x mark x size = 0.05 x 64000 x 1
    assert b["initialMargin"] == "3200" and b["availableMargin"] == "96800"
    assert b["equity"] == "100000" and b["maintenanceMargin"] == "0"
    assert Decimal(b["marginUsage"]) == Decimal("0.032")


def test_positions_and_balances_after_a_trade(trader, counterparty):
    r = trader.get("/perps/positions")
    assert ok(r) == []
    ok(counterparty.post("/perps/orders", limit_order("sell", "64000", "1")))
    ok(trader.post("/perps/orders", market_order("buy", "0.5")))

    r = trader.get("/perps/positions")
    positions = ok(r)
    assert len(positions) == 1
    p = positions[0]
    assert_position(p)
    assert (p["marketId"], p["side"], p["quantity"], p["entryPrice"]) == (BTC, "long", "0.5",
                                                                          "64000")
    assert p["realizedPnl"] == "0" and p["unrealizedPnl"] == "0"
    # a 0.5 BTC long on 100000 of equity is never liquidated at a positive price
    assert p["liquidationPrice"] is None

    r = counterparty.get("/perps/positions")
    (short,) = ok(r)
    assert (short["side"], short["quantity"]) == ("short", "0.5")
    assert Decimal(short["liquidationPrice"]) > Decimal("64000")

    # fees: taker 5 bps and maker 2 bps of 32000 notional
    r = trader.get("/perps/balances")
    b = ok(r)
    assert_balances(b)
    assert b["walletBalance"] == "99984"
    r = counterparty.get("/perps/balances")
    assert ok(r)["walletBalance"] == "99993.6"


def test_orders_filters_by_market_and_status(trader, counterparty):
    btc = ok(trader.post("/perps/orders", limit_order("buy", "63000", "0.1",
                                                      clientOrderId="b1")))
    eth = ok(trader.post("/perps/orders", limit_order("buy", "3100", "1", market=ETH,
                                                      clientOrderId="e1")))
    ok(counterparty.post("/perps/orders", limit_order("buy", "62000", "0.1")))

    r = trader.get("/perps/orders")
    everything = ok(r)
    for o in everything:
        assert_order(o)
    assert {o["orderId"] for o in everything} == {btc["orderId"], eth["orderId"]}

    r = trader.get("/perps/orders", params={"marketId": BTC})
    assert [o["clientOrderId"] for o in ok(r)] == ["b1"]
    r = trader.get("/perps/orders", params={"marketId": ETH, "status": "open"})
    assert [o["clientOrderId"] for o in ok(r)] == ["e1"]

    ok(trader.post(f"/perps/orders/{eth['orderId']}/cancel"))
    r = trader.get("/perps/orders", params={"status": "cancelled"})
    cancelled = ok(r)
    assert [(o["orderId"], o["status"]) for o in cancelled] == [(eth["orderId"], "cancelled")]
    r = trader.get("/perps/orders")
    assert [o["orderId"] for o in ok(r)] == [btc["orderId"]]

    # a partial fill, then a full fill
    ok(counterparty.post("/perps/orders", limit_order("sell", "63000", "0.04")))
    r = trader.get("/perps/orders", params={"status": "partially_filled"})
    (partial,) = ok(r)
    assert (partial["orderId"], partial["filledQuantity"], partial["remainingQuantity"]) == (
        btc["orderId"], "0.04", "0.06")
    ok(counterparty.post("/perps/orders", limit_order("sell", "63000", "0.06")))
    r = trader.get("/perps/orders", params={"status": "filled", "marketId": BTC})
    (filled,) = ok(r)
    assert (filled["orderId"], filled["status"], filled["remainingQuantity"]) == (
        btc["orderId"], "filled", "0")
    r = trader.get("/perps/orders")
    assert ok(r) == []


def test_orders_bad_filters(trader):
    r = trader.get("/perps/orders", params={"status": "bogus"})
    assert "status" in field_errors(r)
    r = trader.get("/perps/orders", params={"marketId": "NOPE"})
    assert_error(r, 404, "NOT_FOUND")


def test_my_fees_before_and_after_volume(trader, counterparty):
    r = trader.get("/perps/fees/me")
    body = ok(r)
    assert body == {"tier": 0, "makerFeeBps": "2", "takerFeeBps": "5", "volume30d": "0"}
    ok(counterparty.post("/perps/orders", limit_order("sell", "64000", "0.5")))
    ok(trader.post("/perps/orders", market_order("buy", "0.5")))
    r = trader.get("/perps/fees/me")
    assert ok(r)["volume30d"] == "32000"


def test_account_routes_need_a_key_and_accept_read_or_trade(client, trader):
    for path in ("/perps/balances", "/perps/positions", "/perps/orders", "/perps/fees/me"):
        assert_error(client.get(path), 401, "UNAUTHENTICATED")
        r = client.get(path, headers={"x-api-key": "ocx_sk_not-a-real-key"})
        assert_error(r, 401, "UNAUTHENTICATED")
        r = client.get(path, headers=trader.bearer)  # a session is not a key
        assert_error(r, 401, "UNAUTHENTICATED")
        r = trader.get(path)
        assert r.status_code == 200, (path, r.text)
        r = trader.get(path, headers=trader.trade)
        assert r.status_code == 200, (path, r.text)


def test_accounts_are_isolated(trader, counterparty):
    ok(counterparty.post("/perps/orders", limit_order("buy", "63000", "0.1")))
    r = trader.get("/perps/orders")
    assert ok(r) == []
    r = counterparty.get("/perps/orders")
    assert len(ok(r)) == 1
