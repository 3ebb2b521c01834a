"""Shared fixtures: free ports, a scripted upstream playing the legacy server, gateway factories."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from handlers.inference.routes import setup_inference_routes
from handlers.models.routes import setup_model_routes
from quotio_gateway.app import GatewayOptions, create_app
from quotio_gateway.native import NativeRegistry
from tests.fakes.llm_upstream import FakeLLM
from tests.fakes.loopback import serve_on_loopback

SECRET = "s3cret-management-key"
# Port 9 has no listener: the control panel checks every gateway starts (and latest-version) fail
# at once instead of trying the internet; tests that want GitHub point these at tests/fakes/github.py.
NO_GITHUB = "http://127.0.0.1:9"


@pytest.fixture(scope="session", autouse=True)
def _no_github() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("QUOTIO_GATEWAY_GITHUB_API_URL", NO_GITHUB)
        patch.setenv("QUOTIO_GATEWAY_PANEL_FALLBACK_URL", NO_GITHUB + "/")
        yield


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ScriptedLegacy:
    """A tiny legacy stand-in for forwarding tests; records what reached it."""

    def __init__(self) -> None:
        self.calls: list[dict] = []
        self.release = asyncio.Event()
        self.disconnected = asyncio.Event()
        self.runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def app(self) -> web.Application:
        app = web.Application(client_max_size=512 * 1024 * 1024)
        app.router.add_route("*", "/echo", self.echo)
        app.router.add_get("/v1/models", self.models)
        app.router.add_get("/sse", self.sse)
        app.router.add_get("/gated-sse", self.gated_sse)
        app.router.add_get("/gzip", self.gzip)
        app.router.add_get("/slow", self.slow)
        app.router.add_get("/reset-sse", self.reset_sse)
        app.router.add_get("/ws", self.ws)
        app.router.add_route("*", "/{tail:.*}", self.fallback)
        return app

    async def start(self) -> None:
        self.runner, _ = await serve_on_loopback(self.app(), handler_cancellation=True)
        self.port = self.runner.addresses[0][1]

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    def _record(self, request: web.Request, **extra) -> None:
        self.calls.append({"method": request.method, "path": request.path_qs,
                           "headers": dict(request.headers), **extra})

    async def echo(self, request: web.Request) -> web.Response:
        digest, size = hashlib.sha256(), 0
        async for chunk in request.content.iter_any():
            digest.update(chunk)
            size += len(chunk)
        self._record(request, size=size)
        return web.json_response({"method": request.method, "path": request.path_qs, "size": size,
                                  "sha256": digest.hexdigest(), "headers": dict(request.headers)},
                                 headers={"X-Legacy": "yes", "Connection": "keep-alive, X-Hop", "X-Hop": "1"})

    async def models(self, request: web.Request) -> web.Response:
        self._record(request)
        return web.json_response({"object": "list", "data": [{"id": "m1", "object": "model", "owned_by": "x",
                                                              "created": 1}]})

    async def sse(self, request: web.Request) -> web.StreamResponse:
        self._record(request)
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await resp.prepare(request)
        for i in range(int(request.query.get("n", "3"))):
            await resp.write(f"data: {{\"i\": {i}}}\n\n".encode())
        await resp.write(b"data: [DONE]\n\n")
        return resp

    async def gated_sse(self, request: web.Request) -> web.StreamResponse:
        """Sends one event, then waits for the test before the next: proves nothing buffers."""
        self._record(request)
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        try:
            await resp.write(b"data: first\n\n")
            await asyncio.wait_for(self.release.wait(), 10)
            await resp.write(b"data: second\n\n")
        except asyncio.CancelledError:
            self.disconnected.set()
            raise
        return resp

    async def gzip(self, request: web.Request) -> web.Response:
        body = gzip.compress(b'{"zipped": true}')
        return web.Response(body=body, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})

    async def slow(self, request: web.Request) -> web.Response:
        await asyncio.sleep(float(request.query.get("s", "3")))
        return web.json_response({"late": True})

    async def reset_sse(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(b"data: {\"i\": 0}\n\n")
        await asyncio.sleep(0.05)
        request.transport.abort()
        return resp

    async def ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            if msg.type == web.WSMsgType.TEXT and msg.data == "headers?":
                await ws.send_json({"headers": {k.lower(): v for k, v in request.headers.items()},
                                    "forwarded_for": request.headers.getall("X-Forwarded-For", [])})
            elif msg.type == web.WSMsgType.TEXT:
                await ws.send_str("echo:" + msg.data)
            elif msg.type == web.WSMsgType.BINARY:
                await ws.send_bytes(msg.data[::-1])
        return ws

    async def fallback(self, request: web.Request) -> web.Response:
        body = await request.read()
        if request.path != "/":  # the gateway's health probe is not a client call
            self._record(request, body=body.decode(errors="replace"))
        return web.json_response({"legacy": True, "path": request.path_qs, "method": request.method})


@pytest.fixture
async def legacy():
    server = ScriptedLegacy()
    await server.start()
    yield server
    await server.stop()


def write_config(directory: Path, extra: dict | None = None) -> Path:
    path = directory / "config.yaml"
    doc = {"port": 8317, "auth-dir": str(directory / "auths"), "api-keys": ["client-key"],
           "remote-management": {"allow-remote": False, "secret-key": SECRET}}
    doc.update(extra or {})
    path.write_text("# test config\n" + yaml.safe_dump(doc, sort_keys=False))
    return path


def write_flags(directory: Path, doc: dict) -> Path:
    path = directory / "flags.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


GatewayFactory = Callable[..., Awaitable[web.Application]]


@pytest.fixture
def make_gateway(tmp_path) -> GatewayFactory:
    async def factory(flags: dict, *, registry: NativeRegistry | None = None, config: dict | None = None,
                      use_config: bool = True) -> web.Application:
        state = tmp_path / "state"
        flags = {**flags, "server": {"state_dir": str(state), **flags.get("server", {})}}
        options = GatewayOptions(config_path=write_config(tmp_path, config) if use_config else None,
                                 flags_path=write_flags(tmp_path, flags), state_dir=state)
        return await create_app(options, registry=registry)

    return factory


def auth(key: str = SECRET) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
async def fake_llm() -> AsyncIterator[FakeLLM]:
    """The scripted API-key upstream (tests/fakes/llm_upstream.py), started on a loopback port."""
    fake = FakeLLM()
    await fake.start()
    yield fake
    await fake.stop()


async def eventually(check: Callable[[], bool], within: float = 5.0, *, what: str = "") -> None:
    """Wait until ``check()`` holds, polling; bounded, so a condition that never comes fails the
    test (TimeoutError, naming ``what``) instead of hanging it."""
    try:
        async with asyncio.timeout(within):
            while not check():  # noqa: ASYNC110 - what is waited for (a watcher, a socket) has no event
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise TimeoutError(f"never happened within {within:g} s: {what or check}") from None


async def serve_inference(app: web.Application) -> TestClient[Any, Any]:
    """The model and inference routes on ``app``, served on 127.0.0.1 as the real server runs them:
    a client that hangs up cancels its handler."""
    registry = NativeRegistry()
    setup_model_routes(registry)
    setup_inference_routes(registry)
    for route in registry.routes:
        app.router.add_route(route.method, route.path, route.handler)
    client: TestClient[Any, Any] = TestClient(TestServer(app, host="127.0.0.1", port=0, handler_cancellation=True))
    await client.start_server()
    return client
