"""iFlow logins: authorization code (client secret over HTTP Basic), and browser cookie -> API key.

Both end with an iFlow API key, which is what inference uses. Files carry every field of the
legacy's ``IFlowTokenStorage``: ``access_token``, ``refresh_token``, ``last_refresh``,
``expired``, ``api_key``, ``email``, ``token_type``, ``scope``, ``cookie``, ``type`` ("iflow").
OAuth logins are named ``iflow-<email>.json`` (management) or ``iflow-<email>-<unix>.json`` (CLI);
cookie logins ``iflow-<sanitised name>-<unix>.json``.
"""

from __future__ import annotations

import base64
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import aiohttp

from handlers.auth.credential import Credential, new_credential
from handlers.auth.stores import TokenStore

from .authcode import AuthCodeLogin, LoginFailed, go_rfc3339, with_query
from .device_http import EndpointAnswer, TokenEndpointError, call_endpoint
from .endpoints import IFlowEndpoints
from .security import timestamped_state
from .sessions import CallbackResult

__all__ = [
    "CookieLoginError",
    "IFlowLogin",
    "cookie_login",
    "extract_bxauth",
    "find_duplicate_bxauth",
    "iflow_cookie_file_name",
    "normalize_cookie",
]

_BROWSER_HEADERS = {
    "Accept": "application/json, text/plain, */*",
    "User-Agent": ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                   "Chrome/91.0.4472.124 Safari/537.36"),
    "Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8",
    # The legacy's browser imitation asks for these three; aiohttp decodes each (brotli is a
    # dependency).
    "Accept-Encoding": "gzip, deflate, br",
    "Connection": "keep-alive",
}
_NAME_CHARS = re.compile(r"[^A-Za-z0-9_@.\-]")


