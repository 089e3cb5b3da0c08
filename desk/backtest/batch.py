"""Many runs of one backtest, spread over worker processes.

Run i has seed `seed + i`, so any run of a batch can be replayed alone with
`--seed seed+i --runs 1`, and a batch gives the same report however many workers
it had. Each worker gets the config once and then runs seeds in chunks; the
progress callback hears of every finished run. The first run keeps its PnL and
inventory series for the chart.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Callable

from desk.backtest.config import BacktestConfig
from desk.backtest.report import Report
from desk.backtest.run import RunResult, run_one

Progress = Callable[[int, int], None]  # (runs done, runs in all)

_config: BacktestConfig | None = None


def _init(config: BacktestConfig) -> None:
    global _config
    _config = config
    # ctrl+c is the parent's to handle: it stops handing out runs and reports it
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _chunk(job: tuple[list[int], int]) -> list[RunResult]:
    seeds, keep_first = job
    assert _config is not None
    return [run_one(_config, s, keep_series=s == keep_first) for s in seeds]


def default_workers(runs: int) -> int:
    return max(1, min(runs, os.cpu_count() or 1))


def run_many(config: BacktestConfig, workers: int | None = None,
             progress: Progress | None = None) -> Report:
    b = config.backtest
    seeds = [b.seed + i for i in range(b.runs)]
    workers = default_workers(b.runs) if workers is None else max(1, min(workers, b.runs))
    started = time.perf_counter()
    results: dict[int, RunResult] = {}
    if workers == 1:
        for seed in seeds:
            results[seed] = run_one(config, seed, keep_series=seed == seeds[0])
            if progress is not None:
                progress(len(results), len(seeds))
    else:
        size = max(1, min(50, len(seeds) // (workers * 8)))
        chunks = [(seeds[i:i + size], seeds[0]) for i in range(0, len(seeds), size)]
        # spawn: a fresh interpreter per worker, whatever threads this process runs; the
        # pool is terminated on leaving the block, so ctrl+c or a failed run stops the
        # workers at once instead of waiting for every chunk
        context = multiprocessing.get_context("spawn")
        with context.Pool(workers, initializer=_init, initargs=(config,)) as pool:
            for chunk in pool.imap_unordered(_chunk, chunks):
                for result in chunk:
                    results[result.seed] = result
                if progress is not None:
                    progress(len(results), len(seeds))
    runs = [results[s] for s in seeds]
    return Report(runs, config.model_dump(mode="json"), time.perf_counter() - started, workers)
