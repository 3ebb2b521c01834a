"""The official SDKs as clients: gateway (legacy mode, own process) → stand-in → fake provider.

What an agent built on the ``openai`` or ``anthropic`` Python SDK sees must be exactly what it saw
from CLIProxyAPI: parsed objects, streamed deltas, and the SDK's own exception classes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import anthropic
import openai
import pytest

from tests.e2e.conftest import API_KEY, MGMT_HASH, Gateway, Processes, free_port, write_flags
from tests.fakes import start_fake_provider, start_legacy
from tests.fakes.fake_provider import STREAM_WORDS, chat_completion_body


@dataclass
class Chain:
    gateway: Gateway
    provider_url: str

    def openai(self, key: str = API_KEY) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(base_url=f"{self.gateway.url}/v1", api_key=key, max_retries=0, timeout=10)


@pytest.fixture
async def chain(tmp_path: Path, processes: Processes) -> AsyncIterator[Chain]:
    provider_runner, provider_url = await start_fake_provider(port=0)
    port = free_port()
    config = tmp_path / "config.yaml"
    config.write_text(
        f'host: 127.0.0.1\nport: {port}\nremote-management:\n  secret-key: "{MGMT_HASH}"\n'
        f"api-keys:\n  - {API_KEY}\n"
        "openai-compatibility:\n  - name: fake\n"
        f"    base-url: {provider_url}/v1\n"
        "    api-key-entries:\n      - api-key: sk-upstream\n"
        "    models:\n      - name: fake-model\n        alias: fm\n      - name: fake-model-mini\n"
        "oauth-model-alias:\n  antigravity:\n    - {name: a, alias: b}\n")
    legacy_runner, legacy_url = await start_legacy(config, port=0)
    try:
        flags = write_flags(tmp_path / "flags.yaml", {"legacy": {"url": legacy_url},
                                                     "server": {"state_dir": str(tmp_path / "state")}})
        yield Chain(processes.gateway(config, flags, port=port), provider_url)
    finally:
        await legacy_runner.cleanup()
        await provider_runner.cleanup()


async def upstream_requests(chain: Chain) -> list[dict]:
    async with aiohttp.ClientSession() as session, session.get(f"{chain.provider_url}/__requests") as response:
        return await response.json()


async def test_openai_sdk_chat_stream_and_models(chain: Chain) -> None:
    client = chain.openai()
    raw = await client.chat.completions.with_raw_response.create(
        model="fm", messages=[{"role": "user", "content": "hi"}])
    assert raw.headers["X-Quotio-Route"] == "legacy/legacy"
    completion = raw.parse()
    assert completion.model_dump(exclude_none=True) == chat_completion_body("fake-model")
    assert completion.choices[0].message.content == "".join(STREAM_WORDS)

    stream = await client.chat.completions.create(model="fm", messages=[{"role": "user", "content": "hi"}],
                                                  stream=True)
    deltas, finish = [], []
    async for chunk in stream:
        deltas.append(chunk.choices[0].delta.content)
        finish.append(chunk.choices[0].finish_reason)
    assert deltas == [*STREAM_WORDS, None]
    assert finish == [None] * len(STREAM_WORDS) + ["stop"]

    seen = await upstream_requests(chain)
    assert [(r["method"], r["path"], r["json"]["model"], r["headers"]["Authorization"]) for r in seen] == [
        ("POST", "/v1/chat/completions", "fake-model", "Bearer sk-upstream")] * 2
    assert seen[1]["json"]["stream"] is True

    models = [m async for m in client.models.list()]
    assert [(m.id, m.object) for m in models] == [("fm", "model"), ("fake-model-mini", "model")]
    await client.close()


async def test_openai_sdk_errors_are_the_sdk_exceptions(chain: Chain) -> None:
    async with chain.openai("not-a-configured-key") as client:
        with pytest.raises(openai.AuthenticationError) as denied:
            await client.models.list()
    assert denied.value.status_code == 401
    assert denied.value.body == "Invalid API key"
    assert denied.value.response.headers["X-Quotio-Route"] == "legacy/legacy"

    async with chain.openai() as client:
        with pytest.raises(openai.BadRequestError) as unknown:
            await client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "x"}])
    assert unknown.value.status_code == 400
    assert unknown.value.body == {"message": "unknown provider for model no-such-model",
                                  "type": "invalid_request_error"}


async def test_anthropic_sdk_messages_reach_legacy(chain: Chain) -> None:
    """No Claude credential serves the model: the SDK must see legacy's 400, byte for byte, via the gateway."""
    async with anthropic.AsyncAnthropic(base_url=chain.gateway.url, api_key=API_KEY, max_retries=0,
                                        timeout=10) as client:
        with pytest.raises(anthropic.BadRequestError) as unknown:
            await client.messages.create(model="claude-sonnet-4-5", max_tokens=16,
                                         messages=[{"role": "user", "content": "hi"}])
    response = unknown.value.response
    assert (unknown.value.status_code, response.text) == (
        400, '{"error":{"message":"unknown provider for model claude-sonnet-4-5","type":"invalid_request_error"}}')
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["X-Quotio-Route"] == "legacy/legacy"
    assert await upstream_requests(chain) == []
