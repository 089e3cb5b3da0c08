"""The stream hub: news coalesced per connection, capped, routed by account and market."""

from __future__ import annotations

import ipaddress

from desk.domain import Side
from desk.venue.exchange import OrderRequest
from desk.venue.keys import KeyStore
from desk.venue.streams import MAX_PENDING, StreamHub
from tests.unit.exchange_helpers import BTC, ETH, D


def test_news_is_coalesced_per_order(exchange):
    hub = StreamHub()
    exchange.sink = hub.on_exchange
    conn = hub.open("user", account_id="mm")
    # one order placed, then replaced 50 times on the same market
    for i in range(50):
        exchange.bulk_quote("mm", BTC, f"q{i}", True,
                            [OrderRequest(Side.BUY, D("0.1"), D(63000 + i))])
    news = conn.take()
    assert len(news.orders) == 1  # only the live one, in its last state
    assert len(news.removed) == 49  # each replaced order once
    assert news.fills == [] and news.markets == set()
    assert len(conn.take()) == 0


def test_a_reader_that_falls_behind_is_dropped_not_buffered(exchange):
    hub = StreamHub()
    exchange.sink = hub.on_exchange
    conn = hub.open("user", account_id="mm")
    for i in range(MAX_PENDING + 2):  # each replace leaves one more removed id
        exchange.bulk_quote("mm", BTC, f"q{i}", True,
                            [OrderRequest(Side.BUY, D("0.1"), D(63000 + i % 500))])
    assert conn.dropped and conn.overflowed and conn.wake.is_set()


def test_routing_by_account_market_and_eagerness(exchange):
    hub = StreamHub()
    exchange.sink, exchange.on_book = hub.on_exchange, hub.on_book
    user = hub.open("user", account_id="mm")
    eth = hub.open("events", account_id="mm", market_id=ETH)
    eager_book = hub.open("book", market_id=BTC, eager=True)
    paced_book = hub.open("book", market_id=BTC)
    other = hub.open("user", account_id="taker")
    exchange.place_order("mm", BTC, OrderRequest(Side.BUY, D("0.1"), D("63000")))
    assert len(user.pending.orders) == 1 and user.wake.is_set() is False  # paced
    assert len(eth.pending) == 0 and len(other.pending) == 0
    assert eager_book.wake.is_set() and not paced_book.wake.is_set()
    hub.close(eager_book)
    assert eager_book not in hub.connections


def test_wake_key_wakes_only_that_keys_streams():
    hub = StreamHub()
    a = hub.open("user", account_id="x", key_id="k1")
    b = hub.open("user", account_id="x", key_id="k2")
    hub.wake_key("k1")
    assert a.wake.is_set() and not b.wake.is_set()


def test_ipv4_client_on_a_dual_stack_socket_matches_an_ipv4_allowlist(clock):
    store = KeyStore(clock)
    key, secret = store.create("acct", "bot", "trade", ["10.0.0.0/8"], None)
    mapped = str(ipaddress.IPv6Address("::ffff:10.1.2.3"))
    assert store.authenticate(secret, mapped, trade=True) is key
    assert not key.allows("::ffff:11.1.2.3")
