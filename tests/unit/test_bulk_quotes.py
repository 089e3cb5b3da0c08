"""Bulk quotes: atomic replace, per-level rejects, whole-batch margin gate, id reuse.

BTC-PERP: tick 0.1, step 0.001, index/mark 64000, IMR 5%, band 60800..67200.
"""

from __future__ import annotations

import pytest

from desk.domain import OrderStatus, OrderType, Side
from desk.venue.errors import VenueError
from desk.venue.exchange import OrderRequest
from tests.unit.exchange_helpers import BTC, ETH, D, depth, snapshot


def lvl(side, qty, price, coid=None, **kw):
    return OrderRequest(side=side, quantity=D(qty), price=D(price), client_order_id=coid, **kw)


def ladder(ex, account="mm", quote_id="q1", cancel_all=True, bid="63990", ask="64010",
           qty="1", prefix=""):
    return ex.bulk_quote(account, BTC, quote_id, cancel_all, [
        lvl(Side.BUY, qty, bid, f"{prefix}b1"),
        lvl(Side.SELL, qty, ask, f"{prefix}a1"),
    ])


def test_first_ladder_is_accepted(exchange):
    res = ladder(exchange)
    assert res.quote_id == "q1"
    assert res.rejected == [] and res.cancelled == []
    assert [(o.side, o.status, o.quote_id, o.client_order_id) for o in res.accepted] == [
        (Side.BUY, OrderStatus.OPEN, "q1", "b1"), (Side.SELL, OrderStatus.OPEN, "q1", "a1")]
    assert depth(exchange) == ([(D("63990"), D("1"))], [(D("64010"), D("1"))])
    assert exchange.accounts["mm"].client_ids == {"b1": res.accepted[0].order_id,
                                                  "a1": res.accepted[1].order_id}


def test_cancel_all_replaces_the_ladder(exchange):
    old = ladder(exchange)
    old_ids = [o.order_id for o in old.accepted]
    new = ladder(exchange, quote_id="q2", bid="63995", ask="64005", qty="0.5", prefix="n")
    assert sorted(new.cancelled) == sorted(old_ids)
    assert all(o.status is OrderStatus.CANCELLED for o in old.accepted)
    assert [o.status for o in new.accepted] == [OrderStatus.OPEN, OrderStatus.OPEN]
    assert all(o.quote_id == "q2" for o in new.accepted)
    assert depth(exchange) == ([(D("63995"), D("0.5"))], [(D("64005"), D("0.5"))])
    mm = exchange.accounts["mm"]
    assert sorted(mm.open_orders) == sorted(o.order_id for o in new.accepted)
    assert mm.open_buy[BTC] == 500 and mm.open_sell[BTC] == 500


def test_replace_never_self_trades_against_the_old_ladder(exchange):
    old = ladder(exchange)  # bid 63990, ask 64010
    # the new bid sits where the old ask was: the old ask is gone before the new bid arrives
    new = exchange.bulk_quote("mm", BTC, "q2", True, [
        lvl(Side.BUY, "1", "64010"), lvl(Side.SELL, "1", "64020")])
    assert sorted(new.cancelled) == sorted(o.order_id for o in old.accepted)
    assert [o.status for o in new.accepted] == [OrderStatus.OPEN, OrderStatus.OPEN]
    assert depth(exchange) == ([(D("64010"), D("1"))], [(D("64020"), D("1"))])
    assert exchange.counters["fills"] == 0
    assert exchange.counters["cancels"] == 2


def test_without_cancel_all_orders_are_added(exchange):
    first = ladder(exchange)
    second = ladder(exchange, quote_id="q2", cancel_all=False, bid="63980", ask="64020",
                    prefix="x")
    assert second.cancelled == []
    assert all(o.status is OrderStatus.OPEN for o in first.accepted + second.accepted)
    assert depth(exchange) == ([(D("63990"), D("1")), (D("63980"), D("1"))],
                               [(D("64010"), D("1")), (D("64020"), D("1"))])


