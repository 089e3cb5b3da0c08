"""Time from an injected `drop_streams` to re-snapshotted live streams.

    python -m tests.benchmarks.bench_reconnect [--drops 50]

The venue runs as `desk venue --no-sim` in its own process. A user stream and a
book stream are live; each round injects `drop_streams` through `/sim/faults`
and times until both have reconnected and applied a fresh snapshot. The figure
includes the reconnect backoff's first jittered wait (uniform in
[0, 2·reconnect_base_s]), so it is reported for the default base (50 ms) and for
a 5 ms base. Streams are left up `stable_after_s` between drops, so every drop
meets a stream whose backoff has started afresh.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import time

import httpx

from desk.ocx.config import ClientConfig
from desk.ocx.rest import OcxClient
from desk.ocx.streams import BookStream, UserStream
from tests.benchmarks.venue_process import trade_secret, venue_process


async def rounds(url: str, secret: str, session: str, drops: int, base_s: float) -> list[float]:
    cfg = ClientConfig(reconnect_base_s=base_s)
    async with OcxClient(url, api_key=secret, session=session, config=cfg) as client:
        streams = [UserStream(client.http, cfg, client.key_auth).start(),
                   BookStream(client.http, "BTC-PERP", cfg).start()]
        for s in streams:
            await s.wait_live()
        times = []
        for _ in range(drops):
            await asyncio.sleep(cfg.stable_after_s)  # a stable stream, as in real life
            before = [s.connects for s in streams]
            t0 = time.perf_counter()
            await client.inject_fault("drop_streams")
            while not all(s.connects > b and s.folder.trusted
                          for s, b in zip(streams, before, strict=True)):
                await asyncio.sleep(0.0005)
            times.append(time.perf_counter() - t0)
        for s in streams:
            await s.stop()
        return times


def pct(xs: list[float], q: float) -> float:
    return sorted(xs)[min(len(xs) - 1, int(q * len(xs)))]


def main(drops: int) -> None:
    logging.getLogger("desk.ocx").setLevel(logging.ERROR)  # one warning a reconnect
    with venue_process("--no-sim") as url:
        with httpx.Client(base_url=url) as c:
            secret = trade_secret(c)
            session = c.post("/auth/dev-session", json={"account": "bench"}).json()["token"]
        for base in (0.05, 0.005):
            times = asyncio.run(rounds(url, secret, session, drops, base))
            print(f"reconnect_base_s={base}: drop → both streams re-snapshotted: "
                  f"p50 {statistics.median(times) * 1e3:.1f} ms, "
                  f"p99 {pct(times, 0.99) * 1e3:.1f} ms ({drops} drops)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--drops", type=int, default=50)
    main(parser.parse_args().drops)
