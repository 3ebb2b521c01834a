"""The gateway starting, restarting and outliving-never the legacy binary (here: the stand-in).

flags.yaml names an executable (a wrapper that execs the stand-in, as an installed CLIProxyAPI
would be) and an internal port; the gateway runs it on a derived copy of config.yaml.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import yaml

from tests.e2e.conftest import (
    API_KEY,
    MGMT_HASH,
    Gateway,
    Processes,
    children_of,
    free_port,
    mgmt_headers,
    poll,
    read_yaml,
    wait_gone,
    write_flags,
    write_legacy_wrapper,
)

CONFIG = f"""\
# operator's config; the gateway owns this port, legacy gets a derived copy
host: 127.0.0.1
port: {{port}}
auth-dir: {{auth_dir}}
remote-management:
  allow-remote: false
  secret-key: "{MGMT_HASH}"
debug: false
api-keys:
  - {API_KEY}
openai-compatibility:
  - name: local
    base-url: http://127.0.0.1:9/v1
    api-key-entries:
      - api-key: sk-local
    models:
      - name: fake-model
        alias: fm
      - name: fake-model-mini
oauth-model-alias:
  antigravity:
    - name: gemini-3-pro-high
      alias: g3
"""
CLIENT = {"Authorization": f"Bearer {API_KEY}"}
MODELS = ["fm", "fake-model-mini"]
UNREACHABLE = {"error": {"message": "legacy server is unreachable", "type": "server_error",
                         "code": "internal_server_error"}}


async def get_json(session: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> tuple[int, dict, str]:
    async with session.get(url, headers=headers) as response:
        return response.status, await response.json(), response.headers.get("X-Quotio-Route", "")


async def wait_models(session: aiohttp.ClientSession, url: str, within: float = 10.0) -> list[tuple[int, dict]]:
    """Polls GET /v1/models until legacy answers 200; returns every non-200 answer seen on the way."""
    seen: list[tuple[int, dict]] = []
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        status, body, _ = await get_json(session, f"{url}/v1/models", CLIENT)
        if status == 200:
            return seen
        seen.append((status, body))
        await asyncio.sleep(0.05)
    raise AssertionError(f"legacy never came back: {seen[-3:]}")


async def wait_status(session: aiohttp.ClientSession, url: str, check: Callable[[dict], bool],
                      within: float = 10.0) -> dict:
    deadline = time.monotonic() + within
    legacy: dict = {}
    while time.monotonic() < deadline:
        _, body, _ = await get_json(session, f"{url}/v0/gateway/status", mgmt_headers())
        legacy = body["legacy"]
        if check(legacy):
            return legacy
        await asyncio.sleep(0.05)
    raise AssertionError(f"status never settled: {legacy}")


def cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")


def start_supervised(tmp_path: Path, processes: Processes) -> tuple[Gateway, Path, int]:
    port, legacy_port = free_port(), free_port()
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.format(port=port, auth_dir=tmp_path / "auths"))
    flags = write_flags(tmp_path / "flags.yaml", {
        "legacy": {"binary": str(write_legacy_wrapper(tmp_path)), "port": legacy_port},
        "server": {"state_dir": str(tmp_path / "state")},
    })
    return processes.gateway(config, flags, port=port), config, legacy_port


async def test_supervised_legacy_lifecycle(tmp_path: Path, processes: Processes) -> None:
    gateway, config, legacy_port = start_supervised(tmp_path, processes)
    port, wrapper = gateway.port, tmp_path / "CLIProxyAPI"
    async with aiohttp.ClientSession() as session:
        await wait_models(session, gateway.url)
        status, body, route = await get_json(session, f"{gateway.url}/v1/models", CLIENT)
        assert (status, route) == (200, "legacy/legacy")
        assert [m["id"] for m in body["data"]] == MODELS
        assert set(body["data"][0]) == {"id", "object", "created", "owned_by"}

        legacy = await wait_status(session, gateway.url, lambda s: s.get("healthy") is True)
        first_pid = legacy["pid"]
        assert legacy["restarts"] == 0 and legacy["binary"] == str(wrapper)
        assert legacy["url"] == f"http://127.0.0.1:{legacy_port}"
        # The wrapper exec'd the stand-in, so the child the gateway reports is the server itself.
        assert first_pid in children_of(gateway.proc.pid)
        assert "tests.fakes.legacy_server" in cmdline(first_pid)
        derived = cmdline(first_pid)[cmdline(first_pid).index("-config") + 1]
        assert read_yaml(Path(derived))["port"] == legacy_port
        processes.extra_pids.append(first_pid)

        # Crash: the client sees the protocol's own error (never a hang or a broken connection),
        # then legacy is back on a new pid and the restart is counted.
        os.kill(first_pid, signal.SIGKILL)
        assert wait_gone(first_pid, 5)
        errors = await wait_models(session, gateway.url)
        # The restart waits out a 0.5 s backoff, so the outage is always observed.
        assert errors and [e for e in errors if e != (503, UNREACHABLE)] == []
        legacy = await wait_status(session, gateway.url, lambda s: s["pid"] not in (None, first_pid))
        assert legacy["restarts"] == 1
        second_pid = legacy["pid"]
        processes.extra_pids.append(second_pid)
        status, body, route = await get_json(session, f"{gateway.url}/v1/models", CLIENT)
        assert (status, route, [m["id"] for m in body["data"]]) == (200, "legacy/legacy", MODELS)

        # A management write answered by legacy lands in the operator's file, comments kept.
        async with session.put(f"{gateway.url}/v0/management/debug", json={"value": True},
                               headers=mgmt_headers()) as response:
            assert response.status == 200 and response.headers["X-Quotio-Route"] == "legacy/legacy"
            assert await response.json() == {"status": "ok"}
    assert await poll(lambda: read_yaml(config)["debug"] is True, 5)
    text = config.read_text()
    assert yaml.safe_load(text)["debug"] is True
    assert yaml.safe_load(text)["port"] == port  # the derived port never flows back
    assert text.startswith("# operator's config; the gateway owns this port")

    # SIGKILL the gateway: no cleanup runs, yet the child must not survive it.
    gateway.proc.send_signal(signal.SIGKILL)
    gateway.proc.wait(timeout=5)
    assert wait_gone(second_pid, 3), f"legacy child {second_pid} outlived the gateway"


async def test_config_yaml_read_through_legacy_is_the_operators_file(tmp_path: Path, processes: Processes) -> None:
    gateway, config, _ = start_supervised(tmp_path, processes)
    async with aiohttp.ClientSession() as session:
        await wait_models(session, gateway.url)
        async with session.get(f"{gateway.url}/v0/management/config.yaml", headers=mgmt_headers()) as response:
            # Deliberate: with a supervised legacy the operator's file is always served natively.
            assert (response.status, response.headers["X-Quotio-Route"]) == (200, "native/native")
            body = await response.text()
    assert body == config.read_text()
