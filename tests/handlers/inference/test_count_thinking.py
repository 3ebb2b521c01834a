"""Token counting with a thinking suffix: Gemini's ``:countTokens`` gets no generation settings."""

from __future__ import annotations

import orjson
import pytest

from handlers.providers import APIKeyCredential, UpstreamRequest
from handlers.providers.oauth_base import OAuthCredential, StaticToken
from handlers.providers.oauth_vertex import VertexServiceAccountExecutor
from handlers.providers.vertex_api import VertexAPIExecutor
from tests.fakes.llm_upstream import FakeLLM
from tests.handlers.inference.test_faults import GEMINI_BODY, GEMINI_MODEL, MakeGateway, claude, upstreams_config

DROPPED = {"tools", "generationConfig", "safetySettings"}
TOOLS = [{"functionDeclarations": [{"name": "f", "parameters": {"type": "object"}}]}]


@pytest.mark.parametrize(("path", "body"), [
    (f"/v1beta/models/{GEMINI_MODEL}(low):countTokens", {**GEMINI_BODY, "tools": TOOLS,
                                                         "generationConfig": {"temperature": 0.2}}),
    ("/v1/messages/count_tokens", claude(f"{GEMINI_MODEL}(8192)")),
])
async def test_the_count_call_has_no_thinking_config(gateway: MakeGateway, fake_llm: FakeLLM, path: str,
                                                     body: dict) -> None:
    """The legacy applies thinking and then deletes ``tools``, ``generationConfig`` and
    ``safetySettings`` from a count request (gemini_executor.go:341-350): the suffix's
    ``thinkingConfig`` does not reach ``:countTokens``, which would refuse it."""
    client = await gateway(upstreams_config(fake_llm.root))
    resp = await client.post(path, json=body)
    assert resp.status == 200, await resp.text()
    sent = fake_llm.requests[-1]
    assert sent.path == f"/v1beta/models/{GEMINI_MODEL}:countTokens"
    assert not DROPPED & set(sent.body)
    assert sent.body["contents"]


def test_vertex_executors_build_the_count_body_the_same_way() -> None:
    body = {**GEMINI_BODY, "tools": TOOLS, "generationConfig": {"thinkingConfig": {"thinkingBudget": 1024}},
            "safetySettings": [{"category": "x", "threshold": "OFF"}]}
    count = UpstreamRequest(f"{GEMINI_MODEL}(low)", dict(body), action="countTokens")
    generate = UpstreamRequest(f"{GEMINI_MODEL}(low)", dict(body))
    api_key = VertexAPIExecutor(client=None)  # type: ignore[arg-type]
    service = VertexServiceAccountExecutor(client=None)  # type: ignore[arg-type]
    key = APIKeyCredential("vertex", "k", "")
    account = OAuthCredential("sa.json", "vertex", StaticToken("ya29.sa"), project_id="p").with_token("ya29.sa")
    for prepared in (api_key.prepare(key, count), service.prepare(account, count)):
        assert prepared.url.endswith(f"/models/{GEMINI_MODEL}:countTokens")
        sent = orjson.loads(prepared.body)
        assert not DROPPED & set(sent) and sent["contents"] == GEMINI_BODY["contents"]
    for prepared in (api_key.prepare(key, generate), service.prepare(account, generate)):
        assert DROPPED <= set(orjson.loads(prepared.body))
