"""From fair value to a ladder of quotes: spread model, skew, layers, sizes, rounding.

Pure functions of a `StrategyConfig`, the market's rules and a `Situation`
(fair value, position, volatility, the touch). The rules, in order:

1. **Spread** (total, bps), then clamped to [min_spread_bps, max_spread_bps]:
   - `fixed`: base_spread_bps.
   - `volatility`: base · (1 + volatility_multiplier · realised vol % over the window).
   - `inventory`: base · (1 + |position − target| / max_position).
   - `avellaneda_stoikov`: γσ²τ + (2/γ)·ln(1+γ/k), in price units; the
     reservation price r = s − q·γσ²τ carries the inventory.
   - `glft`: the Guéant–Lehalle–Fernandez-Tapia closed form: half-spread
     (1/γ)·ln(1+γ/k) + ω/2 and reservation shift q·ω, with
     ω = √(σ²γ / (2kA) · (1+γ/k)^(1+k/γ)).
   σ is in price units per √s, δ and k in price units, τ = T − t in seconds;
   with an infinite horizon (T = 0) τ is `quote_refresh_seconds`, the longest a
   quote rests before it is re-priced.
2. **Skew** (bps, both sides move together; positive = down): for the first
   three models from `skew_model` on q = position − target: linear f·q,
   exponential f·sign(q)·|q|^e, step f·sign(q)·⌊|q|/step⌋·step. The optimal
   models skew through their reservation price. Clamped to ±max_spread_bps.
3. **Layers**: level i sits (spread/2 + i·layer_spacing_bps) from the skewed
   centre, with size quote_size·layer_size_multiplier^i clamped to
   [min_quote_size, max_quote_size], times the margin scale.
4. **Inventory limits**: beyond ±soft_position_limit the side that adds to
   the position is multiplied by position_reduction_factor (0 drops it); the
   sizes on a side never add up to more than the room left to ±max_position,
   so no set of fills can breach the hard limit; at the limit that side is empty.
5. **Rounding**: bids down and asks up to the tick (away from the touch),
   sizes down to the step; levels below the market's minimum are dropped.
   With post_only, a bid never reaches the best ask nor an ask the best bid;
   levels on a side are strictly monotone and every bid is below every ask.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from desk.domain import BPS, ONE, ZERO, Side, ceil_to, floor_to
from desk.engine.config import StrategyConfig

_Q = Decimal("0.000001")  # bps are carried to 1e-6


@dataclass(frozen=True, slots=True)
class Rules:
    """The market's increments (from `domain.records.Market`)."""
    tick: Decimal
    step: Decimal
    min_quantity: Decimal


@dataclass(frozen=True, slots=True)
class Situation:
    fair: Decimal
    position: Decimal = ZERO
    sigma: float | None = None        # relative, per √s (RealisedVol.sigma)
    window_vol_pct: float | None = None
    best_bid: Decimal | None = None
    best_ask: Decimal | None = None
    elapsed_s: float = 0.0            # since the strategy (re)started, for a finite horizon
    size_scale: Decimal = ONE         # < 1 after margin rejects
    max_layers: int = 5               # fewer after margin rejects


@dataclass(frozen=True, slots=True)
class Level:
    side: Side
    price: Decimal
    quantity: Decimal


@dataclass(frozen=True, slots=True)
class Ladder:
    fair: Decimal
    spread_bps: Decimal   # model spread after clamping
    skew_bps: Decimal     # positive: quotes moved down
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]

    @property
    def levels(self) -> tuple[Level, ...]:
        return self.bids + self.asks

    @property
    def center(self) -> Decimal:
        return self.fair * (ONE - self.skew_bps / BPS)


_HUGE = 1e9  # bps; every spread and skew is clamped far below this anyway


def _bps(x: float) -> Decimal:
    if not math.isfinite(x) or abs(x) > _HUGE:
        return Decimal(int(math.copysign(_HUGE, x)))
    return Decimal(repr(x)).quantize(_Q)


def _clamp(x: Decimal, lo: Decimal, hi: Decimal) -> Decimal:
    return max(lo, min(hi, x))


def horizon_left_s(cfg: StrategyConfig, elapsed_s: float) -> float:
    """τ = T − t; a finite horizon starts over when it runs out."""
    if cfg.horizon_seconds <= 0:
        return cfg.quote_refresh_seconds
    return cfg.horizon_seconds - (elapsed_s % cfg.horizon_seconds)


