"""Tick-to-quote latency and stale-feed reaction of the engine against the embedded venue.

    python -m tests.benchmarks.bench_engine [--seconds 20] [--freezes 20]

The venue runs as `desk venue` (simulation on) in its own process. A desk
(`OcxVenue` + `StrategyManager`) runs three strategies, BTC, ETH and SOL, with
`requote_threshold_bps = 0`, so every index update re-quotes its market.

Tick-to-quote, per re-quote caused by a price move (the venue ticks every market's
index at once, so the three strategies queue behind each other's sends on the one
event loop: the figures are also given by the order of sending after a tick):
- engine part: from the index message's arrival at the engine (a stream
  listener registered before the engine's) to the `quotes/bulk` request
  leaving (httpx's `request` event hook, after the client built the body);
- round trip: from the same arrival to the venue's answer being parsed;
- engine CPU: the event loop thread's CPU time over the engine part
  (`time.thread_time`): the work itself, without the time this thread waited for a
  CPU, which on a shared machine is most of the tail.

Stale-feed reaction: `freeze_index` on BTC-PERP, repeatedly; from the moment the
feed became stale (last index arrival + stale_feed_ms) to the unscoped
cancel-all's confirmation, and to a read-only poll seeing zero resting orders.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import statistics
import time
from typing import Any

import httpx

from desk.engine.config import EngineConfig
from desk.engine.manager import StrategyManager
from desk.ocx.adapter import OcxVenue
from desk.ocx.rest import OcxClient
from tests.benchmarks.venue_process import trade_secret, venue_process

MARKETS = {"BTC-PERP": ("0.01", "0.001"), "ETH-PERP": ("0.1", "0.01"), "SOL-PERP": ("5", "1")}


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def summary(name: str, ms: list[float]) -> str:
    return (f"{name}: n={len(ms)} p50 {statistics.median(ms):.3f} ms, "
            f"p90 {pct(ms, 0.9):.3f} ms, p99 {pct(ms, 0.99):.3f} ms, max {max(ms):.3f} ms")


class Probe:
    """Arrival times of index updates, and bulk requests' leave/answer times."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}   # not yet answered by a re-quote
        self.cpu_at: dict[str, float] = {}    # this thread's CPU time at the arrival
        self.cpu_by_rank: dict[int, list[float]] = {}
        self.last: dict[str, float] = {}      # the newest arrival
        self.engine_ms: list[float] = []
        self.left: list[float] = []           # when recent bulk requests left
        self.by_rank: dict[int, list[float]] = {}
        self.round_trip_ms: list[float] = []
        self.pending: dict[str, float] = {}
        self.cancel_confirmed: float | None = None

    def arrival(self, market: str) -> None:
        self.arrived[market] = self.last[market] = time.perf_counter()
        self.cpu_at[market] = time.thread_time()

    async def on_request(self, request: httpx.Request) -> None:
        if request.url.path == "/perps/quotes/bulk":
            market = request.content.split(b'"marketId":"', 1)[1].split(b'"', 1)[0].decode()
            t = self.arrived.get(market)
            if t is not None:
                now = time.perf_counter()
                cpu_ms = (time.thread_time() - self.cpu_at[market]) * 1000
                ms = (now - t) * 1000
                self.engine_ms.append(ms)
                # the venue ticks every market at once: which send after the tick was this?
                self.left = [x for x in self.left if x > now - 0.05]
                rank = 1 + sum(1 for x in self.left if x >= t)
                self.by_rank.setdefault(rank, []).append(ms)
                self.cpu_by_rank.setdefault(rank, []).append(cpu_ms)
                self.left.append(now)
                self.pending[market] = t
                self.arrived.pop(market, None)

    async def on_response(self, response: httpx.Response) -> None:
        path = response.request.url.path
        if path == "/perps/quotes/bulk":
            content = response.request.content
            market = content.split(b'"marketId":"', 1)[1].split(b'"', 1)[0].decode()
            t = self.pending.pop(market, None)
            if t is not None:
                await response.aread()
                self.round_trip_ms.append((time.perf_counter() - t) * 1000)
        elif path == "/perps/orders/cancel-all":
            self.cancel_confirmed = time.perf_counter()


