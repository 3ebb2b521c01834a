"""``oauth-model-alias``: the per-channel renames (and forks) of OAuth models (legacy
``config_lists.go``, GetOAuthModelAlias through DeleteOAuthModelAlias).

Every write goes through the load-time sanitiser, so channels are trimmed and lower-cased and
unusable entries dropped before anything reaches the file. Two legacy habits a client can see:
a PATCH whose aliases all sanitise away deletes the channel (404 when there is none), and the
writer merges the alias map into the file without pruning it, so a channel removed here is still
in config.yaml and comes back with the reload (CLIProxyAPI fixed that in v6.7.28).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from ..appkeys import CONFIG_STORE
from ..config.gojson import go_json_value
from ..config.loader import sanitize_oauth_model_alias
from ..config.models import Config, OAuthModelAlias
from ..goquery import query_value
from ..gostrings import go_lower, go_trim
from .config_basic import assign, mutate_config, read_body
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
    map_of,
)

ALIAS = Struct(Field("name", as_str), Field("alias", as_str), Field("fork", as_bool))
ALIASES = list_of(ALIAS)
ALIAS_MAP = map_of(ALIASES)
# PATCH: ``channel`` wins over its older spelling ``provider`` whenever it is present, even blank.
ALIAS_PATCH = Struct(Field("provider", as_str, nilable=True), Field("channel", as_str, nilable=True),
                     Field("aliases", ALIASES, nilable=True))


def sanitized(entries: Mapping[str, list[Any] | None] | None) -> dict[str, list[OAuthModelAlias]] | None:
    """``sanitizedOAuthModelAlias``: the sanitiser on a copy; ``None`` (a nil map) when nothing is left."""
    typed = {channel: [OAuthModelAlias.model_validate(a) if isinstance(a, dict) else a for a in aliases]
             for channel, aliases in (entries or {}).items() if aliases}
    return sanitize_oauth_model_alias(typed) or None


def _store(cfg: Config, aliases: dict[str, list[OAuthModelAlias]] | None) -> None:
    assign(cfg, "oauth_model_alias", aliases or None)


async def get_oauth_model_alias(request: web.Request) -> web.StreamResponse:
    aliases = sanitized(request.app[CONFIG_STORE].current.oauth_model_alias)
    return json_response(200, {"oauth-model-alias": go_json_value(aliases)})


async def put_oauth_model_alias(request: web.Request) -> web.StreamResponse:
    try:
        body = await read_body(request)
    except OSError:
        return error_response(400, "failed to read body")
    try:
        entries = decode_body(body, ALIAS_MAP, whole=True)
    except GoJSONError:
        try:
            wrapper = decode_body(body, Struct(Field("items", ALIAS_MAP, nilable=True)), whole=True)
        except GoJSONError:
            return error_response(400, "invalid body")
        entries = (wrapper or {}).get("items")
    aliases = sanitized(entries)
    return await mutate_config(request, lambda cfg: _store(cfg, aliases))


async def patch_oauth_model_alias(request: web.Request) -> web.StreamResponse:
    try:
        body = decode_body(await read_body(request), ALIAS_PATCH, whole=False) or {}
    except GoJSONError:
        return error_response(400, "invalid body")
    raw = body.get("channel")
    if raw is None:
        raw = body.get("provider") or ""
    channel = go_lower(go_trim(raw))
    if not channel:
        return error_response(400, "invalid channel")
    wanted = (sanitized({channel: body.get("aliases") or []}) or {}).get(channel)

    def change(cfg: Config) -> web.Response | None:
        current = dict(cfg.oauth_model_alias)
        if wanted:
            current[channel] = wanted
        elif channel in current:
            del current[channel]
        else:
            return error_response(404, "channel not found")
        _store(cfg, current)
        return None

    return await mutate_config(request, change)


async def delete_oauth_model_alias(request: web.Request) -> web.StreamResponse:
    channel = go_lower(go_trim(query_value(request, "channel"))) or go_lower(go_trim(query_value(request, "provider")))
    if not channel:
        return error_response(400, "missing channel")

    def change(cfg: Config) -> web.Response | None:
        current = dict(cfg.oauth_model_alias)
        if channel not in current:
            return error_response(404, "channel not found")
        del current[channel]
        _store(cfg, current)
        return None

    return await mutate_config(request, change)
