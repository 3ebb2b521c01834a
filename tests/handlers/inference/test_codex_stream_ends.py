"""How a Codex stream that does not end with ``response.completed`` reaches each client.

The legacy Codex executor relays every upstream line and has no in-band error check
(codex_executor.go:282-304); its non-stream call looks for ``response.completed`` and answers 408
without one (codex_executor.go:160-183):

- ``response.incomplete`` is the Responses API's own end for a cut answer: a stream client gets
  what came and the stream's normal end, no error frame of ours (compatibility row 4 is for
  streams cut short); a non-stream client gets the legacy's 408.
- ``response.failed`` after payload reaches a Responses client as the upstream wrote it, under its
  own event name, then the stream's end.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.handlers.inference.test_faults import JSON, MakeGateway, chat, claude, error_body, responses

MODEL = "gpt-5.1-codex"
RESPONSE = {"id": "resp_1", "object": "response", "created_at": 1, "model": MODEL, "output": []}


def event(name: str, payload: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(payload, separators=(',', ':'))}\n\n".encode()


OPENING = [
    event("response.created", {"type": "response.created", "sequence_number": 0,
                               "response": {**RESPONSE, "status": "in_progress"}}),
    event("response.in_progress", {"type": "response.in_progress", "sequence_number": 1,
                                   "response": {**RESPONSE, "status": "in_progress"}}),
    event("response.output_text.delta", {"type": "response.output_text.delta", "sequence_number": 2,
                                         "item_id": "msg_1", "output_index": 0, "content_index": 0,
                                         "delta": "Hel"}),
]
INCOMPLETE = event("response.incomplete", {
    "type": "response.incomplete", "sequence_number": 3,
    "response": {**RESPONSE, "status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}}})
FAILED = event("response.failed", {
    "type": "response.failed", "sequence_number": 3,
    "response": {**RESPONSE, "status": "failed", "error": {"code": "server_error", "message": "boom"}}})
TRUNCATED = "stream error: stream disconnected before completion: stream closed before response.completed"


@pytest.fixture
async def codex_upstream() -> AsyncIterator[tuple[str, list[bytes]]]:
    """A Codex upstream answering every call with the frames in the list (set by the test)."""
    frames: list[bytes] = []

    async def answer(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for frame in frames:
            await response.write(frame)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/v1/responses", answer)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield f"http://127.0.0.1:{server.port}", frames
    await server.close()


def config(root: str) -> str:
    return f"codex-api-key:\n  - api-key: sk-codex\n    base-url: {root}/v1\n"


async def answer(gateway: MakeGateway, upstream: tuple[str, list[bytes]], last: bytes, path: str,
                 body: dict[str, Any]) -> tuple[int, str, bytes]:
    """Status, Content-Type and body of one request whose Codex stream ends with ``last``."""
    root, frames = upstream
    frames[:] = [*OPENING, last]
    client = await gateway(config(root))
    resp = await client.post(path, json=body)
    return resp.status, resp.headers["Content-Type"], await resp.read()


def relayed(last: bytes) -> bytes:
    """Each upstream frame as it came (a blank line before each event, as the legacy writes it),
    then the stream's own end."""
    return b"".join(b"\n" + frame.rstrip(b"\n") + b"\n" for frame in [*OPENING, last]) + b"\n"


async def test_a_responses_stream_ending_incomplete_ends_as_the_upstream_ended_it(
        gateway: MakeGateway, codex_upstream: tuple[str, list[bytes]]) -> None:
    status, _, raw = await answer(gateway, codex_upstream, INCOMPLETE, "/v1/responses",
                                  responses(MODEL, stream=True))
    assert (status, raw) == (200, relayed(INCOMPLETE))


@pytest.mark.parametrize(("path", "body", "tail"), [
    ("/v1/chat/completions", chat(MODEL, stream=True), b"data: [DONE]\n\n"),
    ("/v1/messages", claude(MODEL, stream=True), b""),
])
async def test_other_clients_get_a_clean_end_after_incomplete(
        gateway: MakeGateway, codex_upstream: tuple[str, list[bytes]], path: str, body: dict[str, Any],
        tail: bytes) -> None:
    status, _, raw = await answer(gateway, codex_upstream, INCOMPLETE, path, body)
    assert status == 200
    assert b"event: error" not in raw and b'"error"' not in raw
    assert raw.endswith(tail)
    assert b"Hel" in raw


async def test_a_non_stream_answer_without_completed_is_the_legacy_408(
        gateway: MakeGateway, codex_upstream: tuple[str, list[bytes]]) -> None:
    status, content_type, raw = await answer(gateway, codex_upstream, INCOMPLETE, "/v1/chat/completions",
                                             chat(MODEL))
    assert (status, content_type, raw) == (408, JSON, error_body(TRUNCATED))


async def test_a_responses_stream_failing_after_payload_gets_the_failure_as_written(
        gateway: MakeGateway, codex_upstream: tuple[str, list[bytes]]) -> None:
    status, _, raw = await answer(gateway, codex_upstream, FAILED, "/v1/responses", responses(MODEL, stream=True))
    assert (status, raw) == (200, relayed(FAILED))
    assert b"event: error" not in raw


FAILURE_BODY = b'{"error":{"code":"server_error","message":"boom"}}'


async def test_a_chat_stream_failing_after_payload_gets_an_error_frame_it_can_read(
        gateway: MakeGateway, codex_upstream: tuple[str, list[bytes]]) -> None:
    # Compatibility row 50a: the failure's own error object, in the frame the SDKs raise on.
    status, _, raw = await answer(gateway, codex_upstream, FAILED, "/v1/chat/completions", chat(MODEL, stream=True))
    assert status == 200 and b"Hel" in raw
    assert raw.endswith(b"data: " + FAILURE_BODY + b"\n\n")
    assert b"response.failed" not in raw


@pytest.mark.parametrize(("path", "body"), [
    ("/v1/chat/completions", chat(MODEL)),
    (f"/v1beta/models/{MODEL}:generateContent", {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}),
])
async def test_a_non_stream_failure_answers_with_the_failure(
        gateway: MakeGateway, codex_upstream: tuple[str, list[bytes]], path: str, body: dict[str, Any]) -> None:
    # Every client, the Gemini one included (it reads the whole stream in one call): the
    # failure, not the 408 for a stream that was cut.
    status, _, raw = await answer(gateway, codex_upstream, FAILED, path, body)
    assert (status, raw) == (500, FAILURE_BODY)
