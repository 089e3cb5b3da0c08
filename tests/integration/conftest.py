"""Helpers and fixtures for the embedded venue's integration tests (real HTTP on 127.0.0.1).

Care with secrets: never put a `Trader`, its headers or a key-creation response
inside an `assert` expression or an assertion message (pytest prints both on
failure). Assign responses to a variable first and assert on the variable.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import ServerSentEvent, connect_sse

BTC, ETH, SOL = "BTC-PERP", "ETH-PERP", "SOL-PERP"
DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")
ULID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")
ISO_Z = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z")
ERROR_KEYS = {"error", "code", "message"}
ORDER_KEYS = {"orderId", "clientOrderId", "quoteId", "marketId", "side", "type", "price",
              "quantity", "filledQuantity", "remainingQuantity", "status", "timeInForce",
              "postOnly", "reduceOnly", "createdAt", "updatedAt"}
FILL_KEYS = {"fillId", "orderId", "clientOrderId", "quoteId", "marketId", "side", "price",
             "quantity", "liquidity", "fee", "createdAt"}
BALANCE_KEYS = {"equity", "walletBalance", "availableMargin", "initialMargin",
                "maintenanceMargin", "marginUsage", "unrealizedPnl", "realizedPnl"}
POSITION_KEYS = {"marketId", "side", "quantity", "entryPrice", "markPrice", "unrealizedPnl",
                 "realizedPnl", "liquidationPrice"}
RATE_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")


# --- body checks ----------------------------------------------------------------------

def is_decimal(value: object) -> bool:
    return isinstance(value, str) and DECIMAL.fullmatch(value) is not None


def assert_decimals(body: dict[str, Any], *fields: str, nullable: tuple[str, ...] = ()) -> None:
    for name in fields:
        value = body[name]
        if value is None and name in nullable:
            continue
        assert is_decimal(value), f"{name} is not a decimal string: {value!r}"


def is_iso(value: object) -> bool:
    if not isinstance(value, str) or not ISO_Z.fullmatch(value):
        return False
    datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


def iso_ms(value: str) -> int:
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)


def ok(r: httpx.Response, status: int = 200) -> Any:
    """The JSON body of a success; never use on a response that carries a key secret."""
    assert r.status_code == status, f"expected {status}, got {r.status_code}: {r.text}"
    return r.json() if r.content else None


def assert_error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """A contract error body: status, `{error, code, message, details}`."""
    assert r.status_code == status, f"expected {status} {code}, got {r.status_code}: {r.text}"
    assert r.headers.get("content-type", "").startswith("application/json")
    body = r.json()
    assert body.keys() >= ERROR_KEYS, body
    assert body["code"] == code, body
    assert isinstance(body["error"], str) and body["error"], body
    assert isinstance(body["message"], str) and body["message"], body
    assert isinstance(body.get("details", {}), dict), body
    return body


def field_errors(r: httpx.Response) -> dict[str, list[str]]:
    body = assert_error(r, 400, "VALIDATION")
    fields = body["details"]["fieldErrors"]
    assert isinstance(fields, dict) and fields, body
    for messages in fields.values():
        assert isinstance(messages, list) and all(isinstance(m, str) and m for m in messages)
    return fields


def assert_order(o: dict[str, Any]) -> None:
    assert set(o) == ORDER_KEYS, o
    assert ULID.fullmatch(o["orderId"]), o
    assert_decimals(o, "price", "quantity", "filledQuantity", "remainingQuantity",
                    nullable=("price",))
    assert o["side"] in ("buy", "sell") and o["type"] in ("limit", "market")
    assert o["status"] in ("open", "partially_filled", "filled", "cancelled", "rejected")
    assert o["timeInForce"] in ("gtc", "ioc", "fok")
    assert isinstance(o["postOnly"], bool) and isinstance(o["reduceOnly"], bool)
    assert is_iso(o["createdAt"]) and is_iso(o["updatedAt"]), o


def assert_fill(f: dict[str, Any]) -> None:
    assert set(f) == FILL_KEYS, f
    assert ULID.fullmatch(f["fillId"]) and ULID.fullmatch(f["orderId"]), f
    assert_decimals(f, "price", "quantity", "fee")
    assert f["liquidity"] in ("maker", "taker") and f["side"] in ("buy", "sell")
    assert isinstance(f["createdAt"], int) and f["createdAt"] > 1_600_000_000_000, f


def assert_balances(b: dict[str, Any]) -> None:
    assert set(b) == BALANCE_KEYS, b
    assert_decimals(b, *BALANCE_KEYS)


def assert_position(p: dict[str, Any]) -> None:
    assert set(p) == POSITION_KEYS, p
    assert p["side"] in ("long", "short")
    assert_decimals(p, "quantity", "entryPrice", "markPrice", "unrealizedPnl", "realizedPnl",
                    "liquidationPrice", nullable=("liquidationPrice",))


def assert_rate_headers(r: httpx.Response) -> tuple[int, int, int]:
    for name in RATE_HEADERS:
        assert name in r.headers, f"{name} missing on {r.request.method} {r.request.url.path}"
    limit, remaining, reset = (int(r.headers[n]) for n in RATE_HEADERS)
    assert limit >= 1 and 0 <= remaining <= limit and 0 <= reset <= 60
    return limit, remaining, reset


# --- request helpers ------------------------------------------------------------------

def limit_order(side: str, price: str, quantity: str, market: str = BTC,
                **extra: Any) -> dict[str, Any]:
    return {"marketId": market, "type": "limit", "side": side, "price": price,
            "quantity": quantity, **extra}


def market_order(side: str, quantity: str, market: str = BTC, **extra: Any) -> dict[str, Any]:
    return {"marketId": market, "type": "market", "side": side, "quantity": quantity, **extra}


def book(client: httpx.Client, market: str = BTC) -> dict[str, Any]:
    """The full public book (sequence, bids, asks), without its timestamp."""
    body = ok(client.get(f"/perps/orderbook/{market}", params={"depth": 500}))
    return {"sequence": body["sequence"], "bids": body["bids"], "asks": body["asks"]}


def open_orders(trader: Any, market: str | None = None) -> list[dict[str, Any]]:
    params = {"marketId": market} if market else {}
    r = trader.get("/perps/orders", params=params)
    return ok(r)


def inject(client: httpx.Client, session: str, **fault: Any) -> dict[str, Any]:
    r = client.post("/sim/faults", json=fault, headers={"Authorization": f"Bearer {session}"})
    return ok(r)


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0,
               interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


# --- SSE --------------------------------------------------------------------------------

class Events:
    """Reads an SSE stream with httpx-sse, skipping heartbeats (events with empty data)."""

    def __init__(self, source: Any):
        self.source = source
        self.response: httpx.Response = source.response
        self._it = source.iter_sse()
        self.ended = False
        self.heartbeats = 0

    def next(self, timeout: float = 5.0) -> ServerSentEvent:
        """The next real event; fails after `timeout` s (heartbeats keep the read alive)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                event = next(self._it)
            except StopIteration:
                self.ended = True
                raise AssertionError("the stream ended") from None
            if event.data == "":
                self.heartbeats += 1
                if time.monotonic() > deadline:
                    raise AssertionError(f"no event within {timeout} s")
                continue
            return event

    def until(self, seconds: float) -> list[tuple[float, ServerSentEvent]]:
        """Every real event (with its arrival time) for `seconds` s, or until the stream ends.

        Needs heartbeats (or events) at least every read timeout to come back in time.
        """
        out: list[tuple[float, ServerSentEvent]] = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                event = next(self._it)
            except StopIteration:
                self.ended = True
                break
            if event.data == "":
                self.heartbeats += 1
                continue
            out.append((time.monotonic(), event))
        return out

    def rest(self, timeout: float = 5.0) -> list[ServerSentEvent]:
        """Every real event until the stream ends; fails if it does not end in `timeout` s."""
        out: list[ServerSentEvent] = []
        deadline = time.monotonic() + timeout
        for event in self._it:
            if event.data != "":
                out.append(event)
            if time.monotonic() > deadline:
                raise AssertionError(f"the stream did not end within {timeout} s")
        self.ended = True
        return out


