"""List-valued settings (legacy ``config_lists.go``): client API keys, provider credential lists and
the OAuth model exclusions.

Each provider list keeps the legacy quirks that clients can observe: which lists trim the match
key, which delete an entry when a patch blanks ``api-key`` or ``base-url``, and that only the
Gemini list answers 404 to a delete of an unknown key.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from ..appkeys import CONFIG_STORE
from ..config.gojson import config_to_go_json
from ..config.loader import normalize_config, normalize_excluded_models, normalize_oauth_excluded_models
from ..config.models import (
    ClaudeKey,
    CodexKey,
    Config,
    GeminiKey,
    GoModel,
    ModelAlias,
    OpenAICompatibility,
    OpenAICompatibilityAPIKey,
    VertexCompatKey,
)
from ..goquery import query_value
from ..gostrings import go_lower, go_trim
from .config_basic import assign, mutate_config, read_body
from .responses import (
    Decoder,
    Field,
    GoJSONError,
    Struct,
    as_bool,
    as_int,
    as_str,
    decode_body,
    error_response,
    json_response,
    list_of,
    list_or_items,
    map_of,
)

# ---------------------------------------------------------------------------------------------
# Go request shapes


def _nilable(name: str, decoder: Decoder) -> Field:
    return Field(name, decoder, nilable=True)


STRINGS = list_of(as_str)
HEADERS = map_of(as_str)
MODEL = Struct(Field("name", as_str), Field("alias", as_str))
MODELS = list_of(MODEL)
_KEY_FIELDS = (Field("api-key", as_str), Field("priority", as_int), Field("prefix", as_str),
               Field("base-url", as_str), Field("proxy-url", as_str))
GEMINI_KEY = Struct(*_KEY_FIELDS, _nilable("models", MODELS), _nilable("headers", HEADERS),
                    _nilable("excluded-models", STRINGS))
CODEX_KEY = GEMINI_KEY
CLAUDE_KEY = Struct(*_KEY_FIELDS, _nilable("models", MODELS), _nilable("headers", HEADERS),
                    _nilable("excluded-models", STRINGS),
                    _nilable("cloak", Struct(Field("mode", as_str), Field("strict-mode", as_bool),
                                             _nilable("sensitive-words", STRINGS))))
VERTEX_KEY = Struct(*_KEY_FIELDS, _nilable("headers", HEADERS), _nilable("models", MODELS))
OPENAI_COMPAT = Struct(
    Field("name", as_str), Field("priority", as_int), Field("prefix", as_str), Field("base-url", as_str),
    _nilable("api-key-entries", list_of(Struct(Field("api-key", as_str), Field("proxy-url", as_str)))),
    _nilable("models", MODELS), _nilable("headers", HEADERS))


def _patch(*fields: tuple[str, Decoder]) -> Struct:
    # Patch structs hold pointers only: a null is the same as leaving the field out.
    return Struct(*(_nilable(name, decoder) for name, decoder in fields))


_STR_PATCH = (("api-key", as_str), ("prefix", as_str), ("base-url", as_str), ("proxy-url", as_str))
GEMINI_PATCH = _patch(*_STR_PATCH, ("headers", HEADERS), ("excluded-models", STRINGS))
CLAUDE_PATCH = _patch(*_STR_PATCH, ("models", MODELS), ("headers", HEADERS), ("excluded-models", STRINGS))
CODEX_PATCH = CLAUDE_PATCH
VERTEX_PATCH = _patch(*_STR_PATCH, ("headers", HEADERS), ("models", MODELS))
OPENAI_PATCH = _patch(("name", as_str), ("prefix", as_str), ("base-url", as_str),
                      ("api-key-entries", list_of(Struct(Field("api-key", as_str), Field("proxy-url", as_str)))),
                      ("models", MODELS), ("headers", HEADERS))

# fmt's scanner skips Unicode spaces before a number but stops with an error at a newline.
_GO_INT = re.compile("[\t\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*([+-]?[0-9]+)")


def go_sscanf_int(text: str) -> int | None:
    """``fmt.Sscanf(text, "%d", &i)``: leading spaces, a sign, ASCII digits; trailing input ignored."""
    match = _GO_INT.match(text)
    if match is None:
        return None
    value = int(match.group(1))
    return value if -(2**63) <= value < 2**63 else None


def query_index(request: web.Request, length: int) -> int | None:
    """``?index=`` when it parses and is in range."""
    raw = query_value(request, "index")
    index = go_sscanf_int(raw) if raw else None
    return index if index is not None and 0 <= index < length else None


def _models(items: list[dict[str, Any]] | None) -> list[ModelAlias] | None:
    return [ModelAlias.model_validate(m) for m in items] if items else None


def _headers(value: dict[str, str] | None) -> dict[str, str] | None:
    clean = {go_trim(k): go_trim(v) for k, v in (value or {}).items() if go_trim(k) and go_trim(v)}
    return clean or None


def _excluded(value: list[str] | None) -> list[str] | None:
    return normalize_excluded_models(value or []) or None


def _trim_models(entry: GoModel, keep: Callable[[str, str], bool]) -> None:
    if entry.models:
        kept = [ModelAlias(name=go_trim(m.name), alias=go_trim(m.alias)) for m in entry.models
                if keep(go_trim(m.name), go_trim(m.alias))]
        entry.models = kept  # may end up empty, but stays a non-nil slice as in Go


def normalize_claude_key(entry: ClaudeKey | CodexKey) -> None:
    entry.api_key, entry.base_url, entry.proxy_url = (go_trim(entry.api_key), go_trim(entry.base_url),
                                                      go_trim(entry.proxy_url))
    assign(entry, "headers", _headers(entry.headers))
    assign(entry, "excluded_models", _excluded(entry.excluded_models))
    _trim_models(entry, lambda name, alias: bool(name or alias))


def normalize_codex_key(entry: CodexKey) -> None:
    normalize_claude_key(entry)  # the Claude rules, plus a trimmed prefix
    entry.prefix = go_trim(entry.prefix)


def normalize_vertex_key(entry: VertexCompatKey) -> None:
    entry.api_key, entry.prefix, entry.base_url, entry.proxy_url = (
        go_trim(entry.api_key), go_trim(entry.prefix), go_trim(entry.base_url), go_trim(entry.proxy_url))
    assign(entry, "headers", _headers(entry.headers))
    _trim_models(entry, lambda name, alias: bool(name and alias))


def normalize_openai_entry(entry: OpenAICompatibility) -> None:
    entry.base_url = go_trim(entry.base_url)
    assign(entry, "headers", _headers(entry.headers))
    for key in entry.api_key_entries:
        key.api_key = go_trim(key.api_key)


def _sanitize(cfg: Config) -> None:
    # Legacy runs the list's Sanitize*() after every change; the load-time normaliser is the same
    # set of rules and is idempotent for everything this change did not touch.
    normalize_config(cfg)


# ---------------------------------------------------------------------------------------------
# api-keys (list of strings)


async def get_api_keys(request: web.Request) -> web.StreamResponse:
    return json_response(200, {"api-keys": config_to_go_json(request.app[CONFIG_STORE].current)["api-keys"]})


def _set_api_keys(cfg: Config, keys: list[str] | None) -> None:
    # append([]string(nil), v...) turns an empty list into a nil one; auth.providers is dropped too.
    assign(cfg, "api_keys", list(keys) if keys else None)
    assign(cfg.auth, "providers", None)


async def put_api_keys(request: web.Request) -> web.StreamResponse:
    try:
        body = await read_body(request)
    except OSError:
        return error_response(400, "failed to read body")
    try:
        keys = list_or_items(body, as_str)
    except GoJSONError:
        return error_response(400, "invalid body")
    return await mutate_config(request, lambda cfg: _set_api_keys(cfg, keys))


_STRING_PATCH = Struct(_nilable("old", as_str), _nilable("new", as_str), _nilable("index", as_int),
                       _nilable("value", as_str))


async def patch_api_keys(request: web.Request) -> web.StreamResponse:
    try:
        body = decode_body(await read_body(request), _STRING_PATCH, whole=False) or {}
    except GoJSONError:
        return error_response(400, "invalid body")
    index, value, old, new = body.get("index"), body.get("value"), body.get("old"), body.get("new")

    def change(cfg: Config) -> web.Response | None:
        keys = list(cfg.api_keys)
        if index is not None and value is not None and 0 <= index < len(keys):
            keys[index] = value
        elif old is not None and new is not None:
            if old in keys:
                keys[keys.index(old)] = new
            else:
                keys.append(new)
        else:
            return error_response(400, "missing fields")
        _set_api_keys(cfg, keys)
        return None

    return await mutate_config(request, change)


async def delete_api_keys(request: web.Request) -> web.StreamResponse:
    def change(cfg: Config) -> web.Response | None:
        keys = list(cfg.api_keys)
        index = query_index(request, len(keys))
        if index is not None:
            del keys[index]
        elif value := go_trim(query_value(request, "value")):
            keys = [k for k in keys if go_trim(k) != value]
        else:
            return error_response(400, "missing index or value")
        # Both branches leave a non-nil slice in Go, even when it ends up empty.
        cfg.api_keys = keys
        assign(cfg.auth, "providers", None)
        return None

    return await mutate_config(request, change)


# ---------------------------------------------------------------------------------------------
# Provider credential lists


@dataclass(frozen=True)
class KeyList:
    """How one provider list behaves; see the module docstring for the differences."""

    key: str                      # YAML/JSON name, e.g. "gemini-api-key"
    attr: str                     # Config attribute
    model: type[GoModel]
    element: Struct               # PUT element shape
    patch: Struct                 # PATCH "value" shape
    match_field: str = "match"    # PATCH selector ("name" for openai-compatibility)
    match_attr: str = "api_key"
    match_skips_blank: bool = False
    query_field: str = "api-key"  # DELETE selector
    query_trimmed: bool = False
    delete_unknown_404: bool = False
    missing_message: str = "missing api-key or index"
    # Patch fields whose blank (trimmed) value removes the entry instead of setting it.
    blank_deletes: tuple[str, ...] = ()
    # Per-entry normaliser legacy runs after a patch (none for Gemini).
    normalize: Callable[[Any], None] | None = None
    # PUT: from the decoded entries (None for a JSON null) to what is stored (None = nil).
    put_rule: Callable[[Any], Any] = lambda entries: entries
    # GET body when it is not simply the list as GET /config renders it.
    view: Callable[[Config], Any] | None = None

    def entries(self, cfg: Config) -> list[Any]:
        return getattr(cfg, self.attr)

    def store(self, cfg: Config, entries: list[Any] | None) -> None:
        assign(cfg, self.attr, entries)


def _put_gemini(entries: list[GeminiKey] | None) -> list[GeminiKey] | None:
    return entries or None


def _put_claude(entries: list[ClaudeKey] | None) -> list[ClaudeKey] | None:
    for entry in entries or []:
        normalize_claude_key(entry)
    return entries


def _put_codex(entries: list[CodexKey] | None) -> list[CodexKey] | None:
    kept = []
    for entry in entries or []:
        normalize_codex_key(entry)
        if entry.base_url:
            kept.append(entry)
    return kept


def _put_vertex(entries: list[VertexCompatKey] | None) -> list[VertexCompatKey] | None:
    for entry in entries or []:
        normalize_vertex_key(entry)
    return entries


def _put_openai(entries: list[OpenAICompatibility] | None) -> list[OpenAICompatibility] | None:
    kept = []
    for entry in entries or []:
        normalize_openai_entry(entry)
        if go_trim(entry.base_url):
            kept.append(entry)
    return kept


def _apply_patch(spec: KeyList, entry: Any, value: dict[str, Any]) -> bool:
    """Apply a patch to ``entry`` in place; False when legacy deletes the entry instead."""
    trimmed = {k: go_trim(v) for k, v in value.items() if isinstance(v, str)}
    if any(trimmed.get(key) == "" for key in spec.blank_deletes):
        return False
    for key, attr in (("api-key", "api_key"), ("name", "name"), ("prefix", "prefix"),
                      ("base-url", "base_url"), ("proxy-url", "proxy_url")):
        if key in trimmed:
            setattr(entry, attr, trimmed[key])
    if value.get("models") is not None:
        assign(entry, "models", _models(value["models"]))
    if value.get("api-key-entries") is not None:
        keys = [OpenAICompatibilityAPIKey.model_validate(k) for k in value["api-key-entries"]]
        assign(entry, "api_key_entries", keys or None)
    if value.get("headers") is not None:
        assign(entry, "headers", _headers(value["headers"]))
    if value.get("excluded-models") is not None:
        assign(entry, "excluded_models", _excluded(value["excluded-models"]))
    if spec.normalize is not None:
        spec.normalize(entry)
    return True


def _target(spec: KeyList, entries: list[Any], index: int | None, match: str | None) -> int | None:
    if index is not None and 0 <= index < len(entries):
        return index
    if match is None:
        return None
    wanted = go_trim(match)
    if spec.match_skips_blank and not wanted:
        return None
    return next((i for i, e in enumerate(entries) if getattr(e, spec.match_attr) == wanted), None)


def key_list_handlers(spec: KeyList) -> dict[str, Callable[[web.Request], Any]]:
    patch_body = Struct(_nilable("index", as_int), _nilable(spec.match_field, as_str),
                        _nilable("value", spec.patch))

    async def get(request: web.Request) -> web.StreamResponse:
        cfg = request.app[CONFIG_STORE].current
        body = spec.view(cfg) if spec.view is not None else config_to_go_json(cfg)[spec.key]
        return json_response(200, {spec.key: body})

    async def put(request: web.Request) -> web.StreamResponse:
        try:
            body = await read_body(request)
        except OSError:
            return error_response(400, "failed to read body")
        try:
            raw = list_or_items(body, spec.element)
        except GoJSONError:
            return error_response(400, "invalid body")
        entries = None if raw is None else [spec.model.model_validate(item) for item in raw]

        def change(cfg: Config) -> None:
            spec.store(cfg, spec.put_rule(entries))
            _sanitize(cfg)

        return await mutate_config(request, change)

    async def patch(request: web.Request) -> web.StreamResponse:
        try:
            body = decode_body(await read_body(request), patch_body, whole=False) or {}
        except GoJSONError:
            return error_response(400, "invalid body")
        value = body.get("value")
        if value is None:
            return error_response(400, "invalid body")

        def change(cfg: Config) -> web.Response | None:
            entries = spec.entries(cfg)
            target = _target(spec, entries, body.get("index"), body.get(spec.match_field))
            if target is None:
                return error_response(404, "item not found")
            if not _apply_patch(spec, entries[target], value):
                del entries[target]
            _sanitize(cfg)
            return None

        return await mutate_config(request, change)

    async def delete(request: web.Request) -> web.StreamResponse:
        selector = query_value(request, spec.query_field)
        if spec.query_trimmed:
            selector = go_trim(selector)

        def change(cfg: Config) -> web.Response | None:
            entries = spec.entries(cfg)
            if selector:
                kept = [e for e in entries if getattr(e, spec.match_attr) != selector]
                if spec.delete_unknown_404 and len(kept) == len(entries):
                    return error_response(404, "item not found")
                spec.store(cfg, kept)
            elif (index := query_index(request, len(entries))) is not None:
                del entries[index]
                spec.store(cfg, entries)
            else:
                return error_response(400, spec.missing_message)
            _sanitize(cfg)
            return None

        return await mutate_config(request, change)

    return {"GET": get, "PUT": put, "PATCH": patch, "DELETE": delete}


def _normalized_openai_view(cfg: Config) -> Any:
    """``GET /openai-compatibility`` shows entries with trimmed keys and cleaned headers; nil when empty."""
    if not cfg.openai_compatibility:
        return None
    view = cfg.model_copy(deep=True)
    for entry in view.openai_compatibility:
        normalize_openai_entry(entry)
    return config_to_go_json(view)["openai-compatibility"]


KEY_LISTS: tuple[KeyList, ...] = (
    KeyList("gemini-api-key", "gemini_api_key", GeminiKey, GEMINI_KEY, GEMINI_PATCH,
            match_skips_blank=True, query_trimmed=True, delete_unknown_404=True,
            blank_deletes=("api-key",), put_rule=_put_gemini),
    KeyList("claude-api-key", "claude_api_key", ClaudeKey, CLAUDE_KEY, CLAUDE_PATCH,
            normalize=normalize_claude_key, put_rule=_put_claude),
    KeyList("codex-api-key", "codex_api_key", CodexKey, CODEX_KEY, CODEX_PATCH,
            blank_deletes=("base-url",), normalize=normalize_codex_key, put_rule=_put_codex),
    KeyList("vertex-api-key", "vertex_api_key", VertexCompatKey, VERTEX_KEY, VERTEX_PATCH,
            match_skips_blank=True, query_trimmed=True, blank_deletes=("api-key", "base-url"),
            normalize=normalize_vertex_key, put_rule=_put_vertex),
    KeyList("openai-compatibility", "openai_compatibility", OpenAICompatibility, OPENAI_COMPAT, OPENAI_PATCH,
            match_field="name", match_attr="name", query_field="name", missing_message="missing name or index",
            blank_deletes=("base-url",), normalize=normalize_openai_entry, put_rule=_put_openai,
            view=_normalized_openai_view),
)


# ---------------------------------------------------------------------------------------------
# oauth-excluded-models (provider -> model list)

_EXCLUSIONS = map_of(STRINGS)
_EXCLUSION_PATCH = Struct(_nilable("provider", as_str), _nilable("models", STRINGS))


async def get_oauth_excluded_models(request: web.Request) -> web.StreamResponse:
    normalized = normalize_oauth_excluded_models(request.app[CONFIG_STORE].current.oauth_excluded_models)
    # Go marshals map keys sorted; an empty map is nil, i.e. null.
    return json_response(200, {"oauth-excluded-models": {k: normalized[k] for k in sorted(normalized)} or None})


async def put_oauth_excluded_models(request: web.Request) -> web.StreamResponse:
    try:
        body = await read_body(request)
    except OSError:
        return error_response(400, "failed to read body")
    try:
        entries = decode_body(body, _EXCLUSIONS, whole=True)
    except GoJSONError:
        try:
            wrapper = decode_body(body, Struct(_nilable("items", _EXCLUSIONS)), whole=True)
        except GoJSONError:
            return error_response(400, "invalid body")
        entries = (wrapper or {}).get("items")

    # A null model list decodes to a nil slice; the normaliser then drops that provider.
    cleaned = {provider: models or [] for provider, models in (entries or {}).items()}

    def change(cfg: Config) -> None:
        assign(cfg, "oauth_excluded_models", normalize_oauth_excluded_models(cleaned) or None)

    return await mutate_config(request, change)


async def patch_oauth_excluded_models(request: web.Request) -> web.StreamResponse:
    try:
        body = decode_body(await read_body(request), _EXCLUSION_PATCH, whole=False) or {}
    except GoJSONError:
        return error_response(400, "invalid body")
    if body.get("provider") is None:
        return error_response(400, "invalid body")
    provider = go_lower(go_trim(body["provider"]))
    if not provider:
        return error_response(400, "invalid provider")
    models = normalize_excluded_models(body.get("models") or [])

    def change(cfg: Config) -> web.Response | None:
        current = dict(cfg.oauth_excluded_models)
        if models:
            current[provider] = models
        elif provider in current:
            del current[provider]
        else:
            return error_response(404, "provider not found")
        assign(cfg, "oauth_excluded_models", current or None)
        return None

    return await mutate_config(request, change)


async def delete_oauth_excluded_models(request: web.Request) -> web.StreamResponse:
    provider = go_lower(go_trim(query_value(request, "provider")))
    if not provider:
        return error_response(400, "missing provider")

    def change(cfg: Config) -> web.Response | None:
        current = dict(cfg.oauth_excluded_models)
        if provider not in current:
            return error_response(404, "provider not found")
        del current[provider]
        assign(cfg, "oauth_excluded_models", current or None)
        return None

    return await mutate_config(request, change)
