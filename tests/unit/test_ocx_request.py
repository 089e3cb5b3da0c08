"""The client's own request building (`OcxClient._request`, which skips httpx's URL
parsing per call on the order path) builds what `httpx.AsyncClient.build_request` does."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from desk.ocx.config import ClientConfig
from desk.ocx.rest import OcxClient

CASES = [
    ("POST", "/perps/quotes/bulk", {"marketId": "BTC-PERP", "quoteId": "q1", "cancelAll": True,
                                    "quotes": [{"side": "buy", "price": "64000.5"}]}, None),
    ("POST", "/perps/orders/cancel-all", {}, None),
    ("POST", "/perps/orders/ord_1/cancel", None, None),
    ("GET", "/perps/orders", None, {"marketId": "BTC-PERP"}),
    ("GET", "/perps/markets", None, None),
]


def same(a: httpx.Request, b: httpx.Request) -> None:
    assert (a.method, str(a.url)) == (b.method, str(b.url))
    assert a.headers.multi_items() == b.headers.multi_items()
    assert a.content == b.content
    assert a.extensions == b.extensions


@pytest.mark.parametrize("base", ["http://127.0.0.1:8400", "https://venue.example/api/"])
@pytest.mark.parametrize(("method", "path", "body", "params"), CASES)
def test_the_request_is_the_one_httpx_would_build(base, method, path, body, params):
    client = OcxClient(base, api_key="k", config=ClientConfig(read_timeout_s=1.5))
    try:
        for _ in range(2):  # built, then from the cached URL
            same(client._request(method, path, body, params),
                 client.http.build_request(method, path, json=body, params=params))
    finally:
        asyncio.run(client.aclose())


def test_a_client_holding_cookies_takes_httpx_s_way():
    client = OcxClient("http://127.0.0.1:8400", api_key="k")
    try:
        client.http.cookies.set("session", "abc", domain="127.0.0.1")
        request = client._request("POST", "/perps/orders/cancel-all", {}, None)
        assert request.headers["cookie"] == "session=abc"
    finally:
        asyncio.run(client.aclose())
