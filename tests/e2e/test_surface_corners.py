"""Byte-level corners of the native client surface, through the whole gateway (flags, dispatch,
middlewares) with default ``native``. Facts cite CLIProxyAPI at 9b72ea9ef.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from tests.conftest import GatewayFactory
from tests.fakes.llm_upstream import FakeLLM

CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, PUT, PATCH, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "*",
}


@dataclass
class Gateway:
    url: str
    session: aiohttp.ClientSession

    async def get(self, path: str) -> tuple[int, Mapping[str, str], bytes]:
        async with self.session.get(self.url + path, allow_redirects=False) as resp:
            return resp.status, resp.headers, await resp.read()


@contextlib.asynccontextmanager
async def serving(make_gateway: GatewayFactory, config: dict[str, Any]) -> AsyncIterator[Gateway]:
    """The whole gateway, every route native, on a loopback port, with a client session."""
    app = await make_gateway({"default": "native"}, config=config)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    session = aiohttp.ClientSession()
    try:
        yield Gateway(str(server.make_url("")).rstrip("/"), session)
    finally:
        await session.close()
        await server.close()


@pytest.fixture
async def native(make_gateway: GatewayFactory) -> AsyncIterator[Gateway]:
    async with serving(make_gateway, {"api-keys": ["client-key"]}) as gateway:
        yield gateway


# internal/api/server.go:43 (oauthCallbackSuccessHTML), served by the five routes at server.go:355-423
# with `c.Header("Content-Type", "text/html; charset=utf-8")` and `c.String(200, …)`.
LEGACY_CALLBACK_PAGE = (
    b'<html><head><meta charset="utf-8"><title>Authentication successful</title>'
    b"<script>setTimeout(function(){window.close();},5000);</script></head><body>"
    b"<h1>Authentication successful!</h1><p>You can close this window.</p>"
    b"<p>This window will close automatically in 5 seconds.</p></body></html>"
)


@pytest.mark.parametrize("provider", ["anthropic", "codex", "google", "iflow", "antigravity"])
@pytest.mark.parametrize("query", ["", "?code=c&state=unknown-state", "?error=access_denied&state=s"])
async def test_main_server_callback_page_is_the_legacy_bytes(native: Gateway, provider: str, query: str) -> None:
    status, headers, body = await native.get(f"/{provider}/callback{query}")
    assert status == 200
    assert body == LEGACY_CALLBACK_PAGE
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert "Cache-Control" not in headers  # the legacy sets none
    for name, value in CORS.items():
        assert headers[name] == value


@pytest.fixture
async def with_gemini(make_gateway: GatewayFactory) -> AsyncIterator[Gateway]:
    fake = FakeLLM()
    await fake.start()
    config = {"api-keys": ["client-key"], "gemini-api-key": [{"api-key": "sk-gemini", "base-url": fake.root}]}
    try:
        async with serving(make_gateway, config) as gateway:
            yield gateway
    finally:
        await fake.stop()


# code_handlers.go:80-85: /v1/messages streams unless `stream` is absent or JSON false, so null, 0,
# a string or an object all ask for a stream (the OpenAI routes want JSON true).
@pytest.mark.parametrize(("stream", "streams"), [
    (None, True), (0, True), ("false", True), ({}, True), (False, False), ("absent", False)])
async def test_claude_messages_stream_decision(with_gemini: Gateway, stream: Any, streams: bool) -> None:
    body: dict[str, Any] = {"model": "gemini-2.5-flash", "max_tokens": 16,
                            "messages": [{"role": "user", "content": "hi"}]}
    if stream != "absent":
        body["stream"] = stream
    async with with_gemini.session.post(with_gemini.url + "/v1/messages", json=body,
                                        headers={"x-api-key": "client-key"}) as resp:
        text = await resp.text()
        assert resp.status == 200, text
        if streams:
            assert resp.headers["Content-Type"] == "text/event-stream"
            assert text.startswith("event: message_start\n") and "event: message_stop\n" in text
        else:
            assert resp.headers["Content-Type"] == "application/json"
            assert '"type":"message"' in text.replace(" ", "")
