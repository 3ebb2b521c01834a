"""A Claude or Codex upstream asked to stream that answers 200 with its whole answer object as
``application/json`` (compatibility row 4b), over HTTP.

The gateway asks both for a stream even for a non-stream client (claude_executor.go:97,
codex_executor.go sets ``stream: true``). A fake or proxy that answers with the whole object got a
500 ``upstream stream closed before …`` here; the object is now read as the events it stands for.
Each test pins the exact answer, and that it is the answer the equivalent stream gives.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tests.handlers.inference.test_faults import CLAUDE_MODEL, CODEX_MODEL, MakeGateway, upstreams_config
from tests.handlers.inference.test_upstream_framing import Upstream, _answer, up

__all__ = ["up"]

TRUNCATED = "stream error: stream disconnected before completion: stream closed before response.completed"

ARGS = '{"city":"Paris"}'


def _sse(events: list[dict[str, Any]]) -> bytes:
    """Events framed as Anthropic and OpenAI frame them, in compact JSON."""
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e, separators=(',', ':'))}\n\n".encode()
                    for e in events)

MESSAGE = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x",
           "content": [{"type": "thinking", "thinking": "Weather needs a tool.", "signature": "sig-1"},
                       {"type": "text", "text": "Let me check."},
                       {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}],
           "stop_reason": "tool_use", "stop_sequence": None,
           "usage": {"input_tokens": 10, "output_tokens": 5}}
# What Anthropic streams for MESSAGE, written out by hand.
MESSAGE_SSE = _sse([
    {"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x",
                                          "content": [], "stop_reason": None, "stop_sequence": None,
                                          "usage": {"input_tokens": 10}}},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta",
                                                          "thinking": "Weather needs a tool."}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "sig-1"}},
    {"type": "content_block_stop", "index": 0},
    {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Let me check."}},
    {"type": "content_block_stop", "index": 1},
    {"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "toolu_1",
                                                                  "name": "get_weather", "input": {}}},
    {"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": ARGS}},
    {"type": "content_block_stop", "index": 2},
    {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None},
     "usage": {"input_tokens": 10, "output_tokens": 5}},
    {"type": "message_stop"}])

RESPONSE = {"id": "resp_1", "object": "response", "created_at": 1700000000, "status": "completed", "model": "gpt-5",
            "output": [{"id": "rs_1", "type": "reasoning",
                        "summary": [{"type": "summary_text", "text": "Weather needs a tool."}]},
                       {"id": "msg_1", "type": "message", "status": "completed", "role": "assistant",
                        "content": [{"type": "output_text", "text": "Let me check.", "annotations": []}]},
                       {"id": "fc_1", "type": "function_call", "status": "completed", "call_id": "call_1",
                        "name": "get_weather", "arguments": ARGS}],
            "usage": {"input_tokens": 7, "output_tokens": 3, "total_tokens": 10}}
_OPEN = {**RESPONSE, "status": "in_progress", "output": [], "usage": None}
_AT = {"output_index": 0, "item_id": "rs_1", "summary_index": 0}
_TEXT_AT = {"output_index": 1, "item_id": "msg_1", "content_index": 0}
_CALL_AT = {"output_index": 2, "item_id": "fc_1"}
# What the Responses API streams for RESPONSE, written out by hand.
RESPONSE_SSE = _sse([
    {"type": "response.created", "response": _OPEN},
    {"type": "response.in_progress", "response": _OPEN},
    {"type": "response.output_item.added", "output_index": 0, "item": {"id": "rs_1", "type": "reasoning",
                                                                        "summary": []}},
    {"type": "response.reasoning_summary_part.added", **_AT, "part": {"type": "summary_text", "text": ""}},
    {"type": "response.reasoning_summary_text.delta", **_AT, "delta": "Weather needs a tool."},
    {"type": "response.reasoning_summary_text.done", **_AT, "text": "Weather needs a tool."},
    {"type": "response.reasoning_summary_part.done", **_AT,
     "part": {"type": "summary_text", "text": "Weather needs a tool."}},
    {"type": "response.output_item.done", "output_index": 0, "item": RESPONSE["output"][0]},
    {"type": "response.output_item.added", "output_index": 1,
     "item": {**RESPONSE["output"][1], "status": "in_progress", "content": []}},
    {"type": "response.content_part.added", **_TEXT_AT, "part": {"type": "output_text", "text": "",
                                                                 "annotations": []}},
    {"type": "response.output_text.delta", **_TEXT_AT, "delta": "Let me check."},
    {"type": "response.output_text.done", **_TEXT_AT, "text": "Let me check."},
    {"type": "response.content_part.done", **_TEXT_AT, "part": RESPONSE["output"][1]["content"][0]},
    {"type": "response.output_item.done", "output_index": 1, "item": RESPONSE["output"][1]},
    {"type": "response.output_item.added", "output_index": 2,
     "item": {**RESPONSE["output"][2], "status": "in_progress", "arguments": ""}},
    {"type": "response.function_call_arguments.delta", **_CALL_AT, "delta": ARGS},
    {"type": "response.function_call_arguments.done", **_CALL_AT, "arguments": ARGS},
    {"type": "response.output_item.done", "output_index": 2, "item": RESPONSE["output"][2]},
    {"type": "response.completed", "response": RESPONSE}])

CHAT = ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]})
CHAT_STREAM = (CHAT[0], {**CHAT[1], "stream": True})
RESPONSES = ("/v1/responses", {"input": "hi"})
RESPONSES_STREAM = ("/v1/responses", {"input": "hi", "stream": True})
MESSAGES = ("/v1/messages", {"max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]})
MESSAGES_STREAM = ("/v1/messages", {**MESSAGES[1], "stream": True})
GEMINI = (f"/v1beta/models/{CLAUDE_MODEL}:generateContent", {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
GEMINI_STREAM = (f"/v1beta/models/{CLAUDE_MODEL}:streamGenerateContent?alt=sse", GEMINI[1])


_CREATE_TIME = re.compile(rb'"createTime":"[^"]*"')


def _data(raw: bytes) -> list[Any]:
    return [json.loads(line[6:]) for line in raw.split(b"\n") if line.startswith(b"data: ") and line != b"data: [DONE]"]


def _relayed(raw: bytes) -> list[Any]:
    """A same-protocol relay's events as data: the upstream's own bytes go out as they came, so
    the spacing and ``sequence_number`` of the hand-written stream are not the point."""
    return [{k: v for k, v in event.items() if k != "sequence_number"} for event in _data(raw)]


async def _same_answer(gateway: MakeGateway, up: Upstream, model: str, client: tuple[str, dict[str, Any]],
                       whole: dict[str, Any], stream: bytes, content_type: str, *, relay: bool = False) -> bytes:
    """The answer to a whole JSON answer object, checked against the answer to its stream."""
    answer = _CREATE_TIME.sub(b'"createTime":"T"', await _answer(
        gateway, up, model, client, json.dumps(whole).encode(), {"Content-Type": content_type}))
    streamed = _CREATE_TIME.sub(b'"createTime":"T"', await _answer(gateway, up, model, client, stream))
    if relay:
        assert _relayed(answer) == _relayed(streamed)
    else:
        assert answer == streamed
    return answer


async def _claude_json(gateway: MakeGateway, up: Upstream, client: tuple[str, dict[str, Any]], *,
                       relay: bool = False) -> bytes:
    return await _same_answer(gateway, up, CLAUDE_MODEL, client, MESSAGE, MESSAGE_SSE, "application/json",
                              relay=relay)


async def _codex_json(gateway: MakeGateway, up: Upstream, client: tuple[str, dict[str, Any]], *,
                      relay: bool = False) -> bytes:
    return await _same_answer(gateway, up, CODEX_MODEL, client, RESPONSE, RESPONSE_SSE,
                              "application/json; charset=utf-8", relay=relay)


async def test_chat_client_non_stream_from_a_whole_claude_message(gateway: MakeGateway, up: Upstream) -> None:
    assert json.loads(await _claude_json(gateway, up, CHAT)) == {
        "id": "msg_1", "object": "chat.completion", "created": 0, "model": "claude-x",
        "choices": [{"index": 0, "message": {
            "role": "assistant", "content": "Let me check.", "reasoning": "Weather needs a tool.",
            "tool_calls": [{"id": "toolu_1", "type": "function",
                            "function": {"name": "get_weather", "arguments": ARGS}}]},
            "finish_reason": "tool_calls"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15,
                  "prompt_tokens_details": {"cached_tokens": 0}}}


async def test_chat_client_stream_from_a_whole_claude_message(gateway: MakeGateway, up: Upstream) -> None:
    raw = await _claude_json(gateway, up, CHAT_STREAM)
    head = {"id": "msg_1", "object": "chat.completion.chunk", "created": 0, "model": CLAUDE_MODEL}
    assert _data(raw) == [
        {**head, "choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]},
        {**head, "choices": [{"index": 0, "delta": {"reasoning_content": "Weather needs a tool."},
                              "finish_reason": None}]},
        {**head, "choices": [{"index": 0, "delta": {"content": "Let me check."}, "finish_reason": None}]},
        {**head, "choices": [{"index": 0, "delta": {"tool_calls": [{
            "index": 2, "id": "toolu_1", "type": "function",
            "function": {"name": "get_weather", "arguments": ARGS}}]}, "finish_reason": None}]},
        {**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}],
         "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15,
                   "prompt_tokens_details": {"cached_tokens": 0}}}]
    assert raw.endswith(b"data: [DONE]\n\n")


USAGE_10_5 = {"input_tokens": 10, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 5,
              "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 15}
TEXT_PART = {"type": "output_text", "annotations": [], "logprobs": [], "text": "Let me check."}
CALL_ITEM = {"id": "fc_toolu_1", "type": "function_call", "status": "completed", "arguments": ARGS,
             "call_id": "toolu_1", "name": "get_weather"}


async def test_responses_client_non_stream_from_a_whole_claude_message(gateway: MakeGateway, up: Upstream) -> None:
    assert json.loads(await _claude_json(gateway, up, RESPONSES)) == {
        "id": "msg_1", "object": "response", "created_at": 0, "status": "completed", "background": False,
        "error": None, "incomplete_details": None, "model": CLAUDE_MODEL,
        "output": [{"id": "rs_msg_1_0", "type": "reasoning",
                    "summary": [{"type": "summary_text", "text": "Weather needs a tool."}]},
                   {"id": "msg_msg_1_0", "type": "message", "status": "completed", "content": [TEXT_PART],
                    "role": "assistant"},
                   CALL_ITEM],
        "usage": USAGE_10_5}


async def test_responses_client_stream_from_a_whole_claude_message(gateway: MakeGateway, up: Upstream) -> None:
    events = _data(await _claude_json(gateway, up, RESPONSES_STREAM))
    assert [(e["type"], e.get("delta")) for e in events] == [
        ("response.created", None), ("response.in_progress", None), ("response.output_item.added", None),
        ("response.reasoning_summary_part.added", None),
        ("response.reasoning_summary_text.delta", "Weather needs a tool."),
        ("response.reasoning_summary_text.done", None), ("response.reasoning_summary_part.done", None),
        ("response.output_item.done", None), ("response.output_item.added", None),
        ("response.content_part.added", None), ("response.output_text.delta", "Let me check."),
        ("response.output_item.added", None), ("response.function_call_arguments.delta", ARGS),
        ("response.function_call_arguments.done", None), ("response.output_item.done", None),
        ("response.output_text.done", None), ("response.content_part.done", None),
        ("response.output_item.done", None), ("response.completed", None)]
    assert events[-1]["response"]["output"][1:] == [
        {"id": "msg_msg_1_0", "type": "message", "status": "completed", "content": [TEXT_PART], "role": "assistant"},
        CALL_ITEM]
    assert events[-1]["response"]["usage"] == USAGE_10_5


GEMINI_USAGE = {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15}
GEMINI_PARTS = [{"thought": True, "text": "Weather needs a tool."}, {"text": "Let me check."},
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}]


async def test_gemini_client_non_stream_from_a_whole_claude_message(gateway: MakeGateway, up: Upstream) -> None:
    assert json.loads(await _claude_json(gateway, up, GEMINI)) == {
        "candidates": [{"content": {"role": "model", "parts": GEMINI_PARTS}, "finishReason": "STOP"}],
        "usageMetadata": {**GEMINI_USAGE, "trafficType": "PROVISIONED_THROUGHPUT"},
        "modelVersion": CLAUDE_MODEL, "createTime": "T", "responseId": "msg_1"}


async def test_gemini_client_stream_from_a_whole_claude_message(gateway: MakeGateway, up: Upstream) -> None:
    chunks = _data(await _claude_json(gateway, up, GEMINI_STREAM))
    head = {"modelVersion": "claude-x", "createTime": "T", "responseId": "msg_1"}
    traffic = {"trafficType": "PROVISIONED_THROUGHPUT"}

    def chunk(parts: list[Any], finish: bool = False, usage: dict[str, Any] | None = None) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}}
        if finish:
            candidate["finishReason"] = "STOP"
        return {"candidates": [candidate], "usageMetadata": {**traffic, **(usage or {})}, **head}

    assert chunks == [chunk(GEMINI_PARTS[:1]), chunk([]), chunk(GEMINI_PARTS[1:2]), chunk(GEMINI_PARTS[2:], True),
                      chunk([], True, GEMINI_USAGE)]


async def test_claude_client_stream_from_a_whole_claude_message(gateway: MakeGateway, up: Upstream) -> None:
    # The client asked for the stream itself: it gets the one the message stands for.
    assert _relayed(await _claude_json(gateway, up, MESSAGES_STREAM, relay=True)) == _data(MESSAGE_SSE)


async def test_chat_client_non_stream_from_a_whole_codex_response(gateway: MakeGateway, up: Upstream) -> None:
    assert json.loads(await _codex_json(gateway, up, CHAT)) == {
        "id": "resp_1", "object": "chat.completion", "created": 0, "model": "gpt-5",
        "choices": [{"index": 0, "message": {
            "role": "assistant", "content": "Let me check.", "reasoning_content": "Weather needs a tool.",
            "tool_calls": [{"id": "call_1", "type": "function",
                            "function": {"name": "get_weather", "arguments": ARGS}}]},
            "finish_reason": "tool_calls", "native_finish_reason": "stop"}],
        "usage": {"completion_tokens": 3, "total_tokens": 10, "prompt_tokens": 7}}


async def test_claude_client_non_stream_from_a_whole_codex_response(gateway: MakeGateway, up: Upstream) -> None:
    assert json.loads(await _codex_json(gateway, up, MESSAGES)) == {
        "id": "resp_1", "type": "message", "role": "assistant", "model": "gpt-5",
        "content": [{"type": "thinking", "thinking": "Weather needs a tool."},
                    {"type": "text", "text": "Let me check."},
                    {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}}],
        "stop_reason": "tool_use", "stop_sequence": None, "usage": {"input_tokens": 7, "output_tokens": 3}}


async def test_chat_client_stream_from_a_whole_codex_response(gateway: MakeGateway, up: Upstream) -> None:
    chunks = _data(await _codex_json(gateway, up, CHAT_STREAM))
    assert [c["choices"][0]["delta"] for c in chunks] == [
        {"role": "assistant", "content": None, "reasoning_content": "Weather needs a tool.", "tool_calls": None},
        {"role": "assistant", "content": None, "reasoning_content": "\n\n", "tool_calls": None},
        {"role": "assistant", "content": "Let me check.", "reasoning_content": None, "tool_calls": None},
        {"role": "assistant", "content": None, "reasoning_content": None, "tool_calls": [
            {"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": ARGS}}]},
        {"role": None, "content": None, "reasoning_content": None, "tool_calls": None}]
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-1]["usage"] == {"completion_tokens": 3, "total_tokens": 10, "prompt_tokens": 7}


async def test_responses_client_stream_from_a_whole_codex_response(gateway: MakeGateway, up: Upstream) -> None:
    # The same protocol: the client gets the stream the response stands for, as the upstream would send it.
    assert _relayed(await _codex_json(gateway, up, RESPONSES_STREAM, relay=True)) == [
        {**e, "response": {**e["response"], "created_at": 0}} if "response" in e else e for e in _data(RESPONSE_SSE)]


async def _status_and_body(gateway: MakeGateway, up: Upstream, model: str, client: tuple[str, dict[str, Any]],
                           body: dict[str, Any]) -> tuple[int, Any]:
    up.body, up.headers, up.pieces = json.dumps(body).encode(), {"Content-Type": "application/json"}, 1
    gw = await gateway(upstreams_config(up.root))
    resp = await gw.post(client[0], json={"model": model, **client[1]})
    return resp.status, await resp.json()


async def test_a_json_body_that_is_no_whole_answer_is_still_read_as_a_stream(gateway: MakeGateway,
                                                                             up: Upstream) -> None:
    # An error object, or another kind's answer, stands for no stream: the answer is what it was
    # before, the stream that never reached its end.
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    for body in (error, RESPONSE, {**MESSAGE, "type": "completion"}):
        status, answer = await _status_and_body(gateway, up, CLAUDE_MODEL, CHAT, body)
        assert (status, answer["error"]["message"]) == (500, "upstream stream closed before message_stop")
    for body in ({"error": {"message": "nope", "type": "server_error"}}, MESSAGE, {**RESPONSE, "status": "queued"}):
        status, answer = await _status_and_body(gateway, up, CODEX_MODEL, CHAT, body)
        assert (status, answer["error"]["message"]) == (408, TRUNCATED)
