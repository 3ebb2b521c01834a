"""Antigravity's model list follows the same base order as its chats.

The legacy asks ``fetchAvailableModels`` across ``antigravityBaseURLFallbackOrder`` (the list its
chats use, antigravity_executor.go:942-987). With ``gateway.provider-endpoints.antigravity``
giving ``inference-base-url`` plus ``inference-fallback-urls``, chats move on to the fallbacks on a
429 or a transport failure; the model fetch must do the same, or a 429 on the first base leaves
the credential with no models at all while its chats would have been served.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from handlers.credentials.antigravity_models import base_urls, fetch_models
from handlers.providers.http import Timeouts, UpstreamClient
from handlers.providers.oauth_antigravity import AntigravityExecutor
from handlers.providers.oauth_base import OAuthCredential, StaticToken


def view(base_url: str, fallbacks: tuple[str, ...] = ()) -> OAuthCredential:
    return OAuthCredential(id="antigravity-a.json", provider="antigravity", tokens=StaticToken("at-1"),
                           base_url=base_url, fallback_urls=fallbacks)


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[str, list[str]]]:
    calls: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        base = request.match_info["base"]
        calls.append(base)
        if base == "ag1":
            return web.json_response({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}}, status=429)
        return web.json_response({"models": {"gemini-2.5-flash": {}}})

    app = web.Application()
    app.router.add_post("/{base}/v1internal:fetchAvailableModels", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}", calls
    finally:
        await runner.cleanup()


def test_models_use_the_executors_base_order() -> None:
    configured = view("http://ag1/", ("http://ag2", "http://ag3"))
    assert base_urls(configured) == ("http://ag1", "http://ag2", "http://ag3")
    assert base_urls(configured) == AntigravityExecutor(client=None).base_urls(configured)


async def test_a_429_on_the_configured_base_moves_to_its_fallback(upstream: tuple[str, list[str]]) -> None:
    url, calls = upstream
    client = UpstreamClient(Timeouts(connect=2.0, first_byte=2.0, idle=2.0))
    try:
        models = await fetch_models(client, view(f"{url}/ag1", (f"{url}/ag2", f"{url}/ag3")))
    finally:
        await client.close()
    assert models is not None and [m.id for m in models] == ["gemini-2.5-flash"]
    assert calls == ["ag1", "ag2"]
