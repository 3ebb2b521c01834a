"""iFlow end to end, both logins: the OAuth browser login and the cookie -> API key login, each
-> credential file -> SDK chat with the file's API key -> refresh (a new API key) -> next request.

gateway (in process, inference ``native``) <-> tests/fakes/oauth_providers.py (iFlow authorize,
token, getUserInfo, platform API-key endpoints, chat completions accepting only the current key).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import openai
import pytest

from handlers.logins.iflow import IFlowLogin, cookie_login
from handlers.logins.login_cli import run_browser_login
from tests.e2e.oauth_e2e import Gateway, read_json, start_gateway, wait_for_model, wait_until, write_json
from tests.handlers.logins.browser_env import BrowserEnv, browser_env

MODEL = "qwen3-max"
IFLOW_FIELDS = {"access_token", "refresh_token", "last_refresh", "expired", "api_key", "email", "token_type",
                "scope", "cookie", "type"}


@asynccontextmanager
async def iflow_world(tmp_path: Path) -> AsyncIterator[tuple[BrowserEnv, Gateway]]:
    """The fake providers, a terminal whose browser consents, and a gateway on the same auth-dir."""
    async with browser_env(tmp_path) as env:
        # A week-long token: outside iFlow's 24 h refresh lead, so only the test makes it expire.
        env.fake.expires_in = 7 * 86400
        gw = await start_gateway(tmp_path / "gw", env.auth_dir, env.fake.overrides())
        try:
            yield env, gw
        finally:
            await gw.close()


def chats(env: BrowserEnv) -> list[dict[str, Any]]:
    return env.fake.seen("/iflow/v1/chat/completions")


def refresh_grants(env: BrowserEnv) -> list[dict[str, Any]]:
    return [r for r in env.fake.seen("/iflow/token") if r["body"].get("grant_type") == "refresh_token"]


async def ask(gw: Gateway) -> str:
    completion = await gw.openai().chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "say hello"}])
    return completion.choices[0].message.content or ""


async def expire(gw: Gateway, path: Path, expired: str) -> None:
    """Time passes: the file's recorded expiry is now behind us (an outside edit the watcher loads)."""
    write_json(path, {**read_json(path), "expired": expired})
    runtime = gw.services.runtime
    await wait_until(lambda: (c := runtime.file_credential(path.name)) is not None
                     and c.metadata.get("expired") == expired, "the watcher to load the expired copy")


async def oauth_login(env: BrowserEnv) -> Path:
    credential = await run_browser_login(IFlowLogin, env.http, env.endpoints("iflow"), env.store, env.io(),
                                         port=0, wait_seconds=10)
    await env.settle()
    return env.auth_dir / credential.file_name


async def test_oauth_login_serves_chat_and_refresh_brings_a_new_api_key(tmp_path: Path) -> None:
    async with iflow_world(tmp_path) as (env, gw):
        path = await oauth_login(env)
        assert re.fullmatch(r"iflow-user@example\.com-\d+\.json", path.name)
        stored = read_json(path)
        assert set(stored) == IFLOW_FIELDS
        assert (stored["type"], stored["api_key"], stored["email"], stored["cookie"]) == \
            ("iflow", "sk-iflow-fake", "user@example.com", "")
        assert path.stat().st_mode & 0o777 == 0o600

        await wait_for_model(gw, MODEL)
        assert await ask(gw) == "hello from fake iflow"
        sent = chats(env)[-1]
        assert sent["headers"]["Authorization"] == "Bearer sk-iflow-fake"  # the API key, not the OAuth token
        assert sent["headers"]["User-Agent"] == "iFlow-Cli"
        assert sent["headers"]["Accept"] == "application/json"
        assert sent["body"]["model"] == MODEL
        assert refresh_grants(env) == []

        # Expiry passes; iFlow hands out a new API key with the refreshed token.
        env.fake.iflow_api_key = "sk-iflow-second"
        await expire(gw, path, "2020-01-01T00:00:00Z")
        assert await ask(gw) == "hello from fake iflow"
        assert [g["body"]["refresh_token"] for g in refresh_grants(env)] == [stored["refresh_token"]]
        grant = refresh_grants(env)[0]
        assert grant["headers"]["Authorization"].startswith("Basic ")
        renewed = read_json(path)
        assert renewed["api_key"] == "sk-iflow-second"
        assert renewed["access_token"] != stored["access_token"]
        assert renewed["refresh_token"] != stored["refresh_token"]
        assert env.fake.seen("/iflow/userinfo")[-1]["query"]["accessToken"] == renewed["access_token"]
        assert set(renewed) == IFLOW_FIELDS and renewed["email"] == "user@example.com"
        assert chats(env)[-1]["headers"]["Authorization"] == "Bearer sk-iflow-second"

        # The key is revoked upstream before expiry: 401 -> exactly one refresh -> retry.
        env.fake.iflow_api_key = "sk-iflow-third"
        assert await ask(gw) == "hello from fake iflow"
        assert [c["headers"]["Authorization"] for c in chats(env)[-2:]] == \
            ["Bearer sk-iflow-second", "Bearer sk-iflow-third"]
        assert len(refresh_grants(env)) == 2
        assert read_json(path)["api_key"] == "sk-iflow-third"


