"""The HTTP login API, as CLIProxyAPI v6.7.15's management handlers answer it.

Mounted by the app factory with ``setup_login_routes(registry)``:

- ``GET /v0/management/{anthropic,codex,gemini-cli,antigravity,iflow}-auth-url`` start a browser
  login and answer at once ``{"status":"ok","url":...,"state":...}``; with ``?is_webui=true`` a
  callback server listens on the provider's port for the browser's redirect. Gemini CLI takes
  ``?project_id=<id|ALL>``.
- ``POST /v0/management/iflow-auth-url`` ``{"cookie":...}``: the synchronous iFlow cookie login.
- ``POST /v0/management/oauth-callback``: a callback URL (or code/state/error) pasted by hand.
- ``GET /v0/management/get-auth-status?state=``: ``wait`` / ``ok`` / ``error`` of a login.

All of them sit behind the management access check. The legacy's unauthenticated main-server
callback routes (``/anthropic/callback``, ``/codex/callback``, ``/google/callback``,
``/iflow/callback``, ``/antigravity/callback``) are registered too; they accept a callback for a
pending login and always answer the same success page, as the legacy does.

Differences from the legacy (deliberate): the callback server on the provider port hands the code
over itself instead of redirecting to the main port; a second callback for the same state is
refused (409 ``oauth flow is not pending``) instead of overwriting the first; no
``.oauth-<provider>-<state>.oauth`` files are written to the auth-dir.
"""

from __future__ import annotations

from typing import Any

import structlog
from aiohttp import web

from quotio_gateway.appkeys import CONFIG_STORE
from quotio_gateway.goquery import go_query_first, query_value
from quotio_gateway.gostrings import go_trim
from quotio_gateway.management.auth import guarded
from quotio_gateway.management.responses import (
    Field,
    GoJSONError,
    Struct,
    as_str,
    decode_body,
    gin_h,
    json_response,
)
from quotio_gateway.native import NativeRegistry

from .authcode import AuthCodeLogin, LoginFailed
from .browser_flow import complete_login
from .callback_server import CallbackServer, CallbackServerError
from .claude import ClaudeLogin
from .codex import CodexLogin
from .context import LoginContext, login_context
from .endpoints import EndpointConfigError, IFlowEndpoints, endpoints_for
from .google import AntigravityLogin, GeminiCliLogin
from .iflow import CookieLoginError, IFlowLogin, cookie_login
from .redirect_url import redirect_query
from .sessions import CallbackRejected, LoginSessions, normalize_oauth_provider, sessions_for, valid_state

log = structlog.get_logger("handlers.logins.routes")

__all__ = ["setup_login_routes"]

PREFIX = "/v0/management"
_WEBUI_TRUE = frozenset({"1", "true", "yes", "on"})

_CALLBACK_BODY = Struct(
    Field("provider", as_str),
    Field("redirect_url", as_str),
    Field("code", as_str),
    Field("state", as_str),
    Field("error", as_str),
)
_COOKIE_BODY = Struct(Field("cookie", as_str))
# The main-server callback routes answer these bytes, the legacy's oauthCallbackSuccessHTML
# (internal/api/server.go:43), whatever the callback held.
_CALLBACK_PAGE = (
    b'<html><head><meta charset="utf-8"><title>Authentication successful</title>'
    b"<script>setTimeout(function(){window.close();},5000);</script></head><body>"
    b"<h1>Authentication successful!</h1><p>You can close this window.</p>"
    b"<p>This window will close automatically in 5 seconds.</p></body></html>"
)


def _error(status: int, message: str, *, with_status: bool) -> web.Response:
    """The two error shapes of the legacy: ``{"error"}`` and (iFlow, callbacks) ``{"status","error"}``."""
    if with_status:
        return json_response(status, gin_h(status="error", error=message))
    return json_response(status, {"error": message})


def _is_webui(request: web.Request) -> bool:
    return go_trim(query_value(request, "is_webui")).lower() in _WEBUI_TRUE


