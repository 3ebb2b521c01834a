"""One refresh per provider: call its token endpoint, return the credential-file keys to change.

Each refresher takes the credential as stored and answers a dict of metadata updates (``None``
removes a key); every other key of the file is kept by ``Credential.with_metadata``. An empty dict
means "fresh, nothing to write" — GitHub Copilot and Vertex keep their short-lived tokens in
memory only, so refreshing them re-buys the token and never rewrites the file.

Facts (endpoints, bodies, updated fields, lead times): reference cliproxyapi-providers.md §§1-9 and
§11, the executors' ``Refresh`` methods at 9b72ea9ef, and CLIProxyAPIPlus for Copilot and Kiro.
Failures raise :class:`TokenEndpointError`; ``permanent`` ones (``invalid_grant``: the refresh
token is dead) mean only a new login can help.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import aiohttp
import structlog

from handlers.auth.credential import Credential, configured_proxy
from handlers.logins.device_copilot import CopilotTokenCache
from handlers.logins.device_http import (
    TokenEndpointError,
    call_endpoint,
    expiry_after,
    require_token_json,
    rfc3339,
)
from handlers.logins.device_poll import as_int, as_str
from handlers.logins.device_qwen import refresh_qwen
from handlers.logins.endpoints import IFlowEndpoints, ProviderEndpoints, endpoints_for
from handlers.logins.google import antigravity_project
from handlers.logins.kiro import refresh_kiro
from handlers.logins.vertex_import import VertexTokenMinter

HOUR = 3600.0

# How long before expiry the background loop refreshes (sdk/auth/*.go RefreshLead). None: the
# loop leaves the provider alone (Gemini CLI refreshes lazily on use; Copilot and Vertex tokens
# are bought per use and never persisted).
REFRESH_LEADS: dict[str, float | None] = {
    "claude": 4 * HOUR,
    "codex": 5 * 24 * HOUR,
    "qwen": 3 * HOUR,
    "iflow": 24 * HOUR,
    "antigravity": 5 * 60.0,
    "kiro": 5 * 60.0,
    "gemini-cli": None,
    "github-copilot": None,
    "vertex": None,
}

# How close to expiry a credential may be when a request wants to use it before the request
# refreshes it first: Gemini CLI's oauth2 library keeps a 10 s margin, the Antigravity executor
# refreshes below 50 minutes. Every other provider is refreshed on use only once expired.
ON_USE_SKEW: dict[str, float] = {"gemini-cli": 10.0, "antigravity": 3000.0}

ANTIGRAVITY_USER_AGENT = "antigravity/1.104.0 darwin/arm64"
CODEX_REFRESH_SCOPE = "openid profile email"
IFLOW_COOKIE_REFRESH_WINDOW = timedelta(hours=48)
IFLOW_BROWSER_HEADERS = {
    "User-Agent": ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                   "Chrome/91.0.4472.124 Safari/537.36"),
    "Accept": "application/json, text/plain, */*",
    "Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8",
    # Asked for by the legacy's browser imitation (iflow_auth.go RefreshAPIKey); aiohttp decodes
    # all three (brotli is a dependency).
    "Accept-Encoding": "gzip, deflate, br",
    "Connection": "keep-alive",
    "Origin": "https://platform.iflow.cn",
    "Referer": "https://platform.iflow.cn/",
}

log = structlog.get_logger("handlers.logins.refresh_providers")


@dataclass
class RefreshContext:
    """What a refresher may use: one HTTP session, the endpoint table, the in-memory token caches."""

    session: aiohttp.ClientSession
    endpoints: Callable[[str], ProviderEndpoints]
    copilot: CopilotTokenCache | None = None
    vertex: VertexTokenMinter | None = None
    # config.yaml's global proxy-url, for credentials that name none of their own.
    default_proxy: Callable[[], str] = lambda: ""


Refresher = Callable[[RefreshContext, Credential, datetime], Awaitable[dict[str, Any]]]


def refresh_context(session: aiohttp.ClientSession, config: Callable[[], Any]) -> RefreshContext:
    """The context the gateway runs with: endpoints read from the live config on every call
    (``config`` is e.g. ``lambda: config_store.current``), one Copilot cache, one Vertex minter."""

    def endpoints(provider: str) -> ProviderEndpoints:
        return endpoints_for(provider, config())

    return RefreshContext(session, endpoints, copilot=CopilotTokenCache(session, endpoints("github-copilot")),
                          vertex=VertexTokenMinter(session, endpoints("vertex")),
                          default_proxy=lambda: configured_proxy(config()))


def _refresh_token_of(credential: Credential, *nested: str) -> str:
    meta = credential.metadata
    for key in nested:
        inner = meta.get(key)
        if isinstance(inner, dict) and (value := as_str(inner.get("refresh_token"))):
            return value
    value = as_str(meta.get("refresh_token"))
    if not value:
        raise TokenEndpointError("oauth_error", f"{credential.provider} refresh impossible: no refresh_token",
                                 oauth_error="invalid_grant")
    return value


def jwt_claims(token: str) -> dict[str, Any]:
    """A JWT's claims without checking the signature (the legacy reads the id_token this way)."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, UnicodeError):
        return {}
    return claims if isinstance(claims, dict) else {}


