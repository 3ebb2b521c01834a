"""gjson's scalar conversions as the translators read upstream JSON."""

from __future__ import annotations

import pytest

from handlers.translation.gjson_values import array_of, bool_of, float_of, int_of, member_of, text_of


@pytest.mark.parametrize(("value", "text"), [
    ("abc", "abc"), (None, ""), (True, "true"), (False, "false"), (12, "12"), ({"a": 1}, '{"a":1}'),
    # A number written with a point or exponent: strconv.FormatFloat(n, 'f', -1, 64).
    (1.0, "1"), (1e3, "1000"), (1.5, "1.5"), (-0.25, "-0.25"), (1e21, "1000000000000000000000"),
    (1e-7, "0.0000001"), (0.1 + 0.2, "0.30000000000000004"), (12345678901234567890, "12345678901234567890"),
])
def test_text_of(value, text) -> None:
    assert text_of(value) == text


@pytest.mark.parametrize(("value", "number"), [
    (7, 7), (7.9, 7), (-7.9, -7), ("42", 42), ("-42", -42), ("x", 0), (True, 1), (None, 0), ([1], 0),
    # A string is read only as plain digits (gjson v1.18.0 parseInt): no point, sign, space or exponent.
    ("4.5", 0), ("12.5", 0), ("+7", 0), (" 12 ", 0), ("1e3", 0), ("-", 0), ("", 0), ("٣", 0),
    # An integer string parses exactly and wraps in int64 as Go's n*10+d does; infinities and NaN
    # (lenient bodies can hold them) are 0; a number beyond int64 saturates.
    ("1234567890123456789", 1234567890123456789), ("12345678901234567890", 12345678901234567890 - 2**64),
    (-(2**70), -(2**63)), (1e20, 2**63 - 1), (float("inf"), 0), (float("nan"), 0), ("1e999", 0),
])
def test_int_of(value, number) -> None:
    assert int_of(value) == number


@pytest.mark.parametrize(("value", "flag"), [
    (True, True), (0, False), (0.5, True), ("t", True), ("True", True), ("tRuE", True), ("T", True),
    ("1", True), ("yes", False), ("0", False), (None, False),
])
def test_bool_of(value, flag) -> None:
    assert bool_of(value) is flag


@pytest.mark.parametrize(("value", "items"), [
    ([1, "a"], [1, "a"]), ([], []), (1, []), ("ab", []), ({"a": 1}, []), (None, []), (True, []),
])
def test_array_of(value, items) -> None:
    # A string or object is not iterated (IsArray() is false for them).
    assert array_of(value) == items


@pytest.mark.parametrize(("value", "member"), [({"url": "u"}, "u"), ({}, None), ("u", None), (1, None), (None, None)])
def test_member_of(value, member) -> None:
    assert member_of(value, "url") == member


@pytest.mark.parametrize(("value", "number"), [
    (2, 2.0), (0.5, 0.5), ("1.5", 1.5), ("-2e3", -2000.0), ("0x1p-2", 0.25), (True, 1.0),
    # strconv.ParseFloat refuses what Python's float reads: spaces, separators, non-ASCII digits,
    # a signed NaN, a hexadecimal number without its exponent.
    (" 1.5 ", 0.0), ("1_000", 0.0), ("\u0661", 0.0), ("-nan", 0.0), ("0x10", 0.0),
    ("x", 0.0), (None, 0.0), ({}, 0.0),
])
def test_float_of(value, number) -> None:
    assert float_of(value) == number
