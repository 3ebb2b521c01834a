from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from handlers.logins.authcode import LoginFailed
from handlers.logins.codex import CodexLogin, codex_file_name, id_token_claims
from handlers.logins.login_cli import run_browser_login
from handlers.logins.sessions import CallbackResult
from tests.fakes.oauth_providers import fake_jwt
from tests.handlers.logins.browser_env import browser_env

CODEX_FIELDS = {"id_token", "access_token", "refresh_token", "account_id", "last_refresh", "email", "type",
                "expired"}


async def test_whole_login_writes_the_legacy_file(tmp_path: Path) -> None:
    async with browser_env(tmp_path) as env:
        cred = await run_browser_login(CodexLogin, env.http, env.endpoints("codex"), env.store, env.io(), port=0,
                                       wait_seconds=10)
        assert cred.file_name == "codex-user@example.com-Plus.json"
        data = json.loads((env.auth_dir / cred.file_name).read_bytes())
        assert set(data) == CODEX_FIELDS
        assert data["type"] == "codex" and data["account_id"] == "acct-123"
        assert id_token_claims(data["id_token"])["email"] == "user@example.com"
        exchange = env.fake.seen("/codex/token")[0]
        assert exchange["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
        assert exchange["body"]["grant_type"] == "authorization_code"


async def test_authorize_url_parameters(tmp_path: Path) -> None:
    async with browser_env(tmp_path) as env:
        url = CodexLogin(env.http, env.endpoints("codex"), port=1455).authorize_url()
        query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        assert query["redirect_uri"] == "http://localhost:1455/auth/callback"
        assert query["scope"] == "openid email profile offline_access"
        assert query["prompt"] == "login"
        assert query["id_token_add_organizations"] == "true"
        assert query["codex_cli_simplified_flow"] == "true"
        assert query["code_challenge_method"] == "S256"


@pytest.mark.parametrize(("plan", "name"), [
    ("", "codex-a@b.c.json"),
    ("plus", "codex-a@b.c-Plus.json"),
    ("team", "codex-a@b.c-Team.json"),
    ("pro_lite", "codex-a@b.c-Pro-Lite.json"),
    ("ENTERPRISE", "codex-a@b.c-Enterprise.json"),
])
def test_file_names(plan: str, name: str) -> None:
    assert codex_file_name("a@b.c", plan) == name


def test_claims_of_a_non_jwt_are_empty() -> None:
    assert id_token_claims("not-a-jwt") == {}
    assert id_token_claims("a.!!!.c") == {}
    assert id_token_claims(fake_jwt({"email": "x@y"}))["email"] == "x@y"


async def test_consent_denied_is_bad_request(tmp_path: Path) -> None:
    async with browser_env(tmp_path) as env:
        login = CodexLogin(env.http, env.endpoints("codex"), port=1455)
        with pytest.raises(LoginFailed) as info:
            await login.finish(CallbackResult(code="", state=login.state, error="access_denied"))
        assert info.value.message == "Bad Request"
