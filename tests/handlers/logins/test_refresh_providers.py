"""Each provider's refresh call (request sent, fields updated) against the fake token services."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from handlers.auth.credential import new_credential
from handlers.logins.device_http import TokenEndpointError, token_call_session
from handlers.logins.endpoints import endpoints_for
from handlers.logins.refresh_providers import (
    REFRESH_LEADS,
    REFRESHERS,
    RefreshContext,
    refresh_antigravity,
    refresh_claude,
    refresh_codex,
    refresh_context,
    refresh_gemini_cli,
    refresh_iflow,
    refresh_vertex,
)
from handlers.logins.vertex_import import VertexTokenMinter, parse_service_account, vertex_credential
from tests.fakes.device_providers import provider_endpoints

NOW = datetime(2026, 4, 1, 8, 0, 0, tzinfo=UTC)


@pytest.fixture
async def ctx(fake) -> AsyncIterator[RefreshContext]:
    table = provider_endpoints(fake.base_url)
    async with aiohttp.ClientSession() as http:
        def endpoints(provider: str):
            return endpoints_for(provider, {"provider-endpoints": table})
        yield RefreshContext(http, endpoints, vertex=VertexTokenMinter(http, endpoints("vertex")))


def test_every_provider_with_a_login_has_a_refresher_and_a_lead():
    assert set(REFRESHERS) == set(REFRESH_LEADS) == {
        "claude", "codex", "gemini-cli", "antigravity", "iflow", "qwen", "kiro", "github-copilot", "vertex"}
    assert REFRESH_LEADS["claude"] == 4 * 3600
    assert REFRESH_LEADS["codex"] == 5 * 24 * 3600
    assert REFRESH_LEADS["qwen"] == 3 * 3600
    assert REFRESH_LEADS["iflow"] == 24 * 3600
    assert REFRESH_LEADS["antigravity"] == REFRESH_LEADS["kiro"] == 300
    assert REFRESH_LEADS["gemini-cli"] is None


async def test_claude(fake, ctx):
    fake.issue_refresh("claude", "ort-0")
    cred = new_credential("claude-a@b.c.json", {"type": "claude", "refresh_token": "ort-0", "access_token": "x",
                                                "email": "a@b.c"})
    updates = await refresh_claude(ctx, cred, NOW)
    assert updates == {"access_token": "sk-ant-oat-1", "refresh_token": "sk-ant-ort-1", "email": "claude@example.com",
                       "expired": "2026-04-01T16:00:00Z", "type": "claude", "last_refresh": "2026-04-01T08:00:00Z"}
    call = fake.calls("/claude/token")[0]
    assert call["headers"]["Content-Type"] == "application/json"
    assert call["body"] == {"client_id": "9d1c250a-e61b-44d9-88ed-5944d1962f5e", "grant_type": "refresh_token",
                            "refresh_token": "ort-0"}


async def test_codex(fake, ctx):
    fake.issue_refresh("codex", "cr-0")
    cred = new_credential("codex-a@b.c.json", {"type": "codex", "refresh_token": "cr-0"})
    updates = await refresh_codex(ctx, cred, NOW)
    assert updates["access_token"] == "codex-access-1"
    assert updates["refresh_token"] == "codex-refresh-1"
    assert updates["account_id"] == "acct-1"
    assert updates["email"] == "codex@example.com"
    assert updates["expired"] == "2026-04-11T08:00:00Z"
    assert updates["id_token"].count(".") == 2
    assert fake.calls("/codex/token")[0]["body"] == {"client_id": "app_EMoamEEZ73f0CkXaXp7hrann",
                                                     "grant_type": "refresh_token", "refresh_token": "cr-0",
                                                     "scope": "openid profile email"}


async def test_gemini_cli_updates_the_nested_token(fake, ctx):
    fake.issue_refresh("google", "g-0")
    token = {"access_token": "old", "refresh_token": "g-0", "token_type": "Bearer", "expiry": "2026-01-01T00:00:00Z",
             "client_id": "cid", "client_secret": "csecret", "token_uri": "https://oauth2.googleapis.com/token",
             "scopes": ["a"], "universe_domain": "googleapis.com"}
    cred = new_credential("a@b.c-proj.json", {"type": "gemini", "token": token, "project_id": "proj"})
    updates = await refresh_gemini_cli(ctx, cred, NOW)
    assert updates["access_token"] == "ya29.google-1"
    assert updates["refresh_token"] == "g-0"
    assert updates["expiry"] == "2026-04-01T08:59:59Z"
    assert updates["token"] == {**token, "access_token": "ya29.google-1", "expiry": "2026-04-01T08:59:59Z"}
    assert fake.calls("/google/token")[0]["body"] == {"client_id": "cid", "client_secret": "csecret",
                                                      "grant_type": "refresh_token", "refresh_token": "g-0"}


async def test_antigravity(fake, ctx):
    fake.issue_refresh("google", "ag-0")
    cred = new_credential("antigravity-a_b_c.json", {"type": "antigravity", "refresh_token": "ag-0",
                                                     "project_id": "mine"})
    updates = await refresh_antigravity(ctx, cred, NOW)
    assert updates == {"access_token": "ya29.google-1", "expires_in": 3599, "timestamp": int(NOW.timestamp() * 1000),
                       "expired": "2026-04-01T08:59:59Z", "type": "antigravity"}
    assert fake.calls("/google/assist/v1internal:loadCodeAssist") == []  # a file with a project keeps it
    call = fake.calls("/google/token")[0]
    assert call["headers"]["User-Agent"] == "antigravity/1.104.0 darwin/arm64"
    assert call["body"]["client_id"] == "1071006060591-tmhssin2h21lcre235vtolojh4g403ep.apps.googleusercontent.com"


async def test_google_grants_send_no_accept_and_the_others_ask_for_json(fake):
    # golang.org/x/oauth2 (Gemini CLI, Vertex) and antigravity_executor.go's refreshToken set no
    # Accept; the Claude, Codex, Qwen and iFlow refreshes ask for application/json.
    table = provider_endpoints(fake.base_url)
    async with token_call_session() as http:
        def endpoints(provider: str):
            return endpoints_for(provider, {"provider-endpoints": table})
        go_ctx = RefreshContext(http, endpoints)
        fake.issue_refresh("google", "g-0")
        token = {"refresh_token": "g-0", "client_id": "cid", "client_secret": "cs"}
        await refresh_gemini_cli(go_ctx, new_credential("a@b.c-p.json", {"type": "gemini", "token": token}), NOW)
        fake.issue_refresh("google", "ag-0")
        await refresh_antigravity(go_ctx, new_credential("antigravity-a.json", {
            "type": "antigravity", "refresh_token": "ag-0", "project_id": "p"}), NOW)
        fake.issue_refresh("claude", "ort-0")
        await refresh_claude(go_ctx, new_credential("claude-a.json", {"type": "claude", "refresh_token": "ort-0"}), NOW)
    google = fake.calls("/google/token")
    assert len(google) == 2 and all("Accept" not in call["headers"] for call in google)
    assert fake.calls("/claude/token")[0]["headers"]["Accept"] == "application/json"


async def test_antigravity_refresh_looks_a_missing_project_up(fake, ctx):
    # ensureAntigravityProjectID: with the new token, loadCodeAssist (onboardUser when it finds
    # none); a failed lookup leaves the refresh as it was.
    fake.issue_refresh("google", "ag-0")
    cred = new_credential("antigravity-a_b_c.json", {"type": "antigravity", "refresh_token": "ag-0"})
    updates = await refresh_antigravity(ctx, cred, NOW)
    assert updates["project_id"] == "ag-project"
    [lookup] = fake.calls("/google/assist/v1internal:loadCodeAssist")
    assert lookup["headers"]["Authorization"] == "Bearer ya29.google-1"
    fake.assist_project = None
    fake.issue_refresh("google", "ag-1")
    cred = new_credential("antigravity-a_b_c.json", {"type": "antigravity", "refresh_token": "ag-1"})
    assert (await refresh_antigravity(ctx, cred, NOW))["project_id"] == "onboarded-project"
    fake.issue_refresh("google", "ag-2")
    ctx_broken = RefreshContext(ctx.session, lambda provider: endpoints_for(
        provider, {"provider-endpoints": {"antigravity": {"token-url": f"{fake.base_url}/google/token",
                                                          "code-assist-url": f"{fake.base_url}/missing"}}}))
    cred = new_credential("antigravity-a_b_c.json", {"type": "antigravity", "refresh_token": "ag-2"})
    updates = await refresh_antigravity(ctx_broken, cred, NOW)
    assert "project_id" not in updates and updates["access_token"]


async def test_iflow_oauth_refresh_fetches_the_api_key(fake, ctx):
    fake.issue_refresh("iflow", "if-0")
    cred = new_credential("iflow-a-1.json", {"type": "iflow", "refresh_token": "if-0", "api_key": "old"})
    updates = await refresh_iflow(ctx, cred, NOW)
    assert updates == {"access_token": "iflow-access-1", "refresh_token": "iflow-refresh-1",
                       "api_key": "sk-iflow-iflow-access-1", "expired": "2026-04-03T08:00:00Z", "type": "iflow",
                       "last_refresh": "2026-04-01T08:00:00Z"}
    basic = base64.b64encode(b"10009311001:4Z3YjXycVsQvyGF1etiNlIBB4RsqSDtW").decode()
    assert fake.calls("/iflow/token")[0]["headers"]["Authorization"] == f"Basic {basic}"


@pytest.mark.parametrize(("user_info", "why"), [
    ({"success": False, "data": {"apiKey": "sk-new", "email": "a@b.c"}}, "user info request not successful"),
    ({"success": True, "data": {"apiKey": "sk-new"}}, "missing account email/phone in user info"),
    ({"success": True, "data": {"apiKey": "", "email": "a@b.c"}}, "empty api key returned"),
])
async def test_iflow_oauth_refresh_refuses_the_user_info_the_legacy_refuses(fake, ctx, user_info, why):
    fake.issue_refresh("iflow", "if-0")
    fake.iflow_user_info = user_info
    cred = new_credential("iflow-a-1.json", {"type": "iflow", "refresh_token": "if-0", "api_key": "old"})
    with pytest.raises(TokenEndpointError) as err:
        await refresh_iflow(ctx, cred, NOW)
    assert (err.value.reason, str(err.value)) == ("bad_response", f"iflow token refresh failed: {why}")
    fake.issue_refresh("iflow", "if-1")
    fake.iflow_user_info = {"success": True, "data": {"apiKey": "sk-new", "phone": "+86 1"}}  # a phone will do
    cred = new_credential("iflow-a-1.json", {"type": "iflow", "refresh_token": "if-1", "api_key": "old"})
    assert (await refresh_iflow(ctx, cred, NOW))["api_key"] == "sk-new"


async def test_iflow_cookie_key_refreshes_only_inside_48_hours(fake, ctx):
    cred = new_credential("iflow-me-1.json", {"type": "iflow", "cookie": "BXAuth=abc;", "email": "me",
                                              "api_key": "old", "expired": "2026-04-05 08:00"})
    assert await refresh_iflow(ctx, cred, NOW) == {}
    assert fake.calls("/iflow/apikey") == []
    soon = cred.with_metadata(expired="2026-04-02 08:00")
    updates = await refresh_iflow(ctx, soon, NOW)
    assert updates == {"api_key": "sk-iflow-cookie-1", "expired": "2099-01-01 00:00", "type": "iflow",
                       "last_refresh": "2026-04-01T08:00:00Z", "cookie": "BXAuth=abc;", "email": "me"}
    call = fake.calls("/iflow/apikey")[0]
    assert call["body"] == {"name": "me"}
    assert call["headers"]["Cookie"] == "BXAuth=abc;"
    assert call["headers"]["Origin"] == "https://platform.iflow.cn"
    assert call["headers"]["Referer"] == "https://platform.iflow.cn/"
    assert call["headers"]["Accept"] == "application/json, text/plain, */*"
    # iflow_auth.go RefreshAPIKey asks for these two as a browser would; the gateway sent gzip alone.
    assert call["headers"]["Accept-Encoding"] == "gzip, deflate, br"
    assert call["headers"]["Connection"] == "keep-alive"


async def test_iflow_cookie_refresh_needs_success_true(fake, ctx):
    fake.iflow_key_answer = {"success": False, "message": "cookie expired",
                             "data": {"apiKey": "sk-stale", "expireTime": "2099-01-01 00:00"}}
    cred = new_credential("iflow-me-1.json", {"type": "iflow", "cookie": "BXAuth=abc;", "email": "me",
                                              "api_key": "old", "expired": "2026-04-02 08:00"})
    with pytest.raises(TokenEndpointError) as err:
        await refresh_iflow(ctx, cred, NOW)
    assert err.value.reason == "bad_response"
    assert str(err.value) == "iflow api key refresh failed: request not successful"


@pytest.mark.parametrize(("fault", "reason"), [("malformed", "bad_response"), ("http500", "http_error"),
                                               ("invalid_grant", "oauth_error")])
async def test_token_endpoint_faults(fake, ctx, fault, reason):
    fake.issue_refresh("claude", "ort-0")
    fake.refresh_fault["claude"] = fault
    cred = new_credential("claude-a@b.c.json", {"type": "claude", "refresh_token": "ort-0"})
    with pytest.raises(TokenEndpointError) as caught:
        await refresh_claude(ctx, cred, NOW)
    assert caught.value.reason == reason
    assert caught.value.permanent is (fault == "invalid_grant")


async def test_no_refresh_token_is_a_permanent_failure(ctx):
    cred = new_credential("claude-a@b.c.json", {"type": "claude"})
    with pytest.raises(TokenEndpointError) as caught:
        await refresh_claude(ctx, cred, NOW)
    assert caught.value.permanent
    assert str(caught.value) == "claude refresh impossible: no refresh_token"


async def test_vertex_refresh_resigns_and_writes_nothing(fake, ctx):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    fake.service_accounts["sa@p.iam.gserviceaccount.com"] = key.public_key()
    sa = parse_service_account(json.dumps({"project_id": "p", "private_key": pem,
                                           "client_email": "sa@p.iam.gserviceaccount.com"}).encode())
    cred = vertex_credential(sa)
    assert await refresh_vertex(ctx, cred, NOW) == {}
    assert await refresh_vertex(ctx, cred, NOW) == {}
    assert len(fake.calls("/google/token")) == 2


async def test_refresh_context_reads_the_live_config(fake):
    table = {"provider-endpoints": provider_endpoints(fake.base_url)}
    current: dict[str, object] = {}
    async with aiohttp.ClientSession() as http:
        ctx = refresh_context(http, lambda: current)
        assert ctx.endpoints("claude").token_url == "https://console.anthropic.com/v1/oauth/token"
        current.update(table)
        assert ctx.endpoints("claude").token_url == f"{fake.base_url}/claude/token"
        assert ctx.copilot is not None and ctx.vertex is not None


async def test_an_unusable_proxy_is_reported_without_its_password(fake, ctx):
    fake.issue_refresh("claude", "ort-0")
    cred = new_credential("claude-a@b.c.json", {"type": "claude", "refresh_token": "ort-0",
                                                "proxy_url": "socks5://user:hunter2@127.0.0.1:1"})
    with pytest.raises(TokenEndpointError) as caught:
        await refresh_claude(ctx, cred, NOW)
    assert caught.value.reason == "unreachable"
    assert "hunter2" not in str(caught.value)
