"""Antigravity OAuth, the whole path: CLI login -> credential file -> live model list -> OpenAI SDK
-> refresh -> 401 retry.

Antigravity has no static model list: the gateway asks ``fetchAvailableModels`` with the new
credential and registers what comes back, as CLIProxyAPI does.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import GatewayFactory
from tests.e2e.oauth_gateway import LONG_LIVED, OAuthGateway, oauth_gateway, past
from tests.fakes.oauth_providers import ANTIGRAVITY_CLIENT, FakeOAuthProviders

FILE = "antigravity-user_example_com.json"
MODEL = "gemini-2.5-flash"
GENERATE = "/google/assist/v1internal:generateContent"
MODELS = "/google/assist/v1internal:fetchAvailableModels"
TOKEN = "/google/token"
USER_AGENT = "antigravity/1.104.0 darwin/arm64"


async def login(gw: OAuthGateway) -> dict:
    credential = await gw.cli_login("antigravity")
    assert credential.file_name == FILE
    return gw.read(FILE)


async def ask(gw: OAuthGateway) -> str:
    completion = await gw.chat(MODEL)
    return completion.choices[0].message.content or ""


async def test_login_models_serve_refresh_and_retry(make_gateway: GatewayFactory, tmp_path: Path) -> None:
    async with oauth_gateway(make_gateway, tmp_path) as gw:
        # 1. login -> CLIProxyAPI's antigravity file (project from loadCodeAssist)
        data = await login(gw)
        assert set(data) == {"type", "access_token", "refresh_token", "expires_in", "timestamp", "expired", "email",
                             "project_id"}
        assert (data["type"], data["email"], data["project_id"]) == ("antigravity", "user@example.com",
                                                                     "assist-project")
        assert data["access_token"] in gw.fake.issued_tokens and data["expires_in"] == 30 * 24 * 3600
        assert gw.mode(FILE) == 0o600
        first = data["access_token"]

        # 2. the model list is fetched live with that token; internal ids are left out
        await gw.until_served(MODEL, FILE)
        [asked] = gw.fake.seen(MODELS)
        assert asked["body"] == {}
        assert asked["headers"]["Authorization"] == f"Bearer {first}"
        assert asked["headers"]["User-Agent"] == USER_AGENT
        # (the default antigravity alias, as the legacy's config migration adds, renames the pro model)
        listed = sorted(m.id for m in (await gw.openai().models.list()).data)
        assert listed == ["gemini-2.5-flash", "gemini-3-pro-preview"]

        # 3. a chat goes out in the agent envelope
        assert await ask(gw) == "hello from fake gemini"
        [sent] = gw.fake.seen(GENERATE)
        assert sent["headers"]["Authorization"] == f"Bearer {first}"
        assert sent["headers"]["User-Agent"] == USER_AGENT
        body = sent["body"]
        assert (body["model"], body["project"], body["userAgent"], body["requestType"]) == (
            MODEL, "assist-project", "antigravity", "agent")
        assert body["requestId"].startswith("agent-")
        assert body["request"]["sessionId"].startswith("-")
        assert body["request"]["toolConfig"] == {"functionCallingConfig": {"mode": "VALIDATED"}}
        assert body["request"]["contents"] == [{"role": "user", "parts": [{"text": "say hello"}]}]

        # 4. expiry passes -> refreshed on use with the Antigravity client, saved, used
        expired = past()
        gw.edit(FILE, expired=expired)
        await gw.until_runtime_sees(FILE, "expired", expired)
        assert await ask(gw) == "hello from fake gemini"
        refreshed = gw.read(FILE)
        second = refreshed["access_token"]
        assert second != first and refreshed["expired"] > expired
        assert refreshed["refresh_token"] == data["refresh_token"]
        assert refreshed["project_id"] == "assist-project"
        assert gw.mode(FILE) == 0o600 and gw.listing() == [FILE]
        [grant] = gw.refresh_calls(TOKEN)
        assert (grant["body"]["client_id"], grant["body"]["client_secret"]) == ANTIGRAVITY_CLIENT
        assert gw.fake.seen(GENERATE)[-1]["headers"]["Authorization"] == f"Bearer {second}"

        # 5. an upstream 401 -> one refresh, one retry
        await gw.revoke_and_expect_retry(second, lambda: ask(gw), "hello from fake gemini", upstream=GENERATE,
                                         token_path=TOKEN, renewed=lambda: gw.read(FILE)["access_token"])


async def test_model_list_refused_registers_nothing(make_gateway: GatewayFactory, tmp_path: Path) -> None:
    async with oauth_gateway(make_gateway, tmp_path) as gw:
        gw.fake.antigravity_models = {}
        await login(gw)
        await gw.until(lambda: len(gw.fake.seen(MODELS)) == 1, "the model list request")
        assert gw.serving(MODEL) == []
        assert [m.id for m in (await gw.openai().models.list()).data] == []
        # A new login rewrites the file: the list is asked for again and now registers.
        gw.fake.antigravity_models = {MODEL: {}}
        await login(gw)
        await gw.until_served(MODEL, FILE)
        assert len(gw.fake.seen(MODELS)) == 2
        assert await ask(gw) == "hello from fake gemini"


async def test_openai_stream_and_a_folded_claude_model(make_gateway: GatewayFactory, tmp_path: Path) -> None:
    fake = FakeOAuthProviders(expires_in=LONG_LIVED)
    fake.antigravity_models = {MODEL: {}, "claude-sonnet-4-5": {}}
    async with oauth_gateway(make_gateway, tmp_path, fake=fake) as gw:
        data = await login(gw)
        # The default antigravity alias names the Claude model "gemini-claude-sonnet-4-5" for clients.
        await gw.until_served("gemini-claude-sonnet-4-5", FILE)
        # A streaming client: the upstream stream is relayed.
        stream = await gw.openai().chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "say hello"}], stream=True)
        text = "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])
        assert text == "hello from fake gemini"
        # A non-stream client on a Claude model: sent as a stream upstream and folded, as the legacy does.
        answer = await gw.chat("gemini-claude-sonnet-4-5")
        assert answer.choices[0].message.content == "hello from fake gemini"
        sent = gw.fake.seen("/google/assist/v1internal:streamGenerateContent")
        assert [r["query"] for r in sent] == [{"alt": "sse"}, {"alt": "sse"}]
        assert [r["body"]["model"] for r in sent] == [MODEL, "claude-sonnet-4-5"]
        assert all(r["headers"]["Authorization"] == f"Bearer {data['access_token']}" for r in sent)
        assert gw.fake.seen(GENERATE) == []
