"""OpenAI chat: client parsing, upstream request rendering (Claude client), upstream chunk parsing,
client rendering from a Claude upstream. Each vector cites its reference section."""

from __future__ import annotations

from typing import Any

import pytest

from handlers.translation import claude, openai_chat
from handlers.translation.model import (
    FilePart,
    Finish,
    FinishReason,
    Format,
    ImagePart,
    MessageStart,
    Role,
    StreamEnd,
    StreamError,
    TextDelta,
    TextPart,
    ThinkingConfig,
    ThinkingDelta,
    ThinkingMode,
    ToolCallDelta,
    ToolCallPart,
    ToolCallStart,
    ToolResultPart,
    UsageReport,
)
from handlers.translation.sse import OPENAI_DONE, SSEParser, encode_claude_event, encode_openai_chunk


def to_openai(body: dict[str, Any], *, stream: bool = False) -> dict[str, Any]:
    """Claude client body -> OpenAI-compatible upstream body."""
    return openai_chat.render_request(claude.parse_request(body), "gpt-x", stream=stream)


# --- OpenAI client request -> internal --------------------------------------------------------


def test_parse_openai_request() -> None:
    req = openai_chat.parse_request(
        {
            "model": "gpt-5(high)",
            "messages": [
                {"role": "system", "content": "S"},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "see"},
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}},
                        {"type": "file", "file": {"filename": "a.pdf", "file_data": "Zm9v"}},
                    ],
                },
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": {"a": 1}}}],
                },
                {"role": "tool", "tool_call_id": "c1", "content": "ok"},
            ],
            "temperature": 0.2,
            "n": 2,
            "stream": "true",  # surface §6: only JSON true streams
            "reasoning_effort": "high",
            "response_format": {"type": "json_object"},
        }
    )
    assert req.source is Format.OPENAI and req.model == "gpt-5(high)"
    assert [m.role for m in req.messages] == [Role.SYSTEM, Role.USER, Role.ASSISTANT, Role.TOOL]
    assert req.messages[1].parts == [
        TextPart("see"),
        ImagePart(url="data:image/png;base64,AA"),
        FilePart("a.pdf", "Zm9v"),
    ]
    # object arguments are kept as JSON text; a bare "" content stays one (empty) text part
    assert req.messages[2].parts == [TextPart(""), ToolCallPart("c1", "f", '{"a":1}')]
    assert req.messages[2].plain is True
    assert req.messages[3].parts == [ToolResultPart("c1", "ok")]
    assert req.thinking == ThinkingConfig(ThinkingMode.LEVEL, level="high")
    assert (req.temperature, req.n, req.stream) == (0.2, 2, False)
    assert req.extra == {"response_format": {"type": "json_object"}}


def test_parse_openai_stream_true() -> None:
    assert openai_chat.parse_request({"stream": True}).stream is True


# --- Claude client -> OpenAI upstream request (A2.15) -----------------------------------------


def test_golden_16_system_stop_and_thinking() -> None:
    out = to_openai(
        {
            "model": "c",
            "max_tokens": 50,
            "stop_sequences": ["x"],
            "thinking": {"type": "enabled", "budget_tokens": 8192},
            "messages": [{"role": "user", "content": "hi"}],
        },
        stream=True,
    )
    assert out == {
        "model": "gpt-x",
        "messages": [{"role": "system", "content": []}, {"role": "user", "content": "hi"}],
        "max_tokens": 50,
        "stop": "x",
        "stream": True,
        "reasoning_effort": "medium",
    }
    assert list(out) == ["model", "messages", "max_tokens", "stop", "stream", "reasoning_effort"]


@pytest.mark.parametrize(
    ("thinking", "effort"),
    [
        ({"type": "disabled"}, "none"),  # golden 16
        ({"type": "enabled"}, "auto"),
        ({"type": "enabled", "budget_tokens": 0}, "none"),
        ({"type": "enabled", "budget_tokens": 512}, "minimal"),
        ({"type": "enabled", "budget_tokens": 30000}, "xhigh"),
        ({"type": "enabled", "budget_tokens": -7}, None),
    ],
)
def test_thinking_to_effort(thinking: dict[str, Any], effort: str | None) -> None:
    # A2.15 thinking row via A2.9 ConvertBudgetToLevel
    assert to_openai({"messages": [], "thinking": thinking}).get("reasoning_effort") == effort


