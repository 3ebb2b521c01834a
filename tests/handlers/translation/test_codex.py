"""Codex upstream (OpenAI Responses API as the Codex backend speaks it) for OpenAI chat clients.

Vectors: A2.10 (request, goldens 18-19, A4.2 #20 built-in tools) and A2.11 (stream and non-stream
answers, golden 28). Each test cites its reference section.
"""

from __future__ import annotations

from typing import Any

import orjson

from handlers.translation import claude, codex, openai_chat
from handlers.translation.model import (
    StreamError,
    StreamEvent,
    TextPart,
    ThinkingPart,
    ToolCallPart,
)
from handlers.translation.sse import SSEParser


def sse(*payloads: dict[str, Any]) -> bytes:
    return b"".join(b"data: " + orjson.dumps(p) + b"\n\n" for p in payloads)


def codex_events(body: bytes) -> list[StreamEvent]:
    parser, sse_parser = codex.CodexStreamParser(), SSEParser()
    events: list[StreamEvent] = []
    for event in [*sse_parser.feed(body), *sse_parser.finish()]:
        events.extend(parser.feed_sse(event))
    return events


# --- OpenAI chat client -> Codex request (A2.10) ---------------------------------------------

MCP_LONG = "mcp__server__" + "x" * 50 + "__do_it"  # 70 characters
PLAIN_LONG = "a" * 70


def to_codex(body: dict[str, Any], *, stream: bool = True) -> dict[str, Any]:
    return codex.render_request(openai_chat.parse_request(body), "gpt-5", stream=stream)


def test_codex_request_skeleton_golden_18() -> None:
    # A2.10 skeleton / golden 18: defaults, system -> developer, sampling fields not forwarded.
    body = {
        "model": "gpt-5",
        "messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "hi"}],
        "max_tokens": 5,
        "temperature": 0.2,
        "top_p": 0.9,
        "stop": "x",
    }
    assert to_codex(body, stream=False) == {
        "instructions": "",
        "stream": False,
        "reasoning": {"effort": "medium", "summary": "auto"},
        "parallel_tool_calls": True,
        "include": ["reasoning.encrypted_content"],
        "model": "gpt-5",
        "input": [
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "S"}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
        ],
        "store": False,
    }
    assert list(to_codex(body)) == [
        "instructions",
        "stream",
        "reasoning",
        "parallel_tool_calls",
        "include",
        "model",
        "input",
        "store",
    ]


def test_codex_request_effort_verbatim_and_instructions() -> None:
    # A2.10: reasoning_effort copied as given; instructions only from the built-in prompt.
    req = openai_chat.parse_request({"messages": [], "reasoning_effort": "High"})
    out = codex.render_request(req, "gpt-5", stream=True, instructions="PROMPT")
    assert out["reasoning"] == {"effort": "High", "summary": "auto"}
    assert out["instructions"] == "PROMPT"


def test_codex_request_items() -> None:
    # A2.10: content part types by role, images for users only, files dropped, tool calls as
    # separate items after their message, tool messages as function_call_output.
    body = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "look"},
                    {"type": "image_url", "image_url": {"url": "https://i/x.png"}},
                    {"type": "file", "file": {"filename": "a.txt", "file_data": "eA=="}},
                ],
            },
            {
                "role": "assistant",
                "content": "calling",
                "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}],
            },
            {"role": "assistant", "content": [{"type": "image_url", "image_url": {"url": "https://i/y.png"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "ok"},
            {"role": "tool", "tool_call_id": "c2", "content": [{"type": "text", "text": "t"}]},
            {"role": "tool", "tool_call_id": "c3", "content": None},
            {"role": "tool", "tool_call_id": "c4"},
        ]
    }
    assert to_codex(body)["input"] == [
        {
            "type": "message",
            "role": "user",
            "content": [
                {"type": "input_text", "text": "look"},
                {"type": "input_image", "image_url": "https://i/x.png"},
            ],
        },
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "calling"}]},
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": '{"a":1}'},
        {"type": "message", "role": "assistant", "content": []},
        {"type": "function_call_output", "call_id": "c1", "output": "ok"},
        {"type": "function_call_output", "call_id": "c2", "output": '[{"type":"text","text":"t"}]'},
        # codex_openai_request.go:132: gjson's String() of null or a missing content is "".
        {"type": "function_call_output", "call_id": "c3", "output": ""},
        {"type": "function_call_output", "call_id": "c4", "output": ""},
    ]


