"""Claude client -> Codex upstream (``codex/claude``, read from the Go source; finish rule A2.16)."""

from __future__ import annotations

from typing import Any

from handlers.translation import codex_claude
from handlers.translation.codex_instructions import OVERRIDE_MARKER, CodexInstructions

OFF = CodexInstructions()
LONG = "mcp__server__" + "x" * 50 + "__do_it"  # 70 characters


def to_codex(body: dict[str, Any], rule: CodexInstructions = OFF) -> dict[str, Any]:
    return codex_claude.render_request(body, "gpt-5-codex", rule=rule)


def test_request_golden() -> None:
    body = {
        "model": "claude-x",
        "system": [{"type": "text", "text": "S1"}, {"type": "text", "text": "S2"}],
        "messages": [
            {"role": "user", "content": "hello"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "look"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAA"}},
                    {"type": "image", "source": {"base64": "BBB", "mime_type": "image/gif"}},
                    {"type": "image", "source": {"data": "CCC"}},
                    {"type": "image", "source": {"type": "url", "url": "https://x"}},
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "calling"},
                    {"type": "tool_use", "id": "t1", "name": LONG, "input": {"a": 1}},
                    {"type": "text", "text": "after"},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "t1", "content": "ok"},
                    {"type": "tool_result", "tool_use_id": "t2", "content": [{"type": "text", "text": "x"}]},
                ],
            },
        ],
        "tools": [
            {"name": LONG, "description": "d", "input_schema": {"$schema": "s", "type": "object"}},
            {"type": "web_search_20250305", "name": "web_search", "max_uses": 2},
            {"name": "plain", "input_schema": {"properties": {"q": {"type": "string"}}}},
        ],
        "thinking": {"type": "enabled", "budget_tokens": 24576},
        "max_tokens": 100,
        "temperature": 0.3,
    }
    out = to_codex(body)
    assert out == {
        "model": "gpt-5-codex",
        "instructions": "",
        "input": [
            {"type": "message", "role": "developer", "content": [
                {"type": "input_text", "text": "S1"}, {"type": "input_text", "text": "S2"}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hello"}]},
            {"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": "look"},
                {"type": "input_image", "image_url": "data:image/png;base64,AAA"},
                {"type": "input_image", "image_url": "data:image/gif;base64,BBB"},
                {"type": "input_image", "image_url": "data:application/octet-stream;base64,CCC"},
            ]},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "calling"}]},
            {"type": "function_call", "call_id": "t1", "name": "mcp__do_it", "arguments": '{"a":1}'},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "after"}]},
            {"type": "function_call_output", "call_id": "t1", "output": "ok"},
            {"type": "function_call_output", "call_id": "t2", "output": '[{"type":"text","text":"x"}]'},
        ],
        "tools": [
            {"name": "mcp__do_it", "description": "d", "type": "function",
             "parameters": {"type": "object", "properties": {}}, "strict": False},
            {"type": "web_search"},
            {"name": "plain", "type": "function",
             "parameters": {"properties": {"q": {"type": "string"}}, "type": "object"}, "strict": False},
        ],
        "tool_choice": "auto",
        "parallel_tool_calls": True,
        "reasoning": {"effort": "high", "summary": "auto"},
        "stream": True,
        "store": False,
        "include": ["reasoning.encrypted_content"],
    }
    assert list(out) == [
        "model", "instructions", "input", "tools", "tool_choice", "parallel_tool_calls",
        "reasoning", "stream", "store", "include",
    ]
    assert list(out["tools"][0]) == ["name", "description", "type", "parameters", "strict"]


def test_string_system_is_a_developer_message_and_missing_tools_add_no_tool_choice() -> None:
    # The legacy drops a string system prompt (it reads arrays only); row 19s keeps it.
    out = to_codex({"system": "S", "messages": [{"role": "user", "content": "q"}]})
    assert out["input"] == [{"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "S"}]},
                            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "q"}]}]
    assert "tools" not in out and "tool_choice" not in out
    assert to_codex({"system": "", "messages": [{"role": "user", "content": "q"}]})["input"][0]["role"] == "user"


def test_tool_use_without_input_and_result_without_content() -> None:
    out = to_codex({"messages": [{"role": "assistant", "content": [{"type": "tool_use", "id": "a", "name": "f"}]},
                                 {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "a"}]}]})
    assert out["input"] == [
        {"type": "function_call", "call_id": "a", "name": "f", "arguments": ""},
        {"type": "function_call_output", "call_id": "a", "output": ""},
    ]


def test_thinking_maps_to_reasoning_effort() -> None:
    def effort(thinking: Any) -> str:
        return str(to_codex({"messages": [], "thinking": thinking})["reasoning"]["effort"])

    assert effort({"type": "enabled", "budget_tokens": 8192}) == "medium"
    assert effort({"type": "enabled", "budget_tokens": 1024}) == "low"
    assert effort({"type": "enabled", "budget_tokens": -1}) == "auto"
    assert effort({"type": "enabled", "budget_tokens": -5}) == "medium"  # invalid budget: default
    assert effort({"type": "enabled"}) == "medium"
    assert effort({"type": "disabled"}) == "none"
    assert effort("bogus") == "medium"


