"""The view builder's parts (desk.engine.view): the book reconciled with our resting
orders, positions marked live, the balances moved with them, and the event buffers
that keep alarms from being pushed out by the quote chatter."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from desk.domain import OrderStatus, OrderType, Side, TimeInForce
from desk.domain.records import Balances, BookLevel, Order, Position
from desk.engine.events import Event, EventType, Severity
from desk.engine.metrics import Metrics, QuoteStats
from desk.engine.view import (
    Monitor,
    StrategyView,
    book_side,
    book_view,
    is_chatter,
    live_balances,
    mark_positions,
)
from tests.ui.fixed_backend import CONFIGS

D = Decimal
BTC = "BTC-PERP"


@dataclass
class StreamBook:
    """What the book stream holds for one market (the `BookView` the view reads)."""
    bids: list[BookLevel]
    asks: list[BookLevel]
    trusted: bool = True

    def levels(self, bids: bool, depth: int) -> list[BookLevel]:
        return (self.bids if bids else self.asks)[:depth]


def _order(side: Side, price: str, remaining: str, market: str = BTC, n: int = 1) -> Order:
    return Order(f"o{n}{side}{price}", f"s.{n}", "q", market, side, OrderType.LIMIT, D(price),
                 D(remaining), D(0), D(remaining), OrderStatus.OPEN, TimeInForce.GTC, True,
                 False, "t", "t")


def _levels(*pairs: tuple[str, str]) -> list[BookLevel]:
    return [BookLevel(D(p), D(s)) for p, s in pairs]


# --- the book and our orders ---------------------------------------------------------------

def test_a_level_is_ours_only_when_our_order_rests_there_within_its_size():
    book = StreamBook(bids=_levels(("100", "5"), ("99", "1"), ("98", "2")),
                      asks=_levels(("101", "3"), ("102", "1")))
    orders = [_order(Side.BUY, "100", "2"),       # in the level, within its size: ours
              _order(Side.BUY, "99", "4"),        # bigger than the level: not caught up yet
              _order(Side.SELL, "101", "3"),      # exactly the level: ours
              _order(Side.BUY, "100", "1", market="ETH-PERP")]  # another market
    view = book_view(BTC, book, orders, D("100.5"))
    assert view.bids.ours == {D(100)} and view.bids.pending == {D(99)}
    assert view.asks.ours == {D(101)} and view.asks.pending == frozenset()
    assert [lv.price for lv in view.bids.levels] == [D(100), D(99), D(98)]
    assert view.fair == D("100.5") and view.trusted


def test_a_level_whose_order_is_gone_is_not_ours():
    """Our order was cancelled (the orders stream says so) while the book still shows
    the level: the level is someone else's, or stale, never marked ours."""
    book = StreamBook(bids=_levels(("100", "5")), asks=_levels(("101", "3")))
    view = book_view(BTC, book, [], D("100.5"))
    assert view.bids.ours == view.asks.ours == frozenset()
    assert view.bids.pending == view.asks.pending == frozenset()


def test_an_order_the_book_stream_has_not_shown_yet_is_shown_pending_at_its_price():
    book = StreamBook(bids=_levels(("100", "5"), ("98", "2")), asks=_levels(("102", "1")))
    orders = [_order(Side.BUY, "99", "1"), _order(Side.SELL, "101", "2")]
    view = book_view(BTC, book, orders, None)
    assert [(lv.price, lv.size) for lv in view.bids.levels] == \
        [(D(100), D(5)), (D(99), D(1)), (D(98), D(2))]   # in price order
    assert [(lv.price, lv.size) for lv in view.asks.levels] == [(D(101), D(2)), (D(102), D(1))]
    assert view.bids.pending == {D(99)} and view.asks.pending == {D(101)}
    assert view.bids.ours == view.asks.ours == frozenset()


def test_an_order_deeper_than_the_levels_shown_is_not_added():
    bids = _levels(*((str(100 - i), "1") for i in range(3)))   # 100, 99, 98
    side = book_side(bids, {D(90): D(1), D(99): D(1)}, True, depth=3)
    assert [lv.price for lv in side.levels] == [D(100), D(99), D(98)]
    assert side.ours == {D(99)} and side.pending == frozenset()
    # with fewer levels than the depth the whole side is known: a deep order is shown
    side = book_side(bids, {D(90): D(1)}, True, depth=5)
    assert [lv.price for lv in side.levels][-1] == D(90) and side.pending == {D(90)}


@settings(max_examples=100, deadline=None)
@given(book_prices=st.sets(st.integers(1, 40), max_size=12),
       ours=st.dictionaries(st.integers(1, 40), st.integers(1, 6), max_size=5),
       lag=st.sets(st.integers(1, 40), max_size=5))
def test_every_order_of_ours_is_marked_and_no_level_wrongly(book_prices, ours, lag):
    """Whatever the book stream lags by (levels of ours it has not shown, `lag`), each of
    our orders inside the levels shown has a marker (only one deeper than the last row
    can be left out), and a level marked ours holds at least our size."""
    book_sizes = {p: D(3) for p in book_prices | set(ours)} if ours else {}
    book_sizes |= {p: D(3) for p in book_prices}
    for p in lag:
        book_sizes.pop(p, None)
    levels = [BookLevel(D(p), s) for p, s in sorted(book_sizes.items(), reverse=True)]
    own = {D(p): D(q) for p, q in ours.items()}
    side = book_side(levels, own, True, depth=12)
    shown = {lv.price: lv.size for lv in side.levels}
    assert len(shown) <= 12
    worst = min(shown, default=None)
    for price in own:
        if worst is not None and price >= worst:
            assert price in side.ours | side.pending, (price, side)
        else:
            assert len(shown) == 12 or (levels and len(levels) >= 12)  # cut by the depth
    for price in side.ours:
        assert own[price] <= shown[price]
    assert not side.ours & side.pending
    assert list(shown) == sorted(shown, reverse=True)


