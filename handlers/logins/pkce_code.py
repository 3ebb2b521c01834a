"""The part of an authorization-code login with PKCE S256 that Claude and Codex share.

Both make a verifier/challenge pair per attempt, send the same standard authorize parameters,
refuse a callback that carries an error or the wrong state, and swap the code at the token
endpoint in one POST whose failures map to the same session texts. Only the provider's extra
authorize parameters, the request encoding (JSON for Claude, a form for Codex), the
capitalisation of two legacy messages and the credential they build differ.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .authcode import AuthCodeLogin, LoginFailed, go_rfc3339, with_query
from .device_http import TokenEndpointError
from .security import pkce_pair
from .sessions import CallbackResult

__all__ = ["PkceCodeLogin", "expiry_stamp", "text_of"]


def text_of(value: Any) -> str:
    return value if isinstance(value, str) else ""


def expiry_stamp(now: datetime, expires_in: Any) -> str:
    """``now`` plus the token's lifetime in whole seconds (0 when it sent none), Go RFC 3339."""
    seconds = int(expires_in) if isinstance(expires_in, (int, float)) and not isinstance(expires_in, bool) else 0
    return go_rfc3339(now + timedelta(seconds=seconds))


@dataclass
class PkceCodeLogin(AuthCodeLogin):
    verifier: str = field(default="", init=False, repr=False)
    challenge: str = field(default="", init=False, repr=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.verifier, self.challenge = pkce_pair()

    def pkce_authorize_url(self, extra: Mapping[str, str]) -> str:
        """The authorize URL: the RFC 6749/7636 parameters both providers send, plus ``extra``.

        ``with_query`` sorts the keys, so where a parameter is listed does not change the URL.
        """
        ep = self.endpoints
        return with_query(ep.authorize_url, {
            "client_id": ep.client_id,
            "response_type": "code",
            "redirect_uri": self.redirect_uri,
            "scope": " ".join(ep.scopes),
            "state": self.state,
            "code_challenge": self.challenge,
            "code_challenge_method": "S256",
            **extra,
        })

    def check_callback(self, callback: CallbackResult, bad_request: str) -> None:
        """Refuse a provider error or a foreign state; ``bad_request`` is the legacy's wording."""
        if callback.error:
            raise LoginFailed(bad_request, f"provider returned error {callback.error[:100]!r}")
        if callback.state != self.state:
            raise LoginFailed("State code error", "callback state does not match")

    async def exchange_code(self, failed_status: str, **payload: Any) -> dict[str, Any]:
        """POST the code to the token endpoint; the answer's JSON, which holds an ``access_token``.

        ``failed_status`` starts the message for a non-200 answer (the legacy words it per provider);
        ``payload`` is the request body as ``json_body=`` or ``form=``.
        """
        url = self.endpoints.token_url
        try:
            answer = await self.call("POST", url, **payload)
        except TokenEndpointError as exc:
            raise LoginFailed("Failed to exchange authorization code for tokens", str(exc)) from None
        if answer.status != 200:
            raise LoginFailed(f"{failed_status} failed with status {answer.status}", self.describe(answer, url))
        body = answer.body
        if body is None or not text_of(body.get("access_token")):
            raise LoginFailed("Failed to parse token response", self.describe(answer, url))
        return body
