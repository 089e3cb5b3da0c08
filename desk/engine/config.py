"""The strategy model: every parameter of `strategy-params.md`, validated, with its default.

A bad value is a `pydantic.ValidationError` whose location is the field at
fault. Rules that tie two fields together are checked on the field a user
would change to fix them (so an editor can put the message next to it):
`base_spread_bps` must lie between `min_spread_bps` and `max_spread_bps`,
`soft_position_limit` below `max_position`, `hedge_target` below
`hedge_threshold`, and so on. `errors_by_field()` turns an error into
`{field: message}` for forms and command lines.

Sizes, positions and money are `Decimal`; model parameters (γ, k, A, σ
multipliers) are floats. Spreads are total (bid to ask) in basis points.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from desk.domain import MAX_INT_DIGITS

SpreadModel = Literal["fixed", "volatility", "inventory", "avellaneda_stoikov", "glft"]
SkewModel = Literal["linear", "exponential", "step"]
HedgeAlgo = Literal["market", "twap", "vwap"]
HedgeVenue = Literal["internal", "external", "both"]

D = Decimal

# The groups of strategy-params.md, in order: the editor and the docs follow them.
GROUPS: dict[str, tuple[str, ...]] = {
    "Identity": ("name", "market_id", "enabled"),
    "Spread": ("spread_model", "min_spread_bps", "max_spread_bps", "base_spread_bps",
               "volatility_multiplier", "volatility_window_minutes", "risk_aversion",
               "order_arrival_k", "arrival_intensity_a", "horizon_seconds"),
    "Quotes": ("min_quote_size", "max_quote_size", "quote_size", "quote_refresh_seconds",
               "requote_threshold_bps", "quote_layers", "layer_spacing_bps",
               "layer_size_multiplier", "post_only"),
    "Inventory": ("max_position", "target_position", "skew_factor", "skew_model",
                  "skew_exponent", "skew_step_size", "soft_position_limit",
                  "position_reduction_factor"),
    "Risk": ("circuit_breaker_enabled", "max_daily_loss", "max_hourly_loss",
             "max_drawdown_percent", "max_volatility_pause", "volatility_threshold",
             "pause_on_error", "max_consecutive_errors", "auto_resume_enabled",
             "resume_delay_minutes", "stale_feed_ms"),
    "Hedging": ("auto_hedge_enabled", "hedge_threshold", "hedge_target", "hedge_algo",
                "hedge_duration_minutes", "hedge_venue"),
}


# a number's size: below 10**15 (what the wire carries: MAX_INT_DIGITS), and 0 or at
# least 10**-15 (finer than any parameter means)
MAX_EXP, MIN_EXP = MAX_INT_DIGITS, -15


def _as_decimal(v: Any) -> Decimal | None:
    """`v` as a number to range-check, without arithmetic on its size; None if it is not
    a number (pydantic's own checks then say what is wrong)."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return D(10) ** 40 if v.bit_length() > 128 else D(v)
    if isinstance(v, Decimal):
        return v
    if isinstance(v, float):
        return None if v != v or v in (float("inf"), float("-inf")) else D(repr(v))
    if isinstance(v, str):
        try:
            return D(v.strip())
        except ArithmeticError:
            return None
    return None


class InputError(ValueError):
    """A refusal from a whole-model check that belongs to one input (`asset`, which is
    not a field of its own)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def _need(info: ValidationInfo, *names: str) -> list[Any] | None:
    """The already-validated values of `names`, or None if one of them failed."""
    if any(n not in info.data for n in names):
        return None
    return [info.data[n] for n in names]


def _at_least(v: Decimal, info: ValidationInfo, other: str) -> Decimal:
    got = _need(info, other)
    if got and v < got[0]:
        raise ValueError(f"must be at least {other} ({got[0]})")
    return v


def _below(v: Decimal, info: ValidationInfo, other: str, why: str = "") -> Decimal:
    got = _need(info, other)
    if got and v >= got[0]:
        raise ValueError(f"must be below {other} ({got[0]}){why}")
    return v


def _between(v: Decimal, info: ValidationInfo, low: str, high: str) -> Decimal:
    got = _need(info, low, high)
    if got and not got[0] <= v <= got[1]:
        raise ValueError(f"must lie between {low} ({got[0]}) and {high} ({got[1]})")
    return v


class StrategyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    # --- Identity
    name: str = Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f]+$")
    market_id: str = Field(min_length=1, max_length=32, pattern=r"^[A-Z0-9]+-[A-Z0-9]+$",
                           description="e.g. BTC-PERP; `asset: BTC` means BTC-PERP")
    enabled: bool = True

    # --- Spread (total bid-to-ask, bps)
    spread_model: SpreadModel = "fixed"
    min_spread_bps: Decimal = Field(D(5), gt=0, le=10_000, description="floor")
    max_spread_bps: Decimal = Field(D(50), gt=0, le=10_000, description="ceiling")
    base_spread_bps: Decimal = Field(D(10), gt=0, le=10_000)
    volatility_multiplier: float = Field(1.0, ge=0, le=1000,
                                         description="spread widening per 1% realised vol")
    volatility_window_minutes: float = Field(30.0, gt=0, le=24 * 60)
    risk_aversion: float = Field(0.1, gt=0, le=1e6, description="gamma")
    order_arrival_k: float = Field(1.5, gt=0, le=1e6, description="k, per price unit")
    arrival_intensity_a: float = Field(140.0, gt=0, le=1e9, description="A, fills per second")
    horizon_seconds: float = Field(0.0, ge=0, le=366 * 86400, description="T; 0 = infinite")

    # --- Quotes
    min_quote_size: Decimal = Field(D("0.1"), gt=0)
    max_quote_size: Decimal = Field(D("5.0"), gt=0)
    quote_size: Decimal = Field(D("1.0"), gt=0)
    quote_refresh_seconds: float = Field(5.0, gt=0, le=3600)
    requote_threshold_bps: Decimal = Field(D(2), ge=0, le=10_000)
    quote_layers: int = Field(1, ge=1, le=5)
    layer_spacing_bps: Decimal = Field(D(5), ge=0, le=10_000)
    layer_size_multiplier: Decimal = Field(D("1.0"), gt=0, le=100)
    post_only: bool = True

    # --- Inventory
    max_position: Decimal = Field(D("10.0"), gt=0, description="hard limit, absolute")
    target_position: Decimal = D("0.0")
    skew_factor: Decimal = Field(D("0.5"), ge=0, le=10_000,
                                 description="bps per unit of (position - target)")
    skew_model: SkewModel = "linear"
    skew_exponent: float = Field(1.5, gt=0, le=10)
    skew_step_size: Decimal = Field(D("1.0"), gt=0)
    soft_position_limit: Decimal = Field(D("7.0"), gt=0)
    position_reduction_factor: Decimal = Field(D("0.5"), ge=0, le=1)

    # --- Risk
    circuit_breaker_enabled: bool = True
    max_daily_loss: Decimal = Field(D(5000), gt=0, description="quote currency")
    max_hourly_loss: Decimal = Field(D(1000), gt=0, description="quote currency")
    max_drawdown_percent: float = Field(5.0, gt=0, le=100)
    max_volatility_pause: bool = False
    volatility_threshold: float = Field(5.0, gt=0, le=1000, description="% realised")
    pause_on_error: bool = True
    max_consecutive_errors: int = Field(5, ge=1, le=1000)
    auto_resume_enabled: bool = False
    resume_delay_minutes: float = Field(30.0, ge=0, le=7 * 24 * 60)
    stale_feed_ms: int = Field(2000, ge=50, le=3_600_000)

    # --- Hedging
    auto_hedge_enabled: bool = False
    hedge_threshold: Decimal = Field(D("5.0"), gt=0)
    hedge_target: Decimal = Field(D("2.0"), ge=0)
    hedge_algo: HedgeAlgo = "market"
    hedge_duration_minutes: float = Field(30.0, gt=0, le=24 * 60)
    hedge_venue: HedgeVenue = "internal"

    @model_validator(mode="before")
    @classmethod
    def _asset(cls, data: Any) -> Any:
        """`asset: BTC` (the seed client's spelling) means market BTC-PERP."""
        if isinstance(data, dict) and "asset" in data:
            data = dict(data)
            asset = data.pop("asset")
            if not isinstance(asset, str):
                raise InputError("asset", "must be text such as BTC or BTC-PERP, got "
                                 f"{type(asset).__name__}")
            if "market_id" not in data:
                asset = asset.strip().upper()
                data["market_id"] = asset if "-" in asset else f"{asset}-PERP"
        return data

    @field_validator("*", mode="before")
    @classmethod
    def _in_range(cls, v: Any, info: ValidationInfo) -> Any:
        """A number outside [10**MIN_EXP, 10**MAX_EXP) in size (other than 0) is refused
        before any arithmetic: a huge exponent would overflow the decimal context, or
        take seconds to work out exactly, and no parameter needs one."""
        if cls.model_fields[info.field_name or ""].annotation not in (Decimal, float, int):
            return v
        d = _as_decimal(v)
        if d is not None and d.is_finite() and d != 0 and \
                not MIN_EXP <= d.adjusted() < MAX_EXP:
            raise ValueError(f"out of range: its size must be below 1e{MAX_EXP}, and 0 or at "
                             f"least 1e{MIN_EXP}")
        return v

    @field_validator("max_spread_bps")
    @classmethod
    def _max_spread(cls, v: Decimal, info: ValidationInfo) -> Decimal:
        return _at_least(v, info, "min_spread_bps")

    @field_validator("base_spread_bps")
    @classmethod
    def _base_spread(cls, v: Decimal, info: ValidationInfo) -> Decimal:
        return _between(v, info, "min_spread_bps", "max_spread_bps")

    @field_validator("max_quote_size")
    @classmethod
    def _max_size(cls, v: Decimal, info: ValidationInfo) -> Decimal:
        return _at_least(v, info, "min_quote_size")

    @field_validator("quote_size")
    @classmethod
    def _size(cls, v: Decimal, info: ValidationInfo) -> Decimal:
        return _between(v, info, "min_quote_size", "max_quote_size")

    @field_validator("target_position")
    @classmethod
    def _target(cls, v: Decimal, info: ValidationInfo) -> Decimal:
        got = _need(info, "max_position")
        if got and abs(v) >= got[0]:
            raise ValueError(f"must lie strictly inside ±max_position ({got[0]})")
        return v

    @field_validator("soft_position_limit")
    @classmethod
    def _soft(cls, v: Decimal, info: ValidationInfo) -> Decimal:
        return _below(v, info, "max_position", ", the hard limit")

    @field_validator("hedge_threshold")
    @classmethod
    def _hedge_threshold(cls, v: Decimal, info: ValidationInfo) -> Decimal:
        got = _need(info, "max_position")
        if got and v > got[0]:
            raise ValueError(f"must not exceed max_position ({got[0]}): the position "
                             "never gets there")
        return v

    @field_validator("hedge_target")
    @classmethod
    def _hedge_target(cls, v: Decimal, info: ValidationInfo) -> Decimal:
        return _below(v, info, "hedge_threshold")

    # --- conveniences -----------------------------------------------------------------

    @property
    def asset(self) -> str:
        return self.market_id.split("-", 1)[0]

    def changed(self, **changes: Any) -> StrategyConfig:
        """A validated copy with `changes` applied (the original is untouched)."""
        return StrategyConfig.model_validate({**self.model_dump(), **changes})

    def to_toml_dict(self) -> dict[str, Any]:
        """Plain TOML values: Decimals as strings (exact), the rest as is."""
        return {k: (str(v) if isinstance(v, Decimal) else v)
                for k, v in self.model_dump().items()}


def errors_by_field(err: ValidationError) -> dict[str, str]:
    """`{field: message}` from a validation error, first message per field."""
    out: dict[str, str] = {}
    for e in err.errors():
        cause = e.get("ctx", {}).get("error")
        field = (cause.field if isinstance(cause, InputError) else
                 ".".join(str(p) for p in e["loc"]) or "strategy")
        msg = e["msg"].removeprefix("Value error, ")
        out.setdefault(field, msg)
    return out


def describe(err: ValidationError) -> str:
    """One line naming every bad field: `quote_size: must lie between ...; name: ...`."""
    return "; ".join(f"{f}: {m}" for f, m in errors_by_field(err).items())


class EngineConfig(BaseModel):
    """How the engine itself behaves (not per strategy): `[engine]` in the settings."""
    model_config = ConfigDict(extra="forbid", frozen=True)

    guard_interval_s: float = Field(0.05, gt=0, le=5, description="dead-man check period")
    max_order_errors: int = Field(5, ge=1, le=1000,
                                  description="consecutive order-path transport errors "
                                              "that trip the dead-man switch")
    min_requote_s: float = Field(0.02, ge=0, le=60, description="least time between cycles")
    preview: bool = Field(False, description="preview each ladder before sending it")
    vol_sample_s: float = Field(1.0, gt=0, le=3600, description="volatility sampling period")
    housekeeping_s: float = Field(0.25, gt=0, le=60,
                                  description="PnL sampling, breakers, auto-resume")
    pnl_event_s: float = Field(5.0, gt=0, le=3600, description="least time between "
                                                               "pnl_update events")
    margin_recover_cycles: int = Field(20, ge=1, le=100_000)
    twap_max_children: int = Field(30, ge=1, le=10_000)
    pull_attempts: int = Field(5, ge=1, le=100, description="tries of a cancel-all")
    # the money a strategy may have at stake (desk/engine/sizing.py): its max_position ×
    # price over the account's equity, checked when it is created, changed or started
    warn_leverage: float = Field(3.0, gt=0, le=1e9,
                                 description="a strategy whose max_position × price "
                                             "passes this multiple of equity (or the "
                                             "running ones together) starts with a warning")
    max_leverage: float = Field(10.0, gt=0, le=1e9,
                                description="a strategy whose max_position × price passes "
                                            "this multiple of equity is refused")
    warn_order_pct: float = Field(10.0, gt=0, le=10_000,
                                  description="an order whose notional passes this % of "
                                              "equity warns")
