"""Trading routes with a trade key: preview, orders, cancel, bulk quotes, cancel-all, close."""

from __future__ import annotations

from decimal import Decimal

from tests.integration.conftest import (
    BTC,
    ETH,
    assert_error,
    assert_fill,
    assert_order,
    book,
    limit_order,
    market_order,
    ok,
    open_orders,
)

PREVIEW_KEYS = {"notional", "marginRequired", "estFee", "feeBps", "feeRole", "approved"}


def _preview(trader, body):
    r = trader.post("/perps/orders/preview", body)
    out = ok(r)
    assert PREVIEW_KEYS <= set(out) <= PREVIEW_KEYS | {"reason"}, out
    for name in ("notional", "marginRequired", "estFee", "feeBps"):
        assert isinstance(out[name], str) and Decimal(out[name]) == Decimal(out[name]), out
    return out


# --- preview --------------------------------------------------------------------------

def test_preview_single_maker_order_has_no_side_effects(client, trader):
    before = book(client)
    out = _preview(trader, limit_order("buy", "63000", "1"))
    assert out["approved"] is True and out.get("reason") is None
    assert (out["notional"], out["marginRequired"], out["estFee"], out["feeBps"],
            out["feeRole"]) == ("63000", "3200", "12.6", "2", "maker")
    assert book(client) == before
    assert open_orders(trader) == []
    r = trader.get("/perps/balances")
    assert ok(r)["initialMargin"] == "0"


def test_preview_crossing_order_is_taker(trader, counterparty):
    ok(counterparty.post("/perps/orders", limit_order("sell", "64010", "1")))
    out = _preview(trader, limit_order("buy", "64010", "0.5"))
    assert (out["feeRole"], out["feeBps"], out["notional"], out["estFee"]) == (
        "taker", "5", "32005", "16.0025")
    assert out["approved"] is True
    out = _preview(trader, market_order("buy", "0.5"))
    assert out["feeRole"] == "taker" and out["approved"] is True
    assert out["notional"] == "32000"  # market orders are valued at mark


def test_preview_bulk_quote_judges_the_batch(client, trader):
    before = book(client)
    body = {"marketId": BTC, "quoteId": "pq1", "cancelAll": True,
            "quotes": [{"side": "buy", "price": "63000", "quantity": "0.5"},
                       {"side": "sell", "price": "65000", "quantity": "0.5"}]}
    out = _preview(trader, body)
    # both sides rest: IM is on the worse side only, 0.05 x 64000 x 0.5
    assert (out["notional"], out["marginRequired"], out["estFee"], out["feeRole"]) == (
        "64000", "1600", "12.8", "maker")
    assert out["approved"] is True
    assert book(client) == before and open_orders(trader) == []


def test_preview_insufficient_margin_is_not_approved_with_a_reason(client, trader):
    before = book(client)
    out = _preview(trader, limit_order("buy", "64000", "100"))
    assert out["approved"] is False
    assert out["reason"].startswith("INSUFFICIENT_MARGIN"), out
    assert out["marginRequired"] == "320000"
    bulk = {"marketId": BTC, "quoteId": "big",
            "quotes": [{"side": "buy", "price": "63000", "quantity": "20"},
                       {"side": "buy", "price": "62900", "quantity": "20"}]}
    out = _preview(trader, bulk)
    assert out["approved"] is False and "INSUFFICIENT_MARGIN" in out["reason"]
    assert book(client) == before


def test_preview_reports_business_rejects_as_reasons(trader):
    out = _preview(trader, limit_order("buy", "63000.05", "1"))
    assert out["approved"] is False and out["reason"].startswith("INVALID_TICK")
    out = _preview(trader, limit_order("buy", "63000", "1", reduceOnly=True))
    assert out["approved"] is False and out["reason"].startswith("REDUCE_ONLY_WOULD_INCREASE")


# --- place and cancel ------------------------------------------------------------------

