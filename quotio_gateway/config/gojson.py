"""The JSON body of ``GET /v0/management/config``: the Go struct through ``encoding/json``.

Rules reproduced: fields in struct order; ``json:"-"`` fields (host, port, remote-management,
auth-dir) left out; ``omitempty`` drops false/0/""/nil pointer/empty slice or map but never a
struct (so ``"auth": {}`` and ``"routing": {}`` appear); a nil slice or map that is not omitempty
is ``null``; map keys sorted bytewise. ``go_json_dumps`` adds the encoder's byte-level habits:
compact separators, ``<``/``>``/``&``/U+2028/U+2029 escaped, Go's float spelling.
"""

from __future__ import annotations

import json
import math
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .models import Config, GoModel


def _go_empty(value: Any) -> bool:
    if value is None or value is False:
        return True
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return value == 0
    if isinstance(value, str | list | dict):
        return len(value) == 0
    return False  # structs are never "empty" to encoding/json


def _plain(value: Any) -> Any:
    if isinstance(value, GoModel):
        return _model(value)
    if isinstance(value, dict):
        return {str(k): _plain(value[k]) for k in sorted(value, key=lambda k: str(k).encode())}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        # Go prints float64(3) as 3; keep that for any encoder the caller uses.
        if value.is_integer() and abs(value) < 1e21:
            return int(value)
        return float(value)
    if isinstance(value, str):
        return str(value)
    return value


def _model(model: GoModel) -> dict[str, Any]:
    cls = type(model)
    skip_python = getattr(cls, "go_extra_fields", frozenset())
    out: dict[str, Any] = {}
    for name, info in cls.model_fields.items():
        if name in skip_python:
            continue
        key = info.alias or name
        if key in cls.go_json_skip:
            continue
        value = getattr(model, name)
        if key in cls.go_json_omitempty:
            if _go_empty(value):
                continue
        elif isinstance(value, list | dict) and model.is_nil(name):
            out[key] = None
            continue
        out[key] = _plain(value)
    return out


def config_to_go_json(cfg: Config) -> dict[str, Any]:
    """What CLIProxyAPI's ``c.JSON(200, cfg)`` serialises, as an ordered dict."""
    return _model(cfg)


def go_json_value(value: Any) -> Any:
    """Any config value (a nested struct, a list of them, a map) as ``encoding/json`` shapes it,
    for handlers that answer with one part of the config rather than the whole of it."""
    return _plain(value)