def test_golden_17_temperature_wins_over_top_p() -> None:
    out = to_openai({"messages": [], "temperature": 0.3, "top_p": 0.9, "top_k": 5})
    assert out["temperature"] == 0.3 and "top_p" not in out and "top_k" not in out
    assert to_openai({"messages": [], "top_p": 0.9})["top_p"] == 0.9


def test_several_stop_sequences_stay_an_array() -> None:
    # A2.15: stop_sequences -> stop (one -> string, several -> array)
    assert to_openai({"messages": [], "stop_sequences": ["a", "b"]})["stop"] == ["a", "b"]
    assert "stop" not in to_openai({"messages": [], "stop_sequences": []})


def test_system_string_and_array() -> None:
    # A2.15: messages[0] system from string or text/image parts; blank text dropped
    out = to_openai(
        {
            "system": [
                {"type": "text", "text": "A"},
                {"type": "text", "text": "   "},  # whitespace-only dropped
                {"type": "thinking", "thinking": "ignored"},
                {"type": "image", "source": {"type": "base64", "media_type": "", "data": "QQ"}},
            ],
            "messages": [],
        }
    )
    assert out["messages"] == [
        {
            "role": "system",
            "content": [
                {"type": "text", "text": "A"},
                {"type": "image_url", "image_url": {"url": "data:application/octet-stream;base64,QQ"}},
            ],
        }
    ]
    assert to_openai({"system": "S", "messages": []})["messages"][0] == {
        "role": "system",
        "content": [{"type": "text", "text": "S"}],
    }


def test_a_system_string_is_dropped_only_when_empty() -> None:
    # openai_claude_request.go checks the string against "" (no trim), unlike array blocks.
    assert to_openai({"system": "  ", "messages": []})["messages"][0] == {
        "role": "system", "content": [{"type": "text", "text": "  "}]}
    assert to_openai({"system": "", "messages": []})["messages"][0] == {"role": "system", "content": []}


def test_a_message_role_other_than_user_or_assistant_is_sent_as_written() -> None:
    # openai_claude_request.go copies message.role verbatim (gjson text: "" when absent).
    out = to_openai({"messages": [
        {"role": "system", "content": "be brief"},
        {"content": [{"type": "text", "text": "x"}]},
        {"role": "user", "content": "hi"},
    ]})
    assert out["messages"][1:] == [
        {"role": "system", "content": "be brief"},
        {"role": "", "content": [{"type": "text", "text": "x"}]},
        {"role": "user", "content": "hi"},
    ]


def test_a_tool_result_with_null_content_is_the_text_null() -> None:
    # convertClaudeToolResultContentToString: a missing content is "", a JSON null its raw text.
    out = to_openai({"messages": [{"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "a", "content": None}, {"type": "tool_result", "tool_use_id": "b"}]}]})
    assert out["messages"][1:] == [{"role": "tool", "tool_call_id": "a", "content": "null"},
                                   {"role": "tool", "tool_call_id": "b", "content": ""}]


def test_values_the_legacy_reads_with_gjson_exists_and_string() -> None:
    # openai_claude_request.go: tool_choice present without a "type" (a string, null) -> "auto";
    # user -> its gjson text; an input_schema that is there, even null, becomes "parameters".
    out = to_openai({"messages": [], "tool_choice": "any", "user": 5,
                     "tools": [{"name": "f", "input_schema": None}, {"name": "g"}]})
    assert out["tool_choice"] == "auto"
    assert out["user"] == "5"
    assert out["tools"] == [{"type": "function", "function": {"name": "f", "description": "", "parameters": None}},
                            {"type": "function", "function": {"name": "g", "description": ""}}]
    out = to_openai({"messages": [], "tool_choice": None, "user": None})
    assert (out["tool_choice"], out["user"]) == ("auto", "")
    assert "tool_choice" not in to_openai({"messages": []}) and "user" not in to_openai({"messages": []})


def test_a4_2_11_assistant_thinking_becomes_reasoning_content() -> None:
    # A4.2 #11 / A2.15
    out = to_openai(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "thinking", "thinking": "user thought"}, {"type": "text", "text": "q"}],
                },
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "First thought."},
                        {"type": "redacted_thinking", "data": "xx"},
                        {"type": "thinking", "thinking": "   "},
                        {"type": "thinking", "thinking": "Second thought."},
                        {"type": "text", "text": "Final answer."},
                    ],
                },
                {"role": "assistant", "content": [{"type": "thinking", "thinking": "only"}]},
            ]
        }
    )
    assert out["messages"][1:] == [
        {"role": "user", "content": [{"type": "text", "text": "q"}]},
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "Final answer."}],
            "reasoning_content": "First thought.\n\nSecond thought.",
        },
        # a thinking-only assistant message is preserved with empty content
        {"role": "assistant", "content": "", "reasoning_content": "only"},
    ]


