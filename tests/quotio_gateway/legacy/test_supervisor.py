"""LegacySupervisor with tests/fakes/fake_binary.py standing in for CLIProxyAPI (real processes, real ports)."""

from __future__ import annotations

import asyncio
import inspect
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
import yaml
from structlog.testing import capture_logs

from quotio_gateway.flags.schema import LegacySettings
from quotio_gateway.legacy.derived_config import atomic_write
from quotio_gateway.legacy.supervisor import (
    DERIVED_CONFIG_NAME,
    LegacyBinaryError,
    LegacySupervisor,
    child_environment,
)
from quotio_gateway.metrics import Metrics

FAKE = Path(__file__).resolve().parents[2] / "fakes" / "fake_binary.py"
REPO = Path(__file__).resolve().parents[3]

ORIGINAL = """\
# Operator's config: comments must survive
host: "0.0.0.0"
port: 8317  # the public port
debug: false
remote-management:
  allow-remote: false
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def binary(tmp_path: Path) -> Path:
    """An executable named like the real one that runs the fake with this interpreter (exec keeps the pid)."""
    wrapper = tmp_path / "bin" / "cli-proxy-api"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE}" "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


def _settings(binary: Path, *args: str, **extra: float) -> LegacySettings:
    return LegacySettings(binary=str(binary), args=list(args), port=_free_port(), **extra)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        yield session


def _gone(pid: int) -> bool:
    """No such process, or only a zombie left for init to reap."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def _reaped(pid: int) -> bool:
    """Not even a zombie left: the process was waited for."""
    return not Path(f"/proc/{pid}").exists()


def _cmdline(pid: int) -> list[bytes]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1]


async def _until(predicate: Callable[[], bool | Awaitable[bool]], within: float = 10.0) -> None:
    step = 0.05
    for _ in range(int(within / step)):
        outcome = predicate()
        if await outcome if inspect.isawaitable(outcome) else outcome:
            return
        await asyncio.sleep(step)
    raise AssertionError(f"condition not met within {within}s")


def _text(path: Path) -> str:
    return path.read_text()


def _counter(metrics: Metrics) -> float | None:
    return metrics.registry.get_sample_value("quotio_gateway_legacy_restarts_total")


async def test_start_serves_on_the_internal_port(binary: Path, tmp_path: Path,
                                                 http: aiohttp.ClientSession) -> None:
    settings = _settings(binary, "-pidfile", str(tmp_path / "fake.pid"))
    metrics = Metrics()
    supervisor = LegacySupervisor(settings, None, tmp_path / "state", metrics, health_interval=0.1)
    with capture_logs() as logs:
        await supervisor.start()
        try:
            assert supervisor.url == f"http://127.0.0.1:{settings.port}"
            assert await supervisor.health.wait_healthy(10) is True
            pid = supervisor.pid
            assert pid is not None
            async with http.get(supervisor.url + "/") as response:
                assert response.status == 200
                assert (await response.json())["pid"] == pid
            assert (tmp_path / "fake.pid").read_text() == str(pid)
            derived = tmp_path / "state" / DERIVED_CONFIG_NAME
            assert yaml.safe_load(derived.read_text()) == {
                "host": "127.0.0.1", "port": settings.port, "auth-dir": "~/.cli-proxy-api"}
            cmdline = _cmdline(pid)
            assert cmdline[-4:] == [b"-pidfile", str(tmp_path / "fake.pid").encode(), b"-config",
                                    str(derived).encode()]
            # Its own process group, so a terminal's Ctrl-C reaches only the gateway.
            assert os.getpgid(pid) == pid
            assert supervisor.restarts == 0
            assert _counter(metrics) == 0.0
            assert metrics.registry.get_sample_value("quotio_gateway_legacy_up") == 1.0
            # Child output is drained into debug log lines.
            await _until(lambda: any(e.get("event") == "legacy.output" for e in logs))
        finally:
            await supervisor.stop()
    output = [e for e in logs if e["event"] == "legacy.output"]
    assert output[0]["log_level"] == "debug"
    assert output[0]["line"] == f"fake legacy listening on 127.0.0.1:{settings.port}"
    assert output[0]["stream"] == "stdout"
    started = next(e for e in logs if e["event"] == "legacy.started")
    # The command line may carry secrets, so only the count of extra arguments is logged.
    assert started["extra_args"] == 2
    assert str(tmp_path / "fake.pid") not in repr(logs)
    assert _gone(pid)
    assert metrics.registry.get_sample_value("quotio_gateway_legacy_up") == 0.0


