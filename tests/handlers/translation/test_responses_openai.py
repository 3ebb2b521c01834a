"""Responses client -> OpenAI-compatible upstream (``openai/openai/responses``, read from the Go
source; the stream follows the A3.2 event sequence, golden 29's invariants)."""

from __future__ import annotations

from typing import Any

import orjson

from handlers.translation import responses_openai


def test_request_golden() -> None:
    body = {
        "model": "client-model",
        "instructions": "be brief",
        "max_output_tokens": 64.9,
        "parallel_tool_calls": True,
        "temperature": 0.2,
        "top_p": 0.5,
        "input": [
            {"role": "developer", "content": [{"type": "input_text", "text": "dev"}]},
            {"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": "a"},
                {"type": "input_image", "image_url": "data:image/png;base64,AAA"},
                {"text": "b"},
                {"type": "output_text", "text": ""},
            ]},
            {"type": "message", "role": "assistant", "content": "plain"},
            {"type": "reasoning", "summary": []},
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": '{"x":1}'},
            {"type": "function_call_output", "call_id": "c1", "output": {"ok": True}},
            {"type": "message", "role": "user", "content": [{"type": "input_image", "image_url": "u"}]},
        ],
        "tools": [
            {"type": "function", "name": "f", "description": "d", "parameters": {"type": "object"}, "strict": True},
            {"name": "g"},
            {"type": "web_search_preview"},
        ],
        "reasoning": {"effort": " HIGH "},
        "tool_choice": "auto",
    }
    out = responses_openai.render_request(body, "upstream-model", stream=True)
    assert out == {
        "model": "upstream-model",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "developer", "content": "dev"},
            {"role": "user", "content": "a\nb\n"},
            {"role": "assistant", "content": "plain"},
            {"role": "assistant", "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"x":1}'}}]},
            {"role": "tool", "tool_call_id": "c1", "content": '{"ok":true}'},
            {"role": "user", "content": ""},
        ],
        "stream": True,
        "max_tokens": 64,
        "parallel_tool_calls": True,
        "tools": [
            {"type": "function", "function": {"name": "f", "description": "d", "parameters": {"type": "object"}}},
            {"type": "function", "function": {"name": "g", "description": "", "parameters": {}}},
        ],
        "reasoning_effort": "high",
        "tool_choice": "auto",
    }


