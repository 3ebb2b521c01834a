"""Server-sent events: an incremental parser and the per-protocol frame encoders.

Parser: bytes go in as they arrive, complete events come out. Chunk boundaries may fall anywhere —
inside a field name, inside a multi-byte UTF-8 character, between the CR and LF of a CRLF — and
the result is the same as feeding the whole body at once. Line endings CRLF, LF and lone CR are
all accepted (WHATWG rules); ``:`` comment lines (keep-alives) are skipped; several ``data:``
lines join with ``\\n``; one space after the colon is dropped. ``finish()`` flushes a last event
that lacks its closing blank line (upstreams that end the body without a trailing newline).

Encoders reproduce the legacy server's framing byte for byte (reference: surface §6, A3):

* OpenAI chat: ``data: <json>\\n\\n``, terminated by ``data: [DONE]\\n\\n``.
* Claude: ``event: <type>\\ndata: <json>\\n\\n`` (``\\n\\n\\n`` when synthesised from Gemini); no
  terminator beyond ``message_stop``.
* OpenAI Responses: ``\\nevent: <type>\\ndata: <json>\\n`` per event; the stream ends with ``\\n``.
* Gemini / Gemini CLI, ``alt`` empty or ``sse``: ``data: <json>\\n\\n``; any other ``alt`` (e.g.
  ``json``): the chunk bytes unframed, exactly as the legacy handler writes them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import orjson

_LINE_BREAK = re.compile(rb"\r\n|\r|\n")


@dataclass(slots=True, frozen=True)
class SSEEvent:
    data: str
    event: str = ""
    id: str | None = None
    retry: int | None = None


class SSEParser:
    """Incremental SSE decoder. ``feed`` returns the events completed by the chunk."""

    __slots__ = ("_buffer", "_data", "_event", "_has_data", "_id", "_retry", "_skip_lf")

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[str] = []
        self._has_data = False
        self._event = ""
        self._id: str | None = None
        self._retry: int | None = None
        # A chunk ended in CR: if the next one starts with LF, that LF belongs to the same break.
        self._skip_lf = False

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        if not chunk:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        buffer = self._buffer + chunk if self._buffer else chunk
        events: list[SSEEvent] = []
        start = 0
        for match in _LINE_BREAK.finditer(buffer):
            self._line(buffer[start : match.start()], events)
            start = match.end()
            if match.group() == b"\r" and start == len(buffer):
                self._skip_lf = True
        self._buffer = buffer[start:]
        return events

    def finish(self) -> list[SSEEvent]:
        """End of body: treat an unterminated last line and event as complete."""
        events: list[SSEEvent] = []
        if self._buffer:
            self._line(self._buffer, events)
            self._buffer = b""
        self._dispatch(events)
        self._skip_lf = False
        return events

    def _line(self, raw: bytes, events: list[SSEEvent]) -> None:
        if not raw:
            self._dispatch(events)
            return
        if raw[:1] == b":":
            return
        line = raw.decode("utf-8", errors="replace")
        name, colon, value = line.partition(":")
        if colon and value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data.append(value)
            self._has_data = True
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\x00" not in value:
                self._id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self._retry = int(value)

    def _dispatch(self, events: list[SSEEvent]) -> None:
        if self._has_data:
            events.append(SSEEvent("\n".join(self._data), self._event, self._id, self._retry))
        self._data = []
        self._has_data = False
        self._event = ""
        self._retry = None


def dumps(obj: Any) -> bytes:
    """Compact JSON as the legacy server writes it (no spaces, UTF-8 kept as is)."""
    try:
        return orjson.dumps(obj)
    except TypeError:
        # orjson refuses integers beyond 64 bits, which a stdlib-parsed body may carry.
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def json_text(obj: Any) -> str:
    """``dumps`` as text: the stand-in for the raw JSON the legacy copies with gjson ``.Raw``."""
    return dumps(obj).decode()


KEEPALIVE = b": keep-alive\n\n"
OPENAI_DONE = b"data: [DONE]\n\n"
RESPONSES_END = b"\n"


def encode_openai_chunk(payload: Any) -> bytes:
    body = payload if isinstance(payload, bytes) else dumps(payload)
    return b"data: " + body + b"\n\n"


# The Gemini->Claude translator ends each frame with an extra blank line (reference A2.6).
GEMINI_CLAUDE_TRAILER = b"\n\n\n"


def encode_claude_event(event: str, payload: Any, trailer: bytes = b"\n\n") -> bytes:
    body = payload if isinstance(payload, bytes) else dumps(payload)
    return b"event: " + event.encode() + b"\ndata: " + body + trailer


def encode_claude_error(message: str) -> bytes:
    """Mid-stream error frame of the Claude handler (surface §5)."""
    return encode_claude_event("error", {"type": "error", "error": {"type": "api_error", "message": message}})


def encode_responses_event(event: str, payload: Any) -> bytes:
    body = payload if isinstance(payload, bytes) else dumps(payload)
    return b"\nevent: " + event.encode() + b"\ndata: " + body + b"\n"


def encode_gemini_chunk(payload: Any, alt: str = "") -> bytes:
    body = payload if isinstance(payload, bytes) else dumps(payload)
    if normalise_alt(alt) == "":
        return b"data: " + body + b"\n\n"
    return body


def encode_gemini_error(body: bytes, alt: str = "") -> bytes:
    if normalise_alt(alt) == "":
        return b"event: error\ndata: " + body + b"\n\n"
    return body


def normalise_alt(alt: str) -> str:
    """``alt=sse`` means the default SSE framing, like no ``alt`` at all (surface §6 note)."""
    return "" if alt == "sse" else alt
