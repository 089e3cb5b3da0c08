"""Builders and state snapshots shared by the exchange unit tests."""

from __future__ import annotations

from decimal import Decimal

import pytest

from desk.domain import OrderType
from desk.venue.errors import VenueError
from desk.venue.exchange import OrderRequest

D = Decimal
BTC = "BTC-PERP"
ETH = "ETH-PERP"
SOL = "SOL-PERP"


def limit(side, qty, price, **kw):
    return OrderRequest(side=side, quantity=D(qty), price=D(price), **kw)


def market(side, qty, **kw):
    return OrderRequest(side=side, quantity=D(qty), type=OrderType.MARKET, **kw)


def depth(ex, mkt=BTC):
    m = ex.markets[mkt]
    return ([(p * m.tick, s * m.step) for p, s in m.book.bids.depth(50)],
            [(p * m.tick, s * m.step) for p, s in m.book.asks.depth(50)])


def snapshot(ex):
    """Everything a refused request must leave alone."""
    books = {mid: (m.book.bids.depth(100), m.book.asks.depth(100),
                   [o.order_id for o in m.book.bids.orders()],
                   [o.order_id for o in m.book.asks.orders()])
             for mid, m in ex.markets.items()}
    accounts = {
        aid: (a.wallet, a.realized, a.fees_paid,
              {k: v for k, v in a.open_buy.items() if v},
              {k: v for k, v in a.open_sell.items() if v},
              sorted(a.open_orders), dict(a.client_ids),
              {k: (p.qty, p.entry, p.realized) for k, p in a.positions.items() if p.qty},
              len(a.closed_orders))
        for aid, a in ex.accounts.items()
    }
    live = {oid: (o.status, o.filled, o.updated_at) for oid, o in ex.orders.items()}
    return books, accounts, live


def refused(ex, code, fn, *args, **kwargs):
    """Call `fn`, expect a VenueError with `code`, and check nothing changed."""
    before = snapshot(ex)
    fills_before = ex.counters["fills"]
    with pytest.raises(VenueError) as info:
        fn(*args, **kwargs)
    assert info.value.code == code, info.value.message
    assert snapshot(ex) == before
    assert ex.counters["fills"] == fills_before
    return info.value