def test_enabled_instructions_add_the_prompt_and_the_marker_message() -> None:
    rule = CodexInstructions(enabled=True, prompts=(("gpt_5_codex_prompt.md-001-a", "OFFICIAL"),))
    out = to_codex({"system": [{"type": "text", "text": "S"}], "messages": []}, rule)
    assert out["instructions"] == "OFFICIAL"
    marker = {"type": "input_text", "text": OVERRIDE_MARKER}
    assert out["input"][0] == {"type": "message", "role": "user", "content": [marker]}
    assert out["input"][1]["role"] == "developer"
    # A first item without text (a function call) gets no marker.
    call = {"role": "assistant", "content": [{"type": "tool_use", "id": "a", "name": "f"}]}
    call_first = to_codex({"messages": [call]}, rule)
    assert call_first["input"][0]["type"] == "function_call"


def test_restore_names_maps_short_names_back() -> None:
    assert codex_claude.restore_names({"tools": [{"name": LONG}, {"name": "f"}]}) == {"mcp__do_it": LONG, "f": "f"}


# --- stream ----------------------------------------------------------------------------------


def frames(events: list[dict[str, Any]], restore: dict[str, str] | None = None) -> list[tuple[str, dict[str, Any]]]:
    renderer = codex_claude.ClaudeFromCodex(restore)
    return [frame for event in events for frame in renderer.feed(event)]


def test_stream_reasoning_text_and_finish() -> None:
    out = frames(
        [
            {"type": "response.created", "response": {"id": "resp_1", "model": "gpt-5-codex"}},
            {"type": "response.in_progress"},
            {"type": "response.reasoning_summary_part.added"},
            {"type": "response.reasoning_summary_text.delta", "delta": "think"},
            {"type": "response.reasoning_summary_part.done"},
            {"type": "response.content_part.added"},
            {"type": "response.output_text.delta", "delta": "Hi"},
            {"type": "response.content_part.done"},
            {"type": "response.completed", "response": {"usage": {
                "input_tokens": 10, "output_tokens": 5, "input_tokens_details": {"cached_tokens": 4}}}},
        ]
    )
    assert out == [
        ("message_start", {"type": "message_start", "message": {
            "id": "resp_1", "type": "message", "role": "assistant", "model": "gpt-5-codex", "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0}, "content": [], "stop_reason": None}}),
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
                           "usage": {"input_tokens": 6, "output_tokens": 5, "cache_read_input_tokens": 4}}),
        ("message_stop", {"type": "message_stop"}),
    ]


def test_stream_function_call_restores_name_and_ends_with_tool_use() -> None:
    out = frames(
        [
            {"type": "response.output_item.added",
             "item": {"type": "function_call", "call_id": "c1", "name": "mcp__do_it"}},
            {"type": "response.function_call_arguments.delta", "delta": '{"a":'},
            {"type": "response.function_call_arguments.delta", "delta": "1}"},
            {"type": "response.output_item.done", "item": {"type": "function_call"}},
            {"type": "response.output_item.done", "item": {"type": "message"}},
            {"type": "response.completed", "response": {}},
        ],
        {"mcp__do_it": LONG},
    )
    assert out == [
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "tool_use", "id": "c1", "name": LONG, "input": {}}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "input_json_delta", "partial_json": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "input_json_delta", "partial_json": '{"a":'}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "input_json_delta", "partial_json": "1}"}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                           "usage": {"input_tokens": 0, "output_tokens": 0}}),
        ("message_stop", {"type": "message_stop"}),
    ]


def test_stream_ignores_unknown_events_and_non_objects() -> None:
    assert frames([{"type": "response.output_item.added", "item": {"type": "message"}}, {"type": "x"}]) == []
    assert codex_claude.ClaudeFromCodex().feed(None) == []


# Legacy parity for a Codex-compatible upstream that leaves out the ``.added`` events. Each delta
# is written at the current block index whether or not a block was started there
# (codex_claude_response.go:77-83 thinking, :98-104 text, :170-176 tool arguments); only the
# ``.done`` events advance the index (:84-90, :105-111, :159-169), and ``tool_use`` depends on the
# flag that only ``output_item.added`` sets (:112-119, :132-136). The anthropic SDK's stream helper
# (0.125) fails on these answers with an IndexError (a delta for a block it never saw start). The
# answers are pinned so that changing them is a deliberate decision, not an accident.


def delta(index: int, payload: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return "content_block_delta", {"type": "content_block_delta", "index": index, "delta": payload}


END_TURN = [
    ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                       "usage": {"input_tokens": 0, "output_tokens": 0}}),
    ("message_stop", {"type": "message_stop"}),
]


