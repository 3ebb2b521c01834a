"""The Amp control-plane passthrough (``routes.go`` registerManagementRoutes): ``/api/internal``,
``/api/user``, ``/api/auth``, ``/api/meta``, ``/api/telemetry``, ``/api/threads``, ``/api/otel``,
``/api/tab`` (each with any sub-path), ``/api/ads``, and at the root ``GET /threads``, ``/docs``,
``/settings`` (with sub-paths), ``/threads.rss``, ``/news.rss`` and ``/auth[/*]`` for any method.

The checks run in the legacy's middleware order: the global CORS middleware answers ``OPTIONS``
with 204 before anything else (so the Amp group's own 403 for ``OPTIONS`` never runs); no upstream
is a 503, still with the CORS headers; from there on the CORS headers are blanked; with
``ampcode.restrict-management-to-localhost`` a socket peer that is not a loopback address gets
403; then the client key, except on the root ``/threads``, ``/auth``, ``/docs`` and ``/settings``
trees (the two feeds are not exempt: ``/threads.rss`` is not under ``/threads/``); then the request
goes to the Amp upstream.

``/api/provider/google/v1beta1/*path`` (the Amp CLI's Gemini paths, such as
``/publishers/google/models/<model>:streamGenerateContent``) sits in the same group, so the same
checks apply, 503 included; a POST whose path holds ``/models/`` is then served like a Gemini
``/v1beta/models/<model>:<method>`` call behind the fallback wrapper (a local provider, a mapping,
else the upstream), and anything else goes upstream.
"""

from __future__ import annotations

from aiohttp import web

from handlers.inference import routes as inference
from handlers.usage.reporter import CLIENT_KEY
from quotio_gateway.appkeys import CONFIG_STORE
from quotio_gateway.clientinfo import peer_address
from quotio_gateway.dispatch import BEFORE_MIDDLEWARE_KEY
from quotio_gateway.legacy.peer_guard import loopback_peer
from quotio_gateway.management.responses import gin_not_found, json_response
from quotio_gateway.native import Handler, NativeRegistry

from .fallback import MAPPED_MODEL, serve_with_fallback
from .routes import authorise
from .state import AMP, upstream_base
from .upstream import proxy_request

NOT_AVAILABLE = "amp upstream proxy not available"
LOCAL_ONLY = "Access denied: management routes restricted to localhost"

API_TREES = ("internal", "user", "auth", "meta", "telemetry", "threads", "otel", "tab")
ROOT_GET_TREES = ("threads", "docs", "settings")
ROOT_FEEDS = ("/threads.rss", "/news.rss")
_NO_KEY_PREFIXES = ("/threads", "/auth", "/docs", "/settings")
# Gin's ``Any``: other methods on these paths find no route.
GIN_ANY_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "HEAD", "OPTIONS", "DELETE", "CONNECT", "TRACE"})


def _key_exempt(path: str) -> bool:
    """``wrapManagementAuth``: the prefix itself or anything below it (``/threads/x``, not
    ``/threads.rss``)."""
    return any(path == prefix or path.startswith(prefix + "/") for prefix in _NO_KEY_PREFIXES)


def _passthrough(*, key_exempt_paths: bool, bridge: bool = False) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        if request.method not in GIN_ANY_METHODS:
            return gin_not_found()
        if request.method == "OPTIONS":
            return web.Response(status=204)
        settings = request.app[CONFIG_STORE].current
        base = upstream_base(settings.ampcode)
        if not base:
            return json_response(503, {"error": NOT_AVAILABLE})
        request[BEFORE_MIDDLEWARE_KEY] = True  # the group blanks the CORS headers from here on
        if settings.ampcode.restrict_management_to_localhost and not loopback_peer(peer_address(request)):
            return json_response(403, {"error": LOCAL_ONLY})
        if not (key_exempt_paths and _key_exempt(request.path)):
            denied = authorise(request)
            if denied is not None:
                return denied
        if bridge and request.method == "POST" and "/models/" in "/" + request.match_info["path"]:
            return await serve_with_fallback(request, _gemini_bridge, cors=False)
        client_key = request.get(CLIENT_KEY) or ""
        upstream_key = request.app[AMP].secret.key_for(settings.ampcode, client_key)
        body = await request.read() if request.body_exists else None
        return await proxy_request(request, base, upstream_key, client_key, body, cors=False)

    return handler


async def _gemini_bridge(request: web.Request) -> web.StreamResponse:
    """``createGeminiBridgeHandler``: the part after ``/models/`` becomes the Gemini action (its
    model replaced by a mapped one), which the Gemini handler reads with one leading "/" trimmed."""
    path = "/" + request.match_info["path"]
    action = path[path.index("/models/") + len("/models/"):]
    mapped = request.get(MAPPED_MODEL)
    colon = action.find(":")
    if mapped and colon > 0:
        action = mapped + action[colon:]
    request.match_info["action"] = action.removeprefix("/")
    return await inference.gemini_models_post(request)


def setup_amp_control_plane_routes(registry: NativeRegistry) -> None:
    api = _passthrough(key_exempt_paths=False)
    root = _passthrough(key_exempt_paths=True)
    for tree in API_TREES:
        registry.add("*", f"/api/{tree}", api)
        registry.add("*", f"/api/{tree}/{{path:.*}}", api)
    registry.add("*", "/api/ads", api)
    registry.add("*", "/api/provider/google/v1beta1/{path:.*}", _passthrough(key_exempt_paths=False, bridge=True))
    for tree in ROOT_GET_TREES:
        registry.get(f"/{tree}", root)
        registry.get(f"/{tree}/{{path:.*}}", root)
    for feed in ROOT_FEEDS:
        registry.get(feed, root)
    registry.add("*", "/auth", root)
    registry.add("*", "/auth/{path:.*}", root)
