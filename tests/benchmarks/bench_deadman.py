"""The dead-man switch's reaction, measured to the moment its cancel-all leaves.

    python -m tests.benchmarks.bench_deadman [--rounds 20]

The venue runs as `desk venue` (simulation on) in its own process; a desk
(`OcxVenue` + `StrategyManager`, three strategies quoting BTC, ETH and SOL off the
index) runs here, with a second trade key as its fallback credential (a
`ClientPuller`, as `desk run` holds the kill switch's key).

- stale feed: `freeze_index` on BTC-PERP (`stale_feed_ms` 500); from the moment the
  feed became stale (its last index message's arrival + 500 ms) to the unscoped
  cancel-all request leaving (httpx's `request` hook), and to its answer;
- refused call: `fence_key` on the engine's key while it quotes; from the first
  order-path answer refusing it (403 IP_NOT_ALLOWED, httpx's `response` hook) to the
  fallback credential's cancel-all request leaving, and to nothing resting.

Each round waits for the desk to quote again (the fence is lifted and the switch
re-armed) before the next.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import time
from typing import Any

import httpx

from desk.engine.config import EngineConfig
from desk.engine.manager import StrategyManager
from desk.ocx.adapter import OcxVenue
from desk.ocx.pullers import ClientPuller
from desk.ocx.rest import OcxClient
from tests.benchmarks.desk_support import summary
from tests.benchmarks.venue_process import venue_process

MARKETS = {"BTC-PERP": ("0.01", "0.001"), "ETH-PERP": ("0.1", "0.01"), "SOL-PERP": ("5", "1")}
ORDER_PATH = ("/perps/quotes/bulk", "/perps/orders/cancel-all", "/perps/orders/preview")


class Probe:
    def __init__(self) -> None:
        self.last_index: float | None = None
        self.cancel_left: float | None = None     # the engine key's cancel-all
        self.cancel_answered: float | None = None
        self.refused_at: float | None = None      # first order-path refusal
        self.fallback_left: float | None = None   # the fallback key's cancel-all

    def reset(self) -> None:
        self.cancel_left = self.cancel_answered = None
        self.refused_at = self.fallback_left = None

    def arrival(self) -> None:
        self.last_index = time.perf_counter()

    async def on_request(self, request: httpx.Request) -> None:
        if request.url.path == "/perps/orders/cancel-all" and b"marketId" not in request.content:
            self.cancel_left = self.cancel_left or time.perf_counter()

    async def on_response(self, response: httpx.Response) -> None:
        path = response.request.url.path
        if path == "/perps/orders/cancel-all" and self.cancel_answered is None:
            self.cancel_answered = time.perf_counter()
        if path in ORDER_PATH and response.status_code in (401, 403) and not self.refused_at:
            self.refused_at = time.perf_counter()

    async def on_fallback_request(self, request: httpx.Request) -> None:
        if request.url.path == "/perps/orders/cancel-all":
            self.fallback_left = self.fallback_left or time.perf_counter()


def make_key(c: httpx.Client, token: str, name: str) -> tuple[str, str]:
    r = c.post("/perps/me/api-keys", headers={"Authorization": f"Bearer {token}"},
               json={"name": name, "scope": "trade"})
    body = r.json()
    return body["id"], body["secret"]


async def quoting(manager: StrategyManager, venue: OcxVenue) -> None:
    while not manager.guard.quoting_allowed or not await venue.open_orders("BTC-PERP"):
        await asyncio.sleep(0.02)


async def run(url: str, rounds: int) -> dict[str, Any]:
    with httpx.Client(base_url=url) as c:
        token = c.post("/auth/dev-session", json={"account": "bench-deadman"}).json()["token"]
        engine_id, engine_secret = make_key(c, token, "engine")
        _, fallback_secret = make_key(c, token, "fallback")
    probe = Probe()
    client = OcxClient(url, api_key=engine_secret, session=token)
    client.http.event_hooks["request"].append(probe.on_request)
    client.http.event_hooks["response"].append(probe.on_response)
    fallback = ClientPuller.with_key("the fallback key", url, fallback_secret)
    fallback.client.http.event_hooks["request"].append(probe.on_fallback_request)
    fallback.keep_warm()  # as desk's launch does
    venue = OcxVenue(client, list(MARKETS), reference="index")
    venue.indexes["BTC-PERP"].listeners.append(probe.arrival)
    await venue.start()
    # max_position 1e6 means "no limit" here: so does max_leverage
    manager = StrategyManager(venue, rng=random.Random(1),
                              engine=EngineConfig(min_requote_s=0, max_leverage=1e9),
                              pullers=[fallback])
    await manager.open()
    for m, (size, min_size) in MARKETS.items():
        s = manager.create(name=m, market_id=m, quote_size=size, min_quote_size=min_size,
                           quote_layers=2, stale_feed_ms=500, max_position="1000000",
                           soft_position_limit="999999", max_daily_loss="1e9",
                           max_hourly_loss="1e9", max_drawdown_percent=100,
                           pause_on_error=False)
        await manager.start(s.id)
    stale_left: list[float] = []
    stale_answered: list[float] = []
    refused_left: list[float] = []
    refused_zero: list[float] = []
    for _ in range(rounds):
        await quoting(manager, venue)
        await asyncio.sleep(0.3)
        probe.reset()
        await client.inject_fault("freeze_index", marketId="BTC-PERP", seconds=1.2)
        while probe.cancel_answered is None:
            await asyncio.sleep(0.002)
        stale_at = probe.last_index + 0.5
        stale_left.append((probe.cancel_left - stale_at) * 1000)
        stale_answered.append((probe.cancel_answered - stale_at) * 1000)

        await asyncio.sleep(1.5)
        await quoting(manager, venue)
        await asyncio.sleep(0.3)
        probe.reset()
        await client.inject_fault("fence_key", keyId=engine_id, allowedIps=["10.9.9.9"])
        while True:
            if probe.fallback_left is not None and not await fallback.resting():
                now = time.perf_counter()
                break
            await asyncio.sleep(0.002)
        refused_left.append((probe.fallback_left - probe.refused_at) * 1000)
        refused_zero.append((now - probe.refused_at) * 1000)
        await client.inject_fault("fence_key", keyId=engine_id, undo=True)
        manager.guard.key_replaced(manager.guard.key_label)  # as `u` on the same key would
    await manager.shutdown()
    await venue.close()
    await fallback.close()
    return {"stale_left": stale_left, "stale_answered": stale_answered,
            "refused_left": refused_left, "refused_zero": refused_zero}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    with venue_process("--seed", "1") as url:
        out = asyncio.run(run(url, args.rounds))
    print("stale feed (freeze_index BTC-PERP, stale_feed_ms 500):")
    print("  " + summary("feed stale -> cancel-all leaves", out["stale_left"]))
    print("  " + summary("feed stale -> cancel-all answered", out["stale_answered"]))
    print("refused call (fence_key on the engine's key):")
    print("  " + summary("first refusal -> fallback's cancel-all leaves", out["refused_left"]))
    print("  " + summary("first refusal -> nothing resting", out["refused_zero"]))


if __name__ == "__main__":
    main()
