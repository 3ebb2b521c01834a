"""A native-inference app over real sockets, with the scripted fake upstream behind it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from handlers.inference.pair_table import PairLookup
from handlers.inference.runtime import InferenceRuntime, install
from handlers.models.registry import CredentialRecord
from quotio_gateway.appkeys import CONFIG_STORE
from quotio_gateway.config import ConfigStore
from tests.conftest import serve_inference

MakeClient = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[MakeClient]:
    """``await gateway(config_text, pairs=…, max_body=…, records=…)``: a native inference app on 127.0.0.1.

    ``pairs`` replaces the pair table; ``max_body`` is the app's ``client_max_size`` (what
    ``server.max_body_bytes`` sets on the real app); ``records`` are OAuth credential records for
    the model registry.
    """
    clients: list[TestClient[Any, Any]] = []
    stores: list[ConfigStore] = []

    async def make(config_text: str, pairs: PairLookup | None = None, *, max_body: int = 1024 * 1024,
                   records: list[CredentialRecord] | None = None) -> TestClient[Any, Any]:
        path = tmp_path / f"config-{len(clients)}.yaml"
        path.write_text(config_text)
        store = ConfigStore(path)
        await store.start()
        stores.append(store)
        app = web.Application(client_max_size=max_body)
        app[CONFIG_STORE] = store

        def configure(runtime: InferenceRuntime) -> None:
            if pairs is not None:
                runtime.pairs = pairs

        runtime = install(app, store, configure=configure)
        if records is not None:
            runtime.registry.set_credentials(lambda: list(records))
        client = await serve_inference(app)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()
    for store in stores:
        await store.stop()


@pytest.fixture
def inference_client(gateway: MakeClient) -> MakeClient:
    """``await inference_client(config_text, pairs=None)``: the same app under its older name."""
    return gateway


@pytest.fixture
async def gated() -> AsyncIterator[Any]:
    """An upstream that sends part of its answer, then waits for ``gate`` (test_faults_stream.py)."""
    # Imported here: that module imports this conftest's helpers (through test_faults).
    from tests.handlers.inference.test_faults_stream import GatedUpstream

    upstream = GatedUpstream()
    await upstream.start()
    yield upstream
    await upstream.stop()