async def test_heavy_output_never_blocks_the_child(binary: Path, tmp_path: Path) -> None:
    # 2 MB before it listens: far more than a pipe buffer holds.
    supervisor = LegacySupervisor(_settings(binary, "--spam", "2000000"), None, tmp_path / "state", Metrics(),
                                  health_interval=0.1)
    with capture_logs() as logs:
        await supervisor.start()
        try:
            assert await supervisor.health.wait_healthy(10)
        finally:
            await supervisor.stop()
    lines = [e["line"] for e in logs if e["event"] == "legacy.output"]
    spam = [line for line in lines if line.startswith("x")]
    # Overlong lines are cut to 4096 characters in the log.
    assert len(spam) == 200
    assert {len(line) for line in spam} == {4096}


async def test_dead_child_is_restarted_with_backoff(binary: Path, tmp_path: Path,
                                                    http: aiohttp.ClientSession) -> None:
    metrics = Metrics()
    supervisor = LegacySupervisor(_settings(binary), None, tmp_path / "state", metrics, health_interval=0.1)
    with capture_logs() as logs:
        await supervisor.start()
        try:
            assert await supervisor.health.wait_healthy(10)
            pids = [supervisor.pid]
            for expected in (1, 2):
                with pytest.raises(aiohttp.ServerDisconnectedError):
                    await http.post(supervisor.url + "/__die")
                await _until(lambda n=expected: supervisor.restarts == n)
                assert await supervisor.health.wait_healthy(10)
                pids.append(supervisor.pid)
                async with http.get(supervisor.url + "/") as response:
                    assert (await response.json())["pid"] == supervisor.pid
            assert _counter(metrics) == 2.0
        finally:
            await supervisor.stop()
    assert len(set(pids)) == 3
    exits = [e for e in logs if e["event"] == "legacy.exited"]
    assert [(e["code"], e["restart_in"]) for e in exits] == [(1, 0.5), (1, 1.0)]
    assert [e["log_level"] for e in exits] == ["warning", "warning"]
    assert all(_gone(pid) for pid in pids if pid is not None)


async def test_backoff_is_capped(binary: Path, tmp_path: Path, http: aiohttp.ClientSession) -> None:
    supervisor = LegacySupervisor(_settings(binary, restart_backoff_max=0.5), None, tmp_path / "state",
                                  Metrics(), health_interval=0.1)
    with capture_logs() as logs:
        await supervisor.start()
        try:
            for expected in (1, 2):
                assert await supervisor.health.wait_healthy(10)
                with pytest.raises(aiohttp.ServerDisconnectedError):
                    await http.post(supervisor.url + "/__die")
                await _until(lambda n=expected: supervisor.restarts == n)
        finally:
            await supervisor.stop()
    assert [e["restart_in"] for e in logs if e["event"] == "legacy.exited"] == [0.5, 0.5]


async def test_failed_restart_is_retried(binary: Path, tmp_path: Path, http: aiohttp.ClientSession) -> None:
    supervisor = LegacySupervisor(_settings(binary), None, tmp_path / "state", Metrics(), health_interval=0.1)
    hidden = binary.with_name("hidden")
    with capture_logs() as logs:
        await supervisor.start()
        try:
            assert await supervisor.health.wait_healthy(10)
            os.rename(binary, hidden)
            with pytest.raises(aiohttp.ServerDisconnectedError):
                await http.post(supervisor.url + "/__die")
            await _until(lambda: any(e["event"] == "legacy.restart_failed" for e in logs))
            assert supervisor.pid is None
            assert supervisor.restarts == 0
            os.rename(hidden, binary)
            await _until(lambda: supervisor.restarts == 1)
            assert await supervisor.health.wait_healthy(10)
        finally:
            await supervisor.stop()
    failed = next(e for e in logs if e["event"] == "legacy.restart_failed")
    assert failed["log_level"] == "error"
    assert failed["retry_in"] == 1.0
    assert failed["error"] == f"[Errno 2] No such file or directory: '{binary}'"


async def test_stop_sends_sigterm(binary: Path, tmp_path: Path) -> None:
    supervisor = LegacySupervisor(_settings(binary), None, tmp_path / "state", Metrics(), health_interval=0.1)
    await supervisor.start()
    assert await supervisor.health.wait_healthy(10)
    proc = supervisor._proc
    assert proc is not None
    await supervisor.stop(grace=5.0)
    assert proc.returncode == -signal.SIGTERM
    assert supervisor.pid is None
    assert _reaped(proc.pid)
    # Stopping is not a crash: nothing is restarted afterwards.
    await asyncio.sleep(0.7)
    assert supervisor.restarts == 0
    assert supervisor._proc is proc


