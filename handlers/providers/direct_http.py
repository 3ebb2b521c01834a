"""Direct upstream calls (no proxy) on a small HTTP/1.1 client: pooled sockets, httptools parsing.

aiohttp's ``ClientSession.request`` spends about as much CPU on one call as the rest of a
translated request's set-up together (cookie and redirect machinery, request and response
objects, its stream reader); on two cores that cost decides the time to first byte at a hundred
concurrent streams (docs/performance.md). Calls through a proxy keep using aiohttp; a direct call
to an ``http://`` or ``https://`` upstream goes through here instead.

The bytes on the wire are the ones ``http.UpstreamClient``'s aiohttp session would send for the same
call (``request_head``): its ``Host``, ``Accept-Encoding``, ``User-Agent``, ``Content-Length`` and
``Content-Type`` defaults, in its order, with the same request target. Like that session (and Go's
client) it adds no ``Accept``: only the executors that set one send one. Answers come back
through ``DirectResponse``, which offers the part of ``aiohttp.ClientResponse`` that ``http.py``
reads (status, headers, the body reader's ``read_nowait``/``readany``/``is_eof``/
``set_exception``, ``release``/``close``), and decodes ``gzip``/``deflate``/``br``/``zstd`` bodies
as aiohttp does, since that is what both advertise.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ssl
from collections import deque
from collections.abc import Iterable
from itertools import chain

import httptools
from aiohttp import compression_utils
from aiohttp.client_reqrep import ClientRequest
from aiohttp.http import SERVER_SOFTWARE
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

# Flow control: stop reading a socket whose unread body passed this, resume below half of it.
_HIGH_WATER = 256 * 1024
# aiohttp's keep-alive timeout for idle pooled connections; an older one is closed, not reused.
IDLE_KEEPALIVE = 15.0
# Idle sockets kept per origin; more than this many finished at once are closed.
MAX_IDLE = 1024
# What aiohttp advertises and decodes here: gzip and deflate, br and zstd when their modules are
# installed (they are project dependencies).
DEFAULT_ACCEPT_ENCODING = ClientRequest.DEFAULT_HEADERS.get("Accept-Encoding", "gzip, deflate")
_ENCODED = frozenset(("gzip", "deflate", *(("br",) if compression_utils.HAS_BROTLI else ()),
                      *(("zstd",) if compression_utils.HAS_ZSTD else ())))
# Headers whose framing meaning this client does not take over from aiohttp. ``Connection`` is not
# one: the Claude and Codex executors send ``keep-alive`` as the legacy does, and the answer's own
# ``Connection`` decides whether a socket is reused.
_FRAMING = frozenset(("content-length", "transfer-encoding", "expect", "upgrade"))


class DirectError(Exception):
    """A failed direct call. ``stage`` says where: ``connect``, ``connect-timeout``, ``closed``
    (the upstream hung up before a status line), ``head`` (it spoke garbage instead of one),
    ``body`` (anything after it)."""

    def __init__(self, stage: str, detail: str = "", os_error: OSError | None = None) -> None:
        super().__init__(detail or stage)
        self.stage = stage
        self.os_error = os_error


def eligible(url: URL) -> bool:
    """True when the URL can take this client: http(s) without user info. (The headers are
    checked by ``request_head``, which reads their names anyway.)"""
    return url.scheme in ("http", "https") and url.user is None and bool(url.host)


def request_head(method: str, url: URL, headers: Iterable[tuple[str, str]], body: bytes) -> bytes | None:
    """The request head aiohttp writes for ``session.request(method, url, headers=list, data=body)``,
    or None when a header of its own sets the framing (that call stays with aiohttp).

    Session merge first (a name spelled exactly as an earlier one adds a line, another spelling
    of it replaces the earlier line in place), then ``Host`` at the front unless given, then the
    defaults that are missing, then ``Content-Length`` and the payload's ``Content-Type``.
    """
    given = tuple(headers)
    plan = _plan(tuple([name for name, _ in given]))
    if plan is None:
        _refuse_line_breaks(given)
        return None
    merge, defaults, content_type, fixed_lines = plan
    lines = _merged(url, given) if merge else [("Host", url.host_port_subcomponent or ""), *given]
    text = (f"{method} {url.raw_path_qs} HTTP/1.1\r\n" + "".join([f"{n}: {v}\r\n" for n, v in lines])
            + f"{defaults}Content-Length: {len(body)}\r\n{content_type}\r\n")
    # A name or value holding a line break adds one; the URL cannot (yarl encodes it).
    breaks = len(lines) + fixed_lines
    if text.count("\n") != breaks or text.count("\r") != breaks:
        _refuse_line_breaks(given)
    return text.encode("utf-8")


def _refuse_line_breaks(given: tuple[tuple[str, str], ...]) -> None:
    probe = "".join(chain.from_iterable(given))
    if "\r" in probe or "\n" in probe:
        raise ValueError("Newline or carriage return character detected in HTTP status message or header.")


@functools.lru_cache(maxsize=256)
def _plan(names: tuple[str, ...]) -> tuple[bool, str, str, int] | None:
    """What a head with these header names needs, worked out once per set of names (an executor
    sends the same ones on every call): None when aiohttp keeps the call (a framing header), else
    whether the session merge changes anything, the default lines that go before
    ``Content-Length``, the ``Content-Type`` line that goes after it, and how many line breaks
    the head has besides the given headers' own."""
    lowered = [name.lower() for name in names]
    where = set(lowered)
    if not where.isdisjoint(_FRAMING):
        return None
    merge = len(where) != len(lowered) or "host" in where
    defaults = "".join(f"{name}: {value}\r\n" for name, value in (
        ("Accept-Encoding", DEFAULT_ACCEPT_ENCODING), ("User-Agent", SERVER_SOFTWARE))
        if name.lower() not in where)
    content_type = "" if "content-type" in where else "Content-Type: application/octet-stream\r\n"
    # The request line, the defaults, Content-Length, the Content-Type default, the blank line.
    return merge, defaults, content_type, 3 + defaults.count("\n") + content_type.count("\n")