async def run(url: str, seconds: float, freezes: int) -> dict[str, Any]:
    with httpx.Client(base_url=url) as c:
        secret = trade_secret(c, "bench-engine")
        read_session = c.post("/auth/dev-session", json={"account": "bench-engine"}).json()
    probe = Probe()
    client = OcxClient(url, api_key=secret, session=read_session["token"])
    client.http.event_hooks["request"].append(probe.on_request)
    client.http.event_hooks["response"].append(probe.on_response)
    venue = OcxVenue(client, list(MARKETS), reference="index")
    for m in MARKETS:
        venue.indexes[m].listeners.append(lambda m=m: probe.arrival(m))
    await venue.start()
    # max_position 1e6 means "no limit" here: so does max_leverage
    manager = StrategyManager(venue, rng=random.Random(1),
                              engine=EngineConfig(min_requote_s=0, max_leverage=1e9))
    await manager.open()
    ids = []
    for m, (size, min_size) in MARKETS.items():
        s = manager.create(name=m, market_id=m, quote_size=size, min_quote_size=min_size,
                           requote_threshold_bps=0, quote_layers=2, stale_feed_ms=500,
                           max_position="1000000", soft_position_limit="999999",
                           max_daily_loss="1e9", max_hourly_loss="1e9",
                           max_drawdown_percent=100)
        await manager.start(s.id)
        ids.append(s.id)
    await asyncio.sleep(seconds)
    engine_ms, rt_ms = list(probe.engine_ms), list(probe.round_trip_ms)
    by_rank = {k: list(v) for k, v in sorted(probe.by_rank.items())}
    cpu_by_rank = {k: list(v) for k, v in sorted(probe.cpu_by_rank.items())}

    stale_to_cancel: list[float] = []
    stale_to_zero: list[float] = []
    for _ in range(freezes):
        while not manager.guard.quoting_allowed or not await venue.open_orders("BTC-PERP"):
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        probe.cancel_confirmed = None
        await client.inject_fault("freeze_index", marketId="BTC-PERP", seconds=1.2)
        stale_at = None
        while True:
            orders = await venue.open_orders()
            now = time.perf_counter()
            if not orders and probe.cancel_confirmed is not None:
                stale_at = probe.last["BTC-PERP"] + 0.5
                break
            await asyncio.sleep(0.002)
        stale_to_cancel.append((probe.cancel_confirmed - stale_at) * 1000)
        stale_to_zero.append((now - stale_at) * 1000)
        await asyncio.sleep(1.5)
    await manager.shutdown()
    await venue.close()
    return {"engine": engine_ms, "by_rank": by_rank, "cpu_by_rank": cpu_by_rank,
            "round_trip": rt_ms,
            "stale_to_cancel": stale_to_cancel, "stale_to_zero": stale_to_zero}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--freezes", type=int, default=20)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    with venue_process("--seed", "11") as url:
        out = asyncio.run(run(url, args.seconds, args.freezes))
    print("tick-to-quote, 3 strategies (BTC, ETH, SOL), every index update re-quotes:")
    print("  " + summary("engine part (index arrival -> bulk request leaves)", out["engine"]))
    for rank, ms in out["by_rank"].items():
        print("  " + summary(f"  the {rank}. market to send after the same tick", ms))
    print("  " + summary("with the venue (arrival -> bulk answer parsed)", out["round_trip"]))
    for rank, ms in out["cpu_by_rank"].items():
        print("  " + summary(f"engine CPU (thread time over the engine part), the {rank}. "
                             "market", ms))
    print("stale-feed reaction (freeze_index BTC-PERP, stale_feed_ms 500):")
    print("  " + summary("feed stale -> cancel-all confirmed", out["stale_to_cancel"]))
    print("  " + summary("feed stale -> a poll sees zero resting", out["stale_to_zero"]))


if __name__ == "__main__":
    main()
