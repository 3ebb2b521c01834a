"""End to end through real sockets: client → gateway → scripted legacy, per mode."""

from __future__ import annotations

import asyncio
import gzip
import hashlib

import aiohttp
import pytest
from aiohttp import web

from quotio_gateway import appkeys
from quotio_gateway.dispatch import _model_of
from quotio_gateway.native import NativeRegistry
from tests.conftest import auth

CLIENT = {"Authorization": "Bearer client-key"}


def sample(app, name, **labels):
    return app[appkeys.METRICS].registry.get_sample_value(name, labels)


def registry_with(**handlers) -> NativeRegistry:
    registry = NativeRegistry()
    for spec, handler in handlers.items():
        method, _, path = spec.partition("__")
        registry.add(method, "/" + path.replace("__", "/"), handler)
    return registry


async def models_native(request: web.Request) -> web.Response:
    return web.json_response({"object": "list", "data": [{"id": "m1", "object": "model", "owned_by": "x",
                                                          "created": 2}]})


async def models_wrong(request: web.Request) -> web.Response:
    return web.json_response({"object": "list", "data": [{"id": "other", "object": "model", "owned_by": "x"}]})


async def boom(request: web.Request) -> web.Response:
    raise RuntimeError("native bug")


async def test_legacy_passthrough_is_verbatim(legacy, make_gateway, aiohttp_client):
    app = await make_gateway({"legacy": {"url": legacy.url}})
    client = await aiohttp_client(app)
    resp = await client.post("/echo?x=1&key=abc", data=b'{"model":"m"}',
                             headers={"Authorization": "Bearer client-key", "X-Custom": "v",
                                      "X-Request-Id": "req-123", "X-Forwarded-For": "6.6.6.6",
                                      "Connection": "keep-alive, X-Drop", "X-Drop": "1"})
    assert resp.status == 200
    assert resp.headers["X-Quotio-Route"] == "legacy/legacy"
    assert resp.headers["X-Request-Id"] == "req-123"
    assert resp.headers["X-Legacy"] == "yes"
    assert "Server" not in resp.headers  # Go's net/http sends none; neither do we
    assert "X-Hop" not in resp.headers  # named in the legacy's Connection header: hop-by-hop
    body = await resp.json()
    seen = {k.lower(): v for k, v in body["headers"].items()}
    assert body["path"] == "/echo?x=1&key=abc" and body["method"] == "POST" and body["size"] == 13
    assert seen["authorization"] == "Bearer client-key" and seen["x-custom"] == "v"
    assert "x-drop" not in seen and "transfer-encoding" not in seen
    # The client's own X-Forwarded-For is not believed from an untrusted peer.
    assert seen["x-forwarded-for"] == "127.0.0.1"
    assert seen["x-request-id"] == "req-123"
    assert seen["x-forwarded-proto"] == "http"
    assert seen["content-length"] == "13"
    assert sample(app, "quotio_gateway_requests_total", route="(default)", mode="legacy", side="legacy",
                  status="200") == 1


async def test_trusted_proxy_chain_is_kept(legacy, make_gateway, aiohttp_client):
    app = await make_gateway({"legacy": {"url": legacy.url}, "server": {"trusted_proxies": ["127.0.0.0/8"]}})
    client = await aiohttp_client(app)
    resp = await client.get("/echo", headers={"X-Forwarded-For": "203.0.113.9"})
    assert (await resp.json())["headers"]["X-Forwarded-For"] == "203.0.113.9, 127.0.0.1"


async def test_large_body_streams_through(legacy, make_gateway, aiohttp_client):
    app = await make_gateway({"legacy": {"url": legacy.url}})
    client = await aiohttp_client(app)
    payload = b"q" * (100 * 1024 * 1024)

    async def gen():
        for i in range(0, len(payload), 1 << 20):
            yield payload[i:i + (1 << 20)]

    resp = await client.post("/echo", data=gen())
    body = await resp.json()
    assert body["size"] == len(payload)
    assert body["sha256"] == hashlib.sha256(payload).hexdigest()