def test_cancel_all_is_scoped_to_the_market(exchange):
    eth, _ = exchange.place_order("mm", ETH, lvl(Side.BUY, "1", "3190"))
    other, _ = exchange.place_order("taker", BTC, lvl(Side.BUY, "1", "63000"))
    ladder(exchange)
    res = exchange.bulk_quote("mm", BTC, "q2", True, [])
    assert len(res.cancelled) == 2 and res.accepted == []
    assert eth.status is OrderStatus.OPEN and other.status is OrderStatus.OPEN
    assert depth(exchange) == ([(D("63000"), D("1"))], [])


def test_per_level_rejects_while_other_levels_are_accepted(exchange):
    exchange.place_order("taker", BTC, lvl(Side.SELL, "1", "64000"))
    rejects = exchange.counters["rejects"]
    res = exchange.bulk_quote("mm", BTC, "q1", True, [
        lvl(Side.BUY, "1", "63990", "good-bid"),
        lvl(Side.BUY, "1", "63990.05", "bad-tick"),
        lvl(Side.BUY, "0.0001", "63990", "bad-step"),
        lvl(Side.SELL, "1", "70000", "oob"),
        lvl(Side.BUY, "1", "64000", "cross", post_only=True),
        lvl(Side.SELL, "1", "64100", "ro", reduce_only=True),
        lvl(Side.SELL, "1", "64010", "good-ask"),
        lvl(Side.BUY, "0", "63990", "zero"),
    ])
    assert [o.client_order_id for o in res.accepted] == ["good-bid", "good-ask"]
    codes = {coid: err.code for coid, err in res.rejected}
    assert codes == {
        "bad-tick": "INVALID_TICK", "bad-step": "INVALID_STEP", "oob": "PRICE_OUT_OF_BAND",
        "cross": "POST_ONLY_WOULD_CROSS", "ro": "REDUCE_ONLY_WOULD_INCREASE",
        "zero": "VALIDATION",
    }
    assert all(err.message for _, err in res.rejected)
    assert exchange.counters["rejects"] == rejects + 6
    assert depth(exchange) == ([(D("63990"), D("1"))], [(D("64000"), D("1")),
                                                        (D("64010"), D("1"))])
    assert sorted(exchange.accounts["mm"].client_ids) == ["good-ask", "good-bid"]


def test_level_without_post_only_may_take(exchange):
    exchange.place_order("taker", BTC, lvl(Side.SELL, "0.5", "64000"))
    res = exchange.bulk_quote("mm", BTC, "q1", False, [lvl(Side.BUY, "1", "64000", "b")])
    (order,) = res.accepted
    assert order.status is OrderStatus.PARTIALLY_FILLED and order.filled == 500
    assert exchange.accounts["mm"].qty(BTC) == 500
    assert depth(exchange) == ([(D("64000"), D("0.5"))], [])


def _small(exchange):
    exchange.open_account("small", D("1000"))
    return exchange.accounts["small"]


def test_whole_batch_insufficient_margin_changes_nothing(exchange):
    _small(exchange)
    old = ladder(exchange, account="small", qty="0.1")
    # old IM = 0.05 * 64000 * max(0.1, 0.1) = 320; available = 1000 - 320 = 680
    assert exchange.balances("small")["initialMargin"] == D("320")
    before = snapshot(exchange)
    rejects = exchange.counters["rejects"]
    with pytest.raises(VenueError) as info:
        # new ladder 0.5 / 0.5 -> IM 0.05 * 64000 * 0.5 = 1600; required 1600 - 320 = 1280
        exchange.bulk_quote("small", BTC, "q2", True, [
            lvl(Side.BUY, "0.5", "63995", "b1"), lvl(Side.SELL, "0.5", "64005", "a1"),
            lvl(Side.BUY, "0.5", "1.05", "junk"),  # a per-level reject does not matter
        ])
    err = info.value
    assert err.code == "INSUFFICIENT_MARGIN" and err.status == 422
    assert err.details == {"requiredIm": "1280", "availableIm": "680"}
    assert snapshot(exchange) == before
    assert all(o.status is OrderStatus.OPEN for o in old.accepted)
    assert depth(exchange) == ([(D("63990"), D("0.1"))], [(D("64010"), D("0.1"))])
    assert exchange.counters["rejects"] == rejects + 1


