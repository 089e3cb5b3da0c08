"""Settings of the embedded venue: markets, fees, limits and the market simulation.

Every number the simulation uses is here, with defaults that give a lively but
sane market for BTC-PERP, ETH-PERP and SOL-PERP.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MarketSim(_Strict):
    """How one market's reference price and synthetic order flow behave."""

    volatility_bps: float = Field(1.0, ge=0, description="random-walk sigma, bps per sqrt(second)")
    jumps_per_hour: float = Field(2.0, ge=0)
    jump_bps: float = Field(25.0, ge=0, description="sigma of a jump, bps")
    taker_a: float = Field(1.5, ge=0, description="A: taker arrivals/s per side at delta 0")
    taker_k: float = Field(0.15, ge=0, description="k: decay of arrivals per bps of delta")
    informed_share: float = Field(0.2, ge=0, le=1)
    taker_size_median: Decimal = Field(gt=0)
    taker_size_sigma: float = Field(0.8, ge=0, description="lognormal sigma of taker sizes")
    maker_levels: int = Field(8, ge=0, le=50)
    maker_half_spread_bps: float = Field(4.0, ge=0)
    maker_level_spacing_bps: float = Field(2.5, gt=0)
    maker_size: Decimal = Field(gt=0, description="median size of a synthetic maker level")
    maker_refresh_ms: int = Field(500, ge=50)


class MarketConfig(_Strict):
    market_id: str
    base: str
    quote: str = "USD"
    tick_size: Decimal = Field(gt=0)
    step_size: Decimal = Field(gt=0)
    min_quantity: Decimal = Field(gt=0)
    initial_price: Decimal = Field(gt=0)
    initial_margin_rate: Decimal = Field(Decimal("0.05"), gt=0, le=1)
    maintenance_margin_rate: Decimal = Field(Decimal("0.025"), gt=0, le=1)
    price_band_pct: Decimal = Field(Decimal("5"), gt=0, le=50, description="% around index")
    sim: MarketSim

    @model_validator(mode="after")
    def _rates(self) -> MarketConfig:
        if self.maintenance_margin_rate >= self.initial_margin_rate:
            raise ValueError("maintenance_margin_rate must be below initial_margin_rate")
        if self.min_quantity % self.step_size:
            raise ValueError("min_quantity must be a multiple of step_size")
        if self.initial_price % self.tick_size:
            raise ValueError("initial_price must be a multiple of tick_size")
        return self


class FeeTier(_Strict):
    tier: int
    min_volume_30d: Decimal = Field(ge=0)
    maker_fee_bps: Decimal
    taker_fee_bps: Decimal


def default_markets() -> list[MarketConfig]:
    d = Decimal
    return [
        MarketConfig(
            market_id="BTC-PERP", base="BTC", tick_size=d("0.1"), step_size=d("0.001"),
            min_quantity=d("0.001"), initial_price=d("64000"),
            sim=MarketSim(taker_size_median=d("0.05"), maker_size=d("0.5")),
        ),
        MarketConfig(
            market_id="ETH-PERP", base="ETH", tick_size=d("0.01"), step_size=d("0.01"),
            min_quantity=d("0.01"), initial_price=d("3200"),
            sim=MarketSim(taker_size_median=d("0.8"), maker_size=d("8")),
        ),
        MarketConfig(
            market_id="SOL-PERP", base="SOL", tick_size=d("0.001"), step_size=d("0.1"),
            min_quantity=d("0.1"), initial_price=d("150"),
            initial_margin_rate=d("0.1"), maintenance_margin_rate=d("0.05"),
            sim=MarketSim(volatility_bps=1.6, taker_size_median=d("15"), maker_size=d("150")),
        ),
    ]


def default_fee_tiers() -> list[FeeTier]:
    d = Decimal
    return [
        FeeTier(tier=0, min_volume_30d=d(0), maker_fee_bps=d("2"), taker_fee_bps=d("5")),
        FeeTier(tier=1, min_volume_30d=d("1000000"), maker_fee_bps=d("1"), taker_fee_bps=d("4")),
        FeeTier(tier=2, min_volume_30d=d("10000000"), maker_fee_bps=d("0"), taker_fee_bps=d("3")),
        FeeTier(tier=3, min_volume_30d=d("100000000"), maker_fee_bps=d("-0.5"),
                taker_fee_bps=d("2.5")),
    ]


class VenueConfig(_Strict):
    """Everything the embedded venue needs; `desk venue` flags override a few."""

    markets: list[MarketConfig] = Field(default_factory=default_markets)
    fee_tiers: list[FeeTier] = Field(default_factory=default_fee_tiers)
    starting_balance: Decimal = Field(Decimal("100000"), ge=0)
    rate_limit_per_minute: int = Field(1200, ge=1)
    heartbeat_s: float = Field(15.0, gt=0)
    sim_enabled: bool = True
    sim_step_ms: int = Field(100, ge=10)
    seed: int = 7
    max_closed_orders: int = Field(1000, ge=10, description="closed orders kept per account")
    max_accounts: int = Field(1000, ge=3, description="accounts, the two synthetic ones included")

    @model_validator(mode="after")
    def _unique(self) -> VenueConfig:
        ids = [m.market_id for m in self.markets]
        if len(set(ids)) != len(ids):
            raise ValueError("market ids must be unique")
        if not self.markets:
            raise ValueError("at least one market is needed")
        if not self.fee_tiers or self.fee_tiers[0].min_volume_30d != 0:
            raise ValueError("the first fee tier must start at volume 0")
        return self
