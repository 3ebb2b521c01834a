"""``GET /v0/management/usage``, ``GET /usage/export`` and ``POST /usage/import``, answered from
the gateway's own statistics (``internal/api/handlers/management/usage.go``)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from quotio_gateway.management.auth import guarded
from quotio_gateway.management.responses import (
    Field,
    GoJSONError,
    GoNumber,
    Struct,
    as_bool,
    as_int,
    as_str,
    decode_body,
    error_response,
    gin_h,
    json_response,
    list_of,
    map_of,
)
from quotio_gateway.native import NativeRegistry

from .statistics import RequestDetail, RequestStatistics, Timestamp, parse_rfc3339
from .tokens import TokenStats

PREFIX = "/v0/management"
USAGE = web.AppKey("quotio_usage_statistics", RequestStatistics)


def _time(value: Any) -> Timestamp | None:
    """``time.Time`` from JSON: an RFC 3339 string; None for Go's zero time (the caller's now)."""
    if not isinstance(value, str) or isinstance(value, GoNumber):
        raise GoJSONError("cannot unmarshal into time.Time")
    try:
        return parse_rfc3339(value)
    except ValueError as exc:
        raise GoJSONError(str(exc)) from exc


_INT64_MAP = map_of(as_int)
_TOKENS = Struct(*(Field(name, as_int) for name in
                   ("input_tokens", "output_tokens", "reasoning_tokens", "cached_tokens", "total_tokens")))
_DETAIL = Struct(Field("timestamp", _time), Field("source", as_str), Field("auth_index", as_str),
                 Field("tokens", _TOKENS), Field("failed", as_bool))
_MODEL = Struct(Field("total_requests", as_int), Field("total_tokens", as_int),
                Field("details", list_of(_DETAIL), nilable=True))
_API = Struct(Field("total_requests", as_int), Field("total_tokens", as_int),
              Field("models", map_of(_MODEL), nilable=True))
_SNAPSHOT = Struct(Field("total_requests", as_int), Field("success_count", as_int), Field("failure_count", as_int),
                   Field("total_tokens", as_int), Field("apis", map_of(_API), nilable=True),
                   Field("requests_by_day", _INT64_MAP, nilable=True),
                   Field("requests_by_hour", _INT64_MAP, nilable=True),
                   Field("tokens_by_day", _INT64_MAP, nilable=True), Field("tokens_by_hour", _INT64_MAP, nilable=True))
_IMPORT = Struct(Field("version", as_int), Field("usage", _SNAPSHOT))


def _detail(fields: dict[str, Any]) -> RequestDetail:
    tokens = fields.get("tokens") or {}
    return RequestDetail(
        timestamp=fields.get("timestamp") or Timestamp.now_local(),  # a zero time becomes now
        source=fields.get("source", ""), auth_index=fields.get("auth_index", ""),
        tokens=TokenStats(tokens.get("input_tokens", 0), tokens.get("output_tokens", 0),
                          tokens.get("reasoning_tokens", 0), tokens.get("cached_tokens", 0),
                          tokens.get("total_tokens", 0)),
        failed=fields.get("failed", False))


def statistics_of(request: web.Request) -> RequestStatistics | None:
    return request.app.get(USAGE)


async def get_usage(request: web.Request) -> web.StreamResponse:
    snapshot = (statistics_of(request) or RequestStatistics()).snapshot()
    return json_response(200, gin_h(usage=snapshot, failed_requests=snapshot["failure_count"]))


async def export_usage(request: web.Request) -> web.StreamResponse:
    snapshot = (statistics_of(request) or RequestStatistics()).snapshot()
    return json_response(200, {"version": 1, "exported_at": Timestamp.now_local().rfc3339_nano(utc=True),
                               "usage": snapshot})


async def import_usage(request: web.Request) -> web.StreamResponse:
    stats = statistics_of(request)
    if stats is None:
        return error_response(400, "usage statistics unavailable")
    try:
        body = await request.read()
    except (ConnectionError, web.HTTPException):
        return error_response(400, "failed to read request body")
    try:
        payload = decode_body(body, _IMPORT, whole=True) or {}
    except GoJSONError:
        return error_response(400, "invalid json")
    if payload.get("version", 0) not in (0, 1):
        return error_response(400, "unsupported version")
    apis = (payload.get("usage") or {}).get("apis") or {}
    added, skipped = stats.merge([
        (api, [(model, [_detail(d) for d in (per_model.get("details") or [])])
               for model, per_model in (fields.get("models") or {}).items()])
        for api, fields in apis.items()])
    return json_response(200, gin_h(added=added, skipped=skipped, total_requests=stats.total_requests,
                                    failed_requests=stats.failure_count))


def setup_usage_routes(registry: NativeRegistry) -> None:
    registry.add("GET", f"{PREFIX}/usage", guarded(get_usage))
    registry.add("GET", f"{PREFIX}/usage/export", guarded(export_usage))
    registry.add("POST", f"{PREFIX}/usage/import", guarded(import_usage))
