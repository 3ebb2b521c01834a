"""A lean HTTP/1.1 client for one upstream: pooled keep-alive connections, httptools parsing.

aiohttp's ClientSession does far more per request than a pass-through needs (cookie jar, redirect
and auth machinery, URL rebuilding), and its cost shows directly in the proxy's latency. This
client writes the request head and body to a pooled socket and hands the response body back chunk
by chunk with flow control, nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass

import httptools


class UpstreamError(Exception):
    """The upstream could not be reached or broke the exchange. ``kind`` is a metric label."""

    def __init__(self, kind: str, message: str, *, response_started: bool = False) -> None:
        super().__init__(message)
        self.kind = kind
        self.response_started = response_started


_HIGH_WATER = 256 * 1024


class _Connection(asyncio.Protocol):
    def __init__(self, pool: UpstreamPool) -> None:
        self.pool = pool
        self.loop = pool.loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.reading_paused = False
        self._drain: asyncio.Future[None] | None = None
        self._paused_writing = False
        self._reset_exchange()

    def _reset_exchange(self) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.head_done: asyncio.Future[None] = self.loop.create_future()
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.complete = False
        self.error: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.head_only = False
        self.keep_alive = False
        self.last_read = self.loop.time()
        self.got_bytes = False

    # --- asyncio.Protocol -------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                # Head and body go out in one write; never wait for an ACK before sending it.
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.last_read = self.loop.time()
        self.got_bytes = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(UpstreamError("protocol", f"malformed response from legacy: {exc}",
                                     response_started=self.head_done.done()))
            self._close_transport()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.complete:
            self._fail(UpstreamError("reset", "legacy closed the connection",
                                     response_started=self.head_done.done()))
        if self._drain is not None and not self._drain.done():
            self._drain.set_exception(UpstreamError("reset", "legacy closed the connection"))

    def pause_writing(self) -> None:
        self._paused_writing = True

    def resume_writing(self) -> None:
        self._paused_writing = False
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)
        self._drain = None

    # --- httptools callbacks ----------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        if 100 <= self.status < 200:
            # Interim answers (100 Continue) are not forwarded; the final head follows.
            self.headers = []
            return
        self.keep_alive = self.parser.should_keep_alive()
        if not self.head_done.done():
            self.head_done.set_result(None)
        if self.head_only:
            # HEAD answers carry no body even with a Content-Length; the parser cannot know that,
            # so the exchange ends here and the socket is not reused.
            self.complete = True
            self._wake()
            self._close_transport()

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > _HIGH_WATER and self.transport is not None and not self.reading_paused:
            self.reading_paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if 100 <= self.status < 200:
            return
        self.complete = True
        self._wake()

    # --- helpers ----------------------------------------------------------------------
    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def _fail(self, exc: BaseException) -> None:
        if self.error is None:
            self.error = exc
        if not self.head_done.done():
            self.head_done.set_exception(exc)
            self.head_done.exception()  # mark retrieved; the caller re-reads self.error
        self._wake()

    def _close_transport(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def resume_reading(self) -> None:
        if self.reading_paused and self.transport is not None and not self.closed:
            self.reading_paused = False
            self.transport.resume_reading()

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    async def drain(self) -> None:
        if self.closed:
            raise UpstreamError("reset", "legacy closed the connection")
        if self._paused_writing:
            self._drain = self.loop.create_future()
            await self._drain


@dataclass(slots=True)
class RequestSpec:
    method: str
    target: str  # path and query, exactly as the client sent them
    headers: list[tuple[str, str]]


class UpstreamResponse:
    def __init__(self, conn: _Connection, pool: UpstreamPool, read_timeout: float) -> None:
        self._conn = conn
        self._pool = pool
        self._read_timeout = read_timeout
        self.status = conn.status
        self.headers = conn.headers
        self._released = False

    def header(self, name: bytes) -> bytes | None:
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None

    @property
    def content_length(self) -> int | None:
        value = self.header(b"content-length")
        if value is None or self.header(b"transfer-encoding") is not None:
            return None
        try:
            return int(value)
        except ValueError:
            return None

    async def _next(self) -> bytes | None:
        conn = self._conn
        while True:
            if conn.chunks:
                chunk = conn.chunks.popleft()
                conn.buffered -= len(chunk)
                if conn.reading_paused and conn.buffered <= _HIGH_WATER // 2:
                    conn.resume_reading()
                return chunk
            if conn.complete:
                return None
            if conn.error is not None:
                raise conn.error
            conn.waiter = conn.loop.create_future()
            timer = conn.loop.call_later(self._read_timeout, self._check_idle)
            try:
                await conn.waiter
            finally:
                timer.cancel()
                conn.waiter = None

    def _check_idle(self) -> None:
        conn = self._conn
        if conn.loop.time() - conn.last_read >= self._read_timeout * 0.99:
            conn._fail(UpstreamError("timeout", "legacy stopped sending data", response_started=True))
            conn.abort()
        elif conn.waiter is not None and not conn.waiter.done():
            # Data arrived since the timer started but nothing is buffered yet; wait again.
            conn.waiter.set_result(None)

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        try:
            while (chunk := await self._next()) is not None:
                yield chunk
        finally:
            self.release()

    async def read(self) -> bytes:
        conn = self._conn
        if conn.complete and conn.error is None:
            # Common case for small answers: the whole body came with the head.
            data = b"".join(conn.chunks)
            conn.chunks.clear()
            conn.buffered = 0
            self.release()
            return data
        parts = [chunk async for chunk in self.iter_chunks()]
        return b"".join(parts)

    def release(self) -> None:
        """Return the socket to the pool when the exchange finished cleanly, else close it."""
        if self._released:
            return
        self._released = True
        conn = self._conn
        if conn.complete and not conn.closed and conn.error is None and conn.keep_alive:
            self._pool._put_back(conn)
        else:
            conn.abort()


class UpstreamPool:
    def __init__(self, host: str, port: int, *, size: int = 256, connect_timeout: float = 5.0,
                 read_timeout: float = 600.0) -> None:
        self.host = host
        self.port = port
        self.size = size
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.loop = asyncio.get_running_loop()
        self._idle: deque[_Connection] = deque()
        self._host_header = f"{host}:{port}"
        # Closed when the legacy target changed: answers still under way finish, then their
        # connections are dropped instead of kept for reuse.
        self.closed = False

    async def _connect(self) -> _Connection:
        try:
            _, conn = await asyncio.wait_for(
                self.loop.create_connection(lambda: _Connection(self), self.host, self.port),
                self.connect_timeout)
        except TimeoutError:
            raise UpstreamError("timeout", "timed out connecting to legacy") from None
        except OSError as exc:
            raise UpstreamError("unreachable", f"legacy unreachable: {exc.strerror or exc}") from None
        return conn

    def _take_idle(self) -> _Connection | None:
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed and conn.transport is not None and not conn.transport.is_closing():
                conn._reset_exchange()
                conn.parser = httptools.HttpResponseParser(conn)
                return conn
        return None

    def _put_back(self, conn: _Connection) -> None:
        if self.closed or len(self._idle) >= self.size:
            conn.abort()
            return
        conn.resume_reading()
        self._idle.append(conn)

    def close(self) -> None:
        self.closed = True
        while self._idle:
            self._idle.pop().abort()

    @staticmethod
    def _head(spec: RequestSpec, framing: str | None) -> bytes:
        lines = [f"{spec.method} {spec.target} HTTP/1.1"]
        lines.extend(f"{name}: {value}" for name, value in spec.headers)
        if framing is not None:
            lines.append(framing)
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def request(self, spec: RequestSpec, body: bytes | AsyncIterable[bytes] | None, *,
                      length: int | None = None) -> UpstreamResponse:
        """Send one request; returns once the response head arrived. Body bytes may be retried.

        A streamed body goes out chunked, unless ``length`` (the client's Content-Length) is
        given: then with that Content-Length and its bytes as they come, so legacy sees the
        request framed as the client framed it."""
        if isinstance(body, bytes | None):
            payload = body or b""
            framing = f"Content-Length: {len(payload)}" if payload or spec.method in (
                "POST", "PUT", "PATCH") else None
            head = self._head(spec, framing)
            conn = self._take_idle()
            if conn is not None:
                try:
                    return await self._exchange(conn, spec, head + payload, None)
                except UpstreamError as exc:
                    # A kept-alive socket the server closed while idle: nothing of ours was
                    # processed, so one retry on a fresh socket is safe.
                    if exc.response_started or conn.got_bytes:
                        raise
            conn = await self._connect()
            return await self._exchange(conn, spec, head + payload, None)
        conn = self._take_idle() or await self._connect()
        if length is not None:
            head = self._head(spec, f"Content-Length: {length}")
            return await self._exchange(conn, spec, head, _Sized(body, length))
        head = self._head(spec, "Transfer-Encoding: chunked")
        return await self._exchange(conn, spec, head, body)

    async def _exchange(self, conn: _Connection, spec: RequestSpec, first: bytes,
                        stream: AsyncIterable[bytes] | None) -> UpstreamResponse:
        conn.head_only = spec.method == "HEAD"
        assert conn.transport is not None
        conn.transport.write(first)
        sender: asyncio.Task[None] | None = None
        if stream is not None:
            sender = asyncio.ensure_future(self._send_body(conn, stream))
        try:
            if sender is None:
                await self._await_head(conn)
            else:
                done, _ = await asyncio.wait({sender, conn.head_done}, return_when=asyncio.FIRST_COMPLETED)
                if sender in done and sender.exception() is not None:
                    conn.abort()
                    raise sender.exception()  # type: ignore[misc]
                await self._await_head(conn)
        except BaseException:
            if sender is not None and not sender.done():
                sender.cancel()
            conn.abort()
            raise
        response = UpstreamResponse(conn, self, self.read_timeout)
        if sender is not None and not sender.done():
            # The upstream answered before the body finished (e.g. 413): stop sending.
            sender.cancel()
        return response

    async def _await_head(self, conn: _Connection) -> None:
        timer = self.loop.call_later(self.read_timeout, self._head_timeout, conn)
        try:
            await conn.head_done
        except asyncio.CancelledError:
            raise
        except BaseException:
            if conn.error is not None:
                raise conn.error from None
            raise
        finally:
            timer.cancel()

    @staticmethod
    def _head_timeout(conn: _Connection) -> None:
        if not conn.head_done.done():
            conn._fail(UpstreamError("timeout", "legacy did not answer in time"))
            conn.abort()

    @staticmethod
    async def _send_body(conn: _Connection, stream: AsyncIterable[bytes]) -> None:
        """A streamed body as its head framed it: chunked, or (``_Sized``) raw under Content-Length."""
        assert conn.transport is not None
        if isinstance(stream, _Sized):
            # Content-Length framing: the bytes as they are, and no terminator.
            async for chunk in stream:
                conn.transport.write(chunk)
                await conn.drain()
            return
        async for chunk in stream:
            if not chunk:
                continue
            conn.transport.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            await conn.drain()
        if not conn.closed:
            conn.transport.write(b"0\r\n\r\n")


class _Sized:
    """A streamed body sent under the client's Content-Length: it must carry exactly that many
    bytes, or the exchange fails (legacy would otherwise wait for, or misread, the rest)."""

    def __init__(self, stream: AsyncIterable[bytes], length: int) -> None:
        self._stream = stream
        self._length = length

    async def __aiter__(self) -> AsyncIterator[bytes]:
        sent = 0
        async for chunk in self._stream:
            if not chunk:
                continue
            sent += len(chunk)
            if sent > self._length:
                raise UpstreamError("request", "request body longer than its Content-Length")
            yield chunk
        if sent != self._length:
            raise UpstreamError("request", "request body shorter than its Content-Length")
