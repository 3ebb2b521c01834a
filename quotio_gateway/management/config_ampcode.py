"""``ampcode`` settings: the Amp CLI upstream, its keys, the localhost restriction and the model
mappings (legacy ``config_lists.go``, GetAmpCode through DeleteAmpUpstreamAPIKeys).

The legacy is uneven here and clients can see it, so each rule is kept: the upstream URL and key
are trimmed but model mappings are stored as sent (only their ``from`` is trimmed for matching);
a model-mappings DELETE with no usable body clears every mapping, while an upstream-api-keys
DELETE refuses one; upstream-api-keys entries are trimmed and blank ones dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from ..appkeys import CONFIG_STORE
from ..config.gojson import go_json_value
from ..config.models import AmpCode, AmpModelMapping, AmpUpstreamAPIKeyEntry, Config, GoModel
from ..gostrings import go_trim
from .config_basic import Scalar, assign, bound_value, mutate_config, read_body, value_body
from .responses import (
    Field,
    GoJSONError,
    Struct,
    as_bool,
    as_str,
    decode_body,
    error_response,
    json_response,
    list_of,
)

MAPPING = Struct(Field("from", as_str), Field("to", as_str), Field("regex", as_bool))
KEY_ENTRY = Struct(Field("upstream-api-key", as_str), Field("api-keys", list_of(as_str), nilable=True))
MAPPINGS_BODY = value_body(list_of(MAPPING))
KEY_ENTRIES_BODY = value_body(list_of(KEY_ENTRY))
STRINGS_BODY = value_body(list_of(as_str))


def _list_json(model: GoModel, attr: str) -> Any:
    """A list field as ``gin.H{key: slice}`` shows it: ``null`` when nil, even where the struct's
    own JSON would leave the key out (``upstream-api-keys`` is omitempty)."""
    return None if model.is_nil(attr) else go_json_value(getattr(model, attr))


async def _bind(request: web.Request, shape: Struct) -> dict[str, Any]:
    """``ShouldBindJSON`` into a ``{"value": ...}`` struct; raises GoJSONError where Gin fails."""
    return decode_body(await read_body(request), shape, whole=False) or {}


# ---------------------------------------------------------------------------------------------
# The whole section, the two strings and the two switches


async def get_ampcode(request: web.Request) -> web.StreamResponse:
    return json_response(200, {"ampcode": go_json_value(request.app[CONFIG_STORE].current.ampcode)})


def string_setting(attr: str, reply: str) -> dict[str, Any]:
    """GET / PUT (=PATCH) / DELETE handlers for one trimmed string of the section."""

    async def get(request: web.Request) -> web.StreamResponse:
        return json_response(200, {reply: getattr(request.app[CONFIG_STORE].current.ampcode, attr)})

    async def put(request: web.Request) -> web.StreamResponse:
        value = await bound_value(request, as_str)
        if value is None:
            return error_response(400, "invalid body")
        return await mutate_config(request, lambda cfg: setattr(cfg.ampcode, attr, go_trim(value)))

    async def delete(request: web.Request) -> web.StreamResponse:
        return await mutate_config(request, lambda cfg: setattr(cfg.ampcode, attr, ""))

    return {"GET": get, "PUT": put, "PATCH": put, "DELETE": delete}


def _switch(name: str) -> Scalar:
    return Scalar(f"ampcode/{name}", ("ampcode", name), name, as_bool)


SWITCHES: tuple[Scalar, ...] = (_switch("restrict-management-to-localhost"), _switch("force-model-mappings"))
STRINGS = {"upstream-url": string_setting("upstream_url", "upstream-url"),
           "upstream-api-key": string_setting("upstream_api_key", "upstream-api-key")}


# ---------------------------------------------------------------------------------------------
# model-mappings


def _mappings(items: list[dict[str, Any]] | None) -> list[AmpModelMapping] | None:
    return None if items is None else [AmpModelMapping.model_validate(m, by_alias=True, by_name=False)
                                       for m in items]


async def get_model_mappings(request: web.Request) -> web.StreamResponse:
    amp = request.app[CONFIG_STORE].current.ampcode
    return json_response(200, {"model-mappings": _list_json(amp, "model_mappings")})


async def put_model_mappings(request: web.Request) -> web.StreamResponse:
    try:
        body = await _bind(request, MAPPINGS_BODY)
    except GoJSONError:
        return error_response(400, "invalid body")
    mappings = _mappings(body.get("value"))
    return await mutate_config(request, lambda cfg: assign(cfg.ampcode, "model_mappings", mappings))


async def patch_model_mappings(request: web.Request) -> web.StreamResponse:
    try:
        body = await _bind(request, MAPPINGS_BODY)
    except GoJSONError:
        return error_response(400, "invalid body")
    incoming = _mappings(body.get("value")) or []

    def change(cfg: Config) -> None:
        _upsert(cfg.ampcode, "model_mappings", incoming, lambda m: go_trim(m.from_))

    return await mutate_config(request, change)


def _upsert(amp: AmpCode, attr: str, incoming: list[Any], key: Callable[[Any], str]) -> None:
    """PATCH of an Amp list: an entry whose trimmed key is already there replaces it in place,
    any other is appended. Later duplicates of a key win the index, as Go's map assignment does."""
    current = list(getattr(amp, attr))
    where = {key(item): i for i, item in enumerate(current)}
    for item in incoming:
        k = key(item)
        if k in where:
            current[where[k]] = item
        else:
            where[k] = len(current)
            current.append(item)
    # append() onto a nil slice with nothing to add leaves it nil.
    assign(amp, attr, current if current or not amp.is_nil(attr) else None)


