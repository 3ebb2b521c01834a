"""The legacy /v0/management surface the gateway's tests touch: access control
(internal/api/handlers/management/handler.go) and the config-only endpoints
(config_basic.go, config_lists.go, quota.go), plus the read-only usage and auth-files listings."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import bcrypt
from aiohttp import web

from .legacy_config import ConfigError, load_config, parse_config_text
from .legacy_gin import STATE_KEY, Attempt, LegacyState, bare_status, client_ip, gin_json, gin_not_found
from .legacy_mgmt_lists import register_list_routes
from .legacy_schema import CONFIG, to_json
from .legacy_yamlsave import normalize_comment_indentation, save_config_preserve_comments

PREFIX = "/v0/management"
BUILD_HEADERS = {"X-CPA-VERSION": "dev", "X-CPA-COMMIT": "none", "X-CPA-BUILD-DATE": "unknown"}
MAX_FAILURES = 5
BAN_SECONDS = 30 * 60

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class BadBody(Exception):
    """The body does not bind to the handler's Go struct."""


def go_duration(seconds: float) -> str:
    """time.Duration(...).Round(time.Second).String() for the ban message."""
    total = round(seconds)
    if total == 0:
        return "0s"
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def bind_json(raw: bytes) -> Any:
    """Decode like gin's ShouldBindJSON: json.Decoder reads the first value, trailing data is ignored."""
    try:
        value, _ = json.JSONDecoder().raw_decode(raw.decode("utf-8", "replace").lstrip())
    except ValueError as exc:
        raise BadBody(str(exc)) from exc
    return value


def ci_get(obj: dict[str, Any], name: str) -> Any:
    """encoding/json field lookup: case-insensitive, the last matching key wins."""
    found = None
    for key, value in obj.items():
        if key.lower() == name:
            found = value
    return found


def typed(value: Any, kind: str) -> Any:
    """Check one pointer field of a Go body struct; ``None`` means absent (nil pointer)."""
    if value is None:
        return None
    ok = {
        "bool": isinstance(value, bool),
        "int": isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63,
        "str": isinstance(value, str),
        "object": isinstance(value, dict),
        "list": isinstance(value, list),
    }[kind]
    if not ok:
        raise BadBody(f"cannot unmarshal into {kind}")
    return value


def struct_body(raw: bytes, fields: dict[str, str]) -> dict[str, Any]:
    value = bind_json(raw)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadBody("cannot unmarshal into struct")
    return {name: typed(ci_get(value, name), kind) for name, kind in fields.items()}


