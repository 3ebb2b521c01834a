"""Payload rules and the thinking step: their order per upstream, as each legacy executor runs them."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes.llm_upstream import FakeLLM
from tests.handlers.inference.test_faults import COMPAT_MODEL, MakeGateway, chat, upstreams_config


def payload(kind: str, effort: str) -> str:
    return (f"payload:\n  {kind}:\n    - models:\n        - name: upstream-model\n          protocol: openai\n"
            f"      params:\n        reasoning_effort: {effort}\n")


@pytest.mark.parametrize(("kind", "effort"), [("override", "low"), ("default", "minimal")])
@pytest.mark.parametrize(("suffix", "sent"), [("(high)", "high"), ("(8192)", "medium"), ("(none)", "none"), ("", None)])
async def test_on_openai_compatible_upstreams_the_thinking_suffix_wins_over_payload_rules(
        gateway: MakeGateway, fake_llm: FakeLLM, kind: str, effort: str, suffix: str, sent: str | None) -> None:
    """The OpenAI-compatible executor is the one legacy executor that applies payload rules before
    thinking (openai_compat_executor.go:93-95), so a suffix still decides; without one, the rule's
    value goes out."""
    client = await gateway(upstreams_config(fake_llm.root, payload(kind, effort)))
    resp = await client.post("/v1/chat/completions", json=chat(COMPAT_MODEL + suffix))
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = fake_llm.requests[-1].body
    assert body["model"] == "upstream-model"
    assert body["reasoning_effort"] == (sent or effort)
