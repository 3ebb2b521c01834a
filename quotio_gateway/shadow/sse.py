"""Incremental Server-Sent Events splitter (sans-io).

Feed it bytes as they arrive, in any chunking; it yields the same events as if the whole stream had
arrived at once. Follows the WHATWG event-stream rules that matter for comparing streams: LF, CRLF
and lone CR all end a line (also when a CR and its LF arrive in different chunks), lines starting
with ``:`` are comments, several ``data:`` lines join with ``\\n``, one space after the colon is
dropped, and a blank line ends the event.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SSEEvent:
    # Empty when the stream gave no ``event:`` field (the browser default is "message").
    event: str
    data: str
    id: str | None = None


class SSESplitter:
    def __init__(self) -> None:
        self._buffer = bytearray()
        # The previous chunk ended in CR: an LF at the start of the next one belongs to that line end.
        self._skip_lf = False
        self._first_line = True
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None
        self._has_fields = False
        self.comments = 0

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        if not chunk:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        self._buffer += chunk
        events: list[SSEEvent] = []
        start = 0
        buffer = self._buffer
        size = len(buffer)
        # Remember where the next CR/LF is so a stream without any CR is not rescanned per line.
        cr = lf = -2
        while start < size:
            if cr != -1 and cr < start:
                cr = buffer.find(b"\r", start)
            if lf != -1 and lf < start:
                lf = buffer.find(b"\n", start)
            if cr == -1 and lf == -1:
                break
            if cr == -1 or (lf != -1 and lf < cr):
                end, after = lf, lf + 1
            else:
                end = cr
                if cr + 1 < size:
                    after = cr + 2 if buffer[cr + 1] == 0x0A else cr + 1
                else:
                    # CR is the last byte seen: the line is complete, but swallow an LF that may follow.
                    after = cr + 1
                    self._skip_lf = True
            event = self._line(bytes(buffer[start:end]))
            if event is not None:
                events.append(event)
            start = after
        del self._buffer[:start]
        return events

    def close(self) -> list[SSEEvent]:
        """End of stream: a last line without terminator still counts, and so does an unfinished event.

        Browsers drop an event that was not followed by a blank line; for comparing two captured
        streams it is more useful to keep it, so a missing final blank line is not hidden.
        """
        events: list[SSEEvent] = []
        if self._buffer:
            line = bytes(self._buffer)
            self._buffer.clear()
            event = self._line(line)
            if event is not None:
                events.append(event)
        event = self._dispatch()
        if event is not None:
            events.append(event)
        return events

    def _line(self, raw: bytes) -> SSEEvent | None:
        if self._first_line:
            self._first_line = False
            if raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
        if not raw:
            return self._dispatch()
        line = raw.decode("utf-8", errors="replace")
        if line.startswith(":"):
            self.comments += 1
            return None
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
            self._has_fields = True
        elif name == "event":
            self._event = value
            self._has_fields = True
        elif name == "id":
            if "\x00" not in value:
                self._id = value
        # "retry" and unknown fields carry nothing worth comparing.
        return None

    def _dispatch(self) -> SSEEvent | None:
        if not self._has_fields:
            self._event = ""
            return None
        event = SSEEvent(self._event, "\n".join(self._data), self._id)
        self._event = ""
        self._data = []
        self._has_fields = False
        # Per the spec the last event id persists across events; keeping it is harmless here.
        return event


def split_events(body: bytes) -> list[SSEEvent]:
    splitter = SSESplitter()
    return [*splitter.feed(body), *splitter.close()]
