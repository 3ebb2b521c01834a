"""The legacy binary's config struct (internal/config at v6.7.15) as data, so the stand-in can
decode YAML/JSON with Go's type rules and render JSON and YAML the way Go's encoders would.

A config value is a plain dict holding every struct field (Go zero values when absent): lists and
maps are ``None`` when Go would hold a nil slice/map, which matters because Go renders nil as
``null`` in JSON but as ``[]``/``{}`` in YAML.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


class GoDecodeError(ValueError):
    """A value did not fit the Go field type (yaml.v3 / encoding/json would fail too)."""


@dataclass(frozen=True)
class Field:
    key: str
    kind: str  # str int bool strlist list map_str map_strlist map_list struct ptr anymap
    sub: tuple[Field, ...] = ()
    yaml_omit: bool = False
    json_omit: bool = False
    json_skip: bool = False


def _f(key: str, kind: str, sub: tuple[Field, ...] = (), omit: bool = False, **kw: bool) -> Field:
    return Field(key, kind, sub, yaml_omit=omit, json_omit=omit, **kw)


MODEL = (_f("name", "str"), _f("alias", "str"))
GEMINI_KEY = (
    _f("api-key", "str"),
    _f("priority", "int", omit=True),
    _f("prefix", "str", omit=True),
    _f("base-url", "str", omit=True),
    _f("proxy-url", "str", omit=True),
    _f("models", "list", MODEL, omit=True),
    _f("headers", "map_str", omit=True),
    _f("excluded-models", "strlist", omit=True),
)
CLOAK = (
    _f("mode", "str", omit=True),
    _f("strict-mode", "bool", omit=True),
    _f("sensitive-words", "strlist", omit=True),
)
CODEX_KEY = (
    _f("api-key", "str"),
    _f("priority", "int", omit=True),
    _f("prefix", "str", omit=True),
    _f("base-url", "str"),
    _f("proxy-url", "str"),
    _f("models", "list", MODEL),
    _f("headers", "map_str", omit=True),
    _f("excluded-models", "strlist", omit=True),
)
CLAUDE_KEY = (*CODEX_KEY, _f("cloak", "ptr", CLOAK, omit=True))
COMPAT_API_KEY = (_f("api-key", "str"), _f("proxy-url", "str", omit=True))
OPENAI_COMPAT = (
    _f("name", "str"),
    _f("priority", "int", omit=True),
    _f("prefix", "str", omit=True),
    _f("base-url", "str"),
    _f("api-key-entries", "list", COMPAT_API_KEY, omit=True),
    _f("models", "list", MODEL),
    _f("headers", "map_str", omit=True),
)
VERTEX_KEY = (
    _f("api-key", "str"),
    _f("priority", "int", omit=True),
    _f("prefix", "str", omit=True),
    _f("base-url", "str", omit=True),
    _f("proxy-url", "str", omit=True),
    _f("headers", "map_str", omit=True),
    _f("models", "list", MODEL, omit=True),
)
OAUTH_ALIAS = (_f("name", "str"), _f("alias", "str"), _f("fork", "bool", omit=True))
AMP_MAPPING = (_f("from", "str"), _f("to", "str"), _f("regex", "bool", omit=True))
AMP_UPSTREAM_KEY = (_f("upstream-api-key", "str"), _f("api-keys", "strlist"))
AMPCODE = (
    _f("upstream-url", "str"),
    _f("upstream-api-key", "str"),
    _f("upstream-api-keys", "list", AMP_UPSTREAM_KEY, omit=True),
    _f("restrict-management-to-localhost", "bool"),
    _f("model-mappings", "list", AMP_MAPPING),
    _f("force-model-mappings", "bool"),
)
PAYLOAD_RULE = (_f("models", "list", (_f("name", "str"), _f("protocol", "str"))), _f("params", "anymap"))
PAYLOAD = tuple(_f(k, "list", PAYLOAD_RULE) for k in ("default", "default-raw", "override", "override-raw"))
ACCESS_PROVIDER = (
    _f("name", "str"),
    _f("type", "str"),
    _f("sdk", "str", omit=True),
    _f("api-keys", "strlist", omit=True),
    _f("config", "anymap", omit=True),
)
CONFIG: tuple[Field, ...] = (
    # SDKConfig is inlined first (yaml ",inline"; embedded struct in JSON).
    _f("proxy-url", "str"),
    _f("force-model-prefix", "bool"),
    _f("request-log", "bool"),
    _f("api-keys", "strlist"),
    # omitempty on a struct hides it in YAML only; encoding/json never treats structs as empty.
    Field("auth", "struct", (_f("providers", "list", ACCESS_PROVIDER, omit=True),), yaml_omit=True),
    _f("streaming", "struct", (_f("keepalive-seconds", "int", omit=True), _f("bootstrap-retries", "int", omit=True))),
    _f("nonstream-keepalive-interval", "int", omit=True),
    Field("host", "str", json_skip=True),
    Field("port", "int", json_skip=True),
    _f("tls", "struct", (_f("enable", "bool"), _f("cert", "str"), _f("key", "str"))),
    Field(
        "remote-management",
        "struct",
        (
            _f("allow-remote", "bool"),
            _f("secret-key", "str"),
            _f("disable-control-panel", "bool"),
            _f("panel-github-repository", "str"),
        ),
        json_skip=True,
    ),
    Field("auth-dir", "str", json_skip=True),
    _f("debug", "bool"),
    _f("commercial-mode", "bool"),
    _f("logging-to-file", "bool"),
    _f("logs-max-total-size-mb", "int"),
    _f("usage-statistics-enabled", "bool"),
    _f("disable-cooling", "bool"),
    _f("request-retry", "int"),
    _f("max-retry-interval", "int"),
    _f("quota-exceeded", "struct", (_f("switch-project", "bool"), _f("switch-preview-model", "bool"))),
    _f("routing", "struct", (_f("strategy", "str", omit=True),)),
    _f("ws-auth", "bool"),
    _f("codex-instructions-enabled", "bool"),
    _f("gemini-api-key", "list", GEMINI_KEY),
    _f("codex-api-key", "list", CODEX_KEY),
    _f("claude-api-key", "list", CLAUDE_KEY),
    _f("openai-compatibility", "list", OPENAI_COMPAT),
    _f("vertex-api-key", "list", VERTEX_KEY),
    _f("ampcode", "struct", AMPCODE),
    _f("oauth-excluded-models", "map_strlist", omit=True),
    _f("oauth-model-alias", "map_list", OAUTH_ALIAS, omit=True),
    _f("payload", "struct", PAYLOAD),
)

_OLD_TRUE = {"y", "Y", "yes", "Yes", "YES", "on", "On", "ON"}
_OLD_FALSE = {"n", "N", "no", "No", "NO", "off", "Off", "OFF"}


def zero_struct(fields: tuple[Field, ...]) -> dict[str, Any]:
    return {f.key: _zero(f) for f in fields}


def _zero(f: Field) -> Any:
    if f.kind == "str":
        return ""
    if f.kind == "int":
        return 0
    if f.kind == "bool":
        return False
    if f.kind == "struct":
        return zero_struct(f.sub)
    return None


def _scalar_text(raw: Any) -> str:
    if isinstance(raw, bool):
        return "true" if raw else "false"
    return str(raw)


def _decode(f: Field, raw: Any, is_json: bool, path: str) -> Any:
    if raw is None:
        return _zero(f)
    kind = f.kind
    if kind == "str":
        if isinstance(raw, str):
            return str(raw)
        # yaml.v3 stores any plain scalar's text in a string field; encoding/json refuses.
        if not is_json and isinstance(raw, (int, float, bool)):
            return _scalar_text(raw)
        raise GoDecodeError(f"cannot unmarshal {type(raw).__name__} into {path} of type string")
    if kind == "int":
        if isinstance(raw, int) and not isinstance(raw, bool):
            return int(raw)
        # yaml.v3 truncates a float into an int field; encoding/json refuses it.
        if not is_json and isinstance(raw, float) and abs(raw) < 2**63:
            return int(raw)
        raise GoDecodeError(f"cannot unmarshal {raw!r} into {path} of type int")
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        if not is_json and isinstance(raw, str) and raw in _OLD_TRUE | _OLD_FALSE:
            return raw in _OLD_TRUE
        raise GoDecodeError(f"cannot unmarshal {raw!r} into {path} of type bool")
    if kind in ("struct", "ptr"):
        if not isinstance(raw, dict):
            raise GoDecodeError(f"cannot unmarshal {type(raw).__name__} into {path}")
        return decode_struct(f.sub, raw, is_json, path)
    if kind in ("strlist", "list"):
        if not isinstance(raw, list):
            raise GoDecodeError(f"cannot unmarshal {type(raw).__name__} into {path} of type slice")
        item = Field(f.key, "str") if kind == "strlist" else Field(f.key, "struct", f.sub)
        return [_decode(item, v, is_json, f"{path}[{i}]") for i, v in enumerate(raw)]
    if kind in ("map_str", "map_strlist", "map_list", "anymap"):
        if not isinstance(raw, dict):
            raise GoDecodeError(f"cannot unmarshal {type(raw).__name__} into {path} of type map")
        if kind == "anymap":
            return {str(k): plain(v) for k, v in raw.items()}
        inner = {
            "map_str": Field(f.key, "str"),
            "map_strlist": Field(f.key, "strlist"),
            "map_list": Field(f.key, "list", f.sub),
        }[kind]
        return {_scalar_text(k): _decode(inner, v, is_json, f"{path}.{k}") for k, v in raw.items()}
    raise AssertionError(kind)


def decode_struct(fields: tuple[Field, ...], raw: dict[Any, Any], is_json: bool, path: str = "") -> dict[str, Any]:
    """Decode ``raw`` into a full struct value. JSON matches keys case-insensitively like encoding/json."""
    out = zero_struct(fields)
    if is_json:
        lowered: dict[str, Any] = {}
        for k, v in raw.items():
            lowered.setdefault(str(k).lower(), v)
        lookup = lowered
    else:
        lookup = {_scalar_text(k): v for k, v in raw.items()}
    for f in fields:
        name = f.key.lower() if is_json else f.key
        if name in lookup:
            out[f.key] = _decode(f, lookup[name], is_json, f"{path}.{f.key}".lstrip("."))
    return out


def decode_list(sub: tuple[Field, ...], raw: Any, is_json: bool = True) -> list[dict[str, Any]]:
    return _decode(Field("items", "list", sub), raw, is_json, "items") or []


def plain(value: Any) -> Any:
    """Strip ruamel wrapper types so values compare and serialise as plain Python."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, dict):
        return {_scalar_text(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def _is_empty(f: Field, value: Any) -> bool:
    if value is None:
        return True
    if f.kind in ("str", "strlist", "list", "map_str", "map_strlist", "map_list", "anymap"):
        return len(value) == 0
    if f.kind == "int":
        return value == 0
    if f.kind == "bool":
        return value is False
    return False


def to_json(fields: tuple[Field, ...], value: dict[str, Any]) -> dict[str, Any]:
    """Render a struct the way encoding/json does (declared order, omitempty, nil -> null)."""
    out: dict[str, Any] = {}
    for f in fields:
        if f.json_skip:
            continue
        v = value.get(f.key)
        if f.json_omit and _is_empty(f, v):
            continue
        out[f.key] = _json_value(f, v)
    return out


def _json_value(f: Field, v: Any) -> Any:
    if v is None:
        return None
    if f.kind in ("struct", "ptr"):
        return to_json(f.sub, v)
    if f.kind == "list":
        return [to_json(f.sub, item) for item in v]
    if f.kind == "map_list":
        return {k: [to_json(f.sub, i) for i in items] if items is not None else None for k, items in sorted(v.items())}
    if f.kind in ("map_str", "map_strlist", "anymap"):
        return {k: v[k] for k in sorted(v)}
    return v


# --- YAML rendering as yaml.v3 Marshal would produce it -------------------------------------
# Nodes: ("map", [(key, node)]), ("seq", [node]), ("scalar", tag, python_value).

Node = tuple[Any, ...]


def _yaml_zero_struct(fields: tuple[Field, ...], value: dict[str, Any]) -> bool:
    return all(_yaml_is_zero(f, value.get(f.key)) for f in fields)


def _yaml_is_zero(f: Field, v: Any) -> bool:
    if f.kind == "struct":
        return _yaml_zero_struct(f.sub, v)
    return _is_empty(f, v)


def to_yaml_node(fields: tuple[Field, ...], value: dict[str, Any]) -> Node:
    items: list[tuple[str, Node]] = []
    for f in fields:
        v = value.get(f.key)
        if f.yaml_omit and _yaml_is_zero(f, v):
            continue
        items.append((f.key, _yaml_value(f, v)))
    return ("map", items)


def _yaml_value(f: Field, v: Any) -> Node:
    k = f.kind
    if k == "str":
        return ("scalar", "!!str", v)
    if k == "int":
        return ("scalar", "!!int", v)
    if k == "bool":
        return ("scalar", "!!bool", v)
    if k in ("struct", "ptr"):
        return ("scalar", "!!null", None) if v is None else to_yaml_node(f.sub, v)
    if k == "strlist":
        return ("seq", [("scalar", "!!str", s) for s in v or []])
    if k == "list":
        return ("seq", [to_yaml_node(f.sub, item) for item in v or []])
    if k == "map_str":
        return ("map", [(key, ("scalar", "!!str", (v or {})[key])) for key in sorted(v or {})])
    if k == "map_strlist":
        return ("map", [(key, _yaml_value(Field(key, "strlist"), v[key])) for key in sorted(v or {})])
    if k == "map_list":
        return ("map", [(key, _yaml_value(Field(key, "list", f.sub), v[key])) for key in sorted(v or {})])
    if k == "anymap":
        return any_to_node(v or {})
    raise AssertionError(k)


def any_to_node(v: Any) -> Node:
    if isinstance(v, dict):
        return ("map", [(str(key), any_to_node(v[key])) for key in sorted(v, key=str)])
    if isinstance(v, list):
        return ("seq", [any_to_node(i) for i in v])
    if v is None:
        return ("scalar", "!!null", None)
    if isinstance(v, bool):
        return ("scalar", "!!bool", v)
    if isinstance(v, int):
        return ("scalar", "!!int", v)
    if isinstance(v, float):
        return ("scalar", "!!float", v)
    return ("scalar", "!!str", str(v))


def go_json_bytes(obj: Any) -> bytes:
    """json.Marshal output: compact, UTF-8 kept, and <, >, & and line separators escaped."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escaped)
    return text.encode()