def test_codex_tool_names_shortened_golden_19() -> None:
    # Golden 19: mcp__…__tail -> mcp__tail; plain long name -> first 64; a collision gets _1.
    body = {
        "messages": [
            {
                "role": "assistant",
                "tool_calls": [{"id": "c1", "type": "function", "function": {"name": MCP_LONG, "arguments": "{}"}}],
            }
        ],
        "tools": [
            {"type": "function", "function": {"name": MCP_LONG, "description": "d", "parameters": {}, "strict": True}},
            {"type": "function", "function": {"name": PLAIN_LONG}},
            {"type": "function", "function": {"name": PLAIN_LONG + "b"}},
        ],
        "tool_choice": {"type": "function", "function": {"name": PLAIN_LONG + "b"}},
    }
    out = to_codex(body)
    assert out["tools"] == [
        {"type": "function", "name": "mcp__do_it", "description": "d", "parameters": {}, "strict": True},
        {"type": "function", "name": "a" * 64},
        {"type": "function", "name": "a" * 62 + "_1"},
    ]
    assert out["tool_choice"] == {"type": "function", "name": "a" * 62 + "_1"}
    assert out["input"][1]["name"] == "mcp__do_it"
    assert codex.restore_names(openai_chat.parse_request(body)) == {
        "mcp__do_it": MCP_LONG,
        "a" * 64: PLAIN_LONG,
        "a" * 62 + "_1": PLAIN_LONG + "b",
    }


def test_codex_short_name_rules() -> None:
    # A2.10 tool-name row: exactly 64 stays; an mcp name without a second "__" is truncated.
    assert codex.shorten_name("b" * 64) == "b" * 64
    assert codex.shorten_name("mcp__" + "c" * 70) == ("mcp__" + "c" * 70)[:64]
    assert codex.short_name_map(["x" * 65, "x" * 66, "x" * 67]) == {
        "x" * 65: "x" * 64,
        "x" * 66: "x" * 62 + "_1",
        "x" * 67: "x" * 62 + "_2",
    }


def test_codex_builtin_tools_and_choice_pass_through() -> None:
    # A4.2 #20: built-in tools and a non-function tool_choice object are kept verbatim.
    body = {
        "messages": [],
        "tools": [{"type": "web_search", "search_context_size": "high"}],
        "tool_choice": {"type": "web_search"},
    }
    out = to_codex(body)
    assert out["tools"] == [{"type": "web_search", "search_context_size": "high"}]
    assert out["tool_choice"] == {"type": "web_search"}
    assert to_codex({"messages": [], "tool_choice": "required"})["tool_choice"] == "required"


def test_codex_response_format() -> None:
    # A2.10: response_format text / json_schema -> text.format; text.verbosity passed.
    schema = {"type": "json_schema", "json_schema": {"name": "n", "strict": True, "schema": {"type": "object"}}}
    out = to_codex({"messages": [], "response_format": schema, "text": {"verbosity": "low"}})
    assert out["text"] == {
        "format": {"type": "json_schema", "name": "n", "strict": True, "schema": {"type": "object"}},
        "verbosity": "low",
    }
    assert to_codex({"messages": [], "response_format": {"type": "text"}})["text"] == {"format": {"type": "text"}}
    assert to_codex({"messages": [], "text": {"verbosity": "high"}})["text"] == {"verbosity": "high"}
    assert "text" not in to_codex({"messages": []})


# --- Codex upstream -> OpenAI chat client (A2.11) --------------------------------------------

CODEX_STREAM = sse(
    {"type": "response.created", "response": {"id": "resp_1", "created_at": 1700000000, "model": "gpt-5-codex"}},
    {"type": "response.in_progress", "response": {"id": "resp_1"}},
    {"type": "response.reasoning_summary_text.delta", "delta": "think"},
    {"type": "response.reasoning_summary_text.done", "text": "think"},
    {"type": "response.output_text.delta", "delta": "Hi"},
    {
        "type": "response.output_item.added",
        "output_index": 2,
        "item": {"type": "function_call", "call_id": "call_9", "name": "mcp__do_it", "arguments": ""},
    },
    {"type": "response.function_call_arguments.delta", "output_index": 2, "delta": '{"a":'},
    {
        "type": "response.output_item.done",
        "output_index": 2,
        "item": {"type": "function_call", "call_id": "call_9", "name": "mcp__do_it", "arguments": '{"a":1}'},
    },
    {
        "type": "response.completed",
        "response": {
            "id": "resp_1",
            "status": "completed",
            "usage": {
                "input_tokens": 10,
                "output_tokens": 4,
                "total_tokens": 14,
                "output_tokens_details": {"reasoning_tokens": 2},
            },
        },
    },
)


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    base = {"role": None, "content": None, "reasoning_content": None, "tool_calls": None}
    return {
        "id": "resp_1",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "gpt-5-codex",
        "choices": [{"index": 0, "delta": {**base, **delta}, "finish_reason": finish, "native_finish_reason": finish}],
    }


