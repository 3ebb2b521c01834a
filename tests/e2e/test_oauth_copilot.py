"""GitHub Copilot end to end: device login -> credential file -> Copilot API token exchange ->
SDK chat with Copilot's headers -> the Copilot token expires and is bought again.

gateway (in process, inference ``native``) <-> tests/fakes/device_providers.py (GitHub device
and token endpoints, ``copilot_internal/v2/token``, Copilot chat completions).
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest

from handlers.auth.credential import Credential
from handlers.auth.stores.file_store import FileTokenStore
from handlers.logins.device_copilot import CopilotDeviceLogin, run_copilot_login
from handlers.logins.device_poll import LoginIO
from handlers.logins.endpoints import endpoints_for
from tests.e2e.oauth_e2e import Gateway, device_fake_fixture, device_gateway_fixture, read_json, wait_for_model
from tests.fakes.device_providers import DeviceProviderState, FakeTime, provider_endpoints

MODEL = "gpt-4.1"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


fake = device_fake_fixture
gateway = device_gateway_fixture


async def login(fake: DeviceProviderState, auth_dir: Path) -> Credential:
    """``quotio-gateway login github-copilot`` as a separate writer of the auth-dir; the user
    approves on the second poll (the fake clock makes the 5 s poll interval instant)."""
    fake.polls["github"] = ["pending", "token"]
    clock = FakeTime()
    endpoints = endpoints_for("github-copilot", {"provider-endpoints": provider_endpoints(fake.base_url)})
    store = FileTokenStore(auth_dir)
    await store.start()
    try:
        async with aiohttp.ClientSession() as http:
            flow = CopilotDeviceLogin(http, endpoints, sleep=clock.sleep, clock=clock.clock)
            return await run_copilot_login(http, endpoints, store, LoginIO(say=lambda _: None), login=flow)
    finally:
        await store.close()


def chats(fake: DeviceProviderState) -> list[dict[str, Any]]:
    return fake.calls("/copilot/chat/completions")


def exchanges(fake: DeviceProviderState) -> list[dict[str, Any]]:
    return fake.calls("/github/copilot_internal/v2/token")


async def ask(gw: Gateway, content: str = "say hello") -> str:
    completion = await gw.openai().chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": content}])
    return completion.choices[0].message.content or ""


async def test_login_serves_chat_and_reexchanges_after_expiry(gateway: Gateway, fake: DeviceProviderState) -> None:
    auth_dir = gateway.home.parent / "auths"
    credential = await login(fake, auth_dir)
    path = auth_dir / credential.file_name
    assert path.name == "github-copilot-octocat.json"
    stored = read_json(path)
    assert stored == {"access_token": "gho_fake1", "token_type": "bearer", "scope": "user:email",
                      "username": "octocat", "type": "github-copilot"}
    assert path.stat().st_mode & 0o777 == 0o600
    raw = path.read_bytes()
    # The login proved Copilot access with one exchange (its token is not kept).
    assert [e["headers"]["Authorization"] for e in exchanges(fake)] == ["token gho_fake1"]

    await wait_for_model(gateway, MODEL)
    assert await ask(gateway) == fake.answer
    exchange = exchanges(fake)[-1]
    assert len(exchanges(fake)) == 2
    assert exchange["method"] == "GET"
    assert exchange["headers"]["Authorization"] == "token gho_fake1"
    assert exchange["headers"]["User-Agent"] == "GithubCopilot/1.0"
    assert exchange["headers"]["Editor-Version"] == "vscode/1.100.0"
    assert exchange["headers"]["Editor-Plugin-Version"] == "copilot/1.300.0"
    sent = chats(fake)[-1]
    headers = sent["headers"]
    assert headers["Authorization"] == "Bearer tid=copilot-2"
    assert headers["Accept"] == "application/json"
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == "GithubCopilot/1.0"
    assert headers["Editor-Version"] == "vscode/1.100.0"
    assert headers["Editor-Plugin-Version"] == "copilot/1.300.0"
    assert headers["Openai-Intent"] == "conversation-panel"
    assert headers["Copilot-Integration-Id"] == "vscode-chat"
    # Header names are case-insensitive; the fake's record is a plain dict.
    assert UUID.fullmatch({k.lower(): v for k, v in headers.items()}["x-request-id"])
    assert sent["body"]["model"] == MODEL

    # While the Copilot token is fresh it is reused: no exchange per request.
    stream = await gateway.openai().chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "stream please"}], stream=True)
    assert "".join([c.choices[0].delta.content or "" async for c in stream if c.choices]) == fake.answer
    streamed = chats(fake)[-1]
    assert streamed["headers"]["Authorization"] == "Bearer tid=copilot-2"
    assert streamed["body"]["stream"] is True and streamed["body"]["stream_options"] == {"include_usage": True}
    assert len(exchanges(fake)) == 2

    # A Claude client is served through the same OpenAI-format upstream.
    message = await gateway.anthropic().messages.create(
        model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "claude says hello"}])
    assert [(b.type, getattr(b, "text", "")) for b in message.content] == [("text", fake.answer)]
    assert chats(fake)[-1]["body"]["messages"][-1]["content"] == "claude says hello"
    assert len(exchanges(fake)) == 2

    # Half an hour passes: the Copilot token (30 min) is inside its 5-minute margin, so the next
    # request buys a new one with the same GitHub token. The file is never rewritten for it.
    cache = gateway.services.manager.context.copilot
    assert cache is not None
    cache.wall_clock = lambda: time.time() + 1800
    assert await ask(gateway) == fake.answer
    assert len(exchanges(fake)) == 3
    assert chats(fake)[-1]["headers"]["Authorization"] == "Bearer tid=copilot-3"
    assert path.read_bytes() == raw


async def test_upstream_401_reexchanges_once_and_retries(gateway: Gateway, fake: DeviceProviderState) -> None:
    await login(fake, gateway.home.parent / "auths")
    await wait_for_model(gateway, MODEL)
    assert await ask(gateway) == fake.answer
    fake.revoke("copilot")  # Copilot revoked the API token early
    assert await ask(gateway) == fake.answer
    assert [c["headers"]["Authorization"] for c in chats(fake)] == \
        ["Bearer tid=copilot-2", "Bearer tid=copilot-2", "Bearer tid=copilot-3"]
    assert len(exchanges(fake)) == 3


async def test_refused_again_after_reexchange_gives_up(gateway: Gateway, fake: DeviceProviderState,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    await login(fake, gateway.home.parent / "auths")
    await wait_for_model(gateway, MODEL)
    monkeypatch.setattr(fake, "issue_access", lambda provider, token: token)  # nothing is accepted
    with pytest.raises(openai.AuthenticationError) as info:
        await ask(gateway)
    assert info.value.status_code == 401
    assert info.value.body == {"message": "invalid access token", "type": "invalid_request_error",
                               "code": "invalid_api_key"}
    assert [c["headers"]["Authorization"] for c in chats(fake)] == ["Bearer tid=copilot-2", "Bearer tid=copilot-3"]
    assert len(exchanges(fake)) == 3


async def test_account_without_copilot_gets_a_clear_401(gateway: Gateway, fake: DeviceProviderState) -> None:
    """The GitHub token stops buying Copilot tokens (subscription ended): the client gets the
    legacy's credential error, never the upstream's text, and nothing is sent to chat."""
    await login(fake, gateway.home.parent / "auths")
    await wait_for_model(gateway, MODEL)
    fake.copilot_status = 403
    with pytest.raises(openai.AuthenticationError) as info:
        await ask(gateway)
    assert info.value.status_code == 401
    assert chats(fake) == []
    # The legacy's wording with the reason; the token endpoint's body (which may echo secrets) is left out.
    assert info.value.body == {"message": "failed to get copilot api token: copilot token exchange refused: HTTP 403",
                               "type": "authentication_error", "code": "invalid_api_key"}
