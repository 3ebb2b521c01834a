"""One call to a provider's device, token or refresh endpoint, answered as status plus parsed JSON.

Shared by the device logins and the refreshers. Error messages name the endpoint's host, the
status and the OAuth ``error`` code, never the request or response body: bodies carry tokens.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import aiohttp

# A login or refresh call that takes longer than this is treated as unreachable.
DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=30)

# What Go's http.Client sends when a call sets none of its own (the legacy's token, device and
# lookup calls mostly set none): its agent and gzip, and no Accept. Calls with their own agent
# (iFlow, Antigravity, Copilot, Kiro, Gemini CLI) still pass it per request.
GO_CLIENT_HEADERS = {"User-Agent": "Go-http-client/1.1", "Accept-Encoding": "gzip"}


def token_call_session() -> aiohttp.ClientSession:
    """The session for login, refresh and account-lookup calls.

    No cookie jar: a cookie one account's token call received must not ride on another's.
    """
    return aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar(), headers=GO_CLIENT_HEADERS,
                                 skip_auto_headers=("Accept",))


class TokenEndpointError(RuntimeError):
    """A token/device/refresh endpoint call that did not give a usable answer.

    ``reason``: ``unreachable`` (connection or timeout), ``bad_response`` (not a JSON object),
    ``http_error`` (non-2xx without an OAuth error code), ``oauth_error`` (an ``error`` field;
    ``oauth_error`` holds it, ``invalid_grant`` meaning the refresh token is dead).
    """

    def __init__(self, reason: str, message: str, *, status: int = 0, oauth_error: str = "") -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status
        self.oauth_error = oauth_error

    @property
    def permanent(self) -> bool:
        """True when retrying cannot help: the grant itself was refused."""
        return self.oauth_error in {"invalid_grant", "invalid_client", "unauthorized_client", "access_denied"}


@dataclass(frozen=True)
class EndpointAnswer:
    status: int
    body: dict[str, Any] | None = field(repr=False)
    # True when the body was not JSON at all (as opposed to JSON that is not an object).
    malformed: bool = False

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def error_code(self) -> str:
        if self.body is None:
            return ""
        value = self.body.get("error")
        return value.strip() if isinstance(value, str) else ""

    @property
    def error_description(self) -> str:
        if self.body is None:
            return ""
        value = self.body.get("error_description")
        return value.strip()[:200] if isinstance(value, str) else ""


def host_of(url: str) -> str:
    return urlsplit(url).netloc or url


async def call_endpoint(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    form: dict[str, str] | None = None,
    json_body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    proxy: str | None = None,
    accept: str | None = "application/json",
) -> EndpointAnswer:
    """Send one request and parse the answer; only transport failures raise here.

    ``accept=None`` sends no ``Accept``, as the Google client library (golang.org/x/oauth2) does
    for the legacy's Google refresh and service-account grants.
    """
    sent_headers = {"Accept": accept} if accept else {}
    if form is not None:
        sent_headers["Content-Type"] = "application/x-www-form-urlencoded"
    if json_body is not None:
        sent_headers["Content-Type"] = "application/json"
    sent_headers.update(headers or {})
    data: Any = None
    if form is not None:
        # Go's url.Values.Encode, which writes every legacy form body, orders the fields by name.
        data = aiohttp.FormData(sorted(form.items()))
    elif json_body is not None:
        data = json.dumps(json_body, separators=(",", ":")).encode()
    try:
        async with session.request(method, url, data=data, headers=sent_headers, params=params,
                                   timeout=DEFAULT_TIMEOUT, proxy=proxy or None) as resp:
            raw = await resp.read()
            status = resp.status
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        # ValueError: a proxy URL aiohttp cannot use (socks5://...). Only the type is reported:
        # proxy URLs may carry a password.
        raise TokenEndpointError("unreachable", f"{host_of(url)} unreachable: {type(exc).__name__}") from None
    try:
        parsed = json.loads(raw.decode("utf-8")) if raw.strip() else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        return EndpointAnswer(status, None, malformed=True)
    return EndpointAnswer(status, parsed if isinstance(parsed, dict) else None,
                          malformed=not isinstance(parsed, dict))


def require_token_json(answer: EndpointAnswer, url: str, what: str) -> dict[str, Any]:
    """The JSON object of a successful answer, or the error that explains why there is none."""
    host = host_of(url)
    code = answer.error_code
    if code:
        detail = f"{code}: {answer.error_description}" if answer.error_description else code
        raise TokenEndpointError("oauth_error", f"{what} refused by {host} ({detail})",
                                 status=answer.status, oauth_error=code)
    if not answer.ok:
        raise TokenEndpointError("http_error", f"{what} failed: {host} answered HTTP {answer.status}",
                                 status=answer.status)
    if answer.body is None:
        raise TokenEndpointError("bad_response", f"{what} failed: {host} answered malformed JSON",
                                 status=answer.status)
    return answer.body


def rfc3339(moment: datetime) -> str:
    """Go's ``time.RFC3339`` for a UTC instant (second precision, ``Z``), the legacy's expiry format."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def expiry_after(now: datetime, seconds: float) -> str:
    return rfc3339(now + timedelta(seconds=seconds))
