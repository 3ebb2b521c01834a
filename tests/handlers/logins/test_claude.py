from __future__ import annotations

import json
import stat
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from handlers.logins.authcode import LoginFailed
from handlers.logins.claude import ClaudeLogin
from handlers.logins.login_cli import run_browser_login
from handlers.logins.sessions import CallbackResult
from tests.handlers.logins.browser_env import browser_env

CLAUDE_FIELDS = {"id_token", "access_token", "refresh_token", "last_refresh", "email", "type", "expired"}


async def test_whole_login_writes_the_legacy_file(tmp_path: Path) -> None:
    async with browser_env(tmp_path) as env:
        cred = await run_browser_login(ClaudeLogin, env.http, env.endpoints("claude"), env.store, env.io(), port=0,
                                       wait_seconds=10)
        await env.settle()
        assert cred.file_name == "claude-user@example.com.json"
        path = env.auth_dir / cred.file_name
        data = json.loads(path.read_bytes())
        assert set(data) == CLAUDE_FIELDS
        assert data["type"] == "claude" and data["email"] == "user@example.com" and data["id_token"] == ""
        assert data["access_token"] in env.fake.issued_tokens
        assert data["refresh_token"] in env.fake.issued_tokens
        expired = datetime.strptime(data["expired"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert 3500 < (expired - datetime.now(UTC)).total_seconds() <= 3600
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        # The exchange was JSON with the PKCE verifier (the fake checks it against the challenge).
        exchange = env.fake.seen("/claude/token")[0]
        assert exchange["headers"]["Content-Type"] == "application/json"
        assert exchange["body"]["grant_type"] == "authorization_code"
        assert len(exchange["body"]["code_verifier"]) == 128
        assert env.visits[0].status == 200
        assert any("saved claude-user@example.com.json" in line for line in env.said)


async def test_authorize_url_parameters(tmp_path: Path) -> None:
    async with browser_env(tmp_path) as env:
        login = ClaudeLogin(env.http, env.endpoints("claude"), port=54545)
        query = parse_qs(urlsplit(login.authorize_url()).query)
        assert {k: v[0] for k, v in query.items() if k not in ("state", "code_challenge")} == {
            "code": "true",
            "client_id": "9d1c250a-e61b-44d9-88ed-5944d1962f5e",
            "response_type": "code",
            "redirect_uri": "http://localhost:54545/callback",
            "scope": "org:create_api_key user:profile user:inference",
            "code_challenge_method": "S256",
        }
        assert len(query["state"][0]) == 32 and len(query["code_challenge"][0]) == 43


async def test_code_with_state_suffix_is_split(tmp_path: Path) -> None:
    async with browser_env(tmp_path) as env:
        login = ClaudeLogin(env.http, env.endpoints("claude"), port=54545)
        async with env.http.get(login.authorize_url(), allow_redirects=False) as resp:
            code = parse_qs(urlsplit(resp.headers["Location"]).query)["code"][0]
        cred = await login.finish(CallbackResult(code=f"{code}#{login.state}", state=login.state))
        assert cred.metadata["email"] == "user@example.com"


@pytest.mark.parametrize(("callback", "message"), [
    (CallbackResult(code="", state="S", error="access_denied"), "Bad request"),
    (CallbackResult(code="c", state="other"), "State code error"),
    (CallbackResult(code="", state="S"), "Authentication failed: code not found"),
])
async def test_finish_refusals(tmp_path: Path, callback: CallbackResult, message: str) -> None:
    async with browser_env(tmp_path) as env:
        login = ClaudeLogin(env.http, env.endpoints("claude"), port=54545)
        login.state = "S"
        with pytest.raises(LoginFailed) as info:
            await login.finish(callback)
        assert info.value.message == message
        assert env.fake.seen("/claude/token") == []
