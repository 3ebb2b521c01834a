"""Codex (OpenAI ChatGPT) login: authorization code with PKCE S256, form-encoded token exchange.

The account comes from the ``id_token`` (decoded, signature not checked, as the legacy does).
File name as the legacy's ``codex.CredentialFileName``: ``codex-<email>.json`` without a plan,
``codex-<email>-<Plan>.json`` with one. (The legacy also has a ``codex-<hash>-<email>-team.json``
branch, but it compares the already title-cased plan with ``team``, so it never fires; a Team
account gets ``codex-<email>-Team.json`` there, and here.)
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from handlers.auth.credential import Credential, new_credential

from .authcode import LoginFailed, go_rfc3339
from .pkce_code import PkceCodeLogin, expiry_stamp
from .pkce_code import text_of as _str
from .sessions import CallbackResult

__all__ = ["CodexLogin", "codex_file_name", "id_token_claims"]

_OPENAI_AUTH_CLAIM = "https://api.openai.com/auth"
_NON_ALNUM = re.compile(r"[^\w]+|_+")


def id_token_claims(id_token: str) -> dict[str, Any]:
    """The JWT payload of ``id_token`` (no signature check); {} when it is not a JWT."""
    parts = id_token.split(".")
    if len(parts) != 3:
        return {}
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")))
    except (ValueError, UnicodeError):
        return {}
    return claims if isinstance(claims, dict) else {}


def _plan_suffix(plan: str) -> str:
    # Split on anything that is not a letter or digit, title-case each piece, join with "-".
    pieces = [p for p in _NON_ALNUM.split(plan.strip()) if p]
    return "-".join(p[:1].upper() + p[1:].lower() for p in pieces)


def codex_file_name(email: str, plan: str) -> str:
    suffix = _plan_suffix(plan)
    return f"codex-{email.strip()}-{suffix}.json" if suffix else f"codex-{email.strip()}.json"


@dataclass
class CodexLogin(PkceCodeLogin):
    provider: ClassVar[str] = "codex"
    session_key: ClassVar[str] = "codex"
    callback_route: ClassVar[str] = "/codex/callback"

    @property
    def title(self) -> str:
        return "Codex"

    def authorize_url(self) -> str:
        return self.pkce_authorize_url({
            "prompt": "login",
            "id_token_add_organizations": "true",
            "codex_cli_simplified_flow": "true",
        })

    async def finish(self, callback: CallbackResult) -> Credential:
        self.check_callback(callback, "Bad Request")
        if not callback.code:
            raise LoginFailed("Authentication failed: code not found")
        ep = self.endpoints
        body = await self.exchange_code("Token exchange", form={
            "grant_type": "authorization_code",
            "client_id": ep.client_id,
            "code": callback.code,
            "redirect_uri": self.redirect_uri,
            "code_verifier": self.verifier,
        })
        id_token = _str(body.get("id_token"))
        claims = id_token_claims(id_token)
        auth_info = claims.get(_OPENAI_AUTH_CLAIM) if isinstance(claims.get(_OPENAI_AUTH_CLAIM), dict) else {}
        email = _str(claims.get("email"))
        now = datetime.now(UTC)
        return new_credential(codex_file_name(email, _str(auth_info.get("chatgpt_plan_type"))), {
            "id_token": id_token,
            "access_token": body["access_token"],
            "refresh_token": _str(body.get("refresh_token")),
            "account_id": _str(auth_info.get("chatgpt_account_id")),
            "last_refresh": go_rfc3339(now),
            "email": email,
            "type": "codex",
            "expired": expiry_stamp(now, body.get("expires_in")),
        })
