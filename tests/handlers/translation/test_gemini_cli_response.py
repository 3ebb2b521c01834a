"""Gemini CLI upstream answers -> OpenAI chat, Claude and Responses clients (the legacy
``gemini-cli/*`` response translators, diffed against the Gemini ones; A2.13, A3.4)."""

from __future__ import annotations

import itertools
from typing import Any

from handlers.translation.gemini_cli_response import (
    ClaudeStreamFromCLI,
    OpenAIChatFromCLI,
    render_claude_response,
    render_openai_response,
    responses_events,
)
from handlers.translation.model import (
    Finish,
    FinishReason,
    Format,
    MessageStart,
    TextDelta,
    ToolCallDelta,
    ToolCallStart,
)
from handlers.translation.openai_responses import GeminiEvents


def ids() -> Any:
    counter = itertools.count(1)
    return lambda name: f"{name}-id-{next(counter)}"


def wrap(inner: dict[str, Any]) -> dict[str, Any]:
    return {"response": inner}


def parts_chunk(*parts: dict[str, Any], **extra: Any) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}}
    if "finish" in extra:
        candidate["finishReason"] = extra.pop("finish")
    return wrap({"candidates": [candidate], **extra})


EMPTY_DELTA = {"role": None, "content": None, "reasoning_content": None, "tool_calls": None}


# --- OpenAI chat --------------------------------------------------------------------------------


def test_openai_chunk_text_and_metadata() -> None:
    machine = OpenAIChatFromCLI(tool_id=ids())
    chunk = parts_chunk(
        {"text": "Hi"}, responseId="r1", modelVersion="gemini-2.5-pro", createTime="2025-01-02T03:04:05.123Z"
    )
    assert machine.feed(chunk) == {
        "id": "r1",
        "object": "chat.completion.chunk",
        "created": 1735787045,
        "model": "gemini-2.5-pro",
        "choices": [
            {
                "index": 0,
                "delta": {"role": "assistant", "content": "Hi", "reasoning_content": None, "tool_calls": None},
                "finish_reason": None,
                "native_finish_reason": None,
            }
        ],
    }
    # created persists; an unparsable createTime keeps the last good one
    later = machine.feed(parts_chunk({"text": "x"}, createTime="garbage"))
    assert later["created"] == 1735787045 and later["model"] == "model" and later["id"] == ""


def test_openai_usage_is_cli_arithmetic() -> None:
    meta = {
        "promptTokenCount": 100,
        "cachedContentTokenCount": 40,
        "thoughtsTokenCount": 10,
        "candidatesTokenCount": 5,
        "totalTokenCount": 115,
    }
    chunk = parts_chunk({"text": "a"}, finish="STOP", usageMetadata=meta)
    cli = OpenAIChatFromCLI().feed(chunk)
    assert cli["usage"] == {
        "completion_tokens": 5,
        "total_tokens": 115,
        "prompt_tokens": 110,
        "completion_tokens_details": {"reasoning_tokens": 10},
    }
    assert list(cli) == ["id", "object", "created", "model", "choices", "usage"]
    assert cli["choices"][0]["finish_reason"] == cli["choices"][0]["native_finish_reason"] == "stop"
    # Antigravity subtracts the cached prompt and reports it
    antigravity = OpenAIChatFromCLI(cached=True).feed(chunk)
    assert antigravity["usage"] == {
        "completion_tokens": 5,
        "total_tokens": 115,
        "prompt_tokens": 70,
        "completion_tokens_details": {"reasoning_tokens": 10},
        "prompt_tokens_details": {"cached_tokens": 40},
    }


def test_openai_usage_only_chunk_still_has_a_choice() -> None:
    out = OpenAIChatFromCLI().feed(wrap({"usageMetadata": {"promptTokenCount": 3}}))
    assert out["choices"][0]["delta"] == EMPTY_DELTA
    assert out["usage"] == {"prompt_tokens": 3}