async def test_refresh_token_refused_gives_up_and_keeps_the_file(tmp_path: Path) -> None:
    """401, then the refresh token is refused: the client gets the upstream 401, the credential
    is blocked (no second refresh on the next request), and the file is untouched."""
    async with iflow_world(tmp_path) as (env, gw):
        path = await oauth_login(env)
        await wait_for_model(gw, MODEL)
        before = path.read_bytes()
        env.fake.iflow_api_key = "sk-iflow-other"
        env.fake.issued_tokens.clear()  # every refresh token is now unknown: invalid_grant
        with pytest.raises(openai.AuthenticationError) as info:
            await ask(gw)
        assert info.value.status_code == 401
        assert info.value.body == {"message": "unauthorized"}
        assert len(refresh_grants(env)) == 1
        assert path.read_bytes() == before
        failure = gw.services.manager.failure(path.name)
        assert failure is not None and failure.permanent
        # Blocked: the next request finds no usable credential and asks nobody.
        with pytest.raises(openai.APIStatusError) as again:
            await ask(gw)
        assert again.value.status_code == 500
        assert again.value.body == {"message": "auth_not_found: no auth available", "type": "server_error",
                                    "code": "internal_server_error"}
        assert len(refresh_grants(env)) == 1 and len(chats(env)) == 1


async def test_cookie_login_serves_chat_and_regenerates_the_key_near_expiry(tmp_path: Path) -> None:
    async with iflow_world(tmp_path) as (env, gw):
        credential = await cookie_login(env.http, env.endpoints("iflow"), env.store, "foo=1; BXAuth=tok123")
        path = env.auth_dir / credential.file_name
        assert re.fullmatch(r"iflow-user@example\.com-\d+\.json", path.name)
        stored = read_json(path)
        assert set(stored) == IFLOW_FIELDS
        assert (stored["cookie"], stored["api_key"], stored["expired"]) == \
            ("BXAuth=tok123;", "sk-iflow-fake", "2030-01-01 00:00")
        assert stored["access_token"] == "" and stored["refresh_token"] == ""

        await wait_for_model(gw, MODEL)
        assert await ask(gw) == "hello from fake iflow"
        assert chats(env)[-1]["headers"]["Authorization"] == "Bearer sk-iflow-fake"
        posts_before = len([r for r in env.fake.seen("/iflow/apikey") if r["method"] == "POST"])

        # The key's expiry (platform format) passes: the cookie buys a new key, no OAuth involved.
        env.fake.iflow_api_key = "sk-iflow-cookie-2"
        await expire(gw, path, "2020-01-01 00:00")
        assert await ask(gw) == "hello from fake iflow"
        posts = [r for r in env.fake.seen("/iflow/apikey") if r["method"] == "POST"]
        assert len(posts) == posts_before + 1
        assert posts[-1]["body"] == {"name": "user@example.com"}
        assert posts[-1]["headers"]["Cookie"] == "BXAuth=tok123;"
        assert refresh_grants(env) == []
        renewed = read_json(path)
        assert (renewed["api_key"], renewed["expired"], renewed["cookie"]) == \
            ("sk-iflow-cookie-2", "2030-01-01 00:00", "BXAuth=tok123;")
        assert chats(env)[-1]["headers"]["Authorization"] == "Bearer sk-iflow-cookie-2"


async def test_thinking_suffixes_use_iflows_own_fields(tmp_path: Path) -> None:
    """iFlow speaks OpenAI chat, but the legacy applies iFlow's thinking rules to it
    (iflow_executor.go:95 passes "iflow"): GLM models get ``chat_template_kwargs``, MiniMax models
    ``reasoning_split``, and no ``reasoning_effort`` is sent."""
    async with iflow_world(tmp_path) as (env, gw):
        await oauth_login(env)
        await wait_for_model(gw, "glm-4.6")
        client = gw.openai()
        expected = {
            "glm-4.6(high)": {"chat_template_kwargs": {"enable_thinking": True, "clear_thinking": False}},
            "glm-4.6(none)": {"chat_template_kwargs": {"enable_thinking": False}},
            "minimax-m2(medium)": {"reasoning_split": True},
        }
        for model, fields in expected.items():
            await client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
            sent = chats(env)[-1]["body"]
            assert sent["model"] == model.split("(")[0]
            assert {k: sent[k] for k in fields} == fields
            assert "reasoning_effort" not in sent
