"""``GET /``: the legacy greeting, byte for byte, without any key."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from handlers.root import get_root, setup_root
from quotio_gateway.native import NativeRegistry


async def test_root_greeting(aiohttp_client: Any) -> None:
    registry = NativeRegistry()
    setup_root(registry)
    assert [(r.method, r.path, r.handler) for r in registry.routes] == [("GET", "/", get_root)]
    app = web.Application()
    for route in registry.routes:
        app.router.add_route(route.method, route.path, route.handler)
    client = await aiohttp_client(app)

    response = await client.get("/")
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert await response.read() == (
        b'{"endpoints":["POST /v1/chat/completions","POST /v1/completions","GET /v1/models"],'
        b'"message":"CLI Proxy API Server"}')
    assert "X-CPA-VERSION" not in response.headers
