"""quotes/bulk round trips over loopback: 5 levels a side with cancelAll.

    python -m tests.benchmarks.bench_bulk_http [--calls 3000] [--repeats 3]

The venue runs as `desk venue --no-sim` in its own process (so client and server
do not share a GIL). One pooled client sends the calls back to back; the
server's own handling time is read from each response's `Server-Timing` header.
Reported: round trips per second (median of the repeats) and server time p50/p99
over all calls, for a sync `httpx.Client` and an `httpx.AsyncClient`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import httpx

from tests.benchmarks.venue_process import ladder, trade_secret, venue_process


def server_ms(response: httpx.Response) -> float:
    return float(response.headers["server-timing"].split("dur=")[1])


def run_sync(url: str, calls: int) -> tuple[float, list[float]]:
    with httpx.Client(base_url=url, timeout=10) as client:
        headers = {"x-api-key": trade_secret(client, "sync")}
        bodies = [{"marketId": "BTC-PERP", "quoteId": f"q{i}", "cancelAll": True,
                   "quotes": ladder(64000, 5, i)} for i in range(calls)]
        for body in bodies[:50]:  # warm up
            client.post("/perps/quotes/bulk", json=body, headers=headers)
        times = []
        start = time.perf_counter()
        for body in bodies:
            r = client.post("/perps/quotes/bulk", json=body, headers=headers)
            times.append(server_ms(r))
        elapsed = time.perf_counter() - start
        assert r.status_code == 200 and len(r.json()["accepted"]) == 10, r.text
        return calls / elapsed, times


async def run_async(url: str, calls: int) -> tuple[float, list[float]]:
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        token = (await client.post("/auth/dev-session", json={"account": "async"})).json()
        r = await client.post("/perps/me/api-keys", json={"name": "b", "scope": "trade"},
                              headers={"Authorization": f"Bearer {token['token']}"})
        headers = {"x-api-key": r.json()["secret"]}
        bodies = [{"marketId": "BTC-PERP", "quoteId": f"q{i}", "cancelAll": True,
                   "quotes": ladder(64000, 5, i)} for i in range(calls)]
        for body in bodies[:50]:
            await client.post("/perps/quotes/bulk", json=body, headers=headers)
        times = []
        start = time.perf_counter()
        for body in bodies:
            r = await client.post("/perps/quotes/bulk", json=body, headers=headers)
            times.append(server_ms(r))
        elapsed = time.perf_counter() - start
        assert r.status_code == 200, r.text
        return calls / elapsed, times


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with venue_process("--no-sim") as url:
        for name, runner in (("sync httpx.Client", lambda: run_sync(url, args.calls)),
                             ("httpx.AsyncClient",
                              lambda: asyncio.run(run_async(url, args.calls)))):
            rates, all_times = [], []
            for _ in range(args.repeats):
                rate, times = runner()
                rates.append(rate)
                all_times += times
            print(f"{name:18s} {statistics.median(rates):7.0f} round trips/s (median of "
                  f"{args.repeats}); server time p50 {pct(all_times, 0.5):.3f} ms, "
                  f"p99 {pct(all_times, 0.99):.3f} ms over {len(all_times)} calls")


if __name__ == "__main__":
    main()
