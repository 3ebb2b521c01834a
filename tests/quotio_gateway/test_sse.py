"""Shared SSE parser: line endings, comments, fields, end of body, and chunking independence.

Merged from the former parser tests of handlers/translation (default mode, ``parse_all``) and of the
shadow comparator (``keep_dataless=True``, ``feed_in_pieces`` / ``split_kept``).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from quotio_gateway.sse import SSEEvent, SSEParser, split_events


def parse_all(*chunks: bytes) -> list[SSEEvent]:
    parser = SSEParser()
    events: list[SSEEvent] = []
    for chunk in chunks:
        events.extend(parser.feed(chunk))
    events.extend(parser.finish())
    return events


def split_kept(body: bytes) -> list[SSEEvent]:
    return split_events(body, keep_dataless=True)


def feed_in_pieces(body: bytes, cuts: list[int], *, keep_dataless: bool = True) -> list[SSEEvent]:
    parser = SSEParser(keep_dataless=keep_dataless)
    events: list[SSEEvent] = []
    previous = 0
    for cut in sorted(set(cuts)):
        events += parser.feed(body[previous:cut])
        previous = cut
    events += parser.feed(body[previous:])
    return events + parser.finish()


# --- examples (from the translation parser tests) ---------------------------------------------


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


# --- examples (from the shadow splitter tests) ------------------------------------------------


def test_openai_stream() -> None:
    body = b'data: {"a":1}\n\ndata: {"a":2}\n\ndata: [DONE]\n\n'
    assert split_kept(body) == [SSEEvent('{"a":1}'), SSEEvent('{"a":2}'), SSEEvent("[DONE]")]


def test_named_events_with_crlf_and_comments() -> None:
    body = (b": keep-alive\r\n\r\nevent: message_start\r\ndata: {}\r\n\r\n"
            b":ping\r\nevent: message_stop\r\ndata: x\r\n\r\n")
    assert split_kept(body) == [SSEEvent("{}", "message_start"), SSEEvent("x", "message_stop")]


def test_multiline_data_and_lone_cr() -> None:
    body = b"data: one\rdata:two\r\rid: 7\ndata:  three\n\n"
    assert split_kept(body) == [SSEEvent("one\ntwo"), SSEEvent(" three", id="7")]


def test_responses_leading_newline_framing() -> None:
    body = b'\nevent: response.created\ndata: {"type":"response.created"}\n\nevent: response.completed\ndata: {}\n\n\n'
    assert [e.event for e in split_kept(body)] == ["response.created", "response.completed"]


def test_crlf_split_between_chunks_is_one_line_end() -> None:
    parser = SSEParser(keep_dataless=True)
    assert parser.feed(b"data: a\r") == []
    assert parser.feed(b"\n") == []
    assert parser.feed(b"\r") == [SSEEvent("a")]
    assert parser.feed(b"\ndata: b\n\n") == [SSEEvent("b")]


def test_unterminated_last_event_is_kept_on_finish() -> None:
    parser = SSEParser(keep_dataless=True)
    assert parser.feed(b"event: x\ndata: tail") == []
    assert parser.finish() == [SSEEvent("tail", "x")]


def test_comment_count_and_field_without_colon() -> None:
    parser = SSEParser(keep_dataless=True)
    events = parser.feed(b": a\n: b\ndata\n\n")
    assert events == [SSEEvent("")]
    assert parser.comments == 2


def test_bom_and_blank_lines_without_fields() -> None:
    assert split_kept(b"\xef\xbb\xbfdata: x\n\n\n\n") == [SSEEvent("x")]


# --- what differs between the two modes, and edges neither old test file covered --------------


def test_keep_dataless_dispatches_a_named_block_without_data() -> None:
    body = b"event: lonely\n\nevent:\nid: 3\n\ndata: later\n\n"
    assert split_events(body) == [SSEEvent("later", id="3")]
    assert split_kept(body) == [SSEEvent("", "lonely"), SSEEvent("", "", "3"), SSEEvent("later", id="3")]


def test_block_with_only_id_retry_or_unknown_fields_is_never_dispatched() -> None:
    body = b"id: 1\n\nretry: 10\n\nfoo: bar\n\n"
    assert split_events(body) == split_kept(body) == []


def test_bare_json_lines_are_events_of_their_own_only_when_asked() -> None:
    body = b'{"a": 1}\r\n  {"b": 2}\ndata: 3\n{"c": 3}\n[1]\n\n'
    assert split_events(body) == [SSEEvent("3")]
    parser = SSEParser(bare_json=True)
    events = [*parser.feed(body[:5]), *parser.feed(body[5:]), *parser.finish()]
    # A pending data: line is its own event before the bare line; a line not opening an object
    # is still a field the spec ignores.
    assert events == [SSEEvent('{"a": 1}'), SSEEvent('{"b": 2}'), SSEEvent("3"), SSEEvent('{"c": 3}')]


def test_bom_is_dropped_only_at_the_start_of_the_stream() -> None:
    bom = b"\xef\xbb\xbf"
    assert parse_all(bom[:2], bom[2:] + b"data: x\n\n") == [SSEEvent("x")]
    # Later on it is part of the field name, which then names no known field.
    assert parse_all(b"data: x\n\n" + bom + b"data: y\n\n") == [SSEEvent("x")]


def test_id_with_nul_is_ignored_and_id_carries_over() -> None:
    assert parse_all(b"id: a\ndata: 1\n\nid: b\x00\ndata: 2\n\n") == [SSEEvent("1", id="a"), SSEEvent("2", id="a")]


def test_invalid_utf8_is_replaced_not_raised() -> None:
    assert parse_all(b"data: \xff\xfe\n\n") == [SSEEvent("\ufffd\ufffd")]


def test_lone_cr_at_end_of_body() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: a\r") == []
    assert parser.finish() == [SSEEvent("a")]


def test_long_line_in_many_small_chunks() -> None:
    # Many feeds that add to one unfinished line: the search resumes where the last feed stopped.
    payload = b"x" * 20_000
    body = b"data: " + payload + b"\r\n\r\n"
    parser = SSEParser()
    events: list[SSEEvent] = []
    for i in range(0, len(body), 7):
        events += parser.feed(body[i : i + 7])
    assert events == [SSEEvent(payload.decode())]
    assert parser.finish() == []


# --- properties (from the translation parser tests) -------------------------------------------

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


# --- properties (from the shadow splitter tests) ----------------------------------------------

_shadow_field_text = st.text(alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)),
                             max_size=12)


@st.composite
def streams(draw: st.DrawFn) -> bytes:
    out = []
    if draw(st.booleans()):
        out.append("\ufeff")
    for _ in range(draw(st.integers(0, 6))):
        newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
        if draw(st.booleans()):
            out.append(":" + draw(_shadow_field_text) + newline)
        if draw(st.booleans()):
            out.append("event: " + draw(_shadow_field_text) + newline)
        for line in draw(st.lists(_shadow_field_text, min_size=1, max_size=3)):
            out.append("data:" + draw(st.sampled_from(["", " "])) + line + newline)
        out.append(newline)
    return "".join(out).encode()


@settings(max_examples=300, deadline=None)
@given(body=streams(), cuts=st.lists(st.integers(0, 400), max_size=12))
def test_any_chunking_matches_the_whole_body(body: bytes, cuts: list[int]) -> None:
    assert feed_in_pieces(body, cuts) == split_kept(body)


@settings(max_examples=200, deadline=None)
@given(body=streams())
def test_byte_by_byte_equals_whole(body: bytes) -> None:
    assert feed_in_pieces(body, list(range(len(body)))) == split_kept(body)


@st.composite
def streams_with_events(draw: st.DrawFn) -> tuple[bytes, list[SSEEvent]]:
    out: list[str] = []
    expected: list[SSEEvent] = []
    for _ in range(draw(st.integers(0, 5))):
        newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
        name = ""
        if draw(st.booleans()):
            out.append(":" + draw(_shadow_field_text) + newline)
        if draw(st.booleans()):
            name = draw(_shadow_field_text)
            out.append("event: " + name + newline)
        values = []
        for line in draw(st.lists(_shadow_field_text, min_size=1, max_size=3)):
            space = draw(st.sampled_from(["", " "]))
            out.append("data:" + space + line + newline)
            values.append(line[1:] if not space and line.startswith(" ") else line)
        out.append(newline)
        expected.append(SSEEvent("\n".join(values), name))
    return "".join(out).encode(), expected


@settings(max_examples=300, deadline=None)
@given(case=streams_with_events(), cuts=st.lists(st.integers(0, 400), max_size=12))
def test_chunked_parse_matches_the_events_that_were_written(case: tuple[bytes, list[SSEEvent]],
                                                            cuts: list[int]) -> None:
    body, expected = case
    assert feed_in_pieces(body, cuts) == expected


# --- property over both modes with every field kind -------------------------------------------

_pieces = st.sampled_from([
    b"data", b"data:", b"data: ", b"event:", b"event: x", b"id: 1", b"retry: 15", b"retry:x", b": c",
    b"foo:", b"\r", b"\n", b"\r\n", b"\xef\xbb\xbf", b"\xc3", b"\xa9", b"a", b" ",
])


@settings(max_examples=300, deadline=None)
@given(body=st.lists(_pieces, max_size=40).map(b"".join), cuts=st.lists(st.integers(0, 200), max_size=10),
       keep_dataless=st.booleans())
def test_any_chunking_matches_the_whole_body_in_both_modes(body: bytes, cuts: list[int], keep_dataless: bool) -> None:
    whole = SSEParser(keep_dataless=keep_dataless)
    expected = [*whole.feed(body), *whole.finish()]
    pieces = SSEParser(keep_dataless=keep_dataless)
    assert feed_in_pieces(body, cuts, keep_dataless=keep_dataless) == expected
    # Comments are counted once each whatever the chunking.
    events: list[SSEEvent] = []
    for i in range(len(body)):
        events += pieces.feed(body[i : i + 1])
    assert [*events, *pieces.finish()] == expected
    assert pieces.comments == whole.comments
