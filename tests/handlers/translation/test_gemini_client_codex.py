"""Gemini client, Codex upstream (``codex/gemini`` at 9b72ea9ef, read from the Go source; A2.16
"Codex -> Gemini: always STOP"; tool-name shortening as golden 19)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from handlers.translation import gemini_client_codex as pair
from handlers.translation.gemini_client_common import rfc3339

MCP_LONG = "mcp__server__" + "x" * 50 + "__do_it"  # 70 characters


def ids() -> Any:
    counter = itertools.count(1)
    return lambda: f"call_{next(counter)}"


def request(body: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return pair.render_request(body, "gpt-5-codex", call_id=ids(), **kwargs)


# --- request ---------------------------------------------------------------------------------


def test_minimal_request_fixed_fields_and_key_order() -> None:
    out = request({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
    assert out == {
        "model": "gpt-5-codex",
        "instructions": "",
        "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
        "parallel_tool_calls": True,
        "reasoning": {"effort": "medium", "summary": "auto"},
        "stream": True,
        "store": False,
        "include": ["reasoning.encrypted_content"],
    }
    assert list(out) == ["model", "instructions", "input", "parallel_tool_calls", "reasoning", "stream", "store",
                         "include"]


def test_instructions_come_from_the_caller() -> None:
    assert request({}, instructions="official prompt")["instructions"] == "official prompt"


def test_system_instruction_is_a_developer_message_of_its_text_parts() -> None:
    out = request({"system_instruction": {"parts": [{"text": "S1"}, {"inline_data": {}}, {"text": "S2"}]}})
    assert out["input"] == [
        {
            "type": "message",
            "role": "developer",
            "content": [{"type": "input_text", "text": "S1"}, {"type": "input_text", "text": "S2"}],
        }
    ]
    assert request({"system_instruction": {"parts": [{"inline_data": {}}]}})["input"] == []


def test_system_instruction_is_read_under_both_spellings_camel_case_first() -> None:
    # Deviation: the legacy pair reads only system_instruction, which loses Gemini CLI's prompt.
    developer = {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "camel"}]}
    assert request({"systemInstruction": {"parts": [{"text": "camel"}]}})["input"] == [developer]
    both = {"system_instruction": {"parts": [{"text": "snake"}]}, "systemInstruction": {"parts": [{"text": "camel"}]}}
    assert request(both)["input"] == [developer]
    # A camelCase key that holds no parts still wins: the snake_case one is not consulted.
    assert request({"systemInstruction": None, "system_instruction": {"parts": [{"text": "snake"}]}})["input"] == []


def test_each_text_part_is_its_own_message_and_images_are_dropped() -> None:
    out = request(
        {
            "contents": [
                {"role": "user", "parts": [{"text": "a"}, {"inline_data": {"data": "x"}}, {"text": "b"}]},
                {"role": "model", "parts": [{"text": "c"}]},
                {"role": "user", "parts": "not a list"},
            ]
        }
    )
    assert out["input"] == [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "a"}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "b"}]},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "c"}]},
    ]


def test_calls_and_responses_pair_in_fifo_order() -> None:
    out = request(
        {
            "contents": [
                {
                    "role": "model",
                    "parts": [
                        {"functionCall": {"name": "a", "args": {"x": 1}}},
                        {"functionCall": {"name": "b"}},
                    ],
                },
                {
                    "role": "user",
                    "parts": [
                        {"functionResponse": {"name": "a", "response": {"result": {"ok": 1}}}},
                        {"functionResponse": {"name": "b", "response": {"other": "v"}}},
                        {"functionResponse": {"name": "c", "response": {"result": "plain"}}},
                        {"functionResponse": {"name": "d"}},
                    ],
                },
            ]
        }
    )
    assert out["input"] == [
        {"type": "function_call", "name": "a", "arguments": '{"x":1}', "call_id": "call_1"},
        {"type": "function_call", "name": "b", "call_id": "call_2"},
        {"type": "function_call_output", "output": '{"ok":1}', "call_id": "call_1"},
        {"type": "function_call_output", "output": '{"other":"v"}', "call_id": "call_2"},
        # Nothing pending: a fresh id; no response at all: no output key.
        {"type": "function_call_output", "output": "plain", "call_id": "call_3"},
        {"type": "function_call_output", "call_id": "call_4"},
    ]


def test_tools_shortened_cleaned_lowered_and_choice_auto() -> None:
    out = request(
        {
            "tools": [
                {
                    "functionDeclarations": [
                        {
                            "name": MCP_LONG,
                            "description": "d",
                            "parameters": {"$schema": "x", "type": "OBJECT", "properties": {"a": {"type": "STRING"}}},
                        },
                        {"name": "plain", "parametersJsonSchema": {"type": "object", "additionalProperties": True}},
                        {"name": "bare"},
                    ]
                },
                {"googleSearch": {}},
            ],
            "contents": [{"role": "model", "parts": [{"functionCall": {"name": MCP_LONG, "args": {}}}]}],
        }
    )
    assert out["tools"] == [
        {
            "type": "function",
            "name": "mcp__do_it",
            "description": "d",
            "parameters": {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": False},
            "strict": False,
        },
        {
            "type": "function",
            "name": "plain",
            "parameters": {"type": "object", "additionalProperties": False},
            "strict": False,
        },
        {"type": "function", "name": "bare", "strict": False},
    ]
    assert out["tool_choice"] == "auto"
    assert out["input"][0]["name"] == "mcp__do_it"
    assert list(out)[3:6] == ["tools", "tool_choice", "parallel_tool_calls"]
    # An empty tools array still sets both keys.
    empty = request({"tools": []})
    assert (empty["tools"], empty["tool_choice"]) == ([], "auto")


def test_undeclared_long_call_name_is_shortened_alone() -> None:
    out = request({"contents": [{"role": "model", "parts": [{"functionCall": {"name": "z" * 70}}]}]})
    assert out["input"][0]["name"] == "z" * 64


def test_restore_names_maps_short_back_to_declared() -> None:
    body = {"tools": [{"functionDeclarations": [{"name": MCP_LONG}, {"name": "ok"}]}]}
    assert pair.restore_names(body) == {"mcp__do_it": MCP_LONG, "ok": "ok"}


def test_reasoning_effort_from_thinking_config() -> None:
    def effort(thinking: dict[str, Any]) -> str:
        return request({"generationConfig": {"thinkingConfig": thinking}})["reasoning"]["effort"]

    assert effort({"thinkingLevel": " High "}) == "high"
    assert effort({"thinkingLevel": "", "thinkingBudget": 24576}) == "medium"  # level present but blank
    assert effort({"thinkingBudget": 24576}) == "high"
    assert effort({"thinkingBudget": 0}) == "none"
    assert effort({"thinkingBudget": -7}) == "medium"


# --- stream answer ----------------------------------------------------------------------------

CREATED = {"type": "response.created", "response": {"id": "resp_1", "model": "gpt-5-codex", "created_at": 1700000000}}
COMPLETED = {
    "type": "response.completed",
    "response": {"id": "resp_1", "created_at": 1700000000, "usage": {"input_tokens": 10, "output_tokens": 4}},
}


def chunk(parts: list[dict[str, Any]], *, model: str = "req-model", created: str = pair.PLACEHOLDER_CREATE_TIME,
          response_id: str = "resp_1", **candidate: Any) -> dict[str, Any]:
    return {
        "candidates": [{"content": {"role": "model", "parts": parts}, **candidate}],
        "usageMetadata": {"trafficType": "PROVISIONED_THROUGHPUT"},
        "modelVersion": model,
        "createTime": created,
        "responseId": response_id,
    }


def call_done(name: str, arguments: str) -> dict[str, Any]:
    return {"type": "response.output_item.done", "item": {"type": "function_call", "name": name,
                                                          "arguments": arguments, "call_id": "c"}}


def test_stream_text_reasoning_and_completion() -> None:
    renderer = pair.CodexEventsToGemini("req-model", {})
    out = [
        renderer.feed(CREATED),
        renderer.feed({"type": "response.in_progress", "response": {"created_at": 1}}),
        renderer.feed({"type": "response.reasoning_summary_text.delta", "delta": "hm"}),
        renderer.feed({"type": "response.output_text.delta", "delta": "Hi"}),
        renderer.feed({"type": "response.output_item.done", "item": {"type": "message"}}),
        renderer.feed(COMPLETED),
    ]
    assert out == [
        [chunk([], model="gpt-5-codex", created="2023-11-14T22:13:20Z")],
        [],
        [chunk([{"thought": True, "text": "hm"}])],
        [chunk([{"text": "Hi"}])],
        [],
        [
            {
                **chunk([], created="2023-11-14T22:13:20Z"),
                "usageMetadata": {
                    "trafficType": "PROVISIONED_THROUGHPUT",
                    "promptTokenCount": 10,
                    "candidatesTokenCount": 4,
                    "totalTokenCount": 14,
                },
            }
        ],
    ]


def test_stream_calls_are_held_merged_and_sent_before_the_next_chunk_once() -> None:
    renderer = pair.CodexEventsToGemini("req-model", {"mcp__do_it": MCP_LONG})
    renderer.feed(CREATED)
    assert renderer.feed(call_done("mcp__do_it", '{"a":1}')) == []
    assert renderer.feed(call_done("g", "not json")) == []
    held = chunk(
        [{"functionCall": {"name": MCP_LONG, "args": {"a": 1}}}, {"functionCall": {"name": "g", "args": {}}}],
        finishReason="STOP",
    )
    text = renderer.feed({"type": "response.output_text.delta", "delta": "after"})
    assert text == [held, chunk([{"text": "after"}])]
    # Deviation: the legacy would repeat the held calls here again.
    completed = renderer.feed(COMPLETED)
    assert len(completed) == 1 and completed[0]["usageMetadata"]["totalTokenCount"] == 14


def test_stream_ignores_non_objects_and_unknown_events() -> None:
    renderer = pair.CodexEventsToGemini("m", {})
    assert renderer.feed(None) == []
    assert renderer.feed({"type": "response.content_part.added"}) == []


# --- non-stream answer ------------------------------------------------------------------------


def test_completed_event_from_json_or_sse() -> None:
    body = orjson.dumps(COMPLETED)
    assert pair.completed_event(body) == COMPLETED
    sse = b"event: response.created\ndata: " + orjson.dumps(CREATED) + b"\n\ndata: not json\n\ndata: " + body + b"\n\n"
    assert pair.completed_event(sse) == COMPLETED
    assert pair.completed_event(orjson.dumps(CREATED)) is None
    assert pair.completed_event(b"data: " + orjson.dumps(CREATED) + b"\n\n") is None


def test_non_stream_answer() -> None:
    event = {
        "type": "response.completed",
        "response": {
            "id": "resp_9",
            "created_at": 1700000000,
            "usage": {"input_tokens": 7, "output_tokens": 3},
            "output": [
                {"type": "reasoning", "summary": [{"type": "summary_text", "text": "ignored"}]},
                {"type": "reasoning", "content": "thought"},
                {"type": "message", "content": [{"type": "output_text", "text": "Hi"}, {"type": "refusal"}]},
                {"type": "function_call", "name": "mcp__do_it", "arguments": '{"q":"x"}'},
                {"type": "function_call", "name": "g", "arguments": "[1]"},
            ],
        },
    }
    out = pair.render_response(event, "req-model", {"mcp__do_it": MCP_LONG})
    assert out == {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [
                        {"text": "thought", "thought": True},
                        {"text": "Hi"},
                        {"functionCall": {"args": {"q": "x"}, "name": MCP_LONG}},
                        {"functionCall": {"args": {}, "name": "g"}},
                    ],
                },
                "finishReason": "STOP",
            }
        ],
        "usageMetadata": {
            "trafficType": "PROVISIONED_THROUGHPUT",
            "promptTokenCount": 7,
            "candidatesTokenCount": 3,
            "totalTokenCount": 10,
        },
        "modelVersion": "req-model",
        "createTime": "2023-11-14T22:13:20Z",
        "responseId": "resp_9",
    }


def test_non_stream_without_response_object_keeps_the_template() -> None:
    assert pair.render_response({"type": "response.completed"}, "m", {}) == {
        "candidates": [{"content": {"role": "model", "parts": []}, "finishReason": "STOP"}],
        "usageMetadata": {"trafficType": "PROVISIONED_THROUGHPUT"},
        "modelVersion": "m",
        "createTime": "",
        "responseId": "",
    }


def test_a_created_at_beyond_what_datetime_holds_is_still_written() -> None:
    # A server sending nanoseconds: Go's time.Unix(...).Format gives a five-digit year, no failure.
    renderer = pair.CodexEventsToGemini("req-model", {})
    created = {"type": "response.created", "response": {"id": "r", "created_at": 1700000000000000000}}
    [first] = renderer.feed(created)
    assert first["createTime"] == "53870857431-07-31T22:13:20Z"


@given(st.integers(min_value=-30610224000, max_value=253402300799))
def test_rfc3339_agrees_with_datetime_where_datetime_has_four_digit_years(unix: int) -> None:
    assert rfc3339(unix) == datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
