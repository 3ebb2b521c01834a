"""List-valued management endpoints (config_lists.go at v6.7.15): api-keys, the four provider key
lists, openai-compatibility and oauth-excluded-models, with the legacy's exact quirks (PATCH
appends when ``old`` is missing, gemini DELETE 404s but claude/codex/vertex don't, ...)."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from .legacy_config import (
    normalize_claude_key,
    normalize_codex_key,
    normalize_compat_entry,
    normalize_excluded_models,
    normalize_headers,
    normalize_oauth_excluded,
    normalize_vertex_key,
    sanitize_claude,
    sanitize_codex,
    sanitize_gemini,
    sanitize_openai_compat,
    sanitize_vertex,
)
from .legacy_gin import STATE_KEY, gin_json
from .legacy_schema import (
    CLAUDE_KEY,
    CODEX_KEY,
    COMPAT_API_KEY,
    GEMINI_KEY,
    MODEL,
    OPENAI_COMPAT,
    VERTEX_KEY,
    Field,
    GoDecodeError,
    decode_list,
    to_json,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Wrap = Callable[[Handler], Handler]
Persist = Callable[[web.Request], Awaitable[web.Response]]

_INT_PREFIX = re.compile(r"^\s*[-+]?\d+")


def _bad(message: str = "invalid body", status: int = 400) -> web.Response:
    return gin_json(status, {"error": message})


def _query_index(request: web.Request) -> int | None:
    """fmt.Sscanf("%d"): leading integer of the query value, else no index."""
    match = _INT_PREFIX.match(request.query.get("index", ""))
    return int(match.group()) if match else None


def _unmarshal(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8", "replace"))
    except ValueError:
        return _INVALID


def _bind(raw: bytes) -> Any:
    try:
        return json.JSONDecoder().raw_decode(raw.decode("utf-8", "replace").lstrip())[0]
    except ValueError:
        return _INVALID


_INVALID = object()


def _items_body(raw: bytes, decode: Callable[[Any], Any]) -> Any:
    """Bare JSON array, else ``{"items": [...]}`` with at least one item; ``_INVALID`` otherwise."""
    value = _unmarshal(raw)
    if value is not _INVALID:
        try:
            return decode(value)
        except GoDecodeError:
            pass
        if isinstance(value, dict):
            items = next((v for k, v in reversed(value.items()) if k.lower() == "items"), None)
            try:
                decoded = decode(items)
            except GoDecodeError:
                return _INVALID
            if decoded:
                return decoded
    return _INVALID


def _decode_strlist(value: Any) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) or v is None for v in value):
        raise GoDecodeError("not a string list")
    return [v or "" for v in value]


def _ci(obj: dict[str, Any], name: str) -> Any:
    found = None
    for key, value in obj.items():
        if key.lower() == name:
            found = value
    return found


def _patch_fields(raw: bytes, fields: dict[str, str]) -> dict[str, Any] | None:
    """Bind a Go struct of pointers; ``None`` when the body doesn't fit (400 invalid body)."""
    value = _bind(raw)
    if value is _INVALID or (value is not None and not isinstance(value, dict)):
        return None
    value = value or {}
    out: dict[str, Any] = {}
    for name, kind in fields.items():
        item = _ci(value, name)
        if item is None:
            out[name] = None
            continue
        checks = {
            "str": lambda v: isinstance(v, str),
            "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "object": lambda v: isinstance(v, dict),
            "list": lambda v: isinstance(v, list),
        }
        if not checks[kind](item):
            return None
        out[name] = item
    return out


# --- api-keys ---------------------------------------------------------------------------------


