"""A native-inference app over real sockets, with the scripted fake upstream behind it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from handlers.inference.pair_table import PairLookup
from handlers.inference.routes import setup_inference_routes
from handlers.inference.runtime import install
from handlers.models.routes import setup_model_routes
from quotio_gateway.appkeys import CONFIG_STORE
from quotio_gateway.config import ConfigStore
from quotio_gateway.native import NativeRegistry
from tests.fakes.llm_upstream import FakeLLM

MakeClient = Callable[..., Awaitable[Any]]


@pytest.fixture
async def fake_llm() -> AsyncIterator[FakeLLM]:
    fake = FakeLLM()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
def inference_client(aiohttp_client: Any, tmp_path: Path) -> MakeClient:
    """``await inference_client(config_text, pairs=None)`` -> a test client on a native app."""

    async def make(config_text: str, pairs: PairLookup | None = None) -> Any:
        path = tmp_path / "config.yaml"
        path.write_text(config_text)
        store = ConfigStore(path)
        await store.start()
        app = web.Application()
        app[CONFIG_STORE] = store

        def configure(runtime: Any) -> None:
            if pairs is not None:
                runtime.pairs = pairs

        install(app, store, configure=configure)
        registry = NativeRegistry()
        setup_model_routes(registry)
        setup_inference_routes(registry)
        for route in registry.routes:
            app.router.add_route(route.method, route.path, route.handler)

        async def stop(_: web.Application) -> None:
            await store.stop()

        app.on_cleanup.append(stop)
        # As the real server runs: a client that hangs up cancels its handler.
        return await aiohttp_client(app, server_kwargs={"handler_cancellation": True})

    return make
