"""Core matching throughput, in-process (no I/O): order operations per second.

    python -m tests.benchmarks.bench_matching [--ops 200000] [--repeats 5]

Scenarios (each repeated, the median reported):
- rest+cancel: place a resting limit order, then cancel it (2 ops per pair);
- bulk replace: quotes/bulk with cancelAll, 5 levels a side (1 op per level placed
  or cancelled);
- taker: a market order that matches one resting order (1 op; makers replenished
  outside the timed section).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from decimal import Decimal

from desk.domain import OrderType, Side
from desk.venue.config import VenueConfig
from desk.venue.exchange import Exchange, OrderRequest


class Ticker:
    def __init__(self) -> None:
        self.ms = 1_767_225_600_000

    def __call__(self) -> int:
        return self.ms


def fresh() -> Exchange:
    ex = Exchange(VenueConfig(sim_enabled=False), Ticker(), random.Random(1))
    ex.open_account("a", balance=Decimal("1e12"))
    ex.open_account("b", balance=Decimal("1e12"))
    return ex


def rest_cancel(n: int) -> float:
    ex = fresh()
    reqs = [OrderRequest(Side.BUY if i % 2 else Side.SELL, Decimal("0.01"),
                         Decimal(63000 + (i % 50)) if i % 2 else Decimal(65000 + (i % 50)))
            for i in range(256)]
    pairs = n // 2
    start = time.perf_counter()
    for i in range(pairs):
        order, _ = ex.place_order("a", "BTC-PERP", reqs[i & 255])
        ex.cancel_order("a", order.order_id)
    return pairs * 2 / (time.perf_counter() - start)


def bulk_replace(n: int) -> float:
    ex = fresh()
    ladders = []
    for k in range(10):
        levels = []
        for i in range(5):
            levels.append(OrderRequest(Side.BUY, Decimal("0.01"),
                                       Decimal(63990 - i * 5 + k), post_only=True))
            levels.append(OrderRequest(Side.SELL, Decimal("0.01"),
                                       Decimal(64010 + i * 5 + k), post_only=True))
        ladders.append(levels)
    calls = n // 20
    start = time.perf_counter()
    for i in range(calls):
        ex.bulk_quote("a", "BTC-PERP", f"q{i}", True, ladders[i % 10])
    elapsed = time.perf_counter() - start
    return calls * 20 / elapsed  # 10 placed + 10 cancelled per call


def taker(n: int) -> float:
    ex = fresh()
    batch = 1000
    done = 0
    elapsed = 0.0
    take = OrderRequest(Side.BUY, Decimal("0.01"), type=OrderType.MARKET)
    while done < n:
        for i in range(batch):
            ex.place_order("a", "BTC-PERP",
                           OrderRequest(Side.SELL, Decimal("0.01"), Decimal(64000 + i % 20)))
        start = time.perf_counter()
        for _ in range(batch):
            ex.place_order("b", "BTC-PERP", take)
        elapsed += time.perf_counter() - start
        done += batch
    return done / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    for name, fn in (("rest+cancel", rest_cancel), ("bulk replace (5x2)", bulk_replace),
                     ("taker match", taker)):
        runs = [fn(args.ops) for _ in range(args.repeats)]
        print(f"{name:20s} median {statistics.median(runs):>10,.0f} ops/s "
              f"(min {min(runs):,.0f}, max {max(runs):,.0f}, {args.repeats} runs)")


if __name__ == "__main__":
    main()
