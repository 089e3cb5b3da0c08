"""desk.ui.format: numbers in fixed widths never cut, one way to write a position, and
log numbers at a sensible precision."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from desk.engine.events import Event, EventType
from desk.ui.format import fit, fit_position, number, position, qty
from desk.ui.widgets.event_log import describe

D = Decimal


def test_fit_drops_decimals_then_abbreviates_and_never_cuts():
    assert fit(D("63850.25"), 9) == "63,850.25"
    assert fit(D("63850.25"), 8) == "63,850.2"
    assert fit(D("2330924.5"), 8) == "2,330.9k"      # was cut to "2,330,924."
    assert fit(D("-1234567.891"), 8, sign=True) == "-1,235k"
    assert fit(D("1.1"), 8, sign=True) == "+1.10"
    assert fit(D("1e20"), 6) == "1e+20"
    assert fit(None, 8) == "-"


@settings(max_examples=300, deadline=None)
@given(v=st.decimals(min_value=-10**14, max_value=10**14, allow_nan=False,
                     allow_infinity=False, places=4),
       width=st.integers(6, 12))
def test_fit_always_fits(v, width):
    assert len(fit(v, width)) <= width
    assert len(fit(v, width, sign=True)) <= width


def test_one_way_to_write_a_position():
    assert position(D("0.400")) == "+0.4" and position(D("-3.2")) == "-3.2"
    assert position(D("1250")) == "+1,250" and position(D("1E+3")) == "+1,000"
    assert position(D("0")) == position(D("-0")) == "0" and position(None) == "-"
    assert fit_position(D("1234.5678"), 7) == "+1,235" and fit_position(D("0.4"), 7) == "+0.4"
    assert qty(D("1234.50")) == "1,234.5" and qty(D("10")) == "10"


def test_log_numbers_at_a_sensible_precision():
    assert number(16.762400000000001) == "16.7624" and number(D("16.762400")) == "16.7624"
    assert number(D("3413.10")) == "3413.10" and number(D("64044.0")) == "64044.0"
    assert number(0.1 + 0.2) == "0.3" and number(7) == "7" and number("x") == "x"
    e = Event(EventType.QUOTE_SENT, "s", 0, {"fair": D("64012.30000000"),
                                             "spread_bps": D("16.762400")})
    assert describe(e) == "fair=64012.3 spread_bps=16.8"
    e = Event(EventType.POSITION_CHANGED, "s", 0, {"new_position": D("29.90")})
    assert describe(e) == "new_position=+29.9"
