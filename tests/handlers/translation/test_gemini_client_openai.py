"""Gemini client, OpenAI-compatible upstream (``openai/gemini`` at 9b72ea9ef, read from the Go source:
the reference does not tabulate this pair). Request, stream chunks and non-stream answer."""

from __future__ import annotations

import itertools
from typing import Any

from handlers.translation import gemini_client_openai as pair


def ids() -> Any:
    counter = itertools.count(1)
    return lambda: f"call_{next(counter)}"


def request(body: dict[str, Any], *, stream: bool = False) -> dict[str, Any]:
    return pair.render_request(body, "gpt-up", stream=stream, call_id=ids())


# --- request ---------------------------------------------------------------------------------


def test_generation_config_maps_sampling_stop_n_and_key_order() -> None:
    out = request(
        {
            "generationConfig": {
                "temperature": 1,
                "maxOutputTokens": 100.7,
                "topP": 0.5,
                "topK": 40,
                "stopSequences": ["x", 3],
                "candidateCount": 2,
            },
            "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        },
        stream=True,
    )
    assert out == {
        "model": "gpt-up",
        "messages": [{"role": "user", "content": "hi"}],
        "temperature": 1,
        "max_tokens": 100,
        "top_p": 0.5,
        "top_k": 40,
        "stop": ["x", "3"],
        "n": 2,
        "stream": True,
    }
    assert list(out) == ["model", "messages", "temperature", "max_tokens", "top_p", "top_k", "stop", "n", "stream"]


def test_sampling_strings_read_as_go_parse_float() -> None:
    # openai_gemini_request.go:48-59 reads temperature/topP with gjson Float(): strconv.ParseFloat,
    # which refuses surrounding spaces (0), where Python's float would trim them.
    out = request({"generationConfig": {"temperature": "0.5", "topP": " 0.9 "}})
    assert (out["temperature"], out["top_p"]) == (0.5, 0)


def test_empty_stop_sequences_are_left_out() -> None:
    assert "stop" not in request({"generationConfig": {"stopSequences": []}})


def test_thinking_level_wins_and_is_trimmed_and_lowered() -> None:
    config = {"thinkingConfig": {"thinkingLevel": " HIGH ", "thinkingBudget": 0}}
    assert request({"generationConfig": config})["reasoning_effort"] == "high"


def test_thinking_budget_becomes_an_effort_level() -> None:
    def effort(budget: int) -> Any:
        return request({"generationConfig": {"thinkingConfig": {"thinkingBudget": budget}}}).get("reasoning_effort")

    assert [effort(b) for b in (0, -1, 1024, 8192, 24577)] == ["none", "auto", "low", "medium", "xhigh"]
    assert effort(-5) is None  # ConvertBudgetToLevel rejects budgets below -1


def test_blank_thinking_level_sets_nothing() -> None:
    assert "reasoning_effort" not in request({"generationConfig": {"thinkingConfig": {"thinkingLevel": " "}}})


def test_system_instruction_either_spelling_with_images() -> None:
    camel = {"systemInstruction": {"parts": [{"text": "S"}, {"inlineData": {"data": "AA"}}]}}
    assert request(camel)["messages"] == [
        {
            "role": "system",
            "content": [
                {"type": "text", "text": "S"},
                {"type": "image_url", "image_url": {"url": "data:application/octet-stream;base64,AA"}},
            ],
        }
    ]
    snake = {"system_instruction": {"parts": [{"text": "S2"}]}}
    assert request(snake)["messages"] == [{"role": "system", "content": [{"type": "text", "text": "S2"}]}]
    assert request({"system_instruction": {"parts": [{"other": 1}]}})["messages"] == []


def test_text_only_parts_join_into_a_string_and_images_make_an_array() -> None:
    out = request(
        {
            "contents": [
                {"role": "user", "parts": [{"text": "a"}, {"text": "b"}]},
                {"role": "user", "parts": [{"text": "see"}, {"inlineData": {"mimeType": "image/png", "data": "QQ"}}]},
                {"role": "model", "parts": []},
            ]
        }
    )
    assert out["messages"] == [
        {"role": "user", "content": "ab"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "see"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,QQ"}},
            ],
        },
        {"role": "assistant", "content": ""},
    ]


