"""desk.ocx.state: folding the book, index and private streams into local state."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from desk.domain import Liquidity, OrderStatus, Side
from desk.domain.records import BookLevel, Fill
from desk.ocx.state import AccountState, BadMessage, Gap, IndexState, LocalBook, StreamRefused

D = Decimal
BTC = "BTC-PERP"
ETH = "ETH-PERP"


# --- payload builders (shapes from ocx-api.md) ---------------------------------------


def lv(price: str, size: str) -> dict:
    return {"price": price, "size": size, "total": size}


def book_msg(bids=(), asks=(), sequence: int | None = 1, market_id: str = BTC) -> str:
    msg = {"marketId": market_id, "bids": [lv(*b) for b in bids],
           "asks": [lv(*a) for a in asks]}
    if sequence is not None:
        msg["sequence"] = sequence
    return json.dumps(msg)


def order(order_id: str, *, status: str = "open", side: str = "buy", price: str = "64000.0",
          quantity: str = "0.010", filled: str = "0", market_id: str = BTC) -> dict:
    remaining = str(D(quantity) - D(filled))
    return {"orderId": order_id, "clientOrderId": f"c-{order_id}", "quoteId": "q-1",
            "marketId": market_id, "side": side, "type": "limit", "price": price,
            "quantity": quantity, "filledQuantity": filled, "remainingQuantity": remaining,
            "status": status, "timeInForce": "gtc", "postOnly": True, "reduceOnly": False,
            "createdAt": "2024-05-01T12:00:00.000Z", "updatedAt": "2024-05-01T12:00:01.500Z"}


def fill(fill_id: str, order_id: str = "01HXORD1", *, side: str = "buy",
         price: str = "64000.0", quantity: str = "0.004", ts: int = 1714564801500) -> dict:
    return {"fillId": fill_id, "orderId": order_id, "clientOrderId": f"c-{order_id}",
            "quoteId": "q-1", "marketId": BTC, "side": side, "price": price,
            "quantity": quantity, "liquidity": "maker", "fee": "-0.0512", "createdAt": ts}


def position(market_id: str = BTC, *, side: str = "long", quantity: str = "0.250",
             entry: str | None = "63950.5") -> dict:
    return {"marketId": market_id, "side": side, "quantity": quantity, "entryPrice": entry,
            "markPrice": "64010.0", "unrealizedPnl": "14.875", "realizedPnl": "-2.5",
            "liquidationPrice": "41000.0"}


def balances(equity: str = "10014.875", available: str = "8400.0") -> dict:
    return {"equity": equity, "walletBalance": "10000.0", "availableMargin": available,
            "initialMargin": "1600.0", "maintenanceMargin": "800.0", "marginUsage": "0.16",
            "unrealizedPnl": "14.875", "realizedPnl": "-2.5"}


def envelope(event_type: str, seq: int, payload: dict) -> str:
    return json.dumps({"eventId": f"ev-{seq}", "eventType": event_type, "eventSeq": seq,
                       "engineTs": 1714564800000 + seq, "payload": payload})


def snapshot(seq: int = 1, *, orders=(), positions=(), bal: dict | None = None,
             book: dict | None = None) -> str:
    payload = {"orders": list(orders), "positions": list(positions),
               "balances": bal or balances()}
    if book is not None:
        payload["book"] = book
    return envelope("snapshot", seq, payload)


def delta(seq: int, **payload) -> str:
    return envelope("delta", seq, payload)


def stream_book(bids=(), asks=(), sequence: int | None = None) -> dict:
    return json.loads(book_msg(bids, asks, sequence))


# --- LocalBook -----------------------------------------------------------------------


def snapped_book() -> LocalBook:
    book = LocalBook(BTC)
    book.fold("snapshot", book_msg(
        bids=[("64000.0", "1.5"), ("63999.5", "2"), ("64000.5", "0.5")],
        asks=[("64002.0", "3"), ("64001.5", "1.0"), ("64010.0", "7")], sequence=10), True)
    return book


def state_of(book: LocalBook) -> tuple:
    return dict(book.bids), dict(book.asks), book.sequence, book.trusted


def test_snapshot_fills_both_sides_and_trusts():
    book = snapped_book()
    assert book.trusted
    assert book.sequence == 10
    assert dict(book.bids) == {D("64000.5"): D("0.5"), D("64000.0"): D("1.5"),
                               D("63999.5"): D("2")}
    assert dict(book.asks) == {D("64001.5"): D("1.0"), D("64002.0"): D("3"),
                               D("64010.0"): D("7")}


def test_best_bid_is_highest_and_best_ask_lowest():
    book = snapped_book()
    assert book.best_bid() == BookLevel(D("64000.5"), D("0.5"))
    assert book.best_ask() == BookLevel(D("64001.5"), D("1.0"))


def test_levels_are_best_first_and_cut_to_depth():
    book = snapped_book()
    assert book.levels(True, 10) == [BookLevel(D("64000.5"), D("0.5")),
                                     BookLevel(D("64000.0"), D("1.5")),
                                     BookLevel(D("63999.5"), D("2"))]
    assert book.levels(False, 2) == [BookLevel(D("64001.5"), D("1.0")),
                                      BookLevel(D("64002.0"), D("3"))]
    assert book.levels(True, 0) == []


def test_mid_and_microprice_are_exact():
    book = LocalBook(BTC)
    book.fold("snapshot", book_msg(bids=[("100.0", "3")], asks=[("101.0", "1")]), True)
    assert book.mid() == D("100.5")
    # (bid·askSize + ask·bidSize) / (bidSize + askSize) = (100 + 303) / 4
    assert book.microprice() == D("100.75")
    assert isinstance(book.mid(), Decimal)


def test_microprice_leans_toward_the_thin_side():
    book = LocalBook(BTC)
    book.fold("snapshot", book_msg(bids=[("64000.0", "0.1")], asks=[("64001.0", "0.4")]), True)
    assert book.mid() == D("64000.5")
    assert book.microprice() == D("64000.2")  # thin bid: the price is about to tick down


def test_empty_side_has_no_touch_mid_or_microprice():
    book = LocalBook(BTC)
    book.fold("snapshot", book_msg(bids=[("100", "1")], asks=[]), True)
    assert book.best_ask() is None
    assert book.mid() is None
    assert book.microprice() is None
    assert LocalBook(BTC).best_bid() is None


def test_update_changes_adds_and_removes_levels():
    book = snapped_book()
    book.fold("update", book_msg(
        bids=[("64000.5", "0"), ("64000.0", "2.25"), ("64000.8", "0.1")],
        asks=[("64001.5", "0"), ("64001.6", "4")], sequence=11), False)
    assert dict(book.bids) == {D("64000.8"): D("0.1"), D("64000.0"): D("2.25"),
                               D("63999.5"): D("2")}
    assert dict(book.asks) == {D("64001.6"): D("4"), D("64002.0"): D("3"),
                               D("64010.0"): D("7")}
    assert book.sequence == 11
    assert book.best_bid() == BookLevel(D("64000.8"), D("0.1"))
    assert book.best_ask() == BookLevel(D("64001.6"), D("4"))


def test_removing_an_absent_level_is_harmless():
    book = snapped_book()
    before = state_of(book)
    book.fold("update", book_msg(bids=[("1.0", "0")], sequence=None), False)
    assert state_of(book) == before


def test_size_zero_in_any_spelling_removes():
    book = snapped_book()
    book.fold("update", book_msg(bids=[("64000.5", "0.000")], sequence=11), False)
    assert D("64000.5") not in book.bids


def test_price_spellings_are_one_level():
    book = snapped_book()
    book.fold("update", book_msg(bids=[("64000.50", "9")], sequence=11), False)
    assert book.bids[D("64000.5")] == D("9")
    assert len(book.bids) == 3


def test_snapshot_replaces_everything():
    book = snapped_book()
    book.untrust()
    book.fold("snapshot", book_msg(bids=[("1", "1")], asks=[("2", "2")], sequence=99), True)
    assert dict(book.bids) == {D("1"): D("1")}
    assert dict(book.asks) == {D("2"): D("2")}
    assert book.sequence == 99


def test_update_as_the_first_message_is_refused():
    book = LocalBook(BTC)
    with pytest.raises(BadMessage):
        book.fold("update", book_msg(bids=[("100", "1")]), True)
    assert dict(book.bids) == {}
    assert book.trusted is False


def test_book_second_snapshot_mid_stream_is_refused():
    book = snapped_book()
    before = state_of(book)
    with pytest.raises(BadMessage):
        book.fold("snapshot", book_msg(bids=[("1", "1")], asks=[("2", "2")]), False)
    assert state_of(book) == before


BAD_BOOK_MESSAGES = {
    "truncated": book_msg(bids=[("1", "1")])[:-7],
    "not json": "<html>oops</html>",
    "empty": "",
    "a list": "[]",
    "price abc": json.dumps({"sequence": 11, "bids": [{"price": "abc", "size": "1"}],
                             "asks": []}),
    "missing size": json.dumps({"sequence": 11, "bids": [{"price": "64000.0"}], "asks": []}),
    "missing asks": json.dumps({"sequence": 11, "bids": []}),
    "NaN size": json.dumps({"sequence": 11, "bids": [{"price": "1", "size": "NaN"}],
                            "asks": []}),
    "sequence not int": json.dumps({"sequence": "eleven", "bids": [], "asks": []}),
    # the first level is good; only the second is bad: nothing at all may apply
    "second level bad": json.dumps({"sequence": 11,
                                    "bids": [{"price": "64000.5", "size": "0"},
                                             {"price": "63000.0", "size": "x"}],
                                    "asks": [{"price": "64001.5", "size": "9"}]}),
    "bad ask after good bids": json.dumps({"sequence": 11,
                                           "bids": [{"price": "64000.0", "size": "0"}],
                                           "asks": [{"price": "64001.5"}]}),
}


@pytest.mark.parametrize("data", BAD_BOOK_MESSAGES.values(), ids=BAD_BOOK_MESSAGES.keys())
def test_bad_update_is_refused_and_changes_nothing(data):
    book = snapped_book()
    before = state_of(book)
    updates = book.updates
    with pytest.raises(BadMessage):
        book.fold("update", data, False)
    assert state_of(book) == before
    assert book.updates == updates


@pytest.mark.parametrize("data", BAD_BOOK_MESSAGES.values(), ids=BAD_BOOK_MESSAGES.keys())
def test_book_bad_snapshot_is_refused_and_changes_nothing(data):
    book = snapped_book()
    book.untrust()
    before = state_of(book)
    with pytest.raises(BadMessage):
        book.fold("snapshot", data, True)
    assert state_of(book) == before
    assert book.trusted is False


@pytest.mark.parametrize("event", ["trade", "Snapshot", "", "delta"])
def test_unknown_book_event_is_refused_and_changes_nothing(event):
    book = snapped_book()
    before = state_of(book)
    with pytest.raises(BadMessage):
        book.fold(event, book_msg(bids=[("64000.5", "0")], sequence=11), False)
    assert state_of(book) == before


@pytest.mark.parametrize(("event", "first"), [("snapshot", True), ("update", False)])
def test_book_message_for_another_market_is_refused(event, first):
    # like IndexState: a stream wired to the wrong market must not feed this book
    book = snapped_book()
    if first:
        book.untrust()
    before = state_of(book)
    with pytest.raises(BadMessage):
        book.fold(event, book_msg(bids=[("3100.5", "1")], asks=[("3101.0", "1")],
                                  sequence=11, market_id=ETH), first)
    assert state_of(book) == before


def test_untrust_holds_until_the_next_snapshot():
    book = snapped_book()
    book.untrust()
    assert book.trusted is False
    assert dict(book.bids)  # the levels stay for display; only trust is gone
    with pytest.raises(BadMessage):
        book.fold("update", book_msg(bids=[("1", "1")]), True)
    assert book.trusted is False
    book.fold("snapshot", book_msg(bids=[("1", "1")], asks=[("2", "1")], sequence=50), True)
    assert book.trusted is True


def test_updates_do_not_restore_trust():
    book = snapped_book()
    book.untrust()
    book.fold("update", book_msg(bids=[("64000.0", "3")], sequence=11), False)
    assert book.trusted is False


# --- IndexState ----------------------------------------------------------------------


def index_msg(price: str = "64005.25", ts: int = 1714564800123, market_id: str = BTC) -> str:
    return json.dumps({"marketId": market_id, "price": price, "ts": ts})


def test_index_price_is_exact_and_trusted():
    idx = IndexState(BTC)
    assert idx.trusted is False
    assert idx.price is None
    idx.fold("index", index_msg(), True)
    assert idx.price == D("64005.25")
    assert idx.ts == 1714564800123
    assert idx.trusted is True
    idx.fold("index", index_msg("64006.75", 1714564800223), False)
    assert idx.price == D("64006.75")


def test_index_for_another_market_is_refused():
    idx = IndexState(BTC)
    idx.fold("index", index_msg(), True)
    with pytest.raises(BadMessage):
        idx.fold("index", index_msg("3100.5", market_id=ETH), False)
    assert idx.price == D("64005.25")
    assert idx.ts == 1714564800123


@pytest.mark.parametrize(("event", "data"), [
    ("index", '{"marketId": "BTC-PERP", "price": "abc", "ts": 1}'),
    ("index", '{"marketId": "BTC-PERP", "ts": 1}'),
    ("index", '{"marketId": "BTC-PERP", "price": "1", "ts": "yesterday"}'),
    ("index", '{"marketId": "BTC-PERP", "price": "1"'),
    ("price", index_msg("1")),
])
def test_bad_index_message_is_refused_and_changes_nothing(event, data):
    idx = IndexState(BTC)
    idx.fold("index", index_msg(), True)
    with pytest.raises(BadMessage):
        idx.fold(event, data, False)
    assert (idx.price, idx.ts) == (D("64005.25"), 1714564800123)


def test_index_untrust_until_next_price():
    idx = IndexState(BTC)
    idx.fold("index", index_msg(), True)
    idx.untrust()
    assert idx.trusted is False
    idx.fold("index", index_msg("64010"), True)
    assert idx.trusted is True


# --- AccountState: snapshot ----------------------------------------------------------


def snapped_account(**kw) -> AccountState:
    acct = AccountState()
    acct.fold("snapshot", snapshot(
        1, orders=[order("01HXORD1"), order("01HXORD2", side="sell", price="64010.0")],
        positions=[position(BTC), position(ETH, side="short", quantity="1.50",
                                          entry="3100.25")], **kw), True)
    return acct


def account_state(acct: AccountState) -> tuple:
    return (dict(acct.orders), dict(acct.positions), acct.balances, list(acct.fills),
            acct.event_seq, acct.engine_ts, acct.trusted)


def test_snapshot_sets_orders_positions_balances_and_trust():
    acct = snapped_account()
    assert acct.trusted is True
    assert acct.event_seq == 1
    assert acct.engine_ts == 1714564800001
    assert set(acct.orders) == {"01HXORD1", "01HXORD2"}
    o = acct.orders["01HXORD2"]
    assert o.side is Side.SELL
    assert o.price == D("64010.0")
    assert o.quantity == D("0.010")
    assert o.status is OrderStatus.OPEN
    assert o.post_only is True
    assert o.created_at == "2024-05-01T12:00:00.000Z"
    assert acct.positions[BTC].quantity == D("0.250")
    assert acct.positions[BTC].entry_price == D("63950.5")
    assert acct.positions[ETH].quantity == D("-1.50")  # short → negative
    assert acct.balances.equity == D("10014.875")
    assert acct.balances.available_margin == D("8400.0")
    assert acct.balances.margin_usage == D("0.16")
    assert set(acct.open_positions()) == {BTC, ETH}


def test_snapshot_replaces_previous_state():
    acct = snapped_account()
    acct.untrust()
    acct.fold("snapshot", snapshot(1, orders=[order("01HXORD9")], positions=[],
                                   bal=balances("500.0")), True)
    assert set(acct.orders) == {"01HXORD9"}
    assert acct.positions == {}
    assert acct.balances.equity == D("500.0")
    assert acct.trusted is True


def test_delta_before_snapshot_is_refused():
    acct = AccountState()
    with pytest.raises(BadMessage):
        acct.fold("delta", delta(1, orders=[order("01HXORD1")]), True)
    assert acct.orders == {}
    assert acct.trusted is False
    assert acct.event_seq is None


def test_account_second_snapshot_mid_stream_is_refused():
    acct = snapped_account()
    before = account_state(acct)
    with pytest.raises(BadMessage):
        acct.fold("snapshot", snapshot(2, orders=[]), False)
    assert account_state(acct) == before


# --- AccountState: delta -------------------------------------------------------------


def test_delta_upserts_orders():
    acct = snapped_account()
    acct.fold("delta", delta(2, orders=[
        order("01HXORD1", status="partially_filled", filled="0.004"),
        order("01HXORD3", side="sell", price="64020.0"),
    ]), False)
    assert set(acct.orders) == {"01HXORD1", "01HXORD2", "01HXORD3"}
    assert acct.orders["01HXORD1"].status is OrderStatus.PARTIALLY_FILLED
    assert acct.orders["01HXORD1"].filled_quantity == D("0.004")
    assert acct.orders["01HXORD1"].remaining_quantity == D("0.006")
    assert acct.event_seq == 2


@pytest.mark.parametrize("status", ["filled", "cancelled", "rejected"])
def test_a_finished_order_leaves_the_book_of_orders(status):
    acct = snapped_account()
    acct.fold("delta", delta(2, orders=[order("01HXORD1", status=status)]), False)
    assert set(acct.orders) == {"01HXORD2"}


def test_a_finished_order_never_seen_is_not_added():
    acct = snapped_account()
    acct.fold("delta", delta(2, orders=[order("01HXGONE", status="cancelled")]), False)
    assert set(acct.orders) == {"01HXORD1", "01HXORD2"}


def test_removed_order_ids():
    acct = snapped_account()
    acct.fold("delta", delta(2, removedOrderIds=["01HXORD2", "01HXUNKNOWN"]), False)
    assert set(acct.orders) == {"01HXORD1"}


def test_position_upserts_are_signed():
    acct = snapped_account()
    acct.fold("delta", delta(2, positions=[
        position(BTC, side="short", quantity="0.100", entry="64100.0"),
        position("SOL-PERP", side="long", quantity="12.5", entry="150.125"),
    ]), False)
    assert acct.positions[BTC].quantity == D("-0.100")
    assert acct.positions[BTC].entry_price == D("64100.0")
    assert acct.positions["SOL-PERP"].quantity == D("12.5")
    assert acct.positions[ETH].quantity == D("-1.50")  # untouched


def test_a_flat_position_is_not_open():
    acct = snapped_account()
    acct.fold("delta", delta(2, positions=[position(BTC, quantity="0", entry=None)]), False)
    assert acct.positions[BTC].flat
    assert set(acct.open_positions()) == {ETH}


def test_balances_replace_and_absent_balances_keep():
    acct = snapped_account()
    acct.fold("delta", delta(2, balances=balances("9990.0", "7000.5")), False)
    assert acct.balances.equity == D("9990.0")
    assert acct.balances.available_margin == D("7000.5")
    acct.fold("delta", delta(3, orders=[]), False)
    assert acct.balances.equity == D("9990.0")


def test_fills_are_appended_and_heard_once_each_in_order():
    acct = snapped_account()
    heard: list[Fill] = []
    heard_too: list[str] = []
    acct.on_fill.append(heard.append)
    acct.on_fill.append(lambda f: heard_too.append(f.fill_id))
    acct.fold("delta", delta(2, fills=[fill("F1", quantity="0.004", ts=1714564801500),
                                        fill("F2", quantity="0.002", ts=1714564801501)],
                             orders=[order("01HXORD1", status="partially_filled",
                                           filled="0.006")]), False)
    acct.fold("delta", delta(3, fills=[fill("F3", "01HXORD2", side="sell",
                                            price="64010.0")]), False)
    assert [f.fill_id for f in heard] == ["F1", "F2", "F3"]
    assert heard_too == ["F1", "F2", "F3"]
    assert [f.fill_id for f in acct.fills] == ["F1", "F2", "F3"]
    f1 = acct.fills[0]
    assert f1.quantity == D("0.004")
    assert f1.price == D("64000.0")
    assert f1.fee == D("-0.0512")
    assert f1.liquidity is Liquidity.MAKER
    assert f1.created_at == 1714564801500
    assert acct.fills[2].signed_quantity == D("-0.004")


def test_listeners_see_the_state_after_the_delta():
    acct = snapped_account()
    seen = []
    acct.on_fill.append(lambda f: seen.append(acct.orders["01HXORD1"].filled_quantity))
    acct.fold("delta", delta(2, fills=[fill("F1")],
                             orders=[order("01HXORD1", status="partially_filled",
                                           filled="0.004")]), False)
    assert seen == [D("0.004")]


def test_an_empty_delta_only_advances_the_sequence():
    acct = snapped_account()
    before = account_state(acct)
    acct.fold("delta", delta(2), False)
    after = account_state(acct)
    assert after[:4] == before[:4]
    assert acct.event_seq == 2


# --- AccountState: refusals never half-apply -----------------------------------------


def test_event_seq_jump_is_a_gap_and_changes_nothing():
    acct = snapped_account()
    heard = []
    acct.on_fill.append(heard.append)
    before = account_state(acct)
    with pytest.raises(Gap):
        acct.fold("delta", delta(3, fills=[fill("F1")], removedOrderIds=["01HXORD1"]), False)
    assert account_state(acct) == before
    assert heard == []


def test_repeated_event_seq_is_a_gap():
    acct = snapped_account()
    acct.fold("delta", delta(2), False)
    with pytest.raises(Gap):
        acct.fold("delta", delta(2), False)


def test_event_type_differing_from_the_sse_event_is_refused():
    acct = snapped_account()
    before = account_state(acct)
    with pytest.raises(BadMessage):
        acct.fold("delta", envelope("snapshot", 2, {"orders": [], "positions": [],
                                                    "balances": balances()}), False)
    assert account_state(acct) == before


def test_unknown_private_event_is_refused():
    acct = snapped_account()
    before = account_state(acct)
    with pytest.raises(BadMessage):
        acct.fold("trade", envelope("trade", 2, {}), False)
    assert account_state(acct) == before


BAD_DELTAS = {
    "truncated": delta(2, orders=[order("01HXORD3")])[:-20],
    "no envelope": json.dumps({"orders": []}),
    "payload not an object": json.dumps({"eventId": "e", "eventType": "delta", "eventSeq": 2,
                                         "engineTs": 1, "payload": []}),
    "bad order price": delta(2, orders=[order("01HXORD3"),
                                        {**order("01HXORD4"), "price": "abc"}]),
    "order missing status": delta(2, orders=[{k: v for k, v in order("01HXORD3").items()
                                              if k != "status"}]),
    "unknown order status": delta(2, orders=[order("01HXORD3", status="resting")]),
    "bad fill after good": delta(2, fills=[fill("F1"), {**fill("F2"), "quantity": "lots"}]),
    "fill createdAt ISO": delta(2, fills=[{**fill("F1"),
                                           "createdAt": "2024-05-01T12:00:00Z"}]),
    "bad position side": delta(2, positions=[position(BTC, side="flat")]),
    "bad balances": delta(2, removedOrderIds=["01HXORD1"],
                          balances={**balances(), "equity": None}),
    "removed ids not strings": delta(2, removedOrderIds=[{"id": 1}]),
}


@pytest.mark.parametrize("data", BAD_DELTAS.values(), ids=BAD_DELTAS.keys())
def test_bad_delta_is_refused_and_changes_nothing(data):
    acct = snapped_account()
    heard = []
    acct.on_fill.append(heard.append)
    before = account_state(acct)
    with pytest.raises(BadMessage):
        acct.fold("delta", data, False)
    assert account_state(acct) == before
    assert heard == []


def test_account_bad_snapshot_is_refused_and_changes_nothing():
    acct = snapped_account()
    acct.untrust()
    before = account_state(acct)
    bad = envelope("snapshot", 1, {"orders": [order("01HXORD7")], "positions": [],
                                   "balances": {"equity": "1"}})
    with pytest.raises(BadMessage):
        acct.fold("snapshot", bad, True)
    assert account_state(acct) == before
    assert acct.trusted is False


# --- AccountState: the venue's error event -------------------------------------------


def error_event(seq: int, *, retryable: bool, code: str = "KEY_REVOKED") -> str:
    return envelope("error", seq, {"code": code, "message": "the key was revoked",
                                   "retryable": retryable})


def test_error_not_retryable_is_refused_for_good():
    acct = snapped_account()
    with pytest.raises(StreamRefused, match="KEY_REVOKED"):
        acct.fold("error", error_event(2, retryable=False), False)


def test_error_retryable_is_a_gap():
    acct = snapped_account()
    with pytest.raises(Gap, match="SHUTTING_DOWN"):
        acct.fold("error", error_event(2, retryable=True, code="SHUTTING_DOWN"), False)


def test_error_as_the_first_message():
    with pytest.raises(StreamRefused):
        AccountState().fold("error", error_event(1, retryable=False), True)


def test_error_with_a_bad_payload_is_a_bad_message():
    acct = snapped_account()
    with pytest.raises(BadMessage):
        acct.fold("error", envelope("error", 2, {"message": "no code"}), False)


# --- AccountState: untrust -----------------------------------------------------------


def test_untrust_forgets_the_sequence_until_a_fresh_snapshot():
    acct = snapped_account()
    acct.fold("delta", delta(2), False)
    acct.untrust()
    assert acct.trusted is False
    assert acct.event_seq is None
    # a new connection starts over at any eventSeq: no gap against the old one
    acct.fold("snapshot", snapshot(1, orders=[order("01HXNEW")]), True)
    assert acct.trusted is True
    assert acct.event_seq == 1
    assert set(acct.orders) == {"01HXNEW"}


# --- AccountState: the per-market stream with its book -------------------------------


def market_snapshot(seq: int = 1, with_book: bool = True) -> str:
    book = stream_book(bids=[("64000.0", "1"), ("63999.0", "2")],
                       asks=[("64001.0", "3")], sequence=100) if with_book else None
    return snapshot(seq, orders=[order("01HXORD1")], positions=[position(BTC)], book=book)


def test_per_market_snapshot_sets_the_book():
    acct = AccountState(market_id=BTC)
    assert acct.book is not None
    assert acct.book.market_id == BTC
    acct.fold("snapshot", market_snapshot(), True)
    assert acct.trusted is True
    assert acct.book.trusted is True
    assert acct.book.sequence == 100
    assert acct.book.levels(True, 5) == [BookLevel(D("64000.0"), D("1")),
                                         BookLevel(D("63999.0"), D("2"))]
    assert acct.book.best_ask() == BookLevel(D("64001.0"), D("3"))


def test_per_market_snapshot_requires_the_book():
    acct = AccountState(market_id=BTC)
    with pytest.raises(BadMessage):
        acct.fold("snapshot", market_snapshot(with_book=False), True)
    assert acct.trusted is False
    assert acct.orders == {}
    assert acct.balances is None
    assert acct.event_seq is None


def test_all_markets_stream_needs_no_book():
    acct = AccountState()
    acct.fold("snapshot", market_snapshot(with_book=False), True)
    assert acct.book is None
    assert acct.trusted is True


def test_per_market_delta_merges_the_book():
    acct = AccountState(market_id=BTC)
    acct.fold("snapshot", market_snapshot(), True)
    acct.fold("delta", delta(2, book=stream_book(bids=[("64000.0", "0"), ("64000.5", "4")],
                                                 asks=[("64001.0", "2.5")], sequence=101),
                             orders=[order("01HXORD1", status="filled", filled="0.010")]),
              False)
    assert dict(acct.book.bids) == {D("64000.5"): D("4"), D("63999.0"): D("2")}
    assert dict(acct.book.asks) == {D("64001.0"): D("2.5")}
    assert acct.book.sequence == 101
    assert acct.orders == {}
    acct.fold("delta", delta(3, orders=[]), False)  # no book in the delta: book untouched
    assert dict(acct.book.bids) == {D("64000.5"): D("4"), D("63999.0"): D("2")}


def test_per_market_bad_book_in_delta_changes_nothing():
    acct = AccountState(market_id=BTC)
    acct.fold("snapshot", market_snapshot(), True)
    before = account_state(acct)
    book_before = state_of(acct.book)
    bad_book = {"bids": [{"price": "64000.0", "size": "0"}, {"price": "oops", "size": "1"}],
                "asks": []}
    with pytest.raises(BadMessage):
        acct.fold("delta", delta(2, book=bad_book, removedOrderIds=["01HXORD1"]), False)
    assert account_state(acct) == before
    assert state_of(acct.book) == book_before


def test_per_market_untrust_untrusts_the_book():
    acct = AccountState(market_id=BTC)
    acct.fold("snapshot", market_snapshot(), True)
    acct.untrust()
    assert acct.book.trusted is False
    acct.fold("snapshot", market_snapshot(), True)
    assert acct.book.trusted is True


def test_a_failing_listener_neither_splits_state_nor_silences_the_others(caplog):
    acct = snapped_account()
    heard: list[str] = []

    def broken(f: Fill) -> None:
        raise RuntimeError("listener bug")

    acct.on_fill.append(broken)
    acct.on_fill.append(lambda f: heard.append(f.fill_id))
    acct.fold("delta", delta(2, fills=[fill("F1"), fill("F2")]), False)
    assert heard == ["F1", "F2"]
    assert acct.event_seq == 2  # the next message is not mistaken for a gap
    acct.fold("delta", delta(3, fills=[fill("F3")]), False)
    assert heard == ["F1", "F2", "F3"]
    assert "a fill listener failed on F1" in caplog.text


def test_a_negative_size_or_price_is_refused_and_changes_nothing():
    book = snapped_book()
    before = state_of(book)
    for bad in (book_msg(bids=[("63990.0", "-1")]), book_msg(asks=[("-5", "1")])):
        with pytest.raises(BadMessage):
            book.fold("update", bad, False)
    assert state_of(book) == before
