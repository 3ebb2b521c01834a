"""An upstream error event inside a 200 stream, on same-protocol routes.

Mid-stream, CLIProxyAPI relays such an event like any other line (Claude: claude_executor.go:321-345;
OpenAI-compatible and Gemini: their passthrough translators), so the client gets the provider's
own error, type included, and nothing framed by the proxy after it (OpenAI chat: the handler's
``[DONE]`` when the stream closes). Before any payload went out the error stays the gateway's:
another credential may still serve, and the last failure is answered as JSON with its status.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from tests.handlers.inference.test_faults import (
    CLAUDE_MODEL,
    COMPAT_MODEL,
    GEMINI_BODY,
    GEMINI_MODEL,
    MakeGateway,
    chat,
    claude,
    upstreams_config,
)

CLAUDE_HEAD = (b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message",'
               b'"role":"assistant","model":"m","content":[],"stop_reason":null,"stop_sequence":null,'
               b'"usage":{"input_tokens":1,"output_tokens":1}}}\n\n'
               b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
               b'"content_block":{"type":"text","text":""}}\n\n'
               b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
               b'"delta":{"type":"text_delta","text":"hi"}}\n\n')
CLAUDE_ERROR = b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
OPENAI_CHUNK = (b'{"id":"c1","object":"chat.completion.chunk","created":1,"model":"upstream-model",'
                b'"choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}')
OPENAI_ERROR = b'{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}'
GEMINI_CHUNK = b'{"candidates":[{"content":{"role":"model","parts":[{"text":"hi"}]},"index":0}]}'
GEMINI_ERROR = b'{"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}'


class ErrorStreams:
    """Each upstream kind answers 200 with a stream whose error event comes after ``head`` frames
    (none: the error is the first event)."""

    def __init__(self) -> None:
        self.with_head = True
        self.calls = 0
        self.runner: web.AppRunner | None = None
        self.root = ""

    async def _stream(self, request: web.Request, head: bytes, error: bytes) -> web.StreamResponse:
        await request.read()
        self.calls += 1
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        if self.with_head:
            await response.write(head)
        await response.write(error)
        await response.write_eof()
        return response

    async def claude(self, request: web.Request) -> web.StreamResponse:
        return await self._stream(request, CLAUDE_HEAD, b"event: error\ndata: " + CLAUDE_ERROR + b"\n\n")

    async def openai(self, request: web.Request) -> web.StreamResponse:
        return await self._stream(request, b"data: " + OPENAI_CHUNK + b"\n\n", b"data: " + OPENAI_ERROR + b"\n\n")

    async def gemini(self, request: web.Request) -> web.StreamResponse:
        return await self._stream(request, b"data: " + GEMINI_CHUNK + b"\n\n", b"data: " + GEMINI_ERROR + b"\n\n")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/messages", self.claude)
        app.router.add_post("/v1/chat/completions", self.openai)
        app.router.add_post("/v1beta/models/{action}", self.gemini)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.root = f"http://127.0.0.1:{self.runner.addresses[0][1]}"


@pytest.fixture
async def upstream() -> AsyncIterator[ErrorStreams]:
    streams = ErrorStreams()
    await streams.start()
    yield streams
    assert streams.runner is not None
    await streams.runner.cleanup()


CASES: dict[str, tuple[str, Any, bytes]] = {
    "claude": ("/v1/messages", claude(CLAUDE_MODEL, stream=True), b"event: error\ndata: " + CLAUDE_ERROR + b"\n\n"),
    "openai-compatible": ("/v1/chat/completions", chat(COMPAT_MODEL, stream=True),
                          b"data: " + OPENAI_ERROR + b"\n\ndata: [DONE]\n\n"),
    "gemini": (f"/v1beta/models/{GEMINI_MODEL}:streamGenerateContent?alt=sse", GEMINI_BODY,
               b"data: " + GEMINI_ERROR + b"\n\n"),
}


async def test_a_chat_client_gets_a_claude_error_event_as_an_openai_error_chunk_then_done(
        gateway: MakeGateway, upstream: ErrorStreams) -> None:
    # claude_openai_response.go:225-233: message and type, then the handler's [DONE].
    client = await gateway(upstreams_config(upstream.root))
    resp = await client.post("/v1/chat/completions", json=chat(CLAUDE_MODEL, stream=True))
    assert resp.status == 200
    text = await resp.read()
    assert text.endswith(b'data: {"error":{"message":"Overloaded","type":"overloaded_error"}}\n\n'
                         b"data: [DONE]\n\n"), text[-300:]
    assert b'"content":"hi"' in text
    assert text.count(b"\"error\"") == 1


@pytest.mark.parametrize("kind", list(CASES))
async def test_a_mid_stream_error_event_reaches_the_client_as_the_upstream_wrote_it(
        gateway: MakeGateway, upstream: ErrorStreams, kind: str) -> None:
    path, body, tail = CASES[kind]
    client = await gateway(upstreams_config(upstream.root))
    resp = await client.post(path, json=body)
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "text/event-stream"
    text = await resp.read()
    assert text.endswith(tail), text[-300:]
    assert b"hi" in text
    assert text.count(b"error") == tail.count(b"error")  # the upstream's, and nothing of ours
    assert upstream.calls == 1


async def test_an_error_event_before_any_payload_is_still_the_gateways(gateway: MakeGateway,
                                                                       upstream: ErrorStreams) -> None:
    upstream.with_head = False
    client = await gateway(upstreams_config(upstream.root, "streaming:\n  bootstrap-retries: 1\n"))
    path, body, _ = CASES["claude"]
    resp = await client.post(path, json=body)
    # Retried before any byte went out (streaming.bootstrap-retries), then the last failure as JSON
    # with the status Anthropic's error type stands for.
    assert upstream.calls == 2
    assert resp.status == 529
    assert resp.headers["Content-Type"].startswith("application/json")
    assert json.loads(await resp.read()) == json.loads(CLAUDE_ERROR)


@pytest.mark.parametrize("kind", list(CASES))
async def test_an_error_event_after_payload_leaves_the_credential_serving(
        gateway: MakeGateway, upstream: ErrorStreams, kind: str) -> None:
    """The legacy reads a mid-stream error event as one more line of a stream that succeeded
    (conductor.go:709-725 marks a failure only for a read error): with one key, the next request
    still goes upstream."""
    path, body, _ = CASES[kind]
    client = await gateway(upstreams_config(upstream.root))
    assert (await client.post(path, json=body)).status == 200
    assert (await client.post(path, json=body)).status == 200
    assert upstream.calls == 2


async def test_a_quota_error_event_after_payload_still_cools_the_credential(
        gateway: MakeGateway, upstream: ErrorStreams, monkeypatch: pytest.MonkeyPatch) -> None:
    # Google's 429 in-band: the next call would fail the same way, so the key rests (1 s first).
    quota = b'{"error":{"code":429,"message":"Resource has been exhausted","status":"RESOURCE_EXHAUSTED"}}'
    monkeypatch.setattr(sys.modules[__name__], "GEMINI_ERROR", quota)
    path, body, _ = CASES["gemini"]
    client = await gateway(upstreams_config(upstream.root))
    first = await client.post(path, json=body)
    assert first.status == 200
    assert (await first.read()).endswith(b"data: " + quota + b"\n\n")
    again = await client.post(path, json=body)
    assert again.status == 429
    assert "Retry-After" in again.headers
    assert upstream.calls == 1
