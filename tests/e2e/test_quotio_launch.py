"""The Quotio app's side of the contract (quotio-client-contract.md §2, §6.3, §8), end to end.

The gateway is launched the way Quotio launches CLIProxyAPI: ``<binary> -config <abs path>`` with
the binary's directory as cwd, on the config.yaml Quotio writes (plaintext UUID secret), with a
flags.yaml next to it that supervises the stand-in as legacy and answers the settings natively.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.e2e.conftest import (
    Gateway,
    Processes,
    free_port,
    poll,
    read_yaml,
    wait_gone,
    wait_http,
    write_flags,
    write_legacy_wrapper,
)

# The console script installed next to the interpreter running the tests.
GATEWAY_BINARY = Path(sys.executable).parent / "quotio-gateway"
# Native for the settings Quotio drives; auth files and usage stay with legacy.
NATIVE = ["config", "debug", "routing/strategy", "api-keys", "proxy-url", "request-retry", "max-retry-interval",
          "logging-to-file", "request-log", "quota-exceeded/*", "auth-files/status"]


def quotio_config(port: int, auth_dir: Path, api_key: str, secret: str) -> str:
    """ensureConfigExists (CLIProxyManager.swift) plus a custom provider section it appends."""
    return (f'host: "127.0.0.1"\nport: {port}\nauth-dir: "{auth_dir}"\nproxy-url: ""\n'
            f'api-keys:\n  - "{api_key}"\n'
            f'remote-management:\n  allow-remote: false\n  secret-key: "{secret}"\n'
            "debug: false\nlogging-to-file: false\nusage-statistics-enabled: true\n"
            'routing:\n  strategy: "round-robin"\n'
            "quota-exceeded:\n  switch-project: true\n  switch-preview-model: true\n"
            "request-retry: 3\nmax-retry-interval: 30\n"
            "\n# Custom Providers (managed by Quotio)\n"
            "openai-compatibility:\n  - name: clinepass\n    base-url: http://127.0.0.1:9/v1\n"
            "    api-key-entries:\n      - api-key: sk-custom\n"
            "    models:\n      - name: fake-model\n        alias: cp-fast\n      - name: fake-model-mini\n")


@dataclass
class Launched:
    gateway: Gateway
    secret: str
    api_key: str
    config: Path

    def mgmt(self, key: str | None = None) -> dict[str, str]:
        # Exactly what ManagementAPIClient sends on every call.
        return {"Authorization": f"Bearer {key or self.secret}", "Content-Type": "application/json",
                "Connection": "close"}


async def launch(tmp_path: Path, processes: Processes) -> Launched:
    app_support = tmp_path / "Quotio"
    binary_dir = app_support / "proxy" / "upstream" / "v9.9.9"
    binary_dir.mkdir(parents=True)
    (binary_dir / "CLIProxyAPI").symlink_to(GATEWAY_BINARY)
    auth_dir = tmp_path / ".cli-proxy-api"
    auth_dir.mkdir()
    (auth_dir / "codex-user@example.com.json").write_text(
        '{"type":"codex","email":"user@example.com","access_token":"at-secret","expired":"2030-01-01T00:00:00Z"}')
    port = free_port()
    secret, api_key = str(uuid.uuid4()), f"quotio-local-{uuid.uuid4()}"
    config = app_support / "config.yaml"
    config.write_text(quotio_config(port, auth_dir, api_key, secret))
    write_flags(app_support / "flags.yaml", {
        "legacy": {"binary": str(write_legacy_wrapper(tmp_path)), "port": free_port()},
        "server": {"state_dir": str(tmp_path / "state")},
        "routes": [{"match": f"* /v0/management/{path}", "mode": "native"} for path in NATIVE],
    })
    proc, log = processes.popen([str(binary_dir / "CLIProxyAPI"), "-config", str(config)], cwd=binary_dir,
                                name="quotio-gateway")
    gateway = Gateway(proc, port, config, log)
    await asyncio.sleep(1.5)  # Quotio's only start check: is the process still running after 1.5 s?
    assert proc.poll() is None, gateway.stderr()
    wait_http(f"{gateway.url}/healthz", proc, timeout=5)
    return Launched(gateway, secret, api_key, config)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
        yield session


async def call(session: aiohttp.ClientSession, method: str, url: str, headers: dict[str, str],
               body: Any = None) -> tuple[int, Any]:
    async with session.request(method, url, headers=headers, json=body) as response:
        payload = await response.read()
        return response.status, (await response.json(content_type=None)) if payload else None


async def eventually(session: aiohttp.ClientSession, method: str, url: str, headers: dict[str, str],
                     want: int, within: float = 8.0) -> tuple[int, Any]:
    """Until ``url`` answers ``want`` (legacy may still be starting, a reload still be on its way)."""
    deadline = time.monotonic() + within
    while True:
        status, body = await call(session, method, url, headers)
        if status == want or time.monotonic() > deadline:
            return status, body
        await asyncio.sleep(0.1)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_auth_files(body: Any) -> None:
    """AuthFilesResponse as Swift's JSONDecoder reads it (§6.3): one bad element fails the list."""
    assert isinstance(body, dict) and isinstance(body["files"], list)
    for item in body["files"]:
        for key in ("id", "name", "provider", "status"):
            assert isinstance(item[key], str), key
        for key in ("disabled", "unavailable"):
            assert isinstance(item[key], bool), key
        for key in ("label", "status_message", "source", "path", "email", "account_type", "account", "auth_index",
                    "created_at", "updated_at", "last_refresh"):
            assert item.get(key) is None or isinstance(item[key], str), key
        assert item.get("runtime_only") is None or isinstance(item["runtime_only"], bool)


