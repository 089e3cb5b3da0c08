"""Shared test helpers: manual clocks and a client for a venue on loopback."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


class ManualClock:
    """An injected clock in unix milliseconds that moves only when told to."""

    def __init__(self, start_ms: int = T0):
        self.ms = start_ms

    def __call__(self) -> int:
        return self.ms

    def advance(self, ms: int) -> int:
        self.ms += ms
        return self.ms


class StepClock:
    """The engine's `Clock` for unit tests: sleeping moves time on at once (then lets
    the loop turn once, so other tasks run as they would)."""

    def __init__(self, start_s: float = 1_000.0):
        self.t = start_s

    def time(self) -> float:
        return self.t

    def monotonic(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += seconds
        await asyncio.sleep(0)


@dataclass(repr=False)
class Trader:
    """An account on a running venue: its session token and a trade and a read key.

    Its repr (which pytest prints beside a failing test) carries no secret.
    """

    client: httpx.Client
    account: str
    session: str
    trade_secret: str
    read_secret: str
    trade_key_id: str
    read_key_id: str

    def __repr__(self) -> str:
        return f"Trader(account={self.account!r})"

    @property
    def trade(self) -> dict[str, str]:
        return {"x-api-key": self.trade_secret}

    @property
    def read(self) -> dict[str, str]:
        return {"x-api-key": self.read_secret}

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.session}"}

    def post(self, path: str, body: Any = None, **kw: Any) -> httpx.Response:
        kw.setdefault("headers", self.trade)
        return self.client.post(path, json=body, **kw)

    def get(self, path: str, **kw: Any) -> httpx.Response:
        kw.setdefault("headers", self.read)
        return self.client.get(path, **kw)


def new_session(client: httpx.Client, account: str) -> str:
    r = client.post("/auth/dev-session", json={"account": account})
    r.raise_for_status()
    return r.json()["token"]


def new_key(client: httpx.Client, session: str, scope: str, **extra: Any) -> dict[str, Any]:
    r = client.post("/perps/me/api-keys", headers={"Authorization": f"Bearer {session}"},
                    json={"name": f"{scope}-key", "scope": scope, **extra})
    r.raise_for_status()
    return r.json()


def new_trader(client: httpx.Client, account: str) -> Trader:
    session = new_session(client, account)
    trade = new_key(client, session, "trade")
    read = new_key(client, session, "read")
    return Trader(client, account, session, trade["secret"], read["secret"], trade["id"],
                  read["id"])
