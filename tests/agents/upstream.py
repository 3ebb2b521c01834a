"""A recording fake upstream that speaks the four upstream protocols the agents can end up on.

One aiohttp server answers, by the tail of the path, whatever a CLI or the gateway sends:

* ``…/messages``                                   Claude Messages (SSE or JSON)
* ``…/responses``                                  OpenAI Responses (SSE or JSON)
* ``…/models/<model>:streamGenerateContent``       Gemini (SSE with ``alt=sse``, else a JSON array)
* ``…/models/<model>:generateContent``             Gemini (JSON)
* ``…/chat/completions``                           OpenAI Chat Completions (SSE or JSON)

The prefix before the tail is free, so one server can stand behind every ``base-url`` shape of
config.yaml. Each request is recorded (method, path, query, lower-cased headers, parsed JSON) so
tests can assert the exact request shape. The answer text names the protocol that produced it, so
a test that sees it printed by a CLI knows which upstream answered.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.loopback import serve_on_loopback


# The streamed pieces of every answer; joined, they read "Hello from the fake <kind> upstream".
def answer_pieces(kind: str) -> list[str]:
    return ["Hello", " from the fake ", kind, " upstream"]


def answer_text(kind: str) -> str:
    return "".join(answer_pieces(kind))


# Upstream usage numbers, fixed so nothing in an answer depends on the request.
INPUT_TOKENS = 11
OUTPUT_TOKENS = 7

_GEMINI_PATH = re.compile(r".*/models/(?P<model>[^/]+):(?P<action>streamGenerateContent|generateContent)$")


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: dict[str, Any]
    kind: str

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class FakeUpstream:
    """Start with ``await start()``; ``url`` is the root (no trailing slash)."""

    requests: list[Recorded] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner, _ = await serve_on_loopback(app)
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def of_kind(self, kind: str) -> list[Recorded]:
        return [r for r in self.requests if r.kind == kind]

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {"__unparsed__": raw.decode(errors="replace")}
        path = request.path
        gemini = _GEMINI_PATH.fullmatch(path)
        if request.method != "POST":
            kind = "other"
        elif path.endswith("/messages"):
            kind = "claude"
        elif path.endswith("/responses"):
            kind = "responses"
        elif path.endswith("/chat/completions"):
            kind = "openai"
        elif gemini:
            kind = "gemini"
        else:
            kind = "other"
        self.requests.append(Recorded(request.method, path, dict(request.query),
                                      {k.lower(): v for k, v in request.headers.items()},
                                      body if isinstance(body, dict) else {"__json__": body}, kind))
        model = str(body.get("model", "")) if isinstance(body, dict) else ""
        if kind == "claude":
            return await _claude(request, model, bool(body.get("stream")))
        if kind == "responses":
            return await _responses(request, model, bool(body.get("stream")))
        if kind == "openai":
            return await _chat(request, model, bool(body.get("stream")))
        if kind == "gemini" and gemini is not None:
            stream = gemini["action"] == "streamGenerateContent"
            return await _gemini(request, gemini["model"], stream, request.query.get("alt", ""))
        # Anything else is a request no test expects; a 404 makes the CLI fail loudly.
        return web.json_response({"error": {"message": f"fake upstream has no {request.method} {path}"}},
                                 status=404)


async def _sse(request: web.Request, frames: list[bytes]) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(request)
    for frame in frames:
        await response.write(frame)
    await response.write_eof()
    return response


def _event(name: str | None, data: dict[str, Any]) -> bytes:
    head = f"event: {name}\n" if name else ""
    return f"{head}data: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


async def _claude(request: web.Request, model: str, stream: bool) -> web.StreamResponse:
    pieces = answer_pieces("claude")
    message = {"id": "msg_fake_claude", "type": "message", "role": "assistant", "model": model,
               "stop_reason": None, "stop_sequence": None}
    if not stream:
        return web.json_response({**message, "content": [{"type": "text", "text": "".join(pieces)}],
                                  "stop_reason": "end_turn",
                                  "usage": {"input_tokens": INPUT_TOKENS, "output_tokens": OUTPUT_TOKENS}})
    frames = [
        _event("message_start", {"type": "message_start", "message": {
            **message, "content": [], "usage": {"input_tokens": INPUT_TOKENS, "output_tokens": 1}}}),
        _event("content_block_start", {"type": "content_block_start", "index": 0,
                                       "content_block": {"type": "text", "text": ""}}),
        _event("ping", {"type": "ping"}),
        *[_event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                         "delta": {"type": "text_delta", "text": piece}}) for piece in pieces],
        _event("content_block_stop", {"type": "content_block_stop", "index": 0}),
        _event("message_delta", {"type": "message_delta",
                                 "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                                 "usage": {"output_tokens": OUTPUT_TOKENS}}),
        _event("message_stop", {"type": "message_stop"}),
    ]
    return await _sse(request, frames)


def _responses_usage() -> dict[str, Any]:
    return {"input_tokens": INPUT_TOKENS, "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": OUTPUT_TOKENS, "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": INPUT_TOKENS + OUTPUT_TOKENS}


async def _responses(request: web.Request, model: str, stream: bool) -> web.StreamResponse:
    pieces = answer_pieces("responses")
    text = "".join(pieces)
    response_id = "resp_fake_responses"
    item_id = "msg_fake_responses_0"
    base = {"id": response_id, "object": "response", "created_at": 1700000000, "model": model}
    part = {"type": "output_text", "text": text, "annotations": []}
    item = {"id": item_id, "type": "message", "status": "completed", "role": "assistant", "content": [part]}
    completed = {**base, "status": "completed", "output": [item], "usage": _responses_usage()}
    if not stream:
        return web.json_response(completed)
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": {**base, "status": "in_progress", "output": []}},
        {"type": "response.in_progress", "response": {**base, "status": "in_progress", "output": []}},
        {"type": "response.output_item.added", "output_index": 0,
         "item": {"id": item_id, "type": "message", "status": "in_progress", "role": "assistant", "content": []}},
        {"type": "response.content_part.added", "item_id": item_id, "output_index": 0, "content_index": 0,
         "part": {"type": "output_text", "text": "", "annotations": []}},
        *[{"type": "response.output_text.delta", "item_id": item_id, "output_index": 0, "content_index": 0,
           "delta": piece} for piece in pieces],
        {"type": "response.output_text.done", "item_id": item_id, "output_index": 0, "content_index": 0,
         "text": text},
        {"type": "response.content_part.done", "item_id": item_id, "output_index": 0, "content_index": 0,
         "part": part},
        {"type": "response.output_item.done", "output_index": 0, "item": item},
        {"type": "response.completed", "response": completed},
    ]
    frames = [_event(event["type"], {**event, "sequence_number": number})
              for number, event in enumerate(events, start=1)]
    return await _sse(request, frames)


async def _chat(request: web.Request, model: str, stream: bool) -> web.StreamResponse:
    pieces = answer_pieces("openai")
    usage = {"prompt_tokens": INPUT_TOKENS, "completion_tokens": OUTPUT_TOKENS,
             "total_tokens": INPUT_TOKENS + OUTPUT_TOKENS}
    base = {"id": "chatcmpl-fake-openai", "created": 1700000000, "model": model}
    if not stream:
        return web.json_response({**base, "object": "chat.completion", "choices": [{
            "index": 0, "message": {"role": "assistant", "content": "".join(pieces)}, "finish_reason": "stop"}],
            "usage": usage})
    chunk = {**base, "object": "chat.completion.chunk"}
    frames = [_event(None, {**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                                  "finish_reason": None}]})]
    frames += [_event(None, {**chunk, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
               for piece in pieces]
    frames.append(_event(None, {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
    frames.append(_event(None, {**chunk, "choices": [], "usage": usage}))
    frames.append(b"data: [DONE]\n\n")
    return await _sse(request, frames)


async def _gemini(request: web.Request, model: str, stream: bool, alt: str) -> web.StreamResponse:
    pieces = answer_pieces("gemini")
    usage = {"promptTokenCount": INPUT_TOKENS, "candidatesTokenCount": OUTPUT_TOKENS,
             "totalTokenCount": INPUT_TOKENS + OUTPUT_TOKENS}

    def chunk(text: str, last: bool) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}
        out: dict[str, Any] = {"candidates": [candidate], "modelVersion": model, "responseId": "fake-gemini"}
        if last:
            candidate["finishReason"] = "STOP"
            out["usageMetadata"] = usage
        return out

    if not stream:
        return web.json_response(chunk("".join(pieces), last=True))
    chunks = [chunk(piece, last=index == len(pieces) - 1) for index, piece in enumerate(pieces)]
    if alt == "sse":
        # CRLF separators, as Google's servers send them.
        return await _sse(request, [f"data: {json.dumps(c)}\r\n\r\n".encode() for c in chunks])
    return web.json_response(chunks)
