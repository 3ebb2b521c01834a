from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from aiohttp.web_request import BaseRequest

from quotio_gateway.shadow.capture import BodyTee, CapturingWriter, capture_native
from quotio_gateway.shadow.comparators import decoded_body
from quotio_gateway.shadow.types import Captured

Native = Callable[[web.Request], Awaitable[web.StreamResponse]]
ClientFactory = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]


async def run_capture(aiohttp_client: ClientFactory, native: Native, *, max_bytes: int = 1 << 20,
                      body: bytes = b'{"q": 1}') -> tuple[Captured, bytes]:
    """Serve one real request whose front handler shadows ``native``; return the capture and what
    the client actually received."""
    captured: list[Captured] = []

    async def front(request: web.Request) -> web.Response:
        raw = await request.read()  # the dispatcher always has the body in hand first
        captured.append(await capture_native(native, request, raw, max_bytes))
        return web.Response(text="client answer")

    app = web.Application()
    app.router.add_post("/x/{name}", front)
    client = await aiohttp_client(app)
    response = await client.post("/x/abc?k=v", data=body, headers={"Content-Type": "application/json"})
    received = await response.read()
    assert response.status == 200
    return captured[0], received


async def test_handler_returning_response(aiohttp_client: ClientFactory) -> None:
    async def native(request: web.Request) -> web.StreamResponse:
        data = await request.json()
        streamed = await request.content.read()
        return web.json_response({"got": data, "again": streamed.decode(), "name": request.match_info["name"],
                                  "query": request.query["k"], "exists": request.body_exists}, status=201)

    captured, received = await run_capture(aiohttp_client, native)
    assert received == b"client answer"
    assert captured.status == 201
    assert captured.error is None and not captured.truncated
    assert captured.body == b'{"got": {"q": 1}, "again": "{\\"q\\": 1}", "name": "abc", "query": "v", "exists": true}'
    assert captured.header("content-type") == "application/json; charset=utf-8"
    assert captured.elapsed > 0


async def test_a_body_past_the_readers_pause_mark_is_read_whole(aiohttp_client: ClientFactory) -> None:
    async def native(request: web.Request) -> web.StreamResponse:
        return web.json_response({"size": len(await request.read())})

    body = b"x" * 300_000
    captured, _ = await run_capture(aiohttp_client, native, body=body)
    assert captured.error is None and captured.body == b'{"size": 300000}'


