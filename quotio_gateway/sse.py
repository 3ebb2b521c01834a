"""Incremental Server-Sent Events parser (sans-io), shared by native handlers and the shadow comparator.

Bytes go in as they arrive, complete events come out. Chunk boundaries may fall anywhere (inside a
field name, inside a multi-byte UTF-8 character, between the CR and LF of a CRLF) and the result is
the same as feeding the whole body at once. WHATWG event-stream rules: CRLF, LF and lone CR all end
a line; a UTF-8 BOM opening the stream is dropped; lines starting with ``:`` are comments
(keep-alives); several ``data:`` lines join with ``\\n``; one space after the colon is dropped; a
blank line ends the event; ``id`` carries over to later events.

Where this departs from a browser, on purpose: ``finish()`` treats an unterminated last line and
event as complete (upstreams that end the body without the final blank line would otherwise lose
their last event, and a comparison would hide the missing terminator).
"""

from __future__ import annotations

from typing import NamedTuple

_BOM = b"\xef\xbb\xbf"


class SSEEvent(NamedTuple):
    # A tuple, not a frozen dataclass: one is built per upstream event, and a frozen dataclass
    # costs twice as much to construct (each field goes through object.__setattr__).
    data: str
    # Empty when the block had no ``event:`` field (browsers call that "message").
    event: str = ""
    id: str | None = None
    # Only from a ``retry:`` line of this block whose value is all ASCII digits.
    retry: int | None = None


def _data_value(raw: bytes | bytearray) -> str:
    """The value of a ``data:`` line, without decoding its field name: "data:" is ASCII, so
    decoding the rest alone gives the same text as decoding the whole line."""
    return (raw[6:] if raw[5:6] == b" " else raw[5:]).decode("utf-8", errors="replace")


class SSEParser:
    """``feed`` returns the events a chunk completes; ``finish`` flushes what the end of body completes.

    ``keep_dataless``: the spec (and a browser) drops a block that has no ``data:`` line. With it set,
    a block that named an event (``event:`` line, even an empty one) is dispatched anyway with empty
    data, for callers comparing streams, where a stray ``event:`` line is a difference to report.

    ``bare_json``: a line that starts with ``{`` (after blanks) is an event of its own whose data is
    that line, as if it were a ``data:`` line followed by a blank one. The spec ignores such a line
    (an unknown field); the legacy's Gemini-family stream readers take it as a chunk, so an upstream
    answering one JSON object per line, or a one-line JSON answer, is read.
    """

    __slots__ = ("_at_start", "_bare_json", "_buffer", "_data", "_event", "_has_data", "_id", "_keep_dataless",
                 "_named", "_retry", "_skip_lf", "comments")

    def __init__(self, *, keep_dataless: bool = False, bare_json: bool = False) -> None:
        self._keep_dataless = keep_dataless
        self._bare_json = bare_json
        # Holds only the unfinished last line: everything up to the last line break is parsed.
        self._buffer = bytearray()
        # A chunk ended in CR: if the next one starts with LF, that LF belongs to the same line break.
        self._skip_lf = False
        self._at_start = True
        self._data: list[str] = []
        self._has_data = False
        self._event = ""
        self._named = False
        self._id: str | None = None
        self._retry: int | None = None
        self.comments = 0

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        if not chunk:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        buffer = self._buffer
        # The buffered tail holds no line break, so the search starts at the new bytes: a long line
        # arriving in many small chunks costs linear time, not quadratic.
        searched = len(buffer)
        buffer += chunk
        if b"\r" not in chunk:
            # LF-only, as every upstream sends: split in C instead of a find per line.
            last = buffer.rfind(b"\n", searched)
            if last == -1:
                return []
            lines = buffer[:last].split(b"\n")
            del buffer[:last + 1]
            events: list[SSEEvent] = []
            line = self._line
            for raw in lines:
                # The lines of an LLM stream (data, event name, blank) inline: a call per line is a
                # visible share of the parse. The first line of the body goes through ``_line`` for
                # its BOM check.
                if self._at_start:
                    line(raw, events)
                elif raw.startswith(b"data:"):
                    # ``_data_value`` written out.
                    self._data.append((raw[6:] if raw[5:6] == b" " else raw[5:]).decode("utf-8", errors="replace"))
                    self._has_data = True
                elif not raw:
                    self._dispatch(events)
                elif raw.startswith(b"event:"):
                    # As ``_line`` reads it: "event:" is ASCII, so the value decodes alone the same.
                    self._event = (raw[7:] if raw[6:7] == b" " else raw[6:]).decode("utf-8", errors="replace")
                    self._named = True
                else:
                    line(raw, events)
            return events
        size = len(buffer)
        cr = buffer.find(b"\r", searched)
        lf = buffer.find(b"\n", searched)
        events = []
        start = 0
        while cr != -1 or lf != -1:
            if cr == -1 or (lf != -1 and lf < cr):
                end, start_next = lf, lf + 1
            elif cr + 1 == size:
                # CR is the last byte seen: the line is over, but an LF may still come in the next chunk.
                end, start_next = cr, size
                self._skip_lf = True
            else:
                end, start_next = cr, cr + 2 if buffer[cr + 1] == 0x0A else cr + 1
            self._line(buffer[start:end], events)
            start = start_next
            # Only look again for the kind of break just used up: a stream without CR never rescans for one.
            if cr != -1 and cr < start:
                cr = buffer.find(b"\r", start)
            if lf != -1 and lf < start:
                lf = buffer.find(b"\n", start)
        del buffer[:start]
        return events

    def finish(self) -> list[SSEEvent]:
        """End of body: an unterminated last line and an unfinished event count as complete."""
        events: list[SSEEvent] = []
        if self._buffer:
            self._line(bytes(self._buffer), events)
            self._buffer.clear()
        self._dispatch(events)
        self._skip_lf = False
        return events

    def _line(self, raw: bytes | bytearray, events: list[SSEEvent]) -> None:
        if self._at_start:
            self._at_start = False
            if raw.startswith(_BOM):
                raw = raw[len(_BOM):]
        if not raw:
            self._dispatch(events)
            return
        if raw.startswith(b"data:"):
            self._data.append(_data_value(raw))
            self._has_data = True
            return
        if raw[:1] == b":":
            self.comments += 1
            return
        if self._bare_json and raw.lstrip()[:1] == b"{":
            self._dispatch(events)
            self._data.append(raw.decode("utf-8", errors="replace").strip())
            self._has_data = True
            self._dispatch(events)
            return
        name, colon, value = raw.decode("utf-8", errors="replace").partition(":")
        if colon and value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data.append(value)
            self._has_data = True
        elif name == "event":
            self._event = value
            self._named = True
        elif name == "id":
            if "\x00" not in value:
                self._id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self._retry = int(value)
        # Unknown fields are ignored, as the spec says.

    def _dispatch(self, events: list[SSEEvent]) -> None:
        if self._has_data or (self._keep_dataless and self._named):
            events.append(SSEEvent("\n".join(self._data), self._event, self._id, self._retry))
        self._data = []
        self._has_data = False
        self._event = ""
        self._named = False
        self._retry = None


def split_events(body: bytes, *, keep_dataless: bool = False) -> list[SSEEvent]:
    """All events of a complete body, the last one kept even without its closing blank line."""
    parser = SSEParser(keep_dataless=keep_dataless)
    return [*parser.feed(body), *parser.finish()]
