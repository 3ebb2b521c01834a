"""The reference's golden translation cases and its A2.16 / A3 tables, over HTTP.

Each test sends a client request through the native gateway to a scripted upstream and asserts
what went upstream or the exact answer the client got (stream events in order, terminators, ids,
``created``, usage). The translators' own unit tests pin the same facts one layer down; these pin
them where the executors' fixups (thinking, cloaking, stream framing) have also run.

Facts: cliproxyapi-translation-resilience.md ("Golden test cases", A2.16, A3), checked against
CLIProxyAPI at 9b72ea9ef: internal/translator/{claude,gemini,openai,codex}/..., and
sdk/api/handlers/*_handlers.go for the framing.
"""

from __future__ import annotations

import json
import re
import time
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

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


class Upstream:
    """Answers each request with the next scripted body (SSE unless it is a JSON object) and
    records the path and JSON body it got."""

    def __init__(self) -> None:
        self.answers: list[bytes] = []
        self.requests: list[tuple[str, Any]] = []
        self.runner: web.AppRunner | None = None
        self.root = ""

    async def _answer(self, request: web.Request) -> web.Response:
        self.requests.append((request.path_qs, json.loads(await request.read())))
        body = self.answers.pop(0)
        kind = "application/json" if body.startswith(b"{") else "text/event-stream"
        return web.Response(body=body, headers={"Content-Type": kind})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("POST", "/{tail:.*}", self._answer)
        self.runner, self.root = await serve_on_loopback(app)

    def sent(self) -> Any:
        [(_, body)] = self.requests
        return body


@pytest.fixture
async def up() -> AsyncIterator[Upstream]:
    upstream = Upstream()
    await upstream.start()
    yield upstream
    assert upstream.runner is not None
    await upstream.runner.cleanup()


async def call(gateway: MakeGateway, up: Upstream, path: str, body: dict[str, Any], answer: bytes,
               config: str | None = None) -> bytes:
    client = await gateway(config or upstreams_config(up.root))
    up.answers.append(answer)
    resp = await client.post(path, json=body)
    raw = await resp.read()
    assert resp.status == 200, raw
    return raw


def sse(*frames: tuple[str | None, Any]) -> bytes:
    out = b""
    for name, data in frames:
        out += f"event: {name}\n".encode() if name else b""
        out += b"data: " + (data if isinstance(data, bytes) else json.dumps(data).encode()) + b"\n\n"
    return out


def data_of(raw: bytes) -> list[Any]:
    """The JSON of every ``data:`` line ([DONE] excluded)."""
    return [json.loads(line[6:]) for line in raw.split(b"\n") if line.startswith(b"data: ") and line != b"data: [DONE]"]


def events_of(raw: bytes) -> list[tuple[str, Any]]:
    """``(event, data)`` pairs of an ``event:``/``data:`` stream."""
    out: list[tuple[str, Any]] = []
    name = ""
    for line in raw.split(b"\n"):
        if line.startswith(b"event: "):
            name = line[7:].decode()
        elif line.startswith(b"data: "):
            out.append((name, json.loads(line[6:])))
    return out


def chat(model: str, stream: bool = False, **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "hi"}], **({"stream": True} if stream else {}),
            **extra}


def messages(model: str, stream: bool = False, **extra: Any) -> dict[str, Any]:
    return {"model": model, "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}],
            **({"stream": True} if stream else {}), **extra}


GEMINI_BODY = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


# --- upstream answers -------------------------------------------------------------------------


