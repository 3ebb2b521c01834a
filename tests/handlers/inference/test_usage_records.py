"""The usage records native inference leaves on ``GET /v0/management/usage`` for calls that fail
before reaching the upstream (usage_helpers.go ``trackFailure``)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import GatewayFactory
from tests.fakes.llm_upstream import FakeLLM, status
from tests.handlers.usage.test_routes import index, start

MODEL = "claude-sonnet-4-5-20250929"


def _records(body: dict[str, Any]) -> list[tuple[str, str, str, str, bool, int]]:
    """(api, model, source, auth_index, failed, total tokens) of every detail, in order."""
    return [(api, model, d["source"], d["auth_index"], d["failed"], d["tokens"]["total_tokens"])
            for api, stats in body["usage"]["apis"].items()
            for model, per_model in stats["models"].items() for d in per_model["details"]]


@pytest.mark.parametrize("stream", [False, True])
async def test_a_refused_thinking_setting_is_a_failed_record_per_credential(
        make_gateway: GatewayFactory, fake_llm: FakeLLM, stream: bool) -> None:
    """Each legacy executor opens its reporter before the thinking step and records the step's
    error as the call's failure (claude_executor.go:94-110 and 227-242, usage_helpers.go:53-60);
    the conductor then tries the next credential (conductor.go:597-610), which refuses alike."""
    config = {"usage-statistics-enabled": True, "api-keys": ["client-key"],
              "claude-api-key": [{"api-key": "sk-a", "base-url": fake_llm.root},
                                 {"api-key": "sk-b", "base-url": fake_llm.root}]}
    server, gateway = await start(make_gateway, config)
    try:
        body = {"model": MODEL, "max_tokens": 4096, "stream": stream, "messages": [{"role": "user", "content": "hi"}],
                "thinking": {"type": "enabled", "budget_tokens": 100}}
        async with gateway.session.post(gateway.url + "/v1/messages", json=body,
                                        headers={"Authorization": "Bearer client-key"}) as resp:
            assert resp.status == 400
            await resp.read()
        assert fake_llm.requests == []
        code, usage, _ = await gateway.management("GET", "usage")
        assert code == 200
        totals = usage["usage"]
        assert (totals["total_requests"], totals["failure_count"], usage["failed_requests"]) == (2, 2, 2)
        assert sorted(_records(usage)) == [
            ("client-key", MODEL, "sk-a", index("api_key:sk-a"), True, 0),
            ("client-key", MODEL, "sk-b", index("api_key:sk-b"), True, 0)]
    finally:
        await gateway.session.close()
        await server.close()


async def test_token_counts_leave_no_record(make_gateway: GatewayFactory, fake_llm: FakeLLM) -> None:
    """The executors' CountTokens open no usage reporter (claude_executor.go:384,
    gemini_executor.go:332): counting reaches the upstream but is no request on record, even when
    its answer carries fields a usage reader would take."""
    config = {"usage-statistics-enabled": True, "api-keys": ["client-key"],
              "claude-api-key": [{"api-key": "sk-claude", "base-url": fake_llm.root}],
              "gemini-api-key": [{"api-key": "sk-gemini", "base-url": fake_llm.root}]}
    server, gateway = await start(make_gateway, config)
    try:
        fake_llm.script("sk-claude", status(200, {"input_tokens": 7, "usage": {"input_tokens": 7}}))
        fake_llm.script("sk-gemini", status(200, {"totalTokens": 7, "usageMetadata": {"promptTokenCount": 7}}))
        headers = {"Authorization": "Bearer client-key"}
        calls = [("/v1/messages/count_tokens", {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}),
                 ("/v1beta/models/gemini-2.5-flash:countTokens",
                  {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})]
        for path, body in calls:
            async with gateway.session.post(gateway.url + path, json=body, headers=headers) as resp:
                assert resp.status == 200
                await resp.read()
        assert [r.key for r in fake_llm.requests] == ["sk-claude", "sk-gemini"]
        _, usage, _ = await gateway.management("GET", "usage")
        assert (usage["usage"]["total_requests"], usage["usage"]["apis"]) == (0, {})
    finally:
        await gateway.session.close()
        await server.close()