def go_float_f(value: float) -> str:
    """``strconv.FormatFloat(n, 'f', -1, 64)`` of a finite float: the shortest digits that read
    back, never in exponent form (``1.0`` -> ``1``, ``1e-7`` -> ``0.0000001``)."""
    text = format(Decimal(repr(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _go_float(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        raise ValueError(f"json: unsupported value: {value}")
    absolute = abs(value)
    if absolute != 0 and (absolute < 1e-6 or absolute >= 1e21):
        text = repr(value)
        mantissa, _, exp = text.partition("e")
        sign = exp[0] if exp[:1] in "+-" else "+"
        digits = exp.lstrip("+-").lstrip("0") or "0"
        if sign == "+" and len(digits) < 2:
            digits = digits.rjust(2, "0")
        return f"{mantissa}e{sign}{digits}"
    return go_float_f(value)


_HTML_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                               "\u2028": "\\u2028", "\u2029": "\\u2029",
                               # A byte that is not UTF-8, kept by ``surrogateescape``: Go writes
                               # ``\\ufffd`` for each (encoding/json encodeState.string).
                               **{chr(0xDC80 + i): "\\ufffd" for i in range(128)}})


def _encode(value: Any, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(str(int(value)))
    elif isinstance(value, float):
        out.append(_go_float(value))
    elif isinstance(value, str):
        out.append(json.dumps(str(value), ensure_ascii=False).translate(_HTML_ESCAPES))
    elif isinstance(value, dict):
        out.append("{")
        for i, (k, v) in enumerate(value.items()):
            if i:
                out.append(",")
            _encode(str(k), out)
            out.append(":")
            _encode(v, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, v in enumerate(value):
            if i:
                out.append(",")
            _encode(v, out)
        out.append("]")
    else:
        raise TypeError(f"json: unsupported type: {type(value).__name__}")


def go_json_dumps(value: Any) -> bytes:
    """Encode like Go's ``json.Marshal`` (dict order is kept as given; use ``_plain`` order)."""
    out: list[str] = []
    _encode(value, out)
    return "".join(out).encode("utf-8")


# --- yaml.Marshal of the struct (the tree SaveConfigPreserveComments merges from) -----------


@dataclass
class YamlScalar:
    tag: str  # "str", "int", "bool", "float", "null"
    value: Any


@dataclass
class YamlMap:
    items: list[tuple[str, YamlNode]] = field(default_factory=list)


@dataclass
class YamlSeq:
    items: list[YamlNode] = field(default_factory=list)


YamlNode = YamlScalar | YamlMap | YamlSeq


def _yaml_key_less(a: str, b: str) -> bool:
    """yaml.v3's map key order: letters before digits, digit runs compared as numbers."""
    for i in range(min(len(a), len(b))):
        if a[i] == b[i]:
            continue
        al, bl = a[i].isalpha(), b[i].isalpha()
        if al and bl:
            return a[i] < b[i]
        if al or bl:
            return bl
        an = bn = 0
        if a[i] == "0" or b[i] == "0":
            j = i - 1
            while j >= 0 and unicodedata.category(a[j]) == "Nd":
                if a[j] != "0":
                    an = bn = 1
                    break
                j -= 1
        ai = i
        while ai < len(a) and a[ai].isdigit():
            an = an * 10 + int(a[ai])
            ai += 1
        bi = i
        while bi < len(b) and b[bi].isdigit():
            bn = bn * 10 + int(b[bi])
            bi += 1
        if an != bn:
            return an < bn
        if ai != bi:
            return ai < bi
        return a[i] < b[i]
    return len(a) < len(b)


def _sorted_keys(keys: list[str]) -> list[str]:
    out: list[str] = []
    for k in keys:  # insertion sort: these maps are tiny and the comparator is not a key function
        i = len(out)
        while i > 0 and _yaml_key_less(k, out[i - 1]):
            i -= 1
        out.insert(i, k)
    return out


def _is_zero_value(value: Any) -> bool:
    if isinstance(value, GoModel):
        return all(_is_zero_value(getattr(value, n)) for n in _go_field_names(value))
    return value is None or value is False or (not isinstance(value, bool) and value in (0, "")) or (
        isinstance(value, list | dict) and not value)


def _go_field_names(model: GoModel) -> list[str]:
    skip = getattr(type(model), "go_extra_fields", frozenset())
    return [n for n in type(model).model_fields if n not in skip]


def render_go_yaml(value: Any) -> YamlNode:
    """What ``yaml.Marshal`` produces for a config value (struct, slice, map or scalar)."""
    if isinstance(value, GoModel):
        node = YamlMap()
        cls = type(value)
        for name in _go_field_names(value):
            alias = cls.model_fields[name].alias or name
            item = getattr(value, name)
            if alias in cls.go_yaml_omitempty:
                # A pointer (cloak) is zero only when nil; a struct when all its fields are.
                zero = item is None if alias in cls.go_pointer_fields else _is_zero_value(item)
                if zero:
                    continue
            node.items.append((alias, render_go_yaml(item)))
        return node
    if isinstance(value, dict):
        return YamlMap([(str(k), render_go_yaml(value[k])) for k in _sorted_keys([str(k) for k in value])])
    if isinstance(value, list | tuple):
        return YamlSeq([render_go_yaml(v) for v in value])
    if value is None:
        return YamlScalar("null", None)
    if isinstance(value, bool):
        return YamlScalar("bool", value)
    if isinstance(value, int):
        return YamlScalar("int", int(value))
    if isinstance(value, float):
        return YamlScalar("float", value)
    return YamlScalar("str", str(value))
