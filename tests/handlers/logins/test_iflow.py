from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from handlers.auth.credential import new_credential
from handlers.logins.iflow import (
    CookieLoginError,
    IFlowLogin,
    cookie_login,
    extract_bxauth,
    iflow_cookie_file_name,
    normalize_cookie,
)
from handlers.logins.login_cli import run_browser_login
from tests.handlers.logins.browser_env import browser_env

IFLOW_FIELDS = {"access_token", "refresh_token", "last_refresh", "expired", "api_key", "email", "token_type",
                "scope", "cookie", "type"}


async def test_oauth_login_writes_the_legacy_file(tmp_path: Path) -> None:
    async with browser_env(tmp_path) as env:
        cred = await run_browser_login(IFlowLogin, env.http, env.endpoints("iflow"), env.store, env.io(), port=0,
                                       wait_seconds=10)
        await env.settle()
        assert re.fullmatch(r"iflow-user@example\.com-\d+\.json", cred.file_name)
        data = json.loads((env.auth_dir / cred.file_name).read_bytes())
        assert set(data) == IFLOW_FIELDS
        assert data["api_key"] == "sk-iflow-fake" and data["type"] == "iflow" and data["cookie"] == ""
        assert data["token_type"] == "bearer" and data["scope"] == "read"
        # The browser was sent on to iFlow's own success page.
        assert env.visits[0].status == 302 and env.visits[0].location.endswith("/iflow/success")
        assert env.fake.seen("/iflow/userinfo")[0]["query"]["accessToken"] == data["access_token"]


async def test_authorize_url_uses_iflow_parameter_names(tmp_path: Path) -> None:
    async with browser_env(tmp_path) as env:
        login = IFlowLogin(env.http, env.endpoints("iflow"), port=11451, via_management=True)
        assert login.state.startswith("ifl-")
        query = {k: v[0] for k, v in parse_qs(urlsplit(login.authorize_url()).query).items()}
        assert query == {"loginMethod": "phone", "type": "phone", "redirect": "http://localhost:11451/oauth2callback",
                         "state": login.state, "client_id": "10009311001"}


def test_cookie_helpers() -> None:
    assert normalize_cookie("  a=1;   BXAuth=xyz ") == "a=1; BXAuth=xyz;"
    with pytest.raises(ValueError, match="cookie cannot be empty"):
        normalize_cookie("   ")
    with pytest.raises(ValueError, match="cookie missing BXAuth field"):
        normalize_cookie("a=1")
    assert extract_bxauth("a=1; BXAuth=xyz;") == "xyz"
    assert iflow_cookie_file_name("a*b@c.d /x", now=1700000000.5) == "iflow-axb@c.dx-1700000000.json"
    assert iflow_cookie_file_name("", now=1700000000.5) == "iflow-1700000000500-1700000000.json"


async def test_cookie_login_saves_the_key(tmp_path: Path) -> None:
    async with browser_env(tmp_path) as env:
        cred = await cookie_login(env.http, env.endpoints("iflow"), env.store, "foo=1; BXAuth=tok123")
        data = json.loads((env.auth_dir / cred.file_name).read_bytes())
        assert set(data) == IFLOW_FIELDS
        assert data["cookie"] == "BXAuth=tok123;" and data["api_key"] == "sk-iflow-fake"
        assert data["expired"] == "2030-01-01 00:00" and data["email"] == "user@example.com"
        post = env.fake.seen("/iflow/apikey")[1]
        assert post["method"] == "POST" and post["body"] == {"name": "user@example.com"}
        assert post["headers"]["Origin"] == "https://platform.iflow.cn"


async def test_cookie_login_refuses_duplicates(tmp_path: Path) -> None:
    async with browser_env(tmp_path) as env:
        await env.store.save(new_credential("iflow-old-1.json", {"type": "iflow", "cookie": "BXAuth=tok123;"}))
        with pytest.raises(CookieLoginError) as info:
            await cookie_login(env.http, env.endpoints("iflow"), env.store, "BXAuth=tok123")
        assert (info.value.status, info.value.message, info.value.existing_file) == \
            (409, "duplicate BXAuth found", "iflow-old-1.json")


async def test_cookie_login_upstream_failure(tmp_path: Path) -> None:
    async with browser_env(tmp_path) as env:
        env.fake.token_fault["iflow-cookie"] = "http500"
        with pytest.raises(CookieLoginError) as info:
            await cookie_login(env.http, env.endpoints("iflow"), env.store, "BXAuth=tok123")
        assert info.value.status == 400
        assert info.value.message == ("iflow cookie authentication: fetch initial API key info failed: "
                                      "iflow cookie: GET request failed with status 500")
        assert list(env.auth_dir.iterdir()) == []
