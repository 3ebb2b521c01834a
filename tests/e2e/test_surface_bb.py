"""Byte-level corners of the native client surface found by the `surface` black-box audit, through
the whole gateway (flags, dispatch, middlewares) with default ``native``. Facts cite CLIProxyAPI at
9b72ea9ef.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from tests.conftest import GatewayFactory

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


@pytest.fixture
async def native(make_gateway: GatewayFactory) -> AsyncIterator[Gateway]:
    app = await make_gateway({"default": "native"}, config={"api-keys": ["client-key"]})
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    session = aiohttp.ClientSession()
    try:
        yield Gateway(str(server.make_url("")).rstrip("/"), session)
    finally:
        await session.close()
        await server.close()


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
