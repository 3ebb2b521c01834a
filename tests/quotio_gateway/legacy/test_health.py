"""LegacyHealth against a real aiohttp server on 127.0.0.1 that goes away and comes back."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

from quotio_gateway.legacy.health import LegacyHealth
from quotio_gateway.metrics import Metrics

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Server:
    """A server that can be stopped and started again on the same port."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.status = 200
        self.delay = 0.0
        self.paths: list[str] = []
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        self.paths.append(request.path)
        if self.delay:
            await asyncio.sleep(self.delay)
        return web.json_response({"ok": True}, status=self.status)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


@pytest.fixture
async def server() -> AsyncIterator[_Server]:
    srv = _Server(_free_port())
    await srv.start()
    yield srv
    await srv.stop()


def _up(metrics: Metrics) -> float | None:
    return metrics.registry.get_sample_value("quotio_gateway_legacy_up")


async def _until(predicate: Callable[[], bool], within: float = 5.0) -> None:
    step = 0.02
    for _ in range(int(within / step)):
        if predicate():
            return
        await asyncio.sleep(step)
    raise AssertionError(f"condition not met within {within}s")


async def test_flips_down_when_server_stops_and_up_when_it_returns(server: _Server) -> None:
    metrics = Metrics()
    health = LegacyHealth(f"http://127.0.0.1:{server.port}", "/", metrics, interval=0.1)
    assert health.healthy is False
    assert _up(metrics) == 0.0
    await health.start()
    try:
        assert await health.wait_healthy(5.0) is True
        assert health.healthy is True
        assert health.last_error is None
        assert health.last_ok is not None
        assert _up(metrics) == 1.0
        first_ok = health.last_ok

        await server.stop()
        await _until(lambda: not health.healthy)
        assert _up(metrics) == 0.0
        assert health.last_error is not None
        assert health.last_error.startswith("ClientConnectorError: ")
        assert str(server.port) in health.last_error
        assert health.last_ok == first_ok

        await server.start()
        assert await health.wait_healthy(5.0) is True
        assert _up(metrics) == 1.0
        assert health.last_error is None
        assert health.last_ok is not None and health.last_ok >= first_ok
    finally:
        await health.stop()
    assert health.healthy is False
    assert _up(metrics) == 0.0


async def test_server_error_status_is_unhealthy(server: _Server) -> None:
    server.status = 503
    health = LegacyHealth(f"http://127.0.0.1:{server.port}", "/", Metrics(), interval=0.1)
    await health.start()
    try:
        await health.check()
        assert health.healthy is False
        assert health.last_error == "HTTP 503"
    finally:
        await health.stop()


async def test_client_error_status_still_means_the_server_is_up(server: _Server) -> None:
    # A management path answered 401/404 without a key: the process is serving.
    server.status = 404
    metrics = Metrics()
    health = LegacyHealth(f"http://127.0.0.1:{server.port}/", "v0/management/debug", metrics, interval=5)
    await health.start()
    try:
        assert await health.check() is True
        assert server.paths[-1] == "/v0/management/debug"
        assert _up(metrics) == 1.0
    finally:
        await health.stop()


async def test_slow_answer_is_a_timeout(server: _Server) -> None:
    server.delay = 1.0
    health = LegacyHealth(f"http://127.0.0.1:{server.port}", "/", Metrics(), interval=5, timeout=0.2)
    await health.start()
    try:
        assert await health.check() is False
        assert health.last_error == "timeout after 0.2s"
    finally:
        await health.stop()


async def test_wait_healthy_gives_up_when_nothing_listens() -> None:
    health = LegacyHealth(f"http://127.0.0.1:{_free_port()}", "/", Metrics(), interval=0.1)
    await health.start()
    try:
        assert await health.wait_healthy(0.5) is False
        assert health.healthy is False
        assert health.last_error is not None
    finally:
        await health.stop()


async def test_wait_healthy_returns_when_the_server_appears_late() -> None:
    srv = _Server(_free_port())
    health = LegacyHealth(f"http://127.0.0.1:{srv.port}", "/", Metrics(), interval=0.1)
    await health.start()
    try:
        waiter = asyncio.create_task(health.wait_healthy(5.0))
        await asyncio.sleep(0.3)
        assert not waiter.done()
        await srv.start()
        assert await waiter is True
    finally:
        await health.stop()
        await srv.stop()


async def test_check_before_start_is_an_error() -> None:
    health = LegacyHealth("http://127.0.0.1:1", "/", Metrics())
    with pytest.raises(RuntimeError, match=r"^LegacyHealth.start\(\) has not been called$"):
        await health.check()