async def _refresh_grant(ctx: RefreshContext, ep: ProviderEndpoints, provider: str, credential: Credential, *,
                         headers: dict[str, str] | None = None, accept: str | None = "application/json",
                         **payload: Any) -> dict[str, Any]:
    """POST a refresh grant (``payload`` is ``form=`` or ``json_body=``) to the provider's refresh URL.

    The answer's JSON, which holds an ``access_token``; every fault is a :class:`TokenEndpointError`
    whose text starts with "<provider> token refresh".
    """
    url = ep.refresh_url or ep.token_url
    answer = await call_endpoint(ctx.session, "POST", url, headers=headers, proxy=credential.proxy_url, accept=accept,
                                 **payload)
    body = require_token_json(answer, url, f"{provider} token refresh")
    if not as_str(body.get("access_token")):
        raise TokenEndpointError("bad_response", f"{provider} token refresh failed: no access_token in the answer")
    return body


def _renewed_tokens(body: dict[str, Any], now: datetime, provider: str) -> dict[str, Any]:
    """The keys a refresh rewrites in the legacy's flat files (Claude, Codex, iFlow OAuth).

    A refresh answer without a new refresh token leaves the stored one in place.
    """
    updates: dict[str, Any] = {"access_token": as_str(body.get("access_token")),
                               "expired": expiry_after(now, as_int(body.get("expires_in"))),
                               "type": provider, "last_refresh": rfc3339(now)}
    if new_refresh := as_str(body.get("refresh_token")):
        updates["refresh_token"] = new_refresh
    return updates


async def refresh_claude(ctx: RefreshContext, credential: Credential, now: datetime) -> dict[str, Any]:
    ep = ctx.endpoints("claude")
    body = await _refresh_grant(ctx, ep, "claude", credential, json_body={
        "client_id": ep.client_id,
        "grant_type": "refresh_token",
        "refresh_token": _refresh_token_of(credential),
    })
    updates = _renewed_tokens(body, now, "claude")
    account = body.get("account")
    if isinstance(account, dict) and (email := as_str(account.get("email_address"))):
        updates["email"] = email
    return updates


async def refresh_codex(ctx: RefreshContext, credential: Credential, now: datetime) -> dict[str, Any]:
    ep = ctx.endpoints("codex")
    body = await _refresh_grant(ctx, ep, "codex", credential, form={
        "client_id": ep.client_id,
        "grant_type": "refresh_token",
        "refresh_token": _refresh_token_of(credential),
        "scope": CODEX_REFRESH_SCOPE,
    })
    updates = _renewed_tokens(body, now, "codex")
    if id_token := as_str(body.get("id_token")):
        updates["id_token"] = id_token
        claims = jwt_claims(id_token)
        if email := as_str(claims.get("email")):
            updates["email"] = email
        auth_info = claims.get("https://api.openai.com/auth")
        if isinstance(auth_info, dict) and (account_id := as_str(auth_info.get("chatgpt_account_id"))):
            updates["account_id"] = account_id
    return updates


async def _google_refresh(ctx: RefreshContext, ep: ProviderEndpoints, provider: str, credential: Credential,
                          client_id: str, client_secret: str, refresh_token: str,
                          headers: dict[str, str] | None = None) -> dict[str, Any]:
    # Neither golang.org/x/oauth2 (Gemini CLI) nor antigravity_executor.go's refreshToken sets an Accept.
    return await _refresh_grant(ctx, ep, provider, credential, headers=headers, accept=None, form={
        "client_id": client_id,
        "client_secret": client_secret,
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
    })


