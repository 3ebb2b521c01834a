"""Routes the legacy guards by its TCP peer: the gateway answers the legacy's 403 itself, since
behind it the legacy only ever sees the gateway's 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from quotio_gateway.config.models import Config
from quotio_gateway.frontdoor import FrontDoor
from quotio_gateway.legacy.peer_guard import guarded, is_cli_route, refusal

CLI_403 = b'{"error":{"message":"CLI reply only allow local access","type":"forbidden"}}'
AMP_ON = Config.model_validate({"ampcode": {"upstream-url": "https://ampcode.com",
                                            "restrict-management-to-localhost": True}})


@pytest.mark.parametrize(("method", "path", "expected"), [
    ("POST", "/v1internal:generateContent", True),
    ("POST", "/v1internal:onboardUser", True),
    ("POST", "/v1internalfoo", True),  # Gin's ":method" starts right after the literal
    ("POST", "/v1internal", False),  # an empty parameter: no route
    ("POST", "/v1internal:x/y", False),
    ("GET", "/v1internal:generateContent", False),
])
def test_cli_route_shape(method: str, path: str, expected: bool) -> None:
    assert is_cli_route(method, path) is expected


def test_cli_route_takes_ipv4_127_0_0_1_only() -> None:
    cfg = Config()
    assert refusal("POST", "/v1internal:generateContent", "127.0.0.1", cfg) is None
    for peer in ("127.0.0.2", "::1", "192.168.1.9"):
        answer = refusal("POST", "/v1internal:generateContent", peer, cfg)
        assert answer is not None and answer.status == 403 and answer.body == CLI_403
        assert answer.headers["Content-Type"] == "application/json; charset=utf-8"


def test_amp_routes_are_guarded_only_when_restricted_with_an_upstream() -> None:
    assert guarded("GET", "/api/user", AMP_ON) and guarded("POST", "/auth/cli-login", AMP_ON)
    assert guarded("GET", "/threads/abc", AMP_ON) and guarded("GET", "/news.rss", AMP_ON)
    assert not guarded("POST", "/threads", AMP_ON)  # root /threads is GET only
    assert not guarded("OPTIONS", "/api/user", AMP_ON)  # the CORS check refuses it first
    assert not guarded("GET", "/api/users", AMP_ON)
    off = Config.model_validate({"ampcode": {"upstream-url": "https://ampcode.com"}})
    no_upstream = Config.model_validate({"ampcode": {"restrict-management-to-localhost": True}})
    assert not guarded("GET", "/api/user", off) and not guarded("GET", "/api/user", no_upstream)
    answer = refusal("GET", "/api/user", "10.0.0.7", AMP_ON)
    assert answer is not None and answer.status == 403
    assert answer.body == b'{"error":"Access denied: management routes restricted to localhost"}'
    assert refusal("GET", "/api/user", "127.0.0.2", AMP_ON) is None  # any loopback address
    assert refusal("GET", "/api/user", "::1", AMP_ON) is None


@pytest.fixture
async def ports(make_gateway, legacy) -> AsyncIterator[tuple[int, int]]:
    app = await make_gateway({"legacy": {"url": legacy.url},
                              "routes": [{"match": "POST /v1internal*", "mode": "legacy"}]})
    runner = web.AppRunner(app, handler_cancellation=True)
    await runner.setup()
    assert runner.server is not None
    loop = asyncio.get_running_loop()
    doors = (FrontDoor(app, runner.server), FrontDoor(app, runner.server, enabled=False))
    servers = [await loop.create_server(door, "127.0.0.1", 0) for door in doors]
    yield servers[0].sockets[0].getsockname()[1], servers[1].sockets[0].getsockname()[1]
    for server in servers:
        server.close()
    for door in doors:
        door.abort_all()
    await runner.cleanup()


@pytest.mark.parametrize("lane", [0, 1])  # front door on, off
async def test_a_remote_client_gets_the_legacy_403_without_reaching_it(ports, legacy, lane: int) -> None:
    url = f"http://127.0.0.1:{ports[lane]}/v1internal:generateContent"
    body = b'{"model":"gemini-2.5-pro","request":{"contents":[]}}'
    # Bound to 127.0.0.2: a loopback address, but not the one the legacy lets in. Forwarding
    # headers change nothing: the legacy reads the socket.
    connector = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
    async with aiohttp.ClientSession(connector=connector) as session:
        async with session.post(url, data=body, headers={"X-Forwarded-For": "127.0.0.1",
                                                         "X-Real-IP": "127.0.0.1"}) as resp:
            assert resp.status == 403
            assert await resp.read() == CLI_403
            assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert legacy.calls == []
    async with aiohttp.ClientSession() as session, session.post(url, data=body) as resp:
        assert resp.status == 200 and (await resp.json())["legacy"] is True
    assert [call["path"] for call in legacy.calls] == ["/v1internal:generateContent"]