def test_place_resting_limit_order(client, trader):
    r = trader.post("/perps/orders", limit_order("buy", "63000.5", "0.25", clientOrderId="c-1"))
    o = ok(r)
    assert_order(o)
    assert {k: o[k] for k in ("clientOrderId", "quoteId", "marketId", "side", "type", "price",
                              "quantity", "filledQuantity", "remainingQuantity", "status",
                              "timeInForce", "postOnly", "reduceOnly")} == {
        "clientOrderId": "c-1", "quoteId": None, "marketId": BTC, "side": "buy",
        "type": "limit", "price": "63000.5", "quantity": "0.25", "filledQuantity": "0",
        "remainingQuantity": "0.25", "status": "open", "timeInForce": "gtc",
        "postOnly": False, "reduceOnly": False}
    assert book(client)["bids"] == [["63000.5", "0.25"]]
    assert [x["orderId"] for x in open_orders(trader)] == [o["orderId"]]


def test_crossing_limit_order_fills_then_rests(client, trader, counterparty):
    ok(counterparty.post("/perps/orders", limit_order("sell", "64010", "0.3")))
    o = ok(trader.post("/perps/orders", limit_order("buy", "64020", "0.5")))
    assert (o["status"], o["filledQuantity"], o["remainingQuantity"]) == (
        "partially_filled", "0.3", "0.2")
    b = book(client)
    assert b["bids"] == [["64020", "0.2"]] and b["asks"] == []


def test_ioc_and_fok(client, trader, counterparty):
    ok(counterparty.post("/perps/orders", limit_order("sell", "64010", "0.3")))
    before = book(client)
    fok = ok(trader.post("/perps/orders", limit_order("buy", "64010", "0.5",
                                                      timeInForce="fok")))
    assert (fok["status"], fok["filledQuantity"], fok["timeInForce"]) == ("cancelled", "0",
                                                                         "fok")
    assert book(client) == before
    ioc = ok(trader.post("/perps/orders", limit_order("buy", "64010", "0.5",
                                                      timeInForce="ioc")))
    assert (ioc["status"], ioc["filledQuantity"], ioc["remainingQuantity"]) == (
        "cancelled", "0.3", "0")
    b = book(client)
    assert b["bids"] == [] and b["asks"] == []


def test_cancel_returns_the_cancelled_order(client, trader, counterparty):
    o = ok(trader.post("/perps/orders", limit_order("sell", "64500", "0.1")))
    theirs = ok(counterparty.post("/perps/orders", limit_order("sell", "64600", "0.1")))

    r = trader.post(f"/perps/orders/{theirs['orderId']}/cancel")  # not the trader's order
    assert_error(r, 404, "NOT_FOUND")

    c = ok(trader.post(f"/perps/orders/{o['orderId']}/cancel"))
    assert_order(c)
    assert (c["orderId"], c["status"], c["remainingQuantity"]) == (o["orderId"], "cancelled",
                                                                   "0")
    assert book(client)["asks"] == [["64600", "0.1"]]
    again = ok(trader.post(f"/perps/orders/{o['orderId']}/cancel"))
    assert again["status"] == "cancelled"
    assert book(client)["asks"] == [["64600", "0.1"]]


def test_client_order_id_is_free_again_once_the_order_is_gone(trader):
    o = ok(trader.post("/perps/orders", limit_order("buy", "63000", "0.1", clientOrderId="x")))
    ok(trader.post(f"/perps/orders/{o['orderId']}/cancel"))
    again = ok(trader.post("/perps/orders", limit_order("buy", "63000", "0.1",
                                                        clientOrderId="x")))
    assert again["orderId"] != o["orderId"] and again["clientOrderId"] == "x"


# --- bulk quotes ----------------------------------------------------------------------

def _bulk(trader, quote_id, quotes, cancel_all=False, market=BTC):
    r = trader.post("/perps/quotes/bulk", {"marketId": market, "quoteId": quote_id,
                                           "cancelAll": cancel_all, "quotes": quotes})
    return r


def _q(side, price, qty, coid=None, **extra):
    out = {"side": side, "price": price, "quantity": qty, **extra}
    if coid:
        out["clientOrderId"] = coid
    return out