async def persist(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    try:
        save_config_preserve_comments(state.config_path, state.cfg)
    except Exception as exc:  # Go reports any write/merge failure the same way
        return gin_json(500, {"error": f"failed to save config: {exc}"})
    return gin_json(200, {"status": "ok"})


def _auth_failure(state: LegacyState, ip: str, local: bool) -> None:
    if local:
        return
    attempt = state.failed_attempts.setdefault(ip, Attempt())
    attempt.count += 1
    attempt.last_activity = time.monotonic()
    if attempt.count >= MAX_FAILURES:
        attempt.blocked_until = time.monotonic() + BAN_SECONDS
        attempt.count = 0


def _reset_attempts(state: LegacyState, ip: str, local: bool) -> None:
    attempt = state.failed_attempts.get(ip)
    if not local and attempt is not None:
        attempt.count = 0
        attempt.blocked_until = 0.0


def _bcrypt_ok(state: LegacyState, hashed: str, provided: str) -> bool:
    cache_key = (hashed, hashlib.sha256(provided.encode()).hexdigest())
    if cache_key not in state.bcrypt_cache:
        try:
            verdict = bcrypt.checkpw(provided.encode(), hashed.encode())
        except ValueError:
            verdict = False
        state.bcrypt_cache[cache_key] = verdict
    return state.bcrypt_cache[cache_key]


def _check_access(request: web.Request, state: LegacyState) -> web.Response | None:
    ip = client_ip(request)
    local = ip in ("127.0.0.1", "::1")
    rm = state.cfg["remote-management"]
    allow_remote = rm["allow-remote"] or bool(state.env_secret)
    secret_hash = rm["secret-key"]
    if not local:
        attempt = state.failed_attempts.get(ip)
        if attempt is not None and attempt.blocked_until:
            remaining = attempt.blocked_until - time.monotonic()
            if remaining > 0:
                message = f"IP banned due to too many failed attempts. Try again in {go_duration(remaining)}"
                return gin_json(403, {"error": message})
            attempt.blocked_until = 0.0
            attempt.count = 0
        if not allow_remote:
            return gin_json(403, {"error": "remote management disabled"})
    if not secret_hash and not state.env_secret:
        return gin_json(403, {"error": "remote management key not set"})
    provided = ""
    authorization = request.headers.get("Authorization", "")
    if authorization:
        scheme, sep, rest = authorization.partition(" ")
        provided = rest if sep and scheme.lower() == "bearer" else authorization
    if not provided:
        provided = request.headers.get("X-Management-Key", "")
    if not provided:
        _auth_failure(state, ip, local)
        return gin_json(401, {"error": "missing management key"})
    if local and state.local_password and hmac.compare_digest(provided.encode(), state.local_password.encode()):
        return None
    if state.env_secret and hmac.compare_digest(provided.encode(), state.env_secret.encode()):
        _reset_attempts(state, ip, local)
        return None
    if not secret_hash or not _bcrypt_ok(state, secret_hash, provided):
        _auth_failure(state, ip, local)
        return gin_json(401, {"error": "invalid management key"})
    _reset_attempts(state, ip, local)
    return None


def guarded(handler: Handler) -> Handler:
    """Availability check, then the key middleware; X-CPA-* headers on everything it answers."""

    async def wrapper(request: web.Request) -> web.StreamResponse:
        state = request.app[STATE_KEY]
        if not state.mgmt_registered:
            return gin_not_found()
        if not state.mgmt_enabled:
            return bare_status(404)
        denied = _check_access(request, state)
        response = denied if denied is not None else await handler(request)
        response.headers.update(BUILD_HEADERS)
        return response

    return wrapper


# --- config and scalar settings -------------------------------------------------------------


async def get_config(request: web.Request) -> web.Response:
    return gin_json(200, to_json(CONFIG, request.app[STATE_KEY].cfg))


async def get_config_yaml(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    try:
        data = state.config_path.read_bytes()
    except FileNotFoundError:
        return gin_json(404, {"error": "not_found", "message": "config file not found"})
    except OSError as exc:
        return gin_json(500, {"error": "read_failed", "message": str(exc)})
    return web.Response(
        body=data,
        headers={
            "Content-Type": "application/yaml; charset=utf-8",
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


async def put_config_yaml(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    body = await request.read()
    text = body.decode("utf-8", "replace")
    try:
        parse_config_text(text)
    except ConfigError as exc:
        message = str(exc).removeprefix("failed to parse config file: ")
        return gin_json(400, {"error": "invalid_yaml", "message": f"yaml: {message}"})
    try:
        state.config_path.write_text(normalize_comment_indentation(text), encoding="utf-8")
    except OSError:
        return gin_json(500, {"error": "write_failed", "message": "failed to write config"})
    try:
        state.cfg = load_config(state.config_path)
    except ConfigError as exc:
        return gin_json(500, {"error": "reload_failed", "message": str(exc)})
    return gin_json(200, {"changed": ["config"], "ok": True})


def _scalar_routes(app: web.Application) -> None:
    """GET/PUT/PATCH for every scalar setting: (path, response key, config path, kind)."""
    table: list[tuple[str, str, tuple[str, ...], str]] = [
        ("/debug", "debug", ("debug",), "bool"),
        ("/logging-to-file", "logging-to-file", ("logging-to-file",), "bool"),
        ("/logs-max-total-size-mb", "logs-max-total-size-mb", ("logs-max-total-size-mb",), "int"),
        ("/usage-statistics-enabled", "usage-statistics-enabled", ("usage-statistics-enabled",), "bool"),
        ("/proxy-url", "proxy-url", ("proxy-url",), "str"),
        ("/request-retry", "request-retry", ("request-retry",), "int"),
        ("/max-retry-interval", "max-retry-interval", ("max-retry-interval",), "int"),
        ("/force-model-prefix", "force-model-prefix", ("force-model-prefix",), "bool"),
        ("/request-log", "request-log", ("request-log",), "bool"),
        ("/ws-auth", "ws-auth", ("ws-auth",), "bool"),
        ("/quota-exceeded/switch-project", "switch-project", ("quota-exceeded", "switch-project"), "bool"),
        (
            "/quota-exceeded/switch-preview-model",
            "switch-preview-model",
            ("quota-exceeded", "switch-preview-model"),
            "bool",
        ),
    ]
    for path, response_key, cfg_path, kind in table:
        getter, setter = _scalar_handlers(response_key, cfg_path, kind)
        app.router.add_get(PREFIX + path, guarded(getter), allow_head=False)
        app.router.add_put(PREFIX + path, guarded(setter))
        app.router.add_patch(PREFIX + path, guarded(setter))
    app.router.add_delete(PREFIX + "/proxy-url", guarded(delete_proxy_url))
    app.router.add_get(PREFIX + "/routing/strategy", guarded(get_routing_strategy), allow_head=False)
    app.router.add_put(PREFIX + "/routing/strategy", guarded(put_routing_strategy))
    app.router.add_patch(PREFIX + "/routing/strategy", guarded(put_routing_strategy))


def _scalar_handlers(response_key: str, cfg_path: tuple[str, ...], kind: str) -> tuple[Handler, Handler]:
    def container(cfg: dict[str, Any]) -> dict[str, Any]:
        for part in cfg_path[:-1]:
            cfg = cfg[part]
        return cfg

    async def getter(request: web.Request) -> web.Response:
        return gin_json(200, {response_key: container(request.app[STATE_KEY].cfg)[cfg_path[-1]]})

    async def setter(request: web.Request) -> web.Response:
        try:
            value = struct_body(await request.read(), {"value": kind})["value"]
        except BadBody:
            value = None
        if value is None:
            return gin_json(400, {"error": "invalid body"})
        if response_key == "logs-max-total-size-mb":
            value = max(value, 0)
        container(request.app[STATE_KEY].cfg)[cfg_path[-1]] = value
        return await persist(request)

    return getter, setter


async def delete_proxy_url(request: web.Request) -> web.Response:
    request.app[STATE_KEY].cfg["proxy-url"] = ""
    return await persist(request)


def normalize_strategy(value: str) -> str | None:
    lowered = value.strip().lower()
    if lowered in ("", "round-robin", "roundrobin", "rr"):
        return "round-robin"
    if lowered in ("fill-first", "fillfirst", "ff"):
        return "fill-first"
    return None


async def get_routing_strategy(request: web.Request) -> web.Response:
    stored = request.app[STATE_KEY].cfg["routing"]["strategy"]
    return gin_json(200, {"strategy": normalize_strategy(stored) or stored.strip()})


async def put_routing_strategy(request: web.Request) -> web.Response:
    try:
        value = struct_body(await request.read(), {"value": "str"})["value"]
    except BadBody:
        value = None
    if value is None:
        return gin_json(400, {"error": "invalid body"})
    normalized = normalize_strategy(value)
    if normalized is None:
        return gin_json(400, {"error": "invalid strategy"})
    request.app[STATE_KEY].cfg["routing"]["strategy"] = normalized
    return await persist(request)


# --- read-only listings the Quotio refresh loop polls ----------------------------------------


async def get_usage(request: web.Request) -> web.Response:
    snapshot = {
        "total_requests": 0,
        "success_count": 0,
        "failure_count": 0,
        "total_tokens": 0,
        "apis": {},
        "requests_by_day": {},
        "requests_by_hour": {},
        "tokens_by_day": {},
        "tokens_by_hour": {},
    }
    return gin_json(200, {"failed_requests": 0, "usage": snapshot})


def auth_index(file_name: str) -> str:
    return hashlib.sha256(f"file:{file_name}".encode()).hexdigest()[:16]


async def list_auth_files(request: web.Request) -> web.Response:
    return gin_json(200, {"files": _auth_dir_entries(request.app[STATE_KEY].cfg["auth-dir"])})


def _auth_dir_entries(auth_dir: str) -> list[dict[str, Any]]:
    directory = Path(auth_dir).expanduser() if auth_dir else None
    if directory is None or not directory.is_dir():
        return []
    files = [entry for path in directory.glob("*.json") if (entry := _auth_entry(path)) is not None]
    files.sort(key=lambda entry: entry["name"].lower())
    return files


def _auth_entry(path: Path) -> dict[str, Any] | None:
    """One listing row; files that are not a JSON object never load as credentials, so no row."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not path.is_file():
        return None
    provider = str(data.get("type") or "unknown")
    disabled = data.get("disabled") is True
    email = data.get("email") if isinstance(data.get("email"), str) else ""
    entry: dict[str, Any] = {
        "id": path.name,
        "auth_index": auth_index(path.name),
        "name": path.name,
        "type": provider,
        "provider": provider,
        "label": email or provider,
        "status": "disabled" if disabled else "active",
        "status_message": "",
        "disabled": disabled,
        "unavailable": False,
        "runtime_only": False,
        "source": "file",
        "size": path.stat().st_size,
        "path": str(path),
    }
    if email:
        entry["email"] = email
    return dict(sorted(entry.items()))


def register_management(app: web.Application) -> None:
    app.router.add_get(PREFIX + "/config", guarded(get_config), allow_head=False)
    app.router.add_get(PREFIX + "/config.yaml", guarded(get_config_yaml), allow_head=False)
    app.router.add_put(PREFIX + "/config.yaml", guarded(put_config_yaml))
    app.router.add_get(PREFIX + "/usage", guarded(get_usage), allow_head=False)
    app.router.add_get(PREFIX + "/auth-files", guarded(list_auth_files), allow_head=False)
    _scalar_routes(app)
    register_list_routes(app, PREFIX, guarded, persist)
