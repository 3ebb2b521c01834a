"""Token counting on an AI Studio relay credential (aistudio_executor.go CountTokens).

Unlike the other upstreams, AI Studio builds its count body with the generate call's own
``translateRequest``, payload rules included, then drops ``generationConfig``, ``tools`` and
``safetySettings``; an answer whose ``totalTokens`` (read as gjson ``Int()``) is not above 0 is a
plain error, so a 500.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tests.handlers.wsrelay.conftest import MakeGateway, json_answer

MODEL = "gemini-pro-latest"  # only the AI Studio catalogue has it
BASE = "https://generativelanguage.googleapis.com/v1beta/models"
GEMINI_BODY: dict[str, Any] = {
    "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
    "generationConfig": {"temperature": 0.5},
    "tools": [{"functionDeclarations": [{"name": "f", "parameters": {"type": "object"}}]}],
    "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
    "session_id": "s-1",
}
RULE = ("payload:\n  override:\n    - models:\n        - name: \"gemini-*\"\n          protocol: gemini\n"
        "      params:\n        \"systemInstruction.parts.0.text\": \"ruled\"\n")


async def test_gemini_client_count_answer_and_body(relay_gateway: MakeGateway) -> None:
    gw = await relay_gateway()
    relay = await gw.connect(json_answer({"totalTokens": 9, "promptTokensDetails": [
        {"modality": "TEXT", "tokenCount": 5}, {"modality": "IMAGE", "tokenCount": 4}]}))
    resp = await gw.client.post(f"/v1beta/models/{MODEL}:countTokens", json=GEMINI_BODY)
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "application/json"
    # The translator writes its own details: the whole count as TEXT (gemini_gemini_response.go:27).
    assert await resp.read() == b'{"totalTokens":9,"promptTokensDetails":[{"modality":"TEXT","tokenCount":9}]}'
    [sent] = relay.requests
    assert sent["payload"]["url"] == f"{BASE}/{MODEL}:countTokens"
    assert orjson.loads(sent["payload"]["body"]) == {"contents": GEMINI_BODY["contents"]}


async def test_claude_client_count_answer(relay_gateway: MakeGateway) -> None:
    gw = await relay_gateway()
    await gw.connect(json_answer({"totalTokens": 12}))
    resp = await gw.client.post("/v1/messages/count_tokens", json={
        "model": MODEL, "messages": [{"role": "user", "content": "hi"}]})
    assert resp.status == 200
    assert await resp.read() == b'{"input_tokens":12}'


async def test_payload_rules_apply_to_the_count_body(relay_gateway: MakeGateway) -> None:
    # aistudio_executor.go:321 -> :401: the count body goes through applyPayloadConfigWithRoot.
    gw = await relay_gateway(RULE)
    relay = await gw.connect(json_answer({"totalTokens": 3}))
    resp = await gw.client.post(f"/v1beta/models/{MODEL}:countTokens", json=GEMINI_BODY)
    assert resp.status == 200
    sent = orjson.loads(relay.requests[0]["payload"]["body"])
    assert sent == {"contents": GEMINI_BODY["contents"], "systemInstruction": {"parts": [{"text": "ruled"}]}}


@pytest.mark.parametrize(("total", "expected"), [("12", 12), (True, 1), (7.9, 7)])
async def test_total_tokens_is_read_as_gjson_int(relay_gateway: MakeGateway, total: Any, expected: int) -> None:
    gw = await relay_gateway()
    await gw.connect(json_answer({"totalTokens": total}))
    resp = await gw.client.post(f"/v1beta/models/{MODEL}:countTokens", json=GEMINI_BODY)
    assert resp.status == 200
    assert (await resp.json())["totalTokens"] == expected


@pytest.mark.parametrize("answer", [{"totalTokens": 0}, {"usage": 4}, ["not", "an", "object"]])
async def test_no_positive_total_is_a_500(relay_gateway: MakeGateway, answer: Any) -> None:
    gw = await relay_gateway()
    relay = await gw.connect(json_answer(answer))
    resp = await gw.client.post(f"/v1beta/models/{MODEL}:countTokens", json=GEMINI_BODY)
    assert resp.status == 500
    assert await resp.read() == (b'{"error":{"message":"wsrelay: totalTokens missing in response",'
                                 b'"type":"server_error","code":"internal_server_error"}}')
    assert len(relay.requests) == 1


async def test_the_canvas_fix_precedes_the_rules_on_a_count(relay_gateway: MakeGateway) -> None:
    # aistudio_executor.go:400-401: the shared builder makes the canvas fix before the payload
    # rules, so a ratio only a rule sets draws no canvas into the counted contents.
    model = "gemini-2.5-flash-image-preview"
    rule = (f"payload:\n  override:\n    - models:\n        - name: {model}\n          protocol: gemini\n"
            "      params:\n        \"generationConfig.imageConfig.aspectRatio\": \"16:9\"\n")
    gw = await relay_gateway(rule)
    relay = await gw.connect(json_answer({"totalTokens": 3}))
    contents = [{"role": "user", "parts": [{"text": "a cat"}]}]
    resp = await gw.client.post(f"/v1beta/models/{model}:countTokens", json={"contents": contents})
    assert resp.status == 200
    assert orjson.loads(relay.requests[0]["payload"]["body"]) == {"contents": contents}