async def delete_model_mappings(request: web.Request) -> web.StreamResponse:
    try:
        froms = (await _bind(request, STRINGS_BODY)).get("value")
    except GoJSONError:
        froms = None

    def change(cfg: Config) -> None:
        if not froms:
            # No body, a bad one or an empty list: the legacy clears every mapping.
            assign(cfg.ampcode, "model_mappings", None)
            return
        gone = {go_trim(f) for f in froms}
        cfg.ampcode.model_mappings = [m for m in cfg.ampcode.model_mappings if go_trim(m.from_) not in gone]

    return await mutate_config(request, change)


# ---------------------------------------------------------------------------------------------
# upstream-api-keys


def _clean_keys(keys: list[str] | None) -> list[str] | None:
    return [go_trim(k) for k in keys or [] if go_trim(k)] or None


def _key_entry(item: dict[str, Any]) -> AmpUpstreamAPIKeyEntry | None:
    upstream = go_trim(item.get("upstream-api-key", ""))
    if not upstream:
        return None
    entry = AmpUpstreamAPIKeyEntry(upstream_api_key=upstream)
    assign(entry, "api_keys", _clean_keys(item.get("api-keys")))
    return entry


def _key_entries(items: list[dict[str, Any]] | None) -> list[AmpUpstreamAPIKeyEntry]:
    return [entry for item in items or [] if (entry := _key_entry(item)) is not None]


async def get_upstream_api_keys(request: web.Request) -> web.StreamResponse:
    amp = request.app[CONFIG_STORE].current.ampcode
    return json_response(200, {"upstream-api-keys": _list_json(amp, "upstream_api_keys")})


async def put_upstream_api_keys(request: web.Request) -> web.StreamResponse:
    try:
        body = await _bind(request, KEY_ENTRIES_BODY)
    except GoJSONError:
        return error_response(400, "invalid body")
    entries = _key_entries(body.get("value")) or None
    return await mutate_config(request, lambda cfg: assign(cfg.ampcode, "upstream_api_keys", entries))


async def patch_upstream_api_keys(request: web.Request) -> web.StreamResponse:
    try:
        body = await _bind(request, KEY_ENTRIES_BODY)
    except GoJSONError:
        return error_response(400, "invalid body")
    incoming = _key_entries(body.get("value"))

    def change(cfg: Config) -> None:
        _upsert(cfg.ampcode, "upstream_api_keys", incoming, lambda e: go_trim(e.upstream_api_key))

    return await mutate_config(request, change)


async def delete_upstream_api_keys(request: web.Request) -> web.StreamResponse:
    try:
        keys = (await _bind(request, STRINGS_BODY)).get("value")
    except GoJSONError:
        return error_response(400, "invalid body")
    if keys is None:
        return error_response(400, "missing value")
    gone = {go_trim(k) for k in keys if go_trim(k)}
    if keys and not gone:
        return error_response(400, "empty value")

    def change(cfg: Config) -> None:
        amp = cfg.ampcode
        if not keys:  # an explicit empty list clears them all
            assign(amp, "upstream_api_keys", None)
        else:
            amp.upstream_api_keys = [e for e in amp.upstream_api_keys if go_trim(e.upstream_api_key) not in gone]

    return await mutate_config(request, change)


# ---------------------------------------------------------------------------------------------
# Route table: path under /v0/management -> method -> handler

LISTS: dict[str, dict[str, Any]] = {
    "model-mappings": {"GET": get_model_mappings, "PUT": put_model_mappings, "PATCH": patch_model_mappings,
                       "DELETE": delete_model_mappings},
    "upstream-api-keys": {"GET": get_upstream_api_keys, "PUT": put_upstream_api_keys,
                          "PATCH": patch_upstream_api_keys, "DELETE": delete_upstream_api_keys},
}


def ampcode_routes() -> list[tuple[str, str, Any]]:
    """Every ``/ampcode`` route as (method, path under /v0/management, handler)."""
    routes: list[tuple[str, str, Any]] = [("GET", "ampcode", get_ampcode)]
    for name, handlers in {**STRINGS, **LISTS}.items():
        routes += [(method, f"ampcode/{name}", handler) for method, handler in handlers.items()]
    for switch in SWITCHES:
        routes += [("GET", switch.path, switch.get), ("PUT", switch.path, switch.put),
                   ("PATCH", switch.path, switch.put)]
    return routes
