"""The strategies a desk runs when none are configured: one per embedded market.

Sizes suit the embedded venue (its prices and its 100,000 account) and each market's
step and typical depth; everything else is the documented default. On an account where
a preset's max_position would be worth more than `PRESET_MAX_SHARE` of equity (a smaller
account, a dearer market) its sizes are those of a new strategy instead, from the
market's price and the account's equity (desk/engine/sizing.py).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from desk.engine import sizing

if TYPE_CHECKING:
    from desk.engine.manager import StrategyManager

PRESET_MAX_SHARE = Decimal("0.5")  # a preset's max_position notional, at most, of equity

DEFAULT_STRATEGIES: tuple[dict[str, Any], ...] = (
    {"name": "BTC MM", "market_id": "BTC-PERP", "quote_size": "0.05",
     "min_quote_size": "0.005", "max_quote_size": "0.5", "max_position": "0.5",
     "soft_position_limit": "0.35", "hedge_threshold": "0.25", "hedge_target": "0.1",
     "skew_factor": "10", "quote_layers": 2},
    {"name": "ETH MM", "market_id": "ETH-PERP", "quote_size": "0.5",
     "min_quote_size": "0.05", "max_quote_size": "5", "max_position": "5",
     "soft_position_limit": "3.5", "hedge_threshold": "2.5", "hedge_target": "1",
     "skew_factor": "1", "quote_layers": 2},
    {"name": "SOL MM", "market_id": "SOL-PERP", "quote_size": "10",
     "min_quote_size": "1", "max_quote_size": "100", "max_position": "100",
     "soft_position_limit": "70", "hedge_threshold": "50", "hedge_target": "20",
     "skew_factor": "0.05", "quote_layers": 2, "spread_model": "volatility"},
)


def fitted(params: dict[str, Any], price: Decimal | None, equity: Decimal | None,
           sizes: dict[str, str] | None) -> dict[str, Any]:
    """`params` as they are if its max_position is worth at most PRESET_MAX_SHARE of
    `equity` at `price` (or either is unknown); else with `sizes` (a new strategy's)."""
    if price is None or equity is None or equity <= 0 or not sizes:
        return params
    if Decimal(str(params["max_position"])) * price <= equity * PRESET_MAX_SHARE:
        return params
    return {**params, **sizes}


def for_desk(params: dict[str, Any], manager: StrategyManager) -> dict[str, Any]:
    """`fitted` with the manager's view of the market's price and the account's equity."""
    market_id = params["market_id"]
    return fitted(params, sizing.price_of(manager.venue, market_id),
                  sizing.equity_of(manager.venue, manager.base_equity),
                  manager.suggested_sizes(market_id))
