"""What every authorization-code login shares: the flow interface, its failure type, small helpers.

A login object is built per attempt (it owns the ``state`` and any PKCE verifier), gives the URL
to open, and turns the provider's callback into a :class:`Credential` ready to save::

    login = ClaudeLogin(http, endpoints_for("claude", cfg), port=54545)
    login.authorize_url()            # open this
    credential = await login.finish(callback)   # LoginFailed(message) on any failure

``LoginFailed.message`` is the text the legacy puts into the session for ``get-auth-status``
("State code error", "Failed to exchange token", ...); ``detail`` adds what went wrong for logs and
the terminal. Neither ever holds a token, code or secret.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urlencode

import aiohttp

from handlers.auth.credential import Credential

from .device_http import EndpointAnswer, TokenEndpointError, call_endpoint, host_of
from .endpoints import ProviderEndpoints
from .security import hex_state
from .sessions import CallbackResult

__all__ = [
    "AuthCodeLogin",
    "LoginFailed",
    "go_rfc3339",
    "go_rfc3339_nano",
    "with_query",
]


class LoginFailed(Exception):
    """A login that cannot finish; ``message`` is the legacy's session error text."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(f"{message}: {detail}" if detail else message)
        self.message = message
        self.detail = detail


def go_rfc3339(moment: datetime) -> str:
    """Go's ``time.RFC3339`` of a UTC instant: second precision, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def go_rfc3339_nano(moment: datetime) -> str:
    """Go's JSON time (``RFC3339Nano``, trailing zeros dropped) of a UTC instant."""
    text = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}".rstrip("0")
    return text + "Z"


def with_query(url: str, params: Mapping[str, str]) -> str:
    """``url`` plus ``params`` sorted by key, as Go's ``url.Values.Encode`` writes them."""
    query = urlencode(sorted(params.items()))
    return f"{url}{'&' if '?' in url else '?'}{query}"


@dataclass
class AuthCodeLogin(abc.ABC):
    """One attempt of a browser login against one provider's endpoints."""

    http: aiohttp.ClientSession
    endpoints: ProviderEndpoints
    # Port written into the redirect URI; the provider's registered one unless a test changes it.
    port: int = 0
    # Logins started over the management API name some files differently from CLI logins.
    via_management: bool = False
    # config.yaml ``proxy-url``; every provider call goes through it when set.
    proxy: str = ""
    state: str = field(default="", init=False)

    # Endpoint-table name, session key (the legacy's ``NormalizeOAuthProvider``), and the legacy's
    # main-server callback route for this provider.
    provider: ClassVar[str]
    session_key: ClassVar[str]
    callback_route: ClassVar[str]
    # Session texts for the failures every flow has.
    timeout_message: ClassVar[str] = "Timeout waiting for OAuth callback"
    save_failed_message: ClassVar[str] = "Failed to save authentication tokens"

    def __post_init__(self) -> None:
        if not self.port:
            self.port = self.endpoints.callback_port
        self.state = self.new_state()

    def new_state(self) -> str:
        return hex_state()

    @property
    def redirect_uri(self) -> str:
        return f"http://localhost:{self.port}{self.endpoints.callback_path}"

    @property
    def title(self) -> str:
        """Provider name for terminal messages."""
        return self.provider

    @abc.abstractmethod
    def authorize_url(self) -> str:
        """The URL the user opens to consent."""

    @abc.abstractmethod
    async def finish(self, callback: CallbackResult) -> Credential:
        """Exchange the callback's code and build the credential; raises :class:`LoginFailed`."""

    # -- helpers for subclasses ----------------------------------------------------------------

    async def call(self, method: str, url: str, **kwargs: Any) -> EndpointAnswer:
        """One provider call; transport failures come back as ``TokenEndpointError``."""
        return await call_endpoint(self.http, method, url, proxy=self.proxy or None, **kwargs)

    async def post_code_with_secret(self, code: str, *, headers: dict[str, str] | None = None) -> EndpointAnswer:
        """Swap ``code`` at the token endpoint as a form carrying the client secret (RFC 6749
        §4.1.3 with ``client_secret_post``), the request Google and iFlow share."""
        ep = self.endpoints
        return await self.call("POST", ep.token_url, headers=headers, form={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "client_id": ep.client_id,
            "client_secret": ep.client_secret,
        })

    @staticmethod
    def describe(answer: EndpointAnswer | TokenEndpointError, url: str) -> str:
        """A log-safe description of a failed call (no bodies: they may carry tokens)."""
        if isinstance(answer, TokenEndpointError):
            return str(answer)
        if answer.malformed:
            return f"{host_of(url)} answered HTTP {answer.status} with malformed JSON"
        return f"{host_of(url)} answered HTTP {answer.status}"