def test_openai_tool_calls_share_one_counter_and_force_tool_calls() -> None:
    machine = OpenAIChatFromCLI(tool_id=ids())
    first = machine.feed(
        parts_chunk({"functionCall": {"name": "a", "args": {"x": 1}}}, {"functionCall": {"name": "b"}}, finish="STOP")
    )
    assert first["choices"][0]["delta"]["tool_calls"] == [
        {"id": "a-id-1", "index": 0, "type": "function", "function": {"name": "a", "arguments": '{"x":1}'}},
        {"id": "b-id-2", "index": 1, "type": "function", "function": {"name": "b", "arguments": ""}},
    ]
    assert first["choices"][0]["finish_reason"] == "tool_calls"
    second = machine.feed(parts_chunk({"functionCall": {"name": "c", "args": {}}}))
    # the stream-wide counter has reached 2 (the Gemini pair would restart per candidate)
    assert second["choices"][0]["delta"]["tool_calls"][0]["index"] == 2


def test_openai_thoughts_signatures_and_images() -> None:
    chunk = parts_chunk(
        {"thoughtSignature": "sig-only"},
        {"text": "plan", "thought": True, "thoughtSignature": "sig"},
        {"inlineData": {"mimeType": "image/jpeg", "data": "JJ"}},
        {"inline_data": {"data": "PP"}},
        {"inlineData": {"data": ""}},
    )
    delta = OpenAIChatFromCLI().feed(chunk)["choices"][0]["delta"]
    assert delta == {
        "role": "assistant",
        "content": None,
        "reasoning_content": "plan",
        "tool_calls": None,
        "images": [
            {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,JJ"}, "index": 0},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,PP"}, "index": 1},
        ],
    }


def test_openai_non_stream() -> None:
    body = parts_chunk(
        {"text": "thinking", "thought": True},
        {"text": "Hello"},
        finish="MAX_TOKENS",
        responseId="r",
        modelVersion="m",
        usageMetadata={"promptTokenCount": 4, "candidatesTokenCount": 2, "totalTokenCount": 6},
    )
    out = render_openai_response(body)
    assert out is not None
    assert out["id"] == "r" and out["object"] == "chat.completion" and out["model"] == "m"
    assert out["choices"][0]["message"]["content"] == "Hello"
    assert out["choices"][0]["message"]["reasoning_content"] == "thinking"
    assert out["choices"][0]["finish_reason"] == "max_tokens"
    assert out["usage"] == {"completion_tokens": 2, "total_tokens": 6, "prompt_tokens": 4}
    assert render_openai_response({"candidates": []}) is None


# --- Claude -------------------------------------------------------------------------------------


def start_frame(message_id: str, model: str) -> tuple[str, dict[str, Any]]:
    message = {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "content": [],
        "model": model,
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 0, "output_tokens": 0},
    }
    return "message_start", {"type": "message_start", "message": message}