async def refresh_gemini_cli(ctx: RefreshContext, credential: Credential, now: datetime) -> dict[str, Any]:
    """Google refresh for a Gemini CLI file: top-level fields plus the merged nested ``token``."""
    ep = ctx.endpoints("gemini-cli")
    nested = credential.metadata.get("token")
    token_obj: dict[str, Any] = dict(nested) if isinstance(nested, dict) else {}
    refresh_token = _refresh_token_of(credential, "token")
    body = await _google_refresh(ctx, ep, "gemini-cli", credential,
                                 as_str(token_obj.get("client_id")) or ep.client_id,
                                 as_str(token_obj.get("client_secret")) or ep.client_secret, refresh_token)
    fields: dict[str, Any] = {
        "access_token": as_str(body.get("access_token")),
        "token_type": as_str(body.get("token_type")) or "Bearer",
        "refresh_token": as_str(body.get("refresh_token")) or refresh_token,
        "expiry": expiry_after(now, as_int(body.get("expires_in"))),
    }
    token_obj.update(fields)
    return {**fields, "token": token_obj}


async def refresh_antigravity(ctx: RefreshContext, credential: Credential, now: datetime) -> dict[str, Any]:
    ep = ctx.endpoints("antigravity")
    body = await _google_refresh(ctx, ep, "antigravity", credential, ep.client_id, ep.client_secret,
                                 _refresh_token_of(credential), headers={"User-Agent": ANTIGRAVITY_USER_AGENT})
    expires_in = as_int(body.get("expires_in"))
    updates: dict[str, Any] = {
        "access_token": as_str(body.get("access_token")),
        "expires_in": expires_in,
        "timestamp": int(now.timestamp() * 1000),
        "expired": expiry_after(now, expires_in),
        "type": "antigravity",
    }
    if new_refresh := as_str(body.get("refresh_token")):
        updates["refresh_token"] = new_refresh
    if credential.metadata.get("project_id") is None:
        # ensureAntigravityProjectID (antigravity_executor.go:1121-1165): a file without a project
        # (its login could not find one) gets it looked up with the new token; without it every
        # request went up with a made-up project.
        project = await _antigravity_project(ctx, ep, credential, updates["access_token"])
        if project:
            updates["project_id"] = project
    return updates


async def _antigravity_project(ctx: RefreshContext, ep: ProviderEndpoints, credential: Credential,
                               access_token: str) -> str:
    async def json_call(method: str, url: str, token: str, headers: dict[str, str],
                        body: dict[str, Any] | None) -> dict[str, Any]:
        # fetchAntigravityProjectID sets no Accept either.
        answer = await call_endpoint(ctx.session, method, url, headers={**headers, "Authorization": f"Bearer {token}"},
                                     proxy=credential.proxy_url, json_body=body, accept=None)
        if not answer.ok or answer.body is None:
            raise TokenEndpointError("bad_response", f"antigravity project lookup failed: status {answer.status}")
        return answer.body

    try:
        return await antigravity_project(json_call, getattr(ep, "code_assist_url", ""), access_token)
    except Exception as exc:  # the refresh itself succeeded; the legacy logs the lookup and goes on
        log.warning("antigravity.project_lookup_failed", file=credential.file_name, error=type(exc).__name__)
        return ""


def _iflow_endpoints(ctx: RefreshContext) -> IFlowEndpoints:
    ep = ctx.endpoints("iflow")
    if not isinstance(ep, IFlowEndpoints):
        raise TypeError("iflow refresh needs the iflow endpoint table entry")
    return ep


