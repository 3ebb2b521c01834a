"""The Amp control-plane passthrough, through the whole gateway (dispatcher included, no legacy
server, so the native handlers answer): 503 without an upstream, the CORS headers blanked after
that check, OPTIONS answered 204 by the global CORS step first, the loopback-only 403, the client
key (not on the root /threads, /auth, /docs, /settings trees) and the proxying itself.

Facts: CLIProxyAPI v6.7.15 ``internal/api/modules/amp/routes.go:53-256`` (middleware order and
answers), ``internal/api/server.go:226,825-838`` (the global CORS middleware runs first).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from tests.e2e.test_quotio_launch import non_loopback_ipv4
from tests.fakes.amp_upstream import AmpAnswer, FakeAmp
from tests.fakes.llm_upstream import ANSWER, FakeLLM
from tests.handlers.amp.test_routes import CORS

GIN_JSON = "application/json; charset=utf-8"
AUTH = {"Authorization": "Bearer client-key"}
ANY = ["GET", "POST", "PUT", "PATCH", "DELETE"]
API_PATHS = ["/api/internal", "/api/internal/x", "/api/user/settings", "/api/auth", "/api/meta/a/b", "/api/ads",
             "/api/telemetry", "/api/threads/t1", "/api/otel/v1/traces", "/api/tab/x"]
ROOT_OPEN = [("GET", "/threads"), ("GET", "/threads/abc"), ("GET", "/docs"), ("GET", "/docs/x/y"),
             ("GET", "/settings"), ("POST", "/auth"), ("GET", "/auth/cli-login?x=1")]
ROOT_KEYED = [("GET", "/threads.rss"), ("GET", "/news.rss")]

Serve = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture
async def serve(make_gateway: Any, amp_home: Any) -> AsyncIterator[Serve]:
    clients: list[TestClient[Any, Any]] = []

    async def start(ampcode: dict[str, Any], host: str = "127.0.0.1", **config: Any) -> TestClient[Any, Any]:
        app = await make_gateway({"routes": [{"match": "* /api/*", "mode": "legacy"}]},
                                 config={"ampcode": ampcode, **config})
        client: TestClient[Any, Any] = TestClient(TestServer(app, host=host))
        await client.start_server()
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()


def assert_no_cors(resp: Any) -> None:
    for name in CORS:
        assert name not in resp.headers


async def test_no_upstream_is_a_503_with_cors(serve: Serve) -> None:
    client = await serve({"upstream-url": "  "})
    for path in [*API_PATHS, "/threads", "/auth/x", "/threads.rss", "/news.rss", "/docs"]:
        resp = await client.get(path)  # before the client key is asked for
        assert (resp.status, resp.headers["Content-Type"]) == (503, GIN_JSON)
        assert await resp.read() == b'{"error":"amp upstream proxy not available"}'
        for name, value in CORS.items():
            assert resp.headers[name] == value


@pytest.mark.parametrize("path", ["/api/user", "/auth/x", "/api/ads"])
async def test_options_is_the_global_204(serve: Serve, fake_amp: FakeAmp, path: str) -> None:
    for ampcode in ({}, {"upstream-url": fake_amp.url, "restrict-management-to-localhost": True}):
        client = await serve(ampcode)
        resp = await client.options(path)
        assert resp.status == 204 and await resp.read() == b""
        assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert fake_amp.requests == []


async def test_api_routes_want_the_client_key_then_proxy(serve: Serve, fake_amp: FakeAmp) -> None:
    client = await serve({"upstream-url": fake_amp.url, "upstream-api-key": "amp-secret"})
    for path in API_PATHS:
        for method in ANY:
            resp = await client.request(method, path)
            assert (resp.status, resp.headers["Content-Type"]) == (401, GIN_JSON)
            assert await resp.read() == b'{"error":"Missing API key"}'
            assert_no_cors(resp)
            resp = await client.request(method, path, headers={"X-Api-Key": "nope"})
            assert await resp.read() == b'{"error":"Invalid API key"}'
            assert fake_amp.requests == []
            resp = await client.request(method, path, data=b"payload" if method != "GET" else None, headers=AUTH)
            assert resp.status == 200
            assert await resp.read() == b'{"amp":"ok"}'
            assert resp.headers["X-Amp-Upstream"] == "yes"
            assert_no_cors(resp)
            [seen] = fake_amp.requests
            assert (seen.method, seen.path_qs) == (method, path)
            assert seen.header("Authorization") == "Bearer amp-secret"
            assert seen.header("X-Api-Key") == "amp-secret"
            if method != "GET":
                assert seen.body == b"payload"
            fake_amp.requests.clear()


async def test_root_trees_skip_the_client_key_but_not_the_feeds(serve: Serve, fake_amp: FakeAmp) -> None:
    client = await serve({"upstream-url": fake_amp.url})
    for method, path in ROOT_OPEN:
        resp = await client.request(method, path)
        assert resp.status == 200 and await resp.read() == b'{"amp":"ok"}'
        assert_no_cors(resp)
        assert fake_amp.requests[-1].path_qs == path
        assert fake_amp.requests[-1].header("Authorization") is None  # no key anywhere: none sent
    for method, path in ROOT_KEYED:
        resp = await client.request(method, path)
        assert resp.status == 401 and await resp.read() == b'{"error":"Missing API key"}'
        resp = await client.request(method, path, headers=AUTH)
        assert resp.status == 200 and fake_amp.requests[-1].path_qs == path


async def test_methods_gin_has_no_route_for(serve: Serve, fake_amp: FakeAmp) -> None:
    client = await serve({"upstream-url": fake_amp.url})
    for method, path in [("POST", "/threads"), ("HEAD", "/docs"), ("DELETE", "/news.rss"), ("PROPFIND", "/api/user")]:
        resp = await client.request(method, path, headers=AUTH)
        assert resp.status == 404
        if method != "HEAD":
            assert await resp.read() == b"404 page not found"
    assert fake_amp.requests == []


async def test_restricted_to_loopback(serve: Serve, fake_amp: FakeAmp) -> None:
    ampcode = {"upstream-url": fake_amp.url, "restrict-management-to-localhost": True}
    client = await serve(ampcode)
    assert (await client.get("/api/user", headers=AUTH)).status == 200  # 127.0.0.1 passes
    source = non_loopback_ipv4()
    if source is None:
        pytest.skip("no non-loopback IPv4 address to play the remote client from")
    remote = await serve(ampcode, host=source)
    for path in ("/api/user", "/threads", "/auth/x"):
        resp = await remote.get(path)  # refused before the client key is asked for
        assert (resp.status, resp.headers["Content-Type"]) == (403, GIN_JSON)
        assert await resp.read() == b'{"error":"Access denied: management routes restricted to localhost"}'
        assert_no_cors(resp)
    # The provider aliases are not part of the management group.
    resp = await remote.get("/api/provider/openai/models", headers=AUTH)
    assert resp.status == 200
    assert len(fake_amp.requests) == 1
    # Without an upstream the 503 comes first, for a remote peer too.
    remote = await serve({"restrict-management-to-localhost": True}, host=source)
    assert (await remote.get("/api/user")).status == 503


async def test_per_client_key_and_upstream_answers(serve: Serve, fake_amp: FakeAmp) -> None:
    client = await serve({"upstream-url": fake_amp.url + "/base",
                          "upstream-api-keys": [{"upstream-api-key": "mapped", "api-keys": ["client-key"]}]})
    fake_amp.answers.append(AmpAnswer(status=302, body=b"", headers={"Location": "https://ampcode.com/x",
                                                                     "Set-Cookie": "s=1"}))
    resp = await client.get("/api/user?key=client-key&q=1", allow_redirects=False)
    assert (resp.status, resp.headers["Location"], resp.headers["Set-Cookie"]) == (302, "https://ampcode.com/x",
                                                                                  "s=1")
    seen = fake_amp.requests[0]
    assert seen.path_qs == "/base/api/user?q=1"
    assert seen.header("Authorization") == "Bearer mapped"
    assert resp.headers["X-Quotio-Route"] == "native/native"


async def test_unreachable_upstream(serve: Serve) -> None:
    client = await serve({"upstream-url": "http://127.0.0.1:1"})
    resp = await client.get("/threads")
    assert (resp.status, resp.headers["Content-Type"]) == (502, "application/json")
    assert await resp.read() == b'{"error":"amp_upstream_proxy_error","message":"Failed to reach Amp upstream"}'
    assert_no_cors(resp)


# --- the Gemini bridge (/api/provider/google/v1beta1/*path) ----------------------------------------

BRIDGE = "/api/provider/google/v1beta1/publishers/google/models"
GEMINI_MODEL = "gemini-2.5-flash"
GEMINI_BODY = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


def gemini_keys(llm: FakeLLM) -> dict[str, Any]:
    return {"gemini-api-key": [{"api-key": "sk-gemini", "base-url": llm.root}]}


async def test_bridge_is_in_the_management_group(serve: Serve, fake_llm: FakeLLM) -> None:
    client = await serve({}, **gemini_keys(fake_llm))
    resp = await client.post(f"{BRIDGE}/{GEMINI_MODEL}:generateContent", json=GEMINI_BODY, headers=AUTH)
    assert resp.status == 503  # even for a model served locally: no upstream, no bridge
    assert await resp.read() == b'{"error":"amp upstream proxy not available"}'
    assert fake_llm.requests == []


async def test_bridge_serves_local_models_and_forwards_the_rest(serve: Serve, fake_llm: FakeLLM,
                                                                fake_amp: FakeAmp) -> None:
    client = await serve({"upstream-url": fake_amp.url}, **gemini_keys(fake_llm))
    path = f"{BRIDGE}/{GEMINI_MODEL}:generateContent"
    resp = await client.post(path, json=GEMINI_BODY)
    assert resp.status == 401 and await resp.read() == b'{"error":"Missing API key"}'
    resp = await client.post(path, json=GEMINI_BODY, headers=AUTH)
    assert resp.status == 200
    assert (await resp.json())["candidates"][0]["content"]["parts"][0]["text"] == ANSWER
    assert_no_cors(resp)
    assert fake_llm.requests[0].path == f"/v1beta/models/{GEMINI_MODEL}:generateContent"
    resp = await client.post(f"{BRIDGE}/{GEMINI_MODEL}:streamGenerateContent?alt=sse", json=GEMINI_BODY,
                             headers=AUTH)
    assert resp.headers["Content-Type"] == "text/event-stream"
    assert resp.headers["Access-Control-Allow-Origin"] == "*"  # the stream's own header, as in the legacy
    assert "Access-Control-Allow-Methods" not in resp.headers
    assert b"data: " in await resp.read()
    assert fake_amp.requests == []
    # A model nobody serves here, a GET, and a POST without /models/ go to Amp as they came.
    for method, target in [("POST", f"{BRIDGE}/gemini-9-ultra:generateContent?alt=sse"),
                           ("GET", f"{BRIDGE}/{GEMINI_MODEL}"), ("POST", "/api/provider/google/v1beta1/x")]:
        resp = await client.request(method, target, json=GEMINI_BODY, headers=AUTH)
        assert resp.status == 200 and await resp.read() == b'{"amp":"ok"}'
        assert_no_cors(resp)
        assert (fake_amp.requests[-1].method, fake_amp.requests[-1].path_qs) == (method, target)
    assert len(fake_llm.requests) == 2


async def test_bridge_maps_models_in_the_path(serve: Serve, fake_llm: FakeLLM, fake_amp: FakeAmp) -> None:
    mapping = {"upstream-url": fake_amp.url, "model-mappings": [{"from": "amp-gemini", "to": GEMINI_MODEL}]}
    client = await serve(mapping, **gemini_keys(fake_llm))
    resp = await client.post(f"{BRIDGE}/amp-gemini:generateContent", json=GEMINI_BODY, headers=AUTH)
    assert resp.status == 200
    assert fake_llm.requests[0].path == f"/v1beta/models/{GEMINI_MODEL}:generateContent"
    doc = await resp.json()
    if "modelVersion" in doc:
        assert doc["modelVersion"] == "amp-gemini"
    assert fake_amp.requests == []


async def test_bridge_bad_action_is_the_gemini_handlers_404(serve: Serve, fake_llm: FakeLLM,
                                                            fake_amp: FakeAmp) -> None:
    client = await serve({"upstream-url": fake_amp.url}, **gemini_keys(fake_llm))
    path = f"{BRIDGE}/{GEMINI_MODEL}:generateContent:extra"
    resp = await client.post(path, json=GEMINI_BODY, headers=AUTH)
    assert (resp.status, resp.headers["Content-Type"]) == (404, GIN_JSON)
    assert await resp.read() == (b'{"error":{"message":"' + path.encode()
                                 + b' not found.","type":"invalid_request_error"}}')
    assert fake_amp.requests == [] and fake_llm.requests == []
