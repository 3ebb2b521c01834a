"""Capturing both legs of a shadowed request without touching the client connection.

The native leg runs the real aiohttp handler on a clone of the request whose payload writer
records the response instead of sending it. That relies on aiohttp internals (``_payload_writer``,
``_read_bytes``, ``_payload``); everything that touches them is in this module, and
tests/quotio_gateway/shadow/test_capture.py fails loudly if an aiohttp upgrade changes them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.base_protocol import BaseProtocol
from aiohttp.streams import StreamReader
from multidict import CIMultiDict

from .types import Captured

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class _WholeBody(BaseProtocol):
    """The protocol behind a reader that holds a body already read whole: there is no socket to
    pause. (BaseProtocol's ``pause_reading`` asserts a parser, so a body past twice the reader's
    limit, 128 KiB, failed every comparison.)"""

    def pause_reading(self) -> None:
        pass

    def resume_reading(self, resume_parser: bool = True) -> None:
        pass


def whole_body_reader(body: bytes) -> StreamReader:
    """A request payload reader holding ``body`` and its end, for a request a shadow leg replays."""
    loop = asyncio.get_running_loop()
    reader = StreamReader(_WholeBody(loop), 2**16, loop=loop)
    if body:
        reader.feed_data(body)
    reader.feed_eof()
    return reader


class BodyTee:
    """Keeps the head of a body (up to ``max_bytes``) as it streams past; the rest only sets a flag."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._chunks = bytearray()
        self.truncated = False
        self.size = 0

    def feed(self, chunk: bytes | bytearray | memoryview) -> None:
        length = len(chunk)
        self.size += length
        if self.truncated:
            return
        room = self.max_bytes - len(self._chunks)
        if length > room:
            self._chunks += bytes(chunk[:room])
            self.truncated = True
        else:
            self._chunks += chunk

    def result(self, status: int, headers: list[tuple[str, str]] | CIMultiDict[str], elapsed: float,
               error: str | None = None) -> Captured:
        pairs = list(headers.items()) if isinstance(headers, CIMultiDict) else list(headers)
        return Captured(status=status, headers=pairs, body=bytes(self._chunks), truncated=self.truncated,
                        error=error, elapsed=elapsed)


class CapturingWriter(AbstractStreamWriter):
    """An ``AbstractStreamWriter`` that records status line, headers and body into a ``BodyTee``."""

    def __init__(self, max_bytes: int) -> None:
        self.tee = BodyTee(max_bytes)
        self.status_line = ""
        self.headers: list[tuple[str, str]] = []
        self.headers_written = False
        self.eof = False
        self.compression: str | None = None
        self.buffer_size = 0
        self.output_size = 0
        self.length = None

    async def write(self, chunk: bytes | bytearray | memoryview) -> None:
        self.tee.feed(chunk)
        self.output_size += len(chunk)
        if self.on_body_write is not None:
            self.on_body_write(len(chunk), self.output_size)

    async def write_eof(self, chunk: bytes = b"") -> None:
        if chunk:
            await self.write(chunk)
        self.eof = True

    async def drain(self) -> None:
        return None

    def enable_compression(self, encoding: str = "deflate", strategy: int | None = None) -> None:
        # Keep the body uncompressed: comparison wants the content, not one encoding of it.
        self.compression = encoding

    def enable_chunking(self) -> None:
        return None

    async def write_headers(self, status_line: str, headers: CIMultiDict[str]) -> None:
        self.status_line = status_line
        self.headers = [(k, v) for k, v in headers.items()
                        if not (self.compression and k.lower() == "content-encoding")]
        self.headers_written = True


def clone_for_capture(request: web.Request, body: bytes, writer: AbstractStreamWriter) -> web.Request:
    """A copy of ``request`` whose body reads return ``body`` and whose response goes to ``writer``."""
    # clone() refuses once the body was read, which the dispatcher has always done by now; the body
    # is supplied separately, so let clone() believe it was not.
    saved = request._read_bytes
    request._read_bytes = None
    try:
        clone = request.clone()
    finally:
        request._read_bytes = saved
    clone._read_bytes = body
    if request.body_exists or body:
        # A private reader so ``request.content`` streams the same bytes; its protocol is a detached
        # one so flow control can never pause the client's real connection. (Without a body the
        # clone keeps aiohttp's shared empty reader, so ``body_exists`` stays False as it was.)
        clone._payload = whole_body_reader(body)
    clone._payload_writer = writer
    if clone.writer is not writer:
        # Never let a shadow response reach the real client connection.
        raise RuntimeError("aiohttp internals changed: the response writer cannot be redirected")
    return clone


async def capture_native(handler: Handler, request: web.Request, body: bytes, max_bytes: int) -> Captured:
    """Run a native handler off to the side and return what it answered; never raises."""
    writer = CapturingWriter(max_bytes)
    started = time.monotonic()
    try:
        clone = clone_for_capture(request, body, writer)
        try:
            response = await handler(clone)
        except web.HTTPException as exc:
            # aiohttp sends a raised HTTP exception as the response; the client would see that.
            response = exc
        if not isinstance(response, web.StreamResponse):
            raise TypeError(f"handler returned {type(response).__name__}, not a response")
        # Same two steps aiohttp runs after a handler returns: prepare (a no-op for a streamed
        # response that already did) and finish the body.
        await response.prepare(clone)
        await response.write_eof()
        status = response.status
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        return Captured(status=500, headers=[], body=b"", error=type(exc).__name__,
                        elapsed=time.monotonic() - started)
    return writer.tee.result(status, writer.headers, time.monotonic() - started)