def test_codex_stream_to_openai_golden_28() -> None:
    # A2.11 / golden 28: created emits nothing; reasoning delta, "\n\n" on summary done, text,
    # one complete tool call at item done (index 0, original name), finish tool_calls + usage.
    renderer = codex.OpenAIChatFromCodex("gpt-5", {"mcp__do_it": MCP_LONG})
    out = [c for e in codex_events(CODEX_STREAM) for c in renderer.feed(e)]
    call = {"index": 0, "id": "call_9", "type": "function", "function": {"name": MCP_LONG, "arguments": '{"a":1}'}}
    final = chunk({}, "tool_calls")
    final["usage"] = {
        "prompt_tokens": 10,
        "completion_tokens": 4,
        "total_tokens": 14,
        "completion_tokens_details": {"reasoning_tokens": 2},
    }
    assert out == [
        chunk({"role": "assistant", "reasoning_content": "think"}),
        chunk({"role": "assistant", "reasoning_content": "\n\n"}),
        chunk({"role": "assistant", "content": "Hi"}),
        chunk({"role": "assistant", "tool_calls": [call]}),
        final,
    ]


def test_codex_stream_text_only_finishes_stop() -> None:
    # A2.11 / A2.16: no function_call item -> finish_reason "stop"; unknown events dropped.
    body = sse(
        {"type": "response.created", "response": {"id": "resp_1", "created_at": 1700000000, "model": "gpt-5-codex"}},
        {"type": "response.content_part.added", "part": {}},
        {"type": "response.output_text.delta", "delta": "ok"},
        {"type": "response.completed", "response": {"status": "completed"}},
    )
    renderer = codex.OpenAIChatFromCodex("gpt-5")
    out = [c for e in codex_events(body) for c in renderer.feed(e)]
    assert out == [chunk({"role": "assistant", "content": "ok"}), chunk({}, "stop")]


def test_codex_stream_failure_becomes_error() -> None:
    body = sse({"type": "response.failed", "response": {"error": {"code": "server_error", "message": "boom"}}})
    assert codex_events(body) == [StreamError("boom", "server_error")]


def test_codex_non_stream_golden_a2_11() -> None:
    # A2.11 non-stream: built from response.completed; finish "stop" for status completed even
    # with tool calls; names restored; usage as in the stream.
    completed = {
        "type": "response.completed",
        "response": {
            "id": "resp_2",
            "created_at": 1700000001,
            "model": "gpt-5-codex",
            "status": "completed",
            "output": [
                {"type": "reasoning", "summary": [{"type": "summary_text", "text": "why"}], "encrypted_content": "enc"},
                {"type": "message", "content": [{"type": "output_text", "text": "answer"}]},
                {"type": "function_call", "call_id": "call_1", "name": "mcp__do_it", "arguments": "{}"},
            ],
            "usage": {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5},
        },
    }
    body = sse({"type": "response.created", "response": {"id": "resp_2"}}, completed)
    resp = codex.parse_stream_body(body)
    assert resp.parts == [
        ThinkingPart("why", signature="enc"),
        TextPart("answer"),
        ToolCallPart("call_1", "mcp__do_it", "{}"),
    ]
    assert codex.render_openai_response(resp, {"mcp__do_it": MCP_LONG}) == {
        "id": "resp_2",
        "object": "chat.completion",
        "created": 1700000001,
        "model": "gpt-5-codex",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "answer",
                    "reasoning_content": "why",
                    "tool_calls": [
                        {"id": "call_1", "type": "function", "function": {"name": MCP_LONG, "arguments": "{}"}}
                    ],
                },
                # The legacy says "stop" here; OpenAI clients need "tool_calls" (docs/compatibility.md).
                "finish_reason": "tool_calls",
                "native_finish_reason": "stop",
            }
        ],
        # No output_tokens_details upstream, so none here (codex_openai_response.go:208).
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }


def test_codex_non_stream_without_completed_folds_deltas() -> None:
    body = sse(
        {"type": "response.created", "response": {"id": "r"}}, {"type": "response.output_text.delta", "delta": "a"}
    )
    resp = codex.parse_stream_body(body)
    assert (resp.id, resp.parts) == ("r", [TextPart("a")])


def test_codex_tools_from_a_non_chat_request() -> None:
    # A request parsed from another client format has no chat-shaped function object; the tool is
    # rendered from the model's name/description/parameters (same A2.10 flattening).
    req = claude.parse_request(
        {"messages": [], "tools": [{"name": "f", "description": "d", "input_schema": {"type": "object"}}]}
    )
    assert codex.render_request(req, "gpt-5", stream=True)["tools"] == [
        {"type": "function", "name": "f", "description": "d", "parameters": {"type": "object"}}
    ]


def test_payload_fold_matches_the_body_fold() -> None:
    # The pipeline folds a non-stream answer from the payloads the executor already decoded.
    created = {"type": "response.created", "response": {"id": "r"}}
    delta = {"type": "response.output_text.delta", "delta": "a"}
    completed = {"type": "response.completed", "response": {"id": "r2", "status": "completed", "output": [
        {"type": "message", "content": [{"type": "output_text", "text": "whole"}]}]}}
    for payloads in ([created, delta], [created, delta, completed], [created, "noise", None, delta]):
        body = sse(*[p for p in payloads if isinstance(p, dict)])
        assert codex.parse_stream_payloads(payloads) == codex.parse_stream_body(body)
