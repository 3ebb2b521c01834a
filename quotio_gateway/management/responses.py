"""Wire helpers for the management API: Go-compatible JSON in and out, and the build headers.

CLIProxyAPI answers through Gin's ``c.JSON`` (Go ``encoding/json``) and reads bodies with Go's
decoder. A client must not be able to tell the two servers apart, so this module reproduces the
observable parts of both: compact output with HTML-safe escaping and sorted ``gin.H`` keys, and a
decoder that matches struct fields case-insensitively, lets the last duplicate win, treats
``null`` as "leave unset" and rejects numbers that do not fit the Go field type.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from aiohttp import web

from ..config.gojson import go_json_dumps

# Build identity reported by every management answer, as the v6.7.15 release binary stamps it
# (goreleaser: Version without the "v", ShortCommit, Date in RFC 3339 UTC). The commit is the
# pinned legacy source (git describe v6.7.15-2-g9b72ea9ef); the date is that commit's time in UTC.
CPA_VERSION = "6.7.15"
CPA_COMMIT = "9b72ea9ef"
CPA_BUILD_DATE = "2026-01-20T12:02:29Z"
CPA_HEADERS: Mapping[str, str] = {
    "X-CPA-VERSION": CPA_VERSION,
    "X-CPA-COMMIT": CPA_COMMIT,
    "X-CPA-BUILD-DATE": CPA_BUILD_DATE,
}

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
_R = TypeVar("_R", bound=web.StreamResponse)


INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

# ---------------------------------------------------------------------------------------------
# Output
# Bodies are encoded by ``config.gojson.go_json_dumps`` (compact, HTML-safe escapes, Go float
# spelling); it keeps mapping order, so Gin's ad-hoc maps go through gin_h first.


def gin_h(**fields: Any) -> dict[str, Any]:
    """A ``gin.H`` literal: Go marshals map keys in sorted order."""
    return {key: fields[key] for key in sorted(fields)}


def with_cpa_headers(response: _R) -> _R:
    for name, value in CPA_HEADERS.items():
        response.headers[name] = value
    return response


def json_response(status: int, value: Any) -> web.Response:
    """Gin's ``c.JSON(status, value)``."""
    return web.Response(status=status, body=go_json_dumps(value), headers={"Content-Type": JSON_CONTENT_TYPE})


def error_response(status: int, message: str) -> web.Response:
    return json_response(status, {"error": message})


def status_ok() -> web.Response:
    return json_response(200, {"status": "ok"})


def gin_not_found() -> web.Response:
    """Gin's answer for a path with no route: plain text, no JSON."""
    return web.Response(status=404, body=b"404 page not found", headers={"Content-Type": "text/plain"})


# ---------------------------------------------------------------------------------------------
# Input: a JSON value parsed with Go-relevant details kept


class GoJSONError(ValueError):
    """The body is not what Go's decoder would accept for the target type."""


class GoObject(list[tuple[str, Any]]):
    """A JSON object as its ordered key/value pairs, duplicates included (Go applies each in turn)."""


class GoNumber(str):
    """A JSON number kept as its literal text so integer fields can reject ``1.0`` or ``1e3`` like Go."""


_INT_LITERAL = re.compile(r"-?(?:0|[1-9][0-9]*)\Z")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _reject_constant(name: str) -> Any:
    raise GoJSONError(f"invalid character {name[0]!r} looking for beginning of value")


def _clean_string(text: str) -> str:
    return _LONE_SURROGATE.sub("\ufffd", text)


_DECODER = json.JSONDecoder(
    object_pairs_hook=GoObject,
    parse_float=GoNumber,
    parse_int=GoNumber,
    parse_constant=_reject_constant,
)
_WS = " \t\r\n"
# Go's scanner refuses nesting deeper than this with a syntax error; Python's C scanner gives up far
# earlier (the interpreter's recursion limit) with RecursionError. Either way the body is not one
# Go would bind, so both become GoJSONError (a 400) rather than escaping as a 500.
_TOO_DEEP = "exceeded max depth"


def parse_first_value(body: bytes) -> Any:
    """Gin's ``ShouldBindJSON``: decode the first JSON value, ignore whatever follows it."""
    text = body.decode("utf-8", errors="replace")
    start = len(text) - len(text.lstrip(_WS))
    if start == len(text):
        raise GoJSONError("EOF")
    try:
        value, _ = _DECODER.raw_decode(text, start)
    except json.JSONDecodeError as exc:
        raise GoJSONError(str(exc)) from exc
    except RecursionError:
        raise GoJSONError(_TOO_DEEP) from None
    return value


