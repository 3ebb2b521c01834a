"""Claude (Anthropic) login: authorization code with PKCE S256, token exchange as a JSON body.

Writes ``claude-<email>.json`` with ``id_token``, ``access_token``, ``refresh_token``,
``last_refresh``, ``email``, ``type`` ("claude") and ``expired``, the fields of the legacy's
``ClaudeTokenStorage``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from handlers.auth.credential import Credential, new_credential

from .authcode import AuthCodeLogin, LoginFailed, go_rfc3339, with_query
from .device_http import TokenEndpointError
from .security import pkce_pair
from .sessions import CallbackResult

__all__ = ["ClaudeLogin", "claude_file_name"]


def claude_file_name(email: str) -> str:
    return f"claude-{email}.json"


def _as_int(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


@dataclass
class ClaudeLogin(AuthCodeLogin):
    provider: ClassVar[str] = "claude"
    session_key: ClassVar[str] = "anthropic"
    callback_route: ClassVar[str] = "/anthropic/callback"
    verifier: str = field(default="", init=False, repr=False)
    challenge: str = field(default="", init=False, repr=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.verifier, self.challenge = pkce_pair()

    @property
    def title(self) -> str:
        return "Claude"

    def authorize_url(self) -> str:
        ep = self.endpoints
        return with_query(ep.authorize_url, {
            "code": "true",
            "client_id": ep.client_id,
            "response_type": "code",
            "redirect_uri": self.redirect_uri,
            "scope": " ".join(ep.scopes),
            "code_challenge": self.challenge,
            "code_challenge_method": "S256",
            "state": self.state,
        })

    async def finish(self, callback: CallbackResult) -> Credential:
        if callback.error:
            raise LoginFailed("Bad request", f"provider returned error {callback.error[:100]!r}")
        if callback.state != self.state:
            raise LoginFailed("State code error", "callback state does not match")
        # Claude's copy-paste page shows ``code#state``; only the part before ``#`` is the code.
        code = callback.code.split("#", 1)[0]
        if not code:
            raise LoginFailed("Authentication failed: code not found")
        ep = self.endpoints
        try:
            answer = await self.call("POST", ep.token_url, json_body={
                "code": code,
                "state": self.state,
                "grant_type": "authorization_code",
                "client_id": ep.client_id,
                "redirect_uri": self.redirect_uri,
                "code_verifier": self.verifier,
            })
        except TokenEndpointError as exc:
            raise LoginFailed("Failed to exchange authorization code for tokens", str(exc)) from None
        if answer.status != 200:
            raise LoginFailed(f"token exchange failed with status {answer.status}",
                              self.describe(answer, ep.token_url))
        body = answer.body
        if body is None or not isinstance(body.get("access_token"), str) or not body["access_token"]:
            raise LoginFailed("Failed to parse token response", self.describe(answer, ep.token_url))
        account = body.get("account") if isinstance(body.get("account"), dict) else {}
        email = account.get("email_address") if isinstance(account.get("email_address"), str) else ""
        now = datetime.now(UTC)
        refresh = body.get("refresh_token")
        return new_credential(claude_file_name(email), {
            "id_token": "",
            "access_token": body["access_token"],
            "refresh_token": refresh if isinstance(refresh, str) else "",
            "last_refresh": go_rfc3339(now),
            "email": email,
            "type": "claude",
            "expired": go_rfc3339(now + timedelta(seconds=_as_int(body.get("expires_in")))),
        })
