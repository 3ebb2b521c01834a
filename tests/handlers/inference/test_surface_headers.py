"""Response headers and the stream decision of the client inference routes, as a client sees them.

Surface reference §6 and §9: a stream answer carries exactly the four headers the legacy handlers
set (no ``X-Accel-Buffering``), a non-stream answer ``Content-Type: application/json`` without a
charset, and nothing the upstream sent in its headers reaches the client on success either (the
executors hand on only the body). The OpenAI routes stream only for a JSON ``true``.
Go at 9b72ea9ef: openai_handlers.go:113,168,462-466,567-571; openai_responses_handlers.go:86,144-148;
code_handlers.go:80-85,214-218; gemini_handlers.go:189-193; gemini-cli_handlers.go:138-142.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.fakes.llm_upstream import FakeLLM, status
from tests.handlers.inference.test_faults import (
    CLAUDE_MODEL,
    COMPAT_MODEL,
    GEMINI_BODY,
    GEMINI_MODEL,
    JSON,
    MakeGateway,
    chat,
    claude,
    completions,
    responses,
    upstreams_config,
)

# What a provider typically adds to an answer: rate-limit counters, its own ids, a cookie.
UPSTREAM_HEADERS = {
    "X-RateLimit-Remaining-Requests": "5",
    "Anthropic-Ratelimit-Requests-Limit": "50",
    "Request-Id": "req_upstream",
    "Openai-Processing-Ms": "12",
    "Set-Cookie": "session=upstream",
    "X-Upstream-Only": "1",
}

SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "Connection": "keep-alive",
               "Access-Control-Allow-Origin": "*"}

GEMINI_CLI_BODY = {"model": GEMINI_MODEL, "project": "p", "request": GEMINI_BODY}

STREAM_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("/v1/chat/completions", chat(COMPAT_MODEL, stream=True)),
    ("/v1/completions", completions(COMPAT_MODEL, stream=True)),
    ("/v1/responses", responses(COMPAT_MODEL, stream=True)),
    ("/v1/messages", claude(CLAUDE_MODEL, stream=True)),
    (f"/v1beta/models/{GEMINI_MODEL}:streamGenerateContent", GEMINI_BODY),
    (f"/v1beta/models/{GEMINI_MODEL}:streamGenerateContent?alt=sse", GEMINI_BODY),
    ("/v1internal:streamGenerateContent", GEMINI_CLI_BODY),
]


def _no_upstream_headers(headers: Any) -> None:
    for name in UPSTREAM_HEADERS:
        assert name not in headers, name
    assert "X-Accel-Buffering" not in headers


@pytest.mark.parametrize(("path", "body"), STREAM_CALLS)
async def test_a_stream_answer_has_the_four_sse_headers(gateway: MakeGateway, fake_llm: FakeLLM, path: str,
                                                        body: dict[str, Any]) -> None:
    client = await gateway(upstreams_config(fake_llm.root))
    resp = await client.post(path, json=body)
    assert resp.status == 200
    for name, value in SSE_HEADERS.items():
        assert resp.headers[name] == value, name
    _no_upstream_headers(resp.headers)
    assert (await resp.read()).startswith((b"data: ", b"event: ", b"\nevent: "))


CLAUDE_ANSWER = {"id": "msg_up", "type": "message", "role": "assistant", "model": CLAUDE_MODEL,
                 "content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn", "stop_sequence": None,
                 "usage": {"input_tokens": 1, "output_tokens": 1}}
COMPAT_ANSWER = {"id": "c1", "object": "chat.completion", "created": 1, "model": "upstream-model",
                 "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}]}
GEMINI_ANSWER = {"candidates": [{"content": {"role": "model", "parts": [{"text": "hi"}]}, "finishReason": "STOP"}]}


@pytest.mark.parametrize(("key", "answer", "path", "body"), [
    ("sk-claude", CLAUDE_ANSWER, "/v1/messages", claude(CLAUDE_MODEL)),
    ("sk-compat", COMPAT_ANSWER, "/v1/chat/completions", chat(COMPAT_MODEL)),
    ("sk-compat", COMPAT_ANSWER, "/v1/completions", completions(COMPAT_MODEL)),
    ("sk-compat", COMPAT_ANSWER, "/v1/responses", responses(COMPAT_MODEL)),
    ("sk-gemini", GEMINI_ANSWER, f"/v1beta/models/{GEMINI_MODEL}:generateContent", GEMINI_BODY),
    ("sk-gemini", GEMINI_ANSWER, "/v1/chat/completions", chat(GEMINI_MODEL)),
])
async def test_a_non_stream_answer_keeps_the_upstreams_headers_upstream(
        gateway: MakeGateway, fake_llm: FakeLLM, key: str, answer: dict[str, Any], path: str,
        body: dict[str, Any]) -> None:
    client = await gateway(upstreams_config(fake_llm.root))
    fake_llm.script(key, status(200, answer, UPSTREAM_HEADERS))
    resp = await client.post(path, json=body)
    assert resp.status == 200
    assert resp.headers["Content-Type"] == JSON
    _no_upstream_headers(resp.headers)
    assert "Cache-Control" not in resp.headers
    assert json.loads(await resp.read())


CLAUDE_STREAM = b"".join(
    b"event: " + name.encode() + b"\ndata: " + json.dumps(data).encode() + b"\n\n" for name, data in [
        ("message_start", {"type": "message_start", "message": {**CLAUDE_ANSWER, "content": [],
                                                                 "stop_reason": None}}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "text", "text": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "text_delta", "text": "hi"}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                           "usage": {"output_tokens": 1}}),
        ("message_stop", {"type": "message_stop"}),
    ])


async def test_a_stream_answer_keeps_the_upstreams_headers_upstream(gateway: MakeGateway,
                                                                   fake_llm: FakeLLM) -> None:
    client = await gateway(upstreams_config(fake_llm.root))
    fake_llm.script("sk-claude", status(200, CLAUDE_STREAM,
                                        {**UPSTREAM_HEADERS, "Content-Type": "text/event-stream; charset=utf-8",
                                         "Cache-Control": "no-store", "X-Accel-Buffering": "no"}))
    resp = await client.post("/v1/messages", json=claude(CLAUDE_MODEL, stream=True))
    assert resp.status == 200
    for name, value in SSE_HEADERS.items():
        assert resp.headers[name] == value, name
    _no_upstream_headers(resp.headers)
    # Claude to Claude: the events go on as they came.
    assert await resp.read() == CLAUDE_STREAM


@pytest.mark.parametrize("stream", ["true", 1, "yes", {}, None, False])
@pytest.mark.parametrize("route", ["chat", "completions", "responses"])
async def test_the_openai_routes_stream_only_for_json_true(gateway: MakeGateway, fake_llm: FakeLLM, route: str,
                                                           stream: Any) -> None:
    """``gjson ... Type == gjson.True``: a string, a number or an object is a non-stream request
    (unlike ``/v1/messages``, which streams for anything but JSON false)."""
    make = {"chat": chat, "completions": completions, "responses": responses}[route]
    client = await gateway(upstreams_config(fake_llm.root))
    resp = await client.post(f"/v1/{route.replace('chat', 'chat/completions')}", json=make(GEMINI_MODEL, stream=stream))
    assert resp.status == 200
    assert resp.headers["Content-Type"] == JSON
    answer = json.loads(await resp.read())
    assert answer["object"] == {"chat": "chat.completion", "completions": "text_completion",
                                "responses": "response"}[route]
    [sent] = fake_llm.requests
    assert sent.path == f"/v1beta/models/{GEMINI_MODEL}:generateContent"

    fake_llm.requests.clear()
    resp = await client.post(f"/v1/{route.replace('chat', 'chat/completions')}", json=make(GEMINI_MODEL, stream=True))
    assert resp.headers["Content-Type"] == "text/event-stream"
    await resp.read()
    [sent] = fake_llm.requests
    assert sent.path == f"/v1beta/models/{GEMINI_MODEL}:streamGenerateContent"
