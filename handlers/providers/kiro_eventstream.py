"""AWS event-stream binary framing (``application/vnd.amazon.eventstream``), sans-io.

Kiro / CodeWhisperer answer with this framing for stream and non-stream calls alike. A message:

    total_length u32 | headers_length u32 | prelude_crc u32 | headers | payload | message_crc u32

all big-endian. Each header is ``name_len u8 | name | type u8 | value`` with the value layout
given by the type (0/1 bool true/false without bytes, 2 i8, 3 i16, 4 i32, 5 i64, 6 bytes and 7
string with a u16 length, 8 timestamp i64 ms, 9 uuid 16 bytes).

``EventStreamDecoder.feed`` accepts any chunking and returns whole messages. CRCs are not
verified: CLIProxyAPIPlus does not check them either, and a relay that rewrites payloads would
otherwise be refused. Frame limits follow the legacy reader: at least 16 bytes, at most 10 MiB,
and headers that fit inside the frame; anything else is ``EventStreamError`` (the stream cannot
be resynchronised after a bad length, so the decoder stays failed).
"""

from __future__ import annotations

import struct
import uuid
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

PRELUDE_SIZE = 12
MIN_FRAME_SIZE = 16
MAX_FRAME_SIZE = 10 << 20

HeaderValue = bool | int | bytes | str | uuid.UUID


class EventStreamError(ValueError):
    """A frame that cannot be decoded; ``kind`` is ``malformed`` or ``truncated``."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class EventMessage:
    headers: Mapping[str, HeaderValue] = field(default_factory=dict)
    payload: bytes = b""

    @property
    def event_type(self) -> str:
        value = self.headers.get(":event-type")
        return value if isinstance(value, str) else ""

    @property
    def message_type(self) -> str:
        value = self.headers.get(":message-type")
        return value if isinstance(value, str) else ""

    def json(self) -> Any:
        """The payload as JSON, or ``None`` when empty."""
        return orjson.loads(self.payload) if self.payload else None


_FIXED = {2: (1, ">b"), 3: (2, ">h"), 4: (4, ">i"), 5: (8, ">q"), 8: (8, ">q")}


def parse_headers(raw: bytes) -> dict[str, HeaderValue]:
    headers: dict[str, HeaderValue] = {}
    at = 0
    end = len(raw)
    while at < end:
        name_len = raw[at]
        at += 1
        if at + name_len + 1 > end:
            raise EventStreamError("malformed", "header name runs past the header block")
        name = raw[at:at + name_len].decode("utf-8", errors="replace")
        at += name_len
        kind = raw[at]
        at += 1
        value: HeaderValue
        if kind in (0, 1):
            value = kind == 0
        elif kind in _FIXED:
            size, fmt = _FIXED[kind]
            if at + size > end:
                raise EventStreamError("malformed", f"header {name!r} value runs past the header block")
            value = struct.unpack(fmt, raw[at:at + size])[0]
            at += size
        elif kind in (6, 7):
            if at + 2 > end:
                raise EventStreamError("malformed", f"header {name!r} length runs past the header block")
            size = struct.unpack(">H", raw[at:at + 2])[0]
            at += 2
            if at + size > end:
                raise EventStreamError("malformed", f"header {name!r} value runs past the header block")
            data = raw[at:at + size]
            at += size
            value = data.decode("utf-8", errors="replace") if kind == 7 else bytes(data)
        elif kind == 9:
            if at + 16 > end:
                raise EventStreamError("malformed", f"header {name!r} value runs past the header block")
            value = uuid.UUID(bytes=bytes(raw[at:at + 16]))
            at += 16
        else:
            raise EventStreamError("malformed", f"header {name!r} has unknown value type {kind}")
        headers[name] = value
    return headers


class EventStreamDecoder:
    """Incremental decoder: ``feed`` chunks, get complete messages; ``finish`` at end of input."""

    __slots__ = ("_buffer", "_failed")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._failed: EventStreamError | None = None

    def feed(self, chunk: bytes) -> list[EventMessage]:
        if self._failed is not None:
            raise self._failed
        self._buffer += chunk
        out: list[EventMessage] = []
        while len(self._buffer) >= PRELUDE_SIZE:
            total, headers_len = struct.unpack_from(">II", self._buffer, 0)
            problem = _frame_problem(total, headers_len)
            if problem:
                self._failed = EventStreamError("malformed", problem)
                raise self._failed
            if len(self._buffer) < total:
                break
            frame = bytes(self._buffer[:total])
            del self._buffer[:total]
            headers = parse_headers(frame[PRELUDE_SIZE:PRELUDE_SIZE + headers_len])
            out.append(EventMessage(headers, frame[PRELUDE_SIZE + headers_len:total - 4]))
        return out

    def finish(self) -> None:
        """Raise if the input ended inside a frame."""
        if self._failed is not None:
            raise self._failed
        if self._buffer:
            raise EventStreamError("truncated", f"stream ended inside a frame ({len(self._buffer)} bytes left)")

    @property
    def pending(self) -> int:
        return len(self._buffer)


def _frame_problem(total: int, headers_len: int) -> str:
    if total < MIN_FRAME_SIZE:
        return f"invalid message length: {total} (minimum is {MIN_FRAME_SIZE})"
    if total > MAX_FRAME_SIZE:
        return f"message too large: {total} bytes (maximum is {MAX_FRAME_SIZE})"
    if headers_len > total - MIN_FRAME_SIZE:
        return f"headers length {headers_len} exceeds message bounds (total: {total})"
    return ""


def decode_all(data: bytes) -> list[EventMessage]:
    """Every message of a complete body (non-stream answers)."""
    decoder = EventStreamDecoder()
    messages = decoder.feed(data)
    decoder.finish()
    return messages


# --- encoding (fake upstreams in tests, and relays) -----------------------------------------


def encode_headers(headers: Mapping[str, HeaderValue]) -> bytes:
    out = bytearray()
    for name, value in headers.items():
        encoded_name = name.encode()
        out += bytes([len(encoded_name)]) + encoded_name
        if isinstance(value, bool):
            out.append(0 if value else 1)
        elif isinstance(value, int):
            out.append(4)
            out += struct.pack(">i", value)
        elif isinstance(value, uuid.UUID):
            out.append(9)
            out += value.bytes
        else:
            data = value.encode() if isinstance(value, str) else bytes(value)
            out.append(7 if isinstance(value, str) else 6)
            out += struct.pack(">H", len(data)) + data
    return bytes(out)


def encode_message(headers: Mapping[str, HeaderValue], payload: bytes) -> bytes:
    """One frame with correct CRCs."""
    raw_headers = encode_headers(headers)
    total = PRELUDE_SIZE + len(raw_headers) + len(payload) + 4
    prelude = struct.pack(">II", total, len(raw_headers))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    body = prelude + raw_headers + payload
    return body + struct.pack(">I", zlib.crc32(body))


def encode_event(event_type: str, payload: Any) -> bytes:
    """A JSON event frame as the Kiro service sends it."""
    return encode_message({":event-type": event_type, ":content-type": "application/json",
                           ":message-type": "event"}, orjson.dumps(payload))
