"""A deterministic upstream speaking the four API-key upstream protocols, with scripted faults.

Routes (base URLs as config.yaml would name them):

* OpenAI-compatible ``POST {base}/v1/chat/completions`` (``base-url: <root>/v1``)
* Claude ``POST /v1/messages`` and ``/v1/messages/count_tokens`` (``base-url: <root>``)
* Codex ``POST {base}/v1/responses`` (``base-url: <root>/v1``), always SSE
* Gemini ``POST /v1beta/models/<model>:<action>`` (``base-url: <root>``), and the same answers on
  Vertex-style ``POST /v1/publishers/google/models/<model>:<action>`` (``vertex-api-key``)

Every request is recorded (``FakeLLM.requests``: path, query, headers, JSON body, the key used).
The answer is fixed per protocol: the words of ``ANSWER``; a tool call to the first declared tool
with ``TOOL_ARGS`` when the request declares tools and the last user text contains "weather"; a
thinking block first when the request asks for thinking. Usage is fixed (``USAGE``).

``FakeLLM.script(key, *faults)`` queues faults for requests made with that API key (one per
request, then normal answers): an HTTP status with body and headers, a stream cut early, a
malformed SSE line, a stall, or a connection reset mid-stream.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .loopback import serve_on_loopback

ANSWER_WORDS = ("Hello", " from", " the", " fake", " upstream")
ANSWER = "".join(ANSWER_WORDS)
THINKING = "Let me think."
TOOL_ARGS = {"location": "Paris"}
USAGE = {"input": 11, "output": 5}


@dataclass
class Fault:
    """One scripted misbehaviour. ``kind``: ``status`` (answer ``status`` with ``body``/``headers``),
    ``cut`` (stream stops after ``after`` frames, cleanly), ``reset`` (connection dropped after
    ``after`` frames), ``malformed`` (a non-JSON ``data:`` line after ``after`` frames, then the end),
    ``garbage`` (the same line, then the rest of the stream), ``stall``
    (sleep ``seconds`` before anything)."""

    kind: str
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    after: int = 1
    seconds: float = 0.0


def status(code: int, body: Any = None, headers: dict[str, str] | None = None) -> Fault:
    raw = body if isinstance(body, bytes) else json.dumps(body if body is not None else
                                                          {"error": {"message": f"fake {code}"}}).encode()
    return Fault("status", status=code, body=raw, headers=headers or {})


@dataclass
class Recorded:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    key: str


def _key(request: web.Request) -> str:
    for name in ("x-api-key", "x-goog-api-key"):
        if request.headers.get(name):
            return request.headers[name]
    auth = request.headers.get("Authorization", "")
    return auth[7:] if auth.lower().startswith("bearer ") else auth


def _last_user_text(body: Any) -> str:
    texts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    texts.append(value)
                elif key == "content" and isinstance(value, str):
                    texts.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for key in ("messages", "contents", "input"):
        if key in body:
            walk(body[key][-1:] if isinstance(body[key], list) else body[key])
    return " ".join(texts)


def _wants_thinking(body: dict[str, Any]) -> bool:
    thinking = body.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive"):
        return True
    if body.get("reasoning_effort") or body.get("reasoning"):
        return True
    config = (body.get("generationConfig") or {}).get("thinkingConfig") or {}
    return bool(config.get("includeThoughts"))


def _tool_name(body: dict[str, Any]) -> str | None:
    tools = body.get("tools") or []
    for tool in tools:
        if not isinstance(tool, dict):
            continue
        # Gemini accepts both spellings; google-genai sends the snake_case one.
        declarations = tool.get("functionDeclarations") or tool.get("function_declarations")
        if declarations:
            return declarations[0].get("name")
        if isinstance(tool.get("function"), dict):
            return tool["function"].get("name")
        if tool.get("name"):
            return tool["name"]
    return None


class FakeLLM:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.cancelled = 0  # requests whose client (the gateway) went away mid-answer
        self._faults: dict[str, deque[Fault]] = defaultdict(deque)
        self.runner: web.AppRunner | None = None
        self.port = 0

    # --- control ------------------------------------------------------------------------------

    def script(self, key: str, *faults: Fault) -> None:
        self._faults[key].extend(faults)

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self.openai)
        app.router.add_post("/v1/messages", self.claude)
        app.router.add_post("/v1/messages/count_tokens", self.claude_count)
        app.router.add_post("/v1/responses", self.codex)
        app.router.add_post("/v1beta/models/{action}", self.gemini)
        # vertex-api-key entries call Vertex-style paths with Gemini bodies.
        app.router.add_post("/v1/publishers/google/models/{action}", self.gemini)
        return app

    async def start(self) -> None:
        self.runner, _ = await serve_on_loopback(self.app(), handler_cancellation=True)
        self.port = self.runner.addresses[0][1]

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    # --- plumbing -----------------------------------------------------------------------------

    async def _begin(self, request: web.Request) -> tuple[dict[str, Any], Fault | None]:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode(errors="replace")
        key = _key(request)
        self.requests.append(Recorded(request.path, dict(request.query), dict(request.headers), body, key))
        fault = self._faults[key].popleft() if self._faults.get(key) else None
        if fault is not None and fault.kind == "stall":
            try:
                await asyncio.sleep(fault.seconds)
            except asyncio.CancelledError:
                self.cancelled += 1
                raise
            fault = None
        return (body if isinstance(body, dict) else {}), fault

    @staticmethod
    def _status(fault: Fault) -> web.Response:
        headers = {"Content-Type": "application/json", **fault.headers}
        return web.Response(status=fault.status, body=fault.body, headers=headers)

    async def _sse(self, request: web.Request, frames: list[bytes], fault: Fault | None) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for index, frame in enumerate(frames):
            if fault is not None and index == fault.after:
                if fault.kind == "cut":
                    break
                if fault.kind == "malformed":
                    await response.write(b"data: {not json\n\n")
                    break
                if fault.kind == "garbage":
                    await response.write(b"data: {not json\n\n")  # and the stream goes on
                if fault.kind == "reset":
                    assert request.transport is not None
                    request.transport.abort()
                    return response
            await response.write(frame)
            await asyncio.sleep(0)
        await response.write_eof()
        return response

    # --- OpenAI chat --------------------------------------------------------------------------

    async def openai(self, request: web.Request) -> web.StreamResponse:
        body, fault = await self._begin(request)
        if fault is not None and fault.kind == "status":
            return self._status(fault)
        model = body.get("model", "")
        tool = _tool_name(body) if "weather" in _last_user_text(body) else None
        usage = {"prompt_tokens": USAGE["input"], "completion_tokens": USAGE["output"],
                 "total_tokens": USAGE["input"] + USAGE["output"]}
        call = {"id": "call_fake_1", "type": "function",
                "function": {"name": tool, "arguments": json.dumps(TOOL_ARGS)}} if tool else None
        finish = "tool_calls" if tool else "stop"
        if not body.get("stream"):
            message: dict[str, Any] = {"role": "assistant", "content": None if tool else ANSWER}
            if call:
                message["tool_calls"] = [call]
            return web.json_response({"id": "chatcmpl-fake", "object": "chat.completion", "created": 1700000000,
                                      "model": model, "choices": [{"index": 0, "message": message,
                                                                   "finish_reason": finish}], "usage": usage})

        def chunk(delta: dict[str, Any], finish_reason: str | None = None, **extra: Any) -> bytes:
            obj = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1700000000, "model": model,
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}], **extra}
            return b"data: " + json.dumps(obj).encode() + b"\n\n"

        frames = [chunk({"role": "assistant", "content": ""})]
        if _wants_thinking(body):
            frames.append(chunk({"reasoning_content": THINKING}))
        if call:
            frames.append(chunk({"tool_calls": [{"index": 0, **call}]}))
        else:
            frames += [chunk({"content": word}) for word in ANSWER_WORDS]
        options = body.get("stream_options")
        if isinstance(options, dict) and options.get("include_usage") is True:
            # OpenAI's own shape when asked: the finish without usage, then a chunk of usage alone.
            frames.append(chunk({}, finish))
            frames.append(b"data: " + json.dumps({"id": "chatcmpl-fake", "object": "chat.completion.chunk",
                                                  "created": 1700000000, "model": model, "choices": [],
                                                  "usage": usage}).encode() + b"\n\n")
        else:
            frames.append(chunk({}, finish, usage=usage))
        frames.append(b"data: [DONE]\n\n")
        return await self._sse(request, frames, fault)

    # --- Claude -------------------------------------------------------------------------------

    async def claude_count(self, request: web.Request) -> web.StreamResponse:
        _, fault = await self._begin(request)
        if fault is not None and fault.kind == "status":
            return self._status(fault)
        return web.json_response({"input_tokens": USAGE["input"]})

    async def claude(self, request: web.Request) -> web.StreamResponse:
        body, fault = await self._begin(request)
        if fault is not None and fault.kind == "status":
            return self._status(fault)
        model = body.get("model", "")
        tool = _tool_name(body) if "weather" in _last_user_text(body) else None
        thinking = _wants_thinking(body)
        blocks: list[dict[str, Any]] = []
        if thinking:
            blocks.append({"type": "thinking", "thinking": THINKING, "signature": "sig-fake"})
        if tool:
            blocks.append({"type": "tool_use", "id": "toolu_fake_1", "name": tool, "input": TOOL_ARGS})
        else:
            blocks.append({"type": "text", "text": ANSWER})
        stop = "tool_use" if tool else "end_turn"
        usage = {"input_tokens": USAGE["input"], "output_tokens": USAGE["output"]}
        if not body.get("stream"):
            return web.json_response({"id": "msg_fake", "type": "message", "role": "assistant", "model": model,
                                      "content": blocks, "stop_reason": stop, "stop_sequence": None,
                                      "usage": usage})

        def event(name: str, obj: dict[str, Any]) -> bytes:
            return f"event: {name}\ndata: {json.dumps(obj)}\n\n".encode()

        frames = [event("message_start", {"type": "message_start", "message": {
            "id": "msg_fake", "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": USAGE["input"], "output_tokens": 0}}})]
        for index, block in enumerate(blocks):
            if block["type"] == "thinking":
                frames.append(event("content_block_start", {"type": "content_block_start", "index": index,
                                                            "content_block": {"type": "thinking", "thinking": ""}}))
                frames.append(event("content_block_delta", {"type": "content_block_delta", "index": index,
                                                            "delta": {"type": "thinking_delta", "thinking": THINKING}}))
                frames.append(event("content_block_delta", {"type": "content_block_delta", "index": index,
                                                            "delta": {"type": "signature_delta",
                                                                      "signature": "sig-fake"}}))
            elif block["type"] == "tool_use":
                frames.append(event("content_block_start", {"type": "content_block_start", "index": index,
                                                            "content_block": {"type": "tool_use", "id": block["id"],
                                                                              "name": block["name"], "input": {}}}))
                frames.append(event("content_block_delta", {"type": "content_block_delta", "index": index,
                                                            "delta": {"type": "input_json_delta",
                                                                      "partial_json": json.dumps(TOOL_ARGS)}}))
            else:
                frames.append(event("content_block_start", {"type": "content_block_start", "index": index,
                                                            "content_block": {"type": "text", "text": ""}}))
                frames += [event("content_block_delta", {"type": "content_block_delta", "index": index,
                                                         "delta": {"type": "text_delta", "text": word}})
                           for word in ANSWER_WORDS]
            frames.append(event("content_block_stop", {"type": "content_block_stop", "index": index}))
        frames.append(event("message_delta", {"type": "message_delta",
                                              "delta": {"stop_reason": stop, "stop_sequence": None},
                                              "usage": {"input_tokens": USAGE["input"],
                                                        "output_tokens": USAGE["output"]}}))
        frames.append(event("message_stop", {"type": "message_stop"}))
        return await self._sse(request, frames, fault)

    # --- Codex (Responses) --------------------------------------------------------------------

    async def codex(self, request: web.Request) -> web.StreamResponse:
        body, fault = await self._begin(request)
        if fault is not None and fault.kind == "status":
            return self._status(fault)
        model = body.get("model", "")
        tool = _tool_name(body) if "weather" in _last_user_text(body) else None
        seq = iter(range(1000))

        def event(name: str, obj: dict[str, Any]) -> bytes:
            obj = {"type": name, "sequence_number": next(seq), **obj}
            return f"event: {name}\ndata: {json.dumps(obj)}\n\n".encode()

        base = {"id": "resp_fake", "object": "response", "created_at": 1700000000, "model": model}
        frames = [event("response.created", {"response": {**base, "status": "in_progress", "output": []}}),
                  event("response.in_progress", {"response": {**base, "status": "in_progress", "output": []}})]
        if tool:
            item = {"id": "fc_fake", "type": "function_call", "call_id": "call_fake_1", "name": tool,
                    "arguments": json.dumps(TOOL_ARGS), "status": "completed"}
            frames.append(event("response.output_item.added", {"output_index": 0, "item": {**item, "arguments": ""}}))
            frames.append(event("response.function_call_arguments.delta",
                                {"item_id": "fc_fake", "output_index": 0, "delta": json.dumps(TOOL_ARGS)}))
            frames.append(event("response.function_call_arguments.done",
                                {"item_id": "fc_fake", "output_index": 0, "arguments": json.dumps(TOOL_ARGS)}))
            frames.append(event("response.output_item.done", {"output_index": 0, "item": item}))
            output = [item]
        else:
            item = {"id": "msg_fake", "type": "message", "role": "assistant", "status": "completed",
                    "content": [{"type": "output_text", "text": ANSWER, "annotations": []}]}
            part = {"type": "output_text", "text": "", "annotations": []}
            where = {"item_id": "msg_fake", "output_index": 0, "content_index": 0}
            frames.append(event("response.output_item.added", {"output_index": 0, "item": {**item, "content": []}}))
            frames.append(event("response.content_part.added", {**where, "part": part}))
            frames += [event("response.output_text.delta", {**where, "delta": word}) for word in ANSWER_WORDS]
            frames.append(event("response.output_text.done", {**where, "text": ANSWER}))
            frames.append(event("response.content_part.done", {**where, "part": {**part, "text": ANSWER}}))
            frames.append(event("response.output_item.done", {"output_index": 0, "item": item}))
            output = [item]
        usage = {"input_tokens": USAGE["input"], "output_tokens": USAGE["output"],
                 "total_tokens": USAGE["input"] + USAGE["output"]}
        frames.append(event("response.completed", {"response": {**base, "status": "completed", "output": output,
                                                                "usage": usage}}))
        return await self._sse(request, frames, fault)

    # --- Gemini -------------------------------------------------------------------------------

    async def gemini(self, request: web.Request) -> web.StreamResponse:
        body, fault = await self._begin(request)
        if fault is not None and fault.kind == "status":
            return self._status(fault)
        model, _, action = request.match_info["action"].partition(":")
        if action == "countTokens":
            return web.json_response({"totalTokens": USAGE["input"]})
        tool = _tool_name(body) if "weather" in _last_user_text(body) else None
        usage = {"promptTokenCount": USAGE["input"], "candidatesTokenCount": USAGE["output"],
                 "totalTokenCount": USAGE["input"] + USAGE["output"]}

        def chunk(parts: list[dict[str, Any]], finish: str | None = None) -> dict[str, Any]:
            candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
            obj: dict[str, Any] = {"candidates": [candidate], "modelVersion": model, "responseId": "fake-resp"}
            if finish:
                candidate["finishReason"] = finish
                obj["usageMetadata"] = usage
            return obj

        chunks: list[dict[str, Any]] = []
        if _wants_thinking(body):
            chunks.append(chunk([{"text": THINKING, "thought": True}]))
        if "budget used up" in _last_user_text(body):
            # Thinking took the whole output budget: Gemini ends with MAX_TOKENS and a usage that
            # has no candidatesTokenCount.
            last = chunk([{"text": THINKING, "thought": True}], "MAX_TOKENS")
            last["usageMetadata"] = {"promptTokenCount": USAGE["input"], "thoughtsTokenCount": USAGE["output"],
                                     "totalTokenCount": USAGE["input"] + USAGE["output"]}
            chunks = [last]
        elif tool and "separate finish" in _last_user_text(body):
            # As Gemini often streams it: the call, then the finish and usage in a chunk of their own.
            chunks.append(chunk([{"functionCall": {"name": tool, "args": TOOL_ARGS}}]))
            chunks.append(chunk([], "STOP"))
        elif tool:
            chunks.append(chunk([{"functionCall": {"name": tool, "args": TOOL_ARGS}}], "STOP"))
        else:
            chunks += [chunk([{"text": word}]) for word in ANSWER_WORDS[:-1]]
            chunks.append(chunk([{"text": ANSWER_WORDS[-1]}], "STOP"))
        if action == "generateContent":
            parts = [p for c in chunks for p in c["candidates"][0]["content"]["parts"]]
            merged = chunk([], "STOP")
            merged["candidates"][0]["content"]["parts"] = (
                [p for p in parts if p.get("thought")] + ([{"text": ANSWER}] if not tool else
                                                          [p for p in parts if "functionCall" in p]))
            return web.json_response(merged)
        if request.query.get("alt") == "sse":
            frames = [b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks]
            return await self._sse(request, frames, fault)
        # alt=json (``$alt=json``): one JSON array, written in pieces.
        text = json.dumps(chunks).encode()
        return await self._sse(request, [text[: len(text) // 2], text[len(text) // 2:]], fault)
