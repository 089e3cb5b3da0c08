"""What a backtest file holds (TOML), validated with messages that name the field.

```toml
[backtest]
mode = "continuous"        # or "steps" (the papers' setting, see [backtest.steps])
duration = "1h"            # continuous mode: how long each run simulates
seed = 1                   # run i uses seed + i
runs = 1

[venue]                    # every setting of the embedded venue (desk.venue.config):
rate_limit_per_minute = 1200   # markets with tick/step and their [venue.markets.sim]
                               # (volatility, jumps, A, k, informed share, makers...),
                               # fee tiers, starting balance, simulation step
[engine]                   # the engine's own settings, as in desk.toml
[[strategies]]             # one table per strategy: strategy-params.md
```
"""

from __future__ import annotations

import re
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from desk.domain import is_multiple
from desk.engine.config import EngineConfig, StrategyConfig
from desk.venue.config import VenueConfig

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
MAX_STEPS = 50_000_000


class ConfigError(ValueError):
    """A backtest file or flag that cannot be used; the message names the field."""


def parse_duration(text: str | float | int, field: str = "duration") -> float:
    """Seconds from `90`, `"90s"`, `"30m"`, `"1h30m"`, `"250ms"` or `"2d"`."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    else:
        raw = str(text).strip().replace(" ", "")
        try:
            seconds = float(raw)
        except ValueError:
            if not raw or _PART.sub("", raw):
                raise ConfigError(f"{field}: {text!r} is not a duration (e.g. 90s, 30m, "
                                  "1h, 1h30m)") from None
            seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(raw))
    if not seconds > 0:
        raise ConfigError(f"{field}: {text!r} must be longer than zero")
    return seconds


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Steps(_Strict):
    """The papers' setting: a fixed number of steps of `dt_s`, the reference an arithmetic
    random walk with `sigma` (price units per √s), each side of the book hit with
    probability `intensity_a`·exp(−`intensity_k`·δ)·dt per step, δ the distance in price
    units of the best quote on that side from the reference. No background book."""

    count: int = Field(200, ge=1, le=MAX_STEPS, description="steps per run")
    dt_s: float = Field(0.005, gt=0, le=3600, description="step length, whole milliseconds")
    warmup_steps: int = Field(0, ge=0, le=MAX_STEPS,
                              description="steps the reference walks before quoting starts "
                                          "(the volatility estimate needs returns)")
    sigma: float = Field(2.0, ge=0, description="price units per √second")
    intensity_a: float = Field(140.0, ge=0, description="A: hits per second at δ = 0")
    intensity_k: float = Field(1.5, ge=0, description="k: decay per price unit of δ")
    taker_size: Decimal = Field(Decimal(1), gt=0, description="size of each hit")

    @model_validator(mode="after")
    def _whole_ms(self) -> Steps:
        ms = self.dt_s * 1000
        if abs(ms - round(ms)) > 1e-9 or round(ms) < 1:
            raise ValueError(f"dt_s: {self.dt_s} is not a whole number of milliseconds "
                             "(the exchange's clock counts milliseconds)")
        return self

    @property
    def dt_ms(self) -> int:
        return round(self.dt_s * 1000)


class Run(_Strict):
    """`[backtest]`."""

    mode: Literal["continuous", "steps"] = "continuous"
    duration_s: float = Field(3600.0, gt=0, le=366 * 86400,
                              description="continuous mode: simulated time per run")
    seed: int = 1
    runs: int = Field(1, ge=1, le=1_000_000)
    latency_ms: float = Field(0.0, ge=0, le=60_000, description="added to every venue call")
    sample_s: float | None = Field(None, gt=0, description="PnL/inventory sampling period "
                                                           "(default: 1 s, or every step)")
    steps: Steps = Field(default_factory=Steps)


class BacktestConfig(_Strict):
    backtest: Run = Field(default_factory=Run)
    venue: VenueConfig = Field(default_factory=VenueConfig)
    engine: EngineConfig = Field(default_factory=EngineConfig)
    strategies: list[StrategyConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> BacktestConfig:
        markets = {m.market_id for m in self.venue.markets}
        names: set[str] = set()
        quoted: dict[str, str] = {}
        for i, s in enumerate(self.strategies):
            where = f"strategies[{i}] ({s.name})"
            if s.market_id not in markets:
                raise ValueError(f"{where}.market_id: {s.market_id} is not a market of the "
                                 f"venue ({', '.join(sorted(markets))})")
            if s.name in names:
                raise ValueError(f"{where}.name: another strategy is called {s.name!r}")
            if s.market_id in quoted:
                raise ValueError(f"{where}.market_id: {s.market_id} is already quoted by "
                                 f"{quoted[s.market_id]!r} (one running strategy per market)")
            if s.hedge_venue != "internal":
                raise ValueError(f"{where}.hedge_venue: the backtest has one venue; "
                                 "'internal' is the only hedge venue it can simulate")
            names.add(s.name)
            quoted[s.market_id] = s.name
        if self.backtest.mode == "steps":
            size = self.backtest.steps.taker_size
            for m in self.venue.markets:
                if not is_multiple(size, m.step_size):
                    raise ValueError(f"backtest.steps.taker_size: {size} is not a multiple "
                                     f"of {m.market_id}'s step_size {m.step_size}")
        return self

    @property
    def sample_s(self) -> float:
        b = self.backtest
        if b.sample_s is not None:
            return b.sample_s
        return b.steps.dt_s if b.mode == "steps" else 1.0

    @property
    def step_s(self) -> float:
        b = self.backtest
        return b.steps.dt_s if b.mode == "steps" else self.venue.sim_step_ms / 1000

    @property
    def step_count(self) -> int:
        """Steps after the warm-up."""
        b = self.backtest
        if b.mode == "steps":
            return b.steps.count
        return max(1, round(b.duration_s / self.step_s))

    @property
    def warmup_steps(self) -> int:
        b = self.backtest
        return b.steps.warmup_steps if b.mode == "steps" else 0

    def with_overrides(self, duration: str | None = None, seed: int | None = None,
                       runs: int | None = None) -> BacktestConfig:
        """The command line's flags over the file's `[backtest]`."""
        changes: dict[str, Any] = {}
        if duration is not None:
            if self.backtest.mode == "steps":
                raise ConfigError("--duration: this file runs in steps mode, whose length is "
                                  "backtest.steps.count × dt_s; change those instead")
            changes["duration_s"] = parse_duration(duration, "--duration")
        if seed is not None:
            changes["seed"] = seed
        if runs is not None:
            changes["runs"] = runs
        if not changes:
            return self
        try:
            return validate({**self.model_dump(), "backtest": {**self.backtest.model_dump(),
                                                                **changes}})
        except ConfigError as err:  # name the flag that brought the value
            raise ConfigError(str(err).replace("backtest.duration_s", "--duration")
                              .replace("backtest.runs", "--runs")) from None


def _problems(err: ValidationError) -> str:
    out = []
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        out.append(f"{where}: {msg}" if where else msg)
    return "; ".join(out)


def validate(data: dict[str, Any]) -> BacktestConfig:
    data = dict(data)
    run = data.get("backtest")
    if isinstance(run, dict) and "duration" in run:
        run = dict(run)
        run["duration_s"] = parse_duration(run.pop("duration"), "backtest.duration")
        data["backtest"] = run
    try:
        return BacktestConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_problems(err)) from None


def load(path: Path) -> BacktestConfig:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"--config: no such file {str(path)!r}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"--config: cannot read {str(path)!r}: {err}") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid TOML: values nested too deeply") from None
    try:
        return validate(data)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None
