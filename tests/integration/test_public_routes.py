"""Public market data, dev sessions and /sim/state over real HTTP."""

from __future__ import annotations

from decimal import Decimal

from tests.integration.conftest import (
    BTC,
    ETH,
    SOL,
    assert_decimals,
    assert_error,
    field_errors,
    is_iso,
    limit_order,
    market_order,
    ok,
)

MARKET_KEYS = {"marketId", "base", "quote", "type", "tradingStatus", "tickSize", "stepSize",
               "minQuantity", "priceBandLow", "priceBandHigh", "makerFeeBps", "takerFeeBps",
               "markPrice", "indexPrice", "initialMarginRate", "maintenanceMarginRate"}


def test_markets_lists_the_three_perps_with_contract_fields(client):
    markets = ok(client.get("/perps/markets"))
    by_id = {m["marketId"]: m for m in markets}
    assert set(by_id) == {BTC, ETH, SOL}
    for m in markets:
        assert set(m) == MARKET_KEYS, m
        assert m["type"] == "perp" and m["tradingStatus"] == "trading"
        assert m["marketId"] == f"{m['base']}-PERP"
        assert_decimals(m, *(MARKET_KEYS - {"marketId", "base", "quote", "type",
                                            "tradingStatus"}))
        index = Decimal(m["indexPrice"])
        assert Decimal(m["priceBandLow"]) < index < Decimal(m["priceBandHigh"])
        assert Decimal(m["maintenanceMarginRate"]) < Decimal(m["initialMarginRate"])
        assert (m["makerFeeBps"], m["takerFeeBps"]) == ("2", "5")
    assert (by_id[BTC]["tickSize"], by_id[BTC]["stepSize"]) == ("0.1", "0.001")
    assert (by_id[ETH]["tickSize"], by_id[ETH]["stepSize"]) == ("0.01", "0.01")
    assert (by_id[SOL]["tickSize"], by_id[SOL]["stepSize"]) == ("0.001", "0.1")
    assert by_id[BTC]["indexPrice"] == "64000" and by_id[BTC]["markPrice"] == "64000"
    assert (by_id[BTC]["priceBandLow"], by_id[BTC]["priceBandHigh"]) == ("60800", "67200")
    assert by_id[BTC]["initialMarginRate"] == "0.05"
    assert by_id[SOL]["initialMarginRate"] == "0.1"


def test_public_routes_need_no_key(client):
    for path, params in [("/perps/markets", {}), (f"/perps/orderbook/{BTC}", {}),
                         ("/perps/market-stats", {"marketId": BTC}), ("/perps/fees", {})]:
        r = client.get(path, params=params)
        assert r.status_code == 200, (path, r.text)
        assert "server-timing" in r.headers


def test_orderbook_empty_then_aggregated_sorted_and_depth_limited(client, counterparty, trader):
    empty = ok(client.get(f"/perps/orderbook/{BTC}"))
    assert set(empty) == {"marketId", "sequence", "timestamp", "bids", "asks"}
    assert empty["marketId"] == BTC and empty["bids"] == [] and empty["asks"] == []
    assert isinstance(empty["sequence"], int) and is_iso(empty["timestamp"])

    for side, price, qty in [("buy", "63990", "0.5"), ("buy", "63990.5", "0.25"),
                             ("buy", "63980", "1"), ("sell", "64010", "0.3"),
                             ("sell", "64020.1", "2")]:
        ok(counterparty.post("/perps/orders", limit_order(side, price, qty)))
    ok(trader.post("/perps/orders", limit_order("buy", "63990", "0.125")))

    full = ok(client.get(f"/perps/orderbook/{BTC}"))
    assert full["sequence"] > empty["sequence"]
    assert full["bids"] == [["63990.5", "0.25"], ["63990", "0.625"], ["63980", "1"]]
    assert full["asks"] == [["64010", "0.3"], ["64020.1", "2"]]

    top = ok(client.get(f"/perps/orderbook/{BTC}", params={"depth": 1}))
    assert top["bids"] == [["63990.5", "0.25"]] and top["asks"] == [["64010", "0.3"]]
    assert top["sequence"] == full["sequence"]

    other = ok(client.get(f"/perps/orderbook/{ETH}"))
    assert other["bids"] == [] and other["asks"] == []


def test_orderbook_bad_depth_and_unknown_market(client):
    assert "depth" in field_errors(client.get(f"/perps/orderbook/{BTC}", params={"depth": 0}))
    assert "depth" in field_errors(client.get(f"/perps/orderbook/{BTC}",
                                              params={"depth": "x"}))
    assert_error(client.get("/perps/orderbook/DOGE-PERP"), 404, "NOT_FOUND")