def parse_whole(body: bytes) -> Any:
    """Go's ``json.Unmarshal``: exactly one JSON value, surrounded by whitespace only."""
    text = body.decode("utf-8", errors="replace")
    try:
        return _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise GoJSONError(str(exc)) from exc
    except RecursionError:
        raise GoJSONError(_TOO_DEEP) from None


# ---------------------------------------------------------------------------------------------
# Typed conversion. A decoder maps a parsed value to a Python value; ``None`` in the input is the
# JSON null and is handled by the caller (struct fields) or by the decoder (collection elements).

Decoder = Callable[[Any], Any]


def as_bool(value: Any) -> bool:
    if value is True or value is False:
        return value
    raise GoJSONError("cannot unmarshal into bool")


def as_int(value: Any) -> int:
    if isinstance(value, GoNumber) and _INT_LITERAL.match(value):
        number = int(value)
        if INT64_MIN <= number <= INT64_MAX:
            return number
    raise GoJSONError("cannot unmarshal into int")


def as_str(value: Any) -> str:
    if isinstance(value, str) and not isinstance(value, GoNumber):
        return _clean_string(value)
    raise GoJSONError("cannot unmarshal into string")


def zero_of(decoder: Decoder) -> Any:
    """Go's zero value for an element type (what ``null`` becomes inside a slice or map)."""
    if decoder is as_bool:
        return False
    if decoder is as_int:
        return 0
    if decoder is as_str:
        return ""
    return getattr(decoder, "zero", None)


def list_of(element: Decoder) -> Decoder:
    """``[]T``: ``null`` elements become T's zero value."""

    def decode(value: Any) -> list[Any]:
        if not isinstance(value, list) or isinstance(value, GoObject):
            raise GoJSONError("cannot unmarshal into slice")
        return [zero_of(element) if item is None else element(item) for item in value]

    return decode


def map_of(element: Decoder) -> Decoder:
    """``map[string]T``: later duplicates win, ``null`` values become T's zero value."""

    def decode(value: Any) -> dict[str, Any]:
        if not isinstance(value, GoObject):
            raise GoJSONError("cannot unmarshal into map")
        out: dict[str, Any] = {}
        for key, item in value:
            out[_clean_string(key)] = zero_of(element) if item is None else element(item)
        return out

    return decode


class Field:
    """One Go struct field: its JSON name, element decoder and whether it is a pointer/slice/map.

    For pointer, slice and map fields a JSON ``null`` sets the field to nil (``None`` here); for
    plain scalars Go leaves the previous value in place.
    """

    __slots__ = ("decoder", "name", "nilable")

    def __init__(self, name: str, decoder: Decoder, *, nilable: bool = False) -> None:
        self.name = name
        self.decoder = decoder
        self.nilable = nilable


class Struct:
    """A Go struct decoder: unknown keys ignored, names matched exactly first, then case-folded."""

    def __init__(self, *fields: Field) -> None:
        self.fields = {f.name: f for f in fields}
        self._folded = {f.name.casefold(): f for f in fields}

    def _field(self, key: str) -> Field | None:
        return self.fields.get(key) or self._folded.get(key.casefold())

    def __call__(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, GoObject):
            raise GoJSONError("cannot unmarshal into struct")
        out: dict[str, Any] = {}
        for key, item in value:
            field = self._field(key)
            if field is None:
                continue
            if item is None:
                if field.nilable:
                    out[field.name] = None
                continue
            out[field.name] = field.decoder(item)
        return out

    @property
    def zero(self) -> dict[str, Any]:
        return {}


def decode_body(body: bytes, decoder: Decoder, *, whole: bool) -> Any:
    """Decode ``body`` into the target described by ``decoder``; a top-level null yields ``None``.

    ``whole`` selects ``json.Unmarshal`` (raw-body handlers) over ``ShouldBindJSON`` (bind handlers).
    """
    value = parse_whole(body) if whole else parse_first_value(body)
    if value is None:
        return None
    return decoder(value)


def list_or_items(body: bytes, element: Decoder) -> list[Any] | None:
    """The list PUT convention: a bare array, else ``{"items": [...]}`` with at least one item.

    Returns ``None`` for a bare ``null`` (Go leaves the slice nil); raises GoJSONError otherwise.
    """
    decoder = list_of(element)
    try:
        return decode_body(body, decoder, whole=True)
    except GoJSONError:
        wrapper = decode_body(body, Struct(Field("items", decoder, nilable=True)), whole=True)
        items = (wrapper or {}).get("items")
        if not items:
            raise GoJSONError("empty items") from None
        return items

