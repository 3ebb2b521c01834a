"""An ``openai-compatibility`` provider from config.yaml (no login) and an OAuth credential from
the auth-dir, served side by side by one gateway through the official OpenAI SDK.

gateway (in process, inference ``native``) <-> tests/fakes/llm_upstream.py (the compat upstream,
API key from config) and tests/fakes/device_providers.py (Qwen, token from a credential file).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import openai
import pytest

from tests.e2e.oauth_e2e import Gateway, device_gateway, device_providers, seed_qwen, wait_for_model
from tests.fakes.device_providers import DeviceProviderState
from tests.fakes.llm_upstream import ANSWER, FakeLLM, status

COMPAT_KEY = "sk-compat"
COMPAT_MODEL = "compat-model"
QWEN_MODEL = "qwen3-coder-plus"


@dataclass
class World:
    gateway: Gateway
    compat: FakeLLM
    qwen: DeviceProviderState


@asynccontextmanager
async def compat_and_qwen(tmp_path: Path, alias: str) -> AsyncIterator[World]:
    """The compat upstream (its ``upstream-model`` offered to clients as ``alias``) and a seeded
    Qwen credential, both serving through one gateway."""
    compat = FakeLLM()
    await compat.start()
    try:
        async with device_providers() as qwen:
            seed_qwen(qwen, tmp_path / "auths")
            config = {"openai-compatibility": [{
                "name": "compat", "base-url": f"{compat.root}/v1", "api-key-entries": [{"api-key": COMPAT_KEY}],
                "models": [{"name": "upstream-model", "alias": alias}]}]}
            async with device_gateway(tmp_path, qwen, config) as gw:
                await wait_for_model(gw, QWEN_MODEL)
                yield World(gw, compat, qwen)
    finally:
        await compat.stop()


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with compat_and_qwen(tmp_path, COMPAT_MODEL) as world:
        yield world


async def ask(gw: Gateway, model: str) -> str:
    completion = await gw.openai().chat.completions.create(
        model=model, messages=[{"role": "user", "content": "say hello"}])
    return completion.choices[0].message.content or ""


async def test_compat_and_oauth_credentials_serve_side_by_side(world: World) -> None:
    models = {m.id: m.owned_by for m in (await world.gateway.openai().models.list()).data}
    assert models[COMPAT_MODEL] == "compat"
    assert models[QWEN_MODEL] == "qwen"

    assert await ask(world.gateway, COMPAT_MODEL) == ANSWER
    assert await ask(world.gateway, QWEN_MODEL) == world.qwen.answer

    [compat_call] = world.compat.requests
    assert compat_call.path == "/v1/chat/completions"
    assert compat_call.key == COMPAT_KEY
    assert compat_call.body["model"] == "upstream-model"
    [qwen_call] = world.qwen.calls("/qwen/v1/chat/completions")
    assert qwen_call["headers"]["Authorization"] == "Bearer qwen-access-seed"
    assert qwen_call["body"]["model"] == QWEN_MODEL
    # Neither upstream ever sees the other's credential or the client's key.
    assert "client-key" not in str(compat_call.headers) and "qwen-access" not in str(compat_call.headers)
    assert COMPAT_KEY not in str(qwen_call["headers"])


async def test_compat_401_is_answered_without_any_oauth_refresh(world: World) -> None:
    """An API key has nothing to refresh: the upstream's 401 goes back to the client and no
    OAuth token endpoint is asked; the OAuth credential keeps serving."""
    world.compat.script(COMPAT_KEY, status(401, {"error": {"message": "bad key", "type": "invalid_request_error"}}))
    with pytest.raises(openai.AuthenticationError) as info:
        await ask(world.gateway, COMPAT_MODEL)
    assert info.value.status_code == 401
    assert info.value.body == {"message": "bad key", "type": "invalid_request_error"}
    assert world.qwen.calls("/qwen/token") == []
    assert await ask(world.gateway, QWEN_MODEL) == world.qwen.answer
    assert world.qwen.calls("/qwen/token") == []


async def test_one_model_rotates_over_compat_key_and_oauth_credential(tmp_path: Path) -> None:
    """The compat entry also offers ``qwen3-coder-plus``: requests for it alternate between the
    config's API key and the auth-dir's OAuth credential, one upstream call each."""
    async with compat_and_qwen(tmp_path, QWEN_MODEL) as world:
        answers = {await ask(world.gateway, QWEN_MODEL) for _ in range(4)}
        assert answers == {ANSWER, world.qwen.answer}
        assert len(world.compat.requests) == 2
        assert len(world.qwen.calls("/qwen/v1/chat/completions")) == 2