def claude_stream(*blocks: tuple[str, Any], stop_reason: str = "end_turn", usage: dict[str, Any] | None = None,
                  message_id: str = "msg_1") -> bytes:
    """A Claude SSE answer: ``("text", "Hi")``, ``("thinking", "t")``, ``("tool", (id, name, [partial json…]))``."""
    frames: list[tuple[str | None, Any]] = [
        ("message_start", {"type": "message_start", "message": {
            "id": message_id, "type": "message", "role": "assistant", "model": "claude-upstream", "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 10, "output_tokens": 1}}}),
        ("ping", {"type": "ping"})]
    for index, (kind, value) in enumerate(blocks):
        if kind == "tool":
            tool_id, name, parts = value
            start = {"type": "tool_use", "id": tool_id, "name": name, "input": {}}
            deltas = [{"type": "input_json_delta", "partial_json": p} for p in parts]
        else:
            start = {"type": kind, kind: ""}
            deltas = [{"type": f"{kind}_delta", kind: value}]
        frames.append(("content_block_start", {"type": "content_block_start", "index": index, "content_block": start}))
        frames += [("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d}) for d in deltas]
        frames.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    frames.append(("message_delta", {"type": "message_delta",
                                     "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                                     "usage": usage or {"input_tokens": 10, "output_tokens": 5}}))
    frames.append(("message_stop", {"type": "message_stop"}))
    return sse(*frames)


def gemini(parts: list[Any], finish: str | None = None, usage: dict[str, Any] | None = None,
           **extra: Any) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], **({"usageMetadata": usage} if usage else {}), **extra}


def gemini_stream(*chunks: dict[str, Any]) -> bytes:
    return sse(*[(None, c) for c in chunks])


def compact(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def openai_chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1700000001, "model": "up-m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}


def codex_stream(*events: dict[str, Any], usage: dict[str, Any] | None = None) -> bytes:
    created = {"type": "response.created", "response": {"id": "resp_c1", "created_at": 1700000000, "model": "gpt-5",
                                                        "status": "in_progress", "output": []}}
    completed = {"type": "response.completed", "response": {
        "id": "resp_c1", "created_at": 1700000000, "model": "gpt-5", "status": "completed", "output": [],
        "usage": usage or {"input_tokens": 7, "output_tokens": 3, "total_tokens": 10}}}
    return sse(*[(e["type"], e) for e in (created, *events, completed)])


CLAUDE_OK = claude_stream(("text", "ok"))
GEMINI_OK = compact(gemini([{"text": "ok"}], "STOP", {"promptTokenCount": 1, "candidatesTokenCount": 1,
                                                      "totalTokenCount": 2}))
OPENAI_OK = compact({"id": "c", "object": "chat.completion", "created": 1, "model": "m", "choices": [
    {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}]})
CODEX_OK = codex_stream()


# --- golden 1-19: what goes upstream ----------------------------------------------------------


async def test_golden_1_claude_skeleton_and_user_id(gateway: MakeGateway, up: Upstream) -> None:
    await call(gateway, up, "/v1/chat/completions", chat(CLAUDE_MODEL), CLAUDE_OK)
    sent = up.sent()
    assert sent["max_tokens"] == 32000
    assert sent["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
    # A client that is not Claude Code is cloaked: the executor swaps the translator's id for one
    # in Claude Code's own form (cloak_utils.go:12-23, claude_executor.go:889-902).
    assert re.fullmatch(rf"user_[0-9a-f]{{64}}_account__session_{UUID}", sent["metadata"]["user_id"])


async def test_golden_1_user_id_of_the_translator_when_cloaking_is_off(gateway: MakeGateway, up: Upstream) -> None:
    config = f"claude-api-key:\n  - api-key: sk-claude\n    base-url: {up.root}\n    cloak:\n      mode: never\n"
    await call(gateway, up, "/v1/chat/completions", chat(CLAUDE_MODEL), CLAUDE_OK, config)
    sent = up.sent()
    assert re.fullmatch(rf"user_[0-9a-f]{{64}}_account_{UUID}_session_{UUID}", sent["metadata"]["user_id"])
    assert "system" not in sent


ABSENT = object()


def dig(obj: Any, path: str) -> Any:
    for key in path.split("."):
        if isinstance(obj, list):
            obj = obj[int(key)]
        elif isinstance(obj, dict) and key in obj:
            obj = obj[key]
        else:
            return ABSENT
    return obj


TOOL_F = [{"type": "function", "function": {"name": "f"}}]
MCP_NAME = "mcp__server__" + "x" * 52 + "__do_it"

# (id, client path, client body, upstream answer, {dotted path in the upstream body: value}).
# A ``re.Pattern`` value must match the whole string.
REQUEST_CASES: list[tuple[str, str, dict[str, Any], bytes, dict[str, Any]]] = [
    ("2-stop-string", "/v1/chat/completions", chat(CLAUDE_MODEL, stop="END"), CLAUDE_OK, {"stop_sequences": ["END"]}),
    ("2-stop-array", "/v1/chat/completions", chat(CLAUDE_MODEL, stop=["a", "b"]), CLAUDE_OK,
     {"stop_sequences": ["a", "b"]}),
    ("3-high", "/v1/chat/completions", chat(CLAUDE_MODEL, reasoning_effort="high"), CLAUDE_OK,
     {"thinking": {"type": "enabled", "budget_tokens": 24576}}),
    ("3-none", "/v1/chat/completions", chat(CLAUDE_MODEL, reasoning_effort="none"), CLAUDE_OK,
     {"thinking": {"type": "disabled"}}),
    # "auto" is enabled-without-budget in the translator; this registry model allows no dynamic
    # budget, so the thinking step picks (1024+128000)/2 and keeps it under max_tokens (A2.9).
    ("3-auto", "/v1/chat/completions", chat(CLAUDE_MODEL, reasoning_effort="auto"), CLAUDE_OK,
     {"thinking": {"type": "enabled", "budget_tokens": 31999}}),
    ("4-required", "/v1/chat/completions", chat(CLAUDE_MODEL, tools=TOOL_F, tool_choice="required"), CLAUDE_OK,
     {"tool_choice": {"type": "any"}}),
    ("4-none", "/v1/chat/completions", chat(CLAUDE_MODEL, tools=TOOL_F, tool_choice="none"), CLAUDE_OK,
     {"tool_choice": ABSENT, "tools.0.name": "f"}),
    ("4-function", "/v1/chat/completions",
     chat(CLAUDE_MODEL, tools=TOOL_F, tool_choice={"type": "function", "function": {"name": "f"}}), CLAUDE_OK,
     {"tool_choice": {"type": "tool", "name": "f"}}),
    ("5-6-tool-call-and-result", "/v1/chat/completions", chat(CLAUDE_MODEL, messages=[
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "", "type": "function", "function": {"name": "f", "arguments": "not json"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "ok"}]), CLAUDE_OK,
     {"messages.1.content.0.type": "tool_use", "messages.1.content.0.id": re.compile(r"toolu_[A-Za-z0-9]{24}"),
      "messages.1.content.0.input": {},
      "messages.2": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "c1", "content": "ok"}]}}),
    ("7-images", "/v1/chat/completions", chat(CLAUDE_MODEL, messages=[{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAA"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]}]), CLAUDE_OK,
     {"messages.0.content": [{"type": "image",
                              "source": {"type": "base64", "media_type": "image/png", "data": "AAA"}}]}),
    ("8-system", "/v1/chat/completions", chat(GEMINI_MODEL, messages=[
        {"role": "system", "content": "S"}, {"role": "user", "content": "U"}]), GEMINI_OK,
     {"system_instruction": {"role": "user", "parts": [{"text": "S"}]},
      "contents": [{"role": "user", "parts": [{"text": "U"}]}]}),
    ("8-lone-system", "/v1/chat/completions", chat(GEMINI_MODEL, messages=[{"role": "system", "content": "S"}]),
     GEMINI_OK, {"system_instruction": ABSENT, "contents": [{"role": "user", "parts": [{"text": "S"}]}]}),
    ("9-tool-round-trip", "/v1/chat/completions", chat(GEMINI_MODEL, messages=[
        {"role": "user", "content": "U"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "get", "arguments": "{\"a\":1}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "{\"r\":2}"}]), GEMINI_OK,
     {"contents.1": {"role": "model", "parts": [{"functionCall": {"name": "get", "args": {"a": 1}},
                                                 "thoughtSignature": "skip_thought_signature_validator"}]},
      # result is a string holding the content's raw JSON (sjson.SetBytes of c.Raw).
      "contents.2": {"role": "user", "parts": [{"functionResponse": {"name": "get",
                                                                      "response": {"result": "\"{\\\"r\\\":2}\""}}}]}}),
    ("10-11-tools-and-safety", "/v1/chat/completions", chat(GEMINI_MODEL, tools=[
        {"type": "function", "function": {"name": "get", "strict": True,
                                          "parameters": {"type": "object", "properties": {"a": {"type": "integer"}}}}},
        {"type": "function", "function": {"name": "bare"}}]), GEMINI_OK,
     {"tools": [{"functionDeclarations": [
         {"name": "get", "parametersJsonSchema": {"type": "object", "properties": {"a": {"type": "integer"}}}},
         {"name": "bare", "parametersJsonSchema": {"type": "object", "properties": {}}}]}],
      "safetySettings": [{"category": f"HARM_CATEGORY_{c}", "threshold": "OFF"}
                         for c in ("HARASSMENT", "HATE_SPEECH", "SEXUALLY_EXPLICIT", "DANGEROUS_CONTENT")]
      + [{"category": "HARM_CATEGORY_CIVIC_INTEGRITY", "threshold": "BLOCK_NONE"}]}),
    ("12-13-tool-result-name-and-uri", "/v1/messages", messages(GEMINI_MODEL, tools=[
        {"name": "get_weather", "input_schema": {"type": "object", "properties": {
            "url": {"type": "string", "format": "uri", "description": "d"}}}}], messages=[
        {"role": "user", "content": "U"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "get_weather-1712-3", "name": "get_weather",
                                           "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "get_weather-1712-3",
                                      "content": "sunny"}]}]),
     GEMINI_OK,
     {"contents.2.parts.0.functionResponse.name": "get_weather-1712",
      "tools.0.functionDeclarations.0.parametersJsonSchema.properties.url": {"type": "string", "description": "d"}}),
    ("14-budget-0", f"/v1beta/models/{CLAUDE_MODEL}:generateContent",
     {**GEMINI_BODY, "generationConfig": {"thinkingConfig": {"thinkingBudget": 0}}}, CLAUDE_OK,
     {"thinking": {"type": "disabled"}}),
    ("14-level-medium", f"/v1beta/models/{CLAUDE_MODEL}:generateContent",
     {**GEMINI_BODY, "generationConfig": {"thinkingConfig": {"thinkingLevel": "medium"}}}, CLAUDE_OK,
     {"thinking": {"type": "enabled", "budget_tokens": 8192}}),
    ("15-mode-any-and-schema", f"/v1beta/models/{CLAUDE_MODEL}:generateContent",
     {**GEMINI_BODY, "tool_config": {"function_calling_config": {"mode": "ANY"}},
      "tools": [{"functionDeclarations": [{"name": "f", "parameters": {"type": "OBJECT", "properties": {
          "a": {"type": "STRING"}}}}]}]}, CLAUDE_OK,
     {"tool_choice": {"type": "any"},
      "tools.0.input_schema": {"$schema": "http://json-schema.org/draft-07/schema#", "additionalProperties": False,
                               "properties": {"a": {"type": "string"}}, "type": "object"}}),
    ("16-system-stop-thinking", "/v1/messages",
     messages(COMPAT_MODEL, stop_sequences=["x"], thinking={"type": "enabled", "budget_tokens": 8192}), OPENAI_OK,
     {"messages.0": {"role": "system", "content": []}, "stop": "x", "reasoning_effort": "medium"}),
    ("16-17-disabled-and-sampling", "/v1/messages",
     messages(COMPAT_MODEL, thinking={"type": "disabled"}, temperature=0.5, top_p=0.9), OPENAI_OK,
     {"reasoning_effort": "none", "temperature": 0.5, "top_p": ABSENT}),
    ("18-codex-skeleton", "/v1/chat/completions",
     chat(CODEX_MODEL, messages=[{"role": "system", "content": "S"}, {"role": "user", "content": "hi"}]), CODEX_OK,
     {"reasoning": {"effort": "medium", "summary": "auto"}, "include": ["reasoning.encrypted_content"],
      "store": False, "parallel_tool_calls": True, "input.0.role": "developer"}),
    ("19-codex-tool-names", "/v1/chat/completions", chat(CODEX_MODEL, tools=[
        {"type": "function", "function": {"name": MCP_NAME}},
        {"type": "function", "function": {"name": "a" * 70}},
        {"type": "function", "function": {"name": "a" * 64 + "b" * 6}}]), CODEX_OK,
     {"tools.0.name": "mcp__do_it", "tools.1.name": "a" * 64, "tools.2.name": "a" * 62 + "_1"}),
]


@pytest.mark.parametrize(("path", "body", "answer", "expected"), [c[1:] for c in REQUEST_CASES],
                         ids=[c[0] for c in REQUEST_CASES])
async def test_golden_request_translation(gateway: MakeGateway, up: Upstream, path: str, body: dict[str, Any],
                                          answer: bytes, expected: dict[str, Any]) -> None:
    await call(gateway, up, path, body, answer)
    sent = up.sent()
    for where, value in expected.items():
        got = dig(sent, where)
        if isinstance(value, re.Pattern):
            assert isinstance(got, str) and value.fullmatch(got), (where, got)
        else:
            assert got == value, (where, got)


# --- golden 20-22: Claude upstream, OpenAI chat client ----------------------------------------


async def test_golden_20_22_claude_stream_to_chat_chunks(gateway: MakeGateway, up: Upstream) -> None:
    answer = claude_stream(("text", "Hi"), ("tool", ("t1", "f", ['{"a":', "1}"])), ("tool", ("t2", "g", [])),
                           stop_reason="max_tokens",
                           usage={"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 3,
                                  "cache_creation_input_tokens": 2})
    before = int(time.time())
    raw = await call(gateway, up, "/v1/chat/completions", chat(CLAUDE_MODEL, stream=True), answer)
    assert raw.endswith(b"}\n\ndata: [DONE]\n\n")
    chunks = data_of(raw)
    # ping and message_stop render nothing; each tool call is one complete chunk at its block's end.
    assert [(c["choices"][0]["delta"], c["choices"][0]["finish_reason"]) for c in chunks] == [
        ({"role": "assistant"}, None),
        ({"content": "Hi"}, None),
        ({"tool_calls": [{"index": 1, "id": "t1", "type": "function",
                          "function": {"name": "f", "arguments": '{"a":1}'}}]}, None),
        ({"tool_calls": [{"index": 2, "id": "t2", "type": "function",
                          "function": {"name": "g", "arguments": "{}"}}]}, None),
        ({}, "length"),
    ]
    assert chunks[-1]["usage"] == {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 15,
                                   "prompt_tokens_details": {"cached_tokens": 3}}
    assert {c["id"] for c in chunks} == {"msg_1"}
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert {c["model"] for c in chunks} == {CLAUDE_MODEL}
    # created: the time the message started, the same on every chunk.
    [created] = {c["created"] for c in chunks}
    assert before <= created <= int(time.time())


@pytest.mark.parametrize(("stop_reason", "finish"), [
    ("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"), ("tool_use", "tool_calls"),
    ("refusal", "stop")])
async def test_claude_stop_reason_to_chat_finish(gateway: MakeGateway, up: Upstream, stop_reason: str,
                                                 finish: str) -> None:
    raw = await call(gateway, up, "/v1/chat/completions", chat(CLAUDE_MODEL, stream=True),
                     claude_stream(("text", "Hi"), stop_reason=stop_reason))
    assert data_of(raw)[-1]["choices"][0]["finish_reason"] == finish


async def test_claude_non_stream_to_chat_any_tool_call_means_tool_calls(gateway: MakeGateway, up: Upstream) -> None:
    answer = claude_stream(("thinking", "hmm"), ("text", "Hi"), ("tool", ("t1", "f", ['{"a":1}'])),
                           stop_reason="end_turn", usage={"input_tokens": 10, "output_tokens": 5,
                                                          "cache_creation_input_tokens": 2})
    before = int(time.time())
    raw = await call(gateway, up, "/v1/chat/completions", chat(CLAUDE_MODEL), answer)
    body = json.loads(raw)
    # Non-stream: the upstream message's model, and created = when message_start was read.
    assert body["id"] == "msg_1" and body["object"] == "chat.completion" and body["model"] == "claude-upstream"
    assert before <= body["created"] <= int(time.time())
    assert body["choices"] == [{"index": 0, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": "Hi", "reasoning": "hmm",
        "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}]}}]
    assert body["usage"] == {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 15,
                             "prompt_tokens_details": {"cached_tokens": 0}}


# --- golden 23-24: Gemini upstream, OpenAI chat client ----------------------------------------

GEMINI_USAGE = {"promptTokenCount": 100, "cachedContentTokenCount": 40, "thoughtsTokenCount": 10,
                "candidatesTokenCount": 5, "totalTokenCount": 115}
GEMINI_META = {"modelVersion": "gemini-upstream", "responseId": "resp-1", "createTime": "2025-01-02T03:04:05.123Z"}


async def test_golden_23_24_gemini_stream_to_chat_chunks(gateway: MakeGateway, up: Upstream) -> None:
    answer = gemini_stream(gemini([{"text": "x", "thought": True}], **GEMINI_META),
                           gemini([{"functionCall": {"name": "get", "args": {"a": 1}}}], **GEMINI_META),
                           gemini([{"text": "y"}], "MAX_TOKENS", GEMINI_USAGE, **GEMINI_META))
    raw = await call(gateway, up, "/v1/chat/completions", chat(GEMINI_MODEL, stream=True), answer)
    assert raw.endswith(b"}\n\ndata: [DONE]\n\n")
    thought, tool, last = data_of(raw)
    for chunk in (thought, tool, last):
        assert (chunk["id"], chunk["created"], chunk["model"]) == ("resp-1", 1735787045, "gemini-upstream")
    assert thought["choices"][0]["delta"]["reasoning_content"] == "x"
    assert thought["choices"][0]["delta"]["content"] is None
    [call_] = tool["choices"][0]["delta"]["tool_calls"]
    assert re.fullmatch(r"get-\d+-\d+", call_["id"])
    assert {k: call_[k] for k in ("index", "type", "function")} == {
        "index": 0, "type": "function", "function": {"name": "get", "arguments": '{"a":1}'}}
    assert (tool["choices"][0]["finish_reason"], tool["choices"][0]["native_finish_reason"]) == ("tool_calls",) * 2
    # MAX_TOKENS is lower-cased, not mapped to "length".
    assert (last["choices"][0]["finish_reason"], last["choices"][0]["native_finish_reason"]) == ("max_tokens",) * 2
    assert last["usage"] == {"completion_tokens": 5, "total_tokens": 115, "prompt_tokens": 70,
                             "completion_tokens_details": {"reasoning_tokens": 10},
                             "prompt_tokens_details": {"cached_tokens": 40}}


async def test_gemini_non_stream_to_chat_keeps_cached_tokens_in_prompt(gateway: MakeGateway, up: Upstream) -> None:
    answer = compact(gemini([{"text": "x", "thought": True}, {"text": "Hi"}], "SAFETY", GEMINI_USAGE, **GEMINI_META))
    body = json.loads(await call(gateway, up, "/v1/chat/completions", chat(GEMINI_MODEL), answer))
    assert (body["id"], body["created"], body["model"]) == ("resp-1", 1735787045, "gemini-upstream")
    assert body["choices"][0]["message"]["content"] == "Hi"
    assert body["choices"][0]["message"]["reasoning_content"] == "x"
    assert (body["choices"][0]["finish_reason"], body["choices"][0]["native_finish_reason"]) == ("safety", "safety")
    assert body["usage"]["prompt_tokens"] == 110


async def test_gemini_stream_without_create_time_has_created_zero(gateway: MakeGateway, up: Upstream) -> None:
    raw = await call(gateway, up, "/v1/chat/completions", chat(GEMINI_MODEL, stream=True),
                     gemini_stream(gemini([{"text": "Hi"}], "STOP", {"promptTokenCount": 1}, responseId="r")))
    assert [c["created"] for c in data_of(raw)] == [0]


# --- golden 25-26: Gemini upstream, Claude client ---------------------------------------------


async def test_golden_25_gemini_stream_to_claude_events(gateway: MakeGateway, up: Upstream) -> None:
    usage = {"promptTokenCount": 7, "candidatesTokenCount": 3, "thoughtsTokenCount": 2, "totalTokenCount": 12}
    answer = gemini_stream(gemini([{"text": "think", "thought": True}], modelVersion="gm", responseId="r1"),
                           gemini([{"text": "Hi"}], modelVersion="gm", responseId="r1"),
                           gemini([], "STOP", usage, modelVersion="gm", responseId="r1"))
    raw = await call(gateway, up, "/v1/messages", messages(GEMINI_MODEL, stream=True), answer)
    # The Gemini->Claude translator frames each event with one more newline (gemini_claude_response.go).
    assert raw.startswith(b"event: message_start\ndata: {")
    assert raw.endswith(b'event: message_stop\ndata: {"type":"message_stop"}\n\n\n')
    assert events_of(raw) == [
        ("message_start", {"type": "message_start", "message": {
            "id": "r1", "type": "message", "role": "assistant", "content": [], "model": "gm", "stop_reason": None,
            "stop_sequence": None, "usage": {"input_tokens": 0, "output_tokens": 0}}}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "thinking", "thinking": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "thinking_delta", "thinking": "think"}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("content_block_start", {"type": "content_block_start", "index": 1,
                                 "content_block": {"type": "text", "text": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 1,
                                 "delta": {"type": "text_delta", "text": "Hi"}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 1}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                           "usage": {"input_tokens": 7, "output_tokens": 5}}),
        ("message_stop", {"type": "message_stop"}),
    ]


async def test_gemini_stream_to_claude_tool_use_and_placeholder_id(gateway: MakeGateway, up: Upstream) -> None:
    usage = {"promptTokenCount": 7, "candidatesTokenCount": 3, "totalTokenCount": 10}
    answer = gemini_stream(gemini([{"functionCall": {"name": "get", "args": {"a": 1}}}], "STOP", usage))
    events = events_of(await call(gateway, up, "/v1/messages", messages(GEMINI_MODEL, stream=True), answer))
    # Without responseId / modelVersion, message_start keeps the translator's placeholders.
    assert events[0][1]["message"]["id"] == "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY"
    assert events[0][1]["message"]["model"] == "claude-3-5-sonnet-20241022"
    start = events[1][1]["content_block"]
    assert start["type"] == "tool_use" and start["name"] == "get" and start["input"] == {}
    assert re.fullmatch(r"get-\d+-\d+", start["id"])
    assert events[2][1]["delta"] == {"type": "input_json_delta", "partial_json": '{"a":1}'}
    assert [e for e, _ in events[3:]] == ["content_block_stop", "message_delta", "message_stop"]
    assert events[4][1]["delta"]["stop_reason"] == "tool_use"


@pytest.mark.parametrize(("parts", "finish", "content", "stop_reason"), [
    ([{"text": "Hi"}, {"functionCall": {"name": "f", "args": {}}}, {"functionCall": {"name": "g", "args": {"a": 1}}}],
     "STOP", [{"type": "text", "text": "Hi"}, {"type": "tool_use", "id": "tool_1", "name": "f", "input": {}},
              {"type": "tool_use", "id": "tool_2", "name": "g", "input": {"a": 1}}], "tool_use"),
    ([{"text": "a", "thought": True}, {"text": "b", "thought": True}, {"text": "Hi"}], "MAX_TOKENS",
     [{"type": "thinking", "thinking": "ab"}, {"type": "text", "text": "Hi"}], "max_tokens"),
    ([{"text": "Hi"}], "SAFETY", [{"type": "text", "text": "Hi"}], "end_turn"),
])
async def test_golden_26_gemini_non_stream_to_claude(gateway: MakeGateway, up: Upstream, parts: list[Any],
                                                     finish: str, content: list[Any], stop_reason: str) -> None:
    usage = {"promptTokenCount": 7, "candidatesTokenCount": 3, "thoughtsTokenCount": 2, "totalTokenCount": 12}
    answer = compact(gemini(parts, finish, usage, modelVersion="gm", responseId="r1"))
    body = json.loads(await call(gateway, up, "/v1/messages", messages(GEMINI_MODEL), answer))
    assert body == {"id": "r1", "type": "message", "role": "assistant", "model": "gm", "content": content,
                    "stop_reason": stop_reason, "stop_sequence": None,
                    "usage": {"input_tokens": 7, "output_tokens": 5}}


# A prompt Gemini blocks comes back with promptFeedback and usage, and no candidates at all.
BLOCKED = compact({"promptFeedback": {"blockReason": "SAFETY"}, "modelVersion": "gm", "responseId": "r1",
                   "createTime": "2025-01-02T03:04:05Z",
                   "usageMetadata": {"promptTokenCount": 3, "totalTokenCount": 3}})


@pytest.mark.parametrize(("path", "body", "expected"), [
    # gemini_claude_response.go:278-377: no parts, end_turn, the prompt tokens.
    ("/v1/messages", messages(GEMINI_MODEL),
     {"id": "r1", "type": "message", "role": "assistant", "model": "gm", "content": [], "stop_reason": "end_turn",
      "stop_sequence": None, "usage": {"input_tokens": 3, "output_tokens": 0}}),
    # gemini_openai_response.go:256-301: no choices; usage has no completion_tokens without candidatesTokenCount.
    ("/v1/chat/completions", chat(GEMINI_MODEL),
     {"id": "r1", "object": "chat.completion", "created": 1735787045, "model": "gm", "choices": [],
      "usage": {"total_tokens": 3, "prompt_tokens": 3}}),
    # gemini_openai-responses_response.go:635-651 reads usageMetadata without a finish (the usage
    # shape is this gateway's one, docs/compatibility.md row 24).
    ("/v1/responses", {"model": GEMINI_MODEL, "input": "hi"},
     {"id": "resp_r1", "object": "response", "created_at": 1735787045, "status": "completed", "background": False,
      "error": None, "incomplete_details": None, "model": GEMINI_MODEL, "output": [],
      "usage": {"input_tokens": 3, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 0,
                "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 3}}),
])
async def test_gemini_blocked_prompt_non_stream(gateway: MakeGateway, up: Upstream, path: str, body: dict[str, Any],
                                                expected: dict[str, Any]) -> None:
    assert json.loads(await call(gateway, up, path, body, BLOCKED)) == expected


async def test_gemini_blocked_prompt_on_a_responses_stream_still_completes(gateway: MakeGateway, up: Upstream) -> None:
    # Row 29b: the legacy never sends response.completed here (no finishReason ever arrives).
    raw = await call(gateway, up, "/v1/responses", {"model": GEMINI_MODEL, "input": "hi", "stream": True},
                     gemini_stream(json.loads(BLOCKED)))
    events = events_of(raw)
    assert [name for name, _ in events] == ["response.created", "response.in_progress", "response.completed"]
    completed = events[-1][1]["response"]
    assert (completed["status"], completed.get("output", [])) == ("completed", [])


async def test_responses_stream_reads_compat_chunks_of_another_object(gateway: MakeGateway, up: Upstream) -> None:
    # Row 29a: the legacy skips every chunk whose object is not chat.completion.chunk.
    answer = sse(*[(None, {**openai_chunk(delta, finish), "object": "chat.completion"}) for delta, finish in (
        ({"role": "assistant", "content": "Hi"}, None), ({}, "stop"))], (None, b"[DONE]"))
    raw = await call(gateway, up, "/v1/responses", {"model": COMPAT_MODEL, "input": "hi", "stream": True}, answer)
    events = events_of(raw)
    assert [data["delta"] for name, data in events if name == "response.output_text.delta"] == ["Hi"]
    assert events[-1][0] == "response.completed"
    assert events[-1][1]["response"]["output"][0]["content"][0]["text"] == "Hi"


# --- golden 27: OpenAI-compatible upstream, Claude client -------------------------------------


async def test_golden_27_openai_stream_to_claude_events(gateway: MakeGateway, up: Upstream) -> None:
    answer = sse(
        (None, openai_chunk({"role": "assistant", "tool_calls": [
            {"index": 0, "id": "c", "type": "function", "function": {"name": "f", "arguments": '{"a"'}}]})),
        (None, openai_chunk({"tool_calls": [{"index": 0, "function": {"arguments": ":1}"}}]})),
        (None, openai_chunk({}, "tool_calls")),
        (None, {**openai_chunk({}), "choices": [],
                "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12,
                          "prompt_tokens_details": {"cached_tokens": 4}}}),
        (None, b"[DONE]"))
    raw = await call(gateway, up, "/v1/messages", messages(COMPAT_MODEL, stream=True), answer)
    assert raw.endswith(b'event: message_stop\ndata: {"type":"message_stop"}\n\n')
    assert events_of(raw) == [
        ("message_start", {"type": "message_start", "message": {
            "id": "chatcmpl-1", "type": "message", "role": "assistant", "model": "up-m", "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 0, "output_tokens": 0}}}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "tool_use", "id": "c", "name": "f", "input": {}}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "input_json_delta", "partial_json": '{"a":1}'}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                           "usage": {"input_tokens": 6, "output_tokens": 2, "cache_read_input_tokens": 4}}),
        ("message_stop", {"type": "message_stop"}),
    ]


@pytest.mark.parametrize(("finish", "stop_reason"), [
    ("stop", "end_turn"), ("length", "max_tokens"), ("tool_calls", "tool_use"), ("function_call", "tool_use"),
    ("content_filter", "end_turn"), ("other", "end_turn")])
async def test_openai_finish_to_claude_stop_reason(gateway: MakeGateway, up: Upstream, finish: str,
                                                   stop_reason: str) -> None:
    answer = sse((None, openai_chunk({"role": "assistant", "content": "Hi"})), (None, openai_chunk({}, finish)),
                 (None, b"[DONE]"))
    events = events_of(await call(gateway, up, "/v1/messages", messages(COMPAT_MODEL, stream=True), answer))
    [delta] = [d for e, d in events if e == "message_delta"]
    assert delta["delta"]["stop_reason"] == stop_reason
    full = compact({"id": "c", "object": "chat.completion", "created": 1, "model": "m", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": finish}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "prompt_tokens_details": {"cached_tokens": 5}}})
    up.requests.clear()
    body = json.loads(await call(gateway, up, "/v1/messages", messages(COMPAT_MODEL), full))
    assert body["stop_reason"] == stop_reason
    # cached above prompt: input floors at 0; cache_read only when > 0.
    assert body["usage"] == {"input_tokens": 0, "output_tokens": 2, "cache_read_input_tokens": 5}


# --- golden 28: Codex upstream, OpenAI chat client --------------------------------------------


async def test_golden_28_codex_stream_to_chat_chunks(gateway: MakeGateway, up: Upstream) -> None:
    answer = codex_stream(
        {"type": "response.reasoning_summary_text.delta", "delta": "think"},
        {"type": "response.reasoning_summary_text.done", "text": "think"},
        {"type": "response.output_text.delta", "delta": "Hi"},
        {"type": "response.output_item.done", "item": {"type": "function_call", "call_id": "call_1", "name": "get",
                                                       "arguments": '{"a":1}'}},
        usage={"input_tokens": 7, "output_tokens": 3, "total_tokens": 10,
               "output_tokens_details": {"reasoning_tokens": 1}})
    raw = await call(gateway, up, "/v1/chat/completions", chat(CODEX_MODEL, stream=True), answer)
    assert raw.endswith(b"}\n\ndata: [DONE]\n\n")
    chunks = data_of(raw)  # response.created renders nothing
    assert {(c["id"], c["created"]) for c in chunks} == {("resp_c1", 1700000000)}
    deltas = [c["choices"][0]["delta"] for c in chunks]
    assert [d["reasoning_content"] for d in deltas[:2]] == ["think", "\n\n"]
    assert deltas[2]["content"] == "Hi"
    assert deltas[3]["tool_calls"] == [{"index": 0, "id": "call_1", "type": "function",
                                        "function": {"name": "get", "arguments": '{"a":1}'}}]
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None, None, None, None, "tool_calls"]
    assert chunks[-1]["usage"] == {"completion_tokens": 3, "total_tokens": 10, "prompt_tokens": 7,
                                   "completion_tokens_details": {"reasoning_tokens": 1}}


async def test_codex_stream_without_calls_finishes_stop(gateway: MakeGateway, up: Upstream) -> None:
    answer = codex_stream({"type": "response.output_text.delta", "delta": "Hi"})
    raw = await call(gateway, up, "/v1/chat/completions", chat(CODEX_MODEL, stream=True), answer)
    assert [c["choices"][0]["finish_reason"] for c in data_of(raw)] == [None, "stop"]


CODEX_CALL = [
    {"type": "response.output_item.added", "item": {"type": "function_call", "call_id": "call_1", "name": "get"}},
    {"type": "response.function_call_arguments.delta", "delta": '{"a":1}'},
    {"type": "response.output_item.done", "item": {"type": "function_call", "call_id": "call_1", "name": "get",
                                                   "arguments": '{"a":1}'}}]


@pytest.mark.parametrize(("events", "stop_reason"), [([], "end_turn"), (CODEX_CALL, "tool_use")])
async def test_codex_stream_to_claude_stop_reason(gateway: MakeGateway, up: Upstream, events: list[Any],
                                                  stop_reason: str) -> None:
    raw = await call(gateway, up, "/v1/messages", messages(CODEX_MODEL, stream=True), codex_stream(*events))
    assert [e for e, _ in events_of(raw)][-2:] == ["message_delta", "message_stop"]
    assert events_of(raw)[-2][1]["delta"]["stop_reason"] == stop_reason


@pytest.mark.parametrize("events", [[], CODEX_CALL])
async def test_codex_to_gemini_always_finishes_stop(gateway: MakeGateway, up: Upstream, events: list[Any]) -> None:
    answer = codex_stream({"type": "response.output_text.delta", "delta": "Hi"}, *events)
    raw = await call(gateway, up, f"/v1beta/models/{CODEX_MODEL}:generateContent", GEMINI_BODY, answer)
    assert json.loads(raw)["candidates"][0]["finishReason"] == "STOP"


# --- OpenAI-compatible upstream, Gemini client (A2.16 finish row) -----------------------------


@pytest.mark.parametrize(("finish", "gemini_finish"), [
    ("stop", "STOP"), ("length", "MAX_TOKENS"), ("tool_calls", "STOP"), ("content_filter", "SAFETY"),
    ("other", "STOP")])
async def test_openai_finish_to_gemini(gateway: MakeGateway, up: Upstream, finish: str, gemini_finish: str) -> None:
    answer = sse((None, openai_chunk({"content": "Hi"})), (None, openai_chunk({}, finish)), (None, b"[DONE]"))
    raw = await call(gateway, up, f"/v1beta/models/{COMPAT_MODEL}:streamGenerateContent?alt=sse", GEMINI_BODY, answer)
    assert [c["candidates"][0].get("finishReason") for c in data_of(raw)] == [None, gemini_finish]
    full = compact({"id": "c", "object": "chat.completion", "created": 1, "model": "m", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": finish}]})
    up.requests.clear()
    raw = await call(gateway, up, f"/v1beta/models/{COMPAT_MODEL}:generateContent", GEMINI_BODY, full)
    assert json.loads(raw)["candidates"][0]["finishReason"] == gemini_finish


# --- Claude upstream, Gemini and Gemini CLI clients (A2.16 finish row; compatibility row 19v) ---


@pytest.mark.parametrize(("stop_reason", "gemini_finish"), [
    ("end_turn", "STOP"), ("max_tokens", "MAX_TOKENS"), ("tool_use", "STOP"), ("stop_sequence", "STOP"),
    ("refusal", "STOP")])
async def test_claude_stop_reason_to_gemini(gateway: MakeGateway, up: Upstream, stop_reason: str,
                                            gemini_finish: str) -> None:
    answer = claude_stream(("text", "Hi"), stop_reason=stop_reason)
    raw = await call(gateway, up, f"/v1beta/models/{CLAUDE_MODEL}:streamGenerateContent?alt=sse", GEMINI_BODY, answer)
    assert [c["candidates"][0].get("finishReason") for c in data_of(raw)] == [None, gemini_finish]
    up.requests.clear()
    raw = await call(gateway, up, f"/v1beta/models/{CLAUDE_MODEL}:generateContent", GEMINI_BODY, answer)
    assert json.loads(raw)["candidates"][0]["finishReason"] == gemini_finish
    up.requests.clear()
    envelope = {"model": CLAUDE_MODEL, "request": GEMINI_BODY}
    raw = await call(gateway, up, "/v1internal:generateContent", envelope, answer)
    assert json.loads(raw)["response"]["candidates"][0]["finishReason"] == gemini_finish
    up.requests.clear()
    raw = await call(gateway, up, "/v1internal:streamGenerateContent?alt=sse", envelope, answer)
    assert [c["response"]["candidates"][0].get("finishReason") for c in data_of(raw)] == [None, gemini_finish]


# --- golden 29: Gemini upstream, Responses client ---------------------------------------------


async def test_golden_29_gemini_stream_to_responses_events(gateway: MakeGateway, up: Upstream) -> None:
    usage = {"promptTokenCount": 7, "cachedContentTokenCount": 4, "candidatesTokenCount": 3, "thoughtsTokenCount": 2,
             "totalTokenCount": 12}
    answer = gemini_stream(gemini([{"text": "Hi"}], responseId="r1", createTime="2025-01-02T03:04:05Z"),
                           gemini([{"text": "!"}], responseId="r1"),
                           gemini([{"functionCall": {"name": "get", "args": {"a": 1}}}], "STOP", usage,
                                  responseId="r1"))
    raw = await call(gateway, up, "/v1/responses", {"model": GEMINI_MODEL, "input": "hi", "stream": True}, answer)
    events = events_of(raw)
    assert [d["sequence_number"] for _, d in events] == list(range(1, len(events) + 1))
    assert [e for e, _ in events] == [
        "response.created", "response.in_progress",
        "response.output_item.added", "response.content_part.added",
        "response.output_text.delta", "response.output_text.delta",
        "response.output_item.added", "response.function_call_arguments.delta",
        "response.output_text.done", "response.content_part.done", "response.output_item.done",
        "response.function_call_arguments.done", "response.output_item.done",
        "response.completed"]
    assert events[0][1]["response"]["status"] == "in_progress" and events[0][1]["response"]["output"] == []
    assert events[2][1]["item"]["id"] == "msg_r1_0" and events[2][1]["item"]["type"] == "message"
    call_item = events[6][1]["item"]
    assert re.fullmatch(r"call_\d+_\d+", call_item["call_id"]) and call_item["id"] == "fc_" + call_item["call_id"]
    completed = events[-1][1]["response"]
    assert completed["id"] == "r1" and completed["status"] == "completed"
    # created_at comes from the first chunk's createTime (now when it has none).
    assert {d["response"]["created_at"] for e, d in events if "response" in d} == {1735787045}
    # Gemini's cached count is not carried into the Responses usage.
    assert completed["usage"] == {"input_tokens": 7, "input_tokens_details": {"cached_tokens": 0},
                                  "output_tokens": 3, "output_tokens_details": {"reasoning_tokens": 2},
                                  "total_tokens": 12}
    # The Responses handler writes a newline before each event and one after the last.
    assert raw.startswith(b"\nevent: response.created\ndata: {") and raw.endswith(b"}\n\n")
    assert b"}\n\nevent: response.completed\ndata: {" in raw


async def test_gemini_calls_to_claude_get_toolu_ids_answered_in_order(gateway: MakeGateway, up: Upstream) -> None:
    body = {"contents": [
        {"role": "user", "parts": [{"text": "hi"}]},
        {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {"a": 1}}},
                                    {"functionCall": {"name": "g", "args": {}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {"result": "one"}}},
                                   {"functionResponse": {"name": "g", "response": {"result": "two"}}}]}]}
    await call(gateway, up, f"/v1beta/models/{CLAUDE_MODEL}:generateContent", body, CLAUDE_OK)
    calls, results = up.sent()["messages"][1]["content"], up.sent()["messages"][2]["content"]
    assert [c["type"] for c in calls] == ["tool_use", "tool_use"]
    assert all(re.fullmatch(r"toolu_[A-Za-z0-9]{24}", c["id"]) for c in calls)
    # Each response takes the oldest unanswered call's id (a FIFO, claude_gemini_request.go).
    assert [(r["type"], r["tool_use_id"], r["content"]) for r in results] == [
        ("tool_result", calls[0]["id"], "one"), ("tool_result", calls[1]["id"], "two")]
