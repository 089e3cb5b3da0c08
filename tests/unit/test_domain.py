"""desk.domain: exact decimal parsing and formatting, rounding to increments, enums."""

from __future__ import annotations

from decimal import Decimal

import pytest

from desk.domain import (
    DecimalError,
    OrderStatus,
    Side,
    bps_of,
    ceil_to,
    floor_to,
    fmt,
    is_multiple,
    parse_decimal,
)

D = Decimal


# --- parse_decimal ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("64012.5", D("64012.5")),
        ("0.001", D("0.001")),
        ("-3.25", D("-3.25")),
        ("100", D("100")),
        ("999999999999999.999999999999", D("999999999999999.999999999999")),
        (7, D(7)),
        (0, D(0)),
        (-12, D(-12)),
        (D("2.50"), D("2.5")),
    ],
)
def test_parse_decimal_accepts_strings_ints_and_decimals(raw, expected):
    got = parse_decimal(raw, "price")
    assert isinstance(got, Decimal)
    assert got == expected


def test_parse_decimal_keeps_exact_digits():
    # a float would turn 0.1 into 0.1000000000000000055511151231257827...
    assert parse_decimal("0.1") == D("0.1")
    assert str(parse_decimal("64012.10")) == "64012.10"


@pytest.mark.parametrize("raw", [1.5, 0.0, float("nan"), float("inf")])
def test_parse_decimal_rejects_floats_naming_the_field(raw):
    with pytest.raises(DecimalError) as info:
        parse_decimal(raw, "price")
    assert str(info.value).startswith("price: ")
    assert "float" in str(info.value)


@pytest.mark.parametrize("raw", [True, False])
def test_parse_decimal_rejects_bools(raw):
    # bool is a subclass of int; it must not sneak through as 1 / 0
    with pytest.raises(DecimalError) as info:
        parse_decimal(raw, "quantity")
    assert str(info.value).startswith("quantity: ")
    assert "bool" in str(info.value)


@pytest.mark.parametrize("raw", ["NaN", "nan", "sNaN", "Infinity", "-Infinity", "inf", "-inf"])
def test_parse_decimal_rejects_non_finite(raw):
    with pytest.raises(DecimalError) as info:
        parse_decimal(raw, "size")
    assert str(info.value).startswith("size: ")
    assert "not a plain decimal number" in str(info.value)


@pytest.mark.parametrize("raw", ["abc", "", "   ", "1.2.3", "12,5", "0x10", "--1", "1e3", "1_0",
                                 " 1.5 ", "1.5\n", "+1", ".5", "5.", "1E-3"])
def test_parse_decimal_rejects_anything_but_plain_decimal_strings(raw):
    with pytest.raises(DecimalError) as info:
        parse_decimal(raw, "price")
    assert str(info.value).startswith("price: ")
    assert "not a plain decimal number" in str(info.value)


@pytest.mark.parametrize("raw", ["1" * 16, "0." + "1" * 13, 10**15, -(10**16)])
def test_parse_decimal_bounds_the_digits(raw):
    # 15 integer and 12 fractional digits keep tick/step arithmetic exact in 28 digits
    with pytest.raises(DecimalError, match="at most 15 integer and 12 fractional digits"):
        parse_decimal(raw, "quantity")


@pytest.mark.parametrize("raw", [None, [1], {"a": 1}, b"1"])
def test_parse_decimal_rejects_other_types(raw):
    with pytest.raises(DecimalError) as info:
        parse_decimal(raw, "price")
    assert str(info.value).startswith("price: expected a decimal string")


def test_parse_decimal_without_field_has_no_prefix():
    with pytest.raises(DecimalError) as info:
        parse_decimal("x")
    assert str(info.value).startswith("'x' is not a plain decimal number")


def test_decimal_error_is_a_value_error():
    assert issubclass(DecimalError, ValueError)


