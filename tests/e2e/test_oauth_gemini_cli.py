"""Gemini CLI OAuth, the whole path: HTTP login -> credential file -> google-genai SDK -> refresh.

The login runs through the management API with the callback pasted into ``oauth-callback``
(the headless way in); the gateway then serves Gemini requests through Cloud Code Assist's
``v1internal`` envelope with the file's project.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import GatewayFactory
from tests.e2e.oauth_gateway import OAuthGateway, oauth_gateway, past
from tests.fakes.oauth_providers import GEMINI_CLIENT

FILE = "gemini-user@example.com-proj-one.json"
MODEL = "gemini-2.5-pro"
GENERATE = "/google/assist/v1internal:generateContent"
TOKEN = "/google/token"
GOOGLE_SCOPES = ["https://www.googleapis.com/auth/cloud-platform", "https://www.googleapis.com/auth/userinfo.email",
                 "https://www.googleapis.com/auth/userinfo.profile"]


async def http_login(gw: OAuthGateway) -> dict:
    status, started = await gw.management("GET", "gemini-cli-auth-url")
    assert status == 200 and started["status"] == "ok"
    assert started["url"].startswith(f"{gw.fake.url}/gemini/authorize?")
    state = started["state"]
    assert state.startswith("gem-")
    callback = await gw.consent(started["url"])
    assert callback.startswith("http://localhost:8085/oauth2callback?")
    assert await gw.management("POST", "oauth-callback",
                               json={"provider": "gemini", "redirect_url": callback}) == (200, {"status": "ok"})
    assert await gw.auth_status_until_done(state) == {"status": "ok"}
    return gw.read(FILE)


async def ask(gw: OAuthGateway) -> str:
    answer = await gw.genai().models.generate_content(model=MODEL, contents="say hello")
    return answer.text or ""


async def test_login_serve_refresh_and_retry(make_gateway: GatewayFactory, tmp_path: Path) -> None:
    async with oauth_gateway(make_gateway, tmp_path) as gw:
        # 1. login -> CLIProxyAPI's Gemini file: the oauth2 token nested under "token"
        data = await http_login(gw)
        assert set(data) == {"token", "project_id", "email", "auto", "checked", "type"}
        assert (data["type"], data["email"], data["project_id"]) == ("gemini", "user@example.com", "proj-one")
        assert (data["auto"], data["checked"]) == (True, True)
        token = data["token"]
        assert set(token) == {"access_token", "token_type", "refresh_token", "expiry", "expires_in", "token_uri",
                              "client_id", "client_secret", "scopes", "universe_domain"}
        assert (token["client_id"], token["client_secret"]) == GEMINI_CLIENT
        assert token["token_uri"] == f"{gw.fake.url}{TOKEN}" and token["scopes"] == GOOGLE_SCOPES
        assert token["access_token"] in gw.fake.issued_tokens
        assert gw.mode(FILE) == 0o600
        first = token["access_token"]

        # 2. served through v1internal with the project and the Code Assist identity headers
        await gw.until_served(MODEL, FILE)
        assert await ask(gw) == "hello from fake gemini"
        [sent] = gw.fake.seen(GENERATE)
        assert sent["headers"]["Authorization"] == f"Bearer {first}"
        assert sent["headers"]["Client-Metadata"] == (
            "ideType=IDE_UNSPECIFIED,platform=PLATFORM_UNSPECIFIED,pluginType=GEMINI")
        assert sent["body"]["project"] == "proj-one" and sent["body"]["model"] == MODEL
        assert sent["body"]["request"]["contents"] == [{"role": "user", "parts": [{"text": "say hello"}]}]

        # 3. expiry passes -> refreshed on use with the Gemini CLI client, nested token rewritten
        expiry = past()
        gw.edit(FILE, token={**token, "expiry": expiry})
        await gw.until_runtime_sees(FILE, "token", {**token, "expiry": expiry})
        assert await ask(gw) == "hello from fake gemini"
        refreshed = gw.read(FILE)
        second = refreshed["token"]["access_token"]
        assert second != first and refreshed["token"]["expiry"] > expiry
        assert refreshed["token"]["refresh_token"] == token["refresh_token"]  # Google keeps the refresh token
        assert refreshed["project_id"] == "proj-one" and refreshed["type"] == "gemini"
        assert gw.mode(FILE) == 0o600 and gw.listing() == [FILE]
        [grant] = gw.refresh_calls(TOKEN)
        assert (grant["body"]["client_id"], grant["body"]["client_secret"]) == GEMINI_CLIENT
        assert grant["body"]["refresh_token"] == token["refresh_token"]
        assert gw.fake.seen(GENERATE)[-1]["headers"]["Authorization"] == f"Bearer {second}"

        # 4. an upstream 401 -> one refresh, one retry
        await gw.revoke_and_expect_retry(second, lambda: ask(gw), "hello from fake gemini", upstream=GENERATE,
                                         token_path=TOKEN, renewed=lambda: gw.read(FILE)["token"]["access_token"])


async def test_refused_refresh_token_leaves_the_file_alone(make_gateway: GatewayFactory, tmp_path: Path) -> None:
    async with oauth_gateway(make_gateway, tmp_path) as gw:
        data = await http_login(gw)
        await gw.until_served(MODEL, FILE)
        gw.fake.issued_tokens.discard(data["token"]["access_token"])
        gw.fake.issued_tokens.discard(data["token"]["refresh_token"])
        raw = gw.path(FILE).read_bytes()
        status, body = await gw.genai_status(MODEL)
        assert (status, body) == (401, {"error": {"code": 401, "message": "unauthorized"}})
        assert len(gw.refresh_calls(TOKEN)) == 1
        assert gw.path(FILE).read_bytes() == raw


async def test_streamed_answer_through_the_oauth_credential(make_gateway: GatewayFactory, tmp_path: Path) -> None:
    async with oauth_gateway(make_gateway, tmp_path) as gw:
        data = await http_login(gw)
        await gw.until_served(MODEL, FILE)
        chunks = [chunk.text async for chunk in await gw.genai().models.generate_content_stream(
            model=MODEL, contents="say hello")]
        assert "".join(c or "" for c in chunks) == "hello from fake gemini"
        [sent] = gw.fake.seen("/google/assist/v1internal:streamGenerateContent")
        assert sent["query"] == {"alt": "sse"}
        assert sent["headers"]["Authorization"] == f"Bearer {data['token']['access_token']}"
        assert sent["body"]["project"] == "proj-one" and sent["body"]["model"] == MODEL
