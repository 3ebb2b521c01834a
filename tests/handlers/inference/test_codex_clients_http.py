"""A whole Codex stream (reasoning summary, text, a function call, cached usage) through the Claude
and Gemini CLI clients, over HTTP: the exact answer each client gets.

The translators' unit tests pin these rules one by one; here they run behind the Codex executor
and the clients' framing. Facts (CLIProxyAPI 9b72ea9ef):

* Claude: codex_claude_response.go:64-178 (a block per summary part, text part and call; the
  index advances on each stop; ``tool_use`` after a call; cached tokens leave ``input_tokens``,
  :322-340), framed by the Claude handler as ``event:``/``data:`` pairs.
* Gemini CLI: codex_gemini-cli_request.go (the ``request`` envelope unwrapped, ``systemInstruction``
  renamed), codex_gemini_response.go:62-137 (the template's placeholder ``createTime`` on events
  without ``response.created_at``, the finished call held and sent before the next chunk), each
  chunk wrapped as ``{"response": …}`` (codex_gemini-cli_response.go:28-57) and framed ``data: …``
  by gemini-cli_handlers.go:183-200.
"""

from __future__ import annotations

import json
from typing import Any

from tests.handlers.inference.test_faults import CODEX_MODEL, MakeGateway
from tests.handlers.inference.test_golden_http import Upstream, call, events_of, sse, up

__all__ = ["up"]

CREATED_AT = 1700000000
RESPONSE = {"id": "resp_1", "object": "response", "created_at": CREATED_AT, "model": CODEX_MODEL, "output": []}
CALL = {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "get_weather", "arguments": ""}
CALL_DONE = {**CALL, "arguments": '{"city":"Paris"}', "status": "completed"}
USAGE = {"input_tokens": 100, "input_tokens_details": {"cached_tokens": 40}, "output_tokens": 20,
         "output_tokens_details": {"reasoning_tokens": 8}, "total_tokens": 120}
EVENTS: list[dict[str, Any]] = [
    {"type": "response.created", "response": {**RESPONSE, "status": "in_progress"}},
    {"type": "response.in_progress", "response": {**RESPONSE, "status": "in_progress"}},
    {"type": "response.output_item.added", "output_index": 0, "item": {"type": "reasoning", "id": "rs_1",
                                                                        "summary": []}},
    {"type": "response.reasoning_summary_part.added", "output_index": 0, "summary_index": 0,
     "part": {"type": "summary_text", "text": ""}},
    {"type": "response.reasoning_summary_text.delta", "output_index": 0, "summary_index": 0, "delta": "Think."},
    {"type": "response.reasoning_summary_text.done", "output_index": 0, "summary_index": 0, "text": "Think."},
    {"type": "response.reasoning_summary_part.done", "output_index": 0, "summary_index": 0,
     "part": {"type": "summary_text", "text": "Think."}},
    {"type": "response.output_item.done", "output_index": 0, "item": {
        "type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Think."}],
        "encrypted_content": "ENC"}},
    {"type": "response.output_item.added", "output_index": 1, "item": {"type": "message", "id": "msg_1",
                                                                        "role": "assistant", "content": []}},
    {"type": "response.content_part.added", "output_index": 1, "content_index": 0,
     "part": {"type": "output_text", "text": ""}},
    {"type": "response.output_text.delta", "output_index": 1, "content_index": 0, "delta": "Hi"},
    {"type": "response.output_text.done", "output_index": 1, "content_index": 0, "text": "Hi"},
    {"type": "response.content_part.done", "output_index": 1, "content_index": 0,
     "part": {"type": "output_text", "text": "Hi"}},
    {"type": "response.output_item.done", "output_index": 1, "item": {
        "type": "message", "id": "msg_1", "role": "assistant", "content": [{"type": "output_text", "text": "Hi"}]}},
    {"type": "response.output_item.added", "output_index": 2, "item": CALL},
    {"type": "response.function_call_arguments.delta", "output_index": 2, "delta": '{"city":'},
    {"type": "response.function_call_arguments.delta", "output_index": 2, "delta": '"Paris"}'},
    {"type": "response.output_item.done", "output_index": 2, "item": CALL_DONE},
    {"type": "response.completed", "response": {**RESPONSE, "status": "completed", "usage": USAGE, "output": [
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Think."}]},
        {"type": "message", "id": "msg_1", "role": "assistant", "content": [{"type": "output_text", "text": "Hi"}]},
        CALL_DONE]}},
]
ANSWER = sse(*[(e["type"], e) for e in EVENTS])


