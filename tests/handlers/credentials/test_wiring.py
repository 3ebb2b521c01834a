"""The credential services inside a whole gateway app: a login saved to PostgreSQL serves at once,
and an unreachable store at start-up leaves the gateway up and retrying."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from handlers.auth.credential import new_credential
from handlers.credentials.wiring import CREDENTIALS, NotifyingStore
from handlers.inference.runtime import INFERENCE
from handlers.logins.context import login_context
from tests.conftest import GatewayFactory, free_port

PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture
def pg_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    schema = f"wiring_{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("PGSTORE_DSN", PG_DSN)
    monkeypatch.setenv("PGSTORE_SCHEMA", schema)
    yield schema

    async def drop() -> None:
        conn = await asyncpg.connect(PG_DSN)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()

    asyncio.run(drop())


async def _client(app: Any) -> TestClient[Any, Any]:
    client: TestClient[Any, Any] = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return client


def _claude(email: str) -> dict[str, Any]:
    return {"type": "claude", "email": email, "access_token": "at-" + email, "refresh_token": "rt-" + email,
            "expired": "2099-01-01T00:00:00Z"}


async def test_a_login_saved_to_postgres_serves_without_restart(make_gateway: GatewayFactory, pg_env: str) -> None:
    app = await make_gateway({"default": "native"})
    client = await _client(app)
    try:
        services = app[CREDENTIALS]
        assert services.started.is_set() and services.store.kind == "postgres"
        store = await login_context(app).token_store(app)
        assert isinstance(store, NotifyingStore)
        await store.save(new_credential("claude-a@example.com.json", _claude("a@example.com")))
        view = services.runtime.usable("claude-a@example.com.json")
        assert view is not None and view.provider == "claude"
        # The inference runtime sees it through the same source, so the model registry lists it.
        assert app[INFERENCE].oauth is services.runtime
        assert await store.delete("claude-a@example.com.json")
        assert services.runtime.usable("claude-a@example.com.json") is None
    finally:
        await client.close()


async def test_unreachable_store_at_start_up_keeps_the_gateway_serving(
        make_gateway: GatewayFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGSTORE_DSN", f"postgresql://postgres@127.0.0.1:{free_port()}/test")
    monkeypatch.setenv("PGSTORE_SCHEMA", "never_created")
    app = await make_gateway({"default": "native"})
    client = await _client(app)
    try:
        resp = await client.get("/healthz")
        assert resp.status == 200
        services = app[CREDENTIALS]
        assert not services.started.is_set()
        assert services.retry_task is not None and not services.retry_task.done()
        assert app[INFERENCE].oauth is None
    finally:
        await client.close()
    # Clean-up cancelled the background retry.
    assert services.retry_task.done()


async def test_a_changed_auth_file_clears_its_rotation_state_in_a_whole_gateway(make_gateway: GatewayFactory,
                                                                                 tmp_path: Any) -> None:
    auths = tmp_path / "auths"
    auths.mkdir()
    (auths / "claude-a.json").write_text(json.dumps(_claude("a@example.com")))
    app = await make_gateway({"default": "native"})
    client = await _client(app)
    try:
        state = app[INFERENCE].state
        state.mark_failure("claude-a.json", "claude-sonnet-4-5-20250929", 404, reason="not_found")
        (auths / "claude-a.json").write_text(json.dumps({**_claude("a@example.com"), "access_token": "at-new"}))
        async with asyncio.timeout(10):
            while state.get("claude-a.json", "claude-sonnet-4-5-20250929") is not None:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
    finally:
        await client.close()
