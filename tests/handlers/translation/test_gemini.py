"""Gemini upstream: request rendering for OpenAI and Claude clients, response translation back to
OpenAI chat and Claude clients. Each vector cites its reference section."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest

from handlers.translation import claude, gemini, openai_chat
from handlers.translation.model import (
    FinishReason,
    Format,
    StreamError,
    TextDelta,
    TextPart,
    ThinkingPart,
    ToolCallPart,
)
from handlers.translation.sse import GEMINI_CLAUDE_TRAILER, SSEParser, encode_claude_event

SKIP = "skip_thought_signature_validator"


def from_openai(body: dict[str, Any]) -> dict[str, Any]:
    return gemini.render_request(openai_chat.parse_request(body), "gemini-2.5-pro")


def from_claude(body: dict[str, Any]) -> dict[str, Any]:
    return gemini.render_request(claude.parse_request(body), "gemini-2.5-pro")


def fixed_id(name: str) -> str:
    return f"{name}-1-1"


# --- OpenAI chat -> Gemini request (A2.3) -----------------------------------------------------


def test_golden_8_system_instruction_and_key_order() -> None:
    out = from_openai(
        {"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}], "temperature": 0.5}
    )
    assert out["system_instruction"] == {"role": "user", "parts": [{"text": "S"}]}
    assert out["contents"] == [{"role": "user", "parts": [{"text": "U"}]}]
    assert list(out) == ["contents", "model", "generationConfig", "system_instruction", "safetySettings"]
    assert out["model"] == "gemini-2.5-pro"


def test_golden_8_lone_system_message_becomes_user_content() -> None:
    out = from_openai({"messages": [{"role": "developer", "content": "only"}]})
    assert "system_instruction" not in out
    assert out["contents"] == [{"role": "user", "parts": [{"text": "only"}]}]


def test_developer_and_several_system_parts_concatenate() -> None:
    # A2.3: system/developer parts concatenated as separate parts
    out = from_openai(
        {
            "messages": [
                {"role": "system", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
                {"role": "developer", "content": "c"},
                {"role": "user", "content": "u"},
            ]
        }
    )
    assert out["system_instruction"] == {"role": "user", "parts": [{"text": "a"}, {"text": "b"}, {"text": "c"}]}


@pytest.mark.parametrize(("content", "parts"), [
    # An object with type text is read for its text (gemini_openai_request.go:151-154).
    ({"type": "text", "text": "SYS"}, [{"text": "SYS"}]),
    # Every array entry gives a part, its ``text`` or "" (:155-162).
    ([{"type": "text", "text": "S1"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}],
     [{"text": "S1"}, {"text": ""}]),
    ("", [{"text": ""}]),
    # Nothing read: no system_instruction at all.
    ([], None),
    ({"type": "image_url"}, None),
])
def test_system_message_shapes_as_the_legacy_reads_them(content: Any, parts: list[dict[str, str]] | None) -> None:
    for render in (gemini.render_request, gemini.render_cli_request):
        out = render(openai_chat.parse_request(
            {"messages": [{"role": "system", "content": content}, {"role": "user", "content": "U"}]}),
            "gemini-2.5-pro")
        out = out.get("request", out)
        system = out.get("system_instruction", out.get("systemInstruction"))
        assert system == ({"role": "user", "parts": parts} if parts is not None else None)


def test_golden_9_tool_call_and_response() -> None:
    out = from_openai(
        {
            "messages": [
                {"role": "user", "content": "go"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"id": "c1", "type": "function", "function": {"name": "get", "arguments": '{"a":1}'}}
                    ],
                },
                {"role": "tool", "tool_call_id": "c1", "content": '{"r":2}'},
                {"role": "assistant", "content": "done"},
            ]
        }
    )
    assert out["contents"] == [
        {"role": "user", "parts": [{"text": "go"}]},
        {"role": "model", "parts": [{"functionCall": {"name": "get", "args": {"a": 1}}, "thoughtSignature": SKIP}]},
        # the result is a string holding the tool message's raw JSON (a JSON string, quotes included)
        {"role": "user", "parts": [{"functionResponse": {"name": "get", "response": {"result": '"{\\"r\\":2}"'}}}]},
        {"role": "model", "parts": [{"text": "done"}]},
    ]


def test_tool_call_without_answer_gets_empty_object_result() -> None:
    # A2.3 tool row: missing tool content -> "{}"
    out = from_openai(
        {
            "messages": [
                {
                    "role": "assistant",
                    "tool_calls": [{"id": "c9", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
                }
            ]
        }
    )
    assert out["contents"][1] == {
        "role": "user",
        "parts": [{"functionResponse": {"name": "f", "response": {"result": "{}"}}}],
    }


def test_images_and_files() -> None:
    # A2.3 user row: data-URL images with skip signature, file parts by extension
    out = from_openai(
        {
            "messages": [
                {"role": "system", "content": "s"},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "see"},
                        {"type": "text", "text": ""},
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                        {"type": "image_url", "image_url": {"url": "https://example.com/x.png"}},
                        {"type": "file", "file": {"filename": "doc.pdf", "file_data": "JVBE"}},
                        {"type": "file", "file": {"filename": "notes.zzz", "file_data": "eA"}},
                    ],
                },
            ]
        }
    )
    assert out["contents"][0]["parts"] == [
        {"text": "see"},
        {"inlineData": {"mime_type": "image/png", "data": "AAAA"}, "thoughtSignature": SKIP},
        {"inlineData": {"mime_type": "application/pdf", "data": "JVBE"}},
    ]


def test_golden_10_tool_declarations() -> None:
    out = from_openai(
        {
            "messages": [],
            "tools": [
                {
                    "type": "function",
                    "function": {"name": "a", "parameters": {"type": "object"}, "strict": True, "description": "d"},
                },
                {"type": "function", "function": {"name": "b"}},
                {"google_search": {}},
            ],
        }
    )
    assert out["tools"] == [
        {
            "functionDeclarations": [
                {"name": "a", "description": "d", "parametersJsonSchema": {"type": "object"}},
                {"name": "b", "parametersJsonSchema": {"type": "object", "properties": {}}},
            ],
            "googleSearch": {},
        }
    ]
    assert list(out["tools"][0]["functionDeclarations"][0]) == ["name", "description", "parametersJsonSchema"]


def test_golden_11_safety_settings() -> None:
    settings = from_openai({"messages": []})["safetySettings"]
    assert len(settings) == 5
    assert {s["category"]: s["threshold"] for s in settings} == {
        "HARM_CATEGORY_HARASSMENT": "OFF",
        "HARM_CATEGORY_HATE_SPEECH": "OFF",
        "HARM_CATEGORY_SEXUALLY_EXPLICIT": "OFF",
        "HARM_CATEGORY_DANGEROUS_CONTENT": "OFF",
        "HARM_CATEGORY_CIVIC_INTEGRITY": "BLOCK_NONE",
    }


@pytest.mark.parametrize(
    ("effort", "config"),
    [
        ("auto", {"thinkingBudget": -1, "includeThoughts": True}),
        ("HIGH", {"thinkingLevel": "high", "includeThoughts": True}),
        ("none", {"thinkingLevel": "none", "includeThoughts": False}),
    ],
)
def test_reasoning_effort(effort: str, config: dict[str, Any]) -> None:
    # A2.3: auto -> budget -1; any other effort -> thinkingLevel (normalised later by A2.9)
    assert from_openai({"messages": [], "reasoning_effort": effort})["generationConfig"]["thinkingConfig"] == config


def test_generation_config_fields() -> None:
    out = from_openai(
        {
            "messages": [],
            "temperature": 1,
            "top_p": 0.9,
            "top_k": 40,
            "n": 2,
            "modalities": ["text", "image", "audio"],
            "image_config": {"aspect_ratio": "16:9", "image_size": "2K"},
            "max_tokens": 99,  # A2.3: not mapped
            "stop": "x",  # A2.3: not mapped
        }
    )
    assert out["generationConfig"] == {
        "temperature": 1,
        "topP": 0.9,
        "topK": 40,
        "candidateCount": 2,
        "responseModalities": ["TEXT", "IMAGE"],
        "imageConfig": {"aspectRatio": "16:9", "imageSize": "2K"},
    }
    assert "generationConfig" not in from_openai({"messages": [], "n": 1})


# --- Claude -> Gemini request (A2.5) ----------------------------------------------------------


def test_claude_system_messages_and_key_order() -> None:
    # A2.5 system rows; images/thinking not mapped
    out = from_claude(
        {
            "system": [{"type": "text", "text": "be brief"}, {"type": "image"}],
            "messages": [
                {"role": "user", "content": "hi"},
                {
                    "role": "assistant",
                    "content": [{"type": "text", "text": "yo"}, {"type": "thinking", "thinking": "x"}],
                },
            ],
            "tools": [{"name": "f", "input_schema": {"type": "object"}}],
            "temperature": 0.2,
        }
    )
    assert list(out) == ["contents", "model", "system_instruction", "tools", "generationConfig", "safetySettings"]
    assert out["system_instruction"] == {"role": "user", "parts": [{"text": "be brief"}]}
    assert out["contents"] == [
        {"role": "user", "parts": [{"text": "hi"}]},
        {"role": "model", "parts": [{"text": "yo"}]},  # thinking blocks are not mapped
    ]
    assert from_claude({"system": "S", "messages": []})["system_instruction"] == {"parts": [{"text": "S"}]}


def test_golden_12_tool_use_and_result_names() -> None:
    out = from_claude(
        {
            "messages": [
                {
                    "role": "assistant",
                    "content": [
                        {"type": "tool_use", "id": "x", "name": "get_weather", "input": {"city": "Paris"}},
                        {"type": "tool_use", "id": "y", "name": "no_input"},
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "get_weather-1712-3", "content": "22C"},
                        {"type": "tool_result", "tool_use_id": "plain", "content": [{"type": "text", "text": "t"}]},
                        {"type": "tool_result", "tool_use_id": "", "content": "skipped"},
                    ],
                },
            ]
        }
    )
    assert out["contents"][0]["parts"] == [
        {"thoughtSignature": SKIP, "functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}
    ]
    assert out["contents"][1]["parts"] == [
        {"functionResponse": {"name": "get_weather-1712", "response": {"result": '"22C"'}}},
        {"functionResponse": {"name": "plain", "response": {"result": '[{"type":"text","text":"t"}]'}}},
    ]


def test_a_tool_result_with_null_content_sends_the_raw_null() -> None:
    # gemini_claude_request.go writes the content's raw JSON: "null" for null, "" when missing.
    out = from_claude({"messages": [{"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "f-1-2", "content": None},
        {"type": "tool_result", "tool_use_id": "f-1-3"}]}]})
    assert out["contents"][0]["parts"] == [
        {"functionResponse": {"name": "f-1", "response": {"result": "null"}}},
        {"functionResponse": {"name": "f-1", "response": {"result": ""}}},
    ]


def test_tool_use_input_written_as_a_json_string() -> None:
    # gemini_claude_request.go reads input with gjson String(): a string holding a JSON object is
    # that object's text, which parses, so the call goes out; any other string drops the call.
    calls = [
        {"type": "tool_use", "id": "a", "name": "f", "input": '{"a":1}'},
        {"type": "tool_use", "id": "b", "name": "g", "input": "not json"},
        {"type": "tool_use", "id": "c", "name": "h", "input": "[1]"},
        {"type": "tool_use", "id": "d", "name": "k", "input": ""},
    ]
    out = from_claude({"messages": [{"role": "assistant", "content": calls}]})
    assert out["contents"][0]["parts"] == [
        {"thoughtSignature": SKIP, "functionCall": {"name": "f", "args": {"a": 1}}}
    ]


def test_golden_13_url_format_uri_is_dropped() -> None:
    schema = {
        "type": "object",
        "properties": {"url": {"type": "string", "format": "uri", "description": "link"}, "other": {"format": "uri"}},
    }
    out = from_claude(
        {
            "messages": [],
            "tools": [{"name": "f", "input_schema": schema, "strict": True, "cache_control": {}, "type": "custom"}],
        }
    )
    assert out["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "f",
                    "parametersJsonSchema": {
                        "type": "object",
                        "properties": {"url": {"type": "string", "description": "link"}, "other": {"format": "uri"}},
                    },
                }
            ]
        }
    ]
    assert "tools" not in from_claude({"messages": [], "tools": [{"name": "no_schema"}]})


@pytest.mark.parametrize(
    ("thinking", "config"),
    [
        (
            {"type": "enabled", "budget_tokens": 2048},
            {"thinkingConfig": {"thinkingBudget": 2048, "includeThoughts": True}},
        ),
        ({"type": "enabled"}, None),
        ({"type": "disabled"}, None),
    ],
)
def test_claude_thinking(thinking: dict[str, Any], config: dict[str, Any] | None) -> None:
    # A2.5 thinking row
    assert from_claude({"messages": [], "thinking": thinking}).get("generationConfig") == config


def test_claude_sampling_not_mapped_fields() -> None:
    # A2.5: temperature/top_p/top_k mapped; max_tokens, stop_sequences not
    out = from_claude({"messages": [], "top_p": 0.5, "top_k": 3, "max_tokens": 10, "stop_sequences": ["x"]})
    assert out["generationConfig"] == {"topP": 0.5, "topK": 3}


# --- Gemini response parsing -------------------------------------------------------------------


def test_parse_chunk_parts_and_envelope() -> None:
    chunk = gemini.parse_chunk(
        {
            "response": {
                "responseId": "r1",
                "modelVersion": "gemini-2.5-pro",
                "createTime": "2025-01-02T03:04:05.123456Z",
                "candidates": [
                    {
                        "content": {
                            "parts": [
                                {"text": "t", "thought": True, "thoughtSignature": "sig"},
                                {"thoughtSignature": "only"},
                                {"text": "a"},
                                {"functionCall": {"name": "f", "args": {"x": 1}}},
                            ]
                        },
                        "finishReason": "STOP",
                    }
                ],
            }
        },
        Format.GEMINI_CLI,
    )
    assert (chunk.id, chunk.model, chunk.created) == ("r1", "gemini-2.5-pro", 1735787045)
    assert chunk.candidates is not None
    assert chunk.candidates[0].parts == [ThinkingPart("t", "sig"), TextPart("a"), ToolCallPart("", "f", '{"x":1}')]
    assert chunk.candidates[0].finish == FinishReason("STOP", Format.GEMINI_CLI)
    assert chunk.has_finish


# --- Gemini -> OpenAI chat client (A2.4) ------------------------------------------------------


def openai_from_gemini(*objects: dict[str, Any]) -> list[dict[str, Any]]:
    renderer = gemini.OpenAIChatFromGemini(tool_id=fixed_id)
    return [c for o in objects for c in renderer.feed(gemini.parse_chunk(o))]


EMPTY_DELTA = {"role": None, "content": None, "reasoning_content": None, "tool_calls": None}


def test_golden_23_thought_finish_and_usage() -> None:
    chunks = openai_from_gemini(
        {
            "responseId": "r",
            "modelVersion": "g",
            "candidates": [{"content": {"parts": [{"text": "x", "thought": True}]}, "finishReason": "MAX_TOKENS"}],
            "usageMetadata": {
                "promptTokenCount": 100,
                "cachedContentTokenCount": 40,
                "thoughtsTokenCount": 10,
                "candidatesTokenCount": 5,
                "totalTokenCount": 115,
            },
        }
    )
    assert chunks == [
        {
            "id": "r",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "g",
            "choices": [
                {
                    "index": 0,
                    "delta": {"role": "assistant", "content": None, "reasoning_content": "x", "tool_calls": None},
                    "finish_reason": "max_tokens",
                    "native_finish_reason": "max_tokens",
                }
            ],
            "usage": {
                "completion_tokens": 5,
                "total_tokens": 115,
                "prompt_tokens": 70,
                "completion_tokens_details": {"reasoning_tokens": 10},
                "prompt_tokens_details": {"cached_tokens": 40},
            },
        }
    ]


def test_golden_24_function_calls() -> None:
    renderer = gemini.OpenAIChatFromGemini()
    call = {"functionCall": {"name": "lookup", "args": {"q": "a b"}}}
    first = renderer.feed(gemini.parse_chunk({"candidates": [{"content": {"parts": [call, call]}}]}))
    second = renderer.feed(gemini.parse_chunk({"candidates": [{"content": {"parts": [call]}}]}))
    calls = first[0]["choices"][0]["delta"]["tool_calls"]
    assert all(re.fullmatch(r"lookup-\d+-\d+", c["id"]) for c in calls)
    assert [c["function"]["arguments"] for c in calls] == ['{"q":"a b"}', '{"q":"a b"}']
    # index: running per-candidate counter for the first call of a chunk, array length after that
    assert [c["index"] for c in calls] == [0, 1]
    assert second[0]["choices"][0]["delta"]["tool_calls"][0]["index"] == 2
    assert first[0]["choices"][0]["finish_reason"] == first[0]["choices"][0]["native_finish_reason"] == "tool_calls"
    assert list(calls[0]) == ["id", "index", "type", "function"]


def test_last_text_part_of_a_chunk_wins_and_images() -> None:
    # A2.4: parts per chunk, images as delta.images, created from createTime
    chunks = openai_from_gemini(
        {
            "createTime": "2025-01-01T00:00:00Z",
            "candidates": [
                {
                    "index": 1,
                    "content": {
                        "parts": [
                            {"text": "a"},
                            {"text": "b"},
                            {"inlineData": {"mimeType": "image/jpeg", "data": "/9j"}},
                            {"inline_data": {"data": "iVB"}},
                            {"inlineData": {"mimeType": "image/png", "data": ""}},
                        ]
                    },
                }
            ],
        },
        {"candidates": [{"content": {"parts": [{"text": "c"}]}}]},
    )
    delta = chunks[0]["choices"][0]["delta"]
    assert chunks[0]["choices"][0]["index"] == 1
    assert delta["content"] == "b"
    assert delta["images"] == [
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j"}, "index": 0},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVB"}, "index": 1},
    ]
    # created comes from createTime and is remembered for later chunks; model defaults to "model"
    assert chunks[0]["created"] == chunks[1]["created"] == 1735689600
    assert chunks[1]["model"] == "model" and "usage" not in chunks[1]


def test_usage_only_chunk_and_done() -> None:
    # A2.4: a usage-only chunk yields one chunk
    chunks = openai_from_gemini({"usageMetadata": {"promptTokenCount": 3, "totalTokenCount": 3}})
    assert chunks == [
        {
            "id": "",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "model",
            "choices": [{"index": 0, "delta": EMPTY_DELTA, "finish_reason": None, "native_finish_reason": None}],
            "usage": {"total_tokens": 3, "prompt_tokens": 3},
        }
    ]
    assert openai_from_gemini({"candidates": []}) == []


def test_openai_non_stream_from_gemini() -> None:
    body = {
        "responseId": "r",
        "modelVersion": "g",
        "candidates": [
            {
                "content": {
                    "parts": [
                        {"text": "th", "thought": True},
                        {"text": "a"},
                        {"text": "b"},
                        {"functionCall": {"name": "f"}},
                    ]
                },
                "finishReason": "STOP",
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 100,
            "cachedContentTokenCount": 40,
            "candidatesTokenCount": 5,
            "totalTokenCount": 105,
        },
    }
    assert gemini.render_openai_response(gemini.parse_chunk(body), tool_id=fixed_id) == {
        "id": "r",
        "object": "chat.completion",
        "created": 0,
        "model": "g",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "ab",
                    "reasoning_content": "th",
                    "tool_calls": [{"id": "f-1-1", "type": "function", "function": {"name": "f", "arguments": ""}}],
                },
                "finish_reason": "tool_calls",
                "native_finish_reason": "tool_calls",
            }
        ],
        # A2.4 non-stream: cached tokens are NOT subtracted from the prompt
        "usage": {
            "completion_tokens": 5,
            "total_tokens": 105,
            "prompt_tokens": 100,
            "prompt_tokens_details": {"cached_tokens": 40},
        },
    }


# --- Gemini -> Claude client (A2.6) -----------------------------------------------------------


def claude_from_gemini(*objects: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    renderer = gemini.ClaudeStreamFromGemini(tool_id=fixed_id)
    frames = [f for o in objects for f in renderer.feed(gemini.parse_chunk(o))]
    return frames + renderer.done()


def test_golden_25_thinking_then_text_then_finish() -> None:
    frames = claude_from_gemini(
        {
            "responseId": "r",
            "modelVersion": "g",
            "candidates": [{"content": {"parts": [{"text": "hm", "thought": True}]}}],
        },
        {"candidates": [{"content": {"parts": [{"text": "Hi"}]}}]},
        {
            "candidates": [{"content": {"parts": []}, "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 7, "candidatesTokenCount": 3, "thoughtsTokenCount": 2},
        },
    )
    assert frames == [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": "r",
                    "type": "message",
                    "role": "assistant",
                    "content": [],
                    "model": "g",
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {"input_tokens": 0, "output_tokens": 0},
                },
            },
        ),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}},
        ),
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "hm"}},
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
        ),
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Hi"}},
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 1}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"input_tokens": 7, "output_tokens": 5},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]


def test_stream_tool_call_and_placeholders() -> None:
    # A2.6: placeholder id/model, tool block per functionCall, args continuation
    frames = claude_from_gemini(
        {
            "candidates": [
                {
                    "content": {
                        "parts": [
                            {"text": "let me"},
                            {"functionCall": {"name": "f", "args": {"a": 1}}},
                            {"functionCall": {"name": "", "args": {"b": 2}}},
                        ]
                    },
                    "finishReason": "MAX_TOKENS",
                }
            ],
            "usageMetadata": {"promptTokenCount": 1, "candidatesTokenCount": 1},
        }
    )
    message = frames[0][1]["message"]
    assert (message["id"], message["model"]) == (gemini.PLACEHOLDER_MESSAGE_ID, gemini.PLACEHOLDER_MODEL)
    assert frames[1:] == [
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "let me"}},
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 1,
                "content_block": {"type": "tool_use", "id": "f-1-1", "name": "f", "input": {}},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": '{"a":1}'},
            },
        ),
        # a nameless call right after a tool block continues its arguments
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": '{"b":2}'},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 1}),
        # streaming never reports max_tokens: tool_use because a call was in this chunk
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                "usage": {"input_tokens": 1, "output_tokens": 1},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]


def test_stream_call_in_one_chunk_and_finish_in_a_later_one_is_tool_use() -> None:
    # Compatibility row 39: Gemini streams often put the finish and usage in a chunk after the
    # functionCall; the legacy then says end_turn and an agent never runs the tool.
    frames = claude_from_gemini(
        {"candidates": [{"content": {"parts": [{"functionCall": {"name": "f", "args": {"a": 1}}}]}}]},
        {"candidates": [{"content": {"parts": [{"text": ""}]}, "finishReason": "STOP"}],
         "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 2}},
    )
    deltas = [payload for name, payload in frames if name == "message_delta"]
    assert [d["delta"]["stop_reason"] for d in deltas] == ["tool_use"]
    assert frames[-1] == ("message_stop", {"type": "message_stop"})


def test_stream_without_a_call_still_ends_as_end_turn() -> None:
    frames = claude_from_gemini(
        {"candidates": [{"content": {"parts": [{"text": "Hi"}]}}]},
        {"candidates": [{"content": {"parts": []}, "finishReason": "STOP"}],
         "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 2}},
    )
    assert [p["delta"]["stop_reason"] for n, p in frames if n == "message_delta"] == ["end_turn"]


def test_stream_without_content_sends_only_message_start() -> None:
    # A2.6: message_delta and message_stop need content
    frames = claude_from_gemini(
        {"candidates": [{"finishReason": "STOP"}], "usageMetadata": {"candidatesTokenCount": 0}}
    )
    assert [name for name, _ in frames] == ["message_start"]


def test_stream_finish_without_candidates_count_still_closes_the_answer() -> None:
    # A2.6: message_delta needs usage and a finishReason. The legacy's code also wants
    # candidatesTokenCount, which Gemini omits when thinking used the budget, and then leaves the
    # answer without a stop reason (row 43). Streams still never say max_tokens (A2.6).
    frames = claude_from_gemini(
        {
            "candidates": [{"content": {"parts": [{"text": "x", "thought": True}]}, "finishReason": "MAX_TOKENS"}],
            "usageMetadata": {"promptTokenCount": 1, "thoughtsTokenCount": 9, "totalTokenCount": 10},
        }
    )
    assert [name for name, _ in frames] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    delta = next(p for n, p in frames if n == "message_delta")
    assert delta["delta"]["stop_reason"] == "end_turn"
    assert delta["usage"] == {"input_tokens": 1, "output_tokens": 9}


def test_claude_frames_from_gemini_wire_trailer() -> None:
    # A2.6 SSE framing: event/data then three newlines
    frame = encode_claude_event("message_stop", {"type": "message_stop"}, GEMINI_CLAUDE_TRAILER)
    assert frame == b'event: message_stop\ndata: {"type":"message_stop"}\n\n\n'
    # the extra blank line is harmless to SSE clients: our own parser sees one event
    events = SSEParser().feed(frame)
    assert [(e.event, orjson.loads(e.data)) for e in events] == [("message_stop", {"type": "message_stop"})]


def test_golden_26_non_stream_tool_call() -> None:
    body = {
        "responseId": "r",
        "modelVersion": "g",
        "candidates": [{"content": {"parts": [{"functionCall": {"name": "f", "args": {}}}]}}],
    }
    assert gemini.render_claude_response(gemini.parse_chunk(body)) == {
        "id": "r",
        "type": "message",
        "role": "assistant",
        "model": "g",
        "content": [{"type": "tool_use", "id": "tool_1", "name": "f", "input": {}}],
        "stop_reason": "tool_use",
        "stop_sequence": None,
    }


def test_non_stream_merges_runs_and_maps_max_tokens() -> None:
    body = {
        "candidates": [
            {
                "content": {
                    "parts": [
                        {"text": "t1", "thought": True},
                        {"text": "t2", "thought": True},
                        {"text": ""},
                        {"text": "a"},
                        {"text": "b"},
                        {"functionCall": {"name": "g", "args": [1]}},
                        {"functionCall": {"name": "h", "args": {"k": "v"}}},
                    ]
                },
                "finishReason": "MAX_TOKENS",
            }
        ],
        "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 4, "thoughtsTokenCount": 1},
    }
    out = gemini.render_claude_response(gemini.parse_chunk(body))
    assert out["content"] == [
        {"type": "thinking", "thinking": "t1t2"},
        {"type": "text", "text": "ab"},
        {"type": "tool_use", "id": "tool_1", "name": "g", "input": {}},
        {"type": "tool_use", "id": "tool_2", "name": "h", "input": {"k": "v"}},
    ]
    assert out["stop_reason"] == "tool_use"
    assert out["usage"] == {"input_tokens": 9, "output_tokens": 5}
    text_only = {"candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": "MAX_TOKENS"}]}
    assert gemini.render_claude_response(gemini.parse_chunk(text_only))["stop_reason"] == "max_tokens"


# --- Gemini client -> Claude request (A2.7) ---------------------------------------------------

USER_ID = "user_x_account_y_session_z"


def gemini_to_claude(body: dict[str, Any], *, stream: bool = False) -> dict[str, Any]:
    return claude.render_request(gemini.parse_request(body), "claude-x", stream=stream, user_id=USER_ID)


@pytest.mark.parametrize(
    ("config", "thinking"),
    [
        ({"thinkingBudget": 0}, {"type": "disabled"}),  # golden 14
        ({"thinkingBudget": -1}, {"type": "enabled"}),
        ({"thinkingLevel": "medium"}, {"type": "enabled", "budget_tokens": 8192}),
        ({"thinkingLevel": " NONE "}, {"type": "disabled"}),
        ({"thinkingLevel": "auto"}, {"type": "enabled"}),
        ({"thinkingLevel": "ultra"}, None),
        ({"thinkingBudget": 3000, "includeThoughts": False}, {"type": "enabled", "budget_tokens": 3000}),
        # gjson Int() (claude_gemini_request.go:138): a numeric string counts, anything else is 0.
        ({"thinkingBudget": "300"}, {"type": "enabled", "budget_tokens": 300}),
        ({"thinkingBudget": "lots"}, {"type": "disabled"}),
        ({"includeThoughts": True}, {"type": "enabled"}),
        ({"include_thoughts": True}, {"type": "enabled"}),
        ({"includeThoughts": False}, None),
    ],
)
def test_golden_14_thinking(config: dict[str, Any], thinking: dict[str, Any] | None) -> None:
    out = gemini_to_claude({"contents": [], "generationConfig": {"thinkingConfig": config}})
    assert out.get("thinking") == thinking


def test_skeleton_generation_config_and_key_order() -> None:
    out = gemini_to_claude(
        {
            "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
            "generationConfig": {
                "maxOutputTokens": 256,
                "temperature": 0.5,
                "topP": 0.9,
                "topK": 7,  # A2.7: not mapped
                "stopSequences": ["END"],
                "thinkingConfig": {"thinkingBudget": 1024},
            },
            "tools": [{"functionDeclarations": [{"name": "f"}]}],
            "tool_config": {"function_calling_config": {"mode": "AUTO"}},
        },
        stream=True,
    )
    assert list(out) == [
        "model",
        "max_tokens",
        "messages",
        "metadata",
        "temperature",
        "top_p",
        "stop_sequences",
        "thinking",
        "tools",
        "tool_choice",
        "stream",
    ]
    assert (out["max_tokens"], out["temperature"], out["top_p"], out["stop_sequences"]) == (256, 0.5, 0.9, ["END"])
    assert out["tool_choice"] == {"type": "auto"} and out["stream"] is True
    assert out["metadata"] == {"user_id": USER_ID}
    assert gemini_to_claude({"contents": []})["max_tokens"] == 32000  # A2.7: skeleton as A2.1


def test_system_instruction_joined_into_first_user_message() -> None:
    # A2.7: system_instruction texts joined with \n into the first user message
    out = gemini_to_claude(
        {
            "system_instruction": {
                "parts": [{"text": ""}, {"text": "a"}, {"text": ""}, {"text": "b"}, {"inline_data": {}}]
            },
            "contents": [{"role": "user", "parts": [{"text": "q"}]}],
        }
    )
    assert "system" not in out
    assert out["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "a\n\nb"}]},
        {"role": "user", "content": [{"type": "text", "text": "q"}]},
    ]
    assert gemini_to_claude({"system_instruction": {"parts": [{"text": ""}]}, "contents": []})["messages"] == []


def test_system_instruction_camel_case_is_read_and_wins() -> None:
    # Deviation from the legacy (snake_case only): Gemini CLI and google-genai send systemInstruction.
    camel = {"parts": [{"text": "camel"}]}
    question = {"role": "user", "content": [{"type": "text", "text": "q"}]}
    contents = [{"role": "user", "parts": [{"text": "q"}]}]
    assert gemini_to_claude({"systemInstruction": camel, "contents": contents})["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "camel"}]},
        question,
    ]
    both = {"system_instruction": {"parts": [{"text": "snake"}]}, "systemInstruction": camel, "contents": contents}
    assert gemini_to_claude(both)["messages"][0] == {"role": "user", "content": [{"type": "text", "text": "camel"}]}
    # The camelCase key is not an unknown field left over for the renderers.
    assert "systemInstruction" not in gemini.parse_request(both).extra


def test_roles_parts_and_fifo_tool_ids() -> None:
    # A2.7 roles and parts; tool ids FIFO
    out = gemini_to_claude(
        {
            "contents": [
                {
                    "role": "model",
                    "parts": [
                        {"functionCall": {"name": "a", "args": {"x": 1}}},
                        {"functionCall": {"name": "b", "args": "not an object"}},
                    ],
                },
                {
                    "role": "function",
                    "parts": [
                        {"functionResponse": {"name": "a", "response": {"result": "ra"}}},
                        {"functionResponse": {"name": "b", "response": {"other": 1}}},
                        {"functionResponse": {"name": "c", "response": {"result": {"k": "v"}}}},
                    ],
                },
                {"role": "user", "parts": [{"functionCall": {"name": "ignored"}}]},  # only model calls count
                {
                    "role": "tool",
                    "parts": [
                        {"inline_data": {"mime_type": "image/png", "data": "AA"}},
                        {"file_data": {"file_uri": "gs://b/f.pdf", "mime_type": "application/pdf"}},
                        {"file_data": {"file_uri": "gs://b/g"}},
                    ],
                },
            ]
        }
    )
    model, answers, media = out["messages"]
    assert model["role"] == "assistant"
    first, second = model["content"]
    assert re.fullmatch(r"toolu_[A-Za-z0-9]{24}", first["id"])
    assert (first["name"], first["input"], second["name"], second["input"]) == ("a", {"x": 1}, "b", {})
    assert answers["role"] == "user"
    ids = [block["tool_use_id"] for block in answers["content"]]
    assert ids[:2] == [first["id"], second["id"]]  # handed out first-in first-out
    assert re.fullmatch(r"toolu_[A-Za-z0-9]{24}", ids[2]) and ids[2] not in (first["id"], second["id"])
    assert [block["content"] for block in answers["content"]] == ["ra", '{"other":1}', '{"k":"v"}']
    assert media == {
        "role": "user",
        "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA"}},
            {"type": "text", "text": "File: gs://b/f.pdf (Type: application/pdf)"},
            {"type": "text", "text": "File: gs://b/g"},
        ],
    }


def test_golden_15_tools_and_tool_config() -> None:
    out = gemini_to_claude(
        {
            "contents": [],
            "tools": [
                {
                    "functionDeclarations": [
                        {
                            "name": "get",
                            "description": "d",
                            "parameters": {
                                "type": "OBJECT",
                                "properties": {"q": {"type": "STRING"}},
                                "required": ["q"],
                            },
                        },
                        {"name": "bare"},
                        {"name": "js", "parametersJsonSchema": {"type": "object"}},
                    ]
                }
            ],
            "tool_config": {"function_calling_config": {"mode": "ANY"}},
        }
    )
    assert out["tool_choice"] == {"type": "any"}
    assert out["tools"] == [
        {
            "description": "d",
            "input_schema": {
                "$schema": "http://json-schema.org/draft-07/schema#",
                "additionalProperties": False,
                "properties": {"q": {"type": "string"}},
                "required": ["q"],
                "type": "object",
            },
            "name": "get",
        },
        {"description": "", "input_schema": {}, "name": "bare"},
        {
            "description": "",
            "input_schema": {
                "$schema": "http://json-schema.org/draft-07/schema#",
                "additionalProperties": False,
                "type": "object",
            },
            "name": "js",
        },
    ]
    assert list(out["tools"][0]) == ["description", "input_schema", "name"]  # Go map marshal order


def test_tool_schema_property_named_type_and_type_lists_stay_schemas() -> None:
    # The legacy lower-cases every value under a key named "type" (util.Walk over the tools,
    # claude_gemini_request.go:356-363) with gjson String(): a parameter NAMED "type" becomes its
    # own JSON text and then {"type": ""}, a type list becomes the string '["string","null"]', and
    # Anthropic refuses the schema. Only string values are lower-cased here (not yet a row of
    # docs/compatibility.md).
    out = gemini_to_claude({
        "contents": [],
        "tools": [{"functionDeclarations": [{"name": "f", "parametersJsonSchema": {
            "type": "object",
            "properties": {"type": {"type": "STRING", "enum": ["A"], "description": "Kind"},
                           "n": {"type": ["integer", "null"]}}}}]}],
    })
    assert out["tools"][0]["input_schema"]["properties"] == {
        "n": {"type": ["integer", "null"]},
        "type": {"description": "Kind", "enum": ["A"], "type": "string"},
    }


@pytest.mark.parametrize(
    ("mode", "choice"), [("AUTO", {"type": "auto"}), ("NONE", {"type": "none"}), ("VALIDATED", None)]
)
def test_tool_config_modes(mode: str, choice: dict[str, Any] | None) -> None:
    # A2.7 tool_config row
    out = gemini_to_claude({"contents": [], "tool_config": {"function_calling_config": {"mode": mode}}})
    assert out.get("tool_choice") == choice


def test_empty_contents_are_dropped() -> None:
    # A2.7: empty messages dropped
    out = gemini_to_claude({"contents": [{"role": "user", "parts": []}, {"role": "model", "parts": [{"unknown": 1}]}]})
    assert out["messages"] == []


def test_golden_30_count_tokens() -> None:
    # golden 30 (Gemini half); the Gemini CLI translators return the same bare object (see module)
    assert gemini.render_count_tokens(7) == {
        "totalTokens": 7,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 7}],
    }


# --- Claude upstream -> Gemini client (claude/gemini response translator) ---------------------

NOW = 1735689600  # 2025-01-01T00:00:00Z


def gemini_chunks_from_claude(*payloads: dict[str, Any]) -> list[dict[str, Any]]:
    wire = b"".join(encode_claude_event(p["type"], p) for p in payloads)
    sse, parser = SSEParser(), claude.ClaudeStreamParser()
    renderer = gemini.GeminiStreamFromClaude("gemini-requested", now=lambda: NOW)
    return [c for s in [*sse.feed(wire), *sse.finish()] for ev in parser.feed_sse(s) for c in renderer.feed(ev)]


def gemini_chunk(parts: list[dict[str, Any]], **candidate: Any) -> dict[str, Any]:
    return {
        "candidates": [{"content": {"role": "model", "parts": parts}, **candidate}],
        "usageMetadata": {"trafficType": "PROVISIONED_THROUGHPUT"},
        "modelVersion": "claude-up",
        "createTime": "2025-01-01T00:00:00Z",
        "responseId": "msg_1",
    }


CLAUDE_TOOL_STREAM = (
    {"type": "message_start", "message": {"id": "msg_1", "model": "claude-up"}},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "hm"}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "s"}},
    {"type": "content_block_stop", "index": 0},
    {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Hi"}},
    {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": ""}},
    {"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "t", "name": "f"}},
    {"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": '{"a":'}},
    {"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "1} "}},
    {"type": "content_block_stop", "index": 2},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "max_tokens"},
        "usage": {
            "input_tokens": 10,
            "output_tokens": 4,
            "cache_creation_input_tokens": 2,
            "cache_read_input_tokens": 3,
        },
    },
    {"type": "message_stop"},
)


def test_claude_stream_to_gemini_client() -> None:
    # claude/gemini response: one chunk per delta, whole tool call at block stop, usage on message_delta
    assert gemini_chunks_from_claude(*CLAUDE_TOOL_STREAM) == [
        gemini_chunk([{"thought": True, "text": "hm"}]),
        gemini_chunk([]),  # signature_delta still yields a (content-less) chunk
        gemini_chunk([{"text": "Hi"}]),
        gemini_chunk([]),  # empty text adds no part
        gemini_chunk([{"functionCall": {"name": "f", "args": {"a": 1}}}], finishReason="STOP"),
        {
            # The legacy overwrites MAX_TOKENS with STOP here (compatibility row 19v).
            **gemini_chunk([], finishReason="MAX_TOKENS"),
            "usageMetadata": {
                "trafficType": "PROVISIONED_THROUGHPUT",
                "promptTokenCount": 10,
                "candidatesTokenCount": 4,
                "totalTokenCount": 14,
                "cachedContentTokenCount": 5,
            },
        },
    ]


def test_claude_stream_to_gemini_before_message_start_and_errors() -> None:
    # claude/gemini response translator: placeholders before message_start, Gemini-shaped error
    renderer = gemini.GeminiStreamFromClaude("req-model", now=lambda: NOW)
    chunk = renderer.feed(TextDelta("x"))[0]
    assert (chunk["modelVersion"], chunk["responseId"]) == ("req-model", "")
    assert renderer.feed(StreamError("", "overloaded_error")) == [
        {"error": {"code": 400, "message": "Unknown error occurred", "status": "INVALID_ARGUMENT"}}
    ]


def test_claude_non_stream_to_gemini_client() -> None:
    # claude/gemini non-stream: folded SSE, merged runs; max_tokens is MAX_TOKENS (the legacy's
    # template always says STOP: compatibility row 19v)
    wire = b"".join(encode_claude_event(p["type"], p) for p in CLAUDE_TOOL_STREAM)
    out = gemini.render_gemini_response(claude.parse_stream_body(wire), "gemini-requested", now=lambda: NOW)
    assert out == {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [
                        {"thought": True, "text": "hm"},
                        {"text": "Hi"},
                        {"functionCall": {"name": "f", "args": {"a": 1}}},
                    ],
                },
                "finishReason": "MAX_TOKENS",
            }
        ],
        # non-stream: usage keys end with trafficType; modelVersion is the requested model
        "usageMetadata": {
            "promptTokenCount": 10,
            "candidatesTokenCount": 4,
            "totalTokenCount": 14,
            "cachedContentTokenCount": 5,
            "trafficType": "PROVISIONED_THROUGHPUT",
        },
        "modelVersion": "gemini-requested",
        "createTime": "2025-01-01T00:00:00Z",
        "responseId": "msg_1",
    }
    assert list(out["usageMetadata"])[-1] == "trafficType"


def test_claude_end_turn_and_no_reason_are_stop_for_a_gemini_client() -> None:
    # Every other Claude reason, and a message_delta without one, stays STOP (A2.16).
    for reason in ("end_turn", "tool_use", "stop_sequence", None):
        delta = {"stop_reason": reason} if reason else {}
        chunks = gemini_chunks_from_claude(
            {"type": "message_start", "message": {"id": "msg_1", "model": "claude-up"}},
            {"type": "message_delta", "delta": delta, "usage": {"input_tokens": 1, "output_tokens": 1}},
        )
        assert chunks[-1]["candidates"][0]["finishReason"] == "STOP", reason
        wire = b"".join(encode_claude_event(p["type"], p) for p in (
            {"type": "message_start", "message": {"id": "msg_1", "model": "claude-up"}},
            {"type": "message_delta", "delta": delta, "usage": {"input_tokens": 1, "output_tokens": 1}},
            {"type": "message_stop"}))
        out = gemini.render_gemini_response(claude.parse_stream_body(wire), "m", now=lambda: NOW)
        assert out["candidates"][0]["finishReason"] == "STOP", reason


def test_claude_usage_without_cache_counters_has_no_cached_count() -> None:
    # claude/gemini response translator: cachedContentTokenCount only when Claude sent a cache counter
    chunks = gemini_chunks_from_claude(
        {"type": "message_start", "message": {"id": "msg_1", "model": "claude-up"}},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"input_tokens": 1, "output_tokens": 1},
        },
    )
    assert "cachedContentTokenCount" not in chunks[-1]["usageMetadata"]


def test_claude_thinking_tokens_become_thoughts_token_count() -> None:
    # claude/gemini response translator: thinking_tokens -> thoughtsTokenCount, after the cache count
    delta = {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
             "usage": {"input_tokens": 3, "output_tokens": 20, "cache_read_input_tokens": 2, "thinking_tokens": 7}}
    chunks = gemini_chunks_from_claude({"type": "message_start", "message": {"id": "msg_1", "model": "m"}}, delta)
    assert chunks[-1]["usageMetadata"] == {
        "trafficType": "PROVISIONED_THROUGHPUT", "promptTokenCount": 3, "candidatesTokenCount": 20,
        "totalTokenCount": 23, "cachedContentTokenCount": 2, "thoughtsTokenCount": 7}
    wire = b"".join(encode_claude_event(p["type"], p) for p in (
        {"type": "message_start", "message": {"id": "msg_1", "model": "m", "usage": {"input_tokens": 3}}}, delta))
    out = gemini.render_gemini_response(claude.parse_stream_body(wire), "g", now=lambda: NOW)
    assert list(out["usageMetadata"].items())[-2:] == [("thoughtsTokenCount", 7),
                                                       ("trafficType", "PROVISIONED_THROUGHPUT")]


# --- Gemini CLI envelope (A2.13) ---------------------------------------------------------------


def test_cli_request_from_openai() -> None:
    # A2.13 + gemini-cli/openai request: {"project","request","model"}, systemInstruction, empty text kept
    req = openai_chat.parse_request(
        {
            "messages": [
                {"role": "system", "content": "S"},
                {"role": "user", "content": [{"type": "text", "text": ""}, {"type": "text", "text": "u"}]},
            ],
            "reasoning_effort": "low",
        }
    )
    out = gemini.render_cli_request(req, "gemini-2.5-pro")
    assert list(out) == ["project", "request", "model"]
    assert (out["project"], out["model"]) == ("", "gemini-2.5-pro")
    inner = out["request"]
    assert list(inner) == ["contents", "generationConfig", "systemInstruction", "safetySettings"]
    assert inner["systemInstruction"] == {"role": "user", "parts": [{"text": "S"}]}
    assert inner["contents"] == [{"role": "user", "parts": [{"text": ""}, {"text": "u"}]}]
    assert inner["generationConfig"] == {"thinkingConfig": {"thinkingLevel": "low", "includeThoughts": True}}
    assert "model" not in inner


def test_cli_request_from_claude() -> None:
    # A2.13 + gemini-cli/claude request: {"model","request"}, no project key
    req = claude.parse_request({"system": "S", "messages": [{"role": "user", "content": "hi"}], "top_k": 5})
    out = gemini.render_cli_request(req, "gemini-2.5-flash")
    assert list(out) == ["model", "request"]
    assert out["request"] == {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "systemInstruction": {"parts": [{"text": "S"}]},
        "generationConfig": {"topK": 5},
        "safetySettings": gemini.safety_settings(),
    }


def test_cli_response_envelope_round_trip() -> None:
    # A2.13: {"response": ...} wraps each object for Gemini CLI clients and is unwrapped on parse
    payload = {"responseId": "r", "candidates": [{"content": {"parts": [{"text": "x"}]}}]}
    wrapped = gemini.wrap_cli_response(payload)
    assert wrapped == {"response": payload}
    assert gemini.parse_chunk(wrapped, Format.GEMINI_CLI).id == "r"


def test_camel_case_media_and_tool_config_are_read_and_win() -> None:
    # Deviation (docs/compatibility.md row 19f): the legacy reads only inline_data / file_data /
    # tool_config, so google-genai's and Gemini CLI's images and function-calling mode were lost.
    out = gemini_to_claude({
        "contents": [{"role": "user", "parts": [
            {"inlineData": {"mimeType": "image/jpeg", "data": "/9j"}},
            {"fileData": {"fileUri": "gs://b/f.pdf", "mimeType": "application/pdf"}},
            {"inlineData": {"mimeType": "image/webp", "data": "UklG"}, "inline_data": {"mime_type": "x", "data": "y"}},
        ]}],
        "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f"]}},
        "tool_config": {"function_calling_config": {"mode": "NONE"}},
    })
    assert out["messages"] == [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j"}},
        {"type": "text", "text": "File: gs://b/f.pdf (Type: application/pdf)"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/webp", "data": "UklG"}},
    ]}]
    assert out["tool_choice"] == {"type": "any"}
    assert "toolConfig" not in gemini.parse_request({"toolConfig": {}, "contents": []}).extra


def test_a_null_text_part_reads_as_empty_text() -> None:
    # gjson String() of null is "" (gemini_openai_response.go:332-340): no "null" in the answer.
    chunk = gemini.parse_chunk({"candidates": [{"content": {"parts": [{"text": None}, {"text": "a"}]}}]})
    texts = [part.text for part in chunk.candidates[0].parts if hasattr(part, "text")]
    assert "".join(texts) == "a"


def test_claude_images_go_to_gemini_as_inline_data() -> None:
    """The legacy maps no Claude images to Gemini (A2.5); compatibility row 19t sends base64 and
    data-URL images inline. A remote URL, which Gemini cannot fetch, stays dropped."""
    body = {"messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"}},
        {"type": "image", "source": {"type": "url", "url": "data:image/jpeg;base64,/9j/4A"}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
        {"type": "text", "text": "what is this"}]}]}
    assert from_claude(body)["contents"] == [{"role": "user", "parts": [
        {"inlineData": {"mime_type": "image/png", "data": "iVBOR"}},
        {"inlineData": {"mime_type": "image/jpeg", "data": "/9j/4A"}},
        {"text": "what is this"}]}]
