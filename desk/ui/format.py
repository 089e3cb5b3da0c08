"""How numbers look on the desk: money with thousands separators, signed PnL, bps, and
one way to write a position (`position`) on every screen.

`fit` writes a number into a fixed width without ever cutting it: fewer decimals
first, then k / M / B / T."""

from __future__ import annotations

import time
from decimal import Decimal

SUFFIXES = (("k", Decimal(10) ** 3), ("M", Decimal(10) ** 6), ("B", Decimal(10) ** 9),
            ("T", Decimal(10) ** 12))


def money(v: Decimal | float | None, places: int = 2) -> str:
    return "-" if v is None else f"{v:,.{places}f}"


def signed(v: Decimal | float | None, places: int = 2) -> str:
    return "-" if v is None else f"{v:+,.{places}f}"


def qty(v: Decimal | None) -> str:
    """A size (unsigned use: order sizes, limits): as many decimals as it has, thousands
    separated: 0.4, 25, 1,234.5."""
    if v is None:
        return "-"
    v = Decimal(v)
    if v == 0:
        return "0"
    return f"{v.normalize():,f}"


def position(v: Decimal | None) -> str:
    """A position: signed (long +, short −, flat 0), as many decimals as it has:
    +0.4, -3.2, +1,250, 0. The positions table, the strategy panels, the detail screen and
    the event log all write positions with this."""
    if v is None:
        return "-"
    v = Decimal(v)
    if v == 0:
        return "0"
    return f"{v.normalize():+,f}"


def fit(v: Decimal | float | None, width: int, places: int = 2, sign: bool = False) -> str:
    """`v` in at most `width` characters and never cut: `places` decimals, fewer if that
    is too wide, then thousands (k), millions (M), billions (B), trillions (T)."""
    if v is None:
        return "-"
    v = Decimal(v)
    plus = "+" if sign else ""
    for p in range(places, -1, -1):
        text = f"{v:{plus},.{p}f}"
        if len(text) <= width:
            return text
    for suffix, scale in SUFFIXES:
        scaled = v / scale
        for p in (2, 1, 0):
            text = f"{scaled:{plus},.{p}f}{suffix}"
            if len(text) <= width:
                return text
    return f"{v:{plus}.0e}"


def fit_position(v: Decimal | None, width: int) -> str:
    """A position (see `position`) in at most `width` characters: rounded to fewer
    decimals, then abbreviated, if it must be; never cut."""
    text = position(v)
    if v is None or len(text) <= width:
        return text
    places = max(0, -int(Decimal(v).normalize().as_tuple().exponent))
    return fit(v, width, places, sign=True)


def price(v: Decimal | None, tick_places: int = 2) -> str:
    return "-" if v is None else f"{v:,.{tick_places}f}"


def bps(v: float | Decimal | None) -> str:
    return "-" if v is None else f"{float(v):.1f}bps"


def pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.0f}%"


def number(v: object, places: int = 6) -> str:
    """A number in a log line: integers as they are, a decimal of up to two places as it
    is (a price keeps its tick's zeros: 3413.10); anything longer (floats, computed
    decimals) to at most `places` decimals without trailing zeros (16.7624, not
    16.762400)."""
    if isinstance(v, bool) or not isinstance(v, (int, float, Decimal)):
        return str(v)
    if isinstance(v, int):
        return str(v)
    d = v if isinstance(v, Decimal) else Decimal(repr(v))
    if not d.is_finite():
        return str(v)
    exp = d.as_tuple().exponent
    if isinstance(v, Decimal) and isinstance(exp, int) and -2 <= exp <= 0:
        return f"{d:f}"
    text = f"{d.quantize(Decimal(1).scaleb(-places)):f}" if abs(d) < Decimal(10) ** 15 \
        else f"{d:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


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
