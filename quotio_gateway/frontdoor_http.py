"""Sans-io HTTP/1.1 pieces of the front door: read one request head, render one response head.

Only the plain shapes the pass-through lane takes on are accepted here (HTTP/1.1, origin-form
target without escapes or dot segments, a Host header, no body or a Content-Length body, no
Upgrade/Expect/Transfer-Encoding). Anything else returns None and the connection goes to aiohttp,
which answers it exactly as before, including its 400s for malformed input.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httptools
from aiohttp.helpers import rfc822_formatted_time
from aiohttp.web_response import REASON_PHRASES

# Bigger heads are aiohttp's to judge (it answers 431/400 per its own line and field limits).
MAX_HEAD = 8190
# Go's net/http reads a request head up to DefaultMaxHeaderBytes (1 MiB) and the legacy sets no
# other limit; aiohttp's defaults (8190 bytes a line, 128 fields) would refuse a long query or a
# big cookie the legacy serves. The aiohttp server and the native lane's multipart reads share these.
GO_MAX_HEADER_BYTES = 1 << 20
MAX_HEADER_FIELDS = 4096
# Request bodies up to this size are read whole and sent to legacy with the head in one write,
# as the dispatcher does; bigger or unframed bodies take the aiohttp lane, which streams them.
MAX_INLINE_BODY = 64 * 1024
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_REFUSED_HEADERS = frozenset({b"transfer-encoding", b"upgrade", b"expect"})


@dataclass(slots=True)
class RequestHead:
    method: str
    target: str  # path and query exactly as sent (the raw path aiohttp logs and forwards)
    path: str  # target without the query; equal to aiohttp's decoded path (no escapes accepted)
    headers: list[tuple[str, str]]
    host: str
    content_length: int | None
    keep_alive: bool
    request_id: str | None  # the client's X-Request-Id, unvalidated
    compressed: bool = False  # a Content-Encoding on the body (aiohttp would decompress it)
    # The header lines as sent (aiohttp's ``raw_headers``), and whether the whole head is ASCII,
    # in which case every text above is already what aiohttp's parser would give a handler.
    raw: list[tuple[bytes, bytes]] = field(default_factory=list)
    ascii: bool = False


class _HeadCollector:
    """httptools callback target for one head; the parser is created per request (cheap)."""

    __slots__ = ("done", "keep_alive", "parser", "raw", "url")

    def __init__(self) -> None:
        self.url = b""
        self.raw: list[tuple[bytes, bytes]] = []
        self.done = False
        self.keep_alive = False
        self.parser: httptools.HttpRequestParser | None = None

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.raw.append((name, value))

    def on_headers_complete(self) -> None:
        self.done = True
        # Read now: llhttp resets its connection flags once the message completes.
        assert self.parser is not None
        self.keep_alive = self.parser.should_keep_alive()


def parse_head(head: bytes) -> RequestHead | None:
    """Parse a complete head (ending in CRLF CRLF); None when the lane does not take it."""
    if len(head) > MAX_HEAD:
        return None
    collector = _HeadCollector()
    parser = collector.parser = httptools.HttpRequestParser(collector)
    try:
        parser.feed_data(head)
    except (httptools.HttpParserError, httptools.HttpParserUpgrade):
        # An upgrade (WebSocket, h2c) is not a subclass of the parser errors: it goes to aiohttp.
        return None
    finally:
        # The parser holds the collector (and its bound callbacks): without this back-reference
        # both are freed when the call returns, instead of a cycle per request left for the gc.
        collector.parser = None
    if not collector.done or parser.get_http_version() != "1.1":
        return None
    method = parser.get_method().decode("latin-1")
    if method not in _METHODS:
        return None
    url = collector.url
    if not url.startswith(b"/") or b"%" in url or b"#" in url or b"/." in url or b"//" in url:
        return None
    target = url.decode("latin-1")
    path = target.split("?", 1)[0]
    host = ""
    length: int | None = None
    request_id: str | None = None
    compressed = False
    headers: list[tuple[str, str]] = []
    raw = collector.raw
    for raw_name, raw_value in raw:
        lname = raw_name.lower()
        if lname in _REFUSED_HEADERS:
            return None
        name = raw_name.decode("latin-1")
        value = raw_value.decode("latin-1")
        if lname == b"content-length":
            if length is not None or not raw_value.isdigit():
                return None
            length = int(raw_value)
        elif lname == b"host":
            if host:
                return None
            host = value
        elif lname == b"x-request-id":
            request_id = value
        elif lname == b"connection" and b"upgrade" in raw_value.lower():
            return None
        elif lname == b"content-encoding":
            compressed = True
        headers.append((name, value))
    if not host:
        return None
    return RequestHead(method, target, path, headers, host, length, collector.keep_alive, request_id, compressed,
                       raw, head.isascii())


def aiohttp_text(value: str) -> str:
    """A head value as aiohttp's parser gives it to handlers. The front door decodes heads as
    latin-1 (lossless); aiohttp decodes UTF-8 with surrogateescape. ASCII, nearly every value, is
    the same either way."""
    return value if value.isascii() else value.encode("latin-1").decode("utf-8", "surrogateescape")


def find_head_end(buffer: bytes | bytearray) -> int:
    """Index just past the blank line ending the head, or -1 while incomplete."""
    end = buffer.find(b"\r\n\r\n")
    return -1 if end < 0 else end + 4


def must_be_empty(method: str, status: int) -> bool:
    return method == "HEAD" or status in (204, 304) or 100 <= status < 200


def response_head(status: int, headers: list[tuple[str, str]], *, method: str, length: int | None,
                  keep_alive: bool, route_tag: str | None, request_id: str) -> tuple[bytes, bool]:
    """The head aiohttp's lane would send for this forwarded answer, and whether it is chunked.

    Same rules as aiohttp's StreamResponse for an HTTP/1.1 client: Content-Length when known,
    else chunked; nothing of either for bodiless answers (a HEAD keeps its length); a default
    Content-Type for a non-empty body; Date; Connection: close when the client asked for it; no
    Server; X-Quotio-Route and X-Request-Id unless legacy sent them.
    """
    empty = must_be_empty(method, status)
    lines = [f"HTTP/1.1 {status} {REASON_PHRASES.get(status, '')}"]
    has_type = has_route = has_id = has_date = False
    for name, value in headers:
        lname = name.lower()
        if lname == "content-type":
            has_type = True
        elif lname == "x-quotio-route":
            has_route = True
        elif lname == "x-request-id":
            has_id = True
        elif lname == "date":
            has_date = True  # aiohttp keeps the Date legacy sent
        lines.append(f"{name}: {value}")
    chunked = False
    if empty:
        if length is not None and method == "HEAD" and status not in (204, 304) and not 100 <= status < 200:
            lines.append(f"Content-Length: {length}")
    elif length is not None:
        lines.append(f"Content-Length: {length}")
        if length and not has_type:
            lines.append("Content-Type: application/octet-stream")
    else:
        chunked = True
        lines.append("Transfer-Encoding: chunked")
        if not has_type:
            lines.append("Content-Type: application/octet-stream")
    if not has_date:
        lines.append(f"Date: {rfc822_formatted_time()}")
    if not keep_alive:
        lines.append("Connection: close")
    if route_tag and not has_route:
        lines.append(f"X-Quotio-Route: {route_tag}")
    if not has_id:
        lines.append(f"X-Request-Id: {request_id}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"), chunked
