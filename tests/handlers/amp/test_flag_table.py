"""The Amp routes behind the dispatcher: they follow the flag table like every native route."""

from __future__ import annotations

from typing import Any

import pytest

from quotio_gateway.shadow.runner import plan_shadow
from tests.handlers.amp.test_routes import CORS

CHAT = "/api/provider/openai/v1/chat/completions"
BODY = {"model": "nobody-serves-this", "messages": [{"role": "user", "content": "hi"}]}
AUTH = {"Authorization": "Bearer client-key"}
NATIVE_PROVIDER = {"match": "* /api/provider/*", "mode": "native"}
LEGACY_API = {"match": "* /api/*", "mode": "legacy"}


async def test_packaged_order_keeps_the_aliases_on_legacy(legacy: Any, make_gateway: Any,
                                                          aiohttp_client: Any) -> None:
    app = await make_gateway({"legacy": {"url": legacy.url}, "routes": [LEGACY_API]})
    client = await aiohttp_client(app)
    resp = await client.post(CHAT, json=BODY, headers=AUTH)
    assert (await resp.json())["legacy"] is True
    assert resp.headers["X-Quotio-Route"] == "legacy/legacy"


async def test_a_native_rule_serves_them_natively(legacy: Any, make_gateway: Any, aiohttp_client: Any) -> None:
    app = await make_gateway({"legacy": {"url": legacy.url}, "routes": [NATIVE_PROVIDER, LEGACY_API]})
    client = await aiohttp_client(app)
    resp = await client.post(CHAT, json=BODY)
    assert resp.status == 401
    assert await resp.read() == b'{"error":"Missing API key"}'
    assert resp.headers["X-Quotio-Route"] == "native/native"
    for name, value in CORS.items():
        assert resp.headers[name] == value
    resp = await client.post(CHAT, json=BODY, headers=AUTH)
    assert resp.status == 400
    assert (await resp.json())["error"]["message"] == "unknown provider for model nobody-serves-this"
    # Under a native rule the control plane and the Gemini bridge are native too: without an
    # Amp upstream that is the module's 503, and nothing reaches the legacy server.
    app = await make_gateway({"legacy": {"url": legacy.url}, "routes": [{"match": "* /api/*", "mode": "native"}]})
    client = await aiohttp_client(app)
    calls = len(legacy.calls)
    bridge = "/api/provider/google/v1beta1/publishers/google/models/m:generateContent"
    resp = await client.post(bridge, json={}, headers=AUTH)
    assert resp.status == 503 and resp.headers["X-Quotio-Route"] == "native/native"
    resp = await client.get("/api/user", headers=AUTH)
    assert resp.status == 503 and resp.headers["X-Quotio-Route"] == "native/native"
    assert len(legacy.calls) == calls


async def test_without_a_legacy_server_the_aliases_are_native(make_gateway: Any, aiohttp_client: Any) -> None:
    app = await make_gateway({"routes": [LEGACY_API]})
    client = await aiohttp_client(app)
    resp = await client.get("/api/provider/anthropic/models")
    assert resp.status == 401
    assert resp.headers["X-Quotio-Route"] == "native/native"
    resp = await client.get("/api/provider/anthropic/models", headers=AUTH)
    assert resp.status == 200 and set(await resp.json()) == {"data"}


@pytest.mark.parametrize(("method", "path", "expected"), [
    ("GET", "/api/user", (None, "amp_upstream")),
    ("GET", "/auth/cli-login", (None, "amp_upstream")),
    ("GET", "/news.rss", (None, "amp_upstream")),
    ("GET", "/api/provider/openai/models", ("json", None)),
])
def test_the_control_plane_is_never_shadowed(method: str, path: str, expected: tuple[Any, Any]) -> None:
    """Both legs would call the Amp upstream (a login started twice, telemetry sent twice)."""
    kind, reason = plan_shadow(method, path, shadow_llm=True, sample=1.0, draw=0.0)
    assert (kind if expected[0] is None else kind is not None, reason) == (
        expected[0] if expected[0] is None else True, expected[1])
