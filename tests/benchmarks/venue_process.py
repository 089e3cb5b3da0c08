"""Run `desk venue` in its own process for benchmarks (loopback only) and tear it down."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import httpx


@contextmanager
def venue_process(*args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """Start `desk venue --port 0 ARGS` and yield its URL; SIGTERM it afterwards."""
    full_env = {**os.environ, "DESK_VENUE__RATE_LIMIT_PER_MINUTE": "100000000", **(env or {})}
    proc = subprocess.Popen([sys.executable, "-m", "desk", "venue", "--port", "0", *args],
                            stdout=subprocess.PIPE, text=True, env=full_env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if not line.startswith("venue listening on "):
            raise RuntimeError(f"venue did not start: {line!r}")
        yield line.removeprefix("venue listening on ")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def trade_secret(client: httpx.Client, account: str = "bench") -> str:
    token = client.post("/auth/dev-session", json={"account": account}).json()["token"]
    r = client.post("/perps/me/api-keys", headers={"Authorization": f"Bearer {token}"},
                    json={"name": "bench", "scope": "trade"})
    return r.json()["secret"]


def ladder(mid: float, n: int, seq: int, tick: float = 0.1) -> list[dict]:
    """A 2n-level ladder around `mid` that shifts by a tick each call, so books change."""
    shift = (seq % 10) * tick
    quotes = []
    for i in range(n):
        quotes.append({"side": "buy", "price": f"{mid - 10 - i * 5 + shift:.1f}",
                       "quantity": "0.01", "clientOrderId": f"b{seq}-{i}", "postOnly": True})
        quotes.append({"side": "sell", "price": f"{mid + 10 + i * 5 + shift:.1f}",
                       "quantity": "0.01", "clientOrderId": f"a{seq}-{i}", "postOnly": True})
    return quotes
