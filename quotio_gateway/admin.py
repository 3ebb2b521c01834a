"""The gateway's own endpoints: liveness, status, metrics, the flag table API and its audit trail.

These are never routed by the flag table; /v0/gateway/* is guarded by the management key.
"""

from __future__ import annotations

import orjson
from aiohttp import web

from . import __version__, appkeys
from .flags.loader import FlagsError
from .management.auth import check_management_access, management_key_id


def _json(data: object, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(data), content_type="application/json")


async def healthz(request: web.Request) -> web.Response:
    return _json({"status": "ok"})


async def metrics_handler(request: web.Request) -> web.Response:
    body, content_type = request.app[appkeys.METRICS].render()
    response = web.Response(body=body)
    response.headers["Content-Type"] = content_type
    return response


async def status(request: web.Request) -> web.Response:
    if (denied := await check_management_access(request)) is not None:
        return denied
    app = request.app
    table = app[appkeys.FLAG_STORE].current
    forwarder = app[appkeys.LEGACY]
    supervisor = app[appkeys.SUPERVISOR]
    health = forwarder.health
    legacy: dict[str, object] = {"configured": forwarder.configured, "url": forwarder.url}
    if health is not None:
        legacy.update(healthy=health.healthy, last_error=health.last_error)
    if supervisor is not None:
        legacy.update(pid=supervisor.pid, restarts=supervisor.restarts, binary=table.table.legacy.binary)
    runtime = app[appkeys.RUNTIME]
    return _json({
        "version": __version__,
        "uptime_seconds": round(runtime.uptime, 3),
        "flags": {"version": table.version, "default": table.table.default.value,
                  "routes": len(table.table.routes), "path": str(runtime.flags_path) if runtime.flags_path else None,
                  "last_error": app[appkeys.FLAG_STORE].last_error},
        "legacy": legacy,
        "config": str(runtime.config_path) if runtime.config_path else None,
    })


async def get_flags(request: web.Request) -> web.Response:
    if (denied := await check_management_access(request)) is not None:
        return denied
    table = request.app[appkeys.FLAG_STORE].current
    response = _json(table.table.model_dump(mode="json"))
    response.headers["X-Quotio-Flags-Version"] = str(table.version)
    return response


async def _read_json(request: web.Request) -> object:
    try:
        return orjson.loads(await request.read())
    except orjson.JSONDecodeError as exc:
        raise FlagsError("request body", "", f"invalid JSON: {exc}") from None


async def put_flags(request: web.Request) -> web.Response:
    return await _change(request, replace=True)


async def patch_flags(request: web.Request) -> web.Response:
    return await _change(request, replace=False)


async def _change(request: web.Request, *, replace: bool) -> web.Response:
    if (denied := await check_management_access(request)) is not None:
        return denied
    store = request.app[appkeys.FLAG_STORE]
    actor = f"key:{management_key_id(request)}"
    try:
        doc = await _read_json(request)
        if replace:
            table = await store.replace_document(doc, actor=actor)
        else:
            table = await store.patch_route(doc, actor=actor)
    except FlagsError as exc:
        return _json({"error": "invalid flags", "key": exc.key, "message": exc.reason}, status=400)
    except OSError as exc:
        return _json({"error": "failed to persist flags", "message": exc.strerror or str(exc)}, status=500)
    response = _json({"status": "ok", "version": table.version})
    response.headers["X-Quotio-Flags-Version"] = str(table.version)
    return response


async def flags_audit(request: web.Request) -> web.Response:
    if (denied := await check_management_access(request)) is not None:
        return denied
    try:
        limit = max(1, min(1000, int(request.query.get("limit", "100"))))
    except ValueError:
        return _json({"error": "invalid limit"}, status=400)
    audit = request.app[appkeys.FLAG_STORE].audit
    entries = await audit.entries(limit) if audit is not None else []
    return _json({"entries": entries})


async def shadow(request: web.Request) -> web.StreamResponse:
    if (denied := await check_management_access(request)) is not None:
        return denied
    from .shadow.api import shadow_handler

    return await shadow_handler(request)


def setup_admin(app: web.Application) -> None:
    router = app.router
    router.add_route("GET", "/healthz", healthz)
    router.add_route("HEAD", "/healthz", healthz)
    router.add_route("GET", "/metrics", metrics_handler)
    router.add_route("GET", "/v0/gateway/status", status)
    router.add_route("GET", "/v0/gateway/flags", get_flags)
    router.add_route("PUT", "/v0/gateway/flags", put_flags)
    router.add_route("PATCH", "/v0/gateway/flags", patch_flags)
    router.add_route("GET", "/v0/gateway/flags/audit", flags_audit)
    router.add_route("GET", "/v0/gateway/shadow", shadow)