def test_string_input_and_no_optional_fields() -> None:
    out = responses_openai.render_request({"input": "hi", "tools": []}, "m", stream=False)
    assert out == {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": False}


def test_object_tool_choice_stays_an_object() -> None:
    # Deviation: the legacy sends an object tool_choice as its JSON text.
    def choice(value: Any) -> Any:
        return responses_openai.render_request({"tool_choice": value}, "m", stream=False)["tool_choice"]

    assert choice({"type": "function", "name": "f"}) == {"type": "function", "function": {"name": "f"}}
    assert choice({"type": "function", "function": {"name": "f"}}) == {"type": "function", "function": {"name": "f"}}
    assert choice("required") == "required"
    assert choice(3) == "3"


CODEX_NAMESPACE = {
    "type": "namespace",
    "name": "multi_agent_v1",
    "description": "Tools for spawning and managing sub-agents.",
    "tools": [{"type": "function", "name": "close_agent", "parameters": {"type": "object"}}],
}
EXEC = {"type": "function", "name": "exec_command", "description": "run", "parameters": {"type": "object"}}
EXEC_CHAT = {"type": "function",
             "function": {"name": "exec_command", "description": "run", "parameters": {"type": "object"}}}


def test_non_function_tools_are_dropped() -> None:
    # Deviation: the legacy passes them through raw (A4.2 #20 pins web_search); Chat Completions
    # declares function tools only. Codex CLI 0.169.0 sends a namespace and web_search beside its
    # functions; a namespace's own functions are not flattened either.
    tools = [CODEX_NAMESPACE, {"type": "web_search"}, EXEC, {"type": "web_search_preview"},
             {"type": "custom", "name": "apply_patch", "format": {"type": "text"}},
             {"type": "mcp", "server_label": "x"}]
    out = responses_openai.render_request({"input": "hi", "tools": tools, "tool_choice": "auto"}, "m", stream=True)
    assert (out["tools"], out["tool_choice"]) == ([EXEC_CHAT], "auto")


def test_tool_choice_naming_a_dropped_tool_is_left_out() -> None:
    def choice(value: Any, tools: list[Any] | None = None) -> Any:
        body = {"input": "hi", "tools": [EXEC] if tools is None else tools, "tool_choice": value}
        return responses_openai.render_request(body, "m", stream=False).get("tool_choice", "<absent>")

    assert choice({"type": "web_search"}) == "<absent>"
    assert choice({"type": "web_search_preview"}) == "<absent>"
    assert choice({"type": "custom", "name": "apply_patch"}) == "<absent>"
    assert choice({"type": "mcp", "server_label": "x"}) == "<absent>"
    # allowed_tools keeps its function entries, in the chat shape.
    allowed = {"type": "allowed_tools", "mode": "required",
               "tools": [{"type": "function", "name": "exec_command"}, {"type": "web_search"}]}
    assert choice(allowed) == {"type": "allowed_tools", "allowed_tools": {
        "mode": "required", "tools": [{"type": "function", "function": {"name": "exec_command"}}]}}
    assert choice({"type": "allowed_tools", "tools": [{"type": "web_search"}]}) == "<absent>"
    untyped = {"type": "allowed_tools", "tools": [{"name": "f"}]}
    assert choice(untyped) == {"type": "allowed_tools", "allowed_tools": {
        "mode": "auto", "tools": [{"type": "function", "function": {"name": "f"}}]}}
    # When every declared tool was dropped, no choice can refer to what is left.
    assert choice("required", [{"type": "web_search"}]) == "<absent>"
    # A body with an empty tool list keeps its choice, as the legacy does.
    assert choice("auto", []) == "auto"


def test_looks_like_responses() -> None:
    assert responses_openai.looks_like_responses({"input": "x"})
    assert responses_openai.looks_like_responses({"instructions": "x"})
    assert not responses_openai.looks_like_responses({"messages": [], "input": "x"})
    assert not responses_openai.looks_like_responses({"model": "m"})


# --- stream ----------------------------------------------------------------------------------


def chunk(**fields: Any) -> str:
    return orjson.dumps({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 5, **fields}).decode()


def delta(**fields: Any) -> str:
    return chunk(choices=[{"index": 0, "delta": fields}])


STREAM = [
    delta(role="assistant", reasoning_content="th"),
    delta(content="Hi"),
    delta(tool_calls=[{"index": 0, "id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a"'}}]),
    delta(tool_calls=[{"index": 0, "function": {"arguments": ":1}"}}]),
    chunk(choices=[{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]),
    chunk(choices=[], usage={
        "prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14,
        "prompt_tokens_details": {"cached_tokens": 3}, "completion_tokens_details": {"reasoning_tokens": 2},
    }),
    "[DONE]",
]


def run(datas: list[str], body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    adapter = responses_openai.ResponsesFromOpenAIChat(body, now=lambda: 99)
    frames = [f for data in datas for f in adapter.feed_data(data)]
    return frames + adapter.close()


def test_stream_event_sequence_with_usage_after_the_finish() -> None:
    frames = run(STREAM, {"model": "client-model", "instructions": "I", "stream": True})
    assert [name for name, _ in frames] == [
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
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [p["sequence_number"] for _, p in frames] == list(range(1, 21))
    assert frames[0][1]["response"] == {
        "id": "chatcmpl-1", "object": "response", "created_at": 5, "status": "in_progress",
        "background": False, "error": None, "output": [],
    }
    assert frames[11][1]["item"] == {
        "id": "fc_c1", "type": "function_call", "status": "in_progress", "arguments": "", "call_id": "c1", "name": "f",
    }
    completed = frames[-1][1]["response"]
    assert completed["instructions"] == "I" and completed["model"] == "client-model"
    assert [item["id"] for item in completed["output"]] == ["rs_chatcmpl-1_0", "msg_chatcmpl-1_0", "fc_c1"]
    assert completed["usage"] == {
        "input_tokens": 10, "input_tokens_details": {"cached_tokens": 3},
        "output_tokens": 4, "output_tokens_details": {"reasoning_tokens": 2}, "total_tokens": 14,
    }


def test_finished_items_are_written_as_the_openai_pair_writes_them() -> None:
    # openai_openai-responses_response.go:180 (reasoning: type, item, output_index, sequence_number)
    # and :291 (the message's text part with its empty annotations and logprobs).
    frames = run(STREAM, {"model": "client-model", "stream": True})
    reasoning_done, message_done = frames[7][1], frames[16][1]
    assert list(reasoning_done) == ["type", "item", "output_index", "sequence_number"]
    assert reasoning_done["sequence_number"] == 8
    assert list(message_done) == ["type", "sequence_number", "output_index", "item"]
    assert message_done["item"]["content"] == [
        {"type": "output_text", "annotations": [], "logprobs": [], "text": message_done["item"]["content"][0]["text"]}]


def test_stream_without_done_is_completed_by_close() -> None:
    frames = run([delta(content="x"), chunk(choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}])], {})
    assert frames[-1][0] == "response.completed"
    assert "usage" not in frames[-1][1]["response"]
    adapter = responses_openai.ResponsesFromOpenAIChat({}, now=lambda: 99)
    assert adapter.feed_data("not json") == []
    assert [name for name, _ in adapter.close()] == ["response.created", "response.in_progress", "response.completed"]


def test_a_tool_call_chunk_naming_its_fields_again_adds_no_second_item() -> None:
    # openai_openai-responses_response.go:298-325: a call's item is added once; a later chunk with
    # "id": null and "name": null only carries arguments.
    frames = run([
        delta(tool_calls=[{"index": 0, "id": "call_1", "type": "function",
                           "function": {"name": "get_weather", "arguments": ""}}]),
        delta(tool_calls=[{"index": 0, "id": None, "type": None,
                           "function": {"name": None, "arguments": '{"location":"P"}'}}]),
        chunk(choices=[{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]),
    ], {})
    added = [body["item"] for name, body in frames if name == "response.output_item.added"]
    assert added == [{"id": "fc_call_1", "type": "function_call", "status": "in_progress", "arguments": "",
                      "call_id": "call_1", "name": "get_weather"}]
    deltas = [(body["item_id"], body["delta"]) for name, body in frames
              if name == "response.function_call_arguments.delta"]
    assert deltas == [("fc_call_1", '{"location":"P"}')]
    done = [body["item"] for name, body in frames if name == "response.output_item.done"]
    assert [(item["call_id"], item["name"], item["arguments"]) for item in done] == \
        [("call_1", "get_weather", '{"location":"P"}')]


def test_stream_ends_once() -> None:
    adapter = responses_openai.ResponsesFromOpenAIChat({})
    adapter.feed_data(delta(content="x"))
    assert adapter.feed_data("[DONE]")[-1][0] == "response.completed"
    assert adapter.close() == []


# --- non-stream ------------------------------------------------------------------------------


def test_non_stream_golden() -> None:
    completion = {
        "id": "resp_abc",
        "object": "chat.completion",
        "created": 7,
        "model": "upstream",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "Hi", "reasoning_content": "th",
                                     "tool_calls": [{"id": "c1", "function": {"name": "f", "arguments": "{}"}}]}},
            {"index": 1, "message": {"role": "assistant", "content": "Second"}},
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7,
                  "prompt_tokens_details": {"cached_tokens": 1}, "completion_tokens_details": {"reasoning_tokens": 1}},
    }
    out = responses_openai.render_response(completion, {"model": "client-model", "store": False})
    assert out == {
        "id": "resp_abc",
        "object": "response",
        "created_at": 7,
        "status": "completed",
        "background": False,
        "error": None,
        "incomplete_details": None,
        "model": "client-model",
        "store": False,
        "output": [
            {"id": "rs_abc", "type": "reasoning", "encrypted_content": "",
             "summary": [{"type": "summary_text", "text": "th"}]},
            {"id": "msg_resp_abc_0", "type": "message", "status": "completed",
             "content": [{"type": "output_text", "annotations": [], "logprobs": [], "text": "Hi"}],
             "role": "assistant"},
            {"id": "fc_c1", "type": "function_call", "status": "completed", "arguments": "{}", "call_id": "c1",
             "name": "f"},
            {"id": "msg_resp_abc_1", "type": "message", "status": "completed",
             "content": [{"type": "output_text", "annotations": [], "logprobs": [], "text": "Second"}],
             "role": "assistant"},
        ],
        "usage": {"input_tokens": 5, "input_tokens_details": {"cached_tokens": 1}, "output_tokens": 2,
                  "output_tokens_details": {"reasoning_tokens": 1}, "total_tokens": 7},
    }


def test_non_stream_fallbacks() -> None:
    out = responses_openai.render_response(
        {"model": "up", "choices": [{"message": {"content": ""}}], "usage": {"foo": 1}},
        {},
        now=lambda: 123,
        response_id=lambda: "resp_x_1",
    )
    assert out == {
        "id": "resp_x_1", "object": "response", "created_at": 123, "status": "completed", "background": False,
        "error": None, "incomplete_details": None, "model": "up", "usage": {"foo": 1},
    }
    assert responses_openai.fallback_response_id().startswith("resp_")


def test_parallel_function_calls_share_one_assistant_message() -> None:
    # Codex CLI sends both calls, then both outputs; OpenAI accepts tool messages only right after
    # the message holding their calls (row 19u; the legacy writes one message per call).
    body = {"input": [
        {"type": "message", "role": "assistant", "content": "reading both"},
        {"type": "function_call", "call_id": "a", "name": "read", "arguments": '{"p":"x"}'},
        {"type": "function_call", "call_id": "b", "name": "read", "arguments": '{"p":"y"}'},
        {"type": "function_call_output", "call_id": "a", "output": "X"},
        {"type": "function_call_output", "call_id": "b", "output": "Y"},
        {"type": "function_call", "call_id": "c", "name": "read", "arguments": "{}"},
    ]}
    messages = responses_openai.render_request(body, "m", stream=False)["messages"]
    call = lambda i, a: {"id": i, "type": "function", "function": {"name": "read", "arguments": a}}  # noqa: E731
    assert messages == [
        {"role": "assistant", "content": "reading both"},
        {"role": "assistant", "tool_calls": [call("a", '{"p":"x"}'), call("b", '{"p":"y"}')]},
        {"role": "tool", "tool_call_id": "a", "content": "X"},
        {"role": "tool", "tool_call_id": "b", "content": "Y"},
        {"role": "assistant", "tool_calls": [call("c", "{}")]},
    ]
