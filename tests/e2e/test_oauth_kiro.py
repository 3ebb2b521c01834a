"""Kiro end to end: Builder ID and social logins -> credential file -> Claude and OpenAI SDK
clients served through CodeWhisperer's binary AWS event stream -> refresh after expiry and 401.

gateway (in process, inference ``native``) <-> tests/fakes/device_providers.py (AWS SSO-OIDC
register/device/token, the Kiro auth service, ``generateAssistantResponse`` answering an event
stream whose first frame arrives cut in two).
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import anthropic
import pytest

from handlers.auth.credential import Credential
from handlers.auth.stores.file_store import FileTokenStore
from handlers.logins.device_poll import LoginIO
from handlers.logins.endpoints import endpoints_for
from handlers.logins.kiro import KiroBuilderIdLogin, KiroSocialLogin, kiro_credential, run_kiro_builder_id_login
from tests.e2e.oauth_e2e import (
    CLIENT_KEY,
    Gateway,
    device_fake_fixture,
    device_gateway_fixture,
    read_json,
    wait_for_model,
    wait_until,
    write_json,
)
from tests.fakes.device_providers import DeviceProviderState, FakeTime, provider_endpoints

MODEL = "kiro-claude-sonnet-4-5"
KIRO_FIELDS = {"type", "access_token", "refresh_token", "profile_arn", "expires_at", "auth_method", "provider",
               "email"}
SOCIAL_ARN = "arn:aws:codewhisperer:us-east-1:123456789012:profile/SOCIAL"


fake = device_fake_fixture
gateway = device_gateway_fixture


def kiro_endpoints(fake: DeviceProviderState) -> Any:
    return endpoints_for("kiro", {"provider-endpoints": provider_endpoints(fake.base_url)})


async def builder_id_login(fake: DeviceProviderState, auth_dir: Path) -> Credential:
    """``quotio-gateway login kiro-aws``; the user approves on the second poll."""
    fake.polls["kiro"] = ["pending", "token"]
    clock = FakeTime()
    store = FileTokenStore(auth_dir)
    await store.start()
    try:
        async with aiohttp.ClientSession() as http:
            flow = KiroBuilderIdLogin(http, kiro_endpoints(fake), sleep=clock.sleep, clock=clock.clock)
            return await run_kiro_builder_id_login(http, kiro_endpoints(fake), store,
                                                   LoginIO(say=lambda _: None, no_browser=True), login=flow)
    finally:
        await store.close()


async def social_login(fake: DeviceProviderState, auth_dir: Path) -> Credential:
    """``quotio-gateway login kiro-google``: the kiro:// redirect is pasted back, as on a machine
    without the protocol handler."""
    store = FileTokenStore(auth_dir)
    await store.start()
    try:
        async with aiohttp.ClientSession() as http:
            login = KiroSocialLogin(http, kiro_endpoints(fake), "google", ports=(0,))
            url = await login.start()
            state = parse_qs(urlsplit(url).query)["state"][0]
            login.deliver_redirect(f"kiro://kiro.kiroAgent/authenticate-success?code=social-code&state={state}")
            try:
                tokens = await login.wait()
            finally:
                await login.close()
            return await store.save(kiro_credential(tokens))
    finally:
        await store.close()


def generations(fake: DeviceProviderState) -> list[dict[str, Any]]:
    return fake.calls("/kiro/api/generateAssistantResponse")


def jwt_n(authorization: str) -> int:
    """The issue number inside one of the fake's access tokens (``Bearer <jwt>``)."""
    claims = authorization.split(" ", 1)[1].split(".")[1]
    return int(json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))["n"])


async def ask_claude(gw: Gateway) -> str:
    message = await gw.anthropic().messages.create(
        model=MODEL, max_tokens=256, messages=[{"role": "user", "content": "say hello"}])
    return "".join(block.text for block in message.content if block.type == "text")