def check_usage(body: Any) -> None:
    assert isinstance(body, dict)
    usage = body.get("usage")
    assert usage is None or isinstance(usage, dict)
    for key in ("total_requests", "success_count", "failure_count", "total_tokens", "input_tokens", "output_tokens"):
        assert usage is None or usage.get(key) is None or is_int(usage[key]), key
    assert body.get("failed_requests") is None or is_int(body["failed_requests"])


def check_proxy_config(body: Any) -> None:
    """ProxyConfig: every key optional, but a present key must have the Swift type."""
    assert isinstance(body, dict)
    for key in ("debug", "logging-to-file", "request-log"):
        assert body.get(key) is None or isinstance(body[key], bool), key
    for key in ("request-retry", "max-retry-interval"):
        assert body.get(key) is None or is_int(body[key]), key
    for key in ("proxy-url", "routing-strategy"):
        assert body.get(key) is None or isinstance(body[key], str), key
    quota = body.get("quota-exceeded")
    assert quota is None or all(isinstance(v, bool) for v in quota.values())


async def test_quotio_launch_refresh_settings_and_stop(tmp_path: Path, processes: Processes,
                                                       http: aiohttp.ClientSession) -> None:
    app = await launch(tmp_path, processes)
    base = f"{app.gateway.url}/v0/management"

    started = time.monotonic()
    assert await call(http, "GET", f"{base}/debug", app.mgmt()) == (200, {"debug": False})
    assert time.monotonic() - started < 3.0  # the health probe's timeout
    assert await call(http, "GET", f"{base}/debug", app.mgmt("not-the-key")) == (
        401, {"error": "invalid management key"})

    # Both the gateway and legacy hash the plaintext key in place; the app keeps sending plaintext.
    assert await poll(lambda: "$2a$" in app.config.read_text(), 5)
    secret_line = re.search(r"secret-key: (.*)", app.config.read_text())
    assert secret_line and secret_line.group(1).strip('"').startswith("$2a$10$")
    started = time.monotonic()
    assert await call(http, "GET", f"{base}/debug", app.mgmt()) == (200, {"debug": False})
    assert time.monotonic() - started < 3.0

    # The refresh loop: /auth-files → /usage → /api-keys, all of which must decode.
    status, files = await eventually(http, "GET", f"{base}/auth-files", app.mgmt(), 200)
    assert status == 200, files
    check_auth_files(files)
    assert [(f["name"], f["provider"], f["email"]) for f in files["files"]] == [
        ("codex-user@example.com.json", "codex", "user@example.com")]
    status, usage = await call(http, "GET", f"{base}/usage", app.mgmt())
    assert status == 200
    check_usage(usage)
    assert await call(http, "GET", f"{base}/api-keys", app.mgmt()) == (200, {"api-keys": [app.api_key]})

    # After start the app re-applies the accounts it keeps disabled (v6.7.15 has no such route).
    switch = {"name": "codex-user@example.com.json", "disabled": True}
    assert await call(http, "PATCH", f"{base}/auth-files/status", app.mgmt(), switch) == (
        200, {"disabled": True, "status": "ok"})
    assert read_json(app.config.parent.parent / ".cli-proxy-api" / "codex-user@example.com.json")["disabled"] is True

    # Settings panel: both reads must succeed together.
    status, cfg = await call(http, "GET", f"{base}/config", app.mgmt())
    assert status == 200
    check_proxy_config(cfg)
    assert (cfg["request-retry"], cfg["max-retry-interval"], cfg["quota-exceeded"]) == (
        3, 30, {"switch-project": True, "switch-preview-model": True})
    assert await call(http, "GET", f"{base}/routing/strategy", app.mgmt()) == (200, {"strategy": "round-robin"})
    assert await call(http, "PUT", f"{base}/routing/strategy", app.mgmt(), {"value": "fill-first"}) == (
        200, {"status": "ok"})
    assert await call(http, "GET", f"{base}/routing/strategy", app.mgmt()) == (200, {"strategy": "fill-first"})
    assert read_yaml(app.config)["routing"] == {"strategy": "fill-first"}

    # Agent setup / "test connection": exactly 200 and data[].id strings.
    status, models = await eventually(http, "GET", f"{app.gateway.url}/v1/models",
                                      {"Authorization": f"Bearer {app.api_key}"}, 200)
    assert status == 200
    assert [m["id"] for m in models["data"]] == ["cp-fast", "fake-model-mini"]

    _, gw_status = await call(http, "GET", f"{app.gateway.url}/v0/gateway/status", app.mgmt())
    child = gw_status["legacy"]["pid"]
    assert isinstance(child, int)
    processes.extra_pids.append(child)

    # Stop: SIGTERM, and Quotio SIGKILLs after 2 s; the gateway and its child must be gone first.
    started = time.monotonic()
    app.gateway.proc.send_signal(signal.SIGTERM)
    assert app.gateway.proc.wait(timeout=5) == 0
    assert time.monotonic() - started < 2.0
    assert wait_gone(child, 0.5), "legacy child outlived the gateway's SIGTERM"


