"""Book-stream events per second delivered to one httpx-sse consumer.

    python -m tests.benchmarks.bench_book_stream [--seconds 5] [--drivers 2]

The venue runs as `desk venue --no-sim` in its own process. Driver processes
replace a 5x2 ladder on BTC-PERP as fast as they can (each replace changes the
book); the consumer reads `book-stream?intervalMs=0` (push on every change,
coalescing whatever piled up meanwhile) and counts `update` events. Reported:
events/s delivered, book changes/s driven, and the id check (every id consecutive).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time

import httpx
from httpx_sse import connect_sse

from tests.benchmarks.venue_process import ladder, trade_secret, venue_process


def drive(url: str, seconds: float, name: str, out: mp.Queue) -> None:
    with httpx.Client(base_url=url, timeout=10) as client:
        headers = {"x-api-key": trade_secret(client, name)}
        n = 0
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            client.post("/perps/quotes/bulk", headers=headers,
                        json={"marketId": "BTC-PERP", "quoteId": f"{name}{n}", "cancelAll": True,
                              "quotes": ladder(64000 + hash(name) % 7, 5, n)})
            n += 1
        out.put(n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--drivers", type=int, default=2)
    args = parser.parse_args()
    with venue_process("--no-sim") as url, httpx.Client(base_url=url, timeout=30) as client:
        results: mp.Queue = mp.Queue()
        with connect_sse(client, "GET", "/perps/book-stream",
                         params={"marketId": "BTC-PERP", "depth": 25, "intervalMs": 0}) as es:
            events = es.iter_sse()
            first = next(events)
            assert first.event == "snapshot"
            drivers = [mp.Process(target=drive, args=(url, args.seconds, f"d{i}", results))
                       for i in range(args.drivers)]
            for p in drivers:
                p.start()
            last_id = int(first.id)
            updates = gaps = 0
            start = time.perf_counter()
            for sse in events:
                if not sse.data:
                    continue  # a heartbeat surfacing as an empty message
                gaps += int(sse.id) != last_id + 1
                last_id = int(sse.id)
                updates += 1
                if time.perf_counter() - start >= args.seconds:
                    break
            elapsed = time.perf_counter() - start
        for p in drivers:
            p.join()
        replaces = sum(results.get() for _ in drivers)
    print(f"book-stream: {updates / elapsed:,.0f} update events/s delivered to one consumer "
          f"({updates} in {elapsed:.1f} s); {replaces / args.seconds:,.0f} ladder replaces/s "
          f"driven by {args.drivers} processes; id gaps: {gaps}")


if __name__ == "__main__":
    main()