def block(kind: str, index: int, body: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    payload: dict[str, Any] = {"type": kind, "index": index}
    if kind == "content_block_start":
        payload["content_block"] = body
    elif kind == "content_block_delta":
        payload["delta"] = body
    return kind, payload


def test_claude_stream_golden() -> None:
    machine = ClaudeStreamFromCLI(tool_id=ids())
    frames = machine.feed(parts_chunk({"text": "think", "thought": True}, responseId="r", modelVersion="g"))
    frames += machine.feed(parts_chunk({"text": "Hi"}, {"text": " there"}))
    frames += machine.feed(
        parts_chunk({"functionCall": {"name": "f", "args": {"a": 1}}}, {"functionCall": {"name": ""}})
    )
    usage = {"promptTokenCount": 7, "candidatesTokenCount": 3, "thoughtsTokenCount": 2}
    frames += machine.feed(parts_chunk(finish="STOP", usageMetadata=usage))
    frames += machine.done()
    assert frames == [
        start_frame("r", "g"),
        block("content_block_start", 0, {"type": "thinking", "thinking": ""}),
        block("content_block_delta", 0, {"type": "thinking_delta", "thinking": "think"}),
        block("content_block_stop", 0),
        block("content_block_start", 1, {"type": "text", "text": ""}),
        block("content_block_delta", 1, {"type": "text_delta", "text": "Hi"}),
        block("content_block_delta", 1, {"type": "text_delta", "text": " there"}),
        block("content_block_stop", 1),
        block("content_block_start", 2, {"type": "tool_use", "id": "f-id-1", "name": "f", "input": {}}),
        block("content_block_delta", 2, {"type": "input_json_delta", "partial_json": '{"a":1}'}),
        # a nameless call opens its own block here (the Gemini pair would continue the last one)
        block("content_block_stop", 2),
        block("content_block_start", 3, {"type": "tool_use", "id": "-id-2", "name": "", "input": {}}),
        block("content_block_stop", 3),
        (
            "message_delta",
            {
                "type": "message_delta",
                # the answer called tools in an earlier chunk: tool_use (the legacy looks only at the
                # finishing chunk and says end_turn; compatibility row 39)
                "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                "usage": {"input_tokens": 7, "output_tokens": 5},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]


def test_claude_stream_tool_use_stop_reason_and_placeholders() -> None:
    machine = ClaudeStreamFromCLI(tool_id=ids())
    usage = {"promptTokenCount": 1, "candidatesTokenCount": 1}
    frames = machine.feed(parts_chunk({"functionCall": {"name": "f"}}, finish="STOP", usageMetadata=usage))
    assert frames[0] == start_frame("msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY", "claude-3-5-sonnet-20241022")
    assert frames[-1][1]["delta"]["stop_reason"] == "tool_use"


def test_claude_stream_text_only_ends_as_end_turn() -> None:
    machine = ClaudeStreamFromCLI(tool_id=ids())
    frames = machine.feed(parts_chunk({"text": "Hi"}))
    frames += machine.feed(parts_chunk(finish="STOP", usageMetadata={"promptTokenCount": 1, "candidatesTokenCount": 1}))
    assert frames[-1][1]["delta"]["stop_reason"] == "end_turn"


def test_claude_stream_no_final_events_without_content() -> None:
    machine = ClaudeStreamFromCLI()
    assert machine.feed(parts_chunk(finish="STOP", usageMetadata={"candidatesTokenCount": 1}))[1:] == []
    assert machine.done() == []


def test_claude_stream_closes_at_the_finish_without_candidates_count() -> None:
    # Thinking used the whole output budget: Gemini sends no candidatesTokenCount. The legacy then
    # never sends content_block_stop / message_delta (row 43); A2.6 needs usage and a finish only.
    machine = ClaudeStreamFromCLI()
    frames = machine.feed(parts_chunk({"text": "a", "thought": True}, finish="MAX_TOKENS",
                                      usageMetadata={"promptTokenCount": 3, "thoughtsTokenCount": 7}))
    assert [name for name, _ in frames] == ["message_start", "content_block_start", "content_block_delta",
                                            "content_block_stop", "message_delta"]
    assert frames[-1][1] == {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                             "usage": {"input_tokens": 3, "output_tokens": 7}}
    assert machine.done() == [("message_stop", {"type": "message_stop"})]


def test_claude_non_stream() -> None:
    body = parts_chunk(
        {"text": "t1", "thought": True},
        {"text": "a"},
        {"text": "b"},
        {"functionCall": {"name": "f", "args": {"k": 1}}},
        {"functionCall": {"name": "g", "args": [1]}},
        finish="MAX_TOKENS",
        responseId="r",
        modelVersion="m",
        usageMetadata={"promptTokenCount": 3, "candidatesTokenCount": 4, "thoughtsTokenCount": 1},
    )
    assert render_claude_response(body) == {
        "id": "r",
        "type": "message",
        "role": "assistant",
        "model": "m",
        "content": [
            {"type": "thinking", "thinking": "t1"},
            {"type": "text", "text": "ab"},
            {"type": "tool_use", "id": "tool_1", "name": "f", "input": {"k": 1}},
            {"type": "tool_use", "id": "tool_2", "name": "g", "input": {}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 3, "output_tokens": 5},
    }
    bare = render_claude_response(parts_chunk({"text": "x"}, finish="MAX_TOKENS"))
    assert bare["stop_reason"] == "max_tokens" and "usage" not in bare


# --- Responses ------------------------------------------------------------------------------


def test_responses_events_unwrap_the_envelope() -> None:
    machine = GeminiEvents(call_id=lambda: "call_1")
    events = responses_events(machine, parts_chunk({"text": "Hi"}, responseId="r", modelVersion="m"))
    events += responses_events(machine, parts_chunk({"functionCall": {"name": "f", "args": {}}}, finish="STOP"))
    assert events == [
        MessageStart("r", "m", 0),
        TextDelta("Hi"),
        ToolCallStart(0, "call_1", "f"),
        ToolCallDelta(0, "{}"),
        Finish(FinishReason("STOP", Format.GEMINI_CLI), None),
    ]
