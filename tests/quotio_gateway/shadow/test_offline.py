"""Native legs run on a request rebuilt from a recorded head: what the handler sees and answers."""

from __future__ import annotations

import orjson
from aiohttp import web

from quotio_gateway.native import NativeRegistry
from quotio_gateway.shadow.offline import resolve_native, run_native


async def echo(request: web.Request) -> web.Response:
    body = await request.read()
    return web.json_response({"method": request.method, "path": request.path, "query": dict(request.query),
                              "model": request.match_info.get("model"), "body": body.decode(),
                              "remote": request.remote, "auth": request.headers.get("Authorization"),
                              "peer": request.transport.get_extra_info("peername")[0] if request.transport else None,
                              "raw_path": request.raw_path, "name": request.headers.get("X-Name"),
                              "body_exists": request.body_exists}, headers={"X-Native": "1"})


async def raises(request: web.Request) -> web.Response:
    raise RuntimeError("native bug")


async def http_error(request: web.Request) -> web.Response:
    raise web.HTTPForbidden(text="nope")


async def streamed(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    for i in range(3):
        await response.write(b"data: %d\n\n" % i)
    return response


async def gateway_app(make_gateway) -> web.Application:
    registry = NativeRegistry()
    registry.add("POST", "/v1beta/models/{model}", echo)
    registry.add("GET", "/raises", raises)
    registry.add("GET", "/forbidden", http_error)
    registry.add("GET", "/stream", streamed)
    app = await make_gateway({}, registry=registry)
    app.freeze()  # as the worker's AppRunner leaves it: signals such as on_response_prepare can fire
    return app


async def test_resolve_finds_native_handlers_only(make_gateway):
    app = await gateway_app(make_gateway)
    assert await resolve_native(app, "POST", "/v1beta/models/gem:generate") == (echo, {"model": "gem:generate"})
    assert await resolve_native(app, "GET", "/v1beta/models/gem") == (None, {})  # method not routed natively
    assert await resolve_native(app, "GET", "/anything/else") == (None, {})  # the flag-routed catch-all
    assert await resolve_native(app, "GET", "/healthz") == (None, {})  # the gateway's own endpoint


async def test_handler_sees_the_recorded_request(make_gateway):
    app = await gateway_app(make_gateway)
    got = await run_native(app, method="POST", target="/v1beta/models/gem?alt=sse&key=k",
                           headers=[("Host", "h"), ("Authorization", "Bearer c")], body=b'{"x": 1}',
                           peer="192.0.2.7", max_bytes=4096)
    assert got.status == 200 and got.error is None and got.header("X-Native") == "1"
    assert orjson.loads(got.body) == {"method": "POST", "path": "/v1beta/models/gem", "model": "gem",
                                      "query": {"alt": "sse", "key": "k"}, "body": '{"x": 1}',
                                      "remote": "192.0.2.7", "peer": "192.0.2.7", "auth": "Bearer c",
                                      "raw_path": "/v1beta/models/gem?alt=sse&key=k", "name": None,
                                      "body_exists": True}


async def test_a_body_past_the_readers_pause_mark_reaches_the_handler_whole(make_gateway):
    # A reader pauses its protocol past twice its 64 KiB limit; a coding agent's request is
    # usually bigger than that, and the replayed request has no socket to pause.
    app = await gateway_app(make_gateway)
    body = b'{"x": "' + b"y" * 300_000 + b'"}'
    got = await run_native(app, method="POST", target="/v1beta/models/gem", headers=[("Host", "h")],
                           body=body, peer="192.0.2.7", max_bytes=1 << 20)
    assert got.status == 200 and got.error is None
    assert orjson.loads(got.body)["body"] == body.decode()


async def test_handler_sees_the_head_as_aiohttp_decodes_it(make_gateway):
    # The front door records heads as latin-1 text; aiohttp's own parser reads UTF-8 (invalid
    # bytes as surrogates), so that is what the native leg must see. A bodiless request has no body
    # stream, as from aiohttp's parser.
    app = await gateway_app(make_gateway)
    recorded = [("Host", "h"), ("X-Name", "café ✓".encode().decode("latin-1") + "\xff")]
    got = await run_native(app, method="POST", target="/v1beta/models/gem", headers=recorded, body=b"",
                           peer="192.0.2.7", max_bytes=4096)
    assert got.status == 200 and got.error is None
    seen = orjson.loads(got.body.replace(b"\\udcff", b"<ff>"))
    assert seen["name"] == "café ✓<ff>"
    assert seen["body_exists"] is False and seen["body"] == ""


async def test_failures_are_captured_not_raised(make_gateway):
    app = await gateway_app(make_gateway)
    common = {"headers": [("Host", "h")], "body": b"", "peer": "127.0.0.1", "max_bytes": 4096}
    raised = await run_native(app, method="GET", target="/raises", **common)
    assert (raised.status, raised.error) == (500, "RuntimeError")
    forbidden = await run_native(app, method="GET", target="/forbidden", **common)
    assert (forbidden.status, forbidden.body, forbidden.error) == (403, b"nope", None)
    missing = await run_native(app, method="GET", target="/nowhere", **common)
    assert (missing.status, missing.error) == (0, "NoNativeHandler")


async def test_streamed_answer_is_captured_up_to_the_cap(make_gateway):
    app = await gateway_app(make_gateway)
    whole = await run_native(app, method="GET", target="/stream", headers=[], body=b"", peer="", max_bytes=4096)
    assert whole.body == b"data: 0\n\ndata: 1\n\ndata: 2\n\n" and not whole.truncated
    cut = await run_native(app, method="GET", target="/stream", headers=[], body=b"", peer="", max_bytes=10)
    assert cut.body == b"data: 0\n\nd" and cut.truncated
