"""Codex OAuth, the whole path: CLI login -> credential file -> OpenAI SDK -> background refresh.

Also the auth-dir followed while the gateway runs: a credential file that appears is served
without a restart, and one that is deleted stops serving at once.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from tests.conftest import GatewayFactory
from tests.e2e.oauth_gateway import OAuthGateway, oauth_gateway, past

FILE = "codex-user@example.com-Plus.json"
MODEL = "gpt-5"
RESPONSES = "/codex/responses"
# With no credential the model is unknown to the registry: CLIProxyAPI's answer.
UNKNOWN = (400, {"error": {"message": "unknown provider for model gpt-5", "type": "invalid_request_error"}})
TOKEN = "/codex/token"


def claims(id_token: str) -> dict:
    payload = id_token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


async def login(gw: OAuthGateway) -> dict:
    credential = await gw.cli_login("codex")
    assert credential.file_name == FILE
    return gw.read(FILE)


async def ask(gw: OAuthGateway) -> str:
    completion = await gw.chat(MODEL)
    assert completion.choices[0].finish_reason == "stop"
    return completion.choices[0].message.content or ""


async def test_login_serve_background_refresh_and_retry(make_gateway: GatewayFactory, tmp_path: Path) -> None:
    async with oauth_gateway(make_gateway, tmp_path) as gw:
        # 1. login (the CLI's function, its own store) -> CLIProxyAPI's file
        data = await login(gw)
        assert set(data) == {"id_token", "access_token", "refresh_token", "account_id", "last_refresh", "email",
                             "type", "expired"}
        assert (data["type"], data["email"], data["account_id"]) == ("codex", "user@example.com", "acct-123")
        assert claims(data["id_token"])["email"] == "user@example.com"
        assert data["access_token"] in gw.fake.issued_tokens
        assert gw.mode(FILE) == 0o600
        first = data["access_token"]

        # 2. served through the ChatGPT backend: always streamed, OAuth-only headers
        await gw.until_served(MODEL, FILE)
        assert await ask(gw) == "hello from fake codex"
        [sent] = gw.fake.seen(RESPONSES)
        headers = sent["headers"]
        assert headers["Authorization"] == f"Bearer {first}"
        assert headers["Originator"] == "codex_cli_rs"
        assert headers["Chatgpt-Account-Id"] == "acct-123"
        assert headers["Openai-Beta"] == "responses=experimental"
        assert headers["Accept"] == "text/event-stream"
        assert sent["body"]["model"] == MODEL and sent["body"]["stream"] is True
        assert sent["body"]["input"][0]["role"] == "user"
        assert "say hello" in json.dumps(sent["body"]["input"])

        # 3. expiry comes near -> the background refresh pass (the loop's tick) renews and saves it
        soon = past(-60)  # one minute ahead: inside Codex's five-day lead, not yet expired
        gw.edit(FILE, expired=soon)
        await gw.until(lambda: (c := gw.manager.get(FILE)) is not None and c.metadata.get("expired") == soon,
                       "the refresh manager to see the edit")
        assert await gw.manager.run_due() == [FILE]
        refreshed = gw.read(FILE)
        second = refreshed["access_token"]
        assert second != first and refreshed["expired"] > soon and refreshed["account_id"] == "acct-123"
        assert gw.mode(FILE) == 0o600 and gw.listing() == [FILE]
        assert [r["body"]["refresh_token"] for r in gw.refresh_calls(TOKEN)] == [data["refresh_token"]]
        assert gw.refresh_calls(TOKEN)[0]["body"]["client_id"] == "app_EMoamEEZ73f0CkXaXp7hrann"
        assert await ask(gw) == "hello from fake codex"
        assert gw.fake.seen(RESPONSES)[-1]["headers"]["Authorization"] == f"Bearer {second}"

        # 4. an upstream 401 -> exactly one refresh, then the same call once more
        await gw.revoke_and_expect_retry(second, lambda: ask(gw), "hello from fake codex", upstream=RESPONSES,
                                         token_path=TOKEN, renewed=lambda: gw.read(FILE)["access_token"])


async def test_auth_dir_edited_while_running(make_gateway: GatewayFactory, tmp_path: Path) -> None:
    async with oauth_gateway(make_gateway, tmp_path) as gw:
        # Nothing in the auth-dir at start: the model has no credential.
        status, body = await gw.chat_status(MODEL)
        assert (status, body) == UNKNOWN
        # A login made by another process (CLIProxyAPI, the Quotio app) lands in the auth-dir.
        await login(gw)
        await gw.until_served(MODEL, FILE)
        assert await ask(gw) == "hello from fake codex"
        # The user removes it: no longer used, without a restart.
        gw.path(FILE).unlink()
        await gw.until_not_served(MODEL, FILE)
        served = len(gw.fake.seen(RESPONSES))
        status, body = await gw.chat_status(MODEL)
        assert (status, body) == UNKNOWN
        assert len(gw.fake.seen(RESPONSES)) == served
