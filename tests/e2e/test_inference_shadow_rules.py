"""Each documented deviation (docs/compatibility.md, **shadow rule**) put in shadow over HTTP.

The gateway runs as its own process with the inference routes in ``shadow``; the client's answer
comes from the stand-in legacy (tests/fakes/legacy_server.py), and the native leg really runs
against the scripted upstream (tests/fakes/llm_upstream.py). For each rule the upstream is made to
produce the situation the row describes, and ``GET /v0/gateway/shadow`` must then count that one
comparison as ``ignored`` under ``expected:<rule>``. The same machinery must still count a
difference no rule explains as a mismatch.

Same-protocol pairs go through the stand-in's own inference routes, so both legs see the same
upstream. A pair the stand-in does not translate is answered by ``Canned``: the bytes the legacy
writes for that input, derived from CLIProxyAPI at 9b72ea9ef (file:line next to each).

Besides the API-key upstreams of test_inference_shadow.py's config, one Antigravity credential
file sits in the auth-dir, its base_url the fake Cloud Code service (its model list comes from
there), for row 21.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from tests.e2e.conftest import API_KEY, Processes, free_port, mgmt_headers, write_flags
from tests.e2e.test_inference_shadow import config_text
from tests.fakes.legacy_server import RUNNER_OPTIONS, create_legacy_app
from tests.fakes.llm_upstream import FakeLLM, Fault, status
from tests.fakes.loopback import serve_on_loopback
from tests.fakes.oauth_providers import FakeOAuthProviders

CASE_HEADER = "X-Shadow-Case"
SSE = {"Content-Type": "text/event-stream"}
GEMINI_BODY = {"contents": [{"role": "user", "parts": [{"text": "say hello"}]}]}
CLAUDE_TOOL = [{"name": "get_weather", "input_schema": {"type": "object",
                                                         "properties": {"location": {"type": "string"}}}}]


@dataclass(frozen=True)
class Canned:
    """What CLIProxyAPI answers for this case's input (status, headers, body)."""

    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class Case:
    name: str
    path: str
    body: dict[str, Any]
    outcome: str  # "ignored" or "mismatch"
    rule: str | None = None  # the expected:<rule> reason of an ignored comparison
    script: dict[str, list[Fault]] = field(default_factory=dict)  # upstream faults per API key
    legacy: Canned | None = None  # None: the stand-in's own route answers


def sse(*events: tuple[str | None, Any]) -> bytes:
    out = b""
    for name, data in events:
        text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
        out += (f"event: {name}\n" if name else "").encode() + f"data: {text}\n\n".encode()
    return out


def claude_stream(model: str) -> dict[str, Any]:
    return {"model": model, "max_tokens": 64, "messages": [{"role": "user", "content": "say hello"}],
            "stream": True}


CLAUDE_OVERLOADED = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}


def claude_sse(*events: dict[str, Any], sep: str = "\n\n") -> bytes:
    """Claude events as the legacy's translators write them (``sep``: the Gemini->Claude one ends
    each with three newlines)."""
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e, separators=(',', ':'))}{sep}".encode()
                    for e in events)


