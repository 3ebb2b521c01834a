"""POST /v0/management/api-call on the whole gateway (api_tools.go: APICall)."""

from __future__ import annotations

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
