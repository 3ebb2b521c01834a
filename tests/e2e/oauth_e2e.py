"""Shared pieces of the OAuth end-to-end tests (tests/e2e/test_oauth_*.py).

An in-process gateway whose inference routes are all ``native``, reading its credentials from a
given auth-dir and reaching the fake providers through ``gateway.provider-endpoints``; several
gateways may share one auth-dir (two processes over the same files). Clients are the official
OpenAI and Anthropic SDKs.

The device-login files (Copilot, Kiro, Qwen) share two fixtures by binding them to their own
module names, the way pytest collects fixtures (importing them under the same name would shadow
the import with every test's parameter)::

    fake = device_fake_fixture          # tests/fakes/device_providers.py, default state
    gateway = device_gateway_fixture    # a gateway over <tmp_path>/auths pointed at ``fake``
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
import yaml
from aiohttp.test_utils import TestServer

from handlers.credentials.wiring import CREDENTIALS, CredentialServices
from handlers.models.registry import UnknownModelError, registry_for
from quotio_gateway.app import GatewayOptions, create_app
from quotio_gateway.appkeys import CONFIG_STORE
from tests.conftest import SECRET
from tests.fakes.device_providers import DeviceProviderState, provider_endpoints, start_device_providers

CLIENT_KEY = "client-key"
# A bounded wait for things that happen in the background (the auth-dir watcher polls every
# 0.25 s, the registry rebuild is debounced 50 ms); it fails the test when it runs out.
WAIT_LIMIT = 10.0


def openai_client(url: str) -> openai.AsyncOpenAI:
    """The OpenAI SDK against a gateway at ``url`` with the client key. No SDK retries: a test
    must see the gateway's own first answer (its retries are what the tests check)."""
    return openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=CLIENT_KEY, max_retries=0, timeout=20)


def anthropic_client(url: str) -> anthropic.AsyncAnthropic:
    """The Anthropic SDK against a gateway at ``url``, set up as :func:`openai_client`."""
    return anthropic.AsyncAnthropic(base_url=url, api_key=CLIENT_KEY, max_retries=0, timeout=20)


@dataclass
class Gateway:
    server: TestServer
    home: Path
    _clients: list[openai.AsyncOpenAI | anthropic.AsyncAnthropic] = field(default_factory=list)

    @property
    def url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    @property
    def services(self) -> CredentialServices:
        return self.server.app[CREDENTIALS]

    def openai(self) -> openai.AsyncOpenAI:
        client = openai_client(self.url)
        self._clients.append(client)
        return client

    def anthropic(self) -> anthropic.AsyncAnthropic:
        client = anthropic_client(self.url)
        self._clients.append(client)
        return client

    def management_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {SECRET}"}

    async def close(self) -> None:
        # SDK clients first: their connection pools must close while the event loop still runs.
        for client in self._clients:
            await client.close()
        await self.server.close()


async def start_gateway(home: Path, auth_dir: Path, endpoints: dict[str, Any],
                        extra: dict[str, Any] | None = None) -> Gateway:
    """A gateway with its own config and state under ``home`` and credentials from ``auth_dir``."""
    app = await create_app(_write_home(home, auth_dir, endpoints, extra or {}))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    gateway = Gateway(server, home)
    await wait_until(lambda: gateway.services.started.is_set(), "the credential runtime to start")
    return gateway


@asynccontextmanager
async def device_providers(state: DeviceProviderState | None = None) -> AsyncIterator[DeviceProviderState]:
    """The fake device-login providers on a free local port for as long as the block runs."""
    runner, running = await start_device_providers(state)
    try:
        yield running
    finally:
        await runner.cleanup()


@asynccontextmanager
async def device_gateway(tmp_path: Path, fake: DeviceProviderState,
                         extra: dict[str, Any] | None = None) -> AsyncIterator[Gateway]:
    """A gateway (home ``<tmp_path>/gw``, auth-dir ``<tmp_path>/auths``) whose provider endpoints
    all point at ``fake``; ``extra`` adds config.yaml keys."""
    gw = await start_gateway(tmp_path / "gw", tmp_path / "auths", provider_endpoints(fake.base_url), extra)
    try:
        yield gw
    finally:
        await gw.close()


@pytest.fixture
async def device_fake_fixture() -> AsyncIterator[DeviceProviderState]:
    """The fake device-login providers in their default state."""
    async with device_providers() as state:
        yield state


@pytest.fixture
async def device_gateway_fixture(tmp_path: Path, fake: DeviceProviderState) -> AsyncIterator[Gateway]:
    """A gateway over ``<tmp_path>/auths`` pointed at the test file's ``fake``."""
    async with device_gateway(tmp_path, fake) as gw:
        yield gw


def _write_home(home: Path, auth_dir: Path, endpoints: dict[str, Any], extra: dict[str, Any]) -> GatewayOptions:
    home.mkdir(parents=True, exist_ok=True)
    config = {"port": 8317, "auth-dir": str(auth_dir), "api-keys": [CLIENT_KEY],
              "remote-management": {"allow-remote": False, "secret-key": SECRET},
              "gateway": {"provider-endpoints": endpoints}, **extra}
    config_path = home / "config.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    state = home / "state"
    flags_path = home / "flags.yaml"
    flags_path.write_text(yaml.safe_dump({"default": "native", "server": {"state_dir": str(state)}}))
    return GatewayOptions(config_path=config_path, flags_path=flags_path, state_dir=state)


async def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition`` until it holds; fail with ``what`` when the bounded wait runs out."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_LIMIT
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.02)


async def wait_for_model(gateway: Gateway, model: str) -> None:
    """New credentials serve once the registry rebuild after the watcher saw them has run."""
    runtime = gateway.services.runtime
    registry = registry_for(gateway.server.app[CONFIG_STORE])

    def serving() -> bool:
        try:
            providers, resolved = registry.current.resolve(model)
        except UnknownModelError:
            return False
        return bool(runtime.candidates(providers, resolved))

    await wait_until(serving, f"a credential serving {model}")


def read_json(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_bytes())
    assert isinstance(data, dict)
    return data


def seed_qwen(fake: DeviceProviderState, auth_dir: Path) -> Path:
    """A Qwen credential file as CLIProxyAPI writes it, valid for a day, holding tokens the fake
    accepts (``qwen-access-seed`` / ``qwen-refresh-seed``)."""
    auth_dir.mkdir(parents=True, exist_ok=True)
    path = auth_dir / "qwen-seed.json"
    write_json(path, {
        "access_token": fake.issue_access("qwen", "qwen-access-seed"),
        "refresh_token": fake.issue_refresh("qwen", "qwen-refresh-seed"),
        "last_refresh": "2026-01-01T00:00:00Z", "resource_url": "portal.qwen.ai", "email": "seed@example.com",
        "type": "qwen", "expired": (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    })
    return path


def write_json(path: Path, data: dict[str, Any]) -> None:
    """An outside edit of a credential file (as the Quotio app makes): temp file, then rename."""
    temp = path.with_suffix(".tmp-edit")
    temp.write_text(json.dumps(data, indent=2))
    temp.chmod(0o600)
    temp.replace(path)
