"""What the screen costs the engine: building the `DeskView` snapshot, which the host
does on the engine's own loop 10 times a second (so each one can delay a quote).

    python -m tests.benchmarks.bench_view [--seconds 20]

A real desk (`EngineHost`: embedded venue child process, three default strategies,
`sim_step_ms` 20) runs for --seconds with every `Monitor.snapshot` call timed.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from desk.engine import view
from desk.host import EngineHost
from tests.benchmarks.desk_support import desk_settings, pct


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    times: list[float] = []
    build = view.Monitor.snapshot

    def timed(self: view.Monitor) -> view.DeskView:
        t = time.perf_counter()
        out = build(self)
        times.append((time.perf_counter() - t) * 1000)
        return out

    view.Monitor.snapshot = timed  # type: ignore[method-assign]
    with tempfile.TemporaryDirectory(prefix="bench-view-") as tmp:
        settings, config = desk_settings(Path(tmp), {"sim_step_ms": 20})
        host = EngineHost(settings, config_path=config, seed=1)
        try:
            host.start()
            time.sleep(args.seconds)
        finally:
            host.stop()
    print(f"DeskView snapshot on the engine's loop: n={len(times)} "
          f"p50 {statistics.median(times):.3f} ms, p99 {pct(times, 0.99):.3f} ms, "
          f"max {max(times):.3f} ms")


if __name__ == "__main__":
    main()
