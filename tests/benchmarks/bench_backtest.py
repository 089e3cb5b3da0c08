"""Backtest speed: simulated events per second through the engine and the venue core on
one core, and the wall time of 1,000 runs of the Avellaneda–Stoikov example.

    python -m tests.benchmarks.bench_backtest [--part events|batch|both] [--repeat 3]

- events: the continuous example (two strategies, BTC-PERP and ETH-PERP, 100 ms market
  steps, 1 ms latency) for --minutes of simulated time, one run at a time in this
  process; "events" are the price updates, orders, cancels and fills the exchange core
  handled. Reported per repeat, then the median.
- batch: `desk backtest` on desk/backtest/examples/avellaneda_stoikov.toml with
  --runs 1000 (200 steps after a 200-step warm-up), workers one per core. Aim: under
  30 s on this machine (2 cores).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from desk.backtest import batch, config
from desk.backtest.run import run_one

EXAMPLES = Path(__file__).resolve().parents[2] / "desk" / "backtest" / "examples"


def events(minutes: float, repeat: int) -> None:
    cfg = config.load(EXAMPLES / "continuous.toml").with_overrides(duration=f"{minutes}m")
    rates, sims = [], []
    for i in range(repeat):
        cpu, wall = time.process_time(), time.perf_counter()
        result = run_one(cfg, 1 + i)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        rates.append(result.events / cpu)
        sims.append(cfg.backtest.duration_s / wall)
        print(f"  run seed {1 + i}: {result.events:,} events, {result.cycles:,} quoting "
              f"cycles, {result.steps:,} steps in {wall:.2f} s wall / {cpu:.2f} s CPU: "
              f"{result.events / cpu:,.0f} events/s, {cfg.backtest.duration_s / wall:.0f}x "
              "real time")
    print(f"events: median {statistics.median(rates):,.0f} simulated events per CPU second "
          f"(one core), {statistics.median(sims):.0f}x real time, n={repeat}")


def batch_wall(repeat: int) -> None:
    cfg = config.load(EXAMPLES / "avellaneda_stoikov.toml").with_overrides(runs=1000)
    walls = []
    for _ in range(repeat):
        report = batch.run_many(cfg)
        walls.append(report.wall_s)
        stats = report.stats()["AS inventory"]
        print(f"  1,000 runs on {report.workers} workers: {report.wall_s:.1f} s "
              f"(PnL {stats['final_pnl'].mean:.2f} ± {stats['final_pnl'].std:.2f}, "
              f"inventory {stats['final_inventory'].mean:.2f} ± "
              f"{stats['final_inventory'].std:.2f})")
    print(f"batch: 1,000 runs x 200 steps of the AS example: median {statistics.median(walls):.1f}"
          f" s wall on {os.cpu_count()} cores (aim: under 30 s), n={repeat}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("events", "batch", "both"), default="both")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--minutes", type=float, default=10.0)
    args = parser.parse_args()
    if args.part in ("events", "both"):
        events(args.minutes, args.repeat)
    if args.part in ("batch", "both"):
        batch_wall(args.repeat)


if __name__ == "__main__":
    main()
