"""``GET /v0/management/qwen-auth-url``: the Qwen device login started over HTTP.

Mounted by the app factory with ``setup_device_login_routes(registry)``, next to
``setup_login_routes``. It shares their per-app :class:`LoginContext` (token store, HTTP client,
background tasks) and the session table that ``GET /get-auth-status?state=`` reads.

As the legacy (``RequestQwenToken`` in mgmt/auth_files.go at 9b72ea9ef): the device code is
requested before answering, the answer is ``{"status":"ok","url":<verification_uri_complete>,
"state":"gem-<unixnano>"}``, and a background task polls Qwen. Its end shows in get-auth-status:
the session disappears on success (``ok``), or carries ``Authentication failed`` /
``Failed to save authentication tokens``. The file is ``qwen-<unix milliseconds>.json`` with that
number as its ``email``. Other pending Qwen logins are left alone, as the legacy does.
"""

from __future__ import annotations

import time

import structlog
from aiohttp import web

from quotio_gateway.appkeys import CONFIG_STORE
from quotio_gateway.management.auth import guarded
from quotio_gateway.management.responses import gin_h, json_response
from quotio_gateway.native import NativeRegistry

from .context import LoginContext, login_context
from .device_poll import DeviceAuthorization, DeviceFlowError
from .device_qwen import QwenDeviceLogin, qwen_credential
from .endpoints import EndpointConfigError, endpoints_for
from .security import timestamped_state
from .sessions import LoginSessions, sessions_for

log = structlog.get_logger("handlers.logins.device_routes")

__all__ = ["QWEN_SESSION_KEY", "qwen_auth_url", "setup_device_login_routes"]

PREFIX = "/v0/management"
QWEN_SESSION_KEY = "qwen"
# The legacy's get-auth-status words for the two ways this login can end badly.
AUTH_FAILED = "Authentication failed"
SAVE_FAILED = "Failed to save authentication tokens"


async def qwen_auth_url(request: web.Request) -> web.StreamResponse:
    app = request.app
    ctx = login_context(app)
    state = timestamped_state("gem")
    try:
        login = QwenDeviceLogin(ctx.client(), endpoints_for("qwen", app[CONFIG_STORE].current))
        authorization = await login.start()
    except (DeviceFlowError, EndpointConfigError) as exc:
        log.error("qwen device authorization failed", error=str(exc))
        return json_response(500, {"error": "failed to generate authorization url"})
    sessions = sessions_for(app)
    sessions.register(state, QWEN_SESSION_KEY)
    ctx.spawn(_finish_qwen_login(app, ctx, login, authorization, sessions, state))
    return json_response(200, gin_h(status="ok", url=authorization.verification_uri_complete, state=state))


async def _finish_qwen_login(app: web.Application, ctx: LoginContext, login: QwenDeviceLogin,
                             authorization: DeviceAuthorization, sessions: LoginSessions, state: str) -> None:
    try:
        token = await login.wait(authorization)
    except DeviceFlowError as exc:
        log.warning("qwen login over HTTP failed", reason=exc.reason, error=str(exc))
        sessions.set_error(state, AUTH_FAILED)
        return
    label = str(int(time.time() * 1000))
    try:
        store = await ctx.token_store(app)
        saved = await store.save(qwen_credential(token, label))
    except Exception as exc:  # any store failure ends in the legacy's message, never in a crash
        log.error("qwen login could not be saved", error=type(exc).__name__, detail=str(exc)[:200])
        sessions.set_error(state, SAVE_FAILED)
        return
    log.info("qwen login over HTTP saved", file=saved.file_name)
    sessions.complete(state)


def setup_device_login_routes(registry: NativeRegistry) -> None:
    """Register the device-flow login routes behind the management access check."""
    registry.add("GET", f"{PREFIX}/qwen-auth-url", guarded(qwen_auth_url))
