"""A stream that reaches its upstream's end on purpose while the client's translator rendered
nothing at all: the legacy's Gemini handler answers 200 with its stream headers and no body
(gemini_handlers.go:216-223), not an error."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import web

from tests.handlers.inference.test_faults import MakeGateway

# The role chunk alone, then [DONE]: the stream ended on purpose, and the OpenAI → Gemini
# translator renders nothing for a role without text, calls or a finish reason.
ROLE_ONLY = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "up",
             "choices": [{"index": 0, "finish_reason": None, "delta": {"role": "assistant"}}]}
# The tool call and its finish in one chunk (row 19w: the legacy held the call and never sent it).
CALL_AND_FINISH = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "up",
                   "choices": [{"index": 0, "finish_reason": "tool_calls", "delta": {
                       "role": "assistant", "tool_calls": [{"index": 0, "id": "a", "type": "function",
                                                            "function": {"name": "f", "arguments": "{}"}}]}}]}


def _upstream(chunk: dict[str, Any]) -> Any:
    async def chat(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    return chat


async def _serve(gateway: MakeGateway, aiohttp_server: Any, chunk: dict[str, Any], query: str) -> bytes:
    app = web.Application()
    app.router.add_post("/v1/chat/completions", _upstream(chunk))
    upstream = await aiohttp_server(app)
    root = str(upstream.make_url("")).rstrip("/")
    client = await gateway(f"openai-compatibility:\n  - name: local\n    base-url: {root}/v1\n"
                           "    api-key-entries: [{api-key: k}]\n    models: [{name: up, alias: up}]\n")
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    resp = await client.post(f"/v1beta/models/up:streamGenerateContent{query}", json=body)
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "text/event-stream"
    return await resp.read()


@pytest.mark.parametrize("query", ["", "?alt=sse"])
async def test_a_finished_stream_with_nothing_to_render_is_an_empty_200(
        gateway: MakeGateway, aiohttp_server: Any, query: str) -> None:
    assert await _serve(gateway, aiohttp_server, ROLE_ONLY, query) == b""


async def test_a_call_and_its_finish_in_one_chunk_reach_the_gemini_client(
        gateway: MakeGateway, aiohttp_server: Any) -> None:
    raw = await _serve(gateway, aiohttp_server, CALL_AND_FINISH, "?alt=sse")
    assert raw == (b'data: {"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","args":{}}}],'
                   b'"role":"model"},"index":0,"finishReason":"STOP"}],"model":"up"}\n\n')