# --- fmt ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (D("0"), "0"),
        (D("0.000"), "0"),
        (D("-0"), "0"),
        (D("0E-8"), "0"),
        (D("1.500"), "1.5"),
        (D("64012.50"), "64012.5"),
        (D("100"), "100"),  # integer zeros are not trailing decimals
        (D("100.00"), "100"),
        (D("1E+3"), "1000"),  # no exponent
        (D("6.4E+4"), "64000"),
        (D("1E-7"), "0.0000001"),
        (D("-2.50"), "-2.5"),
        (D("0.001"), "0.001"),
        (D("123456789.123456789"), "123456789.123456789"),
    ],
)
def test_fmt_plain_no_exponent_no_trailing_zeros(value, text):
    assert fmt(value) == text


def test_fmt_round_trips_through_parse_decimal():
    for text in ("64012.5", "0.001", "-7", "3200", "0.00000001"):
        assert fmt(parse_decimal(text)) == text


# --- rounding to increments ---------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "inc", "floor", "ceil"),
    [
        # 64012.37 / 0.1 = 640123.7 -> floor 640123 -> 64012.3, ceil 640124 -> 64012.4
        (D("64012.37"), D("0.1"), D("64012.3"), D("64012.4")),
        # already a multiple: unchanged both ways
        (D("64012.3"), D("0.1"), D("64012.3"), D("64012.3")),
        # 0.0237 / 0.001 = 23.7 -> 0.023 / 0.024
        (D("0.0237"), D("0.001"), D("0.023"), D("0.024")),
        # negative: floor goes down (-1.3), ceil goes up (-1.2)
        (D("-1.25"), D("0.1"), D("-1.3"), D("-1.2")),
        # increments that are not powers of ten: 7 / 2.5 = 2.8 -> 5 / 7.5
        (D("7"), D("2.5"), D("5"), D("7.5")),
        (D("0"), D("0.5"), D("0"), D("0")),
    ],
)
def test_floor_to_and_ceil_to(value, inc, floor, ceil):
    assert floor_to(value, inc) == floor
    assert ceil_to(value, inc) == ceil
    assert is_multiple(floor_to(value, inc), inc)
    assert is_multiple(ceil_to(value, inc), inc)


@pytest.mark.parametrize(
    ("value", "inc", "expected"),
    [
        (D("0.3"), D("0.1"), True),
        (D("0.35"), D("0.1"), False),
        (D("64000"), D("0.1"), True),
        (D("64000.05"), D("0.1"), False),
        (D("0"), D("0.001"), True),
        (D("-0.2"), D("0.1"), True),
        (D("7.5"), D("2.5"), True),
        (D("7.4"), D("2.5"), False),
    ],
)
def test_is_multiple(value, inc, expected):
    assert is_multiple(value, inc) is expected


def test_bps_of():
    # 6.4 / 64000 * 10000 = 1 bps
    assert bps_of(D("6.4"), D("64000")) == D(1)
    # 32 / 64000 * 10000 = 5 bps
    assert bps_of(D("32"), D("64000")) == D(5)


# --- enums ------------------------------------------------------------------------


def test_side_sign_and_opposite():
    assert Side.BUY.sign == 1
    assert Side.SELL.sign == -1
    assert Side.BUY.opposite is Side.SELL
    assert Side.SELL.opposite is Side.BUY
    assert Side("buy") is Side.BUY and str(Side.SELL) == "sell"


def test_order_status_live():
    assert OrderStatus.OPEN.live
    assert OrderStatus.PARTIALLY_FILLED.live
    assert not OrderStatus.FILLED.live
    assert not OrderStatus.CANCELLED.live
    assert not OrderStatus.REJECTED.live


def test_is_multiple_is_false_when_the_quotient_is_too_large_to_tell():
    # 1e100 / 0.001 needs more than 28 digits: Decimal's % would raise InvalidOperation
    assert is_multiple(D("1e100"), D("0.001")) is False