def test_bulk_quote_places_then_replaces_atomically(client, trader):
    first = ok(_bulk(trader, "q1", [_q("buy", "63900", "0.1", "bid1"),
                                    _q("buy", "63800", "0.2", "bid2"),
                                    _q("sell", "64100", "0.1", "ask1")]))
    assert set(first) == {"quoteId", "accepted", "rejected", "cancelled"}
    assert first["quoteId"] == "q1" and first["rejected"] == [] and first["cancelled"] == []
    for o in first["accepted"]:
        assert_order(o)
        assert o["quoteId"] == "q1" and o["status"] == "open"
    assert [o["clientOrderId"] for o in first["accepted"]] == ["bid1", "bid2", "ask1"]
    b = book(client)
    assert b["bids"] == [["63900", "0.1"], ["63800", "0.2"]] and b["asks"] == [["64100", "0.1"]]

    second = ok(_bulk(trader, "q2", [_q("buy", "63950", "0.1", "bid1"),
                                     _q("sell", "64050", "0.3", "ask1")], cancel_all=True))
    assert sorted(second["cancelled"]) == sorted(o["orderId"] for o in first["accepted"])
    assert [(o["clientOrderId"], o["quoteId"]) for o in second["accepted"]] == [
        ("bid1", "q2"), ("ask1", "q2")]
    b = book(client)
    assert b["bids"] == [["63950", "0.1"]] and b["asks"] == [["64050", "0.3"]]
    assert {o["orderId"] for o in open_orders(trader)} == {
        o["orderId"] for o in second["accepted"]}


def test_bulk_quote_rejects_bad_levels_one_by_one(client, trader, counterparty):
    ok(counterparty.post("/perps/orders", limit_order("sell", "64200", "1")))
    out = ok(_bulk(trader, "q3", [
        _q("buy", "63950", "0.1", "good"),
        _q("buy", "63950.05", "0.1", "tick"),
        _q("buy", "63900", "0.0001", "step"),
        _q("buy", "70000", "0.1", "band"),
        _q("buy", "64200", "0.1", "cross", postOnly=True),
        _q("sell", "64300", "0.1", "reduce", reduceOnly=True),
        _q("buy", "63940", "0.1", "good"),  # the same clientOrderId twice in one batch
    ]))
    assert [o["clientOrderId"] for o in out["accepted"]] == ["good"]
    codes = {r["clientOrderId"]: r["code"] for r in out["rejected"]}
    assert codes == {"tick": "INVALID_TICK", "step": "INVALID_STEP", "band": "PRICE_OUT_OF_BAND",
                     "cross": "POST_ONLY_WOULD_CROSS", "reduce": "REDUCE_ONLY_WOULD_INCREASE",
                     "good": "DUPLICATE_CLIENT_ORDER_ID"}
    for rej in out["rejected"]:
        assert set(rej) == {"clientOrderId", "code", "message"} and rej["message"]
    b = book(client)
    assert b["bids"] == [["63950", "0.1"]] and b["asks"] == [["64200", "1"]]


def test_bulk_quote_margin_gate_refuses_the_whole_batch(client, trader):
    ok(_bulk(trader, "q1", [_q("buy", "63900", "0.1"), _q("sell", "64100", "0.1")]))
    before, orders_before = book(client), open_orders(trader)
    r = _bulk(trader, "q2", [_q("buy", "63950", "1"), _q("buy", "63000", "100")],
              cancel_all=True)
    body = assert_error(r, 422, "INSUFFICIENT_MARGIN")
    assert {"requiredIm", "availableIm"} <= set(body["details"])
    assert book(client) == before  # nothing cancelled, nothing placed
    assert open_orders(trader) == orders_before


def test_bulk_quote_without_cancel_all_adds(client, trader):
    ok(_bulk(trader, "q1", [_q("buy", "63900", "0.1")]))
    out = ok(_bulk(trader, "q2", [_q("buy", "63800", "0.1")]))
    assert out["cancelled"] == []
    assert book(client)["bids"] == [["63900", "0.1"], ["63800", "0.1"]]


# --- cancel-all ------------------------------------------------------------------------