def test_function_call_and_response_pair_up() -> None:
    out = request(
        {
            "contents": [
                {"role": "user", "parts": [{"text": "weather?"}]},
                {"role": "model", "parts": [{"functionCall": {"name": "get", "args": {"city": "Paris"}}}]},
                {"role": "user", "parts": [{"functionResponse": {"name": "get", "response": {"content": "22C"}}}]},
                {"role": "model", "parts": [{"functionCall": {"name": "noargs"}}]},
                {"role": "user", "parts": [{"functionResponse": {"name": "noargs", "response": {"ok": True}}}]},
            ]
        }
    )
    assert out["messages"] == [
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get", "arguments": '{"city":"Paris"}'}}
            ],
        },
        # The tool message is written before the (empty) user message that held the response,
        # and its content is the raw JSON of response.content (quotes kept).
        {"role": "tool", "tool_call_id": "call_1", "content": '"22C"'},
        {"role": "user", "content": ""},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "call_2", "type": "function", "function": {"name": "noargs", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "call_2", "content": '{"ok":true}'},
        {"role": "user", "content": ""},
    ]


def test_parallel_calls_get_their_own_answers() -> None:
    # Deviation: the legacy gives both answers the LAST call's id (call_2), which an OpenAI
    # upstream rejects; answers are matched by name, then by order.
    out = request(
        {
            "contents": [
                {"role": "model", "parts": [{"functionCall": {"name": "a"}}, {"functionCall": {"name": "b"}}]},
                {
                    "role": "user",
                    "parts": [
                        {"functionResponse": {"name": "b", "response": {"content": 2}}},
                        {"functionResponse": {"name": "x", "response": {"content": 1}}},
                        {"functionResponse": {"name": "y", "response": {"content": 0}}},
                    ],
                },
            ]
        }
    )
    tools = [(m["tool_call_id"], m["content"]) for m in out["messages"] if m["role"] == "tool"]
    # b -> its own call; x (no such name) -> oldest open call a; y (none open) -> last id, as legacy
    assert tools == [("call_2", "2"), ("call_1", "1"), ("call_2", "0")]


def test_response_without_any_call_gets_a_fresh_id() -> None:
    out = request({"contents": [{"role": "user", "parts": [{"functionResponse": {"name": "f"}}]}]})
    assert out["messages"][0] == {"role": "tool", "tool_call_id": "call_1", "content": ""}


def test_default_call_ids_are_call_and_24_alphanumerics() -> None:
    out = pair.render_request(
        {"contents": [{"role": "model", "parts": [{"functionCall": {"name": "f"}}]}]}, "m", stream=False
    )
    call_id = out["messages"][0]["tool_calls"][0]["id"]
    assert call_id.startswith("call_") and len(call_id) == 29 and call_id[5:].isalnum()


def test_tools_and_tool_choice() -> None:
    out = request(
        {
            "tools": [
                {
                    "functionDeclarations": [
                        {"name": "a", "description": "d", "parameters": {"type": "OBJECT"}},
                        {"name": "b", "parametersJsonSchema": {"type": "object"}},
                        {"name": "c"},
                    ]
                },
                {"googleSearch": {}},
            ],
            "toolConfig": {"functionCallingConfig": {"mode": "ANY"}},
        }
    )
    assert out["tools"] == [
        {"type": "function", "function": {"name": "a", "description": "d", "parameters": {"type": "OBJECT"}}},
        {"type": "function", "function": {"name": "b", "description": "", "parameters": {"type": "object"}}},
        {"type": "function", "function": {"name": "c", "description": ""}},
    ]
    assert out["tool_choice"] == "required"
    assert list(out)[-2:] == ["tools", "tool_choice"]
    modes = {m: request({"toolConfig": {"functionCallingConfig": {"mode": m}}}).get("tool_choice") for m in
             ("NONE", "AUTO", "VALIDATED")}
    assert modes == {"NONE": "none", "AUTO": "auto", "VALIDATED": None}
    # Only the camelCase spellings are read by this pair.
    assert "tool_choice" not in request({"tool_config": {"function_calling_config": {"mode": "ANY"}}})
    assert "tools" not in request({"tools": [{"function_declarations": [{"name": "x"}]}]})