@contextmanager
def sse(base_url: str, path: str, params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None, read_timeout: float = 5.0) -> Iterator[Events]:
    """An SSE connection on its own client (so other requests never wait behind it)."""
    timeout = httpx.Timeout(5.0, read=read_timeout)
    with httpx.Client(base_url=base_url, timeout=timeout) as c, \
            connect_sse(c, "GET", path, params=params, headers=dict(headers or {})) as source:
        assert source.response.status_code == 200, source.response.status_code
        assert source.response.headers["content-type"].startswith("text/event-stream")
        yield Events(source)


def envelope(event: ServerSentEvent) -> dict[str, Any]:
    """A private-stream message: checks the envelope and that the SSE name and id agree."""
    body = event.json()
    assert set(body) == {"eventId", "eventType", "eventSeq", "engineTs", "payload"}, body
    assert body["eventType"] == event.event, (body["eventType"], event.event)
    assert isinstance(body["eventSeq"], int) and str(body["eventSeq"]) == event.id
    assert ULID.fullmatch(body["eventId"]), body["eventId"]
    assert isinstance(body["engineTs"], int) and body["engineTs"] > 1_600_000_000_000
    assert isinstance(body["payload"], dict)
    return body


# --- venues with a chosen clock -----------------------------------------------------------

def window_start_clock() -> Callable[[], int]:
    """Wall-clock milliseconds shifted so that a fixed one-minute window starts now.

    Rate-limit tests count within one window; this keeps them clear of a minute
    boundary without sleeping.
    """
    offset = time.time_ns() // 1_000_000 % 60_000
    return lambda: time.time_ns() // 1_000_000 - offset


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A fresh home for a desk subprocess: no user settings, keys, journal or saved
    strategies leak in (and none leak out)."""
    out = {k: v for k, v in os.environ.items() if not k.startswith("DESK_")}
    out.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "config"),
               XDG_DATA_HOME=str(tmp_path / "data"), XDG_STATE_HOME=str(tmp_path / "state"),
               XDG_CACHE_HOME=str(tmp_path / "cache"), PYTHONUNBUFFERED="1",
               DESK_KEY_DIR=str(tmp_path / "keys"))
    return out