def _api_key_routes(app: web.Application, prefix: str, wrap: Wrap, persist: Persist) -> None:
    async def get(request: web.Request) -> web.Response:
        return gin_json(200, {"api-keys": request.app[STATE_KEY].cfg["api-keys"]})

    async def put(request: web.Request) -> web.Response:
        items = _items_body(await request.read(), _decode_strlist)
        if items is _INVALID:
            return _bad()
        cfg = request.app[STATE_KEY].cfg
        # append([]string(nil), v...) turns an empty list into nil (GET then shows null).
        cfg["api-keys"] = list(items or []) or None
        cfg["auth"]["providers"] = None
        return await persist(request)

    async def patch(request: web.Request) -> web.Response:
        body = _patch_fields(await request.read(), {"old": "str", "new": "str", "index": "int", "value": "str"})
        if body is None:
            return _bad()
        cfg = request.app[STATE_KEY].cfg
        keys = cfg["api-keys"] if cfg["api-keys"] is not None else []
        index, value = body["index"], body["value"]
        if index is not None and value is not None and 0 <= index < len(keys):
            keys[index] = value
        elif body["old"] is not None and body["new"] is not None:
            if body["old"] in keys:
                keys[keys.index(body["old"])] = body["new"]
            else:
                keys.append(body["new"])
        else:
            return _bad("missing fields")
        cfg["api-keys"] = keys
        return await persist(request)

    async def delete(request: web.Request) -> web.Response:
        cfg = request.app[STATE_KEY].cfg
        keys = cfg["api-keys"] if cfg["api-keys"] is not None else []
        index = _query_index(request) if request.query.get("index", "") else None
        if index is not None and 0 <= index < len(keys):
            del keys[index]
            cfg["api-keys"] = keys
            return await persist(request)
        wanted = request.query.get("value", "").strip()
        if wanted:
            cfg["api-keys"] = [k for k in keys if k.strip() != wanted]
            return await persist(request)
        return _bad("missing index or value")

    path = prefix + "/api-keys"
    app.router.add_get(path, wrap(get), allow_head=False)
    app.router.add_put(path, wrap(put))
    app.router.add_patch(path, wrap(patch))
    app.router.add_delete(path, wrap(delete))


# --- object lists -------------------------------------------------------------------------------