def _optimal(cfg: StrategyConfig, s: Situation, q: float) -> tuple[float, float]:
    """(total spread, reservation shift) in price units for the optimal-quoting models."""
    fair = float(s.fair)
    sigma = (s.sigma or 0.0) * fair
    g, k = cfg.risk_aversion, cfg.order_arrival_k
    base = math.log1p(g / k) / g
    if cfg.spread_model == "avellaneda_stoikov":
        risk = g * sigma * sigma * horizon_left_s(cfg, s.elapsed_s)
        return risk + 2 * base, q * risk
    try:
        growth = math.exp((1 + k / g) * math.log1p(g / k))
        omega = math.sqrt(sigma * sigma * g / (2 * k * cfg.arrival_intensity_a) * growth)
    except OverflowError:
        omega = math.inf
    return 2 * base + omega, q * omega


def spread_and_skew(cfg: StrategyConfig, s: Situation) -> tuple[Decimal, Decimal]:
    """(total spread bps after clamping, skew bps after clamping)."""
    q = s.position - cfg.target_position
    model = cfg.spread_model
    if model in ("avellaneda_stoikov", "glft"):
        spread_px, shift_px = _optimal(cfg, s, float(q))
        spread = _bps(spread_px / float(s.fair) * 1e4)
        skew = _bps(shift_px / float(s.fair) * 1e4)
    else:
        if model == "volatility":
            vol = s.window_vol_pct or 0.0
            spread = cfg.base_spread_bps * (ONE + _bps(cfg.volatility_multiplier * vol))
        elif model == "inventory":
            spread = cfg.base_spread_bps * (ONE + abs(q) / cfg.max_position)
        else:
            spread = cfg.base_spread_bps
        skew = skew_bps(cfg, q)
    cap = cfg.max_spread_bps
    return _clamp(spread, cfg.min_spread_bps, cap), _clamp(skew, -cap, cap)


def skew_bps(cfg: StrategyConfig, q: Decimal) -> Decimal:
    """Skew for an inventory q = position − target (positive q: quotes move down)."""
    if q == 0:
        return ZERO
    sign = ONE if q > 0 else -ONE
    if cfg.skew_model == "exponential":
        return sign * cfg.skew_factor * _bps(float(abs(q)) ** cfg.skew_exponent)
    if cfg.skew_model == "step":
        steps = (abs(q) / cfg.skew_step_size).to_integral_value(rounding="ROUND_FLOOR")
        return sign * cfg.skew_factor * steps * cfg.skew_step_size
    return cfg.skew_factor * q


def _sizes(cfg: StrategyConfig, s: Situation, side: Side, rules: Rules) -> list[Decimal]:
    adds = side is Side.BUY  # a bid adds to a long position
    pos = s.position if adds else -s.position  # position in the direction this side adds
    room = cfg.max_position - pos
    if room <= 0:
        return []
    factor = ONE
    if pos > cfg.soft_position_limit:
        factor = cfg.position_reduction_factor
        if factor == 0:
            return []
    sizes: list[Decimal] = []
    total = ZERO
    for i in range(min(cfg.quote_layers, s.max_layers)):
        size = _clamp(cfg.quote_size * cfg.layer_size_multiplier ** i,
                      cfg.min_quote_size, cfg.max_quote_size)
        size = max(size * s.size_scale * factor, cfg.min_quote_size)
        size = floor_to(min(size, room - total), rules.step)
        if size < rules.min_quantity or size <= 0:
            break
        sizes.append(size)
        total += size
    return sizes


def build_ladder(cfg: StrategyConfig, rules: Rules, s: Situation) -> Ladder:
    spread, skew = spread_and_skew(cfg, s)
    fair = s.fair
    center = fair * (ONE - skew / BPS)
    half = spread / 2
    tick = rules.tick
    post = cfg.post_only

    bids: list[Level] = []
    cap = s.best_ask - tick if post and s.best_ask is not None else None
    for i, size in enumerate(_sizes(cfg, s, Side.BUY, rules)):
        price = floor_to(center * (ONE - (half + i * cfg.layer_spacing_bps) / BPS), tick)
        if cap is not None:
            price = min(price, cap)
        if bids:
            price = min(price, bids[-1].price - tick)
        if price <= 0:
            break
        bids.append(Level(Side.BUY, price, size))

    asks: list[Level] = []
    floor = s.best_bid + tick if post and s.best_bid is not None else None
    for i, size in enumerate(_sizes(cfg, s, Side.SELL, rules)):
        price = ceil_to(center * (ONE + (half + i * cfg.layer_spacing_bps) / BPS), tick)
        if floor is not None:
            price = max(price, floor)
        if asks:
            price = max(price, asks[-1].price + tick)
        if price <= 0:  # a centre skewed to zero
            break
        asks.append(Level(Side.SELL, price, size))
    # every bid is below every ask: the half-spread is positive, bids round down and asks
    # up, and the touch caps only push them further apart (a property test holds us to it)
    return Ladder(fair, spread, skew, tuple(bids), tuple(asks))
