"""The front door's pass-through lane against the aiohttp lane, byte for byte, on real sockets.

Every test runs one gateway app behind two listeners: ``fast`` (the front door as served) and
``slow`` (the front door switched off, so aiohttp answers everything). What a client sees must
be the same on both, apart from the Date header.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp import web

from quotio_gateway import appkeys
from quotio_gateway.frontdoor import FrontDoor, frontdoor_enabled, gateway_owned_paths
from quotio_gateway.server import RUNNER_OPTIONS
from tests.conftest import free_port
from tests.fakes.loopback import serve_on_loopback

# --- an upstream playing legacy, with every answer shape the lane must carry ----------------


class Upstream:
    def __init__(self) -> None:
        self.released = asyncio.Event()
        self.cancelled = asyncio.Event()
        self.bodies: list[bytes] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/echo", self.echo)
        app.router.add_get("/sse", self.sse)
        app.router.add_get("/gated", self.gated)
        app.router.add_get("/status/{code}", self.status)
        app.router.add_get("/big", self.big)
        app.router.add_get("/gzip", self.gzip)
        app.router.add_get("/sse-break", self.sse_break)
        app.router.add_get("/len-break", self.len_break)
        app.router.add_get("/untyped", self.untyped)
        app.router.add_get("/reset", self.reset)
        app.router.add_get("/slow", self.slow)
        app.router.add_get("/ws", self.ws)
        self.runner, self.url = await serve_on_loopback(app, handler_cancellation=True)

    async def echo(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.bodies.append(body)
        seen = sorted((k.lower(), v) for k, v in request.headers.items()
                      if k.lower() not in ("host",))
        return web.json_response({"method": request.method, "target": request.raw_path, "size": len(body),
                                  "headers": seen}, headers={"X-Legacy": "yes", "Connection": "keep-alive, X-Hop",
                                                             "X-Hop": "1", "Server": "legacy"})

    async def sse(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for i in range(3):
            await resp.write(b"data: %d\n\n" % i)
        return resp

    async def gated(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        try:
            await resp.write(b"data: first\n\n")
            await asyncio.wait_for(self.released.wait(), 10)
            await resp.write(b"data: second\n\n")
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        return resp

    async def status(self, request: web.Request) -> web.Response:
        code = int(request.match_info["code"])
        if code in (204, 304):
            return web.Response(status=code, headers={"X-Code": str(code)})
        return web.Response(status=code, text="x" * 10, headers={"X-Code": str(code)})

    async def big(self, request: web.Request) -> web.Response:
        return web.Response(body=b"b" * (300 * 1024), content_type="application/octet-stream")

    async def gzip(self, request: web.Request) -> web.Response:
        return web.Response(body=gzip.compress(b'{"zipped": true}'),
                            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})

    async def untyped(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.content_length = 5
        await resp.prepare(request)
        resp.headers.popall("Content-Type", None)
        await resp.write(b"plain")
        return resp

    async def reset(self, request: web.Request) -> web.Response:
        assert request.transport is not None
        request.transport.abort()
        return web.Response()

    async def ws(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        async for message in socket:
            await socket.send_str("echo:" + message.data)
        return socket

    async def slow(self, request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.Response(text="late")

    async def sse_break(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(b"data: 0\n\n")
        await asyncio.sleep(0.05)
        assert request.transport is not None
        request.transport.abort()
        return resp

    async def len_break(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.content_length = 400 * 1024
        await resp.prepare(request)
        await resp.write(b"z" * 1000)
        await asyncio.sleep(0.05)
        assert request.transport is not None
        request.transport.abort()
        return resp


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    server = Upstream()
    await server.start()
    yield server
    assert server.runner is not None
    await server.runner.cleanup()


@dataclass
class Pair:
    app: web.Application
    fast: int
    slow: int
    doors: tuple[FrontDoor, FrontDoor]


async def start_pair(app: web.Application) -> tuple[Pair, web.AppRunner, list[asyncio.AbstractServer]]:
    runner = web.AppRunner(app, **RUNNER_OPTIONS)
    await runner.setup()
    assert runner.server is not None
    loop = asyncio.get_running_loop()
    fast_door = FrontDoor(app, runner.server)
    slow_door = FrontDoor(app, runner.server, enabled=False)
    servers = [await loop.create_server(door, "127.0.0.1", 0) for door in (fast_door, slow_door)]
    ports = [s.sockets[0].getsockname()[1] for s in servers]
    return Pair(app, ports[0], ports[1], (fast_door, slow_door)), runner, servers


@contextlib.asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[Pair]:
    """The app behind both listeners for the length of the block."""
    pair, runner, servers = await start_pair(app)
    try:
        yield pair
    finally:
        for server in servers:
            server.close()
        for door in pair.doors:
            door.abort_all()
        await runner.cleanup()


@pytest.fixture
async def gateway(make_gateway, upstream):
    started: list[tuple[web.AppRunner, list[asyncio.AbstractServer], Pair]] = []

    async def build(flags: dict | None = None, *, url: str | None = None) -> Pair:
        flags = dict(flags or {})
        legacy = {"url": url or upstream.url, "health_path": "/echo", **flags.pop("legacy", {})}
        doc = {"legacy": legacy, **flags}
        app = await make_gateway(doc)
        pair, runner, servers = await start_pair(app)
        started.append((runner, servers, pair))
        return pair

    yield build
    for runner, servers, pair in started:
        for server in servers:
            server.close()
        for door in pair.doors:
            door.abort_all()
        await runner.cleanup()


# --- a raw HTTP/1.1 client --------------------------------------------------------------------


@dataclass
class Answer:
    status_line: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def comparable(self) -> tuple[str, list[tuple[str, str]], bytes]:
        return self.status_line, sorted((k.lower(), v) for k, v in self.headers if k.lower() != "date"), self.body


async def read_answer(reader: asyncio.StreamReader, *, head_only: bool = False) -> Answer:
    raw = await reader.readuntil(b"\r\n\r\n")
    lines = raw.decode("latin-1").split("\r\n")
    headers = [tuple(line.split(": ", 1)) for line in lines[1:] if line]
    answer = Answer(lines[0], headers, b"")  # type: ignore[arg-type]
    if head_only:
        return answer
    if answer.header("Transfer-Encoding") == "chunked":
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n"))[:-2], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            body += chunk[:-2]
        answer.body = body
    elif (length := answer.header("Content-Length")) is not None:
        answer.body = await reader.readexactly(int(length))
    return answer


async def exchange(port: int, raw: bytes, *, answers: int = 1, head_only: bool = False) -> list[Answer]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        return [await read_answer(reader, head_only=head_only) for _ in range(answers)]
    finally:
        writer.close()


def request(method: str, target: str, *headers: str, body: bytes = b"", rid: str = "rid-1") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: gw.test:8317", f"X-Request-Id: {rid}", *headers]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def both(pair: Pair, raw: bytes, **kw) -> tuple[list[Answer], list[Answer]]:
    return await exchange(pair.fast, raw, **kw), await exchange(pair.slow, raw, **kw)


def served(app: web.Application, **labels: str) -> float:
    value = app[appkeys.METRICS].registry.get_sample_value("quotio_gateway_requests_total", labels)
    return value or 0.0


# --- the lane answers exactly as aiohttp does -------------------------------------------------


@pytest.mark.parametrize("raw", [
    request("POST", "/echo?x=1&key=abc", "Authorization: Bearer k", "Connection: keep-alive, X-Drop", "X-Drop: 1",
            "X-Forwarded-For: 6.6.6.6", "Content-Type: application/json", body=b'{"model":"m"}'),
    request("GET", "/echo"),
    request("GET", "/echo", rid="bad id with spaces"),
    request("DELETE", "/echo", body=b"x"),
    request("POST", "/echo"),
    request("OPTIONS", "/echo"),
    request("GET", "/sse"),
    request("GET", "/big"),
    request("GET", "/gzip", "Accept-Encoding: gzip"),
    request("GET", "/untyped"),
    request("GET", "/status/404"),
    request("GET", "/status/204"),
    request("GET", "/status/304"),
    request("HEAD", "/status/200"),
    request("GET", "/echo", "Connection: close"),
], ids=["post", "get", "bad-id", "delete-body", "post-empty", "options", "sse", "big", "gzip", "untyped", "404",
        "204", "304", "head", "close"])
async def test_lane_answers_like_aiohttp(gateway, raw):
    pair = await gateway()
    head_only = raw.startswith(b"HEAD")
    fast, slow = await both(pair, raw, head_only=head_only)
    if b"bad id" in raw:
        # A malformed X-Request-Id is replaced by a fresh one on both lanes (and sent to legacy).
        for answer in (fast[0], slow[0]):
            fresh = answer.header("X-Request-Id")
            assert fresh is not None and len(fresh) == 16 and fresh.encode() in answer.body
            answer.headers = [h for h in answer.headers if h[0] != "X-Request-Id"]
            answer.body = answer.body.replace(fresh.encode(), b"<id>")
    assert fast[0].comparable() == slow[0].comparable()
    assert fast[0].header("X-Quotio-Route") == "legacy/legacy"
    assert fast[0].header("Server") is None
    assert served(pair.app, route="(default)", mode="legacy", side="legacy", status=fast[0].status_line.split()[1]) == 2


async def test_forwarded_request_is_the_same_on_both_lanes(gateway, upstream):
    pair = await gateway({"server": {"trusted_proxies": ["127.0.0.0/8"]}})
    raw = request("PUT", "/echo?a=b", "X-Forwarded-For: 203.0.113.9", "X-Real-IP: 1.2.3.4", "TE: trailers",
                  "Proxy-Authorization: x", body=b"payload")
    fast, slow = await both(pair, raw)
    assert fast[0].body == slow[0].body
    seen = dict(map(tuple, __import__("json").loads(fast[0].body)["headers"]))
    assert seen["x-forwarded-for"] == "203.0.113.9, 127.0.0.1"
    assert seen["x-forwarded-host"] == "gw.test:8317" and seen["x-request-id"] == "rid-1"
    assert "te" not in seen and "proxy-authorization" not in seen
    assert upstream.bodies[-2:] == [b"payload", b"payload"]


async def test_legacy_down_gives_the_same_error_answers(gateway):
    pair = await gateway(url=f"http://127.0.0.1:{free_port()}")
    for target, body in (("/v1/chat/completions", b'{"error":{"message":"legacy server is unreachable",'
                                                   b'"type":"server_error","code":"internal_server_error"}}'),
                         ("/v1/messages", b'{"type":"error","error":{"type":"overloaded_error",'
                                          b'"message":"legacy server is unreachable"}}')):
        fast, slow = await both(pair, request("POST", target, body=b"{}"))
        assert fast[0].comparable() == slow[0].comparable()
        assert fast[0].status_line == "HTTP/1.1 503 Service Unavailable"
        assert fast[0].body == body
    errors = pair.app[appkeys.METRICS].registry.get_sample_value(
        "quotio_gateway_legacy_errors_total", {"route": "(default)", "kind": "unreachable"})
    assert errors == 4


async def test_legacy_reset_and_timeout_give_the_same_error_answers(gateway):
    pair = await gateway({"legacy": {"read_timeout": 0.3}})
    for target, status, message in (
            ("/reset", "HTTP/1.1 502 Bad Gateway", b"legacy server error: legacy closed the connection"),
            ("/slow", "HTTP/1.1 504 Gateway Timeout", b"legacy server error: legacy did not answer in time")):
        fast, slow = await both(pair, request("GET", target))
        assert fast[0].comparable() == slow[0].comparable()
        assert fast[0].status_line == status
        assert fast[0].body == b'{"error":{"message":"' + message + b'","type":"server_error",' \
                               b'"code":"internal_server_error"}}'


async def test_a_gateway_bug_mid_answer_cuts_the_connection(gateway, monkeypatch):
    pair = await gateway()

    def broken(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr("quotio_gateway.frontdoor.response_head", broken)
    reader, writer = await asyncio.open_connection("127.0.0.1", pair.fast)
    writer.write(request("GET", "/echo"))
    assert await reader.read() == b""  # cut, never a half answer that looks whole
    writer.close()
    for _ in range(100):
        if served(pair.app, route="(default)", mode="legacy", side="legacy", status="500"):
            break
        await asyncio.sleep(0.01)
    assert served(pair.app, route="(default)", mode="legacy", side="legacy", status="500") == 1
    assert pair.app[appkeys.RUNTIME].inflight.count == 0


async def test_legacy_stream_breaking(gateway):
    pair = await gateway()
    fast, slow = await both(pair, request("GET", "/sse-break"))
    assert fast[0].comparable() == slow[0].comparable()
    assert fast[0].body.startswith(b"data: 0\n\n") and b"legacy stream interrupted" in fast[0].body
    # A length-framed body cannot carry an error: the connection is cut short.
    for port in (pair.fast, pair.slow):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request("GET", "/len-break"))
        answer = await read_answer(reader, head_only=True)
        assert answer.header("Content-Length") == str(400 * 1024)
        with pytest.raises(asyncio.IncompleteReadError):
            await reader.readexactly(400 * 1024)
        writer.close()


# --- connections: keep-alive, pipelining, close, hand-over -------------------------------------


async def test_keep_alive_and_pipelining(gateway):
    pair = await gateway()
    raw = request("GET", "/echo", rid="one") + request("POST", "/echo", rid="two", body=b"abc") + \
        request("GET", "/sse", rid="three")
    fast = await exchange(pair.fast, raw, answers=3)
    assert [a.header("X-Request-Id") for a in fast] == ["one", "two", "three"]
    assert fast[2].body == b"data: 0\n\ndata: 1\n\ndata: 2\n\n"


async def test_body_split_across_packets(gateway, upstream):
    pair = await gateway()
    reader, writer = await asyncio.open_connection("127.0.0.1", pair.fast)
    raw = request("POST", "/echo", body=b"0123456789")
    for piece in (raw[:20], raw[20:-6], raw[-6:]):
        writer.write(piece)
        await writer.drain()
        await asyncio.sleep(0.01)
    answer = await read_answer(reader)
    writer.close()
    assert answer.status_line == "HTTP/1.1 200 OK" and upstream.bodies[-1] == b"0123456789"


async def test_connection_close_is_honoured(gateway):
    pair = await gateway()
    reader, writer = await asyncio.open_connection("127.0.0.1", pair.fast)
    writer.write(request("GET", "/echo", "Connection: close"))
    answer = await read_answer(reader)
    assert answer.header("Connection") == "close"
    assert await reader.read() == b""  # the gateway closed its side
    writer.close()


RID = b"X-Request-Id: r\r\n"


@pytest.mark.parametrize("raw, expect", [
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK"),
    (b"GET /echo HTTP/1.0\r\nHost: x\r\n" + RID + b"\r\n", "HTTP/1.0 200 OK"),
    (b"GET /ec%68o HTTP/1.1\r\nHost: x\r\n" + RID + b"\r\n", "HTTP/1.1 200 OK"),
    (b"POST /echo HTTP/1.1\r\nHost: x\r\n" + RID + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
     "HTTP/1.1 200 OK"),
    (b"GARBAGE\r\n\r\n", "HTTP/1.0 400 Bad Request"),
    (b"GET /echo HTTP/1.1\r\n\r\n", "HTTP/1.0 400 Bad Request"),
], ids=["own-endpoint", "http10", "escaped-path", "chunked-body", "malformed", "no-host"])
async def test_other_requests_are_handed_to_aiohttp(gateway, raw, expect):
    pair = await gateway()
    fast, slow = await both(pair, raw)
    assert fast[0].status_line == slow[0].status_line == expect
    assert fast[0].body == slow[0].body


@pytest.mark.parametrize("port", ["fast", "slow"])
async def test_a_websocket_to_legacy_is_relayed_on_both_listeners(gateway, port):
    """An Upgrade head is not a parser error to httptools but its own exception: the front door must
    hand it to aiohttp (which relays WebSockets), not drop the connection."""
    pair = await gateway()
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(f"http://127.0.0.1:{getattr(pair, port)}/ws") as socket:
            await socket.send_str("hi")
            assert (await socket.receive()).data == "echo:hi"


async def test_an_h2c_upgrade_request_is_answered_over_http1(gateway):
    pair = await gateway()
    raw = (b"GET /echo HTTP/1.1\r\nHost: x\r\n" + RID + b"Connection: Upgrade, HTTP2-Settings\r\n"
           b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n")
    fast, slow = await both(pair, raw)
    assert fast[0].status_line == slow[0].status_line == "HTTP/1.1 200 OK"


async def test_hand_over_after_a_fast_request_keeps_the_connection(gateway):
    pair = await gateway()
    metrics = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
    raw = request("GET", "/echo", rid="a") + metrics + request("GET", "/echo", rid="b")
    answers = await exchange(pair.fast, raw, answers=3)
    assert [a.status_line for a in answers] == ["HTTP/1.1 200 OK"] * 3
    assert b"quotio_gateway_requests_total" in answers[1].body
    assert answers[2].header("X-Request-Id") == "b"


async def test_expect_continue_goes_through_aiohttp(gateway, upstream):
    pair = await gateway()
    reader, writer = await asyncio.open_connection("127.0.0.1", pair.fast)
    writer.write(b"POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
    assert await reader.readuntil(b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
    writer.write(b"body")
    answer = await read_answer(reader)
    writer.close()
    assert answer.status_line == "HTTP/1.1 200 OK" and upstream.bodies[-1] == b"body"


async def test_non_legacy_decisions_take_the_aiohttp_lane(gateway):
    pair = await gateway({"routes": [{"match": "GET /echo", "mode": "native"}]})
    fast, slow = await both(pair, request("GET", "/echo"))
    assert fast[0].comparable() == slow[0].comparable()
    assert fast[0].status_line == "HTTP/1.1 404 Not Found" and fast[0].header("X-Quotio-Route") == "native/native"


async def test_client_disconnect_cancels_the_upstream_stream(gateway, upstream):
    pair = await gateway()
    reader, writer = await asyncio.open_connection("127.0.0.1", pair.fast)
    writer.write(request("GET", "/gated"))
    await reader.readuntil(b"data: first\n\n")
    writer.close()
    await asyncio.wait_for(upstream.cancelled.wait(), 5)
    inflight = pair.app[appkeys.RUNTIME].inflight
    for _ in range(100):
        if inflight.count == 0 and served(pair.app, route="(default)", mode="legacy", side="legacy", status="499"):
            break
        await asyncio.sleep(0.01)
    assert inflight.count == 0
    assert served(pair.app, route="(default)", mode="legacy", side="legacy", status="499") == 1
    assert not pair.doors[0].connections


async def test_drain_closes_idle_and_finishes_busy_connections(gateway, upstream):
    pair = await gateway()
    door = pair.doors[0]
    idle_reader, idle_writer = await asyncio.open_connection("127.0.0.1", pair.fast)
    idle_writer.write(request("GET", "/echo"))
    await read_answer(idle_reader)
    busy_reader, busy_writer = await asyncio.open_connection("127.0.0.1", pair.fast)
    busy_writer.write(request("GET", "/gated"))
    await busy_reader.readuntil(b"data: first\n\n")
    door.start_drain()
    assert await idle_reader.read() == b""
    upstream.released.set()
    rest = await busy_reader.read()
    assert rest.endswith(b"data: second\n\n\r\n0\r\n\r\n")
    idle_writer.close()
    busy_writer.close()


def test_owned_paths_and_switch():
    app = web.Application()

    async def handler(request: web.Request) -> web.Response:
        return web.Response()

    async def routed(request: web.Request) -> web.Response:
        return web.Response()

    routed.quotio_native = None  # type: ignore[attr-defined]
    app.router.add_get("/healthz", handler)
    app.router.add_get("/v0/gateway/items/{id}", handler)
    app.router.add_route("*", "/{tail:.*}", routed)
    assert gateway_owned_paths(app) == (frozenset({"/healthz"}), ("/v0/gateway/items/",))
    assert frontdoor_enabled({}) and frontdoor_enabled({"QUOTIO_GATEWAY_FRONTDOOR": "on"})
    assert not frontdoor_enabled({"QUOTIO_GATEWAY_FRONTDOOR": "off"})
    assert not frontdoor_enabled({"QUOTIO_GATEWAY_FRONTDOOR": "0"})


@pytest.mark.parametrize("raw", [
    request("GET", "/healthz", "Cookie: " + "a" * 9000),
    request("GET", "/healthz?pad=" + "b" * 9000),
], ids=["long-header", "long-target"])
async def test_heads_past_aiohttps_default_line_limit_are_served_as_go_serves_them(gateway, raw):
    """Go reads a head up to 1 MiB; aiohttp's default 8190-byte line limit answered these 400."""
    pair = await gateway()
    fast, slow = await both(pair, raw)
    assert fast[0].status_line == slow[0].status_line == "HTTP/1.1 200 OK"
