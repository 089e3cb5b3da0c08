"""Book updates per second folded into local state by one consumer.

    python -m tests.benchmarks.bench_stream_ingest [--updates 100000] [--repeats 3]

1. Over the wire: a firehose process (`sse_firehose`) sends a snapshot and N
   updates as fast as it can; one `BookStream` (httpx-sse, id checks, pydantic
   validation, fold into the sorted book) consumes them. Figure: N / the time
   from the snapshot to the last update folded.
2. The fold alone: the same messages through `LocalBook.fold` in a loop, no I/O.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time

import httpx

from desk.ocx.config import ClientConfig
from desk.ocx.state import LocalBook
from desk.ocx.streams import BookStream
from tests.benchmarks.sse_firehose import frames


async def over_the_wire(url: str, n: int) -> float:
    async with httpx.AsyncClient(base_url=url) as http:
        stream = BookStream(http, "BTC-PERP", ClientConfig()).start()
        await stream.wait_live(10)
        t0 = time.perf_counter()
        while stream.book.updates < n + 1:
            await asyncio.sleep(0.005)
        elapsed = time.perf_counter() - t0
        assert stream.gaps == 0 and stream.bad_messages == 0
        await stream.stop()
        return n / elapsed


def fold_only(n: int) -> float:
    messages = []
    for part in frames(n):
        for block in part.decode().split("\n\n"):
            if block:
                lines = dict(line.split(": ", 1) for line in block.split("\n"))
                messages.append((lines["event"], lines["data"]))
    book = LocalBook("BTC-PERP")
    t0 = time.perf_counter()
    for i, (event, data) in enumerate(messages):
        book.fold(event, data, i == 0)
    return n / (time.perf_counter() - t0)


def main(n: int, repeats: int) -> None:
    wire, local = [], []
    for _ in range(repeats):
        proc = subprocess.Popen([sys.executable, "-m", "tests.benchmarks.sse_firehose", str(n)],
                                stdout=subprocess.PIPE, text=True)
        try:
            url = proc.stdout.readline().strip().removeprefix("listening on ")
            wire.append(asyncio.run(over_the_wire(url, n)))
        finally:
            proc.terminate()
            proc.wait(10)
        local.append(fold_only(n))
    print(f"over the wire: {statistics.median(wire):,.0f} updates/s folded "
          f"(runs: {', '.join(f'{x:,.0f}' for x in wire)})")
    print(f"fold alone:    {statistics.median(local):,.0f} updates/s "
          f"(runs: {', '.join(f'{x:,.0f}' for x in local)})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--updates", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    main(args.updates, args.repeats)
