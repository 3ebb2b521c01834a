"""Per-protocol SSE encoders, checked through the shared parser (its own tests: tests/quotio_gateway/test_sse.py)."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handlers.translation.sse import (
    KEEPALIVE,
    OPENAI_DONE,
    RESPONSES_END,
    SSEEvent,
    SSEParser,
    encode_claude_error,
    encode_claude_event,
    encode_gemini_chunk,
    encode_gemini_error,
    encode_openai_chunk,
    encode_responses_event,
    json_text,
    loads_upstream,
)
from quotio_gateway import sse as shared_sse
from tests.quotio_gateway.test_sse import parse_all


def test_comments_and_keepalives_are_skipped() -> None:
    # surface §6: keep-alive comments
    assert parse_all(b": keep-alive\n\n:x\ndata: 1\n\n" + KEEPALIVE) == [SSEEvent("1")]


def test_parser_is_the_shared_one() -> None:
    assert (SSEParser, SSEEvent) == (shared_sse.SSEParser, shared_sse.SSEEvent)


def test_openai_framing_and_done() -> None:
    # surface §6 OpenAI chat framing
    assert encode_openai_chunk({"a": "é"}) == 'data: {"a":"é"}\n\n'.encode()
    assert OPENAI_DONE == b"data: [DONE]\n\n"


def test_claude_framing_and_error_frame() -> None:
    assert encode_claude_event("message_stop", {"type": "message_stop"}) == (
        b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    )
    # surface §5: Claude mid-stream error uses the Anthropic error shape with api_error.
    assert encode_claude_error("boom") == (
        b'event: error\ndata: {"type":"error","error":{"type":"api_error","message":"boom"}}\n\n'
    )
    # json.Marshal writes it (code_handlers.go:286): <, >, & escaped; a byte that is not UTF-8
    # (kept by surrogateescape) becomes \ufffd.
    text = b'{"error":{"message":"a < b & c"}} caf\xe9'.decode("utf-8", "surrogateescape")
    assert encode_claude_error(text) == (
        b'event: error\ndata: {"type":"error","error":{"type":"api_error","message":'
        b'"{\\"error\\":{\\"message\\":\\"a \\u003c b \\u0026 c\\"}} caf\\ufffd"}}\n\n'
    )


def test_responses_framing() -> None:
    # surface §6: writer prepends "\n" to event chunks and appends "\n"; the stream ends with "\n".
    assert encode_responses_event("response.created", {"x": 1}) == b'\nevent: response.created\ndata: {"x":1}\n'
    assert RESPONSES_END == b"\n"


def test_gemini_framing_by_alt() -> None:
    # surface §6 Gemini rows (alt)
    assert encode_gemini_chunk({"a": 1}) == b'data: {"a":1}\n\n'
    assert encode_gemini_chunk({"a": 1}, alt="sse") == b'data: {"a":1}\n\n'
    assert encode_gemini_chunk({"a": 1}, alt="json") == b'{"a":1}'
    assert encode_gemini_error(b'{"e":1}') == b'event: error\ndata: {"e":1}\n\n'
    assert encode_gemini_error(b'{"e":1}', alt="json") == b'{"e":1}'


_json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20)
_json_values = st.recursive(
    _json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["message_start", "content_block_delta", "x.y"]),
    _json_values,
    st.integers(1, 9),
)
def test_encoded_frames_parse_back_to_the_same_payload(name: str, payload: object, step: int) -> None:
    # surface §6 framings round-trip through the parser
    import orjson

    wire = encode_claude_event(name, payload) + encode_openai_chunk(payload) + encode_responses_event(name, payload)
    events = parse_all(*(wire[i : i + step] for i in range(0, len(wire), step)))
    assert [(e.event, orjson.loads(e.data)) for e in events] == [(name, payload), ("", payload), (name, payload)]


def test_json_text_writes_what_orjson_refuses_to_nest() -> None:
    deep: object = 0
    for _ in range(300):
        deep = [deep]
    value = {"functionCall": {"args": {"a": deep}}}
    assert orjson.loads(json_text(value)) == value
    assert json_text({"a": "é"}) == '{"a":"é"}'


def test_loads_upstream_reads_a_lone_surrogate_escape_as_gjson_does() -> None:
    assert loads_upstream(rb'{"a":["\ud83d\ude00","x\ud83d","\ude00y"]}') == {"a": ["\U0001f600", "x\ufffd", "\ufffdy"]}
    assert loads_upstream('{"\\ud83d": 1}') == {"\ufffd": 1}
    for bad in (b'{"a": NaN}', rb'{"a": "\ud83d"', b"{x"):
        with pytest.raises(orjson.JSONDecodeError):
            loads_upstream(bad)