def message_start(model: str, message_id: str) -> dict[str, Any]:
    return {"type": "message_start", "message": {
        "id": message_id, "type": "message", "role": "assistant", "content": [], "model": model,
        "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 0, "output_tokens": 0}}}


# The Codex upstream's tool-call answer (FakeLLM) folded by codex_openai_response.go:167-302:
# the template's keys, the call, usage, and "stop" for status "completed" whatever the output held.
CODEX_CHAT_TOOL_CALL = json.dumps({
    "id": "resp_fake", "object": "chat.completion", "created": 1700000000, "model": "gpt-5",
    "choices": [{"index": 0, "message": {
        "role": "assistant", "content": None, "reasoning_content": None,
        "tool_calls": [{"id": "call_fake_1", "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"location": "Paris"}'}}]},
        "finish_reason": "stop", "native_finish_reason": "stop"}],
    "usage": {"completion_tokens": 5, "total_tokens": 16, "prompt_tokens": 11}}).encode()

# Gemini upstream, Claude client (gemini_claude_response.go:50-263 and the executor's closing
# [DONE], gemini_executor.go:318): the call in one chunk, the finish in the next. The stop reason
# looks at the finishing chunk only.
GEMINI_CLAUDE_SEPARATE_FINISH = claude_sse(
    message_start("gemini-2.5-flash", "fake-resp"),
    {"type": "content_block_start", "index": 0,
     "content_block": {"type": "tool_use", "id": "get_weather-1-1", "name": "get_weather", "input": {}}},
    {"type": "content_block_delta", "index": 0,
     "delta": {"type": "input_json_delta", "partial_json": '{"location": "Paris"}'}},
    {"type": "content_block_stop", "index": 0},
    {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
     "usage": {"input_tokens": 11, "output_tokens": 5}},
    {"type": "message_stop"}, sep="\n\n\n")

# The same pair when the finishing chunk's usage has no candidatesTokenCount: the closing events
# are written only when it exists (gemini_claude_response.go:239-262); [DONE] still ends it.
GEMINI_CLAUDE_NO_OUTPUT_COUNT = claude_sse(
    message_start("gemini-2.5-flash", "fake-resp"),
    {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Let me think."}},
    {"type": "message_stop"}, sep="\n\n\n")


def chat_chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1700000000,
            "model": "upstream-model", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


# An OpenAI-compatible stream that finishes (finish_reason, no usage) and closes without [DONE].
FINISHED_WITHOUT_DONE = sse((None, chat_chunk({"role": "assistant", "content": ""})),
                            (None, chat_chunk({"content": "Hello"})), (None, chat_chunk({"content": " there"})),
                            (None, chat_chunk({}, "stop")))
# What openai_claude_response.go:124-300 makes of it: message_start, the text block and its stop at
# the finish; message_delta waits for usage and message_stop for [DONE], and neither comes.
COMPAT_CLAUDE_WITHOUT_DONE = claude_sse(
    {"type": "message_start", "message": {
        "id": "chatcmpl-fake", "type": "message", "role": "assistant", "model": "upstream-model", "content": [],
        "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 0, "output_tokens": 0}}},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": " there"}},
    {"type": "content_block_stop", "index": 0})


# An OpenAI-compatible stream whose later call chunks repeat "id": null and "name": null.
NULL_CONTINUATION = sse(
    (None, chat_chunk({"role": "assistant", "content": None, "tool_calls": [
        {"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]})),
    (None, chat_chunk({"tool_calls": [{"index": 0, "id": None, "function": {"name": None,
                                                                           "arguments": '{"location":'}}]})),
    (None, chat_chunk({"tool_calls": [{"index": 0, "id": None, "function": {"name": None, "arguments": '"Paris"}'}}]})),
    (None, {**chat_chunk({}, "tool_calls"), "usage": {"prompt_tokens": 11, "completion_tokens": 5,
                                                      "total_tokens": 16}}),
    (None, "[DONE]"))
# openai_claude_response.go:204-235: a present name (null reads as "") opens the block again with
# name and id "", at the same block index; the arguments are sent whole at the finish.
COMPAT_CLAUDE_NULL_CONTINUATION = claude_sse(
    {"type": "message_start", "message": {
        "id": "chatcmpl-fake", "type": "message", "role": "assistant", "model": "upstream-model", "content": [],
        "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 0, "output_tokens": 0}}},
    {"type": "content_block_start", "index": 0,
     "content_block": {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {}}},
    *[{"type": "content_block_start", "index": 0,
       "content_block": {"type": "tool_use", "id": "", "name": "", "input": {}}}] * 2,
    {"type": "content_block_delta", "index": 0,
     "delta": {"type": "input_json_delta", "partial_json": '{"location":"Paris"}'}},
    {"type": "content_block_stop", "index": 0},
    {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None},
     "usage": {"input_tokens": 11, "output_tokens": 5}},
    {"type": "message_stop"})


def codex_event(name: str, **fields: Any) -> tuple[str, dict[str, Any]]:
    return name, {"type": name, **fields}


CODEX_CALL = {"id": "fc_1", "type": "function_call", "call_id": "call_1", "name": "get_weather",
              "arguments": '{"location":"Paris"}', "status": "completed"}
CODEX_RESPONSE = {"id": "resp_1", "object": "response", "created_at": 1700000000, "model": "gpt-5"}
# A Codex stream with a call, then text after it.
CALL_THEN_TEXT = sse(
    codex_event("response.created", response={**CODEX_RESPONSE, "status": "in_progress", "output": []}),
    codex_event("response.output_item.added", output_index=0, item={**CODEX_CALL, "arguments": ""}),
    codex_event("response.function_call_arguments.delta", item_id="fc_1", output_index=0,
                delta='{"location":"Paris"}'),
    codex_event("response.output_item.done", output_index=0, item=CODEX_CALL),
    codex_event("response.output_item.added", output_index=1,
                item={"id": "msg_1", "type": "message", "role": "assistant", "content": []}),
    codex_event("response.output_text.delta", item_id="msg_1", output_index=1, content_index=0, delta="Done"),
    codex_event("response.output_text.delta", item_id="msg_1", output_index=1, content_index=0, delta="!"),
    codex_event("response.output_item.done", output_index=1,
                item={"id": "msg_1", "type": "message", "role": "assistant",
                      "content": [{"type": "output_text", "text": "Done!"}]}),
    codex_event("response.completed", response={**CODEX_RESPONSE, "status": "completed", "output": [],
                                                "usage": {"input_tokens": 11, "output_tokens": 5,
                                                          "total_tokens": 16}}))


def gemini_chunk(*parts: dict[str, Any], finish: str | None = None, usage: dict[str, Any] | None = None
                 ) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}}
    if finish:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], "usageMetadata": {"trafficType": "PROVISIONED_THROUGHPUT", **(usage or {})},
            "modelVersion": "gpt-5", "createTime": "2023-11-14T22:13:20Z", "responseId": "resp_1"}


# codex_gemini_response.go:42-135: the call is held at its output_item.done and written again
# before every later chunk (each text delta, then the usage of response.completed).
HELD_CALL = gemini_chunk({"functionCall": {"name": "get_weather", "args": {"location": "Paris"}}}, finish="STOP")
CODEX_GEMINI_HELD_CALL = sse(*((None, chunk) for chunk in (
    gemini_chunk(), HELD_CALL, gemini_chunk({"text": "Done"}), HELD_CALL, gemini_chunk({"text": "!"}), HELD_CALL,
    gemini_chunk(usage={"promptTokenCount": 11, "candidatesTokenCount": 5, "totalTokenCount": 16}))))


# A Claude upstream stream whose answer starts with a server tool (Anthropic's web search: a
# server_tool_use block with its input, then the search result block), then text.
CLAUDE_SERVER_TOOL = claude_sse(
    message_start("claude-sonnet-4-5-20250929", "msg_1"),
    {"type": "content_block_start", "index": 0,
     "content_block": {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}}},
    {"type": "content_block_delta", "index": 0,
     "delta": {"type": "input_json_delta", "partial_json": '{"query": "paris weather"}'}},
    {"type": "content_block_stop", "index": 0},
    {"type": "content_block_start", "index": 1,
     "content_block": {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []}},
    {"type": "content_block_stop", "index": 1},
    {"type": "content_block_start", "index": 2, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 2, "delta": {"type": "text_delta", "text": "Sunny."}},
    {"type": "content_block_stop", "index": 2},
    {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
     "usage": {"input_tokens": 11, "output_tokens": 5}},
    {"type": "message_stop"})


def claude_gemini_chunk(parts: list[dict[str, Any]], *, finish: bool = False,
                        usage: dict[str, int] | None = None) -> dict[str, Any]:
    """claude_gemini_response.go:74-91: the template with the message_start model and id."""
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}}
    if finish:
        candidate["finishReason"] = "STOP"
    return {"candidates": [candidate], "usageMetadata": {"trafficType": "PROVISIONED_THROUGHPUT", **(usage or {})},
            "modelVersion": "claude-sonnet-4-5-20250929", "createTime": "2023-11-14T22:13:20Z",
            "responseId": "msg_1"}


# What the Gemini handler (gemini_handlers.go:305-309, "data: <chunk>\n\n") writes for it. The
# server_tool_use block's name is never recorded (only tool_use is, claude_gemini_response.go:105),
# but its input is, so its content_block_stop writes a functionCall with name "" and STOP (:157-190);
# the result block writes nothing, the text one chunk (:123-128), message_delta the usage (:194-244).
GEMINI_FROM_CLAUDE_SERVER_TOOL = sse(*((None, chunk) for chunk in (
    claude_gemini_chunk([{"functionCall": {"name": "", "args": {"query": "paris weather"}}}], finish=True),
    claude_gemini_chunk([{"text": "Sunny."}]),
    claude_gemini_chunk([], finish=True, usage={"promptTokenCount": 11, "candidatesTokenCount": 5,
                                                "totalTokenCount": 16}))))

CLAUDE_CUT_BY_MAX_TOKENS = claude_sse(
    message_start("claude-sonnet-4-5-20250929", "msg_1"),
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "The first"}},
    {"type": "content_block_stop", "index": 0},
    {"type": "message_delta", "delta": {"stop_reason": "max_tokens", "stop_sequence": None},
     "usage": {"input_tokens": 11, "output_tokens": 2}},
    {"type": "message_stop"})

# The legacy's chunks for it: the text (:123-128), then message_delta sets MAX_TOKENS (:204) and
# overwrites it with STOP (:242).
GEMINI_FROM_CLAUDE_MAX_TOKENS = sse(*((None, chunk) for chunk in (
    claude_gemini_chunk([{"text": "The first"}]),
    claude_gemini_chunk([], finish=True, usage={"promptTokenCount": 11, "candidatesTokenCount": 2,
                                                "totalTokenCount": 13}))))

def _chunk_without_finish_key(content: str) -> dict[str, Any]:
    chunk = chat_chunk({"content": content})
    del chunk["choices"][0]["finish_reason"]
    return chunk


# The last token and its finish reason in one chunk.
FINISH_WITH_LAST_TOKEN = sse((None, _chunk_without_finish_key("Hel")), (None, chat_chunk({"content": "lo"}, "stop")),
                             (None, "[DONE]"))

# The legacy's Gemini chunks for it (openai_gemini_response.go:97-151): one per text delta; the
# second returns at its text and the finish reason is never read.
GEMINI_FROM_COMPAT_WITHOUT_FINISH = sse(*((None, {
    "candidates": [{"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}],
    "model": "upstream-model"}) for text in ("Hel", "lo")))

# Non-stream Responses answer from the Claude upstream's usual text answer
# (claude_openai-responses_response.go:435-687): the template's usage keeps an empty
# output_tokens_details when there was no thinking (:458, :680-685); the request's model is echoed
# (:571-573), appended after the template's keys.
RESPONSES_FROM_CLAUDE = json.dumps({
    "id": "msg_fake", "object": "response", "created_at": 1700000000, "status": "completed", "background": False,
    "error": None, "incomplete_details": None,
    "output": [{"id": "msg_msg_fake_0", "type": "message", "status": "completed",
                "content": [{"type": "output_text", "annotations": [], "logprobs": [],
                             "text": "Hello from the fake upstream"}], "role": "assistant"}],
    "usage": {"input_tokens": 11, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 5,
              "output_tokens_details": {}, "total_tokens": 16},
    "model": "c-alias"}, separators=(",", ":")).encode()


# Non-stream Responses answer from the OpenAI-compatible upstream's usual text answer
# (openai_openai-responses_response.go:606-788). The echo reads the translated chat body
# (:627-698), which carries the instructions as a system message (openai_openai-responses_request.go:
# 52-57) and the upstream model: no "instructions" key, "model" the upstream name.
RESPONSES_FROM_COMPAT = json.dumps({
    "id": "chatcmpl-fake", "object": "response", "created_at": 1700000000, "status": "completed",
    "background": False, "error": None, "incomplete_details": None, "model": "upstream-model",
    "output": [{"id": "msg_chatcmpl-fake_0", "type": "message", "status": "completed",
                "content": [{"type": "output_text", "annotations": [], "logprobs": [],
                             "text": "Hello from the fake upstream"}], "role": "assistant"}],
    "usage": {"input_tokens": 11, "output_tokens": 5, "total_tokens": 16}}, separators=(",", ":")).encode()


# A Gemini answer without usageMetadata, and the legacy's non-stream Responses object for it
# (gemini_openai-responses_response.go:461-660): "resp_" before the responseId, the translated
# Gemini body's model echoed (:499-503), the message item, and no usage at all (:640: only with
# usageMetadata).
GEMINI_NO_USAGE = {"candidates": [{"content": {"role": "model", "parts": [{"text": "Hello from the fake upstream"}]},
                                   "finishReason": "STOP", "index": 0}],
                   "modelVersion": "gemini-2.5-flash", "responseId": "fake-1"}
RESPONSES_FROM_GEMINI_NO_USAGE = json.dumps({
    "id": "resp_fake-1", "object": "response", "created_at": 1700000000, "status": "completed", "background": False,
    "error": None, "incomplete_details": None, "model": "gemini-2.5-flash",
    "output": [{"id": "msg_fake-1_0", "type": "message", "status": "completed",
                "content": [{"type": "output_text", "annotations": [], "logprobs": [],
                             "text": "Hello from the fake upstream"}], "role": "assistant"}]},
    separators=(",", ":")).encode()


# A Gemini answer with text, then a call; thoughtsTokenCount given so that both sides write the
# same usage keys.
GEMINI_TEXT_THEN_CALL = {
    "candidates": [{"content": {"role": "model", "parts": [
        {"text": "Checking."}, {"functionCall": {"name": "get_weather", "args": {"location": "Paris"}}}]},
        "finishReason": "STOP", "index": 0}],
    "usageMetadata": {"promptTokenCount": 11, "candidatesTokenCount": 5, "thoughtsTokenCount": 0,
                      "totalTokenCount": 16},
    "modelVersion": "gemini-2.5-flash", "responseId": "fake-2"}
# The legacy's non-stream Responses object for it (gemini_openai-responses_response.go:461-660): a
# call is added to output as it is met (:562-580), the message only after the parts (:597-602); the
# translated Gemini body's model and tools are echoed (:499-541; tools as
# gemini_openai-responses_request.go:310-350 writes them, re-marshalled with sorted keys).
RESPONSES_FROM_GEMINI_CALL_FIRST = json.dumps({
    "id": "resp_fake-2", "object": "response", "created_at": 1700000000, "status": "completed", "background": False,
    "error": None, "incomplete_details": None, "model": "gemini-2.5-flash",
    "tools": [{"functionDeclarations": [{"description": "", "name": "get_weather", "parametersJsonSchema": {
        "properties": {"location": {"type": "string"}}, "type": "object"}}]}],
    "output": [{"id": "fc_call_1", "type": "function_call", "status": "completed",
                "arguments": '{"location": "Paris"}', "call_id": "call_1", "name": "get_weather"},
               {"id": "msg_fake-2_0", "type": "message", "status": "completed",
                "content": [{"type": "output_text", "annotations": [], "logprobs": [], "text": "Checking."}],
                "role": "assistant"}],
    "usage": {"input_tokens": 11, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 5,
              "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 16}},
    separators=(",", ":")).encode()



def legacy_responses_sse(*events: tuple[str, dict[str, Any]]) -> bytes:
    """A Responses stream as the legacy's handler writes it: each translator string
    (``event: <name>\ndata: <json>``) after a newline and followed by one, then one more newline
    when the stream ends (openai_responses_handlers.go:185-189, :201-207, :223-225)."""
    body = b"".join(b"\nevent: " + name.encode() + b"\ndata: "
                    + json.dumps(data, separators=(",", ":")).encode() + b"\n" for name, data in events)
    return body + b"\n"


def responses_event(name: str, seq: int, **fields: Any) -> tuple[str, dict[str, Any]]:
    return name, {"type": name, "sequence_number": seq, **fields}


WEATHER_TOOL_CHAT = {"function": {"description": "", "name": "get_weather", "parameters": {
    "properties": {"location": {"type": "string"}}, "type": "object"}}, "type": "function"}
TIME_TOOL_CHAT = {"function": {"description": "", "name": "get_time", "parameters": {
    "properties": {"city": {"type": "string"}}, "type": "object"}}, "type": "function"}
WEATHER_TOOL_RESPONSES = {"type": "function", "name": "get_weather",
                          "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}}
TIME_TOOL_RESPONSES = {"type": "function", "name": "get_time",
                       "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}
# An OpenAI-compatible finishing chunk with usage; the reasoning count makes the legacy write
# output_tokens_details too (openai_openai-responses_response.go:116-118, :585-587), so the usage
# keys agree and only the framing differs.
COMPAT_USAGE = {"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16,
                "completion_tokens_details": {"reasoning_tokens": 2}}
COMPAT_RESPONSES_USAGE = {"input_tokens": 11, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 5,
                          "output_tokens_details": {"reasoning_tokens": 2}, "total_tokens": 16}
COMPAT_CREATED = {"id": "chatcmpl-fake", "object": "response", "created_at": 1700000000}


def compat_started() -> list[tuple[str, dict[str, Any]]]:
    """openai_openai-responses_response.go:129-164: the first chunk opens the response."""
    return [responses_event("response.created", 1, response={**COMPAT_CREATED, "status": "in_progress",
                                                             "background": False, "error": None, "output": []}),
            responses_event("response.in_progress", 2, response={**COMPAT_CREATED, "status": "in_progress"})]


def compat_call_done(seq: int, call_id: str, name: str, arguments: str) -> list[tuple[str, dict[str, Any]]]:
    """openai_openai-responses_response.go:420-446: a call closed at the finish."""
    return [responses_event("response.function_call_arguments.done", seq, item_id=f"fc_{call_id}", output_index=0,
                            arguments=arguments),
            responses_event("response.output_item.done", seq + 1, output_index=0, item={
                "id": f"fc_{call_id}", "type": "function_call", "status": "completed", "arguments": arguments,
                "call_id": call_id, "name": name})]


def compat_completed(seq: int, output: list[dict[str, Any]], tools: list[dict[str, Any]]
                     ) -> tuple[str, dict[str, Any]]:
    """openai_openai-responses_response.go:448-594: the echo reads the translated chat body (the
    upstream model; the tools as openai_openai-responses_request.go:162-199 writes them, marshalled
    with sorted keys), then the output, then the usage."""
    return responses_event("response.completed", seq, response={
        **COMPAT_CREATED, "status": "completed", "background": False, "error": None, "model": "upstream-model",
        "tools": tools, "output": output, "usage": COMPAT_RESPONSES_USAGE})


# Row 28: text, then a tool call, from an OpenAI-compatible upstream.
COMPAT_TEXT_THEN_CALL = sse(
    (None, chat_chunk({"role": "assistant", "content": ""})),
    (None, chat_chunk({"content": "Checking."})),
    (None, chat_chunk({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                       "function": {"name": "get_weather", "arguments": ""}}]})),
    (None, chat_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"location":"Paris"}'}}]})),
    (None, {**chat_chunk({}, "tool_calls"), "usage": COMPAT_USAGE}),
    (None, "[DONE]"))
_COMPAT_MESSAGE = {"id": "msg_chatcmpl-fake_0", "type": "message", "status": "completed",
                   "content": [{"type": "output_text", "annotations": [], "logprobs": [], "text": "Checking."}],
                   "role": "assistant"}
_COMPAT_WEATHER_CALL = {"id": "fc_call_1", "type": "function_call", "status": "completed",
                        "arguments": '{"location":"Paris"}', "call_id": "call_1", "name": "get_weather"}
# What the legacy makes of it: the message is opened at the text (:197-227) and closed at the
# first tool-call chunk (:268-298), before the call's item is added (:300-325); the arguments
# (:332-348) and the call's close come later, the call at the finish (:420-446).
RESPONSES_FROM_COMPAT_TEXT_THEN_CALL = legacy_responses_sse(
    *compat_started(),
    responses_event("response.output_item.added", 3, output_index=0, item={
        "id": "msg_chatcmpl-fake_0", "type": "message", "status": "in_progress", "content": [], "role": "assistant"}),
    responses_event("response.content_part.added", 4, item_id="msg_chatcmpl-fake_0", output_index=0,
                    content_index=0, part={"type": "output_text", "annotations": [], "logprobs": [], "text": ""}),
    responses_event("response.output_text.delta", 5, item_id="msg_chatcmpl-fake_0", output_index=0,
                    content_index=0, delta="Checking.", logprobs=[]),
    responses_event("response.output_text.done", 6, item_id="msg_chatcmpl-fake_0", output_index=0,
                    content_index=0, text="Checking.", logprobs=[]),
    responses_event("response.content_part.done", 7, item_id="msg_chatcmpl-fake_0", output_index=0,
                    content_index=0, part={"type": "output_text", "annotations": [], "logprobs": [],
                                           "text": "Checking."}),
    responses_event("response.output_item.done", 8, output_index=0, item=_COMPAT_MESSAGE),
    responses_event("response.output_item.added", 9, output_index=0, item={
        "id": "fc_call_1", "type": "function_call", "status": "in_progress", "arguments": "", "call_id": "call_1",
        "name": "get_weather"}),
    responses_event("response.function_call_arguments.delta", 10, item_id="fc_call_1", output_index=0,
                    delta='{"location":"Paris"}'),
    *compat_call_done(11, "call_1", "get_weather", '{"location":"Paris"}'),
    compat_completed(13, [_COMPAT_MESSAGE, _COMPAT_WEATHER_CALL], [WEATHER_TOOL_CHAT]))

# Row 27: two parallel calls of one choice, each announced in its own delta (index 0, then 1).
COMPAT_PARALLEL_CALLS = sse(
    (None, chat_chunk({"role": "assistant", "content": None, "tool_calls": [
        {"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]})),
    (None, chat_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"location":"Paris"}'}}]})),
    (None, chat_chunk({"tool_calls": [{"index": 1, "id": "call_2", "type": "function",
                                       "function": {"name": "get_time", "arguments": ""}}]})),
    (None, chat_chunk({"tool_calls": [{"index": 1, "function": {"arguments": '{"city":"Paris"}'}}]})),
    (None, {**chat_chunk({}, "tool_calls"), "usage": COMPAT_USAGE}),
    (None, "[DONE]"))
_MERGED_ARGUMENTS = '{"location":"Paris"}{"city":"Paris"}'
# The legacy reads only tool_calls[0] and keys calls by the choice index (:263-349): the first id
# opens the one item, named by the first name; the second id is ignored, its name replaces the
# first and its arguments go to the same item; the finish closes that item with the last name.
RESPONSES_FROM_COMPAT_PARALLEL_CALLS = legacy_responses_sse(
    *compat_started(),
    responses_event("response.output_item.added", 3, output_index=0, item={
        "id": "fc_call_1", "type": "function_call", "status": "in_progress", "arguments": "", "call_id": "call_1",
        "name": "get_weather"}),
    responses_event("response.function_call_arguments.delta", 4, item_id="fc_call_1", output_index=0,
                    delta='{"location":"Paris"}'),
    responses_event("response.function_call_arguments.delta", 5, item_id="fc_call_1", output_index=0,
                    delta='{"city":"Paris"}'),
    *compat_call_done(6, "call_1", "get_time", _MERGED_ARGUMENTS),
    compat_completed(8, [{"id": "fc_call_1", "type": "function_call", "status": "completed",
                          "arguments": _MERGED_ARGUMENTS, "call_id": "call_1", "name": "get_time"}],
                     [WEATHER_TOOL_CHAT, TIME_TOOL_CHAT]))


def gemini_stream_chunk(*parts: dict[str, Any], finish: str | None = None,
                        usage: dict[str, int] | None = None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    chunk: dict[str, Any] = {"candidates": [candidate]}
    if usage:
        chunk["usageMetadata"] = usage
    return {**chunk, "modelVersion": "gemini-2.5-flash", "createTime": "2023-11-14T22:13:20Z",
            "responseId": "fake-3"}


# Row 25: a thought, the answer's first words, another thought, the rest of the answer.
GEMINI_LATE_THOUGHT = sse(*((None, chunk) for chunk in (
    gemini_stream_chunk({"text": "Let me think.", "thought": True}),
    gemini_stream_chunk({"text": "Hello"}),
    gemini_stream_chunk({"text": "One more thought.", "thought": True}),
    gemini_stream_chunk({"text": " there"}, finish="STOP", usage={
        "promptTokenCount": 11, "candidatesTokenCount": 5, "thoughtsTokenCount": 4, "totalTokenCount": 20}))))
_GEMINI_REASONING = {"id": "rs_fake-3_0", "type": "reasoning",
                     "summary": [{"type": "summary_text", "text": "Let me think."}]}
# What gemini_openai-responses_response.go makes of it: the first thought opens the reasoning item
# (:141-170), the text closes it (:175-177, :78-105) and opens the message (:178-202); the late
# thought is dropped because the reasoning item is closed (:142-145). The message's done events
# carry only the text of its first part (:193-194, :256), response.completed all of it (:397); the
# echo is the translated Gemini body's model (gemini_executor.go:232), the usage :430-452.
RESPONSES_FROM_GEMINI_LATE_THOUGHT = legacy_responses_sse(
    responses_event("response.created", 1, response={
        "id": "fake-3", "object": "response", "created_at": 1700000000, "status": "in_progress",
        "background": False, "error": None, "output": []}),
    responses_event("response.in_progress", 2, response={
        "id": "fake-3", "object": "response", "created_at": 1700000000, "status": "in_progress"}),
    responses_event("response.output_item.added", 3, output_index=0, item={
        "id": "rs_fake-3_0", "type": "reasoning", "status": "in_progress", "summary": []}),
    responses_event("response.reasoning_summary_part.added", 4, item_id="rs_fake-3_0", output_index=0,
                    summary_index=0, part={"type": "summary_text", "text": ""}),
    responses_event("response.reasoning_summary_text.delta", 5, item_id="rs_fake-3_0", output_index=0,
                    summary_index=0, delta="Let me think."),
    responses_event("response.reasoning_summary_text.done", 6, item_id="rs_fake-3_0", output_index=0,
                    summary_index=0, text="Let me think."),
    responses_event("response.reasoning_summary_part.done", 7, item_id="rs_fake-3_0", output_index=0,
                    summary_index=0, part={"type": "summary_text", "text": "Let me think."}),
    responses_event("response.output_item.done", 8, output_index=0, item={
        "id": "rs_fake-3_0", "type": "reasoning", "encrypted_content": "",
        "summary": [{"type": "summary_text", "text": "Let me think."}]}),
    responses_event("response.output_item.added", 9, output_index=1, item={
        "id": "msg_fake-3_0", "type": "message", "status": "in_progress", "content": [], "role": "assistant"}),
    responses_event("response.content_part.added", 10, item_id="msg_fake-3_0", output_index=1, content_index=0,
                    part={"type": "output_text", "annotations": [], "logprobs": [], "text": ""}),
    responses_event("response.output_text.delta", 11, item_id="msg_fake-3_0", output_index=1, content_index=0,
                    delta="Hello", logprobs=[]),
    responses_event("response.output_text.delta", 12, item_id="msg_fake-3_0", output_index=1, content_index=0,
                    delta=" there", logprobs=[]),
    responses_event("response.output_text.done", 13, item_id="msg_fake-3_0", output_index=1, content_index=0,
                    text="Hello", logprobs=[]),
    responses_event("response.content_part.done", 14, item_id="msg_fake-3_0", output_index=1, content_index=0,
                    part={"type": "output_text", "annotations": [], "logprobs": [], "text": "Hello"}),
    responses_event("response.output_item.done", 15, output_index=1, item={
        "id": "msg_fake-3_0", "type": "message", "status": "completed",
        "content": [{"type": "output_text", "text": "Hello"}], "role": "assistant"}),
    responses_event("response.completed", 16, response={
        "id": "fake-3", "object": "response", "created_at": 1700000000, "status": "completed", "background": False,
        "error": None, "model": "gemini-2.5-flash",
        "output": [_GEMINI_REASONING, {
            "id": "msg_fake-3_0", "type": "message", "status": "completed",
            "content": [{"type": "output_text", "annotations": [], "logprobs": [], "text": "Hello there"}],
            "role": "assistant"}],
        "usage": {"input_tokens": 15, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 5,
                  "output_tokens_details": {"reasoning_tokens": 4}, "total_tokens": 20}}))


# Row 21 needs an Antigravity credential: one file in the auth-dir whose base_url is the fake
# Cloud Code service (tests/fakes/oauth_providers.py), which lists this model for it.
ANTIGRAVITY_MODEL = "gemini-2.5-flash"
ANTIGRAVITY_TOKEN = "ya29.shadow-antigravity"
CLOUD_CODE_GENERATE = "/google/assist/v1internal:generateContent"


def antigravity_credential(base_url: str) -> dict[str, Any]:
    """A CLIProxyAPI antigravity file, its token valid for a day (no refresh during the test)."""
    expires = datetime.now(UTC) + timedelta(days=1)
    return {"type": "antigravity", "access_token": ANTIGRAVITY_TOKEN, "refresh_token": "1//shadow-refresh",
            "expires_in": 86400, "timestamp": int(datetime.now(UTC).timestamp() * 1000),
            "expired": expires.strftime("%Y-%m-%dT%H:%M:%SZ"), "email": "shadow@example.com",
            "project_id": "shadow-project", "base_url": base_url}


# What the legacy answers a Gemini body without contents on Antigravity: fixCLIToolResponse finds
# no request.contents and ConvertGeminiRequestToAntigravity returns an empty body
# (antigravity_gemini_request.go:43-46, :180-185), which the executor sends; Google refuses it with
# 400 INVALID_ARGUMENT, and the executor hands that status and body on unchanged
# (antigravity_executor.go:190-206). The Gemini handler writes it with WriteErrorResponse
# (gemini_handlers.go:287-288): a JSON body goes out as it came, trimmed (handlers.go:65-67), under
# the upstream's status (:647-692). The words are Google's generic ones for this status (they are
# not in the Go source; the comparison reads only the status and error.status).
GOOGLE_INVALID_ARGUMENT = (b'{\n  "error": {\n    "code": 400,\n'
                           b'    "message": "Request contains an invalid argument.",\n'
                           b'    "status": "INVALID_ARGUMENT"\n  }\n}')

# A Claude upstream asked to stream (every call for a non-Claude client, claude_executor.go:97)
# that answers with its whole message as JSON (row 4b). The legacy's fold reads only "data:"
# lines (claude_openai_response.go:270-279), so its chat client gets the bare template with the
# id, created and model it found, none (:281, :368-370).
CLAUDE_WHOLE_MESSAGE = {
    "id": "msg_whole", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
    "content": [{"type": "text", "text": "Hello from a whole answer"}], "stop_reason": "end_turn",
    "stop_sequence": None, "usage": {"input_tokens": 9, "output_tokens": 4}}
CHAT_FROM_CLAUDE_JSON = (b'{"id":"","object":"chat.completion","created":0,"model":"","choices":[{"index":0,'
                         b'"message":{"role":"assistant","content":""},"finish_reason":"stop"}],'
                         b'"usage":{"prompt_tokens":0,"completion_tokens":0,"total_tokens":0}}')


def cases() -> list[Case]:
    weather_chat = {"model": "x-alias", "messages": [{"role": "user", "content": "what is the weather in Paris"}],
                    "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {
                        "type": "object", "properties": {"location": {"type": "string"}}}}}]}
    return [
        # docs/compatibility.md row 5: the legacy's Gemini handler has no default case
        # (gemini_handlers.go GeminiHandler switch), an empty 200; native 404.
        Case("gemini-unknown-method-404", "/v1beta/models/g-alias:fooBar", GEMINI_BODY, "ignored",
             "gemini-unknown-method-404"),
        # Row 4: the Claude upstream's stream stops after two events; the legacy relays what came.
        Case("truncated-stream-claude", "/v1/messages", claude_stream("c-alias"), "ignored",
             "truncated-stream-error-frame", {"sk-claude": [Fault("cut", after=3), Fault("cut", after=3)]}),
        Case("truncated-stream-gemini", "/v1beta/models/g-alias:streamGenerateContent?alt=sse", GEMINI_BODY,
             "ignored", "truncated-stream-error-frame",
             {"sk-gemini": [Fault("cut", after=2), Fault("cut", after=2)]}),
        # Row 4a: a stream request whose upstream answers 200 and sends nothing: the legacy's
        # Claude handler sets the SSE headers and returns (code_handlers.go:241-248).
        Case("empty-stream-claude", "/v1/messages", claude_stream("c-alias"), "ignored", "truncated-answer-500",
             {"sk-claude": [status(200, b"", SSE), status(200, b"", SSE)]}),
        # Row 50: the first event is an error; the legacy relays it under a 200.
        Case("first-event-error-claude", "/v1/messages", claude_stream("c-alias"), "ignored",
             "first-event-error-json",
             {"sk-claude": [status(200, sse(("error", CLAUDE_OVERLOADED)), SSE)] * 2}),
        # Row 9.
        Case("codex-tool-calls-finish-reason", "/v1/chat/completions", weather_chat, "ignored",
             "codex-tool-calls-finish-reason", legacy=Canned(200, {"Content-Type": "application/json"},
                                                             CODEX_CHAT_TOOL_CALL)),
        # Row 39.
        Case("claude-stream-tool-use-stop", "/v1/messages",
             {**claude_stream("g-alias"), "tools": CLAUDE_TOOL,
              "messages": [{"role": "user", "content": "weather in Paris, separate finish"}]},
             "ignored", "claude-stream-tool-use-stop",
             legacy=Canned(200, SSE, GEMINI_CLAUDE_SEPARATE_FINISH)),
        # Row 43.
        Case("claude-stream-unreported-output", "/v1/messages",
             {**claude_stream("g-alias"), "thinking": {"type": "enabled", "budget_tokens": 1024},
              "messages": [{"role": "user", "content": "think until the budget used up"}]},
             "ignored", "claude-stream-unreported-output",
             legacy=Canned(200, SSE, GEMINI_CLAUDE_NO_OUTPUT_COUNT)),
        # Row 35.
        Case("claude-stream-closed-without-done", "/v1/messages", claude_stream("o-alias"), "ignored",
             "claude-stream-closed-without-done", {"sk-compat": [status(200, FINISHED_WITHOUT_DONE, SSE)]},
             legacy=Canned(200, SSE, COMPAT_CLAUDE_WITHOUT_DONE)),
        # Row 40.
        Case("openai-null-tool-continuation", "/v1/messages", {**claude_stream("o-alias"), "tools": CLAUDE_TOOL},
             "ignored", "openai-null-tool-continuation", {"sk-compat": [status(200, NULL_CONTINUATION, SSE)]},
             legacy=Canned(200, SSE, COMPAT_CLAUDE_NULL_CONTINUATION)),
        # Row 31.
        Case("codex-gemini-held-call-once", "/v1beta/models/x-alias:streamGenerateContent?alt=sse",
             {**GEMINI_BODY, "tools": [{"functionDeclarations": [{"name": "get_weather", "parameters": {
                 "type": "object", "properties": {"location": {"type": "string"}}}}]}]},
             "ignored", "codex-gemini-held-call-once", {"sk-codex": [status(200, CALL_THEN_TEXT, SSE)]},
             legacy=Canned(200, SSE, CODEX_GEMINI_HELD_CALL)),
        # Row 33: a Gemini CLI client's alt=json stream on a Gemini API-key upstream. The legacy's
        # executor hands the translator payloads without their "data:" prefix
        # (gemini_executor.go:305-313), which ConvertGeminiResponseToGeminiCLI then drops
        # (gemini_gemini-cli_response.go:31-33); with alt set the handler writes no headers of its
        # own (gemini-cli_handlers.go:136-143), so the answer is a bare 200 with no body. Native
        # writes the wrapped chunks one after another (row 33b's raw alt=json form).
        Case("gemini-cli-alt-json-nothing", "/v1internal:streamGenerateContent?alt=json",
             {"model": "g-alias", "project": "p", "request": GEMINI_BODY}, "ignored", "gemini-alt-json-body",
             legacy=Canned(200, {}, b"")),
        # Row 41.
        Case("nameless-server-tool-call", "/v1beta/models/c-alias:streamGenerateContent?alt=sse", GEMINI_BODY,
             "ignored", "nameless-server-tool-call", {"sk-claude": [status(200, CLAUDE_SERVER_TOOL, SSE)]},
             legacy=Canned(200, SSE, GEMINI_FROM_CLAUDE_SERVER_TOOL)),
        # Row 19v.
        Case("claude-gemini-max-tokens", "/v1beta/models/c-alias:streamGenerateContent?alt=sse", GEMINI_BODY,
             "ignored", "claude-gemini-max-tokens", {"sk-claude": [status(200, CLAUDE_CUT_BY_MAX_TOKENS, SSE)]},
             legacy=Canned(200, SSE, GEMINI_FROM_CLAUDE_MAX_TOKENS)),
        # Row 19w.
        Case("gemini-finish-with-last-delta", "/v1beta/models/o-alias:streamGenerateContent?alt=sse", GEMINI_BODY,
             "ignored", "gemini-finish-with-last-delta", {"sk-compat": [status(200, FINISH_WITH_LAST_TOKEN, SSE)]},
             legacy=Canned(200, SSE, GEMINI_FROM_COMPAT_WITHOUT_FINISH)),
        # Row 23, non-stream: no thinking, so no reasoning count on the legacy side.
        Case("responses-reasoning-usage-keys", "/v1/responses", {"model": "c-alias", "input": "say hello"},
             "ignored", "responses-reasoning-usage-keys",
             legacy=Canned(200, {"Content-Type": "application/json"}, RESPONSES_FROM_CLAUDE)),
        # Row 30.
        Case("responses-request-echo", "/v1/responses",
             {"model": "o-alias", "input": "say hello", "instructions": "Be brief."}, "ignored",
             "responses-request-echo", legacy=Canned(200, {"Content-Type": "application/json"}, RESPONSES_FROM_COMPAT)),
        # Row 24.
        Case("responses-usage-when-missing", "/v1/responses", {"model": "g-alias", "input": "say hello"}, "ignored",
             "responses-usage-when-missing", {"sk-gemini": [status(200, GEMINI_NO_USAGE)]},
             legacy=Canned(200, {"Content-Type": "application/json"}, RESPONSES_FROM_GEMINI_NO_USAGE)),
        # Row 26, Gemini upstream, non-stream.
        Case("responses-output-order", "/v1/responses",
             {"model": "g-alias", "input": "what is the weather in Paris", "tools": [
                 {"type": "function", "name": "get_weather",
                  "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}}]},
             "ignored", "responses-output-order", {"sk-gemini": [status(200, GEMINI_TEXT_THEN_CALL)]},
             legacy=Canned(200, {"Content-Type": "application/json"}, RESPONSES_FROM_GEMINI_CALL_FIRST)),
        # Row 28: the legacy closes the message at the first tool call, native at the finish.
        Case("responses-item-framing", "/v1/responses",
             {"model": "o-alias", "input": "what is the weather in Paris", "tools": [WEATHER_TOOL_RESPONSES],
              "stream": True},
             "ignored", "responses-item-framing", {"sk-compat": [status(200, COMPAT_TEXT_THEN_CALL, SSE)]},
             legacy=Canned(200, SSE, RESPONSES_FROM_COMPAT_TEXT_THEN_CALL)),
        # Row 27.
        Case("responses-parallel-calls-split", "/v1/responses",
             {"model": "o-alias", "input": "weather and time in Paris",
              "tools": [WEATHER_TOOL_RESPONSES, TIME_TOOL_RESPONSES], "stream": True},
             "ignored", "responses-parallel-calls-split", {"sk-compat": [status(200, COMPAT_PARALLEL_CALLS, SSE)]},
             legacy=Canned(200, SSE, RESPONSES_FROM_COMPAT_PARALLEL_CALLS)),
        # Row 25.
        Case("gemini-responses-late-thoughts", "/v1/responses",
             {"model": "g-alias", "input": "say hello", "reasoning": {"effort": "low"}, "stream": True},
             "ignored", "gemini-responses-late-thoughts", {"sk-gemini": [status(200, GEMINI_LATE_THOUGHT, SSE)]},
             legacy=Canned(200, SSE, RESPONSES_FROM_GEMINI_LATE_THOUGHT)),
        # Row 21: native refuses the body itself (no upstream call), the legacy relays Google's 400.
        Case("envelope-without-contents-400", f"/v1beta/models/{ANTIGRAVITY_MODEL}:generateContent",
             {"generationConfig": {"temperature": 0.2}}, "ignored", "envelope-without-contents-400",
             legacy=Canned(400, {"Content-Type": "application/json"}, GOOGLE_INVALID_ARGUMENT)),
        # Row 4b, non-stream chat client.
        Case("whole-json-answer-read", "/v1/chat/completions",
             {"model": "c-alias", "messages": [{"role": "user", "content": "say hello"}]}, "ignored",
             "whole-json-answer-read", {"sk-claude": [status(200, CLAUDE_WHOLE_MESSAGE)]},
             legacy=Canned(200, {"Content-Type": "application/json"}, CHAT_FROM_CLAUDE_JSON)),
        # Not a documented deviation: the native leg's upstream fails (429) where the legacy's
        # served the answer. This must stay a mismatch.
        Case("native-differs-claude", "/v1/messages", claude_stream("c-alias"), "mismatch",
             script={"sk-claude": [status(429, {"type": "error", "error": {"type": "rate_limit_error",
                                                                           "message": "slow down"}})]},
             legacy=None),
    ]


def canned_middleware(table: dict[str, Canned]) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def middleware(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                         ) -> web.StreamResponse:
        canned = table.get(request.headers.get(CASE_HEADER, ""))
        if canned is None:
            return await handler(request)
        await request.read()
        return web.Response(status=canned.status, headers=canned.headers, body=canned.body)

    return middleware


async def shadow_state(session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with session.get(f"{url}/v0/gateway/shadow", headers=mgmt_headers()) as response:
        assert response.status == 200
        data: dict[str, Any] = await response.json()
        return data


def total(report: dict[str, Any]) -> int:
    return sum(sum(counts.values()) for counts in report["counters"].values())


def delta(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, int], dict[str, int]]:
    """Outcomes and expected rules that one comparison added (summed over routes)."""
    outcomes: dict[str, int] = {}
    for route, counts in after["counters"].items():
        for outcome, n in counts.items():
            change = n - before["counters"].get(route, {}).get(outcome, 0)
            if change:
                outcomes[outcome] = outcomes.get(outcome, 0) + change
    rules: dict[str, int] = {}
    for route, counts in after["expected_differences"].items():
        for rule, n in counts.items():
            change = n - before["expected_differences"].get(route, {}).get(rule, 0)
            if change:
                rules[rule] = rules.get(rule, 0) + change
    return outcomes, rules


async def run_case(session: aiohttp.ClientSession, gateway_url: str, fake: FakeLLM, case: Case) -> str | None:
    """None when the comparison was counted as the case expects, else what happened."""
    before = await shadow_state(session, gateway_url)
    for key, faults in case.script.items():
        fake.script(key, *faults)
    headers = {"Authorization": f"Bearer {API_KEY}", CASE_HEADER: case.name}
    async with session.post(f"{gateway_url}{case.path}", json=case.body, headers=headers) as response:
        await response.read()
        if response.headers.get("X-Quotio-Route") != "shadow/legacy":
            return f"answered by {response.headers.get('X-Quotio-Route')}"
    after = before
    for _ in range(200):
        after = await shadow_state(session, gateway_url)
        if total(after) > total(before):
            break
        await asyncio.sleep(0.05)
    outcomes, rules = delta(before, after)
    want_rules = {case.rule: 1} if case.rule else {}
    if outcomes != {case.outcome: 1} or rules != want_rules:
        samples = [s for s in after["samples"] if s["id"] not in {b["id"] for b in before["samples"]}]
        return f"outcomes {outcomes}, rules {rules}; samples {samples}"
    return None


async def until_listed(session: aiohttp.ClientSession, url: str, model: str) -> None:
    """Antigravity models are fetched in the background once the credential is read."""
    for _ in range(200):
        async with session.get(f"{url}/v1/models", headers={"Authorization": f"Bearer {API_KEY}"}) as response:
            listed = {m["id"] for m in (await response.json())["data"]} if response.status == 200 else set()
        if model in listed:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{model} never listed")

async def test_each_shadow_rule_is_counted_ignored_in_shadow(tmp_path: Path, processes: Processes) -> None:
    fake = FakeLLM()
    await fake.start()
    cloud_code = FakeOAuthProviders(antigravity_models={ANTIGRAVITY_MODEL: {}})
    await cloud_code.start()
    cloud_code.issued_tokens.add(ANTIGRAVITY_TOKEN)
    auth_dir = tmp_path / "auths"
    auth_dir.mkdir(mode=0o700)
    credential = auth_dir / "antigravity-shadow_example_com.json"
    credential.write_text(json.dumps(antigravity_credential(f"{cloud_code.url}/google/assist")))
    credential.chmod(0o600)
    port = free_port()
    config = tmp_path / "config.yaml"
    config.write_text(config_text(port, fake.root) + f'auth-dir: "{auth_dir}"\n')
    todo = cases()
    app = create_legacy_app(config)
    app.middlewares.insert(0, canned_middleware({c.name: c.legacy for c in todo if c.legacy is not None}))
    runner, legacy_url = await serve_on_loopback(app, access_log=None, **RUNNER_OPTIONS)
    failures: dict[str, str] = {}
    try:
        flags = write_flags(tmp_path / "flags.yaml", {
            "default": "legacy",
            "legacy": {"url": legacy_url},
            "server": {"state_dir": str(tmp_path / "state")},
            # Every comparison is sampled: one stored sample per case at most.
            "shadow": {"sample_interval_seconds": 0},
            "routes": [{"match": "POST /v1/*", "mode": "shadow", "shadow_llm": True},
                       {"match": "POST /v1beta/*", "mode": "shadow", "shadow_llm": True},
                       {"match": "POST /v1internal*", "mode": "shadow", "shadow_llm": True},
                       # Native, so the test can see when the Antigravity list has arrived.
                       {"match": "GET /v1/models", "mode": "native"}],
        })
        gateway = processes.gateway(config, flags, port=port)
        async with aiohttp.ClientSession() as session:
            await until_listed(session, gateway.url, ANTIGRAVITY_MODEL)
            for case in todo:
                problem = await run_case(session, gateway.url, fake, case)
                if problem is not None:
                    failures[case.name] = problem
            report = await shadow_state(session, gateway.url)
            async with session.get(f"{gateway.url}/metrics") as response:
                metrics = await response.text()
    finally:
        await runner.cleanup()
        await fake.stop()
        await cloud_code.stop()
    assert failures == {}
    # Row 21's native leg refused the body before any upstream call.
    assert cloud_code.seen(CLOUD_CODE_GENERATE) == []
    # What an operator reads (README "Flip a route and watch it on /metrics"): per route, the
    # outcomes on /metrics and /v0/gateway/shadow, and which rule explained each ignored answer.
    want: dict[str, dict[str, int]] = {}
    rules: dict[str, dict[str, int]] = {}
    for case in todo:
        route = ("POST /v1beta/*" if case.path.startswith("/v1beta/")
                 else "POST /v1internal*" if case.path.startswith("/v1internal") else "POST /v1/*")
        want.setdefault(route, {})[case.outcome] = want.get(route, {}).get(case.outcome, 0) + 1
        if case.rule:
            rules.setdefault(route, {})[case.rule] = rules.get(route, {}).get(case.rule, 0) + 1
    assert {route: {o: n for o, n in counts.items() if n} for route, counts in report["counters"].items()} == want
    assert report["expected_differences"] == rules
    for route, counts in want.items():
        for outcome, n in counts.items():
            line = f'quotio_gateway_shadow_results_total{{outcome="{outcome}",route="{route}"}} {float(n)}'
            assert line in metrics.splitlines(), line
