"""``GET /v0/management/qwen-auth-url`` -> device polling -> ``get-auth-status`` -> the saved file."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import yaml
from aiohttp import web

from handlers.auth.stores.file_store import FileTokenStore
from handlers.logins.context import LoginContext, setup_login_context
from handlers.logins.device_routes import setup_device_login_routes
from handlers.logins.sessions import sessions_for
from quotio_gateway.appkeys import CONFIG_STORE
from quotio_gateway.config.store import ConfigStore
from quotio_gateway.native import NativeRegistry
from tests.fakes.device_providers import DeviceProviderState, provider_endpoints, start_device_providers
from tests.fakes.loopback import serve_on_loopback

KEY = "qwen-test-management-key"


@dataclass
class Env:
    fake: DeviceProviderState
    client: aiohttp.ClientSession
    base: str
    auth_dir: Path
    app: web.Application

    async def start(self) -> tuple[int, dict[str, object]]:
        async with self.client.get(f"{self.base}/v0/management/qwen-auth-url",
                                   headers={"Authorization": f"Bearer {KEY}"}) as resp:
            return resp.status, json.loads(await resp.read())

    async def status(self, state: str) -> dict[str, object]:
        async with self.client.get(f"{self.base}/v0/management/get-auth-status-test", params={"state": state}) as r:
            return json.loads(await r.read())

    async def wait_done(self, state: str) -> dict[str, object]:
        for _ in range(400):
            body = await self.status(state)
            if body["status"] != "wait":
                return body
            await asyncio.sleep(0.02)
        raise AssertionError("login never finished")


async def status_probe(request: web.Request) -> web.Response:
    # Reads the same session table get-auth-status reads (that route belongs to routes.py).
    status, body = sessions_for(request.app).status_body(request.query.get("state", ""))
    return web.json_response(body, status=status)


@asynccontextmanager
async def open_env(tmp_path: Path, device_path: str = "/qwen/device/code") -> AsyncIterator[Env]:
    runner_fake, fake = await start_device_providers()
    fake.interval = 1
    auth_dir = tmp_path / "auth"
    config = tmp_path / "config.yaml"
    endpoints = provider_endpoints(fake.base_url)
    endpoints["qwen"]["device-url"] = fake.base_url + device_path
    config.write_text(yaml.safe_dump({
        "port": 8317, "auth-dir": str(auth_dir),
        "remote-management": {"secret-key": KEY},
        "gateway": {"provider-endpoints": endpoints},
    }))
    store = FileTokenStore(auth_dir)
    app = web.Application()
    app[CONFIG_STORE] = ConfigStore(config)
    setup_login_context(app, LoginContext(store=store))
    registry = NativeRegistry()
    setup_device_login_routes(registry)
    for route in registry.routes:
        app.router.add_route(route.method, route.path, route.handler)
    app.router.add_get("/v0/management/get-auth-status-test", status_probe)
    runner, root = await serve_on_loopback(app)
    async with aiohttp.ClientSession() as client:
        yield Env(fake, client, root, auth_dir, app)
    await runner.cleanup()
    await runner_fake.cleanup()


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async with open_env(tmp_path) as opened:
        yield opened


async def test_http_login_ends_ok_with_the_legacy_file(env):
    env.fake.polls["qwen"] = ["pending", "token"]
    status, body = await env.start()
    assert status == 200
    assert list(body) == ["state", "status", "url"]
    assert body["status"] == "ok"
    assert body["url"] == f"{env.fake.base_url}/qwen/verify?user_code=QW-0001"
    state = str(body["state"])
    assert state.startswith("gem-") and state[4:].isdigit()
    assert (await env.status(state)) == {"status": "wait"}
    assert (await env.wait_done(state)) == {"status": "ok"}
    files = list(env.auth_dir.glob("qwen-*.json"))
    assert len(files) == 1
    label = files[0].name[len("qwen-"):-len(".json")]
    assert label.isdigit() and len(label) == 13
    on_disk = json.loads(files[0].read_bytes())
    assert on_disk["email"] == label
    assert on_disk["type"] == "qwen"
    assert on_disk["access_token"] == "qwen-access-1"


@pytest.mark.parametrize("script", [["access_denied"], ["pending", "expired_token"], ["http500"], ["malformed"]])
async def test_http_login_failures_show_authentication_failed(env, script):
    env.fake.polls["qwen"] = script
    status, body = await env.start()
    assert status == 200
    assert (await env.wait_done(str(body["state"]))) == {"status": "error", "error": "Authentication failed"}
    assert list(env.auth_dir.glob("*.json")) == []


async def test_device_endpoint_failure_answers_500(tmp_path):
    async with open_env(tmp_path, device_path="/qwen/nowhere") as broken:
        status, body = await broken.start()
        assert status == 500
        assert body == {"error": "failed to generate authorization url"}
        assert len(sessions_for(broken.app)) == 0


async def test_requires_the_management_key(env):
    async with env.client.get(f"{env.base}/v0/management/qwen-auth-url") as resp:
        assert resp.status == 401
        assert json.loads(await resp.read()) == {"error": "missing management key"}
    assert env.fake.calls("/qwen/device/code") == []


async def test_store_failure_shows_failed_to_save(env):
    env.fake.polls["qwen"] = ["token"]
    # The auth-dir path is taken by a plain file: the store cannot start, nothing can be written.
    env.auth_dir.parent.mkdir(parents=True, exist_ok=True)
    env.auth_dir.write_text("not a directory")
    status, body = await env.start()
    assert status == 200
    assert (await env.wait_done(str(body["state"]))) == {"status": "error",
                                                        "error": "Failed to save authentication tokens"}
    assert env.auth_dir.read_text() == "not a directory"
