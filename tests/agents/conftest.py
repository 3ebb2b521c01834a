"""Fixtures for the real-agent suite: a recording upstream, a proxy probe, the gateway process.

Module-scoped where starting is the slow part (the gateway process, the upstream), so each file
runs every CLI against one set of servers. The upstream lives on its own event loop in a thread:
module-scoped async fixtures would need a module-scoped loop, and the CLIs are separate processes
anyway, so nothing is gained by sharing the test's loop.

Every item under tests/agents gets the ``agents`` marker (``-m "not agents"`` leaves them out).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.agents.harness import AGENTS, NO_PROXY, Agent, AgentResult
from tests.agents.upstream import FakeUpstream, Recorded
from tests.e2e.conftest import free_port, wait_http

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.agents)


def require(name: str) -> Agent:
    """The agent, or a skip naming why the install step could not provide it."""
    agent = AGENTS[name]
    reason = agent.unavailable()
    if reason is not None:
        pytest.skip(reason)
    return agent


class ThreadedUpstream:
    """A ``FakeUpstream`` served from a private event loop in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="agents-upstream", daemon=True)
        self.server = FakeUpstream()

    def start(self) -> None:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    @property
    def url(self) -> str:
        return self.server.url

    def mark(self) -> int:
        """Where the log ends now; ``since(mark)`` gives what a single run added."""
        return len(self.server.requests)

    def since(self, mark: int) -> list[Recorded]:
        return list(self.server.requests[mark:])


@pytest.fixture(scope="module")
def upstream() -> Iterator[ThreadedUpstream]:
    server = ThreadedUpstream()
    server.start()
    yield server
    server.stop()


@dataclass
class ProxyProbe:
    """A listener used as every proxy variable: any connection to it is a CLI trying to leave loopback."""

    sock: socket.socket
    peers: list[tuple[str, int]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def serve(self) -> None:
        while True:
            try:
                conn, peer = self.sock.accept()
            except OSError:  # closed by the fixture
                return
            self.peers.append(peer)
            conn.close()


@pytest.fixture(scope="module")
def proxy_probe() -> Iterator[ProxyProbe]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    probe = ProxyProbe(sock)
    thread = threading.Thread(target=probe.serve, name="agents-proxy-probe", daemon=True)
    thread.start()
    yield probe
    # shutdown() wakes the blocked accept(); close() alone does not on Linux.
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
    thread.join(5)


# The client key the agents present to the gateway, and one upstream key per kind.
GATEWAY_KEY = "agents-client-key"
UPSTREAM_KEYS = {"claude": "sk-up-claude", "codex": "sk-up-codex", "gemini": "sk-up-gemini",
                 "openai": "sk-up-openai"}
# The model name a client asks for, per upstream kind, and the name the upstream must receive.
CLIENT_MODELS = {"claude": "claude-sonnet-4-5", "codex": "gpt-5-codex", "gemini": "gemini-2.5-pro",
                 "openai": "compat-chat"}
UPSTREAM_MODELS = {"claude": "claude-sonnet-4-5-20250929", "codex": "gpt-5-codex", "gemini": "gemini-2.5-pro",
                   "openai": "fake-chat-model"}
COMPAT_PROVIDER = "fakecompat"

# Every client inference route on native; anything else would go to a legacy that is not there.
NATIVE_ROUTES = ("POST /v1/chat/completions", "POST /v1/completions", "POST /v1/responses", "POST /v1/messages",
                 "POST /v1/messages/count_tokens", "GET /v1/models", "GET /v1beta/models",
                 "GET /v1beta/models/*", "POST /v1beta/models/*")


def gateway_config(port: int, upstream_root: str) -> dict:
    """config.yaml with one entry of every API-key upstream kind, all served by the fake upstream."""
    def models(kind: str) -> list[dict[str, str]]:
        return [{"name": UPSTREAM_MODELS[kind], "alias": CLIENT_MODELS[kind]}]

    return {
        "host": "127.0.0.1",
        "port": port,
        "api-keys": [GATEWAY_KEY],
        "request-retry": 0,
        "claude-api-key": [{"api-key": UPSTREAM_KEYS["claude"], "base-url": upstream_root,
                            "models": models("claude")}],
        "codex-api-key": [{"api-key": UPSTREAM_KEYS["codex"], "base-url": f"{upstream_root}/backend-api/codex",
                           "models": models("codex")}],
        "gemini-api-key": [{"api-key": UPSTREAM_KEYS["gemini"], "base-url": upstream_root,
                            "models": models("gemini")}],
        "openai-compatibility": [{"name": COMPAT_PROVIDER, "base-url": f"{upstream_root}/v1",
                                  "api-key-entries": [{"api-key": UPSTREAM_KEYS["openai"]}],
                                  "models": models("openai")}],
    }


def gateway_flags(state_dir: Path) -> dict:
    return {
        "version": 1,
        "default": "legacy",
        # Port 9 has no listener: a request the table sends to legacy fails instead of passing.
        "legacy": {"url": "http://127.0.0.1:9", "connect_timeout": 1},
        "server": {"state_dir": str(state_dir)},
        "routes": [{"match": route, "mode": "native"} for route in NATIVE_ROUTES],
    }


@dataclass
class GatewayProcess:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, upstream: ThreadedUpstream,
            proxy_probe: ProxyProbe) -> Iterator[GatewayProcess]:
    """``quotio-gateway serve`` as its own process, inference routes native, every upstream kind configured."""
    tmp = tmp_path_factory.mktemp("agents-gateway")
    port = free_port()
    config = tmp / "config.yaml"
    config.write_text(yaml.safe_dump(gateway_config(port, upstream.url), sort_keys=False))
    flags = tmp / "flags.yaml"
    flags.write_text(yaml.safe_dump(gateway_flags(tmp / "state"), sort_keys=False))
    # The gateway gets the same no-internet setting as the agents: only loopback is reachable.
    env = {name: os.environ[name] for name in ("PATH", "LANG") if name in os.environ}
    env.update({"HOME": str(tmp), "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"})
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        env[name] = env[name.lower()] = proxy_probe.url
    env["NO_PROXY"] = env["no_proxy"] = NO_PROXY
    log = tmp / "gateway.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "quotio_gateway", "serve", "--config", str(config),
                                 "--flags", str(flags)], cwd=tmp, env=env, stdout=sink,
                                stderr=subprocess.STDOUT)
    gateway = GatewayProcess(proc, port, log)
    try:
        wait_http(f"{gateway.url}/healthz", proc)
    except AssertionError as exc:
        proc.kill()
        proc.wait(10)
        raise AssertionError(f"{exc}\n{gateway.output()}") from None
    yield gateway
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


