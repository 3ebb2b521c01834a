"""One token-endpoint call: how each kind of answer is classified, and that errors carry no body."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest
from aiohttp import web

from handlers.logins.device_http import (
    TokenEndpointError,
    call_endpoint,
    expiry_after,
    require_token_json,
    rfc3339,
    token_call_session,
)
from tests.fakes.loopback import serve_on_loopback


async def answer(request: web.Request) -> web.Response:
    kind = request.match_info["kind"]
    if kind == "ok":
        return web.json_response({"access_token": "secret-token", "echo": dict(await request.post())})
    if kind == "headers":
        return web.json_response({k.lower(): v for k, v in request.headers.items()})
    if kind == "raw":
        return web.json_response({"raw": (await request.read()).decode()})
    if kind == "list":
        return web.json_response(["not", "an", "object"])
    if kind == "html":
        return web.Response(status=502, text="<html>secret-token</html>", content_type="text/html")
    return web.json_response({"error": "invalid_grant", "error_description": "token secret-token revoked"},
                             status=400)


@pytest.fixture
async def base() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_route("*", "/{kind}", answer)
    runner, root = await serve_on_loopback(app)
    yield root
    await runner.cleanup()


async def test_success_and_form_encoding(base):
    async with aiohttp.ClientSession() as http:
        got = await call_endpoint(http, "POST", f"{base}/ok", form={"a": "1 2", "b": "&"})
    assert got.ok and got.body == {"access_token": "secret-token", "echo": {"a": "1 2", "b": "&"}}
    assert require_token_json(got, f"{base}/ok", "x")["access_token"] == "secret-token"


async def test_error_classes(base):
    host = base.removeprefix("http://")
    async with aiohttp.ClientSession() as http:
        listed = await call_endpoint(http, "GET", f"{base}/list")
        html = await call_endpoint(http, "GET", f"{base}/html")
        refused = await call_endpoint(http, "GET", f"{base}/grant")
    with pytest.raises(TokenEndpointError) as caught:
        require_token_json(listed, f"{base}/list", "token call")
    assert (caught.value.reason, str(caught.value)) == ("bad_response",
                                                        f"token call failed: {host} answered malformed JSON")
    with pytest.raises(TokenEndpointError) as caught:
        require_token_json(html, f"{base}/html", "token call")
    assert (caught.value.reason, caught.value.status) == ("http_error", 502)
    assert "secret-token" not in str(caught.value)
    with pytest.raises(TokenEndpointError) as caught:
        require_token_json(refused, f"{base}/grant", "token call")
    assert caught.value.permanent and caught.value.oauth_error == "invalid_grant"
    assert str(caught.value) == f"token call refused by {host} (invalid_grant: token secret-token revoked)"


async def test_unreachable():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with aiohttp.ClientSession() as http:
        with pytest.raises(TokenEndpointError) as caught:
            await call_endpoint(http, "POST", f"http://127.0.0.1:{port}/token", form={})
    assert caught.value.reason == "unreachable"
    assert str(caught.value) == f"127.0.0.1:{port} unreachable: ClientConnectorError"


def test_go_rfc3339():
    moment = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    assert rfc3339(moment) == "2026-01-02T03:04:05Z"
    assert expiry_after(moment, 3600) == "2026-01-02T04:04:05Z"


async def test_token_calls_carry_go_client_headers(base):
    async with token_call_session() as http:
        async with http.get(f"{base}/headers") as response:
            bare = await response.json()
        own = await call_endpoint(http, "GET", f"{base}/headers", headers={"User-Agent": "provider-agent/1"})
    assert bare["user-agent"] == "Go-http-client/1.1"
    assert bare["accept-encoding"] == "gzip"
    assert "accept" not in bare  # Go adds none; calls that want one set it
    assert own.body["user-agent"] == "provider-agent/1"


async def test_form_fields_go_out_in_name_order(base):
    # Every legacy form body is url.Values.Encode(), which sorts by field name: qwen's and iflow's
    # refresh grants were sent in the order the dict was written.
    async with token_call_session() as http:
        got = await call_endpoint(http, "POST", f"{base}/raw", form={
            "grant_type": "refresh_token", "refresh_token": "r 1", "client_id": "c:id"})
    assert got.body == {"raw": "client_id=c%3Aid&grant_type=refresh_token&refresh_token=r+1"}


async def test_accept_can_be_left_out(base):
    async with token_call_session() as http:
        default = await call_endpoint(http, "POST", f"{base}/headers", form={"a": "1"})
        none = await call_endpoint(http, "POST", f"{base}/headers", form={"a": "1"}, accept=None)
    assert default.body["accept"] == "application/json"
    assert "accept" not in none.body
    assert none.body["content-type"] == "application/x-www-form-urlencoded"
