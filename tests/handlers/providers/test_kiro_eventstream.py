"""AWS event-stream framing (kiro_eventstream.py)."""

from __future__ import annotations

import struct
import uuid
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handlers.providers.kiro_eventstream import (
    EventMessage,
    EventStreamDecoder,
    EventStreamError,
    decode_all,
    encode_event,
    encode_message,
    parse_headers,
)


def test_a_frame_has_the_documented_layout_and_crcs() -> None:
    frame = encode_message({":event-type": "assistantResponseEvent"}, b'{"content":"hi"}')
    total, headers_len, prelude_crc = struct.unpack(">III", frame[:12])
    assert total == len(frame)
    assert prelude_crc == zlib.crc32(frame[:8])
    assert struct.unpack(">I", frame[-4:])[0] == zlib.crc32(frame[:-4])
    assert frame[12:12 + headers_len] == b"\x0b:event-type\x07\x00\x16assistantResponseEvent"
    assert decode_all(frame) == [EventMessage({":event-type": "assistantResponseEvent"}, b'{"content":"hi"}')]


def test_every_header_value_type_is_decoded() -> None:
    ident = uuid.UUID("12345678-1234-5678-1234-567812345678")
    raw = (b"\x01t\x00" + b"\x01f\x01" + b"\x01b\x02\xff" + b"\x01s\x03\x01\x00" + b"\x01i\x04\x00\x00\x00\x07"
           + b"\x01l\x05" + struct.pack(">q", -5) + b"\x01y\x06\x00\x02ab" + b"\x01z\x07\x00\x02hi"
           + b"\x01d\x08" + struct.pack(">q", 1700000000000) + b"\x01u\x09" + ident.bytes)
    assert parse_headers(raw) == {"t": True, "f": False, "b": -1, "s": 256, "i": 7, "l": -5, "y": b"ab",
                                  "z": "hi", "d": 1700000000000, "u": ident}


def test_payload_json_and_event_type() -> None:
    message = decode_all(encode_event("toolUseEvent", {"toolUseId": "t1", "stop": True}))[0]
    assert message.event_type == "toolUseEvent"
    assert message.message_type == "event"
    assert message.json() == {"toolUseId": "t1", "stop": True}
    assert EventMessage({}, b"").json() is None


def test_frame_shorter_than_sixteen_bytes_is_malformed() -> None:
    decoder = EventStreamDecoder()
    with pytest.raises(EventStreamError) as err:
        decoder.feed(struct.pack(">III", 15, 0, 0))
    assert (err.value.kind, str(err.value)) == ("malformed", "invalid message length: 15 (minimum is 16)")
    with pytest.raises(EventStreamError):  # the decoder stays failed: no resynchronisation
        decoder.feed(encode_event("x", {}))


def test_frame_over_ten_mib_is_malformed() -> None:
    with pytest.raises(EventStreamError) as err:
        EventStreamDecoder().feed(struct.pack(">III", (10 << 20) + 1, 0, 0))
    assert str(err.value) == f"message too large: {(10 << 20) + 1} bytes (maximum is {10 << 20})"


def test_headers_longer_than_the_frame_are_malformed() -> None:
    with pytest.raises(EventStreamError) as err:
        EventStreamDecoder().feed(struct.pack(">III", 20, 5, 0) + b"\x00" * 8)
    assert str(err.value) == "headers length 5 exceeds message bounds (total: 20)"


def test_unknown_header_type_is_malformed() -> None:
    with pytest.raises(EventStreamError) as err:
        parse_headers(b"\x01a\x0c")
    assert str(err.value) == "header 'a' has unknown value type 12"


def test_header_value_running_past_the_block_is_malformed() -> None:
    with pytest.raises(EventStreamError) as err:
        parse_headers(b"\x01a\x07\x00\x09ab")
    assert str(err.value) == "header 'a' value runs past the header block"


def test_end_inside_a_frame_is_truncated() -> None:
    decoder = EventStreamDecoder()
    frame = encode_event("assistantResponseEvent", {"content": "x"})
    assert decoder.feed(frame[:-3]) == []
    assert decoder.pending == len(frame) - 3
    with pytest.raises(EventStreamError) as err:
        decoder.finish()
    assert err.value.kind == "truncated"
    assert str(err.value) == f"stream ended inside a frame ({len(frame) - 3} bytes left)"


def test_crc_mismatch_is_tolerated_like_the_legacy() -> None:
    frame = bytearray(encode_event("assistantResponseEvent", {"content": "x"}))
    frame[-1] ^= 0xFF
    frame[8] ^= 0xFF
    assert decode_all(bytes(frame))[0].json() == {"content": "x"}


payloads = st.lists(st.tuples(st.sampled_from(["assistantResponseEvent", "toolUseEvent", "meteringEvent"]),
                              st.dictionaries(st.text(max_size=5), st.text(max_size=20), max_size=3)),
                    min_size=1, max_size=6)


@settings(max_examples=150, deadline=None)
@given(events=payloads, cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=12))
def test_any_chunking_gives_the_same_messages(events: list[tuple[str, dict[str, str]]], cuts: list[int]) -> None:
    body = b"".join(encode_event(kind, payload) for kind, payload in events)
    whole = decode_all(body)
    points = sorted({c % (len(body) + 1) for c in cuts})
    decoder = EventStreamDecoder()
    got: list[EventMessage] = []
    start = 0
    for point in [*points, len(body)]:
        got += decoder.feed(body[start:point])
        start = point
    decoder.finish()
    assert got == whole
    assert [(m.event_type, m.json()) for m in got] == events
