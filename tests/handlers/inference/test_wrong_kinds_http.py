"""Client body fields of an unexpected JSON kind, over HTTP: the exact upstream request and answer.

The legacy reads client bodies with gjson, which converts instead of failing: a number read with
``Int()`` saturates at the int64 bounds. Each case here is one the gateway refused or read
differently.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.fakes.llm_upstream import FakeLLM
from tests.handlers.inference.conftest import MakeClient
from tests.handlers.inference.test_faults import CLAUDE_MODEL, upstreams_config

HI = [{"role": "user", "parts": [{"text": "hi"}]}]


@pytest.mark.parametrize(("config", "expected"), [
    # claude_gemini_request.go:96: maxOutputTokens with Int(), which saturates at the int64 bounds
    # (a value that is no JSON number is row 19g's deliberate deviation, test_claude.py).
    ({"maxOutputTokens": 1e300}, {"max_tokens": 2**63 - 1}),
    ({"maxOutputTokens": 2**64, "temperature": 0.5}, {"max_tokens": 2**63 - 1, "temperature": 0.5}),
    ({"maxOutputTokens": -1e30, "topP": 2.0}, {"max_tokens": -(2**63), "top_p": 2}),
])
@pytest.mark.parametrize("action", ["generateContent", "countTokens"])
async def test_gemini_client_generation_numbers_beyond_int64_on_claude(
        gateway: MakeClient, fake_llm: FakeLLM, config: dict[str, Any], expected: dict[str, Any], action: str) -> None:
    client = await gateway(upstreams_config(fake_llm.root))
    resp = await client.post(f"/v1beta/models/{CLAUDE_MODEL}:{action}",
                             json={"contents": HI, "generationConfig": config})
    assert resp.status == 200
    [sent] = fake_llm.requests
    # Compared as text: Go's sjson writes a whole float as 0 or 1, never 0.0.
    picked = {k: sent.body[k] for k in ("max_tokens", "temperature", "top_p") if k in sent.body}
    assert json.dumps(picked) == json.dumps(expected)
