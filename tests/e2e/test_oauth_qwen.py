"""Qwen end to end: HTTP device login -> credential file -> SDK chat through it -> refresh.

gateway (in process, inference ``native``) <-> tests/fakes/device_providers.py (Qwen device, token
and chat endpoints). Also: two gateways on one auth-dir refreshing the same credential.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest

from handlers.providers.oauth_openai_chat import QWEN_API_CLIENT, QWEN_CLIENT_METADATA, QWEN_USER_AGENT
from tests.e2e.oauth_e2e import (
    Gateway,
    device_gateway,
    device_gateway_fixture,
    device_providers,
    read_json,
    seed_qwen,
    start_gateway,
    wait_for_model,
    wait_until,
    write_json,
)
from tests.fakes.device_providers import DeviceProviderState, provider_endpoints

MODEL = "qwen3-coder-plus"
QWEN_FIELDS = {"access_token", "refresh_token", "last_refresh", "resource_url", "email", "type", "expired"}


@pytest.fixture
async def fake() -> AsyncIterator[DeviceProviderState]:
    # A day-long token: well outside Qwen's 3 h refresh lead, so only the test makes it expire.
    async with device_providers(DeviceProviderState(interval=1, expires_in=86400)) as state:
        yield state


gateway = device_gateway_fixture


def chats(fake: DeviceProviderState) -> list[dict[str, Any]]:
    return fake.calls("/qwen/v1/chat/completions")


def refresh_grants(fake: DeviceProviderState) -> list[dict[str, Any]]:
    return [c for c in fake.calls("/qwen/token") if c["body"].get("grant_type") == "refresh_token"]


async def ask(gw: Gateway) -> str:
    completion = await gw.openai().chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "say hello"}])
    return completion.choices[0].message.content or ""


async def http_login(gw: Gateway, fake: DeviceProviderState) -> Path:
    """``qwen-auth-url`` -> the user approves (the fake's first poll answers a token) ->
    ``get-auth-status`` reports ``ok``; returns the credential file."""
    async with aiohttp.ClientSession(headers=gw.management_headers()) as http:
        async with http.get(f"{gw.url}/v0/management/qwen-auth-url") as resp:
            started = await resp.json()
            assert resp.status == 200
        assert set(started) == {"status", "url", "state"}
        assert started["status"] == "ok"
        assert started["url"] == f"{fake.base_url}/qwen/verify?user_code=QW-0001"
        assert re.fullmatch(r"gem-\d+", started["state"])
        status: dict[str, Any] = {"status": "wait"}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15
        while status == {"status": "wait"} and loop.time() < deadline:
            await asyncio.sleep(0.1)
            async with http.get(f"{gw.url}/v0/management/get-auth-status",
                                params={"state": started["state"]}) as resp:
                status = await resp.json()
        assert status == {"status": "ok"}
    files = sorted((gw.home.parent / "auths").glob("qwen-*.json"))
    assert len(files) == 1
    return files[0]


async def test_http_login_serves_chat_and_refreshes_after_expiry(gateway: Gateway, fake: DeviceProviderState) -> None:
    path = await http_login(gateway, fake)

    # The legacy's file for an HTTP Qwen login: named and labelled by the unix milliseconds.
    data = read_json(path)
    assert re.fullmatch(r"qwen-(\d{13})\.json", path.name)
    assert set(data) == QWEN_FIELDS
    assert data["email"] == path.name[5:-5]
    assert (data["type"], data["access_token"], data["refresh_token"], data["resource_url"]) == \
        ("qwen", "qwen-access-1", "qwen-refresh-1", "portal.qwen.ai")
    assert path.stat().st_mode & 0o777 == 0o600
    poll = fake.calls("/qwen/token")[0]["body"]
    assert poll["grant_type"] == "urn:ietf:params:oauth:grant-type:device_code" and poll["code_verifier"]

    await wait_for_model(gateway, MODEL)
    assert await ask(gateway) == fake.answer
    sent = chats(fake)[-1]
    assert sent["path"] == "/qwen/v1/chat/completions"
    headers = sent["headers"]
    assert headers["Authorization"] == "Bearer qwen-access-1"
    assert headers["User-Agent"] == QWEN_USER_AGENT
    assert headers["X-Goog-Api-Client"] == QWEN_API_CLIENT
    assert headers["Client-Metadata"] == QWEN_CLIENT_METADATA
    assert headers["Accept"] == "application/json"
    assert sent["body"]["model"] == MODEL
    assert sent["body"]["messages"] == [{"role": "user", "content": "say hello"}]

    # A stream gets the decoy tool and asks for usage, as the legacy executor does.
    stream = await gateway.openai().chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "stream please"}], stream=True)
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == fake.answer
    streamed = chats(fake)[-1]
    assert streamed["headers"]["Accept"] == "text/event-stream"
    assert [t["function"]["name"] for t in streamed["body"]["tools"]] == ["do_not_call_me"]
    assert streamed["body"]["stream_options"] == {"include_usage": True}
    assert refresh_grants(fake) == []

    # The token's expiry passes (the file now says so): the next request refreshes first.
    write_json(path, {**data, "expired": "2020-01-01T00:00:00Z"})
    runtime = gateway.services.runtime
    await wait_until(lambda: (c := runtime.file_credential(path.name)) is not None and c.expiry is not None
                     and c.expiry.year == 2020, "the watcher to load the expired copy")
    assert await ask(gateway) == fake.answer
    grants = refresh_grants(fake)
    assert [g["body"]["refresh_token"] for g in grants] == ["qwen-refresh-1"]
    assert chats(fake)[-1]["headers"]["Authorization"] == "Bearer qwen-access-2"
    stored = read_json(path)
    assert (stored["access_token"], stored["refresh_token"]) == ("qwen-access-2", "qwen-refresh-2")
    assert datetime.fromisoformat(stored["expired"]) > datetime.now(UTC) + timedelta(hours=23)
    assert stored["email"] == data["email"] and set(stored) == QWEN_FIELDS

    # And the request after that uses the stored new token without another refresh.
    assert await ask(gateway) == fake.answer
    assert chats(fake)[-1]["headers"]["Authorization"] == "Bearer qwen-access-2"
    assert len(refresh_grants(fake)) == 1


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_upstream_401_refreshes_once_and_retries(tmp_path: Path, fake: DeviceProviderState,
                                                       stream: bool) -> None:
    path = seed_qwen(fake, tmp_path / "auths")
    async with device_gateway(tmp_path, fake) as gw:
        await wait_for_model(gw, MODEL)
        fake.revoke("qwen")  # the upstream dropped the session behind the token
        if stream:
            # The 401 comes before any byte of the stream, so the retry is invisible to the client.
            chunks = await gw.openai().chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "stream please"}], stream=True)
            assert "".join([c.choices[0].delta.content or "" async for c in chunks if c.choices]) == fake.answer
        else:
            assert await ask(gw) == fake.answer
        assert [c["headers"]["Authorization"] for c in chats(fake)] == \
            ["Bearer qwen-access-seed", "Bearer qwen-access-1"]
        assert [g["body"]["refresh_token"] for g in refresh_grants(fake)] == ["qwen-refresh-seed"]
        assert read_json(path)["access_token"] == "qwen-access-1"


async def test_refused_again_after_refresh_gives_up_cleanly(tmp_path: Path, fake: DeviceProviderState,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    path = seed_qwen(fake, tmp_path / "auths")
    async with device_gateway(tmp_path, fake) as gw:
        await wait_for_model(gw, MODEL)
        # Every token, including the one the refresh will buy, is refused.
        monkeypatch.setattr(fake, "issue_access", lambda provider, token: token)
        fake.revoke("qwen")
        with pytest.raises(openai.AuthenticationError) as info:
            await ask(gw)
        assert info.value.status_code == 401
        assert info.value.body == {"message": "invalid access token", "type": "invalid_request_error",
                                   "code": "invalid_api_key"}
        assert [c["headers"]["Authorization"] for c in chats(fake)] == \
            ["Bearer qwen-access-seed", "Bearer qwen-access-1"]
        assert len(refresh_grants(fake)) == 1
        # Nothing lost: the file holds the refreshed (if refused) token and the new refresh token.
        stored = read_json(path)
        assert (stored["access_token"], stored["refresh_token"]) == ("qwen-access-1", "qwen-refresh-1")

        # Given up cleanly: the credential cools down after its final 401 (as the legacy's
        # conductor does), so the next request asks neither the upstream nor the token endpoint.
        with pytest.raises(openai.InternalServerError) as cooling:
            await ask(gw)
        assert cooling.value.body == {"message": "auth_unavailable: no auth available", "type": "server_error",
                                      "code": "internal_server_error"}
        assert len(chats(fake)) == 2 and len(refresh_grants(fake)) == 1


@pytest.mark.parametrize("rotates", [True, False], ids=["rotating-refresh-token", "reusable-refresh-token"])
async def test_two_gateways_refresh_one_credential_once(tmp_path: Path, fake: DeviceProviderState,
                                                       rotates: bool) -> None:
    """Two gateway processes over one auth-dir; the file expires; both get a request at once and
    both ask the provider (the fake holds each answer until both asked). Rotating: only the first
    use of the stored refresh token works, the refused gateway adopts the winner's token from the
    file. Reusable: both get a token, the second save loses the revision check and adopts the
    stored one. Either way one refresh lands, both serve with it, the file keeps it whole."""
    fake.rotate_refresh = rotates
    auths = tmp_path / "auths"
    path = seed_qwen(fake, auths)
    gw_a = await start_gateway(tmp_path / "a", auths, provider_endpoints(fake.base_url))
    gw_b = await start_gateway(tmp_path / "b", auths, provider_endpoints(fake.base_url))
    try:
        await wait_for_model(gw_a, MODEL)
        await wait_for_model(gw_b, MODEL)
        fake.refresh_gate = 2
        write_json(path, {**read_json(path), "expired": "2020-01-01T00:00:00Z"})
        for gw in (gw_a, gw_b):
            runtime = gw.services.runtime
            await wait_until(lambda r=runtime: (c := r.file_credential(path.name)) is not None  # type: ignore[misc]
                             and c.expiry is not None and c.expiry.year == 2020, "both gateways to see the expiry")
        answers = await asyncio.gather(ask(gw_a), ask(gw_b))
        assert answers == [fake.answer, fake.answer]
        assert [g["body"]["refresh_token"] for g in refresh_grants(fake)] == ["qwen-refresh-seed"] * 2
        assert fake.counters.get("qwen") == (1 if rotates else 2)
        stored = read_json(path)
        winner = stored["access_token"]
        assert winner in ("qwen-access-1", "qwen-access-2")
        assert stored["refresh_token"] == winner.replace("access", "refresh")
        assert [c["headers"]["Authorization"] for c in chats(fake)][-2:] == [f"Bearer {winner}"] * 2
        assert set(stored) == QWEN_FIELDS and stored["email"] == "seed@example.com"
        assert datetime.fromisoformat(stored["expired"]) > datetime.now(UTC)
        for gw in (gw_a, gw_b):
            assert gw.services.manager.failure(path.name) is None
            assert gw.services.runtime.file_credential(path.name).metadata["access_token"] == winner  # type: ignore[union-attr]
    finally:
        await gw_a.close()
        await gw_b.close()
