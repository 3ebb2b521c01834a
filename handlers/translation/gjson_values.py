"""Scalar readers with gjson's conversion rules (``String()``, ``Int()``, ``Bool()``).

The legacy translators read upstream JSON through gjson, which converts between kinds instead of
failing; these reproduce its results for values already decoded from JSON, so translators that
diff against different legacy files agree on the same rules.
"""

from __future__ import annotations

import math
from typing import Any

from handlers.translation.sse import json_text
from quotio_gateway.config.gojson import go_float_f


def array_of(value: Any) -> list[Any]:
    """The elements of a JSON array; nothing for any other value.

    The legacy translators guard every loop with gjson ``IsArray()`` (or iterate a ``Get`` that
    yields no elements), so a client or upstream sending, say, ``"tools": 1`` gets that field
    ignored, not an error; a bare ``value or []`` would raise on such input instead.
    """
    return value if isinstance(value, list) else []


def member_of(value: Any, key: str) -> Any:
    """gjson ``Get("a.key")`` one level down: the member of an object, None below anything else."""
    return value.get(key) if isinstance(value, dict) else None


def text_of(value: Any) -> str:
    """gjson ``String()``: strings verbatim, null empty, a number as Go spells it, objects and
    arrays as their JSON text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return float_text(value)
    return json_text(value)


def float_text(value: float) -> str:
    """gjson ``String()`` of a number written with a point or exponent: Go's
    ``strconv.FormatFloat(n, 'f', -1, 64)``, the shortest digits that read back, never in
    exponent form (``1.0`` -> ``1``, ``1e3`` -> ``1000``, ``1e-7`` -> ``0.0000001``). A number
    written as plain digits decodes to an int and keeps its digits."""
    if math.isnan(value) or math.isinf(value):
        return "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")
    return go_float_f(value)


def float_of(value: Any) -> float:
    """gjson ``Float()``: numbers, strings as ``strconv.ParseFloat`` reads them, booleans;
    anything else is 0."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        return parse_float(value)
    return 0.0


def parse_float(text: str) -> float:
    """``strconv.ParseFloat(s, 64)``, 0 where Go reports a syntax error (gjson drops the error).

    Python's ``float`` is laxer: it trims whitespace, reads ``_`` separators, non-ASCII digits and
    a signed ``nan``, all of which Go refuses; Go reads a hexadecimal float when it has its ``p``
    exponent, which ``float`` never does. Out of range both answer the infinity."""
    if not text.isascii() or "_" in text or text != text.strip():
        return 0.0
    sign = text[:1] if text[:1] in ("+", "-") else ""
    unsigned = text[len(sign):]
    if unsigned[:2].lower() == "0x":
        if "p" not in unsigned.lower():
            return 0.0
        try:
            return float.fromhex(text)
        except OverflowError:
            return -math.inf if sign == "-" else math.inf
        except ValueError:
            return 0.0
    if sign and unsigned.lower() == "nan":
        return 0.0
    try:
        return float(text)
    except ValueError:
        return 0.0


def int_of(value: Any) -> int:
    """gjson ``Int()``: numbers truncate toward zero, infinities and NaN are 0, beyond int64 a
    number saturates at its bounds; a string counts only when it is plain decimal digits with an
    optional leading ``-`` (gjson v1.18.0 ``parseInt``: no spaces, ``+``, point or exponent, so
    ``"12.5"`` and ``" 12 "`` are 0), and its digits wrap around in int64 as Go's arithmetic does;
    anything else is 0."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return _int64(value)
    if isinstance(value, float):
        return _int64(int(value)) if math.isfinite(value) else 0
    if isinstance(value, str):
        digits = value[1:] if value.startswith("-") else value
        if not (digits.isascii() and digits.isdigit()):
            return 0
        number = -int(digits) if value.startswith("-") else int(digits)
        return (number + 2**63) % 2**64 - 2**63
    return 0


def _int64(number: int) -> int:
    return min(max(number, -(2**63)), 2**63 - 1)


def bool_of(value: Any) -> bool:
    """gjson ``Bool()``: true, a true-looking string, or a non-zero number."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        # strconv.ParseBool(strings.ToLower(s)): "tRuE" counts too.
        return value.lower() in ("1", "t", "true")
    return False