# --- positions marked live ------------------------------------------------------------------

def _metrics(unrealized: str, position: str) -> Metrics:
    return Metrics(D(0), D(0), D(0), D(unrealized), D(0), D(0), 0, None, None, D(0), D(position),
                   None)


def _strategy(sid: str, market: str, position: str, fair: str | None, unrealized: str
              ) -> StrategyView:
    return StrategyView(
        id=sid, name=sid, market_id=market, state="running", reason=None, breaker=None,
        position=D(position), soft_limit=D(7), max_position=D(10),
        fair=D(fair) if fair else None, spread_bps=None, skew_bps=None,
        metrics=_metrics(unrealized, position), stats=QuoteStats(0, 0, 0, 0, 0),
        config=CONFIGS["btc-mm"], hedging=False, bids=(), asks=())


# the venue's record, pushed at the last fill: marked 64,000, uPnL +50 on 0.5 @ 63,900
RECORDED = Position(BTC, D("0.5"), D(63900), D(64000), D(50), D(0), D(40000))


def test_a_position_is_marked_at_its_strategys_mark_and_shows_the_strategys_upnl():
    s = _strategy("btc", BTC, "0.5", "63500", "-200.00")   # the fair fell 500
    [p] = mark_positions([RECORDED], [s], {})
    assert p.mark_price == D(63500)
    assert p.unrealized_pnl == s.unrealized_pnl == D("-200.00")  # one number, both screens
    assert p.quantity == RECORDED.quantity and p.entry_price == RECORDED.entry_price


def test_a_position_nobody_on_the_desk_holds_is_marked_at_the_reference():
    other = _strategy("eth", "ETH-PERP", "1", "3000", "5")
    [p] = mark_positions([RECORDED], [other], {BTC: D(63700)})
    assert p.mark_price == D(63700)
    assert p.unrealized_pnl == (D(63700) - D(63900)) * D("0.5") == D(-100)


def test_a_strategy_holding_another_size_than_the_account_leaves_the_venues_entry():
    """The strategy holds 0.2 of the account's 0.5 (the rest was there before): the
    position is the account's, marked at the strategy's mark from the venue's entry."""
    s = _strategy("btc", BTC, "0.2", "64100", "+30")
    [p] = mark_positions([RECORDED], [s], {BTC: D(1)})
    assert p.mark_price == D(64100) and p.unrealized_pnl == D(100)


def test_without_any_live_mark_the_venues_record_stays():
    assert mark_positions([RECORDED], [], {}) == (RECORDED,)


def test_the_equity_moves_with_the_live_upnl():
    balances = Balances(equity=D(100050), wallet_balance=D(100000), available_margin=D(99000),
                        initial_margin=D(1050), maintenance_margin=D(500),
                        margin_usage=D("0.01"), unrealized_pnl=D(50), realized_pnl=D(0))
    live = (replace(RECORDED, mark_price=D(63500), unrealized_pnl=D(-200)),)
    b = live_balances(balances, live)
    assert b is not None
    assert b.unrealized_pnl == D(-200) and b.equity == D(99800)   # 100,050 − 50 − 200
    assert b.available_margin == D(98750) and b.wallet_balance == D(100000)
    assert live_balances(None, live) is None
    assert live_balances(balances, (RECORDED,)) is balances


# --- the event buffers -----------------------------------------------------------------------

class Bus:
    """Stands in for the manager's event subscription (the only part Monitor uses here)."""

    def __init__(self) -> None:
        self.callbacks: list = []
        self.seq = 0

    def subscribe_events(self, callback) -> None:
        self.callbacks.append(callback)

    def publish(self, type: EventType, severity: Severity = Severity.INFO, **data) -> Event:
        self.seq += 1
        e = Event(type, "s", 1_700_000_000_000 + self.seq, data, severity, self.seq)
        for cb in self.callbacks:
            cb(e)
        return e


def test_quote_chatter_and_alarms_have_their_own_buffers():
    bus = Bus()
    monitor = Monitor(bus, "v", keep_events=10, keep_chatter=10, keep_alarms=10)  # type: ignore[arg-type]
    alarm = bus.publish(EventType.CIRCUIT_BREAKER, Severity.ERROR, reason="dead-man")
    fill = bus.publish(EventType.QUOTE_FILLED, side="buy")
    pulled = bus.publish(EventType.QUOTE_CANCELLED, reason="pulled", count=2)
    for _ in range(500):   # a few minutes of re-quoting
        bus.publish(EventType.QUOTE_CANCELLED, reason="replaced", count=2)
        bus.publish(EventType.QUOTE_SENT, reason="move")
    assert list(monitor.alarms) == [alarm]
    assert list(monitor.events) == [alarm, fill, pulled]
    assert len(monitor.chatter) == 10 and all(is_chatter(e) for e in monitor.chatter)
    warn = bus.publish(EventType.QUOTE_SENT, Severity.WARNING, reason="odd")
    assert not is_chatter(warn) and monitor.alarms[-1] is warn and monitor.events[-1] is warn