def non_loopback_ipv4() -> str | None:
    """A local address that is not loopback, to be a 'remote' client of our own loopback server."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent; this only picks the route's source
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") or address == "0.0.0.0" else address


async def test_allow_remote_edit_takes_effect_without_restart(tmp_path: Path, processes: Processes) -> None:
    source = non_loopback_ipv4()
    if source is None:
        pytest.skip("no non-loopback IPv4 address to play the remote client from")
    app = await launch(tmp_path, processes)
    base = f"{app.gateway.url}/v0/management"
    connector = aiohttp.TCPConnector(force_close=True, local_addr=(source, 0))
    async with aiohttp.ClientSession(connector=connector) as remote:
        disabled = (403, {"error": "remote management disabled"})
        assert await call(remote, "GET", f"{base}/debug", app.mgmt()) == disabled  # native
        assert await eventually(remote, "GET", f"{base}/auth-files", app.mgmt(), 403) == disabled  # legacy

        # Quotio's tunnel start: a regex rewrite of the file, no restart.
        text = app.config.read_text()
        assert text.count("allow-remote: false") == 1
        app.config.write_text(text.replace("allow-remote: false", "allow-remote: true"))

        assert await eventually(remote, "GET", f"{base}/debug", app.mgmt(), 200) == (200, {"debug": False})
        status, files = await eventually(remote, "GET", f"{base}/auth-files", app.mgmt(), 200)
        assert status == 200
        check_auth_files(files)
        assert app.gateway.proc.poll() is None