def block(index: int, kind: str, payload: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return kind, {"type": kind, "index": index, **payload}


async def test_claude_client_gets_a_block_per_part_and_the_cached_usage(gateway: MakeGateway, up: Upstream) -> None:
    body = {"model": CODEX_MODEL, "max_tokens": 64, "stream": True,
            "messages": [{"role": "user", "content": "weather?"}],
            "tools": [{"name": "get_weather", "input_schema": {"type": "object"}}]}
    raw = await call(gateway, up, "/v1/messages", body, ANSWER)
    assert events_of(raw) == [
        ("message_start", {"type": "message_start", "message": {
            "id": "resp_1", "type": "message", "role": "assistant", "model": CODEX_MODEL, "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0}, "content": [], "stop_reason": None}}),
        block(0, "content_block_start", {"content_block": {"type": "thinking", "thinking": ""}}),
        block(0, "content_block_delta", {"delta": {"type": "thinking_delta", "thinking": "Think."}}),
        block(0, "content_block_stop", {}),
        block(1, "content_block_start", {"content_block": {"type": "text", "text": ""}}),
        block(1, "content_block_delta", {"delta": {"type": "text_delta", "text": "Hi"}}),
        block(1, "content_block_stop", {}),
        block(2, "content_block_start", {"content_block": {"type": "tool_use", "id": "call_1", "name": "get_weather",
                                                           "input": {}}}),
        block(2, "content_block_delta", {"delta": {"type": "input_json_delta", "partial_json": ""}}),
        block(2, "content_block_delta", {"delta": {"type": "input_json_delta", "partial_json": '{"city":'}}),
        block(2, "content_block_delta", {"delta": {"type": "input_json_delta", "partial_json": '"Paris"}'}}),
        block(2, "content_block_stop", {}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                           "usage": {"input_tokens": 60, "output_tokens": 20, "cache_read_input_tokens": 40}}),
        ("message_stop", {"type": "message_stop"}),
    ]


CLI_BODY = {"model": CODEX_MODEL, "project": "p", "request": {
    "systemInstruction": {"parts": [{"text": "Be brief."}]},
    "contents": [{"role": "user", "parts": [{"text": "weather?"}]}],
    "tools": [{"functionDeclarations": [{"name": "get_weather", "parameters": {"type": "OBJECT"}}]}]}}
PLACEHOLDER = "2025-08-15T02:52:03.884209Z"
CREATE_TIME = "2023-11-14T22:13:20Z"  # response.created_at, on the events that carry it


def gemini_chunk(parts: list[Any], create_time: str = PLACEHOLDER, **extra: Any) -> dict[str, Any]:
    usage = extra.pop("usage", {})
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, **extra}
    return {"response": {"candidates": [candidate], "usageMetadata": {"trafficType": "PROVISIONED_THROUGHPUT", **usage},
                         "modelVersion": CODEX_MODEL, "createTime": create_time, "responseId": "resp_1"}}


async def test_gemini_cli_client_stream(gateway: MakeGateway, up: Upstream) -> None:
    raw = await call(gateway, up, "/v1internal:streamGenerateContent?alt=sse", CLI_BODY, ANSWER)
    sent = up.sent()
    assert sent["input"] == [
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "Be brief."}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "weather?"}]}]
    assert sent["tools"] == [{"type": "function", "name": "get_weather",
                              "parameters": {"type": "object", "additionalProperties": False}, "strict": False}]
    assert raw.split(b"\n\n")[-1] == b""
    assert [json.loads(frame[6:]) for frame in raw.split(b"\n\n")[:-1]] == [
        gemini_chunk([], CREATE_TIME),
        gemini_chunk([{"thought": True, "text": "Think."}]),
        gemini_chunk([{"text": "Hi"}]),
        # The call is held at its output_item.done and goes out just before the next chunk.
        gemini_chunk([{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}], finishReason="STOP"),
        gemini_chunk([], CREATE_TIME, usage={"promptTokenCount": 100, "candidatesTokenCount": 20,
                                             "totalTokenCount": 120}),
    ]


async def test_gemini_cli_client_non_stream(gateway: MakeGateway, up: Upstream) -> None:
    raw = await call(gateway, up, "/v1internal:generateContent", CLI_BODY, ANSWER)
    assert up.sent()["stream"] is True
    # The reasoning item has no ``content``, so no thought part; the finish is always STOP.
    assert json.loads(raw) == gemini_chunk(
        [{"text": "Hi"}, {"functionCall": {"args": {"city": "Paris"}, "name": "get_weather"}}], CREATE_TIME,
        finishReason="STOP", usage={"promptTokenCount": 100, "candidatesTokenCount": 20, "totalTokenCount": 120})
