"""SSE parser (chunking-independence, line endings, comments, flush) and per-protocol encoders."""

from __future__ import annotations

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
)


def parse_all(*chunks: bytes) -> list[SSEEvent]:
    parser = SSEParser()
    events: list[SSEEvent] = []
    for chunk in chunks:
        events.extend(parser.feed(chunk))
    events.extend(parser.finish())
    return events


def test_claude_style_events_with_names() -> None:
    # A3.3 framing: event: + data:
    body = b'event: message_start\ndata: {"type":"message_start"}\n\nevent: ping\ndata: {"type": "ping"}\n\n'
    assert parse_all(body) == [
        SSEEvent('{"type":"message_start"}', "message_start"),
        SSEEvent('{"type": "ping"}', "ping"),
    ]


def test_multiline_data_joined_with_newline() -> None:
    # SSE rule from the issue brief: multi-line data:
    assert parse_all(b"data: a\ndata: b\ndata:c\n\n") == [SSEEvent("a\nb\nc")]


def test_only_one_leading_space_is_dropped() -> None:
    # SSE rule: one space after the colon
    assert parse_all(b"data:  two\n\n") == [SSEEvent(" two")]


def test_comments_and_keepalives_are_skipped() -> None:
    # surface §6: keep-alive comments
    assert parse_all(b": keep-alive\n\n:x\ndata: 1\n\n" + KEEPALIVE) == [SSEEvent("1")]


def test_crlf_and_lone_cr_line_endings() -> None:
    # SSE rule from the issue brief: CRLF
    assert parse_all(b"event: e\r\ndata: 1\r\n\r\ndata: 2\r\rdata: 3\n\n") == [
        SSEEvent("1", "e"),
        SSEEvent("2"),
        SSEEvent("3"),
    ]


def test_crlf_split_between_chunks_is_one_line_break() -> None:
    # SSE rule from the issue brief: arbitrary chunk boundaries
    # The CR ends chunk one; the LF opening chunk two must not become an extra blank line.
    assert parse_all(b"data: 1\r", b"\ndata: 2\r\n\r\n") == [SSEEvent("1\n2")]


def test_missing_final_newline_is_flushed_by_finish() -> None:
    # SSE rule from the issue brief: missing final newline
    assert parse_all(b"data: [DONE]") == [SSEEvent("[DONE]")]
    assert parse_all(b"data: x\n") == [SSEEvent("x")]


def test_event_without_data_is_not_dispatched_and_does_not_leak_name() -> None:
    # SSE rule: events need data
    assert parse_all(b"event: lonely\n\ndata: later\n\n") == [SSEEvent("later")]


def test_id_and_retry_fields() -> None:
    # SSE rule: id/retry fields
    assert parse_all(b"id: 7\nretry: 1500\ndata: x\n\nretry: soon\ndata: y\n\n") == [
        SSEEvent("x", id="7", retry=1500),
        SSEEvent("y", id="7"),
    ]


def test_utf8_character_split_across_chunks() -> None:
    # SSE rule from the issue brief: arbitrary chunk boundaries
    body = "data: héllo ✓\n\n".encode()
    cut = body.index("✓".encode()) + 1
    assert parse_all(body[:cut], body[cut:]) == [SSEEvent("héllo ✓")]


def test_data_line_without_colon_is_empty_data() -> None:
    # SSE rule: field without colon
    assert parse_all(b"data\n\n") == [SSEEvent("")]


_field_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=12)
_event = st.tuples(st.sampled_from(["", "message_start", "delta"]), st.lists(_field_text, min_size=1, max_size=3))


@st.composite
def _stream_and_cuts(draw: st.DrawFn) -> tuple[bytes, list[SSEEvent], list[int]]:
    events = draw(st.lists(_event, max_size=6))
    newline = draw(st.sampled_from([b"\n", b"\r\n", b"\r"]))
    body = b""
    expected = []
    for name, lines in events:
        if draw(st.booleans()):
            body += b": keep-alive" + newline
        if name:
            body += b"event: " + name.encode() + newline
        for line in lines:
            body += b"data: " + line.encode() + newline
        body += newline
        expected.append(SSEEvent("\n".join(lines), name))
    if body and draw(st.booleans()):
        body = body[: -len(newline)]  # drop the final blank line: finish() must still flush
    cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=8)))
    return body, expected, cuts


@settings(max_examples=300, deadline=None)
@given(_stream_and_cuts())
def test_any_chunking_yields_the_same_events(case: tuple[bytes, list[SSEEvent], list[int]]) -> None:
    # issue brief: any chunking gives the same events
    body, expected, cuts = case
    pieces = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
    assert parse_all(*pieces) == expected
    assert parse_all(body) == expected
    # One byte at a time is the harshest chunking.
    assert parse_all(*(body[i : i + 1] for i in range(len(body)))) == expected


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