async def test_stop_kills_a_child_that_ignores_sigterm(binary: Path, tmp_path: Path) -> None:
    supervisor = LegacySupervisor(_settings(binary, "--ignore-sigterm"), None, tmp_path / "state", Metrics(),
                                  health_interval=0.1)
    await supervisor.start()
    assert await supervisor.health.wait_healthy(10)
    proc = supervisor._proc
    assert proc is not None
    started = time.monotonic()
    with capture_logs() as logs:
        await supervisor.stop(grace=0.5)
    assert time.monotonic() - started >= 0.5
    assert proc.returncode == -signal.SIGKILL
    # Reaped by the supervisor: not even a zombie is left.
    assert _reaped(proc.pid)
    assert [e["event"] for e in logs if e["event"].startswith("legacy.kill")] == ["legacy.kill_after_grace"]


async def test_stop_during_backoff_does_not_respawn(binary: Path, tmp_path: Path,
                                                    http: aiohttp.ClientSession) -> None:
    supervisor = LegacySupervisor(_settings(binary), None, tmp_path / "state", Metrics(), health_interval=0.1)
    await supervisor.start()
    assert await supervisor.health.wait_healthy(10)
    proc = supervisor._proc
    assert proc is not None
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await http.post(supervisor.url + "/__die")
    await _until(lambda: proc.returncode is not None)
    await supervisor.stop()
    await asyncio.sleep(0.8)
    assert supervisor.restarts == 0
    assert supervisor._proc is proc


