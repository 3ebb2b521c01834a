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

from tests.fakes.loopback import serve_on_loopback
from tests.handlers.inference.test_faults import (
    CLAUDE_MODEL,
    COMPAT_MODEL,
    GEMINI_BODY,
    GEMINI_MODEL,
    MakeGateway,
    chat,
    claude,
    freeze_rotation_clock,
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
OPENAI_ERROR = b'{"error":{"message":"The server had an error","type":"server_error","code":null}}'
OPENAI_QUOTA = b'{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}'
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
        self.runner, self.root = await serve_on_loopback(app)


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
    freeze_rotation_clock(client)  # the 1 s rest must outlast the next request
    first = await client.post(path, json=body)
    assert first.status == 200
    assert (await first.read()).endswith(b"data: " + quota + b"\n\n")
    again = await client.post(path, json=body)
    assert again.status == 429
    assert "Retry-After" in again.headers
    assert upstream.calls == 1


RATE_LIMITED = b'{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}'


class KeyedErrorStreams(ErrorStreams):
    """The Claude stream of the keys in ``limited`` (None: the first key called) opens with a
    ``rate_limit_error`` event; the others answer normally. ``keys`` records each call's key."""

    def __init__(self, limited: set[str] | None) -> None:
        super().__init__()
        self.limited = limited
        self.keys: list[str] = []

    async def claude(self, request: web.Request) -> web.StreamResponse:
        # Off api.anthropic.com the key goes as a Bearer token (claude_executor.go applyClaudeHeaders).
        key = request.headers.get("x-api-key") or request.headers.get("Authorization", "").removeprefix("Bearer ")
        self.keys.append(key)
        if self.limited is None:
            self.limited = {key}
        if key in self.limited:
            return await self._stream(request, b"", b"event: error\ndata: " + RATE_LIMITED + b"\n\n")
        tail = (b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
                b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},'
                b'"usage":{"output_tokens":1}}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n')
        return await self._stream(request, CLAUDE_HEAD, tail)


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/chat/completions"])
async def test_a_rate_limit_event_before_any_payload_moves_to_the_next_credential(
        gateway: MakeGateway, path: str) -> None:
    """A quota error is a credential problem: it does not reach the client while another key can
    serve, as a 429 status would not, with ``bootstrap-retries`` at its default 0."""
    upstream = KeyedErrorStreams(None)
    await upstream.start()
    try:
        client = await gateway(upstreams_config(upstream.root, claude_keys=("sk-a", "sk-b")))
        freeze_rotation_clock(client)  # the 1 s rest must outlast the next request
        body = claude(CLAUDE_MODEL, stream=True) if path == "/v1/messages" else chat(CLAUDE_MODEL, stream=True)
        resp = await client.post(path, json=body)
        assert resp.status == 200
        text = await resp.read()
        assert b"hi" in text and b"error" not in text
        assert sorted(upstream.keys) == ["sk-a", "sk-b"]
        # The rate-limited key rests: the next request goes straight to the other one.
        assert (await client.post(path, json=body)).status == 200
        assert upstream.keys[2:] == upstream.keys[1:2]
    finally:
        assert upstream.runner is not None
        await upstream.runner.cleanup()


async def test_a_rate_limit_event_on_every_credential_is_answered_with_the_upstreams_429(
        gateway: MakeGateway) -> None:
    upstream = KeyedErrorStreams({"sk-a", "sk-b"})
    await upstream.start()
    try:
        client = await gateway(upstreams_config(upstream.root, claude_keys=("sk-a", "sk-b")))
        resp = await client.post("/v1/messages", json=claude(CLAUDE_MODEL, stream=True))
        assert resp.status == 429
        assert resp.headers["Content-Type"].startswith("application/json")
        assert json.loads(await resp.read()) == json.loads(RATE_LIMITED)
        assert sorted(upstream.keys) == ["sk-a", "sk-b"]
    finally:
        assert upstream.runner is not None
        await upstream.runner.cleanup()


async def test_openais_own_quota_error_event_first_is_a_429(gateway: MakeGateway, upstream: ErrorStreams,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """OpenAI names the rate limit by ``code`` (``type`` is ``requests``): with nothing sent yet
    the client gets it as JSON with 429, and the key rests."""
    upstream.with_head = False
    monkeypatch.setattr(sys.modules[__name__], "OPENAI_ERROR", OPENAI_QUOTA)
    path, body, _ = CASES["openai-compatible"]
    client = await gateway(upstreams_config(upstream.root))
    freeze_rotation_clock(client)  # the 1 s rest must outlast the next request
    resp = await client.post(path, json=body)
    assert resp.status == 429
    assert json.loads(await resp.read()) == json.loads(OPENAI_QUOTA)
    again = await client.post(path, json=body)
    assert again.status == 429 and "Retry-After" in again.headers
    assert upstream.calls == 1
