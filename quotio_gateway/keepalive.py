"""``GET /keep-alive`` for launchers that start the server with ``-password`` (internal/cmd/run.go:
27-44, internal/api/server.go:664-745): the launcher proves it is still there, and a server nobody
has called for 10 s shuts itself down. Only registered when a local password is given; a plain
start has no such route and never stops on its own."""

from __future__ import annotations

import asyncio
import hmac
import os
import signal
from collections.abc import Callable

import structlog
from aiohttp import web

from .management.responses import json_response

log = structlog.get_logger("quotio_gateway.keepalive")

IDLE_TIMEOUT = 10.0


def _provided(request: web.Request) -> str:
    """``handleKeepAlive``: the Bearer value (or the whole Authorization value), else
    ``X-Local-Password``."""
    provided = request.headers.get("Authorization", "").strip()
    if provided:
        scheme, space, rest = provided.partition(" ")
        if space and scheme.lower() == "bearer":
            provided = rest
    if not provided:
        provided = request.headers.get("X-Local-Password", "").strip()
    return provided


def _sigterm() -> None:
    # The same graceful stop as a launcher's SIGTERM: streams get their grace period.
    os.kill(os.getpid(), signal.SIGTERM)


class KeepAlive:
    def __init__(self, password: str, *, timeout: float = IDLE_TIMEOUT,
                 on_timeout: Callable[[], None] = _sigterm) -> None:
        self.password = password
        self.timeout = timeout
        self.on_timeout = on_timeout
        self._beat = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def handle(self, request: web.Request) -> web.Response:
        if not hmac.compare_digest(_provided(request).encode(), self.password.encode()):
            return json_response(401, {"error": "invalid password"})
        self._beat.set()
        return json_response(200, {"status": "ok"})

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._watch())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _watch(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._beat.wait(), self.timeout)
            except TimeoutError:
                log.warning("keep-alive endpoint idle, shutting down", idle_seconds=self.timeout)
                self.on_timeout()
                return
            self._beat.clear()


def setup_keepalive(app: web.Application, password: str | None, **options: object) -> KeepAlive | None:
    if not password:
        return None
    keepalive = KeepAlive(password, **options)  # type: ignore[arg-type]
    # GET only, as Gin routes it: aiohttp would also answer HEAD here.
    app.router.add_get("/keep-alive", keepalive.handle, allow_head=False)

    async def startup(_: web.Application) -> None:
        keepalive.start()

    async def cleanup(_: web.Application) -> None:
        await keepalive.stop()

    app.on_startup.append(startup)
    app.on_cleanup.append(cleanup)
    return keepalive
