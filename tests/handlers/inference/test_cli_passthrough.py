"""``POST /v1internal:<other method>``: forwarded as it came to the Code Assist host (legacy behaviour)."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aiohttp import web

from tests.conftest import free_port
from tests.fakes.loopback import serve_on_loopback

SEEN: list[dict[str, Any]] = []


@pytest.fixture
async def code_assist() -> AsyncIterator[str]:
    SEEN.clear()

    async def handle(request: web.Request) -> web.Response:
        SEEN.append({"path": request.path_qs, "headers": dict(request.headers), "body": await request.read()})
        if request.path.endswith(":loadCodeAssist"):
            return web.json_response({"currentTier": {"id": "free-tier"}},
                                     headers={"X-Upstream": "one", "Server": "ESF"})
        if request.path.endswith(":moved"):
            raise web.HTTPTemporaryRedirect(request.path.replace(":moved", ":loadCodeAssist"))
        if request.path.endswith(":htmlErr"):
            return web.Response(status=404, text="<html><b>nope</b> & co</html>", content_type="text/html")
        return web.json_response({"error": {"code": 403, "status": "PERMISSION_DENIED"}}, status=403)

    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", handle)
    runner, root = await serve_on_loopback(app)
    yield root
    await runner.cleanup()


def config(base: str) -> str:
    return f"gateway:\n  provider-endpoints:\n    gemini-cli:\n      inference-base-url: {base}\n"


async def test_other_methods_are_forwarded_with_the_clients_headers(inference_client: Any, code_assist: str) -> None:
    client = await inference_client(config(code_assist))
    resp = await client.post("/v1internal:loadCodeAssist?alt=x", data=b'{"metadata":{}}',
                             headers={"Authorization": "Bearer ya29.client-own", "Content-Type": "application/json"})
    assert resp.status == 200
    assert await resp.json() == {"currentTier": {"id": "free-tier"}}
    assert resp.headers["X-Upstream"] == "one"
    assert resp.headers.getall("Server") == ["ESF"]  # the legacy copies every upstream header
    [seen] = SEEN
    assert seen["path"] == "/v1internal:loadCodeAssist?alt=x"
    assert seen["body"] == b'{"metadata":{}}'
    assert seen["headers"]["Authorization"] == "Bearer ya29.client-own"


async def test_an_upstream_error_is_a_400_carrying_its_body(inference_client: Any, code_assist: str) -> None:
    client = await inference_client(config(code_assist))
    resp = await client.post("/v1internal:onboardUser", data=b"{}")
    assert resp.status == 400
    assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
    assert await resp.read() == orjson.dumps({"error": {
        "message": '{"error": {"code": 403, "status": "PERMISSION_DENIED"}}', "type": "invalid_request_error"}})


async def test_an_upstream_error_text_is_escaped_as_gin_writes_it(inference_client: Any, code_assist: str) -> None:
    # c.JSON: Go's encoder writes <, > and & as \u escapes (gemini-cli_handlers.go:106-111).
    client = await inference_client(config(code_assist))
    resp = await client.post("/v1internal:htmlErr", data=b"{}")
    assert resp.status == 400
    assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
    assert await resp.read() == (b'{"error":{"message":"\\u003chtml\\u003e\\u003cb\\u003enope\\u003c/b\\u003e '
                                 b'\\u0026 co\\u003c/html\\u003e","type":"invalid_request_error"}}')


async def test_an_unreachable_host_is_a_400_naming_the_call(inference_client: Any) -> None:
    base = f"http://127.0.0.1:{free_port()}"
    client = await inference_client(config(base))
    resp = await client.post("/v1internal:loadCodeAssist", data=b"{}")
    assert resp.status == 400
    error = (await resp.json())["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith(f'Invalid request: Post "{base}/v1internal:loadCodeAssist": ')


async def test_the_call_goes_as_gos_client_sends_it(inference_client: Any, code_assist: str) -> None:
    client = await inference_client(config(code_assist))
    body = b'{"metadata":{"ideType":"IDE_UNSPECIFIED"}}'
    # A compressed body is decoded on the way in: it goes on plain, without its old label.
    resp = await client.post("/v1internal:loadCodeAssist", data=gzip.compress(body),
                             headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
                             skip_auto_headers=["User-Agent"])
    assert resp.status == 200
    [seen] = SEEN
    assert seen["body"] == body and "Content-Encoding" not in seen["headers"]
    assert seen["headers"]["User-Agent"] == "Go-http-client/1.1"
    # A 307 is followed with the same POST and body, as Go's http.Client does.
    resp = await client.post("/v1internal:moved", data=body)
    assert resp.status == 200 and await resp.json() == {"currentTier": {"id": "free-tier"}}
    assert [s["path"] for s in SEEN[1:]] == ["/v1internal:moved", "/v1internal:loadCodeAssist"]
    assert SEEN[2]["body"] == body
