"""The shared vocabulary of desk: sides, order enums and exact decimal helpers.

Money, prices and sizes are `Decimal` everywhere on the order path. Every layer
(engine, client, embedded venue, backtest) may import this module; it imports
nothing else from desk.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation
from enum import StrEnum

ZERO = Decimal(0)
ONE = Decimal(1)
BPS = Decimal(10_000)


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(StrEnum):
    LIMIT = "limit"
    MARKET = "market"


class TimeInForce(StrEnum):
    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"


class OrderStatus(StrEnum):
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"

    @property
    def live(self) -> bool:
        return self in (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)


class Liquidity(StrEnum):
    MAKER = "maker"
    TAKER = "taker"


class DecimalError(ValueError):
    """A value that is not a finite decimal; the message names the field."""


def parse_decimal(value: object, field: str = "") -> Decimal:
    """Parse a wire value (a decimal string or an int) to a finite `Decimal`.

    Floats are refused: they cannot carry an exact price.
    """
    prefix = f"{field}: " if field else ""
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise DecimalError(f"{prefix}expected a decimal string, got {type(value).__name__}")
    try:
        result = Decimal(value.strip() if isinstance(value, str) else value)
    except (InvalidOperation, ValueError):
        raise DecimalError(f"{prefix}{value!r} is not a decimal number") from None
    if not result.is_finite():
        raise DecimalError(f"{prefix}{value!r} is not a finite number")
    return result


def fmt(value: Decimal) -> str:
    """Format a decimal for the wire: plain notation, no exponent, no trailing zeros."""
    if value == 0:
        return "0"
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def is_multiple(value: Decimal, increment: Decimal) -> bool:
    """True when `value` is a whole number of `increment`s."""
    return value % increment == 0


def floor_to(value: Decimal, increment: Decimal) -> Decimal:
    """Round down to a multiple of `increment` (a bid price, a size)."""
    return (value / increment).to_integral_value(rounding=ROUND_FLOOR) * increment


def ceil_to(value: Decimal, increment: Decimal) -> Decimal:
    """Round up to a multiple of `increment` (an ask price)."""
    return (value / increment).to_integral_value(rounding=ROUND_CEILING) * increment


def bps_of(value: Decimal, reference: Decimal) -> Decimal:
    """`value` expressed in basis points of `reference`."""
    return value / reference * BPS
