"""POST /v0/management/api-call on the whole gateway (api_tools.go: APICall)."""

from __future__ import annotations

import codecs
import gzip
import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.handlers.credentials.auth_files_gateway import Gateway


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []

    async def answer(request: web.Request) -> web.Response:
        seen.append({"method": request.method, "path": request.path_qs, "headers": dict(request.headers),
                     "body": await request.text()})
        return web.Response(status=201, text='{"ok":true}',
                            headers={"x-trace": "t1", "Content-Type": "application/json"})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("")).rstrip("/"), seen
    await server.close()


def _one_replacement_per_byte(error: UnicodeError) -> tuple[str, int]:
    assert isinstance(error, UnicodeDecodeError)
    return "\ufffd" * (error.end - error.start), error.end


codecs.register_error("go-replace", _one_replacement_per_byte)


def index(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:16]


async def call(gw: Gateway, body: Any) -> tuple[int, Any]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    status, _, answer = await gw.call("POST", "api-call", data=raw)
    return status, json.loads(answer)


async def test_token_substitution_and_the_upstream_answer(gateway: Gateway,
                                                          upstream: tuple[str, list[dict[str, Any]]]) -> None:
    root, seen = upstream
    status, answer = await call(gateway, {
        "auth_index": index("file:claude-ann@example.com.json"), "method": "post", "url": root + "/v1/ping?x=1",
        "header": {"Authorization": "Bearer $TOKEN$", "Content-Type": "application/json"}, "data": '{"a":1}'})
    assert status == 200
    assert (answer["status_code"], answer["body"]) == (201, '{"ok":true}')
    assert answer["header"]["X-Trace"] == ["t1"] and list(answer["header"]) == sorted(answer["header"])
    assert list(answer) == ["status_code", "header", "body"]
    assert (seen[0]["method"], seen[0]["path"], seen[0]["body"]) == ("POST", "/v1/ping?x=1", '{"a":1}')
    assert seen[0]["headers"]["Authorization"] == "Bearer at-ann"
    # A Gemini CLI project entry gives the file's current access token; authIndex spellings work.
    status, _ = await call(gateway, {"authIndex": index("id:gemini-bob@example.com-all.json::p2"), "method": "GET",
                                     "url": root + "/g", "header": {"Authorization": "Bearer $TOKEN$"}})
    assert status == 200 and seen[-1]["headers"]["Authorization"] == "Bearer at-bob"
    # No credential: $TOKEN$ stays as written.
    status, _ = await call(gateway, {"method": "GET", "url": root + "/n", "header": {"X-T": "$TOKEN$"}})
    assert status == 200 and seen[-1]["headers"]["X-T"] == "$TOKEN$"


async def test_refusals(gateway: Gateway) -> None:
    for body, answer in ((b"[1]", "invalid body"), ({"url": "http://x"}, "missing method"),
                         ({"method": "GET"}, "missing url"), ({"method": "GET", "url": "/relative"}, "invalid url")):
        assert await call(gateway, body) == (400, {"error": answer}), body
    status, answer = await call(gateway, {"method": "GET", "url": "http://127.0.0.1:9/"})
    assert (status, answer) == (502, {"error": "request failed"})


async def test_a_method_net_http_would_refuse_is_not_sent(gateway: Gateway,
                                                          upstream: tuple[str, list[dict[str, Any]]]) -> None:
    root, seen = upstream
    for method in ("G T", "GET/", "G(ET"):
        assert await call(gateway, {"method": method, "url": root + "/x"}) == (
            400, {"error": "failed to build request"}), method
    assert seen == []


PACKED = gzip.compress(b'{"x":1}', mtime=0) + gzip.compress(b'{"y":2}\xff', mtime=0)


@pytest.fixture
async def gzip_upstream() -> AsyncIterator[tuple[str, list[dict[str, str]]]]:
    """Answers gzip (two members) whatever was asked for, as some upstreams do."""
    seen: list[dict[str, str]] = []

    async def answer(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        return web.Response(body=PACKED, headers={"Content-Encoding": "gzip", "X-Trace": "t"})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("")).rstrip("/"), seen
    await server.close()


async def test_gzip_is_asked_for_and_unpacked_as_go_transport_does(
        gateway: Gateway, gzip_upstream: tuple[str, list[dict[str, str]]]) -> None:
    root, seen = gzip_upstream
    status, answer = await call(gateway, {"method": "GET", "url": root + "/z"})
    assert seen[-1]["Accept-Encoding"] == "gzip"
    # Go's transport unpacked it (both members) and so dropped the encoding and the length.
    assert (status, answer["body"]) == (200, '{"x":1}{"y":2}\ufffd')
    assert "Content-Encoding" not in answer["header"] and "Content-Length" not in answer["header"]
    assert answer["header"]["X-Trace"] == ["t"]


async def test_a_caller_named_encoding_gets_the_bytes_as_sent(
        gateway: Gateway, gzip_upstream: tuple[str, list[dict[str, str]]]) -> None:
    root, seen = gzip_upstream
    for extra in ({"Accept-Encoding": "gzip"}, {"Range": "bytes=0-"}):
        status, answer = await call(gateway, {"method": "GET", "url": root + "/z", "header": extra})
        assert status == 200
        assert seen[-1].get("Accept-Encoding") == extra.get("Accept-Encoding")
        assert answer["header"]["Content-Encoding"] == ["gzip"] and "Content-Length" in answer["header"]
        # string(respBody) in Go's JSON: every byte that is not UTF-8 is one U+FFFD.
        assert answer["body"] == PACKED.decode("utf-8", "go-replace")