def test_market_stats_before_and_after_a_trade(client, trader, counterparty):
    keys = {"marketId", "last", "markPrice", "indexPrice", "high24h", "low24h", "volume24h",
            "openInterest", "fundingRate"}
    before = ok(client.get("/perps/market-stats", params={"marketId": BTC}))
    assert set(before) == keys and before["marketId"] == BTC
    assert before["last"] is None and before["high24h"] is None and before["low24h"] is None
    assert (before["volume24h"], before["openInterest"]) == ("0", "0")
    assert_decimals(before, "markPrice", "indexPrice", "fundingRate")

    ok(counterparty.post("/perps/orders", limit_order("sell", "64010", "0.2")))
    ok(counterparty.post("/perps/orders", limit_order("sell", "64030", "0.2")))
    ok(trader.post("/perps/orders", market_order("buy", "0.3")))

    after = ok(client.get("/perps/market-stats", params={"marketId": BTC}))
    assert_decimals(after, *(keys - {"marketId"}))
    assert after["last"] == "64030"
    assert (after["high24h"], after["low24h"]) == ("64030", "64010")
    assert after["openInterest"] == "0.3"
    assert after["volume24h"] == "0.3", "24h volume counts each trade once, not per side"


def test_market_stats_needs_a_known_market_id(client):
    assert "marketId" in field_errors(client.get("/perps/market-stats"))
    assert_error(client.get("/perps/market-stats", params={"marketId": "NOPE"}), 404,
                 "NOT_FOUND")


def test_fee_tiers(client):
    body = ok(client.get("/perps/fees"))
    assert set(body) == {"tiers"}
    tiers = body["tiers"]
    assert [t["tier"] for t in tiers] == [0, 1, 2, 3]
    for t in tiers:
        assert set(t) == {"tier", "minVolume30d", "makerFeeBps", "takerFeeBps"}
        assert_decimals(t, "minVolume30d", "makerFeeBps", "takerFeeBps")
    assert tiers[0] == {"tier": 0, "minVolume30d": "0", "makerFeeBps": "2", "takerFeeBps": "5"}
    assert tiers[3]["makerFeeBps"] == "-0.5"
    volumes = [Decimal(t["minVolume30d"]) for t in tiers]
    assert volumes == sorted(volumes)


def test_dev_session_gives_a_working_session_token(client):
    body = ok(client.post("/auth/dev-session", json={"account": "acme"}))
    assert set(body) == {"token"} and isinstance(body["token"], str) and len(body["token"]) > 20
    bearer = {"Authorization": f"Bearer {body['token']}"}
    assert ok(client.get("/perps/me/api-keys", headers=bearer)) == {"keys": []}

    default = ok(client.post("/auth/dev-session"))  # no body: the "desk" account
    assert default["token"] != body["token"]
    state = ok(client.get("/sim/state", headers={"Authorization": f"Bearer {default['token']}"}))
    assert {"acme", "desk"} <= {a["account"] for a in state["accounts"]}


def test_dev_session_refuses_bad_and_reserved_accounts(client):
    assert "account" in field_errors(client.post("/auth/dev-session",
                                                 json={"account": "sim-maker"}))
    assert "account" in field_errors(client.post("/auth/dev-session",
                                                 json={"account": "no spaces"}))
    assert "extra" in field_errors(client.post("/auth/dev-session",
                                               json={"account": "a", "extra": 1}))


def test_sim_state_needs_a_session_and_describes_the_venue(client, trader):
    assert_error(client.get("/sim/state"), 401, "UNAUTHENTICATED")
    r = client.get("/sim/state", headers=trader.trade)  # a key is not a session
    assert_error(r, 401, "UNAUTHENTICATED")

    r = client.get("/sim/state", headers=trader.bearer)
    state = ok(r)
    assert {"clock", "clockMs", "markets", "accounts", "counters", "faults"} <= set(state)
    assert is_iso(state["clock"]) and isinstance(state["clockMs"], int)
    assert {m["marketId"] for m in state["markets"]} == {BTC, ETH, SOL}
    btc = next(m for m in state["markets"] if m["marketId"] == BTC)
    assert btc["tradingStatus"] == "trading" and btc["indexFrozen"] is False
    assert btc["indexPrice"] == "64000"
    desk = next(a for a in state["accounts"] if a["account"] == trader.account)
    assert desk["openOrders"] == 0 and desk["equity"] == "100000"
    assert all(isinstance(v, int) for v in state["counters"].values())
    assert state["faults"]["halted"] == [] and state["faults"]["rateLimitLeft"] == 0
