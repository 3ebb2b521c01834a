"""``GET /keep-alive`` with ``-password``: the launcher's heartbeat, and the idle shutdown."""

from __future__ import annotations

import asyncio

from aiohttp import web

from quotio_gateway import appkeys
from quotio_gateway.app import GatewayOptions, create_app
from quotio_gateway.keepalive import setup_keepalive
from tests.conftest import eventually, write_config, write_flags


async def gateway_with_password(tmp_path, password: str | None) -> web.Application:
    state = tmp_path / "state"
    flags = write_flags(tmp_path, {"default": "native", "server": {"state_dir": str(state)}})
    options = GatewayOptions(config_path=write_config(tmp_path), state_dir=state, local_password=password,
                             flags_path=flags)
    return await create_app(options)


async def test_the_heartbeat_answers_with_the_password_only(tmp_path, aiohttp_client) -> None:
    client = await aiohttp_client(await gateway_with_password(tmp_path, "lpw"))
    for headers in ({"Authorization": "Bearer lpw"}, {"Authorization": "bearer lpw"}, {"Authorization": "lpw"},
                    {"X-Local-Password": "lpw"}):
        resp = await client.get("/keep-alive", headers=headers)
        assert (resp.status, await resp.read()) == (200, b'{"status":"ok"}'), headers
    for headers in ({}, {"Authorization": "Bearer nope"}, {"X-Local-Password": "nope"}):
        resp = await client.get("/keep-alive", headers=headers)
        assert (resp.status, await resp.read()) == (401, b'{"error":"invalid password"}'), headers
        assert resp.headers["Content-Type"] == "application/json; charset=utf-8"


async def test_without_a_password_there_is_no_keep_alive_route(tmp_path, aiohttp_client) -> None:
    client = await aiohttp_client(await gateway_with_password(tmp_path, None))
    resp = await client.get("/keep-alive")
    assert resp.status == 404


async def test_an_idle_server_stops_and_heartbeats_keep_it(aiohttp_client) -> None:
    stopped: list[float] = []
    app = web.Application()
    loop = asyncio.get_running_loop()
    # Heartbeats 0.15 s apart against a 0.6 s timeout: a beat may come 0.45 s late on a loaded
    # machine before the server stops, and six of them outlast the timeout, which the server
    # only survives if each beat starts the wait over.
    keepalive = setup_keepalive(app, "pw", timeout=0.6, on_timeout=lambda: stopped.append(loop.time()))
    assert keepalive is not None
    client = await aiohttp_client(app)
    started = loop.time()
    for _ in range(6):
        await asyncio.sleep(0.15)
        assert (await client.get("/keep-alive", headers={"X-Local-Password": "pw"})).status == 200
    assert stopped == []
    # A wrong password is no heartbeat.
    await client.get("/keep-alive", headers={"X-Local-Password": "nope"})
    await eventually(lambda: bool(stopped), what="the idle stop")
    # Not before the timeout after the last beat: delays only move the stop later.
    assert len(stopped) == 1 and stopped[0] - started >= 6 * 0.15 + 0.6 - 0.05


async def test_head_is_no_heartbeat(tmp_path, aiohttp_client) -> None:
    """The route is Gin's ``GET`` only (server.go:675): a ``HEAD`` finds no route there (404) and
    beats nothing, where aiohttp's ``add_get`` would answer it as a GET."""
    client = await aiohttp_client(await gateway_with_password(tmp_path, "lpw"))
    resp = await client.head("/keep-alive", headers={"X-Local-Password": "lpw"})
    assert resp.status == 404
    assert client.app[appkeys.KEEPALIVE]._beat.is_set() is False
