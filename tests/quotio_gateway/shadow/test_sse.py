from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from quotio_gateway.shadow.sse import SSEEvent, SSESplitter, split_events


def feed_in_pieces(body: bytes, cuts: list[int]) -> list[SSEEvent]:
    splitter = SSESplitter()
    events: list[SSEEvent] = []
    previous = 0
    for cut in sorted(set(cuts)):
        events += splitter.feed(body[previous:cut])
        previous = cut
    events += splitter.feed(body[previous:])
    return events + splitter.close()


def test_openai_stream() -> None:
    body = b'data: {"a":1}\n\ndata: {"a":2}\n\ndata: [DONE]\n\n'
    assert split_events(body) == [SSEEvent("", '{"a":1}'), SSEEvent("", '{"a":2}'), SSEEvent("", "[DONE]")]


def test_named_events_with_crlf_and_comments() -> None:
    body = (b": keep-alive\r\n\r\nevent: message_start\r\ndata: {}\r\n\r\n"
            b":ping\r\nevent: message_stop\r\ndata: x\r\n\r\n")
    assert split_events(body) == [SSEEvent("message_start", "{}"), SSEEvent("message_stop", "x")]


def test_multiline_data_and_lone_cr() -> None:
    body = b"data: one\rdata:two\r\rid: 7\ndata:  three\n\n"
    assert split_events(body) == [SSEEvent("", "one\ntwo"), SSEEvent("", " three", "7")]


def test_responses_leading_newline_framing() -> None:
    body = b'\nevent: response.created\ndata: {"type":"response.created"}\n\nevent: response.completed\ndata: {}\n\n\n'
    assert [e.event for e in split_events(body)] == ["response.created", "response.completed"]


def test_crlf_split_between_chunks_is_one_line_end() -> None:
    splitter = SSESplitter()
    assert splitter.feed(b"data: a\r") == []
    assert splitter.feed(b"\n") == []
    assert splitter.feed(b"\r") == [SSEEvent("", "a")]
    assert splitter.feed(b"\ndata: b\n\n") == [SSEEvent("", "b")]


def test_unterminated_last_event_is_kept_on_close() -> None:
    splitter = SSESplitter()
    assert splitter.feed(b"event: x\ndata: tail") == []
    assert splitter.close() == [SSEEvent("x", "tail")]


def test_comment_count_and_field_without_colon() -> None:
    splitter = SSESplitter()
    events = splitter.feed(b": a\n: b\ndata\n\n")
    assert events == [SSEEvent("", "")]
    assert splitter.comments == 2


def test_bom_and_blank_lines_without_fields() -> None:
    assert split_events(b"\xef\xbb\xbfdata: x\n\n\n\n") == [SSEEvent("", "x")]


_field_text = st.text(alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)),
                      max_size=12)


@st.composite
def streams(draw: st.DrawFn) -> bytes:
    out = []
    if draw(st.booleans()):
        out.append("\ufeff")
    for _ in range(draw(st.integers(0, 6))):
        newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
        if draw(st.booleans()):
            out.append(":" + draw(_field_text) + newline)
        if draw(st.booleans()):
            out.append("event: " + draw(_field_text) + newline)
        for line in draw(st.lists(_field_text, min_size=1, max_size=3)):
            out.append("data:" + draw(st.sampled_from(["", " "])) + line + newline)
        out.append(newline)
    return "".join(out).encode()


@settings(max_examples=300, deadline=None)
@given(body=streams(), cuts=st.lists(st.integers(0, 400), max_size=12))
def test_any_chunking_yields_the_same_events(body: bytes, cuts: list[int]) -> None:
    assert feed_in_pieces(body, cuts) == split_events(body)


@settings(max_examples=200, deadline=None)
@given(body=streams())
def test_byte_by_byte_equals_whole(body: bytes) -> None:
    assert feed_in_pieces(body, list(range(len(body)))) == split_events(body)


@st.composite
def streams_with_events(draw: st.DrawFn) -> tuple[bytes, list[SSEEvent]]:
    out: list[str] = []
    expected: list[SSEEvent] = []
    for _ in range(draw(st.integers(0, 5))):
        newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
        name = ""
        if draw(st.booleans()):
            out.append(":" + draw(_field_text) + newline)
        if draw(st.booleans()):
            name = draw(_field_text)
            out.append("event: " + name + newline)
        values = []
        for line in draw(st.lists(_field_text, min_size=1, max_size=3)):
            space = draw(st.sampled_from(["", " "]))
            out.append("data:" + space + line + newline)
            values.append(line[1:] if not space and line.startswith(" ") else line)
        out.append(newline)
        expected.append(SSEEvent(name, "\n".join(values)))
    return "".join(out).encode(), expected


@settings(max_examples=300, deadline=None)
@given(case=streams_with_events(), cuts=st.lists(st.integers(0, 400), max_size=12))
def test_chunked_parse_matches_the_events_that_were_written(case: tuple[bytes, list[SSEEvent]],
                                                            cuts: list[int]) -> None:
    body, expected = case
    assert feed_in_pieces(body, cuts) == expected
