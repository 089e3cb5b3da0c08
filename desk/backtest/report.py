"""The report of a backtest: per strategy, the mean and standard deviation across runs of
each statistic; the runs themselves; a chart of one run. As text for a terminal, as
JSON for a program.

The standard deviation is the sample one (n − 1); with a single run it is not
defined and shows as "–" (null in JSON). The spread captured is averaged over the
runs that had fills ("–" if none had).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from desk.backtest.run import RunResult

# (statistic, heading, format) in the order the report shows them
STATS: tuple[tuple[str, str, str], ...] = (
    ("final_pnl", "final PnL", "{:,.2f}"),
    ("final_inventory", "final inventory", "{:,.4g}"),
    ("fills", "fills", "{:,.1f}"),
    ("volume", "volume", "{:,.2f}"),
    ("spread_captured_bps", "spread captured (bps/fill)", "{:,.2f}"),
    ("max_drawdown", "max drawdown", "{:,.2f}"),
    ("breaker_trips", "breaker trips", "{:,.2f}"),
)


@dataclass(frozen=True)
class Stat:
    mean: float
    std: float | None
    min: float
    max: float


def summarise(values: list[float | None]) -> Stat | None:
    """Over the runs that have the value (a run with no fills has no spread captured);
    None when none has it."""
    values = [v for v in values if v is not None]
    n = len(values)
    if n == 0:
        return None
    mean = math.fsum(values) / n
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else None
    return Stat(mean, std, min(values), max(values))


@dataclass(frozen=True)
class Report:
    runs: list[RunResult]
    config: dict[str, Any]      # the backtest as run (JSON-safe)
    wall_s: float               # the whole batch
    workers: int

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.runs[0].strategies]

    def stats(self) -> dict[str, dict[str, Stat | None]]:
        """{strategy: {statistic: Stat}} across runs."""
        out: dict[str, dict[str, Stat]] = {}
        for i, name in enumerate(self.names):
            rows = [r.strategies[i] for r in self.runs]
            out[name] = {key: summarise([_number(getattr(s, key)) for s in rows])
                         for key, _, _ in STATS}
        return out

    def deadman(self) -> Stat:
        stat = summarise([float(r.deadman_trips) for r in self.runs])
        assert stat is not None  # every run has a count
        return stat

    def events(self) -> int:
        return sum(r.events for r in self.runs)

    def to_json(self) -> dict[str, Any]:
        charted = next((r for r in self.runs if r.series is not None), None)
        return {
            "config": self.config,
            "runs": len(self.runs),
            "seeds": [r.seed for r in self.runs],
            "wall_s": round(self.wall_s, 3),
            "workers": self.workers,
            "simulated_events": self.events(),
            "summary": {name: {k: None if v is None else asdict(v) for k, v in stats.items()}
                        for name, stats in self.stats().items()},
            "deadman_trips": asdict(self.deadman()),
            "per_run": [{"seed": r.seed, "deadman_trips": r.deadman_trips, "events": r.events,
                         "cycles": r.cycles, "steps": r.steps,
                         "strategies": [asdict(s) for s in r.strategies]}
                        for r in self.runs],
            "chart_run": None if charted is None else {
                "seed": charted.seed, **asdict(charted.series)},
        }


def _number(value: float | int | None) -> float | None:
    return None if value is None else float(value)


def _cell(fmt: str, value: float | None) -> str:
    return "–" if value is None else fmt.format(value)


def table_rows(report: Report) -> list[tuple[str, str, str, str]]:
    """(strategy, statistic, mean, std) rows, as the text report and the desk show them."""
    rows = []
    for name, stats in report.stats().items():
        for key, heading, fmt in STATS:
            st = stats[key]
            rows.append((name, heading, _cell(fmt, st and st.mean), _cell(fmt, st and st.std)))
    return rows


def render_text(report: Report) -> str:
    """The report as plain text: the table, the dead-man line, the figures of the batch."""
    rows = table_rows(report)
    heads = ("strategy", "statistic", "mean", "std")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(heads)]
    line = "  ".join(h.ljust(w) if i < 2 else h.rjust(w)
                     for i, (h, w) in enumerate(zip(heads, widths, strict=True)))
    out = [line, "  ".join("-" * w for w in widths)]
    last = None
    for row in rows:
        name = row[0] if row[0] != last else ""
        last = row[0]
        cells = (name, *row[1:])
        out.append("  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                             for i, (c, w) in enumerate(zip(cells, widths, strict=True))))
    d = report.deadman()
    out.append("")
    out.append(f"dead-man trips per run: mean {d.mean:.2f}, max {d.max:.0f}")
    n = len(report.runs)
    seeds = report.runs[0].seed if n == 1 else f"{report.runs[0].seed}..{report.runs[-1].seed}"
    out.append(f"{n} run{'s' if n != 1 else ''} (seed {seeds}), "
               f"{report.events():,} simulated events in {report.wall_s:.2f} s "
               f"on {report.workers} worker{'s' if report.workers != 1 else ''}")
    return "\n".join(out)


def render_chart(report: Report, width: int = 100, height: int = 24) -> str | None:
    """PnL and inventory of the charted run, one line per strategy (plotext, as text)."""
    run = next((r for r in report.runs if r.series is not None), None)
    if run is None or run.series is None or len(run.series.t) < 2:
        return None
    import plotext as plt

    s = run.series
    plt.clear_figure()
    plt.plotsize(width, height)
    plt.theme("clear")
    plt.subplots(2, 1)
    plt.subplot(1, 1)
    plt.title(f"PnL, run seed {run.seed}")
    for name, values in s.pnl.items():
        plt.plot(s.t, values, label=name)
    plt.subplot(2, 1)
    plt.title("inventory")
    plt.xlabel("seconds since quoting started")
    for name, values in s.inventory.items():
        plt.plot(s.t, values, label=name)
    text = plt.build()
    plt.clear_figure()
    return text
