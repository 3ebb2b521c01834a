"""The shadow worker from the gateway's side: a real worker process behind the front door."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiohttp import web

from quotio_gateway import appkeys
from quotio_gateway.frontdoor import FrontDoor
from quotio_gateway.shadow.remote import ShadowWorker, worker_enabled
from quotio_gateway.shadow.types import Captured
from tests.fakes.loopback import serve_on_loopback

LEGACY_MODELS = b'{"object":"list","data":[{"id":"legacy-only","object":"model","created":1,"owned_by":"x"}]}'


async def legacy_models(request: web.Request) -> web.Response:
    return web.Response(body=LEGACY_MODELS, content_type="application/json")


async def legacy_echo(request: web.Request) -> web.Response:
    return web.Response(text=f"legacy {request.method}")


@dataclass
class Setup:
    app: web.Application
    worker: ShadowWorker
    port: int

    @property
    def runner(self):  # the gateway's ShadowRunner
        return self.app[appkeys.SHADOW]

    async def get(self, path: str, *, method: str = "GET", n: int = 1) -> list[bytes]:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        heads = []
        try:
            for _ in range(n):
                writer.write(f"{method} {path} HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer client-key\r\n"
                             "Content-Length: 0\r\n\r\n".encode())
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
                heads.append(head)
        finally:
            writer.close()
        return heads

    async def counted(self, route: str, total: int) -> dict[str, int]:
        for _ in range(500):
            counts = self.runner.counters().get(route, {})
            if sum(counts.values()) >= total:
                return counts
            await asyncio.sleep(0.02)
        return self.runner.counters().get(route, {})


@pytest.fixture
async def setup(make_gateway) -> AsyncIterator:
    legacy_app = web.Application()
    legacy_app.router.add_get("/v1/models", legacy_models)
    legacy_app.router.add_route("*", "/{tail:.*}", legacy_echo)
    legacy_runner, legacy_url = await serve_on_loopback(legacy_app)
    made: list[tuple[web.AppRunner, asyncio.AbstractServer, FrontDoor, ShadowWorker]] = []

    async def build(*, max_pending: int = 8192, start: bool = True, sample: float = 1.0) -> Setup:
        # Room for every job of a test's burst: beyond max_concurrency the worker skips (test_worker.py).
        app = await make_gateway({"legacy": {"url": legacy_url, "health_path": "/v1/models"},
                                  "shadow": {"max_concurrency": 64},
                                  "routes": [{"match": "GET /v1/models", "mode": "shadow", "sample": sample},
                                             {"match": "POST /v1/models", "mode": "shadow"},
                                             {"match": "GET /v0/management/*", "mode": "shadow"}]})
        runtime = app[appkeys.RUNTIME]
        worker = ShadowWorker(app[appkeys.SHADOW], config_path=runtime.config_path, flags_path=runtime.flags_path,
                              local_password=None, max_pending=max_pending)
        runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await runner.setup()
        assert runner.server is not None
        door = FrontDoor(app, runner.server, worker=worker)
        server = await asyncio.get_running_loop().create_server(door, "127.0.0.1", 0)
        made.append((runner, server, door, worker))
        if start:
            worker.ensure_started()
            for _ in range(1500):
                if worker.ready:
                    break
                await asyncio.sleep(0.02)
            assert worker.ready, "shadow worker did not start"
        return Setup(app, worker, server.sockets[0].getsockname()[1])

    yield build
    for runner, server, door, worker in made:
        server.close()
        door.abort_all()
        await worker.close(0.5)
        await runner.cleanup()
    await legacy_runner.cleanup()


async def test_requests_outside_the_sample_are_counted_apart(setup):
    s = await setup(sample=0.0)
    heads = await s.get("/v1/models", n=5)
    assert all(b"X-Quotio-Route: shadow/legacy" in head for head in heads)
    assert s.runner.not_sampled_counts() == {"GET /v1/models": 5}
    assert s.runner.counters() == {} and s.runner.skip_reasons() == {}


async def test_every_shadowed_request_is_compared_in_the_worker(setup):
    s = await setup()
    heads = await s.get("/v1/models", n=20)
    assert all(b"X-Quotio-Route: shadow/legacy" in head for head in heads)
    counts = await s.counted("GET /v1/models", 20)
    # Native lists the config's models, legacy invents one: each of the 20 was compared and differs.
    assert counts["mismatch"] == 20 and counts["skipped"] == 0 and counts["error"] == 0
    assert s.worker.pending == 0 and s.worker.pending_bytes == 0
    # One sample stored (the rest fall inside sample_interval_seconds), with both legs.
    samples = await s.runner.store.list(limit=10)
    assert len(samples) == 1 and samples[0]["native"]["status"] == 200
    assert "legacy-only" in samples[0]["diff"]
    legs = s.app[appkeys.METRICS].registry.get_sample_value(
        "quotio_gateway_shadow_leg_duration_seconds_count", {"route": "GET /v1/models", "side": "native"})
    assert legs == 20


async def test_writes_and_routes_without_native_are_skipped_with_reasons(setup):
    s = await setup()
    await s.get("/v1/models", method="POST")
    await s.get("/v0/management/nothing-native-here")
    assert s.runner.skip_reasons() == {"POST /v1/models": {"write": 1},
                                       "GET /v0/management/*": {"no native handler": 1}}


async def test_a_full_queue_is_counted_as_skipped(setup):
    s = await setup(max_pending=0)
    await s.get("/v1/models", n=3)
    assert s.runner.skip_reasons() == {"GET /v1/models": {"queue_full": 3}}


async def test_requests_take_the_aiohttp_lane_until_the_worker_is_ready(setup):
    s = await setup(start=False)
    assert not s.worker.ready
    heads = await s.get("/v1/models", n=2)
    # Answered (shadowed in process by the dispatcher meanwhile), and the worker is being started.
    assert all(b"X-Quotio-Route: shadow/legacy" in head for head in heads)
    counts = await s.counted("GET /v1/models", 2)
    assert counts["mismatch"] == 2
    for _ in range(1500):
        if s.worker.ready:
            break
        await asyncio.sleep(0.02)
    assert s.worker.ready


async def test_a_dying_worker_is_counted_and_started_again(setup):
    s = await setup()
    first = s.worker.pid
    assert first is not None
    # Queue a job the worker will never answer, then kill it.
    legacy = Captured(status=200, headers=[], body=b"{}")
    assert s.worker.submit(route="GET /v1/models", request_id="r", method="GET", target="/v1/models", headers=[],
                           peer="127.0.0.1", comparator="models", body=b"", legacy=legacy)
    os.kill(first, signal.SIGKILL)
    counts = await s.counted("GET /v1/models", 1)
    assert counts["error"] == 1 or counts["mismatch"] == 1  # answered before the kill landed, or lost
    for _ in range(1500):
        if s.worker.ready and s.worker.pid != first:
            break
        await asyncio.sleep(0.02)
    assert s.worker.ready and s.worker.pid != first
    await s.get("/v1/models")
    counts = await s.counted("GET /v1/models", 2)
    assert counts["mismatch"] >= 1


async def test_worker_timeout_is_counted_as_skipped(setup):
    s = await setup()
    legacy = Captured(status=200, headers=[], body=b"{}")
    s.worker.ready = True
    s.worker._transport = None  # nothing reaches the worker: the job can only time out
    assert not s.worker.submit(route="r", request_id="x", method="GET", target="/", headers=[], peer="",
                               comparator="json", body=b"", legacy=legacy)
    s.worker._transport = _Sink()  # type: ignore[assignment]
    assert s.worker.submit(route="r", request_id="x", method="GET", target="/", headers=[], peer="",
                           comparator="json", body=b"", legacy=legacy)
    for entry in s.worker._pending.values():
        entry.deadline = 0.0
    s.worker._sweep()
    assert s.runner.skip_reasons() == {"r": {"worker_timeout": 1}}
    assert s.worker.pending == 0 and s.worker.pending_bytes == 0


class _Sink:
    def write(self, data: bytes) -> None:
        return None

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        return None


def test_switch():
    assert worker_enabled({}) and not worker_enabled({"QUOTIO_GATEWAY_SHADOW_WORKER": "off"})