def test_cancel_all_scoped_by_market_and_quote(client, trader, counterparty):
    qa = ok(_bulk(trader, "qa", [_q("buy", "63900", "0.1"), _q("sell", "64100", "0.1")]))
    single = ok(trader.post("/perps/orders", limit_order("buy", "63000", "0.1")))
    eth = ok(trader.post("/perps/orders", limit_order("buy", "3100", "1", market=ETH)))
    theirs = ok(counterparty.post("/perps/orders", limit_order("buy", "62000", "0.1")))

    out = ok(trader.post("/perps/orders/cancel-all", {"marketId": BTC, "quoteId": "qa"}))
    assert set(out) == {"cancelled", "count"}
    assert sorted(out["cancelled"]) == sorted(o["orderId"] for o in qa["accepted"])
    assert out["count"] == 2

    out = ok(trader.post("/perps/orders/cancel-all", {"marketId": ETH}))
    assert out == {"cancelled": [eth["orderId"]], "count": 1}

    out = ok(trader.post("/perps/orders/cancel-all", {}))
    assert out == {"cancelled": [single["orderId"]], "count": 1}
    assert open_orders(trader) == []
    assert book(client)["bids"] == [["62000", "0.1"]]  # the counterparty's order stays
    assert [o["orderId"] for o in open_orders(counterparty)] == [theirs["orderId"]]


def test_cancel_all_without_a_body(client, trader):
    for attempt in ("no body", "empty body"):
        a = ok(trader.post("/perps/orders", limit_order("buy", "63000", "0.1")))
        b = ok(trader.post("/perps/orders", limit_order("sell", "3300", "1", market=ETH)))
        if attempt == "no body":
            r = client.post("/perps/orders/cancel-all", headers=trader.trade)
        else:
            r = client.post("/perps/orders/cancel-all", content=b"",
                            headers={**trader.trade, "content-type": "application/json"})
        out = ok(r)
        assert sorted(out["cancelled"]) == sorted([a["orderId"], b["orderId"]]), attempt
        assert out["count"] == 2
        assert open_orders(trader) == []
    assert book(client)["bids"] == [] and book(client, ETH)["asks"] == []


def test_cancel_all_with_nothing_to_cancel_and_unknown_market(trader):
    assert ok(trader.post("/perps/orders/cancel-all", {})) == {"cancelled": [], "count": 0}
    r = trader.post("/perps/orders/cancel-all", {"marketId": "NOPE"})
    assert_error(r, 404, "NOT_FOUND")


# --- close ------------------------------------------------------------------------------

def test_close_position_partly_then_fully(client, trader, counterparty):
    ok(counterparty.post("/perps/orders", limit_order("sell", "64000", "1")))
    ok(trader.post("/perps/orders", market_order("buy", "0.6")))
    ok(counterparty.post("/perps/orders", limit_order("buy", "63990", "1")))

    out = ok(trader.post("/perps/positions/close", {"marketId": BTC, "quantity": "0.2"}))
    assert set(out) == {"order", "fills"}
    o = out["order"]
    assert_order(o)
    assert (o["type"], o["side"], o["reduceOnly"], o["status"], o["filledQuantity"]) == (
        "market", "sell", True, "filled", "0.2")
    assert len(out["fills"]) == 1
    f = out["fills"][0]
    assert_fill(f)
    assert (f["orderId"], f["side"], f["price"], f["quantity"], f["liquidity"]) == (
        o["orderId"], "sell", "63990", "0.2", "taker")
    r = trader.get("/perps/positions")
    assert [(p["side"], p["quantity"]) for p in ok(r)] == [("long", "0.4")]

    out = ok(trader.post("/perps/positions/close", {"marketId": BTC}))
    assert out["order"]["filledQuantity"] == "0.4"
    assert sum(Decimal(f["quantity"]) for f in out["fills"]) == Decimal("0.4")
    r = trader.get("/perps/positions")
    assert ok(r) == []
    assert book(client)["bids"] == [["63990", "0.4"]]

    r = trader.post("/perps/positions/close", {"marketId": BTC})
    assert_error(r, 404, "NOT_FOUND")