def test_a4_2_12_tool_result_order() -> None:
    out = to_openai(
        {
            "messages": [
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": "call_1", "name": "do_work", "input": {"a": 1}}],
                },
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "before"},
                        {
                            "type": "tool_result",
                            "tool_use_id": "call_1",
                            "content": [{"type": "text", "text": "tool ok"}],
                        },
                        {"type": "text", "text": "after"},
                    ],
                },
            ]
        }
    )
    assert out["messages"] == [
        {"role": "system", "content": []},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "do_work", "arguments": '{"a":1}'}}
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "tool ok"},
        {"role": "user", "content": [{"type": "text", "text": "before"}, {"type": "text", "text": "after"}]},
    ]


@pytest.mark.parametrize(
    ("content", "text"),
    [
        ({"foo": "bar"}, '{"foo":"bar"}'),  # A4.2 #13: object content -> JSON string
        ({"text": "direct"}, "direct"),
        ("plain", "plain"),
        (None, ""),
        (["a", {"text": "b"}, {"x": 1}], 'a\n\nb\n\n{"x":1}'),
        ([{"text": " "}], '[{"text":" "}]'),  # blank join falls back to the raw array
    ],
)
def test_tool_result_content_to_string(content: Any, text: str) -> None:
    # A2.15 / A4.2 #13: tool_result content flattening
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": "t"}
    if content is not None:
        block["content"] = content
    out = to_openai({"messages": [{"role": "user", "content": [block]}]})
    assert out["messages"][1] == {"role": "tool", "tool_call_id": "t", "content": text}


def test_tool_use_without_input_and_tools_and_choice() -> None:
    # A2.15: tool_use, tools, tool_choice, user
    out = to_openai(
        {
            "messages": [{"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f"}]}],
            "tools": [
                {"name": "f", "description": "d", "input_schema": {"type": "object"}},
                {"name": "g"},
            ],
            "tool_choice": {"type": "tool", "name": "f"},
            "user": "u1",
        }
    )
    assert out["messages"][1]["tool_calls"][0]["function"]["arguments"] == "{}"
    assert out["tools"] == [
        {"type": "function", "function": {"name": "f", "description": "d", "parameters": {"type": "object"}}},
        {"type": "function", "function": {"name": "g", "description": ""}},
    ]
    assert out["tool_choice"] == {"type": "function", "function": {"name": "f"}}
    assert out["user"] == "u1"
    assert list(out)[-3:] == ["tools", "tool_choice", "user"]


@pytest.mark.parametrize(
    ("choice", "expected"),
    [({"type": "auto"}, "auto"), ({"type": "any"}, "required"), ({"type": "none"}, "auto"), ({"type": "zzz"}, "auto")],
)
def test_tool_choice_from_claude(choice: dict[str, Any], expected: str) -> None:
    # A2.15: auto->auto, any->required, anything else (even none) -> auto
    assert to_openai({"messages": [], "tool_choice": choice})["tool_choice"] == expected


