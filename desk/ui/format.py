"""How numbers look on the desk: money with thousands separators, signed PnL, bps."""

from __future__ import annotations

import time
from decimal import Decimal


def money(v: Decimal | float | None, places: int = 2) -> str:
    return "-" if v is None else f"{v:,.{places}f}"


def signed(v: Decimal | float | None, places: int = 2) -> str:
    return "-" if v is None else f"{v:+,.{places}f}"


def qty(v: Decimal | None) -> str:
    if v is None:
        return "-"
    text = f"{v.normalize():f}" if v == v.to_integral() or abs(v) < 1000 else f"{v:,}"
    return text


def price(v: Decimal | None, tick_places: int = 2) -> str:
    return "-" if v is None else f"{v:,.{tick_places}f}"


def bps(v: float | Decimal | None) -> str:
    return "-" if v is None else f"{float(v):.1f}bps"


def pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.0f}%"


def clock(t: float) -> str:
    """UTC wall time of an engine timestamp."""
    return time.strftime("%H:%M:%S", time.gmtime(t))


def places_of(values: list[Decimal]) -> int:
    """Decimal places enough to show every price in `values` (at least 1, at most 8)."""
    most = 1
    for v in values:
        exp = v.normalize().as_tuple().exponent
        if isinstance(exp, int):
            most = max(most, -exp)
    return min(most, 8)
