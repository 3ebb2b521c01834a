"""An ``openai-compatibility`` provider from config.yaml (no login) and an OAuth credential from
the auth-dir, served side by side by one gateway through the official OpenAI SDK.

gateway (in process, inference ``native``) <-> tests/fakes/llm_upstream.py (the compat upstream,
API key from config) and tests/fakes/device_providers.py (Qwen, token from a credential file).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import openai
import pytest

from tests.e2e.oauth_e2e import Gateway, seed_qwen, start_gateway, wait_for_model
from tests.fakes.device_providers import DeviceProviderState, provider_endpoints, start_device_providers
from tests.fakes.llm_upstream import ANSWER, FakeLLM, status

COMPAT_KEY = "sk-compat"
COMPAT_MODEL = "compat-model"
QWEN_MODEL = "qwen3-coder-plus"


@dataclass
class World:
    gateway: Gateway
    compat: FakeLLM
    qwen: DeviceProviderState


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    compat = FakeLLM()
    await compat.start()
    runner, qwen = await start_device_providers()
    seed_qwen(qwen, tmp_path / "auths")
    config = {"openai-compatibility": [{
        "name": "compat", "base-url": f"{compat.root}/v1", "api-key-entries": [{"api-key": COMPAT_KEY}],
        "models": [{"name": "upstream-model", "alias": COMPAT_MODEL}]}]}
    gw = await start_gateway(tmp_path / "gw", tmp_path / "auths", provider_endpoints(qwen.base_url), config)
    try:
        await wait_for_model(gw, QWEN_MODEL)
        yield World(gw, compat, qwen)
    finally:
        await gw.close()
        await runner.cleanup()
        await compat.stop()


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
    compat = FakeLLM()
    await compat.start()
    runner, qwen = await start_device_providers()
    seed_qwen(qwen, tmp_path / "auths")
    config = {"openai-compatibility": [{
        "name": "compat", "base-url": f"{compat.root}/v1", "api-key-entries": [{"api-key": COMPAT_KEY}],
        "models": [{"name": "upstream-model", "alias": QWEN_MODEL}]}]}
    gw = await start_gateway(tmp_path / "gw", tmp_path / "auths", provider_endpoints(qwen.base_url), config)
    try:
        await wait_for_model(gw, QWEN_MODEL)
        answers = {await ask(gw, QWEN_MODEL) for _ in range(4)}
        assert answers == {ANSWER, qwen.answer}
        assert len(compat.requests) == 2
        assert len(qwen.calls("/qwen/v1/chat/completions")) == 2
    finally:
        await gw.close()
        await runner.cleanup()
        await compat.stop()