def _iflow_cookie_expiry(value: str) -> datetime | None:
    try:
        return datetime.strptime(value.strip(), "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
    except ValueError:
        return None


async def refresh_iflow(ctx: RefreshContext, credential: Credential, now: datetime) -> dict[str, Any]:
    """Cookie logins regenerate the API key (only inside 48 h of its expiry); OAuth logins refresh."""
    ep = _iflow_endpoints(ctx)
    meta = credential.metadata
    cookie, email = as_str(meta.get("cookie")), as_str(meta.get("email"))
    if cookie and email:
        expiry = _iflow_cookie_expiry(as_str(meta.get("expired")))
        # An unreadable expiry refreshes anyway, as the legacy does after its warning.
        if expiry is not None and expiry >= now + IFLOW_COOKIE_REFRESH_WINDOW:
            return {}
        url = ep.cookie_api_key_url
        answer = await call_endpoint(ctx.session, "POST", url, json_body={"name": email},
                                     headers={**IFLOW_BROWSER_HEADERS, "Cookie": cookie}, proxy=credential.proxy_url)
        answered = require_token_json(answer, url, "iflow api key refresh")
        if answered.get("success") is not True:
            # RefreshAPIKey refuses an answer without success:true whatever its data holds.
            raise TokenEndpointError("bad_response", "iflow api key refresh failed: request not successful")
        data = answered.get("data")
        api_key = as_str(data.get("apiKey")) if isinstance(data, dict) else ""
        if not api_key or not isinstance(data, dict):
            raise TokenEndpointError("bad_response", "iflow api key refresh failed: no apiKey in the answer")
        return {"api_key": api_key, "expired": as_str(data.get("expireTime")), "type": "iflow",
                "last_refresh": rfc3339(now), "cookie": cookie, "email": email}
    refresh_token = _refresh_token_of(credential)
    basic = base64.b64encode(f"{ep.client_id}:{ep.client_secret}".encode()).decode()
    body = await _refresh_grant(ctx, ep, "iflow", credential, form={
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": ep.client_id,
        "client_secret": ep.client_secret,
    }, headers={"Authorization": f"Basic {basic}"})
    access = as_str(body.get("access_token"))
    info_url = f"{ep.userinfo_url}?accessToken={quote(access, safe='')}"
    info = require_token_json(await call_endpoint(ctx.session, "GET", info_url, proxy=credential.proxy_url),
                              ep.userinfo_url, "iflow user info")
    # The refresh runs the login's checks (iflow_auth.go doTokenRequest/FetchUserInfo): an answer
    # without success:true, an API key, or an email or phone fails it and the file keeps its key.
    if info.get("success") is not True:
        raise TokenEndpointError("bad_response", "iflow token refresh failed: user info request not successful")
    data = info.get("data")
    api_key = as_str(data.get("apiKey")) if isinstance(data, dict) else ""
    if not api_key:
        raise TokenEndpointError("bad_response", "iflow token refresh failed: empty api key returned")
    if not (as_str(data.get("email")) or as_str(data.get("phone"))):
        raise TokenEndpointError("bad_response", "iflow token refresh failed: missing account email/phone in user info")
    # ``with_metadata`` appends keys new to the file in this order: api_key stays second.
    return {"access_token": access, "api_key": api_key} | _renewed_tokens(body, now, "iflow")


async def refresh_qwen_provider(ctx: RefreshContext, credential: Credential, now: datetime) -> dict[str, Any]:
    return await refresh_qwen(ctx.session, ctx.endpoints("qwen"), credential, now)


async def refresh_kiro_provider(ctx: RefreshContext, credential: Credential, now: datetime) -> dict[str, Any]:
    return await refresh_kiro(ctx.session, ctx.endpoints("kiro"), credential, now)


async def refresh_copilot(ctx: RefreshContext, credential: Credential, now: datetime) -> dict[str, Any]:
    """Re-buy the Copilot API token; the GitHub token in the file does not change."""
    if ctx.copilot is None:
        raise TokenEndpointError("unreachable", "copilot token cache not configured")
    await ctx.copilot.get(credential, force=True)
    return {}


async def refresh_vertex(ctx: RefreshContext, credential: Credential, now: datetime) -> dict[str, Any]:
    """Sign a new JWT and mint a new access token; the file does not change."""
    if ctx.vertex is None:
        raise TokenEndpointError("unreachable", "vertex token minter not configured")
    await ctx.vertex.get(credential, force=True)
    return {}


REFRESHERS: dict[str, Refresher] = {
    "claude": refresh_claude,
    "codex": refresh_codex,
    "gemini-cli": refresh_gemini_cli,
    "antigravity": refresh_antigravity,
    "iflow": refresh_iflow,
    "qwen": refresh_qwen_provider,
    "kiro": refresh_kiro_provider,
    "github-copilot": refresh_copilot,
    "vertex": refresh_vertex,
}