async def _start_login(request: web.Request, cls: type[AuthCodeLogin], **options: Any) -> web.StreamResponse:
    app = request.app
    ctx = login_context(app)
    cfg = app[CONFIG_STORE].current
    wrap = cls is IFlowLogin  # the legacy's iFlow handler adds "status":"error" to its errors
    try:
        endpoints = endpoints_for(cls.provider, cfg)
    except EndpointConfigError as exc:
        log.error("bad gateway.provider-endpoints", provider=cls.provider, error=str(exc))
        return _error(500, "failed to generate authorization url", with_status=wrap)
    sessions = sessions_for(app)
    port = ctx.callback_ports.get(cls.provider, endpoints.callback_port)
    server: CallbackServer | None = None
    if _is_webui(request):
        wanted = CallbackServer(
            sessions, cls.session_key, endpoints.callback_path, port, host=ctx.callback_host,
            success_redirect=endpoints.success_redirect_url if isinstance(endpoints, IFlowEndpoints) else "",
            error_redirect=endpoints.error_redirect_url if isinstance(endpoints, IFlowEndpoints) else "",
        )
        try:
            server = await ctx.servers.acquire(wanted)
        except CallbackServerError as exc:
            log.error("cannot start the login callback server", provider=cls.provider, error=str(exc))
            return _error(500, "failed to start callback server", with_status=wrap)
        port = server.bound_port
    login = cls(ctx.client(), endpoints, port=port, via_management=True, proxy=cfg.proxy_url, **options)
    url = login.authorize_url()
    sessions.register(login.state, cls.session_key)
    ctx.spawn(_run_login(app, ctx, login, sessions, server))
    return json_response(200, gin_h(status="ok", url=url, state=login.state))


async def _run_login(app: web.Application, ctx: LoginContext, login: AuthCodeLogin, sessions: LoginSessions,
                     server: CallbackServer | None) -> None:
    try:
        await complete_login(login, sessions, lambda: ctx.token_store(app), wait_seconds=ctx.wait_seconds)
    except LoginFailed:
        pass  # already recorded in the session and logged
    except Exception:
        # A bug must not leave the session pending: it would read "wait" and, once it expires,
        # "ok" although nothing was saved.
        log.exception("login task failed unexpectedly", provider=login.provider)
        sessions.set_error(login.state, "Authentication failed")
    finally:
        if server is not None:
            await ctx.servers.release(server)


async def anthropic_auth_url(request: web.Request) -> web.StreamResponse:
    return await _start_login(request, ClaudeLogin)


async def codex_auth_url(request: web.Request) -> web.StreamResponse:
    return await _start_login(request, CodexLogin)


async def gemini_cli_auth_url(request: web.Request) -> web.StreamResponse:
    return await _start_login(request, GeminiCliLogin, project_id=query_value(request, "project_id"))


async def antigravity_auth_url(request: web.Request) -> web.StreamResponse:
    return await _start_login(request, AntigravityLogin)


async def iflow_auth_url(request: web.Request) -> web.StreamResponse:
    return await _start_login(request, IFlowLogin)


async def iflow_cookie_auth(request: web.Request) -> web.StreamResponse:
    body = await request.read()
    try:
        decoded = decode_body(body, _COOKIE_BODY, whole=False) or {}
    except GoJSONError:
        return _error(400, "cookie is required", with_status=True)
    if not go_trim(decoded.get("cookie", "")):
        return _error(400, "cookie is required", with_status=True)
    app = request.app
    ctx = login_context(app)
    cfg = app[CONFIG_STORE].current
    try:
        endpoints = endpoints_for("iflow", cfg)
    except EndpointConfigError as exc:
        log.error("bad gateway.provider-endpoints", provider="iflow", error=str(exc))
        return _error(500, "failed to save authentication tokens", with_status=True)
    assert isinstance(endpoints, IFlowEndpoints)
    try:
        store = await ctx.token_store(app)
    except Exception as exc:  # an unreachable store: nothing can be checked or saved
        log.error("token store unavailable for the iflow cookie login", error=str(exc))
        return _error(500, "failed to check duplicate", with_status=True)
    try:
        credential = await cookie_login(ctx.client(), endpoints, store, decoded["cookie"], proxy=cfg.proxy_url)
    except CookieLoginError as exc:
        if exc.existing_file:
            return json_response(exc.status, gin_h(status="error", error=exc.message,
                                                   existing_file=exc.existing_file))
        return _error(exc.status, exc.message, with_status=True)
    path_for = getattr(store, "path_for", None)
    saved_path = str(path_for(credential.file_name)) if callable(path_for) else credential.file_name
    return json_response(200, gin_h(status="ok", saved_path=saved_path, email=credential.email,
                                    expired=credential.metadata.get("expired", ""), type="iflow"))