def test_stream_text_delta_without_content_part_added_has_no_block_start() -> None:
    out = frames([
        {"type": "response.output_item.added", "item": {"type": "message"}},
        {"type": "response.output_text.delta", "delta": "Hel"},
        {"type": "response.output_text.delta", "delta": "lo"},
        {"type": "response.output_text.done", "text": "Hello"},
        {"type": "response.output_item.done", "item": {"type": "message"}},
        {"type": "response.completed", "response": {}},
    ])
    assert out == [delta(0, {"type": "text_delta", "text": "Hel"}), delta(0, {"type": "text_delta", "text": "lo"}),
                   *END_TURN]


def test_stream_reasoning_without_added_shares_index_with_the_next_block() -> None:
    # No part.done either: the index stays at 0 and the text block then starts at that index.
    out = frames([
        {"type": "response.reasoning_summary_text.delta", "delta": "Think."},
        {"type": "response.reasoning_summary_text.done", "text": "Think."},
        {"type": "response.content_part.added"},
        {"type": "response.output_text.delta", "delta": "Hi"},
        {"type": "response.content_part.done"},
        {"type": "response.completed", "response": {}},
    ])
    assert out == [
        delta(0, {"type": "thinking_delta", "thinking": "Think."}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "text", "text": ""}}),
        delta(0, {"type": "text_delta", "text": "Hi"}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        *END_TURN,
    ]


def test_stream_arguments_without_output_item_added_lose_the_call() -> None:
    # The call's id and name only come with output_item.done, which writes just the stop.
    out = frames([
        {"type": "response.function_call_arguments.delta", "delta": '{"a":'},
        {"type": "response.function_call_arguments.delta", "delta": "1}"},
        {"type": "response.output_item.done",
         "item": {"type": "function_call", "call_id": "c1", "name": "do_it", "arguments": '{"a":1}'}},
        {"type": "response.reasoning_summary_part.done"},
        {"type": "response.completed", "response": {}},
    ])
    assert out == [
        delta(0, {"type": "input_json_delta", "partial_json": '{"a":'}),
        delta(0, {"type": "input_json_delta", "partial_json": "1}"}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        # A lone part.done closes the next index, never started either.
        ("content_block_stop", {"type": "content_block_stop", "index": 1}),
        *END_TURN,
    ]


# --- non-stream ------------------------------------------------------------------------------


def completed(response: dict[str, Any]) -> dict[str, Any]:
    return {"type": "response.completed", "response": response}


def test_non_stream_golden() -> None:
    response = {
        "id": "resp_1",
        "model": "gpt-5-codex",
        "usage": {"input_tokens": 3, "output_tokens": 7, "input_tokens_details": {"cached_tokens": 5}},
        "output": [
            {"type": "reasoning",
             "summary": [{"type": "summary_text", "text": "a"}, {"type": "summary_text", "text": "b"}]},
            {"type": "reasoning", "summary": [], "content": [{"text": "from content"}]},
            {"type": "message", "content": [{"type": "output_text", "text": "Hi"}, {"type": "refusal", "text": "no"},
                                            {"type": "output_text", "text": ""}]},
            {"type": "function_call", "call_id": "c1", "name": "mcp__do_it", "arguments": '{"a":1}'},
            {"type": "function_call", "call_id": "c2", "name": "f", "arguments": "not json"},
            {"type": "function_call", "call_id": "c3", "name": "f", "arguments": "[1]"},
        ],
    }
    out = codex_claude.render_response(completed(response), {"tools": [{"name": LONG}]})
    assert out == {
        "id": "resp_1",
        "type": "message",
        "role": "assistant",
        "model": "gpt-5-codex",
        "content": [
            {"type": "thinking", "thinking": "ab"},
            {"type": "thinking", "thinking": "from content"},
            {"type": "text", "text": "Hi"},
            {"type": "tool_use", "id": "c1", "name": LONG, "input": {"a": 1}},
            {"type": "tool_use", "id": "c2", "name": "f", "input": {}},
            {"type": "tool_use", "id": "c3", "name": "f", "input": {}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 0, "output_tokens": 7, "cache_read_input_tokens": 5},
    }


def test_non_stream_stop_reason_rules() -> None:
    plain = codex_claude.render_response(completed({"output": [{"type": "message", "content": "text"}]}), {})
    assert plain is not None
    assert plain["stop_reason"] == "end_turn"
    assert plain["content"] == [{"type": "text", "text": "text"}]
    assert plain["usage"] == {"input_tokens": 0, "output_tokens": 0}
    upstream = codex_claude.render_response(completed({"stop_reason": "max_tokens", "stop_sequence": "END"}), {})
    assert upstream is not None
    assert (upstream["stop_reason"], upstream["stop_sequence"]) == ("max_tokens", "END")


def test_non_stream_without_completed_event_is_none() -> None:
    assert codex_claude.render_response(None, {}) is None
    assert codex_claude.render_response({"type": "response.created", "response": {}}, {}) is None
    assert codex_claude.render_response({"type": "response.completed"}, {}) is None


def test_count_tokens() -> None:
    assert codex_claude.render_count_tokens(42) == {"input_tokens": 42}
