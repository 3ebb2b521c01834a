"""benchmarks/naive_spin.py: the naive anchor, unchanged, behind a middleware that spends CPU."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from benchmarks import naive_spin
from benchmarks.targets import anchors_dir


class _Clock:
    """perf_counter stand-in: each reading is 10 µs after the last."""

    def __init__(self) -> None:
        self.now = 100.0
        self.readings = 0

    def __call__(self) -> float:
        self.readings += 1
        self.now += 10e-6
        return self.now


async def test_the_handler_runs_only_after_the_spin_has_used_its_microseconds(
        aiohttp_client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _Clock()
    monkeypatch.setattr(naive_spin.time, "perf_counter", clock)
    seen: list[float] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(clock.now)
        return web.Response(text="ok")

    app = web.Application(middlewares=[naive_spin.spinning(50)])
    app.router.add_get("/", handler)
    client: TestClient = await aiohttp_client(app)
    start = clock.now
    resp = await client.get("/")
    assert (resp.status, await resp.text()) == (200, "ok")
    # The deadline is read once, then the loop polls until the clock is past it: 50 µs in 10 µs steps.
    assert seen[0] - start >= 50e-6
    assert clock.readings == 6


async def test_the_anchor_is_loaded_as_shipped_and_still_proxies(
        aiohttp_client: Any, aiohttp_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    if not (anchors_dir() / "naive_proxy.py").exists():
        pytest.skip(f"no benchmark anchors at {anchors_dir()}")
    monkeypatch.setenv("QUOTIO_BENCH_ANCHORS", str(anchors_dir()))

    async def upstream_chat(request: web.Request) -> web.Response:
        return web.json_response({"path": request.path_qs, "body": (await request.read()).decode()})

    upstream = web.Application()
    upstream.router.add_post("/v1/chat/completions", upstream_chat)
    up = await aiohttp_server(upstream)
    anchor = naive_spin.load_anchor()
    assert Path(anchor.__file__) == anchors_dir() / "naive_proxy.py"
    anchor.app.middlewares.append(naive_spin.spinning(1))
    anchor.app["upstream"] = str(up.make_url("")).rstrip("/")
    client: TestClient = await aiohttp_client(anchor.app)
    resp = await client.post("/v1/chat/completions?n=2", data=b'{"stream":false}')
    assert resp.status == 200
    assert await resp.json() == {"path": "/v1/chat/completions?n=2", "body": '{"stream":false}'}
    await anchor.app["s"].close()
