"""Sizes from the money at stake: a new strategy's sizes from the market's price and the
account's equity, and the exposure check when a strategy starts or changes.

A new strategy's order is about 1 % of equity in notional (`ORDER_SHARE`) and its hard
position limit about 20 % (`POSITION_SHARE`), each rounded down to the market's step and
at least its minimum size; the other size fields follow from those two (the shape of the
built-in presets: the soft limit at 70 % of the hard one, hedging from half of it, a skew
of about 5 bps at the limit).

The check: the strategy's largest exposure is `max_position × price`, its leverage that
over the account's equity. Past the engine's `warn_leverage` (or an order past
`warn_order_pct` of equity, or the running strategies together past `warn_leverage`) the
strategy starts with a warning; past `max_leverage` it is refused, naming
`max_position`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from desk.domain import fmt
from desk.engine.config import EngineConfig, StrategyConfig
from desk.engine.ports import Venue
from desk.engine.pricing import Rules

ORDER_SHARE = Decimal("0.01")      # a new strategy's order: ~1 % of equity, in notional
POSITION_SHARE = Decimal("0.20")   # its max_position: ~20 % of equity, in notional
SKEW_AT_LIMIT_BPS = Decimal(5)     # skew_factor × max_position, as in the presets

SIZE_FIELDS = ("quote_size", "min_quote_size", "max_quote_size", "max_position",
               "soft_position_limit", "hedge_threshold", "hedge_target", "skew_factor",
               "skew_step_size")


def _floor(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value(ROUND_FLOOR) * step


def _ceil(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value(ROUND_CEILING) * step


def _size(value: Decimal, step: Decimal, least: Decimal) -> Decimal:
    """`value` rounded down to `step`, and at least `least` (itself rounded up to it)."""
    return max(_floor(value, step), _ceil(least, step), step)


def _round_sig(value: Decimal, digits: int = 2) -> Decimal:
    """A plain parameter (not a size): `digits` significant digits, at least 1e-6."""
    if value <= 0:
        return Decimal("0.000001")
    quantum = Decimal(1).scaleb(value.adjusted() - digits + 1)
    return max(value.quantize(quantum, ROUND_FLOOR), Decimal("0.000001"))


def new_strategy_sizes(price: Decimal, equity: Decimal, step: Decimal,
                       min_quantity: Decimal) -> dict[str, str] | None:
    """The size fields of a new strategy on a market at `price` for an account with
    `equity` (quote currency), as the editor's text; None when either is unknown or not
    positive (the generic defaults stand)."""
    if price is None or equity is None or price <= 0 or equity <= 0 or step <= 0:
        return None
    quote = _size(equity * ORDER_SHARE / price, step, min_quantity)
    limit = max(_size(equity * POSITION_SHARE / price, step, min_quantity), 4 * quote)
    least = max(_ceil(min_quantity, step), step)
    sizes = {
        "quote_size": quote,
        "min_quote_size": min(max(_floor(quote / 10, step), least), quote),
        "max_quote_size": max(min(10 * quote, limit), quote),
        "max_position": limit,
        "soft_position_limit": _floor(limit * Decimal("0.7"), step),
        "hedge_threshold": _floor(limit / 2, step),
        "hedge_target": _floor(limit / 5, step),
        "skew_factor": min(_round_sig(SKEW_AT_LIMIT_BPS / limit), Decimal(10_000)),
        "skew_step_size": quote,
    }
    return {k: fmt(v) for k, v in sizes.items()}


@dataclass(frozen=True, slots=True)
class Exposure:
    """A strategy's money at stake at one price."""
    price: Decimal
    equity: Decimal
    max_notional: Decimal    # max_position × price
    leverage: Decimal        # max_notional / equity
    order_notional: Decimal  # the largest order of the ladder × price
    desk_leverage: Decimal   # this and the other running strategies' max notional / equity


@dataclass(frozen=True, slots=True)
class Verdict:
    exposure: Exposure
    warnings: tuple[str, ...] = ()
    refusal: tuple[str, str] | None = None   # (field, message)
    details: dict[str, str] = field(default_factory=dict)


def largest_order(quote_size: Decimal, max_quote_size: Decimal, layers: int,
                  multiplier: Decimal) -> Decimal:
    """The largest order a ladder may carry: the outer layer, at most max_quote_size."""
    return min(quote_size * multiplier ** max(layers - 1, 0), max_quote_size) \
        if multiplier >= 1 else quote_size