# The upstream kinds of gateway_config, and the fake's protocol (and so its answer) behind each.
KINDS = ("claude", "codex", "gemini", "openai")
FAKE_PROTOCOL = {"claude": "claude", "codex": "responses", "gemini": "gemini", "openai": "openai"}


@dataclass(frozen=True)
class KindRun:
    """One CLI run against one upstream kind: its result, the upstream requests it caused, the
    connections that went around the proxy probe, and the gateway's log."""

    result: AgentResult
    requests: list[Recorded]
    escaped: list[tuple[str, int]]
    gateway_log: str

    def context(self) -> str:
        return f"{self.result.describe()}\n--- gateway log (tail) ---\n{self.gateway_log[-3000:]}"


async def run_every_kind(agent: Agent, gateway: GatewayProcess, upstream: ThreadedUpstream, probe: ProxyProbe, *,
                         prompt: str, workdirs: dict[str, Path], time_limit: float) -> dict[str, KindRun]:
    """Run ``agent`` against all four kinds at once. Each kind has its own fake protocol, so every
    recorded request belongs to exactly one run; a request of no known protocol is charged to
    every run, so it fails them all."""
    mark, probed = upstream.mark(), len(probe.peers)
    results = await asyncio.gather(*(
        agent.run(gateway.url, model=CLIENT_MODELS[each], key=GATEWAY_KEY, prompt=prompt, workdir=workdirs[each],
                  proxy=probe.url, time_limit=time_limit)
        for each in KINDS))
    seen, escaped, log = upstream.since(mark), probe.peers[probed:], gateway.output()
    runs: dict[str, KindRun] = {}
    for each, result in zip(KINDS, results, strict=True):
        mine = [r for r in seen if r.kind == FAKE_PROTOCOL[each]] + [r for r in seen if r.kind == "other"]
        runs[each] = KindRun(result, mine, escaped, log)
    return runs
