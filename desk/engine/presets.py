"""The strategies a desk runs when none are configured: one per embedded market.

Sizes suit each market's step and typical depth; everything else is the
documented default.
"""

from __future__ import annotations

from typing import Any

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