async def test_builder_id_login_serves_sdks_and_refreshes_after_expiry(gateway: Gateway,
                                                                      fake: DeviceProviderState) -> None:
    auth_dir = gateway.home.parent / "auths"
    credential = await builder_id_login(fake, auth_dir)
    path = auth_dir / credential.file_name
    assert path.name == "kiro-aws-dev@example.com.json"
    stored = read_json(path)
    assert set(stored) == KIRO_FIELDS | {"client_id", "client_secret"}
    assert (stored["auth_method"], stored["provider"], stored["email"]) == ("builder-id", "AWS", "dev@example.com")
    assert (stored["client_id"], stored["client_secret"]) == ("kiro-client-1", "kiro-secret-1")
    assert stored["refresh_token"] == "kiro-refresh-1"
    assert stored["profile_arn"] == "arn:aws:codewhisperer:us-east-1:123456789012:profile/BLD"
    assert path.stat().st_mode & 0o777 == 0o600

    await wait_for_model(gateway, MODEL)
    assert await ask_claude(gateway) == fake.answer
    sent = generations(fake)[-1]
    headers = sent["headers"]
    assert headers["Authorization"] == f"Bearer {stored['access_token']}"
    assert headers["Content-Type"] == "application/x-amz-json-1.0"
    assert headers["X-Amz-Target"] == "AmazonCodeWhispererStreamingService.GenerateAssistantResponse"
    state = sent["body"]["conversationState"]
    current = state["currentMessage"]["userInputMessage"]
    assert (current["modelId"], current["origin"]) == ("claude-sonnet-4.5", "AI_EDITOR")
    assert current["content"].startswith("--- SYSTEM PROMPT ---\n[Context: Current time is ")
    assert current["content"].endswith("--- END SYSTEM PROMPT ---\n\nsay hello")
    assert state["history"] == [] and state["chatTriggerType"] == "MANUAL"
    assert "profileArn" not in sent["body"]  # Builder ID calls carry no profile
    assert sent["body"]["inferenceConfig"] == {"maxTokens": 256}

    # Streamed through the Claude SDK, inline <thinking> comes back as a thinking block.
    fake.kiro_thinking = "pondering"
    async with gateway.anthropic().messages.stream(
            model=MODEL, max_tokens=2048, thinking={"type": "enabled", "budget_tokens": 1024},
            messages=[{"role": "user", "content": "think first"}]) as stream:
        final = await stream.get_final_message()
    assert [(b.type, getattr(b, "thinking", None) or getattr(b, "text", None)) for b in final.content] == \
        [("thinking", "pondering"), ("text", fake.answer)]
    fake.kiro_thinking = ""

    # The OpenAI SDK is served through the same Claude-format upstream.
    completion = await gateway.openai().chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "openai says hello"}])
    assert completion.choices[0].message.content == fake.answer
    assert generations(fake)[-1]["body"]["conversationState"]["currentMessage"]["userInputMessage"][
        "content"].endswith("openai says hello")
    stream = await gateway.openai().chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "stream please"}], stream=True)
    chunks = [c async for c in stream]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == fake.answer
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"

    # Expiry passes: the next request refreshes at AWS SSO-OIDC with the registered client.
    write_json(path, {**stored, "expires_at": "2020-01-01T00:00:00Z"})
    runtime = gateway.services.runtime
    await wait_until(lambda: (c := runtime.file_credential(path.name)) is not None and c.expiry is not None
                     and c.expiry.year == 2020, "the watcher to load the expired copy")
    assert await ask_claude(gateway) == fake.answer
    refreshes = [c for c in fake.calls("/kiro/token") if c["body"].get("grantType") == "refresh_token"]
    assert [r["body"] for r in refreshes] == [{"clientId": "kiro-client-1", "clientSecret": "kiro-secret-1",
                                               "refreshToken": "kiro-refresh-1", "grantType": "refresh_token"}]
    renewed = read_json(path)
    assert renewed["refresh_token"] == "kiro-refresh-2"
    assert renewed["access_token"] != stored["access_token"]
    assert datetime.fromisoformat(renewed["expires_at"]) > datetime.now(UTC) + timedelta(minutes=50)
    assert renewed["client_id"] == "kiro-client-1" and renewed["email"] == "dev@example.com"
    assert generations(fake)[-1]["headers"]["Authorization"] == f"Bearer {renewed['access_token']}"


