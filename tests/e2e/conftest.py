"""Real processes for the end-to-end suite: the gateway as its command, the stand-in legacy binary.

Everything here talks over loopback sockets to separate OS processes, the way the Quotio app and
the CLI agents do; nothing is mounted in-process except the stand-in when a test needs a second,
independently configured legacy server to compare against.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
# The management key used by most files here, and its bcrypt hash at a low cost: a plaintext
# secret in config.yaml would make both the gateway and the stand-in rewrite the file at start.
MGMT_KEY = "e2e-management-key"
MGMT_HASH = bcrypt.hashpw(MGMT_KEY.encode(), bcrypt.gensalt(rounds=4, prefix=b"2a")).decode()
API_KEY = "e2e-client-key"


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


_EPHEMERAL = _ephemeral_range()


def free_port() -> int:
    """A free port *below* the ephemeral range.

    The gateway binds the port written in config.yaml some time after we chose it; a port from
    bind(0) sits in the ephemeral range, where the in-process stand-in, outgoing connections and
    other test runs on this machine keep drawing ports and can take it first.
    """
    low = max(1024, _EPHEMERAL[0] - 12000)
    for _ in range(200):
        port = random.randrange(low, _EPHEMERAL[0])
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below the ephemeral range")


def child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}


def write_legacy_wrapper(directory: Path) -> Path:
    """An executable that behaves like the CLIProxyAPI binary: the stand-in, run from the repo root."""
    path = directory / "CLIProxyAPI"
    path.write_text(f'#!/bin/sh\ncd "{ROOT}"\nPYTHONPATH="{ROOT}" exec "{PYTHON}" -m tests.fakes.legacy_server "$@"\n')
    path.chmod(0o755)
    return path


def wait_http(url: str, proc: subprocess.Popen[bytes] | None = None, timeout: float = 15.0) -> None:
    """Until ``url`` answers at all (any status); fails early if ``proc`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process exited with {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"{url} did not answer within {timeout} s")


def children_of(pid: int) -> list[int]:
    """Direct children of ``pid`` (from /proc), so a test can check none outlives its parent."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Field 4 (ppid) follows the parenthesised command name, which may itself hold spaces.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            out.append(int(entry.name))
    return out


def pid_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


async def poll(condition: Callable[[], bool], within: float, step: float = 0.05) -> bool:
    """Whether ``condition`` became true within ``within`` seconds (checked every ``step``)."""
    for _ in range(max(1, int(within / step))):
        if condition():
            return True
        await asyncio.sleep(step)
    return condition()


def read_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    return not pid_alive(pid)


@dataclass
class Gateway:
    proc: subprocess.Popen[bytes]
    port: int
    config: Path
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class Processes:
    """Starts processes for one test and makes sure every one of them is gone afterwards."""

    tmp: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    extra_pids: list[int] = field(default_factory=list)

    def popen(self, args: list[str], *, cwd: Path, name: str) -> tuple[subprocess.Popen[bytes], Path]:
        log = self.tmp / f"{name}.log"
        with log.open("wb") as sink:
            proc = subprocess.Popen(args, cwd=cwd, stdout=sink, stderr=subprocess.STDOUT, env=child_env())
        self.procs.append(proc)
        return proc, log

    def gateway(self, config: Path, flags: Path | None, *, port: int, drop_in: bool = False,
                cwd: Path | None = None, wait: bool = True) -> Gateway:
        if drop_in:
            args = [PYTHON, "-m", "quotio_gateway", "-config", str(config)]
        else:
            args = [PYTHON, "-m", "quotio_gateway", "serve", "--config", str(config)]
            if flags is not None:
                args += ["--flags", str(flags)]
        proc, log = self.popen(args, cwd=cwd or self.tmp, name=f"gateway-{port}")
        gateway = Gateway(proc, port, config, log)
        if wait:
            try:
                wait_http(f"{gateway.url}/healthz", proc)
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n{gateway.stderr()}") from None
        return gateway

    def cleanup(self) -> None:
        for pid in self.extra_pids:
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    procs = Processes(tmp_path)
    yield procs
    procs.cleanup()


def write_flags(path: Path, doc: dict) -> Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def mgmt_headers(key: str = MGMT_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
