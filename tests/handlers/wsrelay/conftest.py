"""A gateway app with the /v1/ws relay and the inference routes on 127.0.0.1, and a fake relay
client (what the AI Studio browser page does) that answers the gateway's ``http_request`` frames."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from handlers.inference.routes import setup_inference_routes
from handlers.inference.runtime import install
from handlers.models.routes import setup_model_routes
from handlers.wsrelay.manager import RELAY, RelayManager
from handlers.wsrelay.routes import setup_wsrelay_routes
from handlers.wsrelay.wiring import install_wsrelay
from quotio_gateway.appkeys import CONFIG_STORE
from quotio_gateway.config import ConfigStore
from quotio_gateway.native import NativeRegistry
from tests.conftest import eventually

# What the fake relay sends for one request: a list of (type, payload) frames.
Script = Callable[[dict[str, Any]], list[tuple[str, dict[str, Any] | None]]]


class FakeRelay:
    """A relay client: answers each ``http_request`` with the frames ``script`` gives."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, script: Script) -> None:
        self.ws = ws
        self.script = script
        self.requests: list[dict[str, Any]] = []
        self.frames: list[dict[str, Any]] = []  # every other frame the gateway sent (pong, ...)
        self.hold = False  # record requests without answering them
        self.task = asyncio.get_running_loop().create_task(self._serve())

    async def _serve(self) -> None:
        async for frame in self.ws:
            if frame.type is not aiohttp.WSMsgType.TEXT:
                continue
            message = orjson.loads(frame.data)
            if message.get("type") != "http_request":
                self.frames.append(message)
                continue
            self.requests.append(message)
            if self.hold:
                continue
            for kind, payload in self.script(message):
                out: dict[str, Any] = {"id": message["id"], "type": kind}
                if payload is not None:
                    out["payload"] = payload
                await self.ws.send_str(orjson.dumps(out).decode())

    async def close(self) -> None:
        await self.ws.close()
        await self.task


def json_answer(body: Any, status: int = 200) -> Script:
    return lambda _: [("http_response", {"status": status, "headers": {"Content-Type": ["application/json"]},
                                         "body": orjson.dumps(body).decode()})]


class RelayGateway:
    def __init__(self, client: TestClient[Any, Any], store: ConfigStore, config_path: Path) -> None:
        self.client = client
        self.store = store
        self.config_path = config_path
        self.relays: list[FakeRelay] = []

    @property
    def manager(self) -> RelayManager:
        return self.client.server.app[RELAY]

    def url(self, path: str) -> str:
        return str(self.client.make_url(path))

    async def connect(self, script: Script, *, query: str = "") -> FakeRelay:
        before = set(self.manager.channels)
        ws = await self.client.session.ws_connect(self.url("/v1/ws") + query)
        relay = FakeRelay(ws, script)
        self.relays.append(relay)
        await eventually(lambda: set(self.manager.channels) != before or len(self.manager.channels) == 1,
                         within=10.0, what="the relay registered")
        return relay


MakeGateway = Callable[..., Awaitable[RelayGateway]]


@pytest.fixture
async def relay_gateway(tmp_path: Path) -> AsyncIterator[MakeGateway]:
    made: list[RelayGateway] = []

    async def make(config_text: str = "", *, manager: RelayManager | None = None,
                   middlewares: tuple[Any, ...] = ()) -> RelayGateway:
        path = tmp_path / f"config-{len(made)}.yaml"
        path.write_text(config_text)
        store = ConfigStore(path)
        await store.start()
        app = web.Application(middlewares=middlewares)
        app[CONFIG_STORE] = store
        inference = install(app, store)
        install_wsrelay(app, store, inference, manager)
        registry = NativeRegistry()
        setup_model_routes(registry)
        setup_inference_routes(registry)
        setup_wsrelay_routes(registry)
        for route in registry.routes:
            app.router.add_route(route.method, route.path, route.handler)
        client: TestClient[Any, Any] = TestClient(TestServer(app, host="127.0.0.1", handler_cancellation=True))
        await client.start_server()
        gateway = RelayGateway(client, store, path)
        made.append(gateway)
        return gateway

    yield make
    for gateway in made:
        for relay in gateway.relays:
            if not relay.ws.closed:
                await relay.close()
        await gateway.client.close()
        await gateway.store.stop()
