"""An app with only the native management handlers mounted, on a real ConfigStore and temp file."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import bcrypt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from quotio_gateway.appkeys import CONFIG_STORE, FLAG_STORE, RUNTIME
from quotio_gateway.config.store import ConfigStore
from quotio_gateway.flags.matcher import CompiledTable
from quotio_gateway.flags.schema import FlagTable, ServerSettings
from quotio_gateway.management.auth import ManagementGuard, setup_management_guard
from quotio_gateway.management.routes import setup_management
from quotio_gateway.native import NativeRegistry
from quotio_gateway.runtime import Runtime

SECRET = "s3cret"
BEARER = {"Authorization": f"Bearer {SECRET}"}
# Pre-hashed at a low cost so each test does not pay for two cost-10 bcrypt rounds; one auth test
# keeps the plaintext-in-file path (hashed at load, as legacy does).
SECRET_HASH = bcrypt.hashpw(SECRET.encode(), bcrypt.gensalt(rounds=4, prefix=b"2a")).decode()
SECRET_LINE = f'secret-key: "{SECRET_HASH}"'

CONFIG_YAML = f"""\
# quotio test config
port: 8317
auth-dir: ~/.cli-proxy-api
remote-management:
  # who may manage
  allow-remote: false
  {SECRET_LINE}
debug: false # inline comment
logging-to-file: false
request-retry: 1
# routing section
routing:
  strategy: round-robin
api-keys:
  - k1
"""


@dataclass
class FakeClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FlagHolder:
    """The only part of FlagStore the management check reads."""

    current: CompiledTable


@dataclass
class Harness:
    client: TestClient
    app: web.Application
    path: Path
    guard: ManagementGuard
    clock: FakeClock
    sessions: list[aiohttp.ClientSession] = field(default_factory=list)

    @property
    def store(self) -> ConfigStore:
        return self.app[CONFIG_STORE]

    def text(self) -> str:
        return self.path.read_text()

    async def call(self, method: str, path: str, *, headers: dict[str, str] | None = BEARER,
                   body: bytes | str | None = None, json: Any = None, params: Any = None,
                   from_addr: str | None = None) -> aiohttp.ClientResponse:
        """One request to /v0/management/<path>; ``from_addr`` picks the client's source address."""
        url = path if path.startswith("/") else f"/v0/management/{path}"
        kwargs: dict[str, Any] = {"headers": headers or {}, "params": params}
        if json is not None:
            kwargs["json"] = json
        elif body is not None:
            kwargs["data"] = body
        if from_addr is None:
            response = await self.client.request(method, url, **kwargs)
        else:
            session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(from_addr, 0)))
            self.sessions.append(session)
            response = await session.request(method, self.client.make_url(url), **kwargs)
        await response.read()
        return response


MakeHarness = Callable[..., Awaitable[Harness]]


@pytest.fixture
async def make_harness(aiohttp_client: Any, tmp_path: Path,
                       monkeypatch: pytest.MonkeyPatch) -> Any:
    harnesses: list[Harness] = []

    async def make(config: str = CONFIG_YAML, *, trusted: list[str] | None = None, env_secret: str = "",
                   local_password: str | None = None) -> Harness:
        path = tmp_path / "config.yaml"
        path.write_text(config)
        clock = FakeClock()
        app = web.Application()
        app[CONFIG_STORE] = ConfigStore(path)
        app[RUNTIME] = Runtime(config_path=path, flags_path=None, state_dir=tmp_path,
                               local_password=local_password)
        table = FlagTable(server=ServerSettings(trusted_proxies=trusted or []))
        app[FLAG_STORE] = FlagHolder(CompiledTable.build(table, 1))  # type: ignore[assignment]
        guard = setup_management_guard(app, ManagementGuard(env_secret=env_secret, clock=clock))
        registry = NativeRegistry()
        setup_management(registry)
        for route in registry.routes:
            app.router.add_route(route.method, route.path, route.handler)
        client = await aiohttp_client(app)
        harness = Harness(client, app, path, guard, clock)
        harnesses.append(harness)
        return harness

    yield make
    for harness in harnesses:
        for session in harness.sessions:
            await session.close()


async def body_of(response: aiohttp.ClientResponse) -> bytes:
    return await response.read()
