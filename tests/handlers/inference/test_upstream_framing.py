"""Legitimate variations in how an upstream frames its answer, over HTTP, per upstream kind.

The legacy reads every upstream stream with a ``bufio.Scanner`` line by line (50 MB lines;
``\\r`` before ``\\n`` dropped) and hands each ``data:`` line, prefix and all, to a translator that
strips ``data:`` and surrounding space (openai_compat_executor.go:256-277,
claude_executor.go:349-372, gemini_executor.go:299-316, codex_executor.go:279-300). So CRLF
framing (what Google sends), ``data:`` without its space, comment and ``event:`` lines, a missing
``[DONE]``, compression and chunk boundaries change nothing: each test compares the client's
answer to a variant upstream body with its answer to the plain body, byte for byte.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from tests.fakes.loopback import serve_on_loopback
from tests.handlers.inference.test_faults import (
    CLAUDE_MODEL,
    CODEX_MODEL,
    COMPAT_MODEL,
    GEMINI_MODEL,
    MakeGateway,
    upstreams_config,
)


class Upstream:
    """Answers every call with ``body`` under ``headers``, written in ``pieces`` writes."""

    def __init__(self) -> None:
        self.body = b""
        self.headers: dict[str, str] = {}
        self.pieces = 1
        self.root = ""
        self.runner: web.AppRunner | None = None

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", **self.headers})
        await response.prepare(request)
        step = max(1, -(-len(self.body) // self.pieces))
        for start in range(0, len(self.body), step):
            await response.write(self.body[start:start + step])
        await response.write_eof()
        return response

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("POST", "/{tail:.*}", self._answer)
        self.runner, self.root = await serve_on_loopback(app)


@pytest.fixture
async def up() -> AsyncIterator[Upstream]:
    upstream = Upstream()
    await upstream.start()
    yield upstream
    assert upstream.runner is not None
    await upstream.runner.cleanup()


def _frames(payloads: list[Any], *, named: bool = False, sep: bytes = b"\n\n", prefix: bytes = b"data: ") -> bytes:
    out = b""
    for payload in payloads:
        if named:
            out += f"event: {payload['type']}\n".encode()
        out += prefix + (payload if isinstance(payload, bytes) else json.dumps(payload).encode()) + sep
    return out


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1700000001, "model": "up-m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


COMPAT = [_chunk({"role": "assistant", "content": ""}), _chunk({"content": "Hel"}), _chunk({"content": "lo"}),
          _chunk({}, "stop"),
          {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1700000001, "model": "up-m",
           "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}},
          b"[DONE]"]
GEMINI = [{"candidates": [{"content": {"role": "model", "parts": [{"text": "Hel"}]}, "index": 0}],
           "modelVersion": "gemini-2.5-flash", "responseId": "r-1"},
          {"candidates": [{"content": {"role": "model", "parts": [{"text": "lo"}]}, "index": 0}],
           "modelVersion": "gemini-2.5-flash", "responseId": "r-1"},
          {"candidates": [{"finishReason": "STOP", "index": 0}],
           "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 2, "totalTokenCount": 6},
           "modelVersion": "gemini-2.5-flash", "responseId": "r-1"}]
CLAUDE = [{"type": "message_start", "message": {
              "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x", "content": [],
              "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 10, "output_tokens": 1}}},
          {"type": "ping"},
          {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
          {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
          {"type": "content_block_stop", "index": 0},
          {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
           "usage": {"output_tokens": 5}},
          {"type": "message_stop"}]
_RESPONSE = {"id": "resp_1", "object": "response", "created_at": 1700000000, "model": "gpt-5", "output": []}
CODEX = [{"type": "response.created", "response": {**_RESPONSE, "status": "in_progress"}},
         {"type": "response.output_item.added", "output_index": 0,
          "item": {"id": "msg_1", "type": "message", "status": "in_progress", "role": "assistant", "content": []}},
         {"type": "response.content_part.added", "item_id": "msg_1", "output_index": 0, "content_index": 0,
          "part": {"type": "output_text", "text": "", "annotations": []}},
         {"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0, "content_index": 0,
          "delta": "Hi"},
         {"type": "response.completed", "response": {
             **_RESPONSE, "status": "completed",
             "usage": {"input_tokens": 7, "output_tokens": 3, "total_tokens": 10}}}]

CHAT = ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "stream": True})
MESSAGES = ("/v1/messages", {"max_tokens": 64, "messages": [{"role": "user", "content": "hi"}], "stream": True})
RESPONSES = ("/v1/responses", {"input": "hi", "stream": True})


_CLOCK = re.compile(rb'"(created|created_at)":\d+')


async def _answer(gateway: MakeGateway, up: Upstream, model: str, client: tuple[str, dict[str, Any]],
                  body: bytes, headers: dict[str, str] | None = None, pieces: int = 1) -> bytes:
    """The client's answer, with the gateway's own clock readings set to 0.

    Translations that make a timestamp (``created_at`` of a Responses stream made from a Claude
    one, ``created`` of a chat chunk made from Gemini) read the clock, so two answers a second
    boundary apart differ there and nowhere else.
    """
    up.body, up.headers, up.pieces = body, headers or {}, pieces
    gw = await gateway(upstreams_config(up.root))  # a fresh one: no cooldown carries over
    path, payload = client
    resp = await gw.post(path, json={"model": model, **payload})
    raw = await resp.read()
    assert resp.status == 200, raw
    return _CLOCK.sub(rb'"\1":0', raw)


# (id, model, client, plain body, variant body, variant headers, writes)
VARIANTS: list[tuple[str, str, tuple[str, dict[str, Any]], bytes, bytes, dict[str, str], int]] = [
    ("compat-crlf", COMPAT_MODEL, MESSAGES, _frames(COMPAT), _frames(COMPAT, sep=b"\r\n\r\n"), {}, 1),
    ("compat-crlf-byte-by-byte", COMPAT_MODEL, RESPONSES, _frames(COMPAT), _frames(COMPAT, sep=b"\r\n\r\n"), {},
     len(_frames(COMPAT, sep=b"\r\n\r\n"))),
    ("compat-data-without-space", COMPAT_MODEL, MESSAGES, _frames(COMPAT), _frames(COMPAT, prefix=b"data:"), {}, 1),
    ("compat-comments-and-event-lines", COMPAT_MODEL, RESPONSES, _frames(COMPAT),
     b": OPENROUTER PROCESSING\n\n" + _frames(COMPAT).replace(b"data: ", b"event: message\ndata: ")
     + b": keep-alive\n\n", {}, 3),
    ("compat-no-done", COMPAT_MODEL, MESSAGES, _frames(COMPAT), _frames(COMPAT[:-1]), {}, 1),
    ("compat-gzip-charset", COMPAT_MODEL, CHAT, _frames(COMPAT), gzip.compress(_frames(COMPAT)),
     {"Content-Encoding": "gzip", "Content-Type": "text/event-stream; charset=utf-8"}, 4),
    ("gemini-crlf", GEMINI_MODEL, CHAT, _frames(GEMINI), _frames(GEMINI, sep=b"\r\n\r\n"), {}, 1),
    ("gemini-crlf-data-without-space", GEMINI_MODEL, MESSAGES, _frames(GEMINI),
     _frames(GEMINI, sep=b"\r\n\r\n", prefix=b"data:"), {}, 2),
    ("claude-crlf", CLAUDE_MODEL, RESPONSES, _frames(CLAUDE, named=True),
     _frames(CLAUDE, named=True).replace(b"\n", b"\r\n"), {}, 1),
    ("codex-crlf", CODEX_MODEL, MESSAGES, _frames(CODEX, named=True),
     _frames(CODEX, named=True).replace(b"\n", b"\r\n"), {}, 1),
]


@pytest.mark.parametrize(("model", "client", "plain", "variant", "headers", "pieces"),
                         [case[1:] for case in VARIANTS], ids=[case[0] for case in VARIANTS])
async def test_a_framing_variant_gives_the_same_answer(
        gateway: MakeGateway, up: Upstream, model: str, client: tuple[str, dict[str, Any]], plain: bytes,
        variant: bytes, headers: dict[str, str], pieces: int) -> None:
    expected = await _answer(gateway, up, model, client, plain)
    assert await _answer(gateway, up, model, client, variant, headers, pieces) == expected


async def test_a_tool_call_argument_longer_than_64_kib_arrives_whole(gateway: MakeGateway, up: Upstream) -> None:
    # One SSE line of ~200 KB (a big tool argument or a base64 image): the legacy's scanners take
    # lines up to 50 MB.
    args = json.dumps({"blob": "A" * 200_000})
    body = _frames([_chunk({"role": "assistant", "content": None, "tool_calls": [
        {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": args}}]}),
        _chunk({}, "tool_calls"), b"[DONE]"])
    raw = await _answer(gateway, up, COMPAT_MODEL, MESSAGES, body, pieces=7)
    deltas = [json.loads(line[6:]) for line in raw.split(b"\n") if b'"input_json_delta"' in line]
    assert [d["delta"]["partial_json"] for d in deltas] == [args]


# Events whose ``data:`` lines follow each other without the blank line between them: the SSE
# rules join them into one event's data, which is no JSON value, so the answer was lost (500
# "upstream stream closed before …"); the legacy reads each line on its own.
SINGLE_NEWLINE: list[tuple[str, str, tuple[str, dict[str, Any]], list[Any], bool]] = [
    ("compat-to-claude", COMPAT_MODEL, MESSAGES, COMPAT, False),
    ("compat-to-chat", COMPAT_MODEL, CHAT, COMPAT, False),
    ("gemini-to-responses", GEMINI_MODEL, RESPONSES, GEMINI, False),
    ("claude-to-claude", CLAUDE_MODEL, MESSAGES, CLAUDE, True),
    ("codex-to-chat", CODEX_MODEL, CHAT, CODEX, True),
]


@pytest.mark.parametrize(("model", "client", "payloads", "named"), [case[1:] for case in SINGLE_NEWLINE],
                         ids=[case[0] for case in SINGLE_NEWLINE])
async def test_events_without_blank_lines_between_them_are_read_line_by_line(
        gateway: MakeGateway, up: Upstream, model: str, client: tuple[str, dict[str, Any]], payloads: list[Any],
        named: bool) -> None:
    expected = await _answer(gateway, up, model, client, _frames(payloads, named=named))
    assert await _answer(gateway, up, model, client, _frames(payloads, named=named, sep=b"\n")) == expected


async def test_a_multi_line_data_field_that_is_not_json_per_line_stays_one_event(
        gateway: MakeGateway, up: Upstream) -> None:
    # Only lines that are each a whole JSON value are split: a JSON value spread over several
    # ``data:`` lines (valid SSE) is still read as the one event the SSE rules make of it.
    spread = json.dumps(COMPAT[1], indent=1).encode().replace(b"\n", b"\ndata: ")
    body = _frames([COMPAT[0], spread, *COMPAT[2:]])
    raw = await _answer(gateway, up, COMPAT_MODEL, MESSAGES, body)
    texts = [json.loads(line[6:])["delta"]["text"] for line in raw.split(b"\n") if b'"text_delta"' in line]
    assert texts == ["Hel", "lo"]


# A Gemini-family upstream whose stream lines are bare JSON (one object per line, or the whole
# answer on one line, as a generateContent body): the legacy's Gemini executors read a line
# starting with ``{`` as a chunk whether or not ``data:`` precedes it (``jsonPayload``,
# usage_helpers.go:530-547, gemini_executor.go:306; Vertex hands each line to translators that
# strip an optional ``data:``, gemini_vertex_executor.go:620-627).
BARE_JSON: list[tuple[str, tuple[str, dict[str, Any]]]] = [
    ("chat", CHAT), ("messages", MESSAGES), ("responses", RESPONSES),
    ("gemini", (f"/v1beta/models/{GEMINI_MODEL}:streamGenerateContent?alt=sse",
                {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})),
]


@pytest.mark.parametrize("client", [case[1] for case in BARE_JSON], ids=[case[0] for case in BARE_JSON])
async def test_gemini_lines_of_bare_json_are_read_as_chunks(
        gateway: MakeGateway, up: Upstream, client: tuple[str, dict[str, Any]]) -> None:
    expected = await _answer(gateway, up, GEMINI_MODEL, client, _frames(GEMINI))
    ndjson = b"".join(json.dumps(chunk).encode() + b"\n" for chunk in GEMINI)
    assert await _answer(gateway, up, GEMINI_MODEL, client, ndjson) == expected


async def test_a_one_line_gemini_answer_to_a_stream_request_is_read_as_one_chunk(
        gateway: MakeGateway, up: Upstream) -> None:
    whole = {"candidates": [{"content": {"role": "model", "parts": [{"text": "Hello"}]}, "finishReason": "STOP",
                             "index": 0}],
             "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 2, "totalTokenCount": 6},
             "modelVersion": "gemini-2.5-flash", "responseId": "r-1"}
    expected = await _answer(gateway, up, GEMINI_MODEL, MESSAGES, _frames([whole]))
    assert b'"text":"Hello"' in expected
    assert await _answer(gateway, up, GEMINI_MODEL, MESSAGES, json.dumps(whole).encode(),
                         {"Content-Type": "application/json; charset=UTF-8"}) == expected


async def test_bare_json_lines_from_an_openai_compatible_upstream_are_not_chunks(
        gateway: MakeGateway, up: Upstream) -> None:
    # The OpenAI-compatible executor skips every line without ``data:``
    # (openai_compat_executor.go:264-266): nothing of such a body is an answer.
    up.body = b"".join(json.dumps(chunk).encode() + b"\n" for chunk in COMPAT[:-1])
    gw = await gateway(upstreams_config(up.root))
    resp = await gw.post(CHAT[0], json={"model": COMPAT_MODEL, **CHAT[1]})
    assert resp.status == 500
    assert (await resp.json())["error"]["message"] == "upstream stream closed before [DONE]"


# A ``\ud83d`` escape with no low half after it (a server that cut its text between the two UTF-16
# halves of an emoji): valid JSON grammar that orjson refuses. The legacy's gjson reads it as
# U+FFFD; the chunk (here the finishing one) must not be lost.
LONE = "\\ud83d"


async def test_a_lone_surrogate_escape_in_a_gemini_chunk_reads_as_a_replacement_character(
        gateway: MakeGateway, up: Upstream) -> None:
    body = _frames(GEMINI[:1]) + b'data: {"candidates":[{"content":{"role":"model","parts":[{"text":"' + \
        LONE.encode() + b'"}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":4,' \
        b'"candidatesTokenCount":2,"totalTokenCount":6}}\r\n\r\n'
    raw = await _answer(gateway, up, GEMINI_MODEL, MESSAGES, body)
    frames = [json.loads(line[6:]) for line in raw.split(b"\n") if line.startswith(b"data: ")]
    assert [f["delta"]["text"] for f in frames if f["type"] == "content_block_delta"] == ["Hel", "\ufffd"]
    assert [f["type"] for f in frames][-2:] == ["message_delta", "message_stop"]


async def test_a_lone_surrogate_escape_in_a_whole_answer_reads_as_a_replacement_character(
        gateway: MakeGateway, up: Upstream) -> None:
    up.body = (b'{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,'
               b'"message":{"role":"assistant","content":"Hi ' + LONE.encode() + b'"},"finish_reason":"stop"}]}')
    up.headers = {"Content-Type": "application/json"}
    gw = await gateway(upstreams_config(up.root))
    resp = await gw.post("/v1/messages", json={"model": COMPAT_MODEL, "max_tokens": 64,
                                               "messages": [{"role": "user", "content": "hi"}]})
    assert resp.status == 200
    assert (await resp.json())["content"] == [{"type": "text", "text": "Hi \ufffd"}]


async def test_a_same_protocol_relay_passes_a_lone_surrogate_escape_on_as_it_came(
        gateway: MakeGateway, up: Upstream) -> None:
    # The legacy relays the line's bytes (openai_openai_response.go); only translators read it.
    lone = _chunk({"content": "x"})
    body = _frames([COMPAT[0], json.dumps(lone).replace('"x"', f'"{LONE}"').encode(), *COMPAT[3:]])
    raw = await _answer(gateway, up, COMPAT_MODEL, CHAT, body)
    assert f'"delta": {{"content": "{LONE}"}}'.encode() in raw
