"""A stand-in Amp control plane (``ampcode.upstream-url``) on a loopback port: it records every
request (method, raw path and query, headers, body) and answers what the test scripted for it
(default: 200 ``{"amp":"ok"}`` with a custom header)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiohttp import web

from .loopback import serve_on_loopback


@dataclass
class AmpRequest:
    method: str
    path_qs: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return values[0] if values else None


@dataclass
class AmpAnswer:
    status: int = 200
    body: bytes = b'{"amp":"ok"}'
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json",
                                                              "X-Amp-Upstream": "yes"})
    chunks: list[bytes] | None = None  # streamed one by one when set


class FakeAmp:
    def __init__(self) -> None:
        self.requests: list[AmpRequest] = []
        self.answers: list[AmpAnswer] = []
        self.runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._serve)
        self.runner, _ = await serve_on_loopback(app)
        self.port = self.runner.addresses[0][1]

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = [(k.decode(), v.decode()) for k, v in request.raw_headers]
        self.requests.append(AmpRequest(request.method, request.raw_path, headers, body))
        answer = self.answers.pop(0) if self.answers else AmpAnswer()
        if answer.chunks is None:
            return web.Response(status=answer.status, body=answer.body, headers=answer.headers)
        response = web.StreamResponse(status=answer.status, headers=answer.headers)
        await response.prepare(request)
        for chunk in answer.chunks:
            await response.write(chunk)
            await asyncio.sleep(0)
        await response.write_eof()
        return response