def test_batch_margin_adds_to_existing_orders_without_cancel_all(exchange):
    _small(exchange)
    ladder(exchange, account="small", qty="0.1")
    # adding 0.3/0.3 -> 0.4 total -> IM 1280, required 960 > 680
    with pytest.raises(VenueError) as info:
        ladder(exchange, account="small", quote_id="q2", cancel_all=False, qty="0.3",
               prefix="x")
    assert info.value.details == {"requiredIm": "960", "availableIm": "680"}
    # adding 0.2/0.2 -> 0.3 total -> IM 960, required 640 <= 680
    res = ladder(exchange, account="small", quote_id="q3", cancel_all=False, qty="0.2",
                 prefix="y")
    assert len(res.accepted) == 2
    assert exchange.balances("small")["initialMargin"] == D("960")


def test_replacing_a_ladder_of_the_same_size_needs_no_new_margin(exchange):
    _small(exchange)
    ladder(exchange, account="small", qty="0.3")
    # IM 960, available 40: a same-size replacement requires 0 extra
    assert exchange.balances("small")["availableMargin"] == D("40")
    res = ladder(exchange, account="small", quote_id="q2", bid="63900", ask="64100",
                 qty="0.3")
    assert len(res.accepted) == 2 and len(res.cancelled) == 2
    assert depth(exchange) == ([(D("63900"), D("0.3"))], [(D("64100"), D("0.3"))])


def test_client_order_ids_of_replaced_orders_may_be_reused(exchange):
    old = ladder(exchange)
    new = ladder(exchange, quote_id="q2", bid="63980", ask="64020")  # same ids b1 / a1
    assert new.rejected == []
    assert [o.client_order_id for o in new.accepted] == ["b1", "a1"]
    assert sorted(new.cancelled) == sorted(o.order_id for o in old.accepted)
    assert exchange.accounts["mm"].client_ids == {"b1": new.accepted[0].order_id,
                                                  "a1": new.accepted[1].order_id}


def test_client_order_ids_of_live_orders_rejected_without_cancel_all(exchange):
    old = ladder(exchange)
    new = ladder(exchange, quote_id="q2", cancel_all=False, bid="63980", ask="64020")
    assert new.accepted == []
    assert [(c, e.code) for c, e in new.rejected] == [("b1", "DUPLICATE_CLIENT_ORDER_ID"),
                                                      ("a1", "DUPLICATE_CLIENT_ORDER_ID")]
    assert all(o.status is OrderStatus.OPEN for o in old.accepted)


def test_duplicate_client_order_id_within_one_batch(exchange):
    res = exchange.bulk_quote("mm", BTC, "q1", True, [
        lvl(Side.BUY, "1", "63990", "x"), lvl(Side.BUY, "1", "63980", "x")])
    assert [o.price_ticks for o in res.accepted] == [639900]
    assert [(c, e.code) for c, e in res.rejected] == [("x", "DUPLICATE_CLIENT_ORDER_ID")]


def test_ids_live_on_another_market_are_not_freed(exchange):
    exchange.place_order("mm", ETH, lvl(Side.BUY, "1", "3190", "e1"))
    res = exchange.bulk_quote("mm", BTC, "q1", True, [lvl(Side.BUY, "1", "63990", "e1")])
    assert res.accepted == []
    assert [(c, e.code) for c, e in res.rejected] == [("e1", "DUPLICATE_CLIENT_ORDER_ID")]


def test_bulk_on_halted_or_unknown_market(exchange):
    ladder(exchange)
    before = snapshot(exchange)
    exchange.set_halted(BTC, True)
    with pytest.raises(VenueError) as info:
        ladder(exchange, quote_id="q2")
    assert info.value.code == "MARKET_HALTED"
    with pytest.raises(VenueError) as info:
        exchange.bulk_quote("mm", "NOPE-PERP", "q", True, [])
    assert info.value.code == "NOT_FOUND"
    assert snapshot(exchange) == before


def test_cancel_all_by_quote_id_after_bulk(exchange):
    ladder(exchange, quote_id="L1")
    ladder(exchange, quote_id="L2", cancel_all=False, bid="63900", ask="64100", prefix="z")
    ids = exchange.cancel_all("mm", quote_id="L1")
    assert len(ids) == 2
    assert depth(exchange) == ([(D("63900"), D("1"))], [(D("64100"), D("1"))])


