"""OpenAI Responses clients, answer side: the A3.2 event sequence and the non-stream object, from
Claude upstreams (composed with ``claude.parse_stream_events``) and Gemini upstreams (composed with
``gemini.parse_chunk`` and ``GeminiEvents``). Each test cites its reference section.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from handlers.translation import claude, gemini, openai_responses
from handlers.translation.model import (
    Finish,
    FinishReason,
    Format,
    MessageStart,
    StreamEnd,
    StreamError,
    StreamEvent,
    TextDelta,
    ToolCallPart,
    Usage,
)
from handlers.translation.sse import encode_responses_event


def sse(*payloads: dict[str, Any]) -> bytes:
    return b"".join(b"data: " + orjson.dumps(p) + b"\n\n" for p in payloads)


def render_stream(events: list[StreamEvent], request: dict[str, Any] | None = None) -> list[tuple[str, dict[str, Any]]]:
    renderer = openai_responses.ResponsesStreamRenderer(request, now=lambda: 1700)
    return [frame for event in events for frame in renderer.feed(event)]


def names(frames: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [name for name, _ in frames]


def assert_sequence(frames: list[tuple[str, dict[str, Any]]]) -> None:
    # A3.2: sequence_number starts at 1 and increases by exactly 1; the event name is the type.
    assert [p["sequence_number"] for _, p in frames] == list(range(1, len(frames) + 1))
    assert all(p["type"] == name for name, p in frames)


# --- Claude upstream -> Responses client (A3.2) ----------------------------------------------

CLAUDE_STREAM = sse(
    {"type": "message_start", "message": {"id": "msg_1", "model": "claude-x", "usage": {"input_tokens": 11}}},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "hmm"}},
    {"type": "content_block_stop", "index": 0},
    {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Hi"}},
    {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "!"}},
    {"type": "content_block_stop", "index": 1},
    {"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "f"}},
    {"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": '{"a":'}},
    {"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "1}"}},
    {"type": "content_block_stop", "index": 2},
    {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 7}},
    {"type": "message_stop"},
)

REQUEST_ECHO = {"model": "m", "instructions": "Be brief.", "max_output_tokens": 100, "stream": True, "store": False}


def test_claude_stream_to_responses_a3_2() -> None:
    # A3.2: created/in_progress; reasoning item (rs_<id>_<n>) closed when text starts; message
    # item msg_<id>_0 open until the finish; function call item fc_<call_id> with argument
    # deltas; response.completed with echo, output and usage (input from message_start).
    frames = render_stream(claude.parse_stream_events(CLAUDE_STREAM, start_usage=True), REQUEST_ECHO)
    assert_sequence(frames)
    assert names(frames) == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    payloads = [p for _, p in frames]
    assert payloads[0]["response"] == {
        "id": "msg_1",
        "object": "response",
        "created_at": 1700,
        "status": "in_progress",
        "background": False,
        "error": None,
        "output": [],
    }
    assert payloads[2]["item"] == {"id": "rs_msg_1_0", "type": "reasoning", "status": "in_progress", "summary": []}
    assert payloads[7] == {
        "type": "response.output_item.done",
        "sequence_number": 8,
        "output_index": 0,
        "item": {
            "id": "rs_msg_1_0",
            "type": "reasoning",
            "encrypted_content": "",
            "summary": [{"type": "summary_text", "text": "hmm"}],
        },
    }
    assert payloads[8]["item"] == {
        "id": "msg_msg_1_0",
        "type": "message",
        "status": "in_progress",
        "content": [],
        "role": "assistant",
    }
    assert payloads[10] == {
        "type": "response.output_text.delta",
        "sequence_number": 11,
        "item_id": "msg_msg_1_0",
        "output_index": 1,
        "content_index": 0,
        "delta": "Hi",
        "logprobs": [],
    }
    assert payloads[12]["item"] == {
        "id": "fc_toolu_1",
        "type": "function_call",
        "status": "in_progress",
        "arguments": "",
        "call_id": "toolu_1",
        "name": "f",
    }
    assert payloads[15] == {
        "type": "response.function_call_arguments.done",
        "sequence_number": 16,
        "item_id": "fc_toolu_1",
        "output_index": 2,
        "arguments": '{"a":1}',
    }
    assert payloads[17]["text"] == "Hi!"
    assert payloads[19]["item"]["content"] == [{"type": "output_text", "text": "Hi!"}]
    completed = payloads[20]["response"]
    assert completed == {
        "id": "msg_1",
        "object": "response",
        "created_at": 1700,
        "status": "completed",
        "background": False,
        "error": None,
        "instructions": "Be brief.",
        "max_output_tokens": 100,
        "model": "m",
        "store": False,
        "output": [
            {"id": "rs_msg_1_0", "type": "reasoning", "summary": [{"type": "summary_text", "text": "hmm"}]},
            {
                "id": "msg_msg_1_0",
                "type": "message",
                "status": "completed",
                "content": [{"type": "output_text", "annotations": [], "logprobs": [], "text": "Hi!"}],
                "role": "assistant",
            },
            {
                "id": "fc_toolu_1",
                "type": "function_call",
                "status": "completed",
                "arguments": '{"a":1}',
                "call_id": "toolu_1",
                "name": "f",
            },
        ],
        "usage": {
            "input_tokens": 11,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 7,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 18,
        },
    }


def test_claude_non_stream_to_responses() -> None:
    # Non-stream: the folded Claude SSE as one Responses object (request echo, ids as in A3.2).
    resp = openai_responses.fold_events(claude.parse_stream_events(CLAUDE_STREAM, start_usage=True))
    out = openai_responses.render_response(resp, REQUEST_ECHO, now=lambda: 1700)
    assert out == {
        "id": "msg_1",
        "object": "response",
        "created_at": 1700,
        "status": "completed",
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": "Be brief.",
        "max_output_tokens": 100,
        "model": "m",
        "store": False,
        "output": [
            {"id": "rs_msg_1_0", "type": "reasoning", "summary": [{"type": "summary_text", "text": "hmm"}]},
            {
                "id": "msg_msg_1_0",
                "type": "message",
                "status": "completed",
                "content": [{"type": "output_text", "annotations": [], "logprobs": [], "text": "Hi!"}],
                "role": "assistant",
            },
            {
                "id": "fc_toolu_1",
                "type": "function_call",
                "status": "completed",
                "arguments": '{"a":1}',
                "call_id": "toolu_1",
                "name": "f",
            },
        ],
        "usage": {
            "input_tokens": 11,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 7,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 18,
        },
    }


def test_claude_parser_start_usage_is_opt_in() -> None:
    # The chat-completions pairs keep their event list; only the Responses path asks for it.
    events = claude.parse_stream_events(CLAUDE_STREAM)
    assert events[0] == MessageStart("msg_1", "claude-x")
    assert not any(type(e).__name__ == "UsageReport" for e in events)


def test_claude_cache_read_reaches_responses_usage() -> None:
    # A3.2 usage: input_tokens_details.cached_tokens carries Claude's cache-read count.
    body = sse(
        {"type": "message_start", "message": {"id": "m2", "usage": {"input_tokens": 4}}},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"input_tokens": 5, "output_tokens": 1, "cache_read_input_tokens": 3},
        },
    )
    frames = render_stream(claude.parse_stream_events(body, start_usage=True))
    assert frames[-1][1]["response"]["usage"] == {
        "input_tokens": 5,
        "input_tokens_details": {"cached_tokens": 3},
        "output_tokens": 1,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 6,
    }


# --- Gemini upstream -> Responses client (A3.2, golden 29) -----------------------------------


def gemini_frames(
    chunks: list[dict[str, Any]], request: dict[str, Any] | None = None
) -> list[tuple[str, dict[str, Any]]]:
    adapter = openai_responses.GeminiEvents(call_id=iter(["call_1_1", "call_2_2"]).__next__)
    events = [e for c in chunks for e in adapter.feed(gemini.parse_chunk(c))]
    return render_stream(events, request)


def test_gemini_stream_to_responses_golden_29() -> None:
    # Golden 29: created (seq 1), in_progress (seq 2); text -> message item msg_<respId>_0;
    # finishReason -> output_text.done, content_part.done, output_item.done, response.completed
    # with cached_tokens 0; createTime is created_at; sequence numbers step by 1.
    chunks = [
        {
            "responseId": "r1",
            "createTime": "2024-01-01T00:00:00Z",
            "candidates": [{"content": {"role": "model", "parts": [{"text": "Hel"}]}}],
        },
        {
            "responseId": "r1",
            "candidates": [{"content": {"role": "model", "parts": [{"text": "lo"}]}, "finishReason": "STOP"}],
            "usageMetadata": {
                "promptTokenCount": 5,
                "candidatesTokenCount": 2,
                "thoughtsTokenCount": 1,
                "cachedContentTokenCount": 4,
                "totalTokenCount": 8,
            },
        },
    ]
    frames = gemini_frames(chunks, {"model": "gemini-2.5-pro"})
    assert_sequence(frames)
    assert names(frames) == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert frames[0][1]["response"]["created_at"] == 1704067200
    assert frames[2][1]["item"]["id"] == "msg_r1_0"
    assert frames[6][1]["text"] == "Hello"
    completed = frames[-1][1]["response"]
    assert completed["model"] == "gemini-2.5-pro"
    assert completed["usage"] == {
        "input_tokens": 5,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 2,
        "output_tokens_details": {"reasoning_tokens": 1},
        "total_tokens": 8,
    }


def test_gemini_stream_thoughts_and_calls_to_responses() -> None:
    # A3.2 items 3 and 5: the reasoning item closes when a call starts; calls get call ids
    # (call_<unixnano>_<n> in production) and stay open until the finish, then close in order.
    chunks = [
        {"responseId": "r2", "candidates": [{"content": {"parts": [{"text": "plan", "thought": True}]}}]},
        {
            "responseId": "r2",
            "candidates": [
                {
                    "content": {
                        "parts": [{"functionCall": {"name": "f", "args": {"x": 1}}}, {"functionCall": {"name": "g"}}]
                    },
                    "finishReason": "STOP",
                }
            ],
        },
    ]
    frames = gemini_frames(chunks)
    assert_sequence(frames)
    assert names(frames)[2:] == [
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.output_item.added",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert frames[2][1]["item"]["id"] == "rs_r2_0"
    assert frames[8][1]["item"] == {
        "id": "fc_call_1_1",
        "type": "function_call",
        "status": "in_progress",
        "arguments": "",
        "call_id": "call_1_1",
        "name": "f",
    }
    assert frames[9][1]["delta"] == '{"x":1}'
    assert frames[10][1]["output_index"] == 2
    assert frames[11][1]["arguments"] == '{"x":1}'
    assert frames[13][1]["arguments"] == "{}"
    output = frames[-1][1]["response"]["output"]
    assert [item["id"] for item in output] == ["rs_r2_0", "fc_call_1_1", "fc_call_2_2"]
    assert "usage" not in frames[-1][1]["response"]


def test_gemini_call_id_pattern() -> None:
    # A2.16 response ids: Gemini->Responses call ids are call_<unixNano>_<counter>.
    assert re.fullmatch(r"call_\d+_\d+", openai_responses.gemini_call_id())


def test_gemini_non_stream_to_responses() -> None:
    chunk = {
        "responseId": "r3",
        "createTime": "2024-01-01T00:00:00Z",
        "candidates": [{"content": {"parts": [{"text": "ok"}]}, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 2, "candidatesTokenCount": 1, "totalTokenCount": 3},
    }
    adapter = openai_responses.GeminiEvents(call_id=lambda: "call_1")
    resp = openai_responses.fold_events(adapter.feed(gemini.parse_chunk(chunk)))
    out = openai_responses.render_response(resp, {"model": "g"}, now=lambda: 1)
    assert out["created_at"] == 1704067200
    assert out["output"] == [
        {
            "id": "msg_r3_0",
            "type": "message",
            "status": "completed",
            "content": [{"type": "output_text", "annotations": [], "logprobs": [], "text": "ok"}],
            "role": "assistant",
        }
    ]
    assert out["usage"]["total_tokens"] == 3


# --- renderer edges ---------------------------------------------------------------------------


def test_stream_end_without_finish_completes_once() -> None:
    # A stream that ends without a finish still gets response.created ... response.completed;
    # nothing is emitted after the completion.
    frames = render_stream([MessageStart("r", "m", 5), TextDelta("a"), StreamEnd(), TextDelta("late"), StreamEnd()])
    assert names(frames)[-1] == "response.completed"
    assert names(frames).count("response.completed") == 1
    assert frames[0][1]["response"]["created_at"] == 5


def test_finish_without_start_still_opens_response() -> None:
    usage = Usage(Format.OPENAI, input_tokens=1, output_tokens=2)
    frames = render_stream([Finish(FinishReason("stop", Format.OPENAI), usage)])
    assert names(frames) == ["response.created", "response.in_progress", "response.completed"]
    assert frames[-1][1]["response"]["usage"]["total_tokens"] == 3


def test_stream_error_is_left_to_the_handler() -> None:
    # Surface §6: the Responses handler frames mid-stream errors; the translator adds nothing and
    # the stream stays open for the handler to end.
    renderer = openai_responses.ResponsesStreamRenderer(None, now=lambda: 1)
    assert len(renderer.feed(MessageStart("r"))) == 2
    assert renderer.feed(StreamError("boom", "server_error")) == []
    assert names(renderer.feed(StreamEnd())) == ["response.completed"]


def test_responses_frames_encode_with_event_lines() -> None:
    # Surface §6 / A3.2 framing: "event: <type>" then "data: <json>".
    name, payload = render_stream([MessageStart("r")])[0]
    wire = encode_responses_event(name, payload)
    assert wire.startswith(b"\nevent: response.created\ndata: {")
    assert orjson.loads(wire.split(b"data: ", 1)[1]) == payload


def test_non_stream_defaults() -> None:
    # No usage from the upstream -> zero counters; a call without arguments -> "{}".
    resp = openai_responses.fold_events([MessageStart("r"), Finish(None)])
    resp.parts.append(ToolCallPart("c", "f", ""))
    out = openai_responses.render_response(resp, None, now=lambda: 9)
    assert out["created_at"] == 9
    assert out["output"] == [
        {"id": "fc_c", "type": "function_call", "status": "completed", "arguments": "{}", "call_id": "c", "name": "f"}
    ]
    assert out["usage"] == {
        "input_tokens": 0,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 0,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 0,
    }


def test_claude_non_stream_input_tokens_come_from_message_start_alone() -> None:
    # claude_openai-responses_response.go:492-494, 553-555: folded, only output_tokens is read from
    # message_delta, even when it names an input count of its own.
    stream = sse(
        {"type": "message_start", "message": {"id": "msg_1", "model": "claude-x", "usage": {"input_tokens": 5}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "hi"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
         "usage": {"input_tokens": 9, "output_tokens": 7}},
        {"type": "message_stop"},
    )
    resp = openai_responses.fold_events(claude.parse_stream_events(stream, start_usage=True))
    usage = openai_responses.render_response(resp, {}, now=lambda: 1)["usage"]
    assert (usage["input_tokens"], usage["output_tokens"], usage["total_tokens"]) == (5, 7, 12)