def _gemini_prepare(items: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    # append([]GeminiKey(nil), arr...) leaves an empty PUT as a nil slice.
    return list(items) if items else None


def _filter_codex(items: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    out = []
    for entry in items or []:
        normalize_codex_key(entry)
        if entry["base-url"]:
            out.append(entry)
    return out


def _normalize_all(normalize: Callable[[dict[str, Any]], None]) -> Callable[[Any], Any]:
    def run(items: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        for entry in items or []:
            normalize(entry)
        return items

    return run


def _filter_compat(items: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    for entry in items or []:
        normalize_compat_entry(entry)
    return [entry for entry in items or [] if entry["base-url"].strip()]


# (config key, schema, put preparation, sanitiser, patch fields, match key, delete query, delete 404s)
_LISTS: list[tuple[str, tuple[Field, ...], Callable[..., Any], Callable[..., None], dict[str, str], str, str]] = [
    (
        "gemini-api-key",
        GEMINI_KEY,
        _gemini_prepare,
        sanitize_gemini,
        {
            "api-key": "str",
            "prefix": "str",
            "base-url": "str",
            "proxy-url": "str",
            "headers": "object",
            "excluded-models": "list",
        },
        "match",
        "api-key",
    ),
    (
        "claude-api-key",
        CLAUDE_KEY,
        _normalize_all(normalize_claude_key),
        sanitize_claude,
        {
            "api-key": "str",
            "prefix": "str",
            "base-url": "str",
            "proxy-url": "str",
            "models": "list",
            "headers": "object",
            "excluded-models": "list",
        },
        "match",
        "api-key",
    ),
    (
        "codex-api-key",
        CODEX_KEY,
        _filter_codex,
        sanitize_codex,
        {
            "api-key": "str",
            "prefix": "str",
            "base-url": "str",
            "proxy-url": "str",
            "models": "list",
            "headers": "object",
            "excluded-models": "list",
        },
        "match",
        "api-key",
    ),
    (
        "vertex-api-key",
        VERTEX_KEY,
        _normalize_all(normalize_vertex_key),
        sanitize_vertex,
        {
            "api-key": "str",
            "prefix": "str",
            "base-url": "str",
            "proxy-url": "str",
            "headers": "object",
            "models": "list",
        },
        "match",
        "api-key",
    ),
    (
        "openai-compatibility",
        OPENAI_COMPAT,
        _filter_compat,
        sanitize_openai_compat,
        {
            "name": "str",
            "prefix": "str",
            "base-url": "str",
            "api-key-entries": "list",
            "models": "list",
            "headers": "object",
        },
        "name",
        "name",
    ),
]


def _apply_patch(key: str, entry: dict[str, Any], value: dict[str, Any]) -> str:
    """Apply the present patch fields; returns "delete" when the legacy drops the entry instead."""
    if value.get("api-key") is not None:
        trimmed = value["api-key"].strip()
        if not trimmed and key in ("gemini-api-key", "vertex-api-key"):
            return "delete"
        entry["api-key"] = trimmed
    if value.get("name") is not None:
        entry["name"] = value["name"].strip()
    for field in ("prefix", "proxy-url"):
        if value.get(field) is not None:
            entry[field] = value[field].strip()
    if value.get("base-url") is not None:
        trimmed = value["base-url"].strip()
        if not trimmed and key in ("codex-api-key", "vertex-api-key", "openai-compatibility"):
            return "delete"
        entry["base-url"] = trimmed
    if value.get("api-key-entries") is not None:
        entry["api-key-entries"] = value["api-key-entries"]
    if value.get("models") is not None:
        entry["models"] = value["models"]
    if value.get("headers") is not None:
        entry["headers"] = normalize_headers(value["headers"])
    if value.get("excluded-models") is not None:
        entry["excluded-models"] = normalize_excluded_models(value["excluded-models"])
    return "keep"


def _predecode(value: dict[str, Any]) -> None:
    """Type-check nested patch values up front: Go fails the whole bind before any lookup."""
    if value.get("api-key-entries") is not None:
        value["api-key-entries"] = decode_list(COMPAT_API_KEY, value["api-key-entries"])
    if value.get("models") is not None:
        value["models"] = decode_list(MODEL, value["models"])
    if value.get("headers") is not None:
        headers = value["headers"]
        if not all(isinstance(v, str) or v is None for v in headers.values()):
            raise GoDecodeError("headers")
        value["headers"] = {k: v or "" for k, v in headers.items()}
    if value.get("excluded-models") is not None:
        value["excluded-models"] = _decode_strlist(value["excluded-models"])


def _object_list_routes(app: web.Application, prefix: str, wrap: Wrap, persist: Persist) -> None:
    for key, schema, prepare, sanitize, patch_fields, match_field, delete_query in _LISTS:
        _one_object_list(
            app, prefix, wrap, persist, key, schema, prepare, sanitize, patch_fields, match_field, delete_query
        )


def _one_object_list(
    app: web.Application,
    prefix: str,
    wrap: Wrap,
    persist: Persist,
    key: str,
    schema: tuple[Field, ...],
    prepare: Callable[..., Any],
    sanitize: Callable[..., None],
    patch_fields: dict[str, str],
    match_field: str,
    delete_query: str,
) -> None:
    normalizers = {
        "claude-api-key": normalize_claude_key,
        "codex-api-key": normalize_codex_key,
        "vertex-api-key": normalize_vertex_key,
        "openai-compatibility": normalize_compat_entry,
    }

    async def get(request: web.Request) -> web.Response:
        entries = request.app[STATE_KEY].cfg[key]
        if key == "openai-compatibility":
            # normalizedOpenAICompatibilityEntries: a trimmed copy, nil when empty.
            entries = json.loads(json.dumps(entries)) if entries else None
            for entry in entries or []:
                normalize_compat_entry(entry)
        rendered = None if entries is None else [to_json(schema, e) for e in entries]
        return gin_json(200, {key: rendered})

    async def put(request: web.Request) -> web.Response:
        items = _items_body(await request.read(), lambda v: decode_list(schema, v) if v is not None else None)
        if items is _INVALID:
            return _bad()
        cfg = request.app[STATE_KEY].cfg
        cfg[key] = prepare(items)
        sanitize(cfg)
        return await persist(request)

    async def patch(request: web.Request) -> web.Response:
        fields = {"index": "int", match_field: "str", "value": "object"}
        body = _patch_fields(await request.read(), fields)
        if body is None or body["value"] is None:
            return _bad()
        value = _patch_fields(json.dumps(body["value"]).encode(), patch_fields)
        if value is None:
            return _bad()
        try:
            _predecode(value)
        except GoDecodeError:
            return _bad()
        cfg = request.app[STATE_KEY].cfg
        entries = cfg[key] or []
        target = -1
        if body["index"] is not None and 0 <= body["index"] < len(entries):
            target = body["index"]
        wanted = body[match_field].strip() if body[match_field] is not None else None
        if target == -1 and wanted is not None and (wanted or key not in ("gemini-api-key", "vertex-api-key")):
            ident = "name" if key == "openai-compatibility" else "api-key"
            target = next((i for i, e in enumerate(entries) if e[ident] == wanted), -1)
        if target == -1:
            return _bad("item not found", 404)
        entry = json.loads(json.dumps(entries[target]))
        outcome = _apply_patch(key, entry, value)
        if outcome == "delete":
            del entries[target]
        else:
            if key in normalizers:
                normalizers[key](entry)
            entries[target] = entry
        cfg[key] = entries
        sanitize(cfg)
        return await persist(request)

    async def delete(request: web.Request) -> web.Response:
        cfg = request.app[STATE_KEY].cfg
        entries = cfg[key] or []
        ident = "name" if key == "openai-compatibility" else "api-key"
        raw_value = request.query.get(delete_query, "")
        wanted = raw_value.strip() if key in ("gemini-api-key", "vertex-api-key") else raw_value
        if wanted:
            kept = [e for e in entries if e[ident] != wanted]
            if key == "gemini-api-key" and len(kept) == len(entries):
                return _bad("item not found", 404)
            cfg[key] = kept
            sanitize(cfg)
            return await persist(request)
        index = _query_index(request) if request.query.get("index", "") else None
        if index is not None and 0 <= index < len(entries):
            del entries[index]
            cfg[key] = entries
            sanitize(cfg)
            return await persist(request)
        missing = "missing name or index" if key == "openai-compatibility" else "missing api-key or index"
        return _bad(missing)

    path = f"{prefix}/{key}"
    app.router.add_get(path, wrap(get), allow_head=False)
    app.router.add_put(path, wrap(put))
    app.router.add_patch(path, wrap(patch))
    app.router.add_delete(path, wrap(delete))


# --- oauth-excluded-models ------------------------------------------------------------------------


def _decode_excluded_map(value: Any) -> dict[str, list[str]] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise GoDecodeError("not a map")
    return {k: _decode_strlist(v) for k, v in value.items()}


def _excluded_routes(app: web.Application, prefix: str, wrap: Wrap, persist: Persist) -> None:
    async def get(request: web.Request) -> web.Response:
        current = normalize_oauth_excluded(request.app[STATE_KEY].cfg["oauth-excluded-models"])
        rendered = None if current is None else {k: current[k] for k in sorted(current)}
        return gin_json(200, {"oauth-excluded-models": rendered})

    async def put(request: web.Request) -> web.Response:
        value = _unmarshal(await request.read())
        if value is _INVALID:
            return _bad()
        try:
            entries = _decode_excluded_map(value)
        except GoDecodeError:
            if not isinstance(value, dict):
                return _bad()
            try:
                entries = _decode_excluded_map(_ci(value, "items"))
            except GoDecodeError:
                return _bad()
        request.app[STATE_KEY].cfg["oauth-excluded-models"] = normalize_oauth_excluded(entries)
        return await persist(request)

    async def patch(request: web.Request) -> web.Response:
        body = _patch_fields(await request.read(), {"provider": "str", "models": "list"})
        if body is None or body["provider"] is None:
            return _bad()
        try:
            models = _decode_strlist(body["models"])
        except GoDecodeError:
            return _bad()
        provider = body["provider"].strip().lower()
        if not provider:
            return _bad("invalid provider")
        cfg = request.app[STATE_KEY].cfg
        current = cfg["oauth-excluded-models"]
        normalized = normalize_excluded_models(models)
        if not normalized:
            if not current or provider not in current:
                return _bad("provider not found", 404)
            del current[provider]
            cfg["oauth-excluded-models"] = current or None
            return await persist(request)
        current = current if current is not None else {}
        current[provider] = normalized
        cfg["oauth-excluded-models"] = current
        return await persist(request)

    async def delete(request: web.Request) -> web.Response:
        provider = request.query.get("provider", "").strip().lower()
        if not provider:
            return _bad("missing provider")
        cfg = request.app[STATE_KEY].cfg
        current = cfg["oauth-excluded-models"]
        if not current or provider not in current:
            return _bad("provider not found", 404)
        del current[provider]
        cfg["oauth-excluded-models"] = current or None
        return await persist(request)

    path = prefix + "/oauth-excluded-models"
    app.router.add_get(path, wrap(get), allow_head=False)
    app.router.add_put(path, wrap(put))
    app.router.add_patch(path, wrap(patch))
    app.router.add_delete(path, wrap(delete))


def register_list_routes(app: web.Application, prefix: str, wrap: Wrap, persist: Persist) -> None:
    _api_key_routes(app, prefix, wrap, persist)
    _object_list_routes(app, prefix, wrap, persist)
    _excluded_routes(app, prefix, wrap, persist)