def test_bulk_fill_carries_quote_id(exchange):
    ladder(exchange, quote_id="Q9")
    fills = []
    exchange.sink = lambda a, kind, obj: fills.append(obj) if kind == "fill" else None
    exchange.place_order("taker", BTC, OrderRequest(Side.BUY, D("0.2"), type=OrderType.MARKET))
    maker_fill = next(f for f in fills if f.account_id == "mm")
    assert (maker_fill.quote_id, maker_fill.client_order_id) == ("Q9", "a1")


def test_post_only_replacement_may_sit_where_the_old_ask_was(exchange):
    old = exchange.bulk_quote("mm", BTC, "q1", True, [
        lvl(Side.BUY, "1", "63990", "b1", post_only=True),
        lvl(Side.SELL, "1", "64010", "a1", post_only=True)])
    # the new post-only bid at 64010 would cross the old ask, which the replace removes first
    new = exchange.bulk_quote("mm", BTC, "q2", True, [
        lvl(Side.BUY, "1", "64010", "b1", post_only=True),
        lvl(Side.SELL, "1", "64020", "a1", post_only=True)])
    assert new.rejected == []
    assert sorted(new.cancelled) == sorted(o.order_id for o in old.accepted)
    assert depth(exchange) == ([(D("64010"), D("1"))], [(D("64020"), D("1"))])


def test_cancel_all_cancels_partially_filled_quotes(exchange):
    old = ladder(exchange)
    exchange.place_order("taker", BTC, OrderRequest(Side.BUY, D("0.4"), type=OrderType.MARKET))
    assert old.accepted[1].status is OrderStatus.PARTIALLY_FILLED
    new = ladder(exchange, quote_id="q2")
    assert old.accepted[1].order_id in new.cancelled
    assert old.accepted[1].status is OrderStatus.CANCELLED and old.accepted[1].filled == 400
    assert exchange.accounts["mm"].open_sell[BTC] == 1000


# --- preview of a bulk quote ----------------------------------------------------------------


def test_preview_of_a_bulk_quote(exchange):
    before = snapshot(exchange)
    out = exchange.preview("mm", BTC, [lvl(Side.BUY, "1", "63990"), lvl(Side.SELL, "1", "64010")])
    # notional 63990 + 64010 = 128000; maker 2 bps -> 25.6; IM 0.05 * 64000 * 1 = 3200
    assert out == {"notional": D("128000"), "marginRequired": D("3200"), "estFee": D("25.6"),
                   "feeBps": D("2"), "feeRole": "maker", "approved": True}
    assert snapshot(exchange) == before


def test_preview_of_a_replacement_reusing_client_ids_matches_the_bulk_call(exchange):
    ladder(exchange)  # b1 / a1 live
    before = snapshot(exchange)
    levels = [lvl(Side.BUY, "1", "63980", "b1"), lvl(Side.SELL, "1", "64020", "a1")]
    out = exchange.preview("mm", BTC, levels, cancel_all=True)
    assert snapshot(exchange) == before
    # the real call accepts both levels (see test_client_order_ids_of_replaced_orders_may_be_
    # reused); a replacement of the same size needs no new margin: 3200 - 3200 = 0
    assert out.get("reason") is None
    assert out["approved"] is True
    assert out["notional"] == D("128000") and out["marginRequired"] == 0
    res = ladder(exchange, quote_id="q2", bid="63980", ask="64020")
    assert res.rejected == []


def test_preview_of_a_replacement_ignores_the_quotes_it_replaces(exchange):
    ladder(exchange)  # own ask at 64010
    # a post-only bid at 64010 crosses only the account's own ask, which cancelAll removes
    levels = [lvl(Side.BUY, "1", "64010", post_only=True)]
    out = exchange.preview("mm", BTC, levels, cancel_all=True)
    assert out.get("reason") is None
    assert out["approved"] is True and out["feeRole"] == "maker"
    res = exchange.bulk_quote("mm", BTC, "q2", True, levels)
    assert res.rejected == [] and len(res.accepted) == 1


def test_bulk_preview_names_the_first_refused_level(exchange):
    out = exchange.preview("mm", BTC, [lvl(Side.BUY, "1", "63990"),
                                       lvl(Side.SELL, "1", "64010.05")])
    assert out["approved"] is False
    assert out["reason"] == ("INVALID_TICK: quotes[1]: price 64010.05 is not a multiple of "
                             "the tick 0.1")
