"""Claude Messages: client parsing, upstream request rendering (OpenAI client), upstream SSE parsing,
client rendering from an OpenAI-compatible upstream. Each vector cites its reference section."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest

from handlers.inference.pair_table import default_pairs
from handlers.inference.translate import TranslateInput
from handlers.translation import claude, openai_chat
from handlers.translation.model import (
    Finish,
    FinishReason,
    Format,
    ImagePart,
    MessageStart,
    Role,
    SignatureDelta,
    StreamError,
    TextDelta,
    TextPart,
    ThinkingConfig,
    ThinkingDelta,
    ThinkingMode,
    ThinkingPart,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallPart,
    ToolCallStart,
    ToolResultPart,
)
from handlers.translation.sse import SSEParser, encode_claude_event

USER_ID = "user_" + "a" * 64 + "_account_00000000-0000-0000-0000-000000000000_session_1"


def to_claude(body: dict[str, Any], *, stream: bool = False) -> dict[str, Any]:
    """OpenAI chat client body -> Claude upstream body."""
    return claude.render_request(openai_chat.parse_request(body), "claude-x", stream=stream, user_id=USER_ID)


# --- OpenAI chat -> Claude request (A2.1) -----------------------------------------------------


def test_skeleton_defaults_and_key_order() -> None:
    # golden 1: default max_tokens 32000, string content -> one text block
    out = claude.render_request(
        openai_chat.parse_request({"model": "m", "messages": [{"role": "user", "content": "hi"}]}),
        "claude-x",
        stream=False,
    )
    assert out["max_tokens"] == 32000
    assert out["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
    assert re.fullmatch(r"user_[0-9a-f]{64}_account_[0-9a-f-]{36}_session_[0-9a-f-]{36}", out["metadata"]["user_id"])
    assert list(out) == ["model", "max_tokens", "messages", "metadata", "stream"]
    assert out["model"] == "claude-x" and out["stream"] is False


def test_fake_user_id_is_stable_for_the_process() -> None:
    # A2.1 skeleton: one fake user id per process
    assert claude.fake_user_id() == claude.fake_user_id()


def test_sampling_fields_and_order() -> None:
    out = to_claude(
        {
            "messages": [],
            "max_tokens": 100,
            "max_completion_tokens": 5,  # A2.1: not read
            "temperature": 1,
            "top_p": 0.5,
            "reasoning_effort": "low",
            "stop": "END",
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
            "tool_choice": "auto",
        },
        stream=True,
    )
    assert list(out) == [
        "model",
        "max_tokens",
        "messages",
        "metadata",
        "thinking",
        "temperature",
        "top_p",
        "stop_sequences",
        "stream",
        "tools",
        "tool_choice",
    ]
    assert out["max_tokens"] == 100
    assert out["temperature"] == 1 and isinstance(out["temperature"], int)  # Go prints 1, not 1.0
    assert out["top_p"] == 0.5
    assert out["stop_sequences"] == ["END"]  # golden 2
    assert out["stream"] is True


def test_stop_array() -> None:
    assert to_claude({"messages": [], "stop": ["a", "b"]})["stop_sequences"] == ["a", "b"]  # golden 2
    assert "stop_sequences" not in to_claude({"messages": [], "stop": []})


@pytest.mark.parametrize(
    ("effort", "thinking"),
    [
        ("high", {"type": "enabled", "budget_tokens": 24576}),  # golden 3
        ("none", {"type": "disabled"}),
        ("auto", {"type": "enabled"}),
        (" Medium ", {"type": "enabled", "budget_tokens": 8192}),  # trimmed and lower-cased
        ("minimal", {"type": "enabled", "budget_tokens": 512}),
        ("xhigh", {"type": "enabled", "budget_tokens": 32768}),
        ("ultra", None),  # unknown level: no thinking field
        ("", None),
    ],
)
def test_reasoning_effort_to_thinking(effort: str, thinking: dict[str, Any] | None) -> None:
    assert to_claude({"messages": [], "reasoning_effort": effort}).get("thinking") == thinking


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("required", {"type": "any"}),  # golden 4
        ("auto", {"type": "auto"}),
        ("none", None),
        ({"type": "function", "function": {"name": "f"}}, {"type": "tool", "name": "f"}),
        ("weird", None),
    ],
)
def test_tool_choice(choice: Any, expected: dict[str, Any] | None) -> None:
    # A2.1 tool_choice row, golden 4
    assert to_claude({"messages": [], "tool_choice": choice}).get("tool_choice") == expected


def test_tool_call_without_id_and_bad_arguments() -> None:
    # golden 5: generated toolu_ id, invalid / non-object arguments -> {}
    out = to_claude(
        {
            "messages": [
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"id": "", "type": "function", "function": {"name": "f", "arguments": "not json"}},
                        {"id": "c2", "type": "function", "function": {"name": "g", "arguments": "[1]"}},
                        {"id": "c3", "type": "function", "function": {"name": "h", "arguments": '{"a":1}'}},
                        {"id": "c4", "type": "function", "function": {"name": "k"}},
                        {"id": "c5", "type": "custom", "function": {"name": "skip"}},
                    ],
                }
            ]
        }
    )
    blocks = out["messages"][0]["content"]
    assert re.fullmatch(r"toolu_[A-Za-z0-9]{24}", blocks[0]["id"])
    assert blocks[0] == {"type": "tool_use", "id": blocks[0]["id"], "name": "f", "input": {}}
    assert blocks[1] == {"type": "tool_use", "id": "c2", "name": "g", "input": {}}
    assert blocks[2] == {"type": "tool_use", "id": "c3", "name": "h", "input": {"a": 1}}
    assert blocks[3] == {"type": "tool_use", "id": "c4", "name": "k", "input": {}}
    assert len(blocks) == 4


def test_tool_message_becomes_user_tool_result() -> None:
    # golden 6; each tool message is its own user message (not merged)
    out = to_claude(
        {
            "messages": [
                {"role": "tool", "tool_call_id": "c1", "content": "ok"},
                {"role": "tool", "tool_call_id": "c2", "content": [{"type": "text", "text": "x"}]},
            ]
        }
    )
    assert out["messages"] == [
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "c1", "content": "ok"}]},
        # array content is passed as its JSON text (gjson String() of an array)
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "c2", "content": '[{"type":"text","text":"x"}]'}],
        },
    ]


def test_images_data_url_kept_remote_dropped() -> None:
    # golden 7
    out = to_claude(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "look"},
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAA"}},
                        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,A,B"}},  # two commas
                        {"type": "image_url", "image_url": {"url": ""}},
                    ],
                }
            ]
        }
    )
    assert out["messages"][0]["content"] == [
        {"type": "text", "text": "look"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAA"}},
    ]


def test_system_messages_merge_into_one_user_message_at_first_position() -> None:
    # A2.1: not top-level "system"; one synthetic user message where the first system message was
    out = to_claude(
        {
            "messages": [
                {"role": "user", "content": "first"},
                {"role": "system", "content": "S1"},
                {"role": "assistant", "content": "mid"},
                {"role": "system", "content": [{"type": "text", "text": "S2"}, {"type": "image_url"}]},
                {"role": "developer", "content": "dropped"},
                {"role": "system", "content": ""},
            ]
        }
    )
    assert "system" not in out
    assert out["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "first"}]},
        {"role": "user", "content": [{"type": "text", "text": "S1"}, {"type": "text", "text": "S2"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "mid"}]},
    ]


def test_empty_string_content_gives_empty_block_list() -> None:
    # A2.1: string content becomes a text block only when non-empty
    out = to_claude({"messages": [{"role": "user", "content": ""}]})
    assert out["messages"] == [{"role": "user", "content": []}]


def test_tools_mapping() -> None:
    # A2.1: parameters or parametersJsonSchema -> input_schema; non-function tools skipped
    out = to_claude(
        {
            "messages": [],
            "tools": [
                {"type": "function", "function": {"name": "a", "description": "d", "parameters": {"type": "object"}}},
                {"type": "function", "function": {"name": "b", "parametersJsonSchema": {"type": "object"}}},
                {"type": "function", "function": {"name": "c"}},
                {"type": "web_search"},
            ],
        }
    )
    assert out["tools"] == [
        {"name": "a", "description": "d", "input_schema": {"type": "object"}},
        {"name": "b", "description": "", "input_schema": {"type": "object"}},
        {"name": "c", "description": ""},
    ]
    assert "tools" not in to_claude({"messages": [], "tools": [{"type": "web_search"}]})


# --- Claude client request -> internal --------------------------------------------------------


def test_parse_claude_request() -> None:
    req = claude.parse_request(
        {
            "model": "claude-sonnet-4-5",
            "system": [{"type": "text", "text": "be brief"}],
            "max_tokens": 1024,
            "stop_sequences": ["x"],
            "stream": 1,
            "thinking": {"type": "enabled", "budget_tokens": 8192},
            "messages": [
                {"role": "user", "content": "hi"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                        {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}},
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "t1", "content": "ok"},
                        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA"}},
                    ],
                },
            ],
            "tool_choice": {"type": "any"},
            "metadata": {"user_id": "u"},
        }
    )
    assert req.source is Format.CLAUDE
    assert req.stream is True  # surface §6: any non-false "stream" streams
    assert req.thinking == ThinkingConfig(ThinkingMode.BUDGET, budget=8192)
    assert req.stop == ["x"]
    assert [m.role for m in req.messages] == [Role.SYSTEM, Role.USER, Role.ASSISTANT, Role.USER]
    assert req.messages[1].plain is True
    assert req.messages[2].parts == [ThinkingPart("hmm", "sig"), ToolCallPart("t1", "f", '{"a":1}')]
    assert req.messages[3].parts == [ToolResultPart("t1", "ok"), ImagePart(media_type="image/png", data="AA")]
    assert req.tool_choice is not None and req.tool_choice.mode == "required"
    assert req.extra == {"metadata": {"user_id": "u"}}


@pytest.mark.parametrize(("value", "streams"), [(True, True), ("x", True), (None, True), (False, False)])
def test_claude_stream_flag(value: Any, streams: bool) -> None:
    # surface §6: Claude streams iff stream exists and is not JSON false
    assert claude.parse_request({"stream": value}).stream is streams
    assert claude.parse_request({}).stream is False


def test_parse_thinking_variants() -> None:
    assert claude.parse_request({"thinking": {"type": "enabled"}}).thinking == ThinkingConfig(ThinkingMode.AUTO, -1)
    assert claude.parse_request({"thinking": {"type": "disabled"}}).thinking == ThinkingConfig(ThinkingMode.NONE)
    assert claude.parse_request({"thinking": {"type": "adaptive"}}).thinking is None


# --- Claude upstream SSE -> internal events (A2.2) --------------------------------------------


def claude_sse(*payloads: dict[str, Any]) -> bytes:
    return b"".join(encode_claude_event(p["type"], p) for p in payloads)


TOOL_STREAM = claude_sse(
    {"type": "message_start", "message": {"id": "msg_1", "model": "claude-up", "usage": {"input_tokens": 3}}},
    {"type": "ping"},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
    {"type": "content_block_stop", "index": 0},
    {"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "t1", "name": "f"}},
    {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": '{"a":'}},
    {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "1}"}},
    {"type": "content_block_stop", "index": 1},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "tool_use"},
        "usage": {
            "input_tokens": 10,
            "output_tokens": 5,
            "cache_read_input_tokens": 3,
            "cache_creation_input_tokens": 2,
        },
    },
    {"type": "message_stop"},
)


def parse_claude_stream(body: bytes) -> list[Any]:
    sse, parser = SSEParser(), claude.ClaudeStreamParser()
    return [ev for s in [*sse.feed(body), *sse.finish()] for ev in parser.feed_sse(s)]


def test_claude_stream_parser_events() -> None:
    events = parse_claude_stream(TOOL_STREAM)
    assert events[:6] == [
        MessageStart("msg_1", "claude-up"),
        TextDelta("Hi"),
        ToolCallStart(1, "t1", "f"),
        ToolCallDelta(1, '{"a":'),
        ToolCallDelta(1, "1}"),
        ToolCallEnd(1),
    ]
    finish = events[6]
    assert isinstance(finish, Finish) and finish.reason == FinishReason("tool_use", Format.CLAUDE)
    assert finish.usage is not None and finish.usage.cache_creation_tokens == 2
    assert len(events) == 7  # ping and message_stop produce nothing (golden 22)


def test_claude_stream_parser_thinking_signature_error_and_garbage() -> None:
    # A2.2 event table (thinking_delta, error) and A3.3 signature_delta
    parser = claude.ClaudeStreamParser()
    assert parser.feed(
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "x"}}
    ) == [ThinkingDelta("x")]
    assert parser.feed(
        {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "s"}}
    ) == [SignatureDelta("s")]
    # input_json_delta for a block that never started as tool_use is ignored
    assert (
        parser.feed(
            {"type": "content_block_delta", "index": 4, "delta": {"type": "input_json_delta", "partial_json": "{"}}
        )
        == []
    )
    assert parser.feed({"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}) == [
        StreamError("busy", "overloaded_error")
    ]
    from handlers.translation.sse import SSEEvent

    assert parser.feed_sse(SSEEvent("not json")) == []


def test_parse_stream_body_aggregates() -> None:
    # A2.2 non-stream: the Claude executor streams upstream and folds the SSE
    resp = claude.parse_stream_body(TOOL_STREAM)
    assert (resp.id, resp.model) == ("msg_1", "claude-up")
    assert resp.parts == [TextPart("Hi"), ToolCallPart("t1", "f", '{"a":1}')]
    assert resp.finish == FinishReason("tool_use", Format.CLAUDE)
    payloads = [orjson.loads(line[6:]) for line in TOOL_STREAM.split(b"\n") if line.startswith(b"data: ")]
    assert claude.parse_stream_payloads([*payloads, None, "not an object"]) == resp
    assert claude.parse_payload_events(payloads, start_usage=True) == claude.parse_stream_events(
        TOOL_STREAM, start_usage=True)


# --- OpenAI upstream -> Claude client (A2.12) -------------------------------------------------


def openai_sse(*chunks: dict[str, Any] | str) -> bytes:
    return b"".join(b"data: " + (c.encode() if isinstance(c, str) else orjson.dumps(c)) + b"\n\n" for c in chunks)


def claude_frames_from_openai(body: bytes, chunking: int | None = None) -> list[tuple[str, dict[str, Any]]]:
    sse, parser, renderer = SSEParser(), openai_chat.OpenAIChatStreamParser(), claude.ClaudeStreamRenderer()
    pieces = [body] if chunking is None else [body[i : i + chunking] for i in range(0, len(body), chunking)]
    frames = []
    for piece in pieces:
        for s in sse.feed(piece):
            for ev in parser.feed_data(s.data):
                frames.extend(renderer.feed(ev))
    for s in sse.finish():
        for ev in parser.feed_data(s.data):
            frames.extend(renderer.feed(ev))
    return frames


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    choice: dict[str, Any] = {"index": 0, "delta": delta or {}, "finish_reason": finish}
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-up",
        "choices": [choice],
        **extra,
    }


GOLDEN_27 = openai_sse(
    chunk(
        {"role": "assistant", "tool_calls": [{"index": 0, "id": "c", "function": {"name": "f", "arguments": '{"a"'}}]}
    ),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": ":1}"}}]}),
    chunk({}, "tool_calls"),
    {
        "id": "chatcmpl-1",
        "choices": [],
        "usage": {"prompt_tokens": 10, "completion_tokens": 2, "prompt_tokens_details": {"cached_tokens": 4}},
    },
    "[DONE]",
)

GOLDEN_27_FRAMES = [
    (
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": "chatcmpl-1",
                "type": "message",
                "role": "assistant",
                "model": "gpt-up",
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": 0, "output_tokens": 0},
            },
        },
    ),
    (
        "content_block_start",
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "tool_use", "id": "c", "name": "f", "input": {}},
        },
    ),
    (
        "content_block_delta",
        {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": '{"a":1}'}},
    ),
    ("content_block_stop", {"type": "content_block_stop", "index": 0}),
    (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use", "stop_sequence": None},
            "usage": {"input_tokens": 6, "output_tokens": 2, "cache_read_input_tokens": 4},
        },
    ),
    ("message_stop", {"type": "message_stop"}),
]


@pytest.mark.parametrize("chunking", [None, 1, 7])
def test_golden_27_openai_tool_stream_to_claude(chunking: int | None) -> None:
    # golden 27: one input_json_delta at close; message_stop right after the usage chunk; [DONE] adds nothing
    assert claude_frames_from_openai(GOLDEN_27, chunking) == GOLDEN_27_FRAMES


def test_golden_27_wire_bytes() -> None:
    wire = b"".join(encode_claude_event(name, payload) for name, payload in claude_frames_from_openai(GOLDEN_27))
    assert wire.startswith(b'event: message_start\ndata: {"type":"message_start","message":{"id":"chatcmpl-1",')
    assert wire.endswith(b'event: message_stop\ndata: {"type":"message_stop"}\n\n')


def test_thinking_then_text_switches_blocks_and_done_without_usage() -> None:
    # A2.12: reasoning -> thinking block; text closes it; [DONE] sends message_delta without usage then stop
    frames = claude_frames_from_openai(
        openai_sse(
            chunk({"role": "assistant", "reasoning_content": "think"}),
            chunk({"content": "Hel"}),
            chunk({"content": "lo"}),
            chunk({"reasoning_content": [{"text": "again"}]}),
            chunk({}, "length"),
            "[DONE]",
        )
    )
    assert [(name, p.get("index")) for name, p in frames] == [
        ("message_start", None),
        ("content_block_start", 0),
        ("content_block_delta", 0),
        ("content_block_stop", 0),
        ("content_block_start", 1),
        ("content_block_delta", 1),
        ("content_block_delta", 1),
        ("content_block_stop", 1),
        ("content_block_start", 2),
        ("content_block_delta", 2),
        ("content_block_stop", 2),
        ("message_delta", None),
        ("message_stop", None),
    ]
    assert frames[1][1]["content_block"] == {"type": "thinking", "thinking": ""}
    assert frames[2][1]["delta"] == {"type": "thinking_delta", "thinking": "think"}
    assert frames[4][1]["content_block"] == {"type": "text", "text": ""}
    assert frames[6][1]["delta"] == {"type": "text_delta", "text": "lo"}
    assert frames[9][1]["delta"] == {"type": "thinking_delta", "thinking": "again"}
    assert frames[11][1] == {"type": "message_delta", "delta": {"stop_reason": "max_tokens", "stop_sequence": None}}


def test_finish_chunk_with_usage_sends_delta_once() -> None:
    # A2.12: message_delta with usage then message_stop, each at most once
    frames = claude_frames_from_openai(
        openai_sse(
            chunk({"content": "x"}),
            chunk({}, "stop", usage={"prompt_tokens": 5, "completion_tokens": 1}),
            {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 1}},
            "[DONE]",
        )
    )
    names = [name for name, _ in frames]
    assert names.count("message_delta") == 1 and names.count("message_stop") == 1
    assert frames[-2][1]["usage"] == {"input_tokens": 5, "output_tokens": 1}
    assert frames[-2][1]["delta"]["stop_reason"] == "end_turn"


def test_usage_before_finish_is_ignored_and_done_without_finish_only_stops() -> None:
    # A2.12: usage counts only after a finish_reason; [DONE] sends message_stop
    frames = claude_frames_from_openai(
        openai_sse(chunk({"content": "x"}, usage={"prompt_tokens": 1, "completion_tokens": 1}), "[DONE]")
    )
    assert [name for name, _ in frames] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_stop",
    ]


def test_two_tool_calls_get_their_own_blocks_after_text() -> None:
    # A2.12: tool blocks per OpenAI index, one input_json_delta at close; util.FixJSON
    frames = claude_frames_from_openai(
        openai_sse(
            chunk({"content": "let me"}),
            chunk({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "f", "arguments": ""}}]}),
            chunk({"tool_calls": [{"index": 1, "id": "b", "function": {"name": "g", "arguments": "{'q': 'x'}"}}]}),
            chunk({}, "tool_calls"),
            "[DONE]",
        )
    )
    starts = [(p["index"], p["content_block"]) for name, p in frames if name == "content_block_start"]
    assert starts == [
        (0, {"type": "text", "text": ""}),
        (1, {"type": "tool_use", "id": "a", "name": "f", "input": {}}),
        (2, {"type": "tool_use", "id": "b", "name": "g", "input": {}}),
    ]
    deltas = [p for name, p in frames if name == "content_block_delta" and p["delta"]["type"] == "input_json_delta"]
    # the call without arguments sends no input_json_delta; single quotes are repaired (util.FixJSON)
    assert deltas == [
        {"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": '{"q": "x"}'}}
    ]
    assert frames[-2][1]["delta"]["stop_reason"] == "tool_use"


def test_text_and_thinking_after_a_tool_call_leave_its_block_open_until_the_finish() -> None:
    # openai_claude_response.go:170-243, 260-283: text and thinking close each other, never a
    # tool_use block; the call's block keeps its index and gets its input at the finish.
    frames = claude_frames_from_openai(
        openai_sse(
            chunk({"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "f", "arguments": "{}"}}]}),
            chunk({"content": "after"}),
            chunk({"reasoning_content": "think"}),
            chunk({"content": "more"}),
            chunk({}, "tool_calls"),
            "[DONE]",
        )
    )
    assert [(name, p.get("index")) for name, p in frames] == [
        ("message_start", None),
        ("content_block_start", 0),
        ("content_block_start", 1),
        ("content_block_delta", 1),
        ("content_block_stop", 1),
        ("content_block_start", 2),
        ("content_block_delta", 2),
        ("content_block_stop", 2),
        ("content_block_start", 3),
        ("content_block_delta", 3),
        ("content_block_stop", 3),
        ("content_block_delta", 0),
        ("content_block_stop", 0),
        ("message_delta", None),
        ("message_stop", None),
    ]
    assert frames[1][1]["content_block"] == {"type": "tool_use", "id": "c1", "name": "f", "input": {}}
    assert frames[5][1]["content_block"] == {"type": "thinking", "thinking": ""}
    assert frames[11][1]["delta"] == {"type": "input_json_delta", "partial_json": "{}"}
    assert frames[-2][1]["delta"]["stop_reason"] == "tool_use"


def test_a_null_id_or_name_in_a_later_tool_chunk_names_nothing() -> None:
    # Compatibility row 40: the legacy String()-reads a present null (openai_claude_response.go:
    # 211-229), so each such chunk opened another tool_use block with id and name "". Here a null
    # is absent: one block, with the whole arguments.
    frames = claude_frames_from_openai(
        openai_sse(
            chunk({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                   "function": {"name": "get_weather", "arguments": ""}}]}),
            chunk({"tool_calls": [{"index": 0, "id": None, "type": None,
                                   "function": {"name": None, "arguments": '{"location":"P"}'}}]}),
            chunk({"tool_calls": [{"index": 0, "id": None, "function": {"name": None, "arguments": ""}}]}),
            chunk({}, "tool_calls"),
            "[DONE]",
        )
    )
    starts = [p["content_block"] for name, p in frames if name == "content_block_start"]
    assert starts == [{"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {}}]
    deltas = [p["delta"] for name, p in frames if name == "content_block_delta"]
    assert deltas == [{"type": "input_json_delta", "partial_json": '{"location":"P"}'}]
    # An empty string is still a value, as the legacy reads it: a block named "" opens.
    frames = claude_frames_from_openai(openai_sse(
        chunk({"tool_calls": [{"index": 0, "id": "c", "function": {"name": "f", "arguments": ""}}]}),
        chunk({"tool_calls": [{"index": 0, "id": "", "function": {"name": "", "arguments": "{}"}}]}), "[DONE]"))
    assert [(p["content_block"]["id"], p["content_block"]["name"])
            for name, p in frames if name == "content_block_start"] == [("c", "f"), ("", "")]
    # A number id is its JSON text, as String() gives it.
    frames = claude_frames_from_openai(openai_sse(
        chunk({"tool_calls": [{"index": 0, "id": 7, "function": {"name": "f", "arguments": ""}}]}), "[DONE]"))
    assert [p["content_block"]["id"] for name, p in frames if name == "content_block_start"] == ["7"]


def test_stream_error_event_renders_anthropic_error() -> None:
    # surface §5: Claude mid-stream error shape
    assert claude.ClaudeStreamRenderer().feed(StreamError("boom", "x")) == [
        ("error", {"type": "error", "error": {"type": "api_error", "message": "boom"}})
    ]


def test_non_stream_openai_completion_to_claude() -> None:
    # A2.12 non-stream: text first, then reasoning_content, then tool calls; usage with cache moved out
    body = {
        "id": "chatcmpl-9",
        "model": "gpt-up",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "answer",
                    "reasoning_content": "because",
                    "tool_calls": [
                        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}},
                        {"id": "c2", "type": "function", "function": {"name": "g", "arguments": "oops"}},
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 20, "completion_tokens": 4, "prompt_tokens_details": {"cached_tokens": 5}},
    }
    assert claude.render_response(openai_chat.parse_response(body)) == {
        "id": "chatcmpl-9",
        "type": "message",
        "role": "assistant",
        "model": "gpt-up",
        "content": [
            {"type": "text", "text": "answer"},
            {"type": "thinking", "thinking": "because"},
            {"type": "tool_use", "id": "c1", "name": "f", "input": {"a": 1}},
            {"type": "tool_use", "id": "c2", "name": "g", "input": {}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 15, "output_tokens": 4, "cache_read_input_tokens": 5},
    }


@pytest.mark.parametrize(
    ("choice_extra", "stop_reason"),
    [
        ({"finish_reason": "length"}, "max_tokens"),
        ({"finish_reason": "content_filter"}, "end_turn"),
        ({"finish_reason": None}, "end_turn"),  # present but null -> mapped "" -> end_turn
        ({}, "end_turn"),
    ],
)
def test_non_stream_stop_reasons(choice_extra: dict[str, Any], stop_reason: str) -> None:
    # A2.12 finish map / A2.16
    body = {"id": "x", "model": "m", "choices": [{"message": {"content": "t"}, **choice_extra}]}
    out = claude.render_response(openai_chat.parse_response(body))
    assert out["stop_reason"] == stop_reason
    assert out["usage"] == {"input_tokens": 0, "output_tokens": 0}


def test_non_stream_tool_calls_without_finish_reason_mean_tool_use() -> None:
    # A2.12 non-stream: no finish_reason + tool calls -> tool_use
    body = {"choices": [{"message": {"tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{}"}}]}}]}
    assert claude.render_response(openai_chat.parse_response(body))["stop_reason"] == "tool_use"


def test_non_stream_content_array_items() -> None:
    # A2.12 non-stream: content arrays flush text/reasoning runs in order
    body = {
        "choices": [
            {
                "message": {
                    "content": [
                        {"type": "reasoning", "text": "r1"},
                        {"type": "text", "text": "a"},
                        {"type": "text", "text": "b"},
                        {
                            "type": "tool_calls",
                            "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{}"}}],
                        },
                        {"type": "text", "text": ""},
                    ]
                },
                "finish_reason": "stop",
            }
        ]
    }
    assert claude.render_response(openai_chat.parse_response(body))["content"] == [
        {"type": "thinking", "thinking": "r1"},
        {"type": "text", "text": "ab"},
        {"type": "tool_use", "id": "c", "name": "f", "input": {}},
    ]


def test_count_tokens() -> None:
    assert claude.render_count_tokens(42) == {"input_tokens": 42}  # golden 30


@pytest.mark.parametrize(
    ("raw", "fixed"),
    [
        ('{"a":1}', '{"a":1}'),
        ("{'a': 'b'}", '{"a": "b"}'),
        ("{'say': 'he said \"hi\"'}", '{"say": "he said \\"hi\\""}'),
        ("{'it\\'s': 1}", '{"it\'s": 1}'),
        ("{'u': '\\u00e9'}", '{"u": "\\u00e9"}'),
        ("{'open", '{"open"'),
    ],
)
def test_fix_json(raw: str, fixed: str) -> None:
    # A2.12: tool arguments pass through util.FixJSON
    assert claude.fix_json(raw) == fixed


# --- properties -------------------------------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from handlers.translation.model import collect_response  # noqa: E402

_json = st.recursive(
    st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None)
@given(_json)
def test_fix_json_leaves_valid_json_alone(value: Any) -> None:
    # A2.12: util.FixJSON is the identity on valid JSON
    text = orjson.dumps(value).decode()
    assert claude.fix_json(text) == text


_piece = st.text(min_size=1, max_size=6)
_step = st.one_of(
    st.tuples(st.just("text"), _piece),
    st.tuples(st.just("thinking"), _piece),
    st.tuples(
        st.just("tool"),
        st.dictionaries(st.text(max_size=5), st.integers(-(2**40), 2**40) | st.text(max_size=5), max_size=3),
    ),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_step, max_size=8), st.data())
def test_openai_stream_to_claude_keeps_text_thinking_and_tool_calls(steps: list[tuple[str, Any]], data: Any) -> None:
    """OpenAI chunks -> Claude frames -> (wire) -> Claude parser: nothing is lost or reordered."""
    # A2.12 + A2.2: round trip through the Claude wire format
    chunks: list[dict[str, Any] | str] = []
    calls: list[tuple[str, str, Any]] = []
    for kind, value in steps:
        if kind == "text":
            chunks.append(chunk({"content": value}))
        elif kind == "thinking":
            chunks.append(chunk({"reasoning_content": value}))
        else:
            index = len(calls)
            arguments = orjson.dumps(value).decode()
            cut = data.draw(st.integers(0, len(arguments)))
            call_id, name = f"call_{index}", f"fn_{index}"
            head = {"index": index, "id": call_id, "function": {"name": name, "arguments": arguments[:cut]}}
            chunks.append(chunk({"tool_calls": [head]}))
            chunks.append(chunk({"tool_calls": [{"index": index, "function": {"arguments": arguments[cut:]}}]}))
            calls.append((call_id, name, value))
    finish = "tool_calls" if calls else data.draw(st.sampled_from(["stop", "length"]))
    chunks += [chunk({}, finish, usage={"prompt_tokens": 3, "completion_tokens": 4}), "[DONE]"]
    frames = claude_frames_from_openai(openai_sse(*chunks), data.draw(st.sampled_from([None, 1, 13])))
    wire = b"".join(encode_claude_event(name, payload) for name, payload in frames)
    response = claude.parse_stream_body(wire)
    # The pipeline's non-stream fold from already-decoded payloads must give the same answer.
    assert claude.parse_stream_payloads([payload for _, payload in frames]) == response

    text = "".join(v for k, v in steps if k == "text")
    thinking = "".join(v for k, v in steps if k == "thinking")
    assert "".join(p.text for p in response.parts if isinstance(p, TextPart)) == text
    assert "".join(p.text for p in response.parts if isinstance(p, ThinkingPart)) == thinking
    got_calls = [
        (p.id, p.name, orjson.loads(p.arguments) if p.arguments not in ("", "{}") else {})
        for p in response.parts
        if isinstance(p, ToolCallPart)
    ]
    assert got_calls == [(i, n, v) for i, n, v in calls]
    assert response.finish == FinishReason(
        {"tool_calls": "tool_use", "stop": "end_turn", "length": "max_tokens"}[finish], Format.CLAUDE
    )
    assert [name for name, _ in frames].count("message_stop") == 1
    # block indexes are opened in increasing order and every opened block is closed exactly once
    starts = [p["index"] for name, p in frames if name == "content_block_start"]
    stops = [p["index"] for name, p in frames if name == "content_block_stop"]
    assert starts == sorted(starts) == list(range(len(starts)))
    assert sorted(stops) == starts
    assert collect_response([]).parts == []


def test_integers_beyond_64_bits_survive() -> None:
    # A2.15: tool_use input is forwarded as JSON text whatever its numbers
    # orjson refuses them; sse.dumps falls back so a stdlib-parsed body still translates
    req = claude.parse_request(
        {
            "messages": [
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {"n": 2**70}}]}
            ]
        }
    )
    assert req.messages[0].parts == [ToolCallPart("t", "f", '{"n":1180591620717411303424}')]


@pytest.mark.parametrize(("budget", "openai", "codex"), [
    (2000, "medium", "medium"),
    ("2000", "medium", "medium"),  # gjson Int() parses a numeric string
    (None, "none", "none"),  # and reads null as 0
    ("lots", "none", "none"),
])
def test_a_budget_that_is_not_a_json_number_is_read_as_gjson_int(budget: Any, openai: str, codex: str) -> None:
    """openai_claude_request.go:69 and codex_claude_request.go:226 read ``budget_tokens`` with
    ``Int()``; the Gemini-family translators take only a number (gemini_claude_request.go:158)."""
    body = {"model": "m", "max_tokens": 100, "thinking": {"type": "enabled", "budget_tokens": budget},
            "messages": [{"role": "user", "content": "hi"}]}
    pairs = default_pairs()

    def upstream(fmt: Format) -> dict[str, Any]:
        factory = pairs(Format.CLAUDE, fmt)
        assert factory is not None
        return factory(TranslateInput(body=body, model="m", client_model="m", stream=False)).upstream_body

    assert upstream(Format.OPENAI)["reasoning_effort"] == openai
    assert upstream(Format.CODEX)["reasoning"]["effort"] == codex
    thinking = upstream(Format.GEMINI).get("generationConfig", {}).get("thinkingConfig")
    assert thinking == ({"thinkingBudget": 2000, "includeThoughts": True} if budget == 2000 else None)


@pytest.mark.parametrize("value", [None, "100"])
def test_gemini_generation_numbers_that_are_not_numbers_are_left_out_for_claude(value: Any) -> None:
    """Compatibility row 19g, Gemini client: the legacy reads ``maxOutputTokens`` with ``Int()``
    (null -> ``max_tokens: 0``, which Claude refuses); here it counts as unset."""
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}],
            "generationConfig": {"maxOutputTokens": value, "temperature": value, "topP": value}}
    factory = default_pairs()(Format.GEMINI, Format.CLAUDE)
    assert factory is not None
    out = factory(TranslateInput(body=body, model="claude-sonnet-4-5", client_model="c", stream=False)).upstream_body
    assert out["max_tokens"] == claude.DEFAULT_MAX_TOKENS
    assert "temperature" not in out and "top_p" not in out
