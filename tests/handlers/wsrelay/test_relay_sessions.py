"""The /v1/ws endpoint itself: ws-auth, channel names, replacement, heartbeat, bad frames."""

from __future__ import annotations

import asyncio

import aiohttp
import orjson
import pytest

from handlers.wsrelay.manager import RelayManager
from tests.conftest import eventually
from tests.handlers.wsrelay.conftest import FakeRelay, MakeGateway, json_answer
from tests.handlers.wsrelay.test_relay_inference import ANSWER, GEMINI_BODY, MODEL

KEYED = "api-keys: [client-key]\n"


async def test_a_channel_is_named_like_the_legacy_and_registered_as_aistudio(relay_gateway: MakeGateway) -> None:
    gw = await relay_gateway()
    await gw.connect(json_answer(ANSWER))
    [name] = gw.manager.channels
    assert name.startswith("aistudio-") and len(name) == len("aistudio-") + 16
    [record] = gw.manager.records()
    assert (record.provider, record.id) == ("aistudio", name)


async def test_without_ws_auth_no_key_is_needed(relay_gateway: MakeGateway) -> None:
    gw = await relay_gateway(KEYED)
    await gw.connect(json_answer(ANSWER))
    assert len(gw.manager.channels) == 1


@pytest.mark.parametrize(("query", "message"), [("", "Missing API key"), ("?key=wrong", "Invalid API key")])
async def test_ws_auth_refuses_a_missing_or_wrong_key(relay_gateway: MakeGateway, query: str, message: str) -> None:
    gw = await relay_gateway(KEYED + "ws-auth: true\n")
    resp = await gw.client.get("/v1/ws" + query, headers={"Connection": "Upgrade", "Upgrade": "websocket",
                                                           "Sec-WebSocket-Version": "13",
                                                           "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    assert resp.status == 401
    assert await resp.json() == {"error": message}
    assert gw.manager.channels == []


@pytest.mark.parametrize("how", ["query", "bearer"])
async def test_ws_auth_accepts_the_client_key(relay_gateway: MakeGateway, how: str) -> None:
    gw = await relay_gateway(KEYED + "ws-auth: true\n")
    if how == "query":
        await gw.connect(json_answer(ANSWER), query="?key=client-key")
    else:
        ws = await gw.client.session.ws_connect(gw.url("/v1/ws"), headers={"Authorization": "Bearer client-key"})
        gw.relays.append(FakeRelay(ws, json_answer(ANSWER)))
        await eventually(lambda: len(gw.manager.channels) == 1, within=10.0, what="the relay registered")
    resp = await gw.client.post(f"/v1beta/models/{MODEL}:generateContent", json=GEMINI_BODY,
                                headers={"Authorization": "Bearer client-key"})
    assert resp.status == 200


async def test_turning_ws_auth_on_ends_open_sessions_and_off_keeps_them(relay_gateway: MakeGateway) -> None:
    gw = await relay_gateway(KEYED)
    relay = await gw.connect(json_answer(ANSWER))
    await gw.store.save_raw((KEYED + "ws-auth: true\n").encode())
    await relay.task  # the gateway closed the socket
    await eventually(lambda: not gw.manager.channels and not gw.manager.records(), within=10.0, what="sessions ended")
    again = await gw.connect(json_answer(ANSWER), query="?key=client-key")
    await gw.store.save_raw(KEYED.encode())
    resp = await gw.client.post(f"/v1beta/models/{MODEL}:generateContent", json=GEMINI_BODY,
                                headers={"Authorization": "Bearer client-key"})
    assert resp.status == 200
    assert not again.ws.closed


async def test_a_second_connection_with_the_same_name_replaces_the_first(relay_gateway: MakeGateway) -> None:
    # The legacy names every channel at random; a name factory (Go's ProviderFactory) makes them meet.
    gw = await relay_gateway(manager=RelayManager(name_factory=lambda: "aistudio-same"))
    first = await gw.connect(json_answer(ANSWER))
    first.hold = True
    waiting = asyncio.ensure_future(gw.client.post(f"/v1beta/models/{MODEL}:generateContent", json=GEMINI_BODY))
    await eventually(lambda: bool(first.requests), within=10.0, what="the first relay got the request")
    second = FakeRelay(await gw.client.session.ws_connect(gw.url("/v1/ws")), json_answer(ANSWER))
    gw.relays.append(second)
    await first.task  # the old socket is closed by the gateway
    resp = await waiting
    assert resp.status == 500
    assert "replaced by new connection" in await resp.text()
    assert gw.manager.channels == ["aistudio-same"]
    assert [r.id for r in gw.manager.records()] == ["aistudio-same"]
    resp = await gw.client.post(f"/v1beta/models/{MODEL}:generateContent", json=GEMINI_BODY)
    assert resp.status == 200
    assert len(second.requests) == 1


async def test_a_client_that_never_answers_pings_is_dropped(relay_gateway: MakeGateway) -> None:
    gw = await relay_gateway(manager=RelayManager(heartbeat=0.02, read_timeout=0.1))
    ws = await gw.client.session.ws_connect(gw.url("/v1/ws"), autoping=False)
    await eventually(lambda: len(gw.manager.channels) == 1, within=10.0, what="connected")
    pings = 0
    async for frame in ws:
        if frame.type is aiohttp.WSMsgType.PING:
            pings += 1
            assert frame.data == b"ping"
    assert pings >= 1
    await eventually(lambda: not gw.manager.channels and not gw.manager.records(), within=10.0, what="dropped")


async def test_a_client_that_answers_pings_stays(relay_gateway: MakeGateway) -> None:
    # A pong every 50 ms against a 1 s deadline: only a stall of most of a second on a loaded
    # machine could end the session, where without pongs it would end after 1 s.
    gw = await relay_gateway(manager=RelayManager(heartbeat=0.05, read_timeout=1.0))
    relay = await gw.connect(json_answer(ANSWER))  # aiohttp's client answers pings itself
    await asyncio.sleep(2.5)  # past two read deadlines, each moved on by the pongs
    assert not relay.ws.closed
    resp = await gw.client.post(f"/v1beta/models/{MODEL}:generateContent", json=GEMINI_BODY)
    assert resp.status == 200


@pytest.mark.parametrize("frame", ["not json", "[1]", '{"id": 5, "type": "ping"}', '{"id": "a", "payload": "x"}'])
async def test_a_frame_the_legacy_cannot_decode_ends_the_session(relay_gateway: MakeGateway, frame: str) -> None:
    gw = await relay_gateway()
    relay = await gw.connect(json_answer(ANSWER))
    await relay.ws.send_str(frame)
    await relay.task
    await eventually(lambda: not gw.manager.channels, within=10.0, what="session ended")


async def test_frames_for_unknown_ids_are_ignored(relay_gateway: MakeGateway) -> None:
    gw = await relay_gateway()
    relay = await gw.connect(json_answer(ANSWER))
    stray = {"id": "nobody", "type": "http_response", "payload": {"status": 200}}
    await relay.ws.send_str(orjson.dumps(stray).decode())
    resp = await gw.client.post(f"/v1beta/models/{MODEL}:generateContent", json=GEMINI_BODY)
    assert resp.status == 200


async def test_a_plain_get_is_refused_as_gorilla_does(relay_gateway: MakeGateway) -> None:
    gw = await relay_gateway()
    resp = await gw.client.get("/v1/ws")
    assert resp.status == 400
    assert await resp.text() == "Bad Request\n"
    assert gw.manager.channels == []