async def test_a_large_body_keeps_its_content_length_framing(legacy, make_gateway, aiohttp_client):
    """Streamed to legacy under the client's Content-Length, not re-framed as chunked; a chunked
    client body stays chunked."""
    app = await make_gateway({"legacy": {"url": legacy.url}})
    client = await aiohttp_client(app)
    payload = bytes(range(256)) * 1024  # 256 KB: above what is sent in one write
    resp = await client.post("/echo", data=payload)
    body = await resp.json()
    assert (body["size"], body["sha256"]) == (len(payload), hashlib.sha256(payload).hexdigest())
    assert body["headers"]["Content-Length"] == str(len(payload))
    assert "Transfer-Encoding" not in body["headers"]

    async def gen():
        yield payload[:100_000]
        yield payload[100_000:]

    resp = await client.post("/echo", data=gen())
    body = await resp.json()
    assert body["size"] == len(payload) and body["headers"]["Transfer-Encoding"] == "chunked"


async def test_a_client_leaving_mid_body_never_completes_it_at_legacy(legacy, make_gateway, aiohttp_client):
    app = await make_gateway({"legacy": {"url": legacy.url}})
    client = await aiohttp_client(app)
    _reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    writer.write(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n" + b"z" * 70_000)
    await writer.drain()
    await asyncio.sleep(0.2)
    writer.close()
    await asyncio.sleep(0.3)
    assert all(call.get("size") != 200_000 for call in legacy.calls)
    resp = await client.post("/echo", data=b"ok")
    assert resp.status == 200 and (await resp.json())["size"] == 2


@pytest.mark.parametrize("size", [2_000, 300_000])
async def test_a_compressed_body_reaches_legacy_as_read(legacy, make_gateway, aiohttp_client, size):
    """aiohttp's reader decodes gzip on the way in: legacy gets the decoded bytes without the
    Content-Encoding they no longer have (it answered 500 before, decoding them a second time)."""
    app = await make_gateway({"legacy": {"url": legacy.url}})
    client = await aiohttp_client(app)
    raw = bytes(range(256)) * (size // 256)
    resp = await client.post("/echo", data=gzip.compress(raw), headers={"Content-Encoding": "gzip"})
    assert resp.status == 200
    body = await resp.json()
    assert (body["size"], body["sha256"]) == (len(raw), hashlib.sha256(raw).hexdigest())
    assert "Content-Encoding" not in body["headers"]


async def test_body_over_limit_is_refused_with_413(legacy, make_gateway, aiohttp_client):
    app = await make_gateway({"legacy": {"url": legacy.url}, "server": {"max_body_bytes": 1024 * 1024}})
    client = await aiohttp_client(app)
    resp = await client.post("/v1/chat/completions", data=b"x" * (2 * 1024 * 1024))
    assert resp.status == 413
    assert await resp.json() == {"error": {"message": "request body exceeds 1048576 bytes",
                                           "type": "invalid_request_error"}}

    async def gen():
        for _ in range(4):
            yield b"y" * (512 * 1024)

    resp = await client.post("/echo", data=gen())
    assert resp.status == 413
    assert legacy.calls == [] or all(c.get("size", 0) < 2 * 1024 * 1024 for c in legacy.calls)


async def test_sse_is_forwarded_as_it_arrives(legacy, make_gateway, aiohttp_client):
    app = await make_gateway({"legacy": {"url": legacy.url}})
    client = await aiohttp_client(app)
    resp = await client.get("/gated-sse")
    assert resp.headers["Content-Type"] == "text/event-stream"
    first = await asyncio.wait_for(resp.content.readuntil(b"\n\n"), 5)
    assert first == b"data: first\n\n"  # arrived while legacy still holds the second event back
    legacy.release.set()
    assert await resp.content.read() == b"data: second\n\n"


async def test_content_encoding_passes_untouched(legacy, make_gateway, aiohttp_client):
    app = await make_gateway({"legacy": {"url": legacy.url}})
    client = await aiohttp_client(app, auto_decompress=False)
    resp = await client.get("/gzip")
    assert resp.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(await resp.read()) == b'{"zipped": true}'


async def test_legacy_down_answers_in_each_protocol_shape(make_gateway, aiohttp_client):
    from tests.conftest import free_port

    app = await make_gateway({"legacy": {"url": f"http://127.0.0.1:{free_port()}"}})
    client = await aiohttp_client(app)
    cases = {
        ("POST", "/v1/chat/completions"): {"error": {"message": "legacy server is unreachable", "type": "server_error",
                                                     "code": "internal_server_error"}},
        ("POST", "/v1/messages"): {"type": "error", "error": {"type": "overloaded_error",
                                                              "message": "legacy server is unreachable"}},
        ("POST", "/v1beta/models/g:generateContent"): {"error": {"code": 503, "message": "legacy server is unreachable",
                                                                 "status": "UNAVAILABLE"}},
        ("GET", "/v0/management/debug"): {"error": "legacy server is unreachable"},
    }
    for (method, path), expected in cases.items():
        resp = await client.request(method, path, data=b"{}")
        assert resp.status == 503, path
        assert await resp.json() == expected
    assert sample(app, "quotio_gateway_legacy_errors_total", route="(default)", kind="unreachable") == 4


async def test_legacy_timeout_and_reset(legacy, make_gateway, aiohttp_client):
    app = await make_gateway({"legacy": {"url": legacy.url, "read_timeout": 0.5}})
    client = await aiohttp_client(app)
    resp = await client.get("/slow?s=3")
    assert resp.status == 504
    assert (await resp.json())["error"]["message"] == "legacy server error: legacy did not answer in time"
    resp = await client.get("/reset-sse")
    assert resp.status == 200
    text = await resp.text()
    assert text.startswith('data: {"i": 0}\n\n')
    assert text.endswith("\n\n") and "legacy stream interrupted" in text
    assert "[DONE]" not in text


async def test_client_disconnect_cancels_the_legacy_stream(legacy, make_gateway, aiohttp_server):
    app = await make_gateway({"legacy": {"url": legacy.url}})
    server = await aiohttp_server(app)
    async with aiohttp.ClientSession() as session:
        resp = await session.get(server.make_url("/gated-sse"))
        await resp.content.readuntil(b"\n\n")
        resp.close()  # the client goes away mid-stream
    await asyncio.wait_for(legacy.disconnected.wait(), 5)
    for _ in range(50):
        if sample(app, "quotio_gateway_open_streams", route="(default)", side="legacy") == 0:
            break
        await asyncio.sleep(0.05)
    assert sample(app, "quotio_gateway_open_streams", route="(default)", side="legacy") == 0


async def test_websocket_is_relayed(legacy, make_gateway, aiohttp_client):
    app = await make_gateway({"legacy": {"url": legacy.url}})
    client = await aiohttp_client(app)
    ws = await client.ws_connect("/ws", headers={"X-Forwarded-For": "6.6.6.6", "X-Request-Id": "ws-1",
                                                 "X-Custom": "kept"})
    await ws.send_str("headers?")
    answer = await ws.receive_json()
    # The same forwarding rules as plain requests: the client's claim is replaced, one hop recorded.
    assert answer["forwarded_for"] == ["127.0.0.1"]
    assert answer["headers"]["x-request-id"] == "ws-1" and answer["headers"]["x-custom"] == "kept"
    await ws.send_str("hi")
    assert (await ws.receive()).data == "echo:hi"
    await ws.send_bytes(b"abc")
    assert (await ws.receive()).data == b"cba"
    await ws.close()


async def test_native_route_answers_with_cors_and_tag(legacy, make_gateway, aiohttp_client):
    app = await make_gateway({"legacy": {"url": legacy.url},
                              "routes": [{"match": "GET /v1/models", "mode": "native"}]},
                             registry=registry_with(GET__v1__models=models_native))
    client = await aiohttp_client(app)
    resp = await client.get("/v1/models")
    assert resp.headers["X-Quotio-Route"] == "native/native"
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert "Server" not in resp.headers
    assert (await resp.json())["data"][0]["created"] == 2
    assert legacy.calls == []
    resp = await client.get("/v1/unknown")
    assert resp.status == 200 and resp.headers["X-Quotio-Route"] == "legacy/legacy"


async def test_native_without_handler_is_gin_404(legacy, make_gateway, aiohttp_client):
    app = await make_gateway({"legacy": {"url": legacy.url}, "default": "native"}, registry=NativeRegistry())
    client = await aiohttp_client(app)
    resp = await client.get("/nope")
    assert resp.status == 404
    assert await resp.text() == "404 page not found"
    # Gin's serveError sets plain text with no charset (gin v1.10.1 mimePlain).
    assert resp.headers["Content-Type"] == "text/plain"
    resp = await client.options("/nope")
    assert resp.status == 204


async def test_native_without_handler_on_a_legacy_route_goes_to_legacy(legacy, make_gateway, aiohttp_client):
    # Routes only the legacy answers (here every one: the registry is empty) keep working when the
    # table sends everything native.
    app = await make_gateway({"legacy": {"url": legacy.url}, "default": "native"}, registry=NativeRegistry())
    client = await aiohttp_client(app)
    resp = await client.post("/v1/chat/completions", data=b'{"model":"m"}')
    assert resp.status == 200 and resp.headers["X-Quotio-Route"] == "native/legacy"
    assert legacy.calls[-1]["path"] == "/v1/chat/completions" and legacy.calls[-1]["body"] == '{"model":"m"}'
    resp = await client.get("/v1/models")
    assert resp.status == 200 and resp.headers["X-Quotio-Route"] == "native/legacy"
    assert len(legacy.calls) == 2
    # Not a legacy route: still Gin's 404, and legacy is not asked.
    resp = await client.get("/nope")
    assert (resp.status, await resp.text()) == (404, "404 page not found")
    assert len(legacy.calls) == 2


async def test_native_raising_is_a_500_or_falls_back(legacy, make_gateway, aiohttp_client):
    registry = registry_with(GET__v1__models=boom, POST__v1__messages=boom)
    app = await make_gateway({"legacy": {"url": legacy.url},
                              "routes": [{"match": "GET /v1/models", "mode": "native"},
                                         {"match": "POST /v1/messages", "mode": "native",
                                          "fallback_to_legacy": True}]}, registry=registry)
    client = await aiohttp_client(app)
    resp = await client.get("/v1/models")
    assert resp.status == 500
    assert await resp.json() == {"error": {"message": "internal error in the gateway", "type": "server_error",
                                           "code": "internal_server_error"}}
    resp = await client.post("/v1/messages", data=b'{"model":"c"}')
    assert resp.status == 200 and resp.headers["X-Quotio-Route"] == "native/legacy"
    assert legacy.calls[-1]["body"] == '{"model":"c"}'
    assert sample(app, "quotio_gateway_native_errors_total", route="GET /v1/models") == 1
    assert sample(app, "quotio_gateway_canary_fallbacks_total", route="POST /v1/messages") == 1


async def test_canary_is_sticky_per_client_key(legacy, make_gateway, aiohttp_client):
    app = await make_gateway({"legacy": {"url": legacy.url},
                              "routes": [{"match": "GET /v1/models", "mode": "canary", "percent": 50}]},
                             registry=registry_with(GET__v1__models=models_native))
    client = await aiohttp_client(app)
    sides = {}
    for i in range(40):
        key = f"key-{i}"
        seen = set()
        for _ in range(3):
            resp = await client.get("/v1/models", headers={"Authorization": f"Bearer {key}"})
            seen.add(resp.headers["X-Quotio-Route"])
        assert len(seen) == 1, key
        sides[key] = seen.pop()
    assert set(sides.values()) == {"canary/native", "canary/legacy"}


async def test_canary_percent_bounds(legacy, make_gateway, aiohttp_client):
    for percent, tag in ((0, "canary/legacy"), (100, "canary/native")):
        app = await make_gateway({"legacy": {"url": legacy.url},
                                  "routes": [{"match": "GET /v1/models", "mode": "canary", "percent": percent}]},
                                 registry=registry_with(GET__v1__models=models_native))
        client = await aiohttp_client(app)
        for i in range(10):
            resp = await client.get("/v1/models", headers={"X-Api-Key": f"k{i}"})
            assert resp.headers["X-Quotio-Route"] == tag


async def wait_for_outcome(app, route, outcome, count=1):
    for _ in range(100):
        if (sample(app, "quotio_gateway_shadow_results_total", route=route, outcome=outcome) or 0) >= count:
            return True
        await asyncio.sleep(0.02)
    return False


async def test_shadow_outside_the_sample_is_counted_apart(legacy, make_gateway, aiohttp_client):
    app = await make_gateway({"legacy": {"url": legacy.url},
                              "routes": [{"match": "GET /v1/models", "mode": "shadow", "sample": 0.0}]},
                             registry=registry_with(GET__v1__models=models_native))
    client = await aiohttp_client(app)
    for _ in range(3):
        resp = await client.get("/v1/models")
        assert resp.headers["X-Quotio-Route"] == "shadow/legacy"
    runner = app[appkeys.SHADOW]
    assert runner.not_sampled_counts() == {"GET /v1/models": 3}
    assert runner.counters() == {}


async def test_shadow_match_and_mismatch(legacy, make_gateway, aiohttp_client):
    app = await make_gateway({"legacy": {"url": legacy.url},
                              "routes": [{"match": "GET /v1/models", "mode": "shadow"}]},
                             registry=registry_with(GET__v1__models=models_native))
    client = await aiohttp_client(app)
    resp = await client.get("/v1/models")
    assert resp.headers["X-Quotio-Route"] == "shadow/legacy"
    assert (await resp.json())["data"][0]["created"] == 1  # the legacy answer
    assert await wait_for_outcome(app, "GET /v1/models", "ignored")  # only `created` differs

    app2 = await make_gateway({"legacy": {"url": legacy.url},
                               "routes": [{"match": "GET /v1/models", "mode": "shadow"}]},
                              registry=registry_with(GET__v1__models=models_wrong))
    client2 = await aiohttp_client(app2)
    await client2.get("/v1/models")
    assert await wait_for_outcome(app2, "GET /v1/models", "mismatch")
    samples = await app2[appkeys.SHADOW].store.list(None, 10, None)
    assert samples and samples[0]["outcome"] == "mismatch" and "other" in samples[0]["diff"]


async def test_shadow_never_runs_writes_twice(legacy, make_gateway, aiohttp_client):
    registry = registry_with(PUT__v0__management__debug=models_native)
    app = await make_gateway({"legacy": {"url": legacy.url},
                              "routes": [{"match": "PUT /v0/management/*", "mode": "shadow"}]}, registry=registry)
    client = await aiohttp_client(app)
    resp = await client.put("/v0/management/debug", json={"value": True})
    assert resp.headers["X-Quotio-Route"] == "shadow/legacy"
    assert len(legacy.calls) == 1
    assert await wait_for_outcome(app, "PUT /v0/management/*", "skipped")


async def chat_native(request: web.Request) -> web.Response:
    await request.read()
    return web.json_response({"legacy": True, "path": request.path_qs, "method": request.method})


async def test_shadow_body_over_the_limit_is_the_legacy_routes_413_and_frees_its_slot(
        legacy, make_gateway, aiohttp_client):
    app = await make_gateway({"legacy": {"url": legacy.url}, "server": {"max_body_bytes": 4096},
                              "shadow": {"max_concurrency": 1, "worker": False},
                              "routes": [{"match": "POST /v1/*", "mode": "shadow", "shadow_llm": True}]},
                             registry=registry_with(POST__v1__chat__completions=chat_native))
    client = await aiohttp_client(app)
    big = b'{"model":"m","messages":"' + b"x" * 8000 + b'"}'

    async def chunked():
        yield big

    # Under the compare cap (so compared in principle) but over max_body_bytes, with and without
    # a Content-Length: what the route answers in `legacy` mode (the forwarder's 413).
    for data in (big, chunked()):
        resp = await client.post("/v1/chat/completions", data=data, headers=CLIENT)
        assert resp.status == 413 and resp.headers["X-Quotio-Route"] == "shadow/legacy"
        assert await resp.json() == {"error": {"message": "request body exceeds 4096 bytes",
                                               "type": "invalid_request_error"}}
    runner = app[appkeys.SHADOW]
    assert runner.skip_reasons() == {"POST /v1/*": {"too large": 2}}
    assert runner.inflight == 0
    # The one comparison slot is free: the next request is compared, not skipped for concurrency.
    resp = await client.post("/v1/chat/completions", json={"model": "m"}, headers=CLIENT)
    assert resp.status == 200
    assert await wait_for_outcome(app, "POST /v1/*", "match")
    assert [call["path"] for call in legacy.calls] == ["/v1/chat/completions"]  # only the last one


async def test_shadow_native_raising_leaves_client_alone(legacy, make_gateway, aiohttp_client):
    app = await make_gateway({"legacy": {"url": legacy.url},
                              "routes": [{"match": "GET /v1/models", "mode": "shadow"}]},
                             registry=registry_with(GET__v1__models=boom))
    client = await aiohttp_client(app)
    resp = await client.get("/v1/models")
    assert resp.status == 200 and (await resp.json())["data"][0]["id"] == "m1"
    assert await wait_for_outcome(app, "GET /v1/models", "error")


async def test_no_legacy_configured_serves_native_only(make_gateway, aiohttp_client):
    app = await make_gateway({}, registry=registry_with(GET__v1__models=models_native))
    client = await aiohttp_client(app)
    resp = await client.get("/v1/models")
    assert resp.status == 200 and resp.headers["X-Quotio-Route"] == "native/native"
    resp = await client.post("/v1/chat/completions", data=b"{}")
    assert resp.status == 503
    assert (await resp.json())["error"]["message"] == "no legacy server is configured for this route"
    # A path the legacy has no route for either is Gin's 404, not "legacy unavailable".
    resp = await client.get("/nope")
    assert (resp.status, await resp.text()) == (404, "404 page not found")
    assert resp.headers["Access-Control-Allow-Origin"] == "*"


async def test_trailing_slash_is_gins_redirect_when_no_legacy_answers(make_gateway, aiohttp_client):
    app = await make_gateway({}, registry=registry_with(GET__v1__models=models_native))
    client = await aiohttp_client(app)
    resp = await client.get("/v1/models/?x=1", allow_redirects=False)
    assert resp.status == 301
    assert resp.headers["Location"] == "/v1/models?x=1"
    assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
    assert await resp.text() == '<a href="/v1/models?x=1">Moved Permanently</a>.\n\n'
    # Gin redirects before its middleware chain: no CORS headers.
    assert "Access-Control-Allow-Origin" not in resp.headers
    resp = await client.post("/v1/chat/completions/", data=b"{}", allow_redirects=False)
    assert (resp.status, resp.headers["Location"], await resp.read()) == (307, "/v1/chat/completions", b"")
    resp = await client.get("/v1/models/")  # followed: lands on the native handler
    assert resp.status == 200 and (await resp.json())["data"][0]["created"] == 2


async def test_trailing_slash_redirect_in_native_mode_with_a_legacy(legacy, make_gateway, aiohttp_client):
    app = await make_gateway({"legacy": {"url": legacy.url}, "default": "native"}, registry=NativeRegistry())
    client = await aiohttp_client(app)
    resp = await client.post("/v1/messages/", data=b"{}", allow_redirects=False)
    assert (resp.status, resp.headers["Location"]) == (307, "/v1/messages")
    assert legacy.calls == []


async def test_route_header_can_be_turned_off(legacy, make_gateway, aiohttp_client):
    app = await make_gateway({"legacy": {"url": legacy.url}, "server": {"route_header": False}})
    client = await aiohttp_client(app)
    resp = await client.get("/echo")
    assert "X-Quotio-Route" not in resp.headers


@pytest.mark.parametrize(("path", "model"), [
    ("/v1beta/models/gemini-2.5-pro:generateContent", "gemini-2.5-pro"),
    ("/v1beta/models/teamB/gemini-2.5-flash:streamGenerateContent", "teamB/gemini-2.5-flash"),
    ("/v1beta/models/a:b:c", None),
    ("/v1beta/models/plain", None),
])
def test_model_conditioned_flags_read_the_gemini_model_from_the_path(path, model):
    assert _model_of(path, b"") == model


async def test_a_body_limit_changed_at_run_time_bounds_native_reads(make_gateway, aiohttp_client):
    """``server.max_body_bytes`` set through the flags API applies to the next request, native
    handlers' own reads included (aiohttp's reader otherwise keeps the start-up limit)."""
    app = await make_gateway({"default": "native", "server": {"max_body_bytes": 1024 * 1024}})
    client = await aiohttp_client(app)
    body = {"model": "no-such-model", "messages": [{"role": "user", "content": "x" * 3000}]}
    resp = await client.post("/v1/chat/completions", json=body, headers=CLIENT)
    assert resp.status == 400  # read whole under the start-up limit: the model is unknown
    doc = await (await client.get("/v0/gateway/flags", headers=auth())).json()
    doc["server"]["max_body_bytes"] = 2048
    assert (await client.put("/v0/gateway/flags", json=doc, headers=auth())).status == 200
    resp = await client.post("/v1/chat/completions", json=body, headers=CLIENT)
    assert resp.status == 413
    assert await resp.json() == {"error": {"message": "request body exceeds 2048 bytes",
                                           "type": "invalid_request_error"}}
    resp = await client.post("/v1/messages", json=body, headers=CLIENT)
    assert resp.status == 413
    assert await resp.json() == {"type": "error", "error": {"type": "request_too_large",
                                                            "message": "request body exceeds 2048 bytes"}}
    doc["server"]["max_body_bytes"] = 8192
    assert (await client.put("/v0/gateway/flags", json=doc, headers=auth())).status == 200
    resp = await client.post("/v1/chat/completions", json=body, headers=CLIENT)
    assert resp.status == 400  # raised again: read whole


async def test_a_body_that_does_not_decode_gets_the_handlers_400_when_a_model_rule_reads_it(
        legacy, make_gateway, aiohttp_client):
    """A route with model-conditioned rules is read by the dispatcher to find the model: a body
    labelled gzip but sent plain gets the same 400 the native handler gives, not aiohttp's 500,
    and nothing reaches legacy."""
    app = await make_gateway({"legacy": {"url": legacy.url}, "routes": [
        {"match": "POST /v1/chat/completions", "model": "gpt-*", "mode": "native"}]})
    client = await aiohttp_client(app)
    resp = await client.post("/v1/chat/completions", data=b'{"model":"gpt-x"}',
                             headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})
    assert resp.status == 400
    assert await resp.json() == {"error": {
        "message": "Invalid request: the body does not decode as its Content-Encoding (gzip)",
        "type": "invalid_request_error"}}
    assert legacy.calls == []
