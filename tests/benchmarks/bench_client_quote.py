"""`quotes/bulk` through the full client versus a bare `httpx.AsyncClient.post`.

    python -m tests.benchmarks.bench_client_quote [--calls 2000] [--rounds 5]

The venue runs as `desk venue --no-sim` in its own process. Both sides send the
same 5-a-side ladder with cancelAll, back to back on one pooled connection. The
client path includes the body built from domain records, error mapping, the
rate-limit bookkeeping and the response validated into domain records; the bare
path posts the equivalent dict and only reads the JSON. Rounds alternate
(bare, client, bare, client, ...) so both see the same machine weather.
Reported: median round trip of each per round, and the client/bare ratio of the
medians of those.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from decimal import Decimal

import httpx

from desk.domain import Side
from desk.domain.records import QuoteLevel
from desk.ocx.rest import OcxClient
from tests.benchmarks.venue_process import ladder, trade_secret, venue_process


def domain_ladder(raw: list[dict]) -> list[QuoteLevel]:
    return [QuoteLevel(Side(q["side"]), Decimal(q["price"]), Decimal(q["quantity"]),
                       q["clientOrderId"]) for q in raw]


async def bare(url: str, secret: str, calls: int, offset: int) -> float:
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        headers = {"x-api-key": secret}
        times = []
        for i in range(offset, offset + calls):
            body = {"marketId": "BTC-PERP", "quoteId": f"q{i}", "cancelAll": True,
                    "quotes": [{**q, "reduceOnly": False, "timeInForce": "gtc"}
                               for q in ladder(64000, 5, i)]}
            t0 = time.perf_counter()
            r = await http.post("/perps/quotes/bulk", json=body, headers=headers)
            r.json()
            times.append(time.perf_counter() - t0)
            assert r.status_code == 200, r.text
        return statistics.median(times)


async def full(url: str, secret: str, calls: int, offset: int) -> float:
    async with OcxClient(url, api_key=secret) as client:
        times = []
        for i in range(offset, offset + calls):
            levels = domain_ladder(ladder(64000, 5, i))
            t0 = time.perf_counter()
            out = await client.bulk_quote("BTC-PERP", f"q{i}", levels)
            times.append(time.perf_counter() - t0)
            assert len(out.accepted) == 10
        return statistics.median(times)


async def main(calls: int, rounds: int) -> None:
    with venue_process("--no-sim") as url:
        with httpx.Client(base_url=url) as c:
            secret = trade_secret(c)
        await bare(url, secret, 200, 10**6)  # warm up both paths
        await full(url, secret, 200, 2 * 10**6)
        bares, fulls = [], []
        for k in range(rounds):
            bares.append(await bare(url, secret, calls, k * 2 * calls))
            fulls.append(await full(url, secret, calls, (k * 2 + 1) * calls))
            print(f"round {k + 1}: bare {bares[-1] * 1e3:.3f} ms, client "
                  f"{fulls[-1] * 1e3:.3f} ms, ratio {fulls[-1] / bares[-1]:.3f}")
    b, f = statistics.median(bares), statistics.median(fulls)
    print(f"median round trip: bare httpx {b * 1e3:.3f} ms, full client {f * 1e3:.3f} ms; "
          f"client/bare = {f / b:.3f}x (rounds: "
          f"{', '.join(f'{x / y:.3f}' for x, y in zip(fulls, bares, strict=True))})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.calls, args.rounds))
