"""Claude (Anthropic) login: authorization code with PKCE S256, token exchange as a JSON body.

Writes ``claude-<email>.json`` with ``id_token``, ``access_token``, ``refresh_token``,
``last_refresh``, ``email``, ``type`` ("claude") and ``expired``, the fields of the legacy's
``ClaudeTokenStorage``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar

from handlers.auth.credential import Credential, new_credential

from .authcode import LoginFailed, go_rfc3339
from .pkce_code import PkceCodeLogin, expiry_stamp, text_of
from .sessions import CallbackResult

__all__ = ["ClaudeLogin", "claude_file_name"]


def claude_file_name(email: str) -> str:
    return f"claude-{email}.json"


@dataclass
class ClaudeLogin(PkceCodeLogin):
    provider: ClassVar[str] = "claude"
    session_key: ClassVar[str] = "anthropic"
    callback_route: ClassVar[str] = "/anthropic/callback"

    @property
    def title(self) -> str:
        return "Claude"

    def authorize_url(self) -> str:
        return self.pkce_authorize_url({"code": "true"})

    async def finish(self, callback: CallbackResult) -> Credential:
        self.check_callback(callback, "Bad request")
        # Claude's copy-paste page shows ``code#state``; only the part before ``#`` is the code.
        code = callback.code.split("#", 1)[0]
        if not code:
            raise LoginFailed("Authentication failed: code not found")
        ep = self.endpoints
        body = await self.exchange_code("token exchange", json_body={
            "code": code,
            "state": self.state,
            "grant_type": "authorization_code",
            "client_id": ep.client_id,
            "redirect_uri": self.redirect_uri,
            "code_verifier": self.verifier,
        })
        account = body.get("account") if isinstance(body.get("account"), dict) else {}
        email = text_of(account.get("email_address"))
        now = datetime.now(UTC)
        return new_credential(claude_file_name(email), {
            "id_token": "",
            "access_token": body["access_token"],
            "refresh_token": text_of(body.get("refresh_token")),
            "last_refresh": go_rfc3339(now),
            "email": email,
            "type": "claude",
            "expired": expiry_stamp(now, body.get("expires_in")),
        })
