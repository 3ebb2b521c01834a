"""Whole-config and single-setting management endpoints (legacy ``config_basic.go`` and ``quota.go``).

Every write follows the legacy recipe: decode the body the Go way, change a copy of the live
config, persist it through the ConfigStore (comments preserved) and answer ``{"status":"ok"}``.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from ..appkeys import CONFIG_STORE
from ..config.gojson import config_to_go_json
from ..config.loader import ConfigError
from ..config.models import Config
from ..config.writer import left_align_comments
from ..gostrings import go_trim
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
    gin_h,
    json_response,
    status_ok,
)

YAML_CONTENT_TYPE = "application/yaml; charset=utf-8"

# ---------------------------------------------------------------------------------------------
# Read-modify-persist

_locks: weakref.WeakKeyDictionary[Any, asyncio.Lock] = weakref.WeakKeyDictionary()


def _lock_for(store: Any) -> asyncio.Lock:
    lock = _locks.get(store)
    if lock is None:
        lock = _locks[store] = asyncio.Lock()
    return lock


Change = Callable[[Config], web.Response | None]


async def mutate_config(request: web.Request, change: Change) -> web.Response:
    """Apply ``change`` to a copy of the live config and persist it.

    ``change`` returns an error response to abort without writing. Writes are serialised so two
    concurrent edits cannot lose each other's change.
    """
    store = request.app[CONFIG_STORE]
    async with _lock_for(store):
        cfg = store.current.model_copy(deep=True)
        denial = change(cfg)
        if denial is not None:
            return denial
        try:
            await store.save(cfg)
        except Exception as exc:  # the answer carries the reason, as legacy's persist() does
            return error_response(500, f"failed to save config: {exc}")
    return status_ok()


def assign(model: Any, name: str, value: Any) -> None:
    """Set a list/map field; ``None`` makes it nil (empty and unset), as a nil Go slice or map."""
    if value is None:
        setattr(model, name, type(getattr(model, name))())
        model.model_fields_set.discard(name)
    else:
        setattr(model, name, value)


async def read_body(request: web.Request) -> bytes:
    return await request.read()


def value_body(decoder: Decoder) -> Struct:
    """``struct{ Value *T `json:"value"` }``."""
    return Struct(Field("value", decoder, nilable=True))


async def bound_value(request: web.Request, decoder: Decoder) -> Any:
    """The ``value`` of a scalar setter body, or None when legacy would answer ``invalid body``."""
    try:
        body = decode_body(await read_body(request), value_body(decoder), whole=False)
    except GoJSONError:
        return None
    return (body or {}).get("value")


def _holder(cfg: Config, keys: tuple[str, ...]) -> tuple[Any, str]:
    """The object holding the last YAML key of ``keys`` and its attribute (keys in snake_case)."""
    holder: Any = cfg
    for key in keys[:-1]:
        holder = getattr(holder, key.replace("-", "_"))
    return holder, keys[-1].replace("-", "_")


# ---------------------------------------------------------------------------------------------
# GET /config, GET/PUT /config.yaml


async def get_config(request: web.Request) -> web.StreamResponse:
    return json_response(200, config_to_go_json(request.app[CONFIG_STORE].current))


async def get_config_yaml(request: web.Request) -> web.StreamResponse:
    path = request.app[CONFIG_STORE].path
    if path is None:  # no config file: legacy's os.ReadFile("") fails with "not exist"
        return json_response(404, gin_h(error="not_found", message="config file not found"))
    try:
        data = await asyncio.to_thread(path.read_bytes)
    except FileNotFoundError:
        return json_response(404, gin_h(error="not_found", message="config file not found"))
    except OSError as exc:
        return json_response(500, gin_h(error="read_failed", message=str(exc)))
    return web.Response(status=200, body=data, headers={
        "Content-Type": YAML_CONTENT_TYPE,
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    })


async def put_config_yaml(request: web.Request) -> web.StreamResponse:
    try:
        body = await read_body(request)
    except OSError:
        return json_response(400, gin_h(error="invalid_yaml", message="cannot read request body"))
    store = request.app[CONFIG_STORE]
    # WriteConfig left-aligns indented comment lines before writing (config_basic.go:96).
    body = left_align_comments(body)
    async with _lock_for(store):
        try:
            await store.save_raw(body)
        except ConfigError as exc:
            return json_response(exc_status(exc), gin_h(error=exc_code(exc), message=exc_message(exc)))
        except OSError:
            return json_response(500, gin_h(error="write_failed", message="failed to write config"))
    return json_response(200, gin_h(ok=True, changed=["config"]))


# LoadConfigOptional only fails after a successful typed unmarshal for these two reasons; legacy
# answers them 422 and everything else (syntax, wrong types) 400.
_POST_PARSE_FAILURES = ("failed to hash", "failed to persist")


def exc_status(exc: ConfigError) -> int:
    kind = getattr(exc, "kind", None)
    if kind in ("invalid_yaml", "invalid_config"):
        return 422 if kind == "invalid_config" else 400
    return 422 if exc.reason.startswith(_POST_PARSE_FAILURES) else 400


def exc_code(exc: ConfigError) -> str:
    return "invalid_config" if exc_status(exc) == 422 else "invalid_yaml"


def exc_message(exc: ConfigError) -> str:
    """A yaml.v3-style message: no file path, the line when known."""
    reason = exc.reason
    if exc.line is not None:
        return f"yaml: line {exc.line}: {reason.removeprefix('yaml: ')}"
    if exc.key and exc.kind == "schema":
        return f"yaml: unmarshal errors:\n  {exc.key}: {reason}"
    # Errors after the decode (hashing the secret) are the legacy's own text (config.go:533-535).
    return reason


# ---------------------------------------------------------------------------------------------
# Scalar settings


@dataclass(frozen=True)
class Scalar:
    """One ``GET``/``PUT``/``PATCH`` setting: URL path, config key path, reply key, value type."""

    path: str
    keys: tuple[str, ...]
    reply: str
    decoder: Decoder
    clamp_negative: bool = False

    async def get(self, request: web.Request) -> web.StreamResponse:
        holder, name = _holder(request.app[CONFIG_STORE].current, self.keys)
        return json_response(200, {self.reply: getattr(holder, name)})

    async def put(self, request: web.Request) -> web.StreamResponse:
        value = await bound_value(request, self.decoder)
        if value is None:
            return error_response(400, "invalid body")
        if self.clamp_negative and value < 0:
            value = 0

        def change(cfg: Config) -> None:
            holder, name = _holder(cfg, self.keys)
            setattr(holder, name, value)

        return await mutate_config(request, change)


SCALARS: tuple[Scalar, ...] = (
    Scalar("debug", ("debug",), "debug", as_bool),
    Scalar("logging-to-file", ("logging-to-file",), "logging-to-file", as_bool),
    Scalar("logs-max-total-size-mb", ("logs-max-total-size-mb",), "logs-max-total-size-mb", as_int,
           clamp_negative=True),
    Scalar("usage-statistics-enabled", ("usage-statistics-enabled",), "usage-statistics-enabled", as_bool),
    Scalar("proxy-url", ("proxy-url",), "proxy-url", as_str),
    Scalar("request-retry", ("request-retry",), "request-retry", as_int),
    Scalar("max-retry-interval", ("max-retry-interval",), "max-retry-interval", as_int),
    Scalar("quota-exceeded/switch-project", ("quota-exceeded", "switch-project"), "switch-project", as_bool),
    Scalar("quota-exceeded/switch-preview-model", ("quota-exceeded", "switch-preview-model"),
           "switch-preview-model", as_bool),
    Scalar("force-model-prefix", ("force-model-prefix",), "force-model-prefix", as_bool),
    Scalar("request-log", ("request-log",), "request-log", as_bool),
    Scalar("ws-auth", ("ws-auth",), "ws-auth", as_bool),
)


async def delete_proxy_url(request: web.Request) -> web.StreamResponse:
    def change(cfg: Config) -> None:
        cfg.proxy_url = ""

    return await mutate_config(request, change)


# ---------------------------------------------------------------------------------------------
# Routing strategy

_STRATEGY_SPELLINGS = {
    "": "round-robin", "round-robin": "round-robin", "roundrobin": "round-robin", "rr": "round-robin",
    "fill-first": "fill-first", "fillfirst": "fill-first", "ff": "fill-first",
}


def normalize_routing_strategy(value: str) -> str | None:
    return _STRATEGY_SPELLINGS.get(go_trim(value).lower())


async def get_routing_strategy(request: web.Request) -> web.StreamResponse:
    raw = request.app[CONFIG_STORE].current.routing.strategy
    strategy = normalize_routing_strategy(raw)
    return json_response(200, {"strategy": strategy if strategy is not None else go_trim(raw)})


async def put_routing_strategy(request: web.Request) -> web.StreamResponse:
    value = await bound_value(request, as_str)
    if value is None:
        return error_response(400, "invalid body")
    strategy = normalize_routing_strategy(value)
    if strategy is None:
        return error_response(400, "invalid strategy")

    def change(cfg: Config) -> None:
        cfg.routing.strategy = strategy

    return await mutate_config(request, change)