_PARENT = """
import asyncio, sys
from pathlib import Path
from quotio_gateway.flags.schema import LegacySettings
from quotio_gateway.legacy.supervisor import LegacySupervisor
from quotio_gateway.metrics import Metrics

async def main() -> None:
    settings = LegacySettings(binary=sys.argv[1], port=int(sys.argv[2]), args=["--ignore-sigterm"])
    supervisor = LegacySupervisor(settings, None, Path(sys.argv[3]), Metrics(), health_interval=0.1)
    await supervisor.start()
    healthy = await supervisor.health.wait_healthy(10)
    print(f"CHILD {supervisor.pid if healthy else 'unhealthy'}", flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


def test_child_dies_when_the_gateway_is_sigkilled(binary: Path, tmp_path: Path) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", _PARENT, str(binary), str(_free_port()), str(tmp_path / "state")],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert parent.stdout is not None
        child = None
        deadline = time.monotonic() + 15
        while child is None and time.monotonic() < deadline:
            line = parent.stdout.readline()
            if not line:
                break
            if line.startswith("CHILD "):
                child = int(line.split()[1])
        assert child is not None
        assert not _gone(child)
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait(5)
    deadline = time.monotonic() + 5
    while not _gone(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    survived = not _gone(child)
    if survived:
        os.kill(child, signal.SIGKILL)
    assert not survived


async def test_config_edits_reach_the_running_child_and_come_back(binary: Path, tmp_path: Path,
                                                                  http: aiohttp.ClientSession) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(ORIGINAL)
    settings = _settings(binary)
    supervisor = LegacySupervisor(settings, config, tmp_path / "state", Metrics(), health_interval=0.1)
    await supervisor.start()
    try:
        assert await supervisor.health.wait_healthy(10)
        derived = (tmp_path / "state" / DERIVED_CONFIG_NAME).read_text()
        assert derived.startswith("# Operator's config: comments must survive\n")
        assert f"port: {settings.port}" in derived

        async def seen_by_child() -> dict[str, object]:
            async with http.get(supervisor.url + "/__config") as response:
                return dict(await response.json())

        initial = await seen_by_child()
        assert (initial["host"], initial["port"], initial["debug"]) == ("127.0.0.1", settings.port, False)

        # The operator (or the Quotio app) edits config.yaml: legacy sees it in its own copy.
        atomic_write(config, ORIGINAL.replace("debug: false", "debug: true"))
        async def debug_on() -> bool:
            return (await seen_by_child()).get("debug") is True

        await _until(debug_on)
        assert (await seen_by_child())["port"] == settings.port

        # Legacy persists a management edit into its copy: it lands in config.yaml, comments kept.
        async with http.put(supervisor.url + "/__config", json={"request-retry": 3}) as response:
            assert response.status == 200
        await _until(lambda: "request-retry: 3" in _text(config))
        text = _text(config)
        assert text.startswith("# Operator's config: comments must survive\n")
        assert "port: 8317  # the public port" in text
        assert 'host: "0.0.0.0"' in text
    finally:
        await supervisor.stop()


async def test_missing_binary_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "cli-proxy-api"
    supervisor = LegacySupervisor(LegacySettings(binary=str(missing)), None, tmp_path, Metrics())
    with pytest.raises(LegacyBinaryError) as info:
        await supervisor.start()
    assert str(info.value) == f"legacy.binary {missing} does not exist"
    assert supervisor.pid is None
    # Cleanup after a failed start is harmless and leaves no files behind.
    await supervisor.stop()
    assert os.listdir(tmp_path) == []


async def test_binary_that_cannot_exec_is_named(tmp_path: Path) -> None:
    path = tmp_path / "cli-proxy-api"
    path.write_text("#!/nonexistent/interpreter\n")
    path.chmod(0o755)
    supervisor = LegacySupervisor(LegacySettings(binary=str(path), port=_free_port()), None, tmp_path / "state",
                                  Metrics())
    with pytest.raises(LegacyBinaryError) as info:
        await supervisor.start()
    assert str(info.value).startswith(f"legacy.binary {path} could not be started: [Errno 2] ")
    await supervisor.stop()


def test_non_executable_binary_is_named(tmp_path: Path) -> None:
    path = tmp_path / "cli-proxy-api"
    path.write_text("#!/bin/sh\n")
    path.chmod(0o644)
    with pytest.raises(LegacyBinaryError) as info:
        LegacySupervisor(LegacySettings(binary=str(path)), None, tmp_path, Metrics()).preflight()
    assert str(info.value) == f"legacy.binary {path} is not executable"


def test_directory_binary_is_named(tmp_path: Path) -> None:
    with pytest.raises(LegacyBinaryError) as info:
        LegacySupervisor(LegacySettings(binary=str(tmp_path)), None, tmp_path, Metrics()).preflight()
    assert str(info.value) == f"legacy.binary {tmp_path} is not a regular file"


def test_bare_name_is_looked_up_on_path(binary: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(binary.parent))
    assert LegacySupervisor(LegacySettings(binary="cli-proxy-api"), None, tmp_path, Metrics()).preflight() == binary
    with pytest.raises(LegacyBinaryError) as info:
        LegacySupervisor(LegacySettings(binary="no-such-proxy"), None, tmp_path, Metrics()).preflight()
    assert str(info.value) == "legacy.binary 'no-such-proxy' was not found on PATH"


async def test_taken_port_is_refused(binary: Path, tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        supervisor = LegacySupervisor(LegacySettings(binary=str(binary), port=port), None, tmp_path, Metrics())
        with pytest.raises(LegacyBinaryError) as info:
            await supervisor.start()
    assert str(info.value) == (
        f"legacy.port {port} on 127.0.0.1 is already in use (Address already in use); "
        "another process would answer in place of the supervised binary")
    assert supervisor.pid is None


async def test_start_twice_is_refused(binary: Path, tmp_path: Path) -> None:
    supervisor = LegacySupervisor(_settings(binary), None, tmp_path / "state", Metrics())
    await supervisor.start()
    try:
        with pytest.raises(RuntimeError, match=r"^LegacySupervisor.start\(\) may be called once$"):
            await supervisor.start()
    finally:
        await supervisor.stop()


def test_supervisor_needs_a_binary(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"^LegacySupervisor needs legacy.binary$"):
        LegacySupervisor(LegacySettings(url="http://127.0.0.1:1"), None, tmp_path, Metrics())


def test_the_child_serves_the_gateways_control_panel_file(tmp_path: Path) -> None:
    config = tmp_path / "conf" / "config.yaml"
    env = child_environment({"PATH": "/bin"}, config)
    assert env == {"PATH": "/bin", "MANAGEMENT_STATIC_PATH": str(tmp_path / "conf" / "static" / "management.html")}
    assert child_environment({"WRITABLE_PATH": "/w"}, config)["MANAGEMENT_STATIC_PATH"] == \
        "/w/static/management.html"
    # The operator's own choice is passed on as it is; without a config file there is nothing to pin.
    assert child_environment({"MANAGEMENT_STATIC_PATH": "/p"}, config) == {"MANAGEMENT_STATIC_PATH": "/p"}
    assert child_environment({"PATH": "/bin"}, None) == {"PATH": "/bin"}
