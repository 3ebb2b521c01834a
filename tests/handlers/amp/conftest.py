"""The Amp provider routes over real sockets: the native inference app with the Amp routes
mounted, the scripted LLM upstream for local answers and a fake Amp upstream to fall back to."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from handlers.amp.routes import setup_amp_provider_routes
from handlers.amp.state import install_amp
from handlers.inference.routes import setup_inference_routes
from handlers.inference.runtime import install
from handlers.models.routes import setup_model_routes
from quotio_gateway.appkeys import CONFIG_STORE
from quotio_gateway.config import ConfigStore
from quotio_gateway.native import NativeRegistry
from tests.fakes.amp_upstream import FakeAmp

MakeAmpGateway = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture
async def fake_amp() -> AsyncIterator[FakeAmp]:
    amp = FakeAmp()
    await amp.start()
    yield amp
    await amp.stop()


@pytest.fixture
def amp_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home without an Amp secrets file and no AMP_API_KEY, so only the config names keys."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("AMP_API_KEY", raising=False)
    return home


@pytest.fixture
async def amp_gateway(tmp_path: Path, amp_home: Path) -> AsyncIterator[MakeAmpGateway]:
    """``await amp_gateway(config_text)``: model, inference and Amp routes on 127.0.0.1."""
    clients: list[TestClient[Any, Any]] = []
    stores: list[ConfigStore] = []

    async def make(config_text: str, setup: Callable[[NativeRegistry], None] | None = None) -> TestClient[Any, Any]:
        path = tmp_path / f"config-{len(clients)}.yaml"
        path.write_text(config_text)
        store = ConfigStore(path)
        await store.start()
        stores.append(store)
        app = web.Application()
        app[CONFIG_STORE] = store
        install(app, store)
        install_amp(app)
        registry = NativeRegistry()
        setup_model_routes(registry)
        setup_inference_routes(registry)
        setup_amp_provider_routes(registry)
        if setup is not None:
            setup(registry)
        for route in registry.routes:
            app.router.add_route(route.method, route.path, route.handler)
        client: TestClient[Any, Any] = TestClient(TestServer(app, host="127.0.0.1", handler_cancellation=True))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()
    for store in stores:
        await store.stop()