def _merged(url: URL, given: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    """aiohttp's merge when a name repeats or Host is given (see ``request_head``)."""
    lines: list[tuple[str, str]] = [("Host", url.host_port_subcomponent or "")]
    where = {"host": 0}
    spellings: set[str] = set()
    for name, value in given:
        lower = name.lower()
        if name in spellings and lower != "host":  # aiohttp keeps one Host whatever is given
            lines.append((name, value))
            continue
        spellings.add(name)
        at = where.get(lower)
        if at is None:
            where[lower] = len(lines)
            lines.append((name, value))
            continue
        lines[at] = (name, value)
        if any(line[0].lower() == lower for line in lines[at + 1:]):
            lines[at + 1:] = [line for line in lines[at + 1:] if line[0].lower() != lower]
            where = {line[0].lower(): i for i, line in reversed(list(enumerate(lines)))}
    return lines


class _Socket(asyncio.Protocol):
    """One upstream connection; carries one exchange at a time."""

    def __init__(self, origin: Origin) -> None:
        self.origin = origin
        self.loop = origin.loop
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.paused = False
        self.idle_since = 0.0
        self._reset()

    def _reset(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.status = 0
        self.raw_headers: list[tuple[bytes, bytes]] = []
        self.head: asyncio.Future[None] = self.loop.create_future()
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.complete = False
        self.error: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.keep_alive = False
        self.until_close = False
        self.got_bytes = False
        # Bytes after the end of the answer (a stray second answer): the socket is not reused.
        self.stray = False

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.got_bytes = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(DirectError("body" if self.head.done() else "head", f"malformed response: {exc}"))
            self.abort()

    def eof_received(self) -> bool | None:
        return None  # close the transport; connection_lost decides whether the body was whole

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.complete:
            return
        if self.head.done() and self.until_close and self.error is None and exc is None:
            # A body without length or chunking ends where the connection does.
            self.complete = True
            self._wake()
            return
        self._fail(DirectError("body" if self.head.done() else "closed", "connection closed"))

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        if self.complete:
            self.stray = True
            return
        self.raw_headers.append((name, value))

    def on_headers_complete(self) -> None:
        if self.complete:
            self.stray = True
            return
        status = self.parser.get_status_code()
        if 100 <= status < 200:
            self.raw_headers = []  # an interim answer; the final head follows
            return
        self.status = status
        self.keep_alive = self.parser.should_keep_alive()
        names = {name.lower() for name, _ in self.raw_headers}
        self.until_close = b"content-length" not in names and b"transfer-encoding" not in names
        if not self.head.done():
            self.head.set_result(None)

    def on_body(self, body: bytes) -> None:
        if self.complete:
            self.stray = True
            return
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > _HIGH_WATER and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self.complete or 100 <= self.parser.get_status_code() < 200:
            return
        self.complete = True
        self._wake()

    # helpers
    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, exc: BaseException) -> None:
        if self.error is None:
            self.error = exc
        if not self.head.done():
            self.head.set_exception(exc)
            self.head.exception()  # retrieved here; the caller raises self.error
        self._wake()

    def take(self) -> bytes:
        data = self.chunks.popleft() if len(self.chunks) == 1 else b"".join(self.chunks)
        self.chunks.clear()
        self.buffered = 0
        if self.paused and self.transport is not None and not self.closed:
            self.paused = False
            self.transport.resume_reading()
        return data

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


class DirectResponse:
    """An answer whose head has arrived; it is also its own body reader (``.content``)."""

    def __init__(self, sock: _Socket) -> None:
        self._sock = sock
        self.status = sock.status
        headers: CIMultiDict[str] = CIMultiDict(
            [(name.decode("utf-8", "surrogateescape"), value.decode("utf-8", "surrogateescape"))
             for name, value in sock.raw_headers])
        self.headers = CIMultiDictProxy(headers)
        self.content = self
        self.closed = False
        encoding = headers.get("Content-Encoding", "").strip().lower()
        self._encoding = encoding if encoding in _ENCODED else ""
        self._decoder: compression_utils.DecompressionBaseHandler | None = None
        self._ended = False

    # the body reader
    def is_eof(self) -> bool:
        sock = self._sock
        return self._ended or (sock.complete and not sock.chunks)

    def read_nowait(self) -> bytes:
        sock = self._sock
        if sock.chunks:
            return self._decode(sock.take())
        if sock.error is not None and not sock.complete:
            raise sock.error
        return self._finish() if sock.complete else b""

    async def readany(self) -> bytes:
        sock = self._sock
        while not sock.chunks and not sock.complete:
            if sock.error is not None:
                raise sock.error
            sock.waiter = sock.loop.create_future()
            try:
                await sock.waiter
            finally:
                sock.waiter = None
        return self.read_nowait()

    def set_exception(self, exc: BaseException) -> None:
        self._sock._fail(exc)

    # the exchange
    def release(self) -> None:
        """Give the socket back when the answer was read to its end, else close it."""
        if self.closed:
            return
        self.closed = True
        sock = self._sock
        if (sock.complete and not sock.closed and sock.error is None and sock.keep_alive and not sock.chunks
                and not sock.stray):
            sock.origin.put_back(sock)
        else:
            sock.abort()

    def close(self) -> None:
        self.closed = True
        self._sock.abort()

    def _decode(self, data: bytes) -> bytes:
        if not self._encoding:
            return data
        if self._decoder is None:
            self._decoder = _decoder_for(self._encoding, data)
        try:
            return self._decoder.decompress_sync(data)
        except Exception as exc:  # each codec raises its own error type
            raise DirectError("body", f"cannot decode {self._encoding} body: {exc}") from None

    def _finish(self) -> bytes:
        self._ended = True
        flush = getattr(self._decoder, "flush", None)
        return flush() if flush is not None else b""


def _decoder_for(encoding: str, first: bytes) -> compression_utils.DecompressionBaseHandler:
    """aiohttp's own decoder for the body (``DeflateBuffer``), so it decodes exactly as there:
    concatenated gzip members included, and a "deflate" body read as zlib-wrapped unless its first
    byte says raw deflate (RFC 1950 CM)."""
    if encoding == "br":
        return compression_utils.BrotliDecompressor()
    if encoding == "zstd":
        return compression_utils.ZSTDDecompressor()
    raw = encoding == "deflate" and bool(first) and first[0] & 0xF != 8
    return compression_utils.ZLibDecompressor(encoding=encoding, suppress_deflate_header=raw)


def _expire(head: asyncio.Future[None]) -> None:
    if not head.done():
        head.set_exception(TimeoutError())


class _Outbox:
    """The request writes made during one event-loop turn, sent together when the turn ends.

    Each write to an upstream that is waiting for work wakes it, and on a host that also runs the
    upstream (or its clients) the woken process usually takes the gateway's core at once: the
    rest of the turn (the next requests' set-up, answers already in) waits behind it, once per
    request. Holding the writes to the end of the turn wakes the upstream once for the turn's
    requests. At 100 concurrent streams against a local upstream this took the gateway's
    involuntary context switches per stream from about 3.4 to 3.0 and its CPU per stream down by
    about 8% (docs/performance.md); the delay it adds is the rest of one turn.
    """

    __slots__ = ("_items", "_loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._items: list[tuple[asyncio.Transport, bytes]] = []

    def put(self, transport: asyncio.Transport, data: bytes) -> None:
        self._items.append((transport, data))
        if len(self._items) == 1:
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        items, self._items = self._items, []
        for transport, data in items:
            # A request cancelled meanwhile aborted its socket: nothing of it goes out.
            if not transport.is_closing():
                transport.write(data)


class Origin:
    """Pooled connections to one scheme://host:port."""

    def __init__(self, url: URL, ssl_context: ssl.SSLContext | None, client: DirectClient) -> None:
        self.loop = asyncio.get_running_loop()
        self.host = url.raw_host or ""
        self.port = url.port or (443 if url.scheme == "https" else 80)
        self.ssl = ssl_context if url.scheme == "https" else None
        self.client = client  # its connect timeout is read at each connect (a reload may change it)
        self.idle: deque[_Socket] = deque()
        self.outbox = _Outbox(self.loop)

    def put_back(self, sock: _Socket) -> None:
        if len(self.idle) >= MAX_IDLE:
            sock.abort()
            return
        sock.idle_since = self.loop.time()
        sock._reset()
        self.idle.append(sock)

    def _reuse(self) -> _Socket | None:
        cutoff = self.loop.time() - IDLE_KEEPALIVE
        while self.idle:
            sock = self.idle.pop()
            transport = sock.transport
            # Bytes that came while the socket idled (a 408 before a close, say) answer no request
            # of ours; reusing it would hand them to the next one.
            if (sock.closed or transport is None or transport.is_closing() or sock.idle_since < cutoff
                    or sock.got_bytes):
                sock.abort()
                continue
            return sock
        return None

    async def _connect(self, deadline: float) -> _Socket:
        host = self.host.strip("[]")
        limit = self.client.connect_timeout
        # The answer's deadline covers the connect too: whichever limit ends first applies.
        left = deadline - self.loop.time()
        try:
            async with asyncio.timeout(min(limit, left)):
                _, sock = await self.loop.create_connection(
                    lambda: _Socket(self), host, self.port, ssl=self.ssl,
                    server_hostname=host.rstrip(".") if self.ssl is not None else None)
        except TimeoutError:
            if left < limit:
                raise TimeoutError() from None
            raise DirectError("connect-timeout", f"{limit:g}") from None
        except OSError as exc:
            raise DirectError("connect", str(exc), os_error=exc) from None
        return sock

    async def send(self, head: bytes, body: bytes, within: float) -> DirectResponse:
        """Write the request and wait for the response head; ``TimeoutError`` when it has not come
        ``within`` seconds (connecting included)."""
        deadline = self.loop.time() + within
        # A pooled socket whose close already reached us is dropped by ``_reuse``. One that closes
        # after the request went out is the caller's failure, not a second write: the upstream may
        # have read and acted on it (an answer it never sent still spends quota), and Go's
        # transport, like aiohttp, resends only idempotent requests. The conductor moves on.
        sock = self._reuse() or await self._connect(deadline)
        return await self._exchange(sock, head, body, deadline)

    async def _exchange(self, sock: _Socket, head: bytes, body: bytes, deadline: float) -> DirectResponse:
        transport = sock.transport
        assert transport is not None
        if len(body) <= 65536:
            self.outbox.put(transport, head + body)
        else:
            transport.writelines((head, body))
        # One timer on the head's future instead of an ``asyncio.timeout`` scope around the wait:
        # the scope (task lookup, reschedule, uncancel bookkeeping) was a visible share of a
        # request's set-up, and nothing but this one future is waited on here.
        timer = self.loop.call_at(deadline, _expire, sock.head)
        try:
            await sock.head
        except asyncio.CancelledError:
            sock.abort()
            raise
        except BaseException:
            sock.abort()
            if sock.error is not None:
                raise sock.error from None
            raise
        finally:
            timer.cancel()
        return DirectResponse(sock)

    def close(self) -> None:
        while self.idle:
            self.idle.pop().abort()


class DirectClient:
    """One ``Origin`` per scheme, host and port."""

    def __init__(self, connect_timeout: float, ssl_context: ssl.SSLContext | None = None) -> None:
        self.connect_timeout = connect_timeout
        self._ssl = ssl_context
        self._origins: dict[tuple[str, str, int | None], Origin] = {}

    def origin(self, url: URL) -> Origin:
        key = (url.scheme, url.raw_host or "", url.port)
        origin = self._origins.get(key)
        if origin is None:
            if url.scheme == "https" and self._ssl is None:
                self._ssl = default_ssl_context()
            origin = self._origins[key] = Origin(url, self._ssl, self)
        return origin

    def close(self) -> None:
        origins, self._origins = self._origins, {}
        for origin in origins.values():
            origin.close()


def default_ssl_context() -> ssl.SSLContext:
    """What aiohttp verifies with by default: the system's CAs, HTTP/1.1 by ALPN."""
    context = ssl.create_default_context()
    with contextlib.suppress(NotImplementedError):
        context.set_alpn_protocols(["http/1.1"])
    return context