async def oauth_callback(request: web.Request) -> web.StreamResponse:
    body = await request.read()
    try:
        decoded = decode_body(body, _CALLBACK_BODY, whole=False)
    except GoJSONError:
        return _error(400, "invalid body", with_status=True)
    # A bare ``null`` binds as the zero struct in Gin (json.Decoder leaves it unset, the validator
    # finds nothing to check), so it ends at the provider check like ``{}`` does.
    decoded = decoded or {}
    provider = normalize_oauth_provider(decoded.get("provider", ""))
    if provider is None:
        return _error(400, "unsupported provider", with_status=True)
    state = go_trim(decoded.get("state", ""))
    code = go_trim(decoded.get("code", ""))
    error = go_trim(decoded.get("error", ""))
    redirect = go_trim(decoded.get("redirect_url", ""))
    if redirect:
        query = redirect_query(redirect)
        if query is None:
            return _error(400, "invalid redirect_url", with_status=True)

        def first(name: str) -> str:
            return go_trim(go_query_first(query, name))

        state = state or first("state")
        code = code or first("code")
        error = error or first("error") or first("error_description")
    if not state:
        return _error(400, "state is required", with_status=True)
    if not valid_state(state):
        return _error(400, "invalid state", with_status=True)
    if not code and not error:
        return _error(400, "code or error is required", with_status=True)
    try:
        sessions_for(request.app).deliver(state, provider, code=code, error=error)
    except CallbackRejected as exc:
        return _error(exc.status, exc.message, with_status=True)
    return json_response(200, {"status": "ok"})


async def get_auth_status(request: web.Request) -> web.StreamResponse:
    status, body = sessions_for(request.app).status_body(go_trim(query_value(request, "state")))
    return json_response(status, gin_h(**body))


def _main_server_callback(session_key: str) -> Any:
    async def handler(request: web.Request) -> web.StreamResponse:
        # Gin's c.Query: Go drops pairs holding ``;`` or a bad escape, aiohttp keeps them.
        state = go_trim(query_value(request, "state"))
        code = go_trim(query_value(request, "code"))
        error = go_trim(query_value(request, "error")) or go_trim(query_value(request, "error_description"))
        if state and (code or error):
            try:
                sessions_for(request.app).deliver(state, session_key, code=code, error=error)
            except CallbackRejected as exc:
                log.warning("main-server oauth callback ignored", provider=session_key, reason=exc.message)
        # The legacy shows this page whatever happened; the outcome is in get-auth-status.
        return web.Response(status=200, body=_CALLBACK_PAGE, headers={"Content-Type": "text/html; charset=utf-8"})

    return handler


def setup_login_routes(registry: NativeRegistry) -> None:
    def add(method: str, path: str, handler: Any) -> None:
        registry.add(method, f"{PREFIX}/{path}", guarded(handler))

    add("GET", "anthropic-auth-url", anthropic_auth_url)
    add("GET", "codex-auth-url", codex_auth_url)
    add("GET", "gemini-cli-auth-url", gemini_cli_auth_url)
    add("GET", "antigravity-auth-url", antigravity_auth_url)
    add("GET", "iflow-auth-url", iflow_auth_url)
    add("POST", "iflow-auth-url", iflow_cookie_auth)
    add("POST", "oauth-callback", oauth_callback)
    add("GET", "get-auth-status", get_auth_status)
    for route, key in (("/anthropic/callback", "anthropic"), ("/codex/callback", "codex"),
                       ("/google/callback", "gemini"), ("/iflow/callback", "iflow"),
                       ("/antigravity/callback", "antigravity")):
        registry.get(route, _main_server_callback(key))
