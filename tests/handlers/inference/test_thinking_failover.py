"""A thinking setting one provider's entry for the model refuses is that credential's problem, not
the request's: the next credential is tried (the legacy's conductor moves on after any executor
error, conductor.go:597-610, without a cooldown for a 400), and the refusal is the answer only
when no credential takes the request."""

from __future__ import annotations

import orjson

from tests.fakes.llm_upstream import FakeLLM
from tests.handlers.inference.test_faults import MakeGateway

MODEL = "claude-sonnet-4-5-20250929"
# A Claude client's budget below the model's minimum: the Claude key's check refuses it (same
# family, so the range is strict); the OpenAI-compatible entry's user-defined model has no limits.
BODY = {"model": MODEL, "max_tokens": 4096, "messages": [{"role": "user", "content": "hi"}],
        "thinking": {"type": "enabled", "budget_tokens": 100}}


def _config(root: str, *, compat: bool) -> str:
    text = f"claude-api-key:\n  - api-key: sk-claude\n    base-url: {root}\n"
    if compat:
        text += (f"openai-compatibility:\n  - name: compat\n    base-url: {root}/v1\n"
                 f"    api-key-entries:\n      - api-key: sk-compat\n"
                 f"    models:\n      - name: upstream-model\n        alias: {MODEL}\n")
    return text


async def test_the_refusal_alone_is_a_400(gateway: MakeGateway, fake_llm: FakeLLM) -> None:
    client = await gateway(_config(fake_llm.root, compat=False))
    resp = await client.post("/v1/messages", json=BODY)
    assert resp.status == 400
    assert orjson.loads(await resp.read()) == {"error": {
        "message": "budget 100 out of range [1024,128000]", "type": "invalid_request_error"}}
    assert fake_llm.requests == []


async def test_another_provider_serves_what_one_refuses(gateway: MakeGateway, fake_llm: FakeLLM) -> None:
    client = await gateway(_config(fake_llm.root, compat=True))
    for _ in range(3):  # round-robin starts with either credential; each request is served
        resp = await client.post("/v1/messages", json=BODY)
        assert resp.status == 200
    assert [r.key for r in fake_llm.requests] == ["sk-compat"] * 3