def test_image_blocks_in_user_message() -> None:
    # A2.15: image blocks -> image_url parts
    out = to_openai(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j"}},
                        {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}},
                        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": ""}},
                    ],
                }
            ]
        }
    )
    assert out["messages"][1]["content"] == [
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j"}},
        {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
    ]


# --- OpenAI upstream chunks -> internal events ------------------------------------------------


def test_openai_stream_parser_events() -> None:
    parser = openai_chat.OpenAIChatStreamParser()
    first = {
        "id": "c-1",
        "created": 9,
        "model": "m",
        "choices": [{"index": 0, "delta": {"role": "assistant", "reasoning_content": "r", "content": "t"}}],
    }
    assert parser.feed(first) == [MessageStart("c-1", "m", 9), ThinkingDelta("r"), TextDelta("t")]
    tool = {
        "choices": [{"delta": {"tool_calls": [{"index": 2, "id": "x", "function": {"name": "f", "arguments": "{"}}]}}]
    }
    assert parser.feed(tool) == [ToolCallStart(2, "x", "f"), ToolCallDelta(2, "{")]
    last = {"choices": [{"delta": {}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 1, "completion_tokens": 2}}
    events = parser.feed(last)
    assert events[0] == Finish(FinishReason("stop", Format.OPENAI))
    assert isinstance(events[1], UsageReport) and events[1].usage.output_tokens == 2
    assert parser.feed_data("[DONE]") == [StreamEnd()]
    assert parser.feed_data("{broken") == []


@pytest.mark.parametrize(("content", "text"), [
    # Mistral's Magistral streams content as an array of parts; the legacy's gjson String() gives
    # its JSON text (openai_claude_response.go:170), so the client sees it instead of nothing.
    ([{"type": "text", "text": "pic"}], '[{"type":"text","text":"pic"}]'),
    (5, "5"),
    (True, "true"),
    ([], "[]"),
])
def test_stream_content_that_is_not_a_string_is_read_as_gjson_string(content: Any, text: str) -> None:
    parser = openai_chat.OpenAIChatStreamParser()
    chunk = {"choices": [{"index": 0, "delta": {"role": "assistant", "content": content}}]}
    assert parser.feed(chunk) == [MessageStart("", "", 0), TextDelta(text)]


@pytest.mark.parametrize("content", [None, ""])
def test_stream_content_with_no_text_gives_no_delta(content: Any) -> None:
    parser = openai_chat.OpenAIChatStreamParser()
    parser.feed({"choices": [{"delta": {"role": "assistant"}}]})
    assert parser.feed({"choices": [{"delta": {"content": content}}]}) == []


# --- Claude upstream -> OpenAI client (A2.2) --------------------------------------------------


def claude_sse(*payloads: dict[str, Any]) -> bytes:
    return b"".join(encode_claude_event(p["type"], p) for p in payloads)


def openai_chunks_from_claude(body: bytes, chunking: int | None = None) -> list[dict[str, Any]]:
    sse, parser = SSEParser(), claude.ClaudeStreamParser()
    renderer = openai_chat.OpenAIChatStreamRenderer("client-model", now=lambda: 1700000000)
    pieces = [body] if chunking is None else [body[i : i + chunking] for i in range(0, len(body), chunking)]
    sse_events = [e for piece in pieces for e in sse.feed(piece)] + sse.finish()
    return [c for s in sse_events for ev in parser.feed_sse(s) for c in renderer.feed(ev)]


def expected_chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "id": "msg_1",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "client-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }


GOLDEN_20 = claude_sse(
    {"type": "message_start", "message": {"id": "msg_1", "model": "claude-up"}},
    {"type": "ping"},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
    {"type": "content_block_stop", "index": 0},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "max_tokens"},
        "usage": {
            "input_tokens": 10,
            "output_tokens": 5,
            "cache_read_input_tokens": 3,
            "cache_creation_input_tokens": 2,
        },
    },
    {"type": "message_stop"},
)