async def test_handler_streaming(aiohttp_client: ClientFactory) -> None:
    async def native(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for index in range(3):
            await response.write(f"data: {index}\n\n".encode())
            await asyncio.sleep(0)
        return response  # no write_eof: aiohttp (and capture) finish it

    captured, received = await run_capture(aiohttp_client, native)
    assert received == b"client answer"
    assert (captured.status, captured.body) == (200, b"data: 0\n\ndata: 1\n\ndata: 2\n\n")
    assert captured.header("Content-Type") == "text/event-stream"


async def test_stream_over_cap_is_truncated(aiohttp_client: ClientFactory) -> None:
    async def native(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        for _ in range(10):
            await response.write(b"0123456789")
        await response.write_eof()
        return response

    captured, _ = await run_capture(aiohttp_client, native, max_bytes=25)
    assert captured.truncated
    assert captured.body == b"0123456789" * 2 + b"01234"


async def test_handler_raising(aiohttp_client: ClientFactory) -> None:
    async def native(request: web.Request) -> web.StreamResponse:
        raise KeyError("secret detail sk-abcdefghijklmnop")

    captured, received = await run_capture(aiohttp_client, native)
    assert received == b"client answer"
    assert captured == Captured(status=500, headers=[], body=b"", error="KeyError", elapsed=captured.elapsed)


async def test_handler_raising_http_exception_is_its_answer(aiohttp_client: ClientFactory) -> None:
    async def native(request: web.Request) -> web.StreamResponse:
        raise web.HTTPNotFound(text="nope")

    captured, _ = await run_capture(aiohttp_client, native)
    assert (captured.status, captured.body, captured.error) == (404, b"nope", None)


async def test_handler_returning_garbage(aiohttp_client: ClientFactory) -> None:
    async def native(request: web.Request) -> Any:
        return {"not": "a response"}

    captured, _ = await run_capture(aiohttp_client, native)
    assert (captured.status, captured.error) == (500, "TypeError")


async def test_streamed_compression_is_not_applied(aiohttp_client: ClientFactory) -> None:
    async def native(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        response.enable_compression()
        await response.prepare(request)
        await response.write(b"plain text")
        return response

    captured, _ = await run_capture(aiohttp_client, native)
    assert captured.body == b"plain text"
    assert captured.header("Content-Encoding") is None


async def test_compressed_response_decodes_for_comparison(aiohttp_client: ClientFactory) -> None:
    async def native(request: web.Request) -> web.StreamResponse:
        response = web.Response(text="x" * 2000)
        response.enable_compression()
        return response

    captured, _ = await run_capture(aiohttp_client, native)
    assert captured.header("Content-Encoding") in ("gzip", "deflate")
    assert decoded_body(captured) == b"x" * 2000


async def test_original_request_is_left_usable(aiohttp_client: ClientFactory) -> None:
    seen: dict[str, Any] = {}

    async def native(request: web.Request) -> web.StreamResponse:
        request["mark"] = "native"
        return web.Response(text="n")

    async def front(request: web.Request) -> web.Response:
        raw = await request.read()
        await capture_native(native, request, raw, 1024)
        seen["body"] = await request.read()
        seen["mark"] = request.get("mark")
        return web.Response(text="front")

    app = web.Application()
    app.router.add_post("/", front)
    client = await aiohttp_client(app)
    response = await client.post("/", data=b"abc")
    assert await response.read() == b"front"
    assert seen == {"body": b"abc", "mark": None}


async def test_request_without_body_keeps_body_exists_false(aiohttp_client: ClientFactory) -> None:
    async def native(request: web.Request) -> web.StreamResponse:
        return web.json_response({"exists": request.body_exists, "body": (await request.read()).decode()})

    captured: list[Captured] = []

    async def front(request: web.Request) -> web.Response:
        captured.append(await capture_native(native, request, b"", 1024))
        return web.Response(text="front")

    app = web.Application()
    app.router.add_get("/", front)
    client = await aiohttp_client(app)
    assert (await client.get("/")).status == 200
    assert captured[0].body == b'{"exists": false, "body": ""}'


def test_aiohttp_private_attributes_still_exist() -> None:
    """capture.py writes these; an aiohttp release that renames them must fail here, not in production."""
    for name in ("_payload_writer", "_read_bytes", "_payload"):
        assert name in BaseRequest.ATTRS
    assert hasattr(web.StreamResponse, "_payload_writer")
    # The capturing writer must still satisfy the abstract interface (instantiation checks that).
    CapturingWriter(10)


def test_body_tee() -> None:
    tee = BodyTee(5)
    tee.feed(b"ab")
    tee.feed(memoryview(b"cd"))
    assert not tee.truncated
    tee.feed(b"efg")
    tee.feed(b"h")
    result = tee.result(200, [("A", "b")], 1.5)
    assert result == Captured(status=200, headers=[("A", "b")], body=b"abcde", truncated=True, elapsed=1.5)
    assert tee.size == 8


def test_body_tee_exact_cap_is_not_truncated() -> None:
    tee = BodyTee(4)
    tee.feed(b"abcd")
    assert not tee.result(200, [], 0).truncated
    tee.feed(b"")
    assert not tee.truncated


@pytest.mark.parametrize("error", ["ClientConnectionError", None])
def test_body_tee_error(error: str | None) -> None:
    assert BodyTee(4).result(502, [], 0.1, error=error).error == error
