"""A fake upstream on 127.0.0.1 that records every request and plays a scripted answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from aiohttp import web
from multidict import CIMultiDictProxy

from handlers.providers import Timeouts, UpstreamClient
from tests.fakes.loopback import serve_on_loopback


@dataclass
class Recorded:
    method: str
    path_qs: str
    headers: CIMultiDictProxy[str]
    body: bytes

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)


Script = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FakeUpstream:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.script: Script = reply_json(200, {"ok": True})
        self.disconnected = asyncio.Event()
        self.port = 0
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def last(self) -> Recorded:
        return self.requests[-1]

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # Cancel the handler when the client goes away: that is how a test sees the disconnect.
        self._runner, _ = await serve_on_loopback(app, handler_cancellation=True)
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def answer_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self.script = reply_json(status, payload, headers)

    def answer_sse(self, frames: list[bytes], *, end: str = "eof", delay: float = 0.0) -> None:
        self.script = reply_sse(frames, end=end, delay=delay)

    def answer_stall(self) -> None:
        self.script = stall_before_headers()

    @staticmethod
    def frame(data: Any, event: str = "") -> bytes:
        return sse(data, event)

    async def wait_disconnect(self) -> None:
        await asyncio.wait_for(self.disconnected.wait(), 5)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(Recorded(request.method, request.path_qs, request.headers, await request.read()))
        try:
            return await self.script(request)
        except asyncio.CancelledError:
            self.disconnected.set()
            raise


def reply_json(status: int, payload: Any, headers: dict[str, str] | None = None) -> Script:
    body = payload if isinstance(payload, bytes) else orjson.dumps(payload)

    async def script(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, body=body, headers=headers, content_type="application/json")

    return script


def reply_sse(frames: list[bytes], *, end: str = "eof", delay: float = 0.0) -> Script:
    """Send ``frames`` one write each, then: ``eof`` (clean end), ``reset`` (abort the TCP
    connection mid-body), ``stall`` (keep the connection silent until the client leaves)."""

    async def script(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=200, headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for frame in frames:
            await response.write(frame)
            if delay:
                await asyncio.sleep(delay)
        if end == "reset":
            assert request.transport is not None
            request.transport.abort()
            return response
        if end == "stall":
            await asyncio.sleep(3600)
        await response.write_eof()
        return response

    return script


def stall_before_headers() -> Script:
    async def script(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(3600)
        return web.Response()

    return script


def sse(data: Any, event: str = "") -> bytes:
    body = data if isinstance(data, bytes) else orjson.dumps(data)
    prefix = f"event: {event}\n".encode() if event else b""
    return prefix + b"data: " + body + b"\n\n"


@pytest.fixture
async def upstream() -> AsyncIterator[FakeUpstream]:
    fake = FakeUpstream()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def client() -> AsyncIterator[UpstreamClient]:
    pool = UpstreamClient(Timeouts(connect=2.0, first_byte=0.5, idle=0.5))
    yield pool
    await pool.close()