@pytest.mark.parametrize("chunking", [None, 1, 5])
def test_golden_20_and_22_text_stream(chunking: int | None) -> None:
    assert openai_chunks_from_claude(GOLDEN_20, chunking) == [
        expected_chunk({"role": "assistant"}),
        expected_chunk({"content": "Hi"}),
        expected_chunk(
            {},
            "length",
            usage={
                "prompt_tokens": 12,
                "completion_tokens": 5,
                "total_tokens": 15,
                "prompt_tokens_details": {"cached_tokens": 3},
            },
        ),
    ]


def test_golden_21_tool_call_is_one_chunk() -> None:
    body = claude_sse(
        {"type": "message_start", "message": {"id": "msg_1"}},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "t1", "name": "f"}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": '{"a":'}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "1}"}},
        {"type": "content_block_stop", "index": 1},
        {"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "t2", "name": "g"}},
        {"type": "content_block_stop", "index": 2},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}},
    )
    chunks = openai_chunks_from_claude(body)
    assert chunks[1:] == [
        expected_chunk(
            {
                "tool_calls": [
                    {"index": 1, "id": "t1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}
                ]
            }
        ),
        # zero input_json_delta -> arguments "{}"
        expected_chunk(
            {"tool_calls": [{"index": 2, "id": "t2", "type": "function", "function": {"name": "g", "arguments": "{}"}}]}
        ),
        expected_chunk({}, "tool_calls"),
    ]


def test_thinking_delta_becomes_reasoning_content() -> None:
    # A2.2 event table: thinking_delta -> reasoning_content
    body = claude_sse(
        {"type": "message_start", "message": {"id": "msg_1"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "hm"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "s"}},
    )
    assert openai_chunks_from_claude(body)[1:] == [expected_chunk({"reasoning_content": "hm"})]


@pytest.mark.parametrize(
    ("stop", "finish"),
    [("end_turn", "stop"), ("stop_sequence", "stop"), ("tool_use", "tool_calls"), ("refusal", "stop")],
)
def test_stream_finish_reasons(stop: str, finish: str) -> None:
    # A2.2 stop reason map
    body = claude_sse(
        {"type": "message_start", "message": {"id": "msg_1"}}, {"type": "message_delta", "delta": {"stop_reason": stop}}
    )
    assert openai_chunks_from_claude(body)[-1] == expected_chunk({}, finish)


def test_error_event() -> None:
    # A2.2 event table: error
    renderer = openai_chat.OpenAIChatStreamRenderer("m")
    assert renderer.feed(StreamError("over", "overloaded_error")) == [
        {"error": {"message": "over", "type": "overloaded_error"}}
    ]


def test_wire_bytes_with_done() -> None:
    # A3.1 / surface §6 framing and [DONE]
    wire = b"".join(encode_openai_chunk(c) for c in openai_chunks_from_claude(GOLDEN_20)) + OPENAI_DONE
    assert wire.startswith(
        b'data: {"id":"msg_1","object":"chat.completion.chunk","created":1700000000,"model":"client-model",'
        b'"choices":[{"index":0,"delta":{"role":"assistant"},"finish_reason":null}]}\n\n'
    )
    assert wire.endswith(b"\n\ndata: [DONE]\n\n")


def test_non_stream_from_claude_sse() -> None:
    # A2.2 non-stream: joined text, message.reasoning, tool calls by block index, tool_calls wins
    body = claude_sse(
        {"type": "message_start", "message": {"id": "msg_7", "model": "claude-up"}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "a"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "b"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Hel"}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "lo"}},
        {"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "t", "name": "f"}},
        {"type": "content_block_stop", "index": 2},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"input_tokens": 4, "output_tokens": 6},
        },
        {"type": "message_stop"},
    )
    assert openai_chat.render_response(claude.parse_stream_body(body), now=lambda: 5) == {
        "id": "msg_7",
        "object": "chat.completion",
        "created": 5,
        "model": "claude-up",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Hello",
                    "reasoning": "ab",
                    "tool_calls": [{"id": "t", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {
            "prompt_tokens": 4,
            "completion_tokens": 6,
            "total_tokens": 10,
            "prompt_tokens_details": {"cached_tokens": 0},
        },
    }


def test_non_stream_defaults_without_message_delta() -> None:
    # A2.2 non-stream defaults
    body = claude_sse({"type": "message_start", "message": {"id": "m", "model": "x"}})
    out = openai_chat.render_response(claude.parse_stream_body(body), now=lambda: 5)
    assert out["choices"][0] == {"index": 0, "message": {"role": "assistant", "content": ""}, "finish_reason": "stop"}
    assert out["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    max_tokens = claude_sse({"type": "message_delta", "delta": {"stop_reason": "max_tokens"}})
    assert openai_chat.render_response(claude.parse_stream_body(max_tokens))["choices"][0]["finish_reason"] == "length"


# --- properties -------------------------------------------------------------------------------

import orjson  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from handlers.translation.model import ThinkingPart, collect_response  # noqa: E402

_block = st.one_of(
    st.tuples(st.just("text"), st.lists(st.text(min_size=1, max_size=5), min_size=1, max_size=3)),
    st.tuples(st.just("thinking"), st.lists(st.text(min_size=1, max_size=5), min_size=1, max_size=3)),
    st.tuples(st.just("tool"), st.dictionaries(st.text(max_size=4), st.integers(-99, 99), max_size=3)),
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(_block, max_size=6),
    st.sampled_from(["end_turn", "max_tokens", "tool_use"]),
    st.sampled_from([None, 1, 11]),
)
def test_claude_stream_to_openai_and_back_keeps_content(
    blocks: list[tuple[str, Any]], stop: str, chunking: int | None
) -> None:
    """Claude SSE -> OpenAI chunks -> (wire) -> OpenAI parser: text, thinking and tool calls survive."""
    # A2.2 + A2.12 round trip; lossless subset of the A2.16 finish tables
    payloads: list[dict[str, Any]] = [{"type": "message_start", "message": {"id": "msg_1"}}]
    expected_calls = []
    for index, (kind, value) in enumerate(blocks):
        if kind == "tool":
            payloads.append(
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {"type": "tool_use", "id": f"t{index}", "name": "f"},
                }
            )
            text = orjson.dumps(value).decode()
            payloads += [
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "input_json_delta", "partial_json": text[i : i + 3]},
                }
                for i in range(0, len(text), 3)
            ]
            expected_calls.append((f"t{index}", value))
        else:
            delta_type, key = ("text_delta", "text") if kind == "text" else ("thinking_delta", "thinking")
            payloads.append({"type": "content_block_start", "index": index, "content_block": {"type": kind}})
            payloads += [
                {"type": "content_block_delta", "index": index, "delta": {"type": delta_type, key: v}} for v in value
            ]
        payloads.append({"type": "content_block_stop", "index": index})
    payloads += [{"type": "message_delta", "delta": {"stop_reason": stop}}, {"type": "message_stop"}]

    chunks = openai_chunks_from_claude(claude_sse(*payloads), chunking)
    wire = b"".join(encode_openai_chunk(c) for c in chunks) + OPENAI_DONE
    parser, sse = openai_chat.OpenAIChatStreamParser(), SSEParser()
    events = [ev for s in [*sse.feed(wire), *sse.finish()] for ev in parser.feed_data(s.data)]
    response = collect_response(events)

    assert "".join(p.text for p in response.parts if isinstance(p, TextPart)) == "".join(
        "".join(v) for k, v in blocks if k == "text"
    )
    assert "".join(p.text for p in response.parts if isinstance(p, ThinkingPart)) == "".join(
        "".join(v) for k, v in blocks if k == "thinking"
    )
    calls = [p for p in response.parts if isinstance(p, ToolCallPart)]
    assert [(c.id, orjson.loads(c.arguments)) for c in calls] == expected_calls
    # lossless subset of the finish tables: end_turn<->stop, max_tokens<->length, tool_use<->tool_calls
    assert response.finish == FinishReason(
        {"end_turn": "stop", "max_tokens": "length", "tool_use": "tool_calls"}[stop], Format.OPENAI
    )
    back = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}[response.finish.native]
    assert back == stop