def _str(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _as_int(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def _storage(**values: Any) -> dict[str, Any]:
    """All ten ``IFlowTokenStorage`` fields (the legacy writes every one, empty or not)."""
    fields = dict.fromkeys(("access_token", "refresh_token", "last_refresh", "expired", "api_key", "email",
                            "token_type", "scope", "cookie"), "")
    fields.update(values)
    fields["type"] = "iflow"
    return fields


@dataclass
class IFlowLogin(AuthCodeLogin):
    provider: ClassVar[str] = "iflow"
    session_key: ClassVar[str] = "iflow"
    callback_route: ClassVar[str] = "/iflow/callback"
    # The legacy's management flow reports every failure, timeouts included, with this one text.
    timeout_message: ClassVar[str] = "Authentication failed"

    def new_state(self) -> str:
        return timestamped_state("ifl") if self.via_management else super().new_state()

    @property
    def title(self) -> str:
        return "iFlow"

    def authorize_url(self) -> str:
        ep = self.endpoints
        # iFlow's own parameter names: ``redirect`` (not redirect_uri), no response_type or scope.
        return with_query(ep.authorize_url, {
            "loginMethod": "phone",
            "type": "phone",
            "redirect": self.redirect_uri,
            "state": self.state,
            "client_id": ep.client_id,
        })

    async def finish(self, callback: CallbackResult) -> Credential:
        failed = "Authentication failed"
        if callback.error:
            raise LoginFailed(failed, f"provider returned error {callback.error[:100]!r}")
        if callback.state != self.state:
            raise LoginFailed(failed, "callback state does not match")
        if not callback.code:
            raise LoginFailed(failed, "callback carries no code")
        ep = self.endpoints
        basic = base64.b64encode(f"{ep.client_id}:{ep.client_secret}".encode()).decode("ascii")
        try:
            # iFlow wants the client credentials twice: Basic auth and the form.
            answer = await self.post_code_with_secret(callback.code, headers={"Authorization": f"Basic {basic}"})
        except TokenEndpointError as exc:
            raise LoginFailed(failed, str(exc)) from None
        token = answer.body if answer.status == 200 else None
        access_token = _str(token.get("access_token")) if token else ""
        if token is None or not access_token:
            raise LoginFailed(failed, self.describe(answer, ep.token_url))
        api_key, email = await self._user_info(access_token)
        now = datetime.now(UTC)
        if self.via_management:
            name = f"iflow-{email}.json"
        else:
            name = f"iflow-{email}-{int(now.timestamp())}.json"
        return new_credential(name, _storage(
            access_token=access_token,
            refresh_token=_str(token.get("refresh_token")),
            last_refresh=go_rfc3339(now),
            expired=go_rfc3339(now + timedelta(seconds=_as_int(token.get("expires_in")))),
            api_key=api_key,
            email=email,
            token_type=_str(token.get("token_type")),
            scope=_str(token.get("scope")),
        ))

    async def _user_info(self, access_token: str) -> tuple[str, str]:
        url = self.endpoints.userinfo_url
        try:
            answer = await self.call("GET", url, params={"accessToken": access_token})
        except TokenEndpointError as exc:
            raise LoginFailed("Authentication failed", str(exc)) from None
        body = answer.body if answer.status == 200 else None
        data = body.get("data") if body and body.get("success") is True else None
        if not isinstance(data, dict):
            raise LoginFailed("Authentication failed", f"user info: {self.describe(answer, url)}")
        api_key = _str(data.get("apiKey"))
        if not api_key:
            raise LoginFailed("Authentication failed", "user info holds no API key")
        email = _str(data.get("email")) or _str(data.get("phone"))
        if not email:
            raise LoginFailed("Authentication failed", "user info holds no email or phone")
        return api_key, email


# -- cookie login ---------------------------------------------------------------------------------


class CookieLoginError(Exception):
    """A cookie login that failed; ``status`` and ``message`` are the management API's answer."""

    def __init__(self, status: int, message: str, existing_file: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.existing_file = existing_file


def normalize_cookie(raw: str) -> str:
    """Whitespace collapsed, ``;``-terminated, and required to hold ``BXAuth=``; ValueError else."""
    trimmed = raw.strip()
    if not trimmed:
        raise ValueError("cookie cannot be empty")
    combined = " ".join(trimmed.split())
    if not combined.endswith(";"):
        combined += ";"
    if "BXAuth=" not in combined:
        raise ValueError("cookie missing BXAuth field")
    return combined


def extract_bxauth(cookie: str) -> str:
    for part in cookie.split(";"):
        part = part.strip()
        if part.startswith("BXAuth="):
            return part[len("BXAuth="):]
    return ""


def iflow_cookie_file_name(name: str, now: float | None = None) -> str:
    moment = time.time() if now is None else now
    clean = _NAME_CHARS.sub("", name.replace("*", "x")).strip()
    stem = f"iflow-{clean}" if clean else f"iflow-{int(moment * 1000)}"
    return f"{stem}-{int(moment)}.json"


async def find_duplicate_bxauth(store: TokenStore, bxauth: str) -> str:
    """The name of an ``iflow-*.json`` credential already holding ``bxauth``, or ""."""
    if not bxauth:
        return ""
    loaded = await store.load_all()
    for name, credential in sorted(loaded.credentials.items()):
        if not name.startswith("iflow-"):
            continue
        if extract_bxauth(_str(credential.metadata.get("cookie"))) == bxauth:
            return name
    return ""


async def _api_key_call(http: aiohttp.ClientSession, method: str, url: str, cookie: str, prefix: str,
                        proxy: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """One platform API-key call; ValueError texts are the legacy's (``<prefix>: <METHOD> request
    failed with status N``, ``<prefix>: decode <METHOD> response failed`` ...) without the
    response body or Go's JSON error detail they end with there."""
    what = f"{prefix}: {method}"
    headers = dict(_BROWSER_HEADERS)
    headers["Cookie"] = cookie
    if body is not None:
        headers["Origin"] = "https://platform.iflow.cn"
        headers["Referer"] = "https://platform.iflow.cn/"
    else:
        headers.update({"Sec-Fetch-Dest": "empty", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Site": "same-origin"})
    try:
        answer: EndpointAnswer = await call_endpoint(http, method, url, headers=headers, json_body=body,
                                                     proxy=proxy or None)
    except TokenEndpointError as exc:
        raise ValueError(f"{what} request failed: {exc}") from None
    if answer.status != 200:
        raise ValueError(f"{what} request failed with status {answer.status}")
    if answer.body is None:
        raise ValueError(f"{prefix}: decode {method} response failed")
    if answer.body.get("success") is not True:
        raise ValueError(f"{what} request not successful: {_str(answer.body.get('message'))}")
    data = answer.body.get("data")
    return data if isinstance(data, dict) else {}


async def cookie_login(http: aiohttp.ClientSession, endpoints: IFlowEndpoints, store: TokenStore, raw_cookie: str,
                       *, proxy: str = "") -> Credential:
    """Turn a platform.iflow.cn browser cookie into a saved credential; CookieLoginError on failure."""
    try:
        cookie = normalize_cookie(raw_cookie)
    except ValueError as exc:
        raise CookieLoginError(400, str(exc)) from None
    bxauth = extract_bxauth(cookie)
    try:
        existing = await find_duplicate_bxauth(store, bxauth)
    except Exception as exc:  # any store failure: the legacy answers this one text
        raise CookieLoginError(500, "failed to check duplicate") from exc
    if existing:
        raise CookieLoginError(409, "duplicate BXAuth found", existing_file=existing)
    url = endpoints.cookie_api_key_url
    try:
        info = await _api_key_call(http, "GET", url, cookie, "iflow cookie", proxy)
    except ValueError as exc:
        raise CookieLoginError(400, f"iflow cookie authentication: fetch initial API key info failed: {exc}") from None
    name = _str(info.get("name"))
    if not name:
        raise CookieLoginError(400, "iflow cookie authentication: refresh API key failed: "
                                    "iflow cookie refresh: name is empty")
    try:
        key = await _api_key_call(http, "POST", url, cookie, "iflow cookie refresh", proxy, {"name": name})
    except ValueError as exc:
        raise CookieLoginError(400, f"iflow cookie authentication: refresh API key failed: {exc}") from None
    email = _str(key.get("name"))
    if not email:
        raise CookieLoginError(400, "failed to extract email from token")
    credential = new_credential(iflow_cookie_file_name(email), _storage(
        api_key=_str(key.get("apiKey")),
        email=email,
        expired=_str(key.get("expireTime")),
        cookie=f"BXAuth={bxauth};" if bxauth else "",
        last_refresh=go_rfc3339(datetime.now(UTC)),
    ))
    try:
        return await store.save(credential)
    except Exception as exc:  # nothing was written: the store writes atomically or not at all
        raise CookieLoginError(500, "failed to save authentication tokens") from exc