async def test_social_login_sends_its_profile_and_refreshes_once_after_401(gateway: Gateway,
                                                                           fake: DeviceProviderState) -> None:
    auth_dir = gateway.home.parent / "auths"
    credential = await social_login(fake, auth_dir)
    path = auth_dir / credential.file_name
    assert path.name == "kiro-google-dev@example.com.json"
    stored = read_json(path)
    assert set(stored) == KIRO_FIELDS
    assert (stored["auth_method"], stored["provider"], stored["profile_arn"]) == ("social", "Google", SOCIAL_ARN)

    await wait_for_model(gateway, MODEL)
    assert await ask_claude(gateway) == fake.answer
    assert generations(fake)[-1]["body"]["profileArn"] == SOCIAL_ARN

    fake.revoke("kiro")  # the service dropped the session: 401, one refresh, one retry
    assert await ask_claude(gateway) == fake.answer
    used = [jwt_n(c["headers"]["Authorization"]) for c in generations(fake)]
    assert used == [1, 1, 2]
    refreshes = fake.calls("/kiro-social/refreshToken")
    assert [r["body"] for r in refreshes] == [{"refreshToken": "kiro-social-refresh-1"}]
    assert refreshes[0]["headers"]["User-Agent"] == "cli-proxy-api/1.0.0"
    assert read_json(path)["refresh_token"] == "kiro-social-refresh-2"


async def test_a_403_about_the_token_also_refreshes_once(gateway: Gateway, fake: DeviceProviderState) -> None:
    # Reference providers §8.2: the executor refreshes on a 401 or on a 403 that looks token-related.
    auth_dir = gateway.home.parent / "auths"
    await social_login(fake, auth_dir)
    await wait_for_model(gateway, MODEL)
    assert await ask_claude(gateway) == fake.answer
    fake.kiro_refused_status = 403
    fake.revoke("kiro")
    assert await ask_claude(gateway) == fake.answer
    assert [jwt_n(c["headers"]["Authorization"]) for c in generations(fake)] == [1, 1, 2]
    assert len(fake.calls("/kiro-social/refreshToken")) == 1


async def test_stream_cut_inside_a_frame_is_a_clean_error(gateway: Gateway, fake: DeviceProviderState) -> None:
    """The event stream ends inside its last frame: the client gets an error answer, not a
    truncated reply, and the credential stays usable."""
    await builder_id_login(fake, gateway.home.parent / "auths")
    await wait_for_model(gateway, MODEL)
    fake.kiro_truncate = 3
    with pytest.raises(anthropic.InternalServerError) as info:
        await ask_claude(gateway)
    assert info.value.status_code == 500
    assert info.value.body == {"error": {
        "message": "malformed upstream event stream: stream ended inside a frame (130 bytes left)",
        "type": "server_error", "code": "internal_server_error"}}
    fake.kiro_truncate = 0
    assert await ask_claude(gateway) == fake.answer


async def test_in_band_error_mid_stream_is_a_terminal_error_chunk_without_done(
        gateway: Gateway, fake: DeviceProviderState) -> None:
    """The legacy sends Kiro's in-band error down its error channel: a chat client gets the
    server_error chunk of handlers.BuildErrorResponseBody and no ``[DONE]`` after it."""
    await builder_id_login(fake, gateway.home.parent / "auths")
    await wait_for_model(gateway, MODEL)
    fake.kiro_error = "Throttled"
    async with aiohttp.ClientSession() as session:
        async with session.post(gateway.url + "/v1/chat/completions", headers={"Authorization": "Bearer " + CLIENT_KEY},
                                json={"model": MODEL, "stream": True,
                                      "messages": [{"role": "user", "content": "say hello"}]}) as resp:
            assert resp.status == 200
            body = (await resp.read()).decode()
    frames = [f for f in body.split("\n\n") if f]
    assert frames[-1] == ('data: {"error":{"message":"kiro API error: Throttled","type":"server_error",'
                          '"code":"internal_server_error"}}')
    assert "[DONE]" not in body
    assert any('"content":"hello' in f for f in frames[:-1])  # the first half went out before it
