"""/v1/ws on the whole app: legacy by default, native once the flag table says so."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer

from handlers.wsrelay.manager import RELAY
from quotio_gateway.flags.loader import packaged_flags_path
from tests.conftest import GatewayFactory, eventually
from tests.handlers.wsrelay.conftest import FakeRelay, json_answer
from tests.handlers.wsrelay.test_relay_inference import ANSWER, GEMINI_BODY, MODEL

NATIVE = [{"match": "GET /v1/ws", "mode": "native"}, {"match": "POST /v1beta/models/*", "mode": "native"}]
CLIENT = {"Authorization": "Bearer client-key"}


async def serve(app: Any) -> TestClient[Any, Any]:
    client: TestClient[Any, Any] = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return client


@pytest.mark.parametrize("ws_auth", [False, True])
async def test_native_relay_serves_requests_through_the_dispatcher(legacy: Any, make_gateway: GatewayFactory,
                                                                   ws_auth: bool) -> None:
    app = await make_gateway({"legacy": {"url": legacy.url}, "routes": NATIVE}, config={"ws-auth": ws_auth})
    client = await serve(app)
    try:
        query = "?key=client-key" if ws_auth else ""
        relay = FakeRelay(await client.ws_connect("/v1/ws" + query), json_answer(ANSWER))
        await eventually(lambda: len(app[RELAY].channels) == 1, within=10.0, what="the relay registered")
        resp = await client.post(f"/v1beta/models/{MODEL}:generateContent", json=GEMINI_BODY, headers=CLIENT)
        assert resp.status == 200
        assert resp.headers["X-Quotio-Route"] == "native/native"
        assert (await resp.json())["candidates"][0]["content"]["parts"][0]["text"] == "hello from the relay"
        assert len(relay.requests) == 1
        assert not [c for c in legacy.calls if c["path"].startswith(("/v1/ws", "/v1beta"))]
        await relay.close()
    finally:
        await client.close()


async def test_native_ws_auth_refusal_through_the_dispatcher(legacy: Any, make_gateway: GatewayFactory) -> None:
    app = await make_gateway({"legacy": {"url": legacy.url}, "routes": NATIVE}, config={"ws-auth": True})
    client = await serve(app)
    try:
        resp = await client.get("/v1/ws", headers={"Connection": "Upgrade", "Upgrade": "websocket",
                                                   "Sec-WebSocket-Version": "13",
                                                   "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
        assert resp.status == 401
        assert await resp.json() == {"error": "Missing API key"}
    finally:
        await client.close()


async def test_the_packaged_table_keeps_v1_ws_on_legacy(legacy: Any, make_gateway: GatewayFactory) -> None:
    packaged = yaml.safe_load(packaged_flags_path().read_text())
    assert {"match": "GET /v1/ws", "mode": "legacy"} in packaged["routes"]
    app = await make_gateway({"legacy": {"url": legacy.url}, "routes": packaged["routes"]})
    client = await serve(app)
    try:
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await client.ws_connect("/v1/ws")  # the scripted legacy answers it with plain JSON
        assert [c["path"] for c in legacy.calls] == ["/v1/ws"]
        assert app[RELAY].channels == []
    finally:
        await client.close()


async def test_shutdown_ends_open_relay_sessions(legacy: Any, make_gateway: GatewayFactory) -> None:
    app = await make_gateway({"legacy": {"url": legacy.url}, "routes": NATIVE})
    client = await serve(app)
    # Its own session: closing the test client must not be what closes the socket.
    async with aiohttp.ClientSession() as own:
        relay = FakeRelay(await own.ws_connect(client.make_url("/v1/ws")), json_answer(ANSWER))
        await eventually(lambda: len(app[RELAY].channels) == 1, within=10.0, what="the relay registered")
        await client.close()
        await relay.task  # the gateway closed the socket as it stopped
        assert relay.ws.closed
        assert app[RELAY].channels == []