def check(*, max_position: Decimal, order_size: Decimal, price: Decimal, equity: Decimal,
          other_notional: Decimal, warn_leverage: float, max_leverage: float,
          warn_order_pct: float) -> Verdict | None:
    """The exposure of a strategy holding up to `max_position` at `price` on an account
    with `equity`; `other_notional`: the other running strategies' max notional. None
    when price or equity is unknown or not positive (nothing to check against)."""
    if price is None or equity is None or price <= 0 or equity <= 0:
        return None
    notional = max_position * price
    leverage = notional / equity
    order = order_size * price
    desk = (notional + other_notional) / equity
    exposure = Exposure(price, equity, notional, leverage, order, desk)
    details = {"max_notional": fmt(notional.quantize(Decimal("0.01"))),
               "leverage": f"{leverage:.2f}", "order_notional":
               fmt(order.quantize(Decimal("0.01"))), "equity": fmt(equity),
               "price": fmt(price), "desk_leverage": f"{desk:.2f}"}
    at = f"max_position {fmt(max_position)} × price {fmt(price)} = {notional:,.2f}"
    if leverage > Decimal(str(max_leverage)):
        return Verdict(exposure, refusal=(
            "max_position", f"{at}, {leverage:.1f}x the account's equity "
            f"({equity:,.2f}); the engine's max_leverage is {max_leverage:g}x"),
            details=details)
    warnings = []
    if leverage > Decimal(str(warn_leverage)):
        warnings.append(f"{at}: {leverage:.1f}x the account's equity ({equity:,.2f}), above "
                        f"warn_leverage {warn_leverage:g}x")
    elif desk > Decimal(str(warn_leverage)):
        warnings.append(f"with the running strategies the desk may hold {desk:.1f}x the "
                        f"account's equity ({equity:,.2f}), above warn_leverage "
                        f"{warn_leverage:g}x")
    if order > equity * Decimal(str(warn_order_pct)) / 100:
        warnings.append(f"an order of {fmt(order_size)} is {order:,.2f} in notional, "
                        f"{order / equity * 100:.1f}% of the account's equity (above "
                        f"warn_order_pct {warn_order_pct:g}%)")
    return Verdict(exposure, tuple(warnings), None, details)


# --- the engine's side: price and equity as the engine sees them --------------------------

def price_of(venue: Venue, market_id: str) -> Decimal | None:
    """The market's fair value (reference feed), else its book's mid; None if neither."""
    try:
        price = venue.reference(market_id).price()
    except KeyError:
        price = None
    if price is None:
        try:
            price = venue.book(market_id).mid()
        except KeyError:
            price = None
    return price


def equity_of(venue: Venue, fallback: Decimal) -> Decimal:
    """The account's equity as its stream last told it, else `fallback` (read at open)."""
    account = venue.account()
    balances = account.balances if account.trusted else None
    return balances.equity if balances is not None else fallback


def for_market(venue: Venue, rules: Rules | None, market_id: str,
               equity: Decimal) -> dict[str, str] | None:
    """A new strategy's size fields on `market_id` (None: market or price unknown)."""
    if rules is None:
        return None
    price = price_of(venue, market_id)
    if price is None:
        return None
    return new_strategy_sizes(price, equity_of(venue, equity), rules.step, rules.min_quantity)


def assess(config: StrategyConfig, venue: Venue, equity: Decimal, engine: EngineConfig,
           others: list[StrategyConfig]) -> Verdict | None:
    """`check` for a strategy's config; `others`: the other running strategies."""
    other = Decimal(0)
    for o in others:
        p = price_of(venue, o.market_id)
        if p is not None:
            other += o.max_position * p
    order = largest_order(config.quote_size, config.max_quote_size, config.quote_layers,
                          config.layer_size_multiplier)
    return check(max_position=config.max_position, order_size=order,
                 price=price_of(venue, config.market_id), equity=equity_of(venue, equity),
                 other_notional=other, warn_leverage=engine.warn_leverage,
                 max_leverage=engine.max_leverage, warn_order_pct=engine.warn_order_pct)


EXPOSURE_FIELDS = ("market_id", "max_position", "quote_size", "max_quote_size",
                   "quote_layers", "layer_size_multiplier")


def exposure_changed(before: StrategyConfig, after: StrategyConfig) -> bool:
    """Whether a change touches what the check measures (a new spread does not: a running
    strategy is not warned again for it)."""
    return any(getattr(before, f) != getattr(after, f) for f in EXPOSURE_FIELDS)
