import asyncio
import hashlib

import pytest
from aiohttp import web

from quotio_gateway.legacy.pool import RequestSpec, UpstreamError, UpstreamPool
from tests.fakes.loopback import serve_on_loopback


@pytest.fixture
async def upstream():
    seen = {"conns": set()}

    async def echo(request):
        seen["conns"].add(request.transport.get_extra_info("sockname") and id(request.transport))
        digest = hashlib.sha256()
        size = 0
        async for chunk in request.content.iter_any():
            digest.update(chunk)
            size += len(chunk)
        return web.json_response({"method": request.method, "size": size, "sha": digest.hexdigest(),
                                  "chunked": request.headers.get("Transfer-Encoding")})

    async def sse(request):
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for i in range(3):
            await resp.write(f"data: {i}\n\n".encode())
            await asyncio.sleep(0.01)
        return resp

    async def slow(request):
        await asyncio.sleep(2)
        return web.Response(text="late")

    async def stall(request):
        resp = web.StreamResponse()
        await resp.prepare(request)
        await resp.write(b"first")
        await asyncio.sleep(5)
        return resp

    async def reset(request):
        resp = web.StreamResponse()
        resp.content_length = 100
        await resp.prepare(request)
        await resp.write(b"partial")
        request.transport.abort()
        return resp

    async def head(request):
        return web.Response(body=b"x" * 50)

    app = web.Application(client_max_size=200 * 1024 * 1024)
    app.router.add_route("*", "/echo", echo)
    app.router.add_get("/sse", sse)
    app.router.add_get("/slow", slow)
    app.router.add_get("/stall", stall)
    app.router.add_get("/reset", reset)
    app.router.add_route("HEAD", "/head", head)
    runner, _ = await serve_on_loopback(app)
    # UpstreamPool takes a host and a port, not a URL.
    yield runner.addresses[0][1], seen
    await runner.cleanup()


def spec(method, target, headers=()):
    return RequestSpec(method, target, [("Host", "x"), *headers])


async def test_bytes_body_and_keepalive_reuse(upstream):
    port, seen = upstream
    pool = UpstreamPool("127.0.0.1", port)
    for _ in range(3):
        resp = await pool.request(spec("POST", "/echo"), b'{"a":1}')
        assert resp.status == 200
        body = await resp.read()
        assert b'"size": 7' in body
    assert len(seen["conns"]) == 1
    pool.close()


async def test_streamed_body_is_chunked_and_intact(upstream):
    port, _ = upstream
    pool = UpstreamPool("127.0.0.1", port)
    payload = b"z" * (5 * 1024 * 1024)

    async def gen():
        for i in range(0, len(payload), 65536):
            yield payload[i:i + 65536]

    resp = await pool.request(spec("PUT", "/echo"), gen())
    data = await resp.read()
    assert hashlib.sha256(payload).hexdigest().encode() in data
    assert b'"chunked": "chunked"' in data
    pool.close()


async def test_sse_arrives_chunk_by_chunk(upstream):
    port, _ = upstream
    pool = UpstreamPool("127.0.0.1", port)
    resp = await pool.request(spec("GET", "/sse"), None)
    chunks = [c async for c in resp.iter_chunks()]
    assert b"".join(chunks) == b"data: 0\n\ndata: 1\n\ndata: 2\n\n"
    assert len(chunks) >= 2
    pool.close()


async def test_unreachable_is_classified():
    pool = UpstreamPool("127.0.0.1", 1)
    with pytest.raises(UpstreamError) as info:
        await pool.request(spec("GET", "/"), None)
    assert info.value.kind == "unreachable"


async def test_head_timeout_and_body_stall_and_reset(upstream):
    port, _ = upstream
    pool = UpstreamPool("127.0.0.1", port, read_timeout=0.3)
    with pytest.raises(UpstreamError) as info:
        await pool.request(spec("GET", "/slow"), None)
    assert info.value.kind == "timeout"
    resp = await pool.request(spec("GET", "/stall"), None)
    with pytest.raises(UpstreamError) as info:
        await resp.read()
    assert info.value.kind == "timeout" and info.value.response_started
    resp = await pool.request(spec("GET", "/reset"), None)
    with pytest.raises(UpstreamError) as info:
        await resp.read()
    assert info.value.kind == "reset"
    pool.close()


async def test_head_response_has_no_body(upstream):
    port, _ = upstream
    pool = UpstreamPool("127.0.0.1", port)
    resp = await pool.request(spec("HEAD", "/head"), None)
    assert resp.status == 200 and resp.content_length == 50
    assert await resp.read() == b""
    resp = await pool.request(spec("POST", "/echo"), b"{}")
    assert resp.status == 200
    await resp.read()
    pool.close()


async def test_stale_idle_connection_is_retried_once(upstream):
    port, _ = upstream
    pool = UpstreamPool("127.0.0.1", port)
    resp = await pool.request(spec("GET", "/echo"), None)
    await resp.read()
    idle = pool._idle[0]
    idle.transport.abort()  # as if the server had closed it while idle
    idle.closed = False  # the pool has not noticed yet
    resp = await pool.request(spec("GET", "/echo"), None)
    assert resp.status == 200
    pool.close()