# --- tool-call arguments ----------------------------------------------------------------------


def test_arguments_object_strict_tolerant_and_fallback() -> None:
    assert pair.arguments_object(' {"a": 1} ') == {"a": 1}
    assert pair.arguments_object("") == {}
    assert pair.arguments_object("[1]") == {}
    assert pair.arguments_object('{"city": 北京, "unit": celsius, "n": 3, "f": 1.5, "ok": true, "z": null}') == {
        "city": "北京",
        "unit": "celsius",
        "n": 3,
        "f": 1.5,
        "ok": True,
        "z": None,
    }
    assert pair.arguments_object('{"a": {"b": [1, 2]}, "c": [x}') == {"a": {"b": [1, 2]}}
    assert pair.arguments_object('{"a": "x\\"y", bad, "b": 2}') == {"a": 'x"y', "b": 2}
    assert pair.arguments_object('{"a": "open}') == {"a": ""}
    assert pair.arguments_object('{"a" 1}') == {}


# --- stream answer ----------------------------------------------------------------------------


def chunk(delta: dict[str, Any] | None = None, **choice: Any) -> dict[str, Any]:
    return {"id": "c1", "model": "gpt-up", "choices": [{"index": 0, "delta": delta or {}, **choice}]}


def candidate(parts: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"candidates": [{"content": {"parts": parts, "role": "model"}, "index": 0, **extra}], "model": "gpt-up"}


def test_stream_text_reasoning_and_finish() -> None:
    renderer = pair.OpenAIChunksToGemini()
    out = [
        renderer.feed(chunk({"role": "assistant", "content": ""}, finish_reason=None)),
        renderer.feed(chunk({"reasoning_content": ["think", "", {"text": "more"}]})),
        renderer.feed(chunk({"content": "Hi", "reasoning_content": "r"}, finish_reason="stop")),
        renderer.feed(chunk({}, finish_reason="length")),
        renderer.feed(chunk({}, finish_reason="content_filter")),
    ]
    assert out == [
        # A null finish_reason ends nothing (the legacy's gjson Exists sent STOP here, row 19q).
        [],
        [candidate([{"thought": True, "text": "think"}]), candidate([{"thought": True, "text": "more"}])],
        # The finish reason of the chunk that also carries text ends the candidate after it (the
        # legacy lost it, row 19w).
        [candidate([{"thought": True, "text": "r"}]), candidate([{"text": "Hi"}]), candidate([], finishReason="STOP")],
        [candidate([], finishReason="MAX_TOKENS")],
        [candidate([], finishReason="SAFETY")],
    ]


def test_stream_tool_calls_with_their_finish_in_the_same_chunk_are_sent() -> None:
    # Row 19w: the legacy buffered the calls and returned before it read the finish reason.
    renderer = pair.OpenAIChunksToGemini()
    first = {"index": 0, "id": "t1", "type": "function", "function": {"name": "a", "arguments": '{"x":1}'}}
    second = {"index": 1, "id": "t2", "type": "function", "function": {"name": "b", "arguments": ""}}
    assert renderer.feed(chunk({"tool_calls": [first]})) == []
    assert renderer.feed(chunk({"tool_calls": [second]}, finish_reason="tool_calls")) == [
        candidate([{"functionCall": {"name": "a", "args": {"x": 1}}}, {"functionCall": {"name": "b", "args": {}}}],
                  finishReason="STOP")]
    # Text and calls in one delta: the text wins and the calls of that delta stay unread, as before.
    renderer = pair.OpenAIChunksToGemini()
    assert renderer.feed(chunk({"content": "Hi", "tool_calls": [first]}, finish_reason="length")) == [
        candidate([{"text": "Hi"}]), candidate([], finishReason="MAX_TOKENS")]


