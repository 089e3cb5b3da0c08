"""The shared vocabulary of desk: sides, order enums and exact decimal helpers.

Money, prices and sizes are `Decimal` everywhere on the order path. Every layer
(engine, client, embedded venue, backtest) may import this module; it imports
nothing else from desk.
"""

from __future__ import annotations

import re
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


MAX_INT_DIGITS = 15
MAX_FRACTION_DIGITS = 12
DECIMAL_PATTERN = rf"^-?[0-9]{{1,{MAX_INT_DIGITS}}}(\.[0-9]{{1,{MAX_FRACTION_DIGITS}}})?$"
_DECIMAL_RE = re.compile(DECIMAL_PATTERN)


class DecimalError(ValueError):
    """A value that is not a finite decimal; the message names the field."""


def parse_decimal(value: object, field: str = "") -> Decimal:
    """Parse a wire value to a `Decimal`: a plain decimal string ("64012.5") or an int.

    Refused, with the field named: floats (they cannot carry an exact price),
    exponents, underscores, spaces, NaN/Infinity, and more than 15 integer or 12
    fractional digits (so that tick and step arithmetic stays exact).
    """
    prefix = f"{field}: " if field else ""
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise DecimalError(f"{prefix}expected a decimal string, got {type(value).__name__}")
    text = value if isinstance(value, str) else str(value)
    if not _DECIMAL_RE.fullmatch(text):
        if isinstance(value, str) and len(value) > 40:
            value = value[:40] + "..."
        raise DecimalError(f"{prefix}{value!r} is not a plain decimal number with at most "
                           f"{MAX_INT_DIGITS} integer and {MAX_FRACTION_DIGITS} fractional digits")
    try:
        return Decimal(text)
    except InvalidOperation:  # unreachable after the pattern, kept as a guard
        raise DecimalError(f"{prefix}{value!r} is not a decimal number") from None


def fmt(value: Decimal) -> str:
    """Format a decimal for the wire: plain notation, no exponent, no trailing zeros."""
    if value == 0:
        return "0"
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def is_multiple(value: Decimal, increment: Decimal) -> bool:
    """True when `value` is a whole number of `increment`s (False if too large to tell)."""
    try:
        return value % increment == 0
    except InvalidOperation:
        return False


def floor_to(value: Decimal, increment: Decimal) -> Decimal:
    """Round down to a multiple of `increment` (a bid price, a size)."""
    return (value / increment).to_integral_value(rounding=ROUND_FLOOR) * increment


def ceil_to(value: Decimal, increment: Decimal) -> Decimal:
    """Round up to a multiple of `increment` (an ask price)."""
    return (value / increment).to_integral_value(rounding=ROUND_CEILING) * increment


def bps_of(value: Decimal, reference: Decimal) -> Decimal:
    """`value` expressed in basis points of `reference`."""
    return value / reference * BPS
