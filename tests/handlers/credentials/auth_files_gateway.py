"""The gateway the auth-file, api-call and usage management tests talk to: three credential files
(Claude, a two-project Gemini CLI file, Codex with an id_token) in an auth-dir, every route native."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import aiohttp

from tests.conftest import SECRET, auth

CLAUDE = {"type": "claude", "email": "ann@example.com", "access_token": "at-ann", "refresh_token": "rt",
          "expired": "2099-01-01T00:00:00Z", "last_refresh": "2026-01-20T10:00:00Z"}
GEMINI = {"type": "gemini", "email": "bob@example.com", "project_id": "p1,p2",
          "token": {"access_token": "at-bob", "refresh_token": "rt", "expiry": "2099-01-01T00:00:00Z"}}


def jwt(claims: dict[str, Any]) -> str:
    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")
    return f"{part({'alg': 'none'})}.{part(claims)}.sig"


CODEX = {"type": "codex", "email": "cy@example.com", "access_token": "at-cy", "refresh_token": "rt",
         "expired": "2099-01-01T00:00:00Z",
         "id_token": jwt({"https://api.openai.com/auth": {"chatgpt_account_id": "acct-1",
                                                          "chatgpt_plan_type": "plus"}})}


class Gateway:
    def __init__(self, url: str, auths: Path) -> None:
        self.url, self.auths = url, auths
        self.app: Any = None  # the aiohttp app, for tests that look at its state
        self.session = aiohttp.ClientSession()

    async def call(self, method: str, path: str, headers: dict[str, str] | None = None,
                   **kwargs: Any) -> tuple[int, dict[str, str], bytes]:
        async with self.session.request(method, self.url + "/v0/management/" + path,
                                        headers={**auth(SECRET), **(headers or {})}, **kwargs) as resp:
            return resp.status, dict(resp.headers), await resp.read()

    async def files(self) -> list[dict[str, Any]]:
        status, _, body = await self.call("GET", "auth-files")
        assert status == 200
        return json.loads(body)["files"]
