"""The desk view marks positions live (against the embedded venue over real HTTP on
127.0.0.1): between fills the venue pushes no position, yet the positions table, the
header's equity and the strategy's own uPnL move with the fair value, and agree."""

from __future__ import annotations

from decimal import Decimal

from desk.engine.view import Monitor
from tests.integration.conftest import BTC
from tests.integration.engine_support import desk_on
from tests.integration.test_engine_quoting import (
    fill_our_bid,
    move_book,
    post_book,
    start,
    taker,  # noqa: F401 - a fixture
)
from tests.integration.test_ocx_streams import eventually

D = Decimal


async def test_a_position_is_marked_live_between_fills(venue, trader, counterparty,
                                                       taker):  # noqa: F811
    post_book(counterparty, "63900", "64100")
    async with desk_on(venue, trader) as d:
        monitor = Monitor(d.manager, "test venue", sample_s=0.0)
        sid = await start(d, base_spread_bps="10", quote_size="1", min_quote_size="0.1")
        await fill_our_bid(d, sid, taker, "63900", "1")
        await d.manager.pause(sid)  # nothing of ours rests: the book can move freely
        account = d.venue.account()
        await eventually(lambda: not account.orders and BTC in account.positions
                         and account.positions[BTC].quantity == 1, 3, "the position")
        before = monitor.snapshot()
        assert before.position(BTC) is not None

        move_book(counterparty, "63500", "63700")  # the mid, our fair, falls to 63,600
        strategy = d.manager.strategies[sid]
        await eventually(lambda: strategy.mark() == D(63600), 5, "the fair at the new mid")
        view = monitor.snapshot()
        p, s = view.position(BTC), view.strategy(sid)
        assert p is not None and s is not None and view.balances is not None
        assert p.mark_price == D(63600) == s.fair
        # one position, one number: the positions table and the strategy's detail
        assert p.unrealized_pnl == s.unrealized_pnl == s.metrics.unrealized_pnl
        entry = account.positions[BTC].entry_price
        assert entry is not None
        assert abs(p.unrealized_pnl - (D(63600) - entry)) < D("0.01")
        moved = p.unrealized_pnl - before.position(BTC).unrealized_pnl
        assert moved < -300          # about −400 on one BTC, with no fill in between
        # the header's equity: the account's, its uPnL replaced by the live one
        b = account.balances
        assert b is not None
        assert view.balances.equity == b.equity - b.unrealized_pnl + p.unrealized_pnl
        assert view.balances.unrealized_pnl == p.unrealized_pnl
