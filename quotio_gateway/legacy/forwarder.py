"""Verbatim forwarding of one client request to the legacy server, streamed both ways."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiohttp
import structlog
from aiohttp import web
from multidict import CIMultiDict

from ..errors import error_response, sse_error_frame
from ..flags.schema import LegacySettings
from ..metrics import Metrics
from .headers import client_response_headers, safe_value, upstream_request_headers
from .pool import RequestSpec, UpstreamError, UpstreamPool, UpstreamResponse

log = structlog.get_logger("quotio_gateway.legacy")

# Responses up to this size with a known length are sent in one write instead of streamed.
_SMALL_BODY = 256 * 1024


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"request body exceeds {limit} bytes")
        self.limit = limit


LEGACY_FAILURE_KEY = "quotio_legacy_failure"
_WS_HANDSHAKE = frozenset({"host", "sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions",
                           "sec-websocket-protocol"})
_STATUS_FOR_KIND = {"unreachable": 503, "timeout": 504, "reset": 502, "protocol": 502}


class Tee(Protocol):
    """What the shadow machinery needs from a forwarded response (see shadow.capture.BodyTee)."""

    def feed(self, chunk: bytes) -> None:
        """Receive the next chunk of the body exactly as it goes to the client."""


# The request Content-Encodings aiohttp's payload reader decodes (http_parser.py).
_DECODED_ON_READ = frozenset({"gzip", "deflate", "br", "zstd"})


class LegacyForwarder:
    def __init__(self, settings: LegacySettings, url: str | None, metrics: Metrics) -> None:
        self.settings = settings
        self.url = url
        self.metrics = metrics
        self._pool: UpstreamPool | None = None
        self._ws_session: aiohttp.ClientSession | None = None
        # Set by the app factory: a LegacyHealth (or None when no legacy is configured).
        self.health: Any = None

    @property
    def configured(self) -> bool:
        return self.url is not None

    @property
    def pool(self) -> UpstreamPool:
        """The pooled connections to legacy (the front door's pass-through lane uses them too)."""
        return self._get_pool()

    def _get_pool(self) -> UpstreamPool:
        if self._pool is None:
            assert self.url is not None
            parts = urlsplit(self.url)
            self._pool = UpstreamPool(parts.hostname or "127.0.0.1", parts.port or 80,
                                      size=self.settings.pool_size,
                                      connect_timeout=self.settings.connect_timeout,
                                      read_timeout=self.settings.read_timeout)
        return self._pool

    def reconfigure(self, settings: LegacySettings, url: str | None) -> None:
        """A new ``legacy`` section from the flag table: later requests use a pool for the new
        target and limits; answers under way on the old pool finish, and its connections close."""
        self.settings = settings
        self.url = url
        old, self._pool = self._pool, None
        if old is not None:
            old.close()

    async def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
        if self._ws_session is not None:
            await self._ws_session.close()

    def failure(self, route: str, exc: UpstreamError, method: str, path: str) -> tuple[int, str]:
        """Count and log a failed exchange; the status and message of the gateway's own answer."""
        self.metrics.legacy_errors.labels(route=route, kind=exc.kind).inc()
        log.error("legacy request failed", kind=exc.kind, error=str(exc), method=method, path=path)
        status = _STATUS_FOR_KIND.get(exc.kind, 502)
        message = "legacy server is unreachable" if exc.kind == "unreachable" else f"legacy server error: {exc}"
        return status, message

    def _failure(self, request: web.Request, route: str, exc: UpstreamError) -> web.Response:
        # The answer below is the gateway's, not legacy's: shadow must not compare it as legacy's.
        request[LEGACY_FAILURE_KEY] = exc.kind
        status, message = self.failure(route, exc, request.method, request.path)
        return error_response(request.path, status, message)

    def _upstream_headers(self, request: web.Request, request_id: str, peer: str,
                          trusted_peer: bool) -> list[tuple[str, str]]:
        # X-Forwarded-For records the hop we saw; a trusted proxy's chain is kept before it.
        return upstream_request_headers(request.headers.items(), client_ip=peer, scheme=request.scheme,
                                        host=request.host, trusted_peer=trusted_peer, request_id=request_id)

    async def forward(self, request: web.Request, *, route: str, request_id: str, peer: str,
                      trusted_peer: bool, body: bytes | None, tee: Tee | None = None,
                      on_head: Callable[[], None] | None = None,
                      limit: int = 0) -> web.StreamResponse:
        if not self.configured:
            request[LEGACY_FAILURE_KEY] = "not_configured"
            self.metrics.legacy_errors.labels(route=route, kind="not_configured").inc()
            return error_response(request.path, 503, "no legacy server is configured for this route")
        target = request.raw_path
        if not safe_value(target) or " " in target:
            return error_response(request.path, 400, "invalid request target")
        headers = self._upstream_headers(request, request_id, peer, trusted_peer)
        if request.headers.get("Content-Encoding", "").strip().lower() in _DECODED_ON_READ:
            # aiohttp's reader decoded the body (the front door forwards such bodies raw when it
            # takes them): legacy gets the bytes read, so not an encoding they no longer have.
            headers = [(name, value) for name, value in headers if name.lower() != "content-encoding"]
        spec = RequestSpec(request.method, target, headers)
        payload = body if body is not None else (
            self._stream_body(request, limit) if request.body_exists else None)
        # A streamed body keeps the client's Content-Length framing. Not when aiohttp decoded a
        # Content-Encoding on the way in: the bytes then no longer add up to the header.
        length = request.content_length if (
            body is None and payload is not None and "Transfer-Encoding" not in request.headers
            and "Content-Encoding" not in request.headers) else None
        try:
            upstream = await self._get_pool().request(spec, payload, length=length)
        except UpstreamError as exc:
            return self._failure(request, route, exc)
        except BodyTooLarge as exc:
            return error_response(request.path, 413, str(exc))
        if on_head is not None:
            on_head()
        return await self._respond(request, upstream, route=route, tee=tee)

    @staticmethod
    async def _stream_body(request: web.Request, limit: int) -> AsyncIterator[bytes]:
        seen = 0
        async for chunk in request.content.iter_any():
            seen += len(chunk)
            if limit and seen > limit:
                raise BodyTooLarge(limit)
            yield chunk

    async def _respond(self, request: web.Request, upstream: UpstreamResponse, *, route: str,
                       tee: Tee | None) -> web.StreamResponse:
        headers = CIMultiDict(client_response_headers(upstream.headers))
        length = upstream.content_length
        if request.method == "HEAD" or upstream.status in (204, 304):
            await upstream.read()
            response = web.StreamResponse(status=upstream.status, headers=headers)
            if length is not None and request.method == "HEAD":
                response.content_length = length
            return response
        if length is not None and length <= _SMALL_BODY:
            try:
                data = await upstream.read()
            except UpstreamError as exc:
                return self._failure(request, route, exc)
            if tee is not None:
                tee.feed(data)
            response = web.Response(status=upstream.status, body=data, headers=headers)
            if "Content-Type" not in headers:
                response.headers.pop("Content-Type", None)
            return response
        return await self._stream(request, upstream, headers, length, route=route, tee=tee)

    async def _stream(self, request: web.Request, upstream: UpstreamResponse, headers: CIMultiDict[str],
                      length: int | None, *, route: str, tee: Tee | None) -> web.StreamResponse:
        response = web.StreamResponse(status=upstream.status, headers=headers)
        if length is not None:
            response.content_length = length
        is_sse = headers.get("Content-Type", "").startswith("text/event-stream")
        self.metrics.open_streams.labels(route=route, side="legacy").inc()
        try:
            await response.prepare(request)
            try:
                async for chunk in upstream.iter_chunks():
                    if tee is not None:
                        tee.feed(chunk)
                    await response.write(chunk)
            except UpstreamError as exc:
                self.metrics.legacy_errors.labels(route=route, kind=exc.kind).inc()
                log.error("legacy stream broke", kind=exc.kind, error=str(exc), path=request.path)
                if is_sse and length is None:
                    with contextlib.suppress(ConnectionError):
                        await response.write(sse_error_frame(request.path, f"legacy stream interrupted: {exc}"))
                        await response.write_eof()
                        return response
                # Without a framing to signal the error in, cutting the connection is the only
                # honest answer: the client sees a truncated body, not a complete-looking one.
                if request.transport is not None:
                    request.transport.abort()
                return response
            await response.write_eof()
            return response
        finally:
            upstream.release()
            self.metrics.open_streams.labels(route=route, side="legacy").dec()

    async def forward_websocket(self, request: web.Request, *, route: str, request_id: str, peer: str,
                                trusted_peer: bool) -> web.StreamResponse:
        """Relay a WebSocket (CLIProxyAPI's /v1/ws provider relay) message by message."""
        if not self.configured:
            return error_response(request.path, 503, "no legacy server is configured for this route")
        if self._ws_session is None:
            # No cookie jar: a cookie legacy set on one client's handshake must not go out on another's.
            self._ws_session = aiohttp.ClientSession(auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar())
        assert self.url is not None
        # Same header rules as plain requests; the handshake headers are the client library's to set.
        headers = [(k, v) for k, v in self._upstream_headers(request, request_id, peer, trusted_peer)
                   if k.lower() not in _WS_HANDSHAKE]
        protocols = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
        try:
            upstream = await self._ws_session.ws_connect(
                self.url.rstrip("/") + request.raw_path, headers=CIMultiDict(headers), protocols=protocols,
                timeout=aiohttp.ClientWSTimeout(ws_close=5.0), autoping=False)
        except aiohttp.WSServerHandshakeError as exc:
            body = {"error": exc.message or "websocket handshake refused"}
            return web.json_response(body, status=exc.status)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            return self._failure(request, route, UpstreamError("unreachable", str(exc)))
        client = web.WebSocketResponse(protocols=protocols, autoping=False)
        await client.prepare(request)
        self.metrics.open_streams.labels(route=route, side="legacy").inc()
        try:
            await _relay(client, upstream)
        finally:
            self.metrics.open_streams.labels(route=route, side="legacy").dec()
            await upstream.close()
            await client.close()
        return client


async def _pump(source: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
                sink: web.WebSocketResponse | aiohttp.ClientWebSocketResponse) -> None:
    async for msg in source:
        if msg.type == aiohttp.WSMsgType.TEXT:
            await sink.send_str(msg.data)
        elif msg.type == aiohttp.WSMsgType.BINARY:
            await sink.send_bytes(msg.data)
        elif msg.type == aiohttp.WSMsgType.PING:
            await sink.ping(msg.data)
        elif msg.type == aiohttp.WSMsgType.PONG:
            await sink.pong(msg.data)
        elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.ERROR):
            break
    with contextlib.suppress(Exception):
        await sink.close(code=source.close_code or 1000)


async def _relay(client: web.WebSocketResponse, upstream: aiohttp.ClientWebSocketResponse) -> None:
    tasks = [asyncio.ensure_future(_pump(client, upstream)), asyncio.ensure_future(_pump(upstream, client))]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