def test_stream_tool_calls_are_buffered_until_the_finish() -> None:
    renderer = pair.OpenAIChunksToGemini()
    first = {"index": 1, "id": "t2", "type": "function", "function": {"name": "b", "arguments": '{"y":'}}
    other = {"index": 0, "id": "t1", "function": {"name": "a", "arguments": ""}}
    assert renderer.feed(chunk({"tool_calls": [first, other]}, finish_reason=None)) == []
    assert renderer.feed(chunk({"tool_calls": [{"index": 1, "function": {"arguments": "2}"}}]})) == []
    assert renderer.feed(chunk({"tool_calls": [{"index": 3, "type": "custom", "custom": {}}]})) == []
    assert renderer.feed(chunk({"tool_calls": [{"index": 4}]})) == []
    assert renderer.feed(chunk({}, finish_reason="tool_calls")) == [
        candidate(
            [{"functionCall": {"name": "a", "args": {}}}, {"functionCall": {"name": "b", "args": {"y": 2}}}],
            finishReason="STOP",
        )
    ]
    # The buffer is emptied by the flush.
    assert renderer.feed(chunk({}, finish_reason="stop")) == [candidate([], finishReason="STOP")]


def test_stream_usage_only_and_trailing_usage() -> None:
    renderer = pair.OpenAIChunksToGemini()
    usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15,
             "completion_tokens_details": {"reasoning_tokens": 2}}
    alone = renderer.feed({"id": "c1", "model": "gpt-up", "choices": [], "usage": usage})
    assert alone == [
        {
            "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15,
                              "thoughtsTokenCount": 2},
            "model": "gpt-up",
        }
    ]
    assert list(alone[0]) == ["usageMetadata", "model"]
    # usage on a choice chunk without finish_reason key
    trailing = renderer.feed({"model": "m", "choices": [{"index": 0, "delta": {}}],
                              "usage": {"prompt_tokens": 1, "output_tokens_details": {"reasoning_tokens": 0}}})
    assert trailing == [
        {
            "candidates": [{"content": {"parts": [], "role": "model"}, "index": 0}],
            "model": "m",
            "usageMetadata": {"promptTokenCount": 1, "candidatesTokenCount": 0, "totalTokenCount": 0},
        }
    ]


def test_stream_chunks_without_choices_give_nothing() -> None:
    renderer = pair.OpenAIChunksToGemini()
    assert renderer.feed({"choices": []}) == []
    assert renderer.feed({"error": {"message": "x"}}) == []
    assert renderer.feed({"choices": [{"index": 0, "delta": {}}]}) == []
    assert renderer.feed([1]) == []


# --- non-stream answer ------------------------------------------------------------------------


def test_non_stream_completion() -> None:
    out = pair.render_response(
        {
            "id": "c1",
            "model": "gpt-up",
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "reasoning_content": "why",
                        "content": "Hi",
                        "tool_calls": [
                            {"id": "t", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}},
                            {"id": "u", "type": "custom", "custom": {"name": "g"}},
                            {"id": "v", "type": "function", "function": {"name": "h", "arguments": "oops"}},
                        ],
                    },
                    "finish_reason": "tool_calls",
                }
            ],
            "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
        }
    )
    assert out == {
        "candidates": [
            {
                "content": {
                    "parts": [
                        {"thought": True, "text": "why"},
                        {"text": "Hi"},
                        {"functionCall": {"name": "f", "args": {"a": 1}}},
                        {"functionCall": {"name": "h", "args": {}}},
                    ],
                    "role": "model",
                },
                "index": 0,
                "finishReason": "STOP",
            }
        ],
        "model": "gpt-up",
        "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 4, "totalTokenCount": 7},
    }
    assert list(out["candidates"][0]) == ["content", "index", "finishReason"]


def test_non_stream_several_choices_overwrite_candidate_zero() -> None:
    out = pair.render_response(
        {
            "choices": [
                {"index": 0, "message": {"content": "first", "reasoning_content": "r"}, "finish_reason": "stop"},
                {"index": 1, "message": {"content": "second"}, "finish_reason": "length"},
            ]
        }
    )
    # Part 0 is updated in place (keeps "thought"), part 1 stays from the first choice.
    assert out == {
        "candidates": [
            {
                "content": {"parts": [{"thought": True, "text": "second"}, {"text": "first"}], "role": "model"},
                "index": 1,
                "finishReason": "MAX_TOKENS",
            }
        ]
    }


def test_non_stream_unreadable_body_gives_the_empty_template() -> None:
    assert pair.render_response(None) == {"candidates": [{"content": {"parts": [], "role": "model"}, "index": 0}]}
