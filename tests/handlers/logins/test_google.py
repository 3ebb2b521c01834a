from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from handlers.logins.authcode import LoginFailed
from handlers.logins.google import AntigravityLogin, GeminiCliLogin, antigravity_file_name, gemini_file_name
from handlers.logins.login_cli import run_browser_login
from handlers.logins.sessions import CallbackResult
from tests.handlers.logins.browser_env import BrowserEnv, browser_env

GEMINI_FIELDS = {"token", "project_id", "email", "auto", "checked", "type"}
GEMINI_TOKEN_FIELDS = {"access_token", "token_type", "refresh_token", "expiry", "expires_in", "token_uri",
                       "client_id", "client_secret", "scopes", "universe_domain"}
ANTIGRAVITY_FIELDS = {"type", "access_token", "refresh_token", "expires_in", "timestamp", "expired", "email",
                      "project_id"}


async def _code_for(env: BrowserEnv, url: str) -> str:
    async with env.http.get(url, allow_redirects=False) as resp:
        return parse_qs(urlsplit(resp.headers["Location"]).query)["code"][0]


async def test_gemini_cli_login_with_explicit_project(tmp_path: Path) -> None:
    async with browser_env(tmp_path) as env:
        cred = await run_browser_login(GeminiCliLogin, env.http, env.endpoints("gemini-cli"), env.store, env.io(),
                                       port=0, wait_seconds=10, project_id="my-proj")
        assert cred.file_name == "user@example.com-my-proj.json"
        data = json.loads((env.auth_dir / cred.file_name).read_bytes())
        assert set(data) == GEMINI_FIELDS
        assert set(data["token"]) == GEMINI_TOKEN_FIELDS
        assert data["type"] == "gemini" and data["project_id"] == "my-proj"
        assert data["auto"] is False and data["checked"] is True
        assert data["token"]["universe_domain"] == "googleapis.com"
        assert data["token"]["scopes"] == ["https://www.googleapis.com/auth/cloud-platform",
                                           "https://www.googleapis.com/auth/userinfo.email",
                                           "https://www.googleapis.com/auth/userinfo.profile"]
        load = env.fake.seen("/google/assist/v1internal:loadCodeAssist")[0]
        assert load["headers"]["Client-Metadata"] == \
            "ideType=IDE_UNSPECIFIED,platform=PLATFORM_UNSPECIFIED,pluginType=GEMINI"
        assert load["body"]["cloudaicompanionProject"] == "my-proj"
        onboard = env.fake.seen("/google/assist/v1internal:onboardUser")[0]["body"]
        assert onboard["tierId"] == "free-tier"


async def test_gemini_management_login_picks_the_first_project(tmp_path: Path) -> None:
    async with browser_env(tmp_path) as env:
        login = GeminiCliLogin(env.http, env.endpoints("gemini-cli"), port=8085, via_management=True)
        assert login.state.startswith("gem-")
        code = await _code_for(env, login.authorize_url())
        cred = await login.finish(CallbackResult(code=code, state=login.state))
        assert cred.file_name == "gemini-user@example.com-proj-one.json"
        assert cred.metadata["auto"] is True and cred.metadata["checked"] is True


async def test_gemini_all_projects(tmp_path: Path) -> None:
    async with browser_env(tmp_path) as env:
        login = GeminiCliLogin(env.http, env.endpoints("gemini-cli"), port=8085, via_management=True,
                               project_id="ALL")
        code = await _code_for(env, login.authorize_url())
        cred = await login.finish(CallbackResult(code=code, state=login.state))
        assert cred.file_name == "gemini-user@example.com-all.json"
        assert cred.metadata["project_id"] == "proj-one,proj-two"
        assert cred.metadata["auto"] is False


async def test_gemini_api_not_enabled(tmp_path: Path) -> None:
    async with browser_env(tmp_path) as env:
        env.fake.api_enabled = False
        login = GeminiCliLogin(env.http, env.endpoints("gemini-cli"), port=8085, project_id="p")
        code = await _code_for(env, login.authorize_url())
        with pytest.raises(LoginFailed) as info:
            await login.finish(CallbackResult(code=code, state=login.state))
        assert info.value.message == "Failed to verify Cloud AI API status"


def test_gemini_file_names() -> None:
    assert gemini_file_name("a@b", "p1", via_management=False) == "a@b-p1.json"
    assert gemini_file_name("a@b", "p1", via_management=True) == "gemini-a@b-p1.json"
    assert gemini_file_name("a@b", "p1,p2", via_management=False) == "gemini-a@b-all.json"
    assert gemini_file_name("a@b", "all", via_management=True) == "gemini-a@b-all.json"


async def test_antigravity_login(tmp_path: Path) -> None:
    async with browser_env(tmp_path) as env:
        cred = await run_browser_login(AntigravityLogin, env.http, env.endpoints("antigravity"), env.store,
                                       env.io(), port=0, wait_seconds=10)
        assert cred.file_name == "antigravity-user_example_com.json"
        data = json.loads((env.auth_dir / cred.file_name).read_bytes())
        assert set(data) == ANTIGRAVITY_FIELDS
        assert data["type"] == "antigravity" and data["project_id"] == "assist-project"
        assert data["expires_in"] == 3600 and isinstance(data["timestamp"], int)
        load = env.fake.seen("/google/assist/v1internal:loadCodeAssist")[0]
        assert load["body"] == {"metadata": {"ideType": "ANTIGRAVITY", "platform": "PLATFORM_UNSPECIFIED",
                                             "pluginType": "GEMINI"}}
        assert load["headers"]["X-Goog-Api-Client"] == "google-cloud-sdk vscode_cloudshelleditor/0.1"
        query = parse_qs(urlsplit(AntigravityLogin(env.http, env.endpoints("antigravity"),
                                                   port=51121).authorize_url()).query)
        assert query["redirect_uri"] == ["http://localhost:51121/oauth-callback"]
        assert query["access_type"] == ["offline"] and query["prompt"] == ["consent"]


async def test_antigravity_onboards_when_no_project(tmp_path: Path) -> None:
    async with browser_env(tmp_path) as env:
        env.fake.assist_project = None
        login = AntigravityLogin(env.http, env.endpoints("antigravity"), port=51121)
        code = await _code_for(env, login.authorize_url())
        cred = await login.finish(CallbackResult(code=code, state=login.state))
        assert cred.metadata["project_id"] == "onboarded-project"


def test_antigravity_file_names() -> None:
    assert antigravity_file_name("john.doe@gmail.com") == "antigravity-john_doe_gmail_com.json"
    assert antigravity_file_name("") == "antigravity.json"


@pytest.mark.parametrize(("cls", "callback", "message"), [
    (GeminiCliLogin, CallbackResult(code="", state="S", error="access_denied"), "Authentication failed"),
    (GeminiCliLogin, CallbackResult(code="", state="S"), "Authentication failed: code not found"),
    (GeminiCliLogin, CallbackResult(code="c", state="T"), "Authentication failed: state mismatch"),
    (AntigravityLogin, CallbackResult(code="", state="S", error="access_denied"), "Authentication failed"),
    (AntigravityLogin, CallbackResult(code="c", state="T"), "Authentication failed: state mismatch"),
    (AntigravityLogin, CallbackResult(code="", state="S"), "Authentication failed: code not found"),
])
async def test_finish_refusals(tmp_path: Path, cls: type, callback: CallbackResult, message: str) -> None:
    async with browser_env(tmp_path) as env:
        login = cls(env.http, env.endpoints(cls.provider), port=1)
        login.state = "S"
        with pytest.raises(LoginFailed) as info:
            await login.finish(callback)
        assert info.value.message == message
