"""Antigravity's live model list: the answer's parsing, the base fallback, and the background feed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from handlers.credentials.antigravity_models import (
    BASE_URLS,
    MAX_CONCURRENT_FETCHES,
    SKIPPED,
    AntigravityModelFeed,
    base_urls,
    fetch_models,
    parse_models,
)
from handlers.models.catalog import ANTIGRAVITY_OVERRIDES
from handlers.providers.http import Timeouts, UpstreamClient
from handlers.providers.oauth_antigravity import AntigravityExecutor
from handlers.providers.oauth_base import OAuthCredential, StaticToken
from tests.fakes.loopback import serve_on_loopback


@dataclass
class Base:
    """One upstream base: answers with ``status`` and ``body`` (or hangs), recording each call."""

    status: int = 200
    body: Any = field(default_factory=lambda: {"models": {"gemini-2.5-flash": {}}})
    hang: asyncio.Event | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[str, dict[str, Base]]]:
    bases: dict[str, Base] = {}

    async def handler(request: web.Request) -> web.StreamResponse:
        base = bases[request.match_info["base"]]
        base.calls.append({"path": request.path, "headers": dict(request.headers), "body": await request.read()})
        if base.hang is not None:
            await base.hang.wait()
        return web.json_response(base.body, status=base.status)

    app = web.Application()
    app.router.add_post("/{base}/v1internal:fetchAvailableModels", handler)
    runner, root = await serve_on_loopback(app, access_log=None)
    try:
        yield root, bases
    finally:
        await runner.cleanup()


@pytest.fixture
async def client() -> AsyncIterator[UpstreamClient]:
    pool = UpstreamClient(Timeouts(connect=2.0, first_byte=2.0, idle=2.0))
    yield pool
    await pool.close()


def view(base_url: str = "", *, token: str = "at-1", fallbacks: tuple[str, ...] = (), **meta: Any) -> OAuthCredential:
    return OAuthCredential(id="antigravity-a.json", provider="antigravity", tokens=StaticToken(token),
                           base_url=base_url, fallback_urls=fallbacks, metadata=meta)


def test_parse_takes_the_keys_minus_the_skipped_ids() -> None:
    body = b'{"models": {" gemini-2.5-flash ": {}, "chat_20706": {}, "claude-sonnet-4-5": {"x": 1}, "": {}}}'
    models = parse_models(body, created=1700)
    assert models is not None
    assert [m.id for m in models] == ["gemini-2.5-flash", "claude-sonnet-4-5"]
    flash = models[0]
    assert (flash.object, flash.created, flash.owned_by, flash.type) == ("model", 1700, "antigravity", "antigravity")
    assert flash.name == flash.display_name == flash.version == flash.description == "gemini-2.5-flash"
    assert flash.thinking == ANTIGRAVITY_OVERRIDES["gemini-2.5-flash"][0]
    assert models[1].max_completion_tokens == ANTIGRAVITY_OVERRIDES["claude-sonnet-4-5"][1] == 64000
    assert "chat_20706" in SKIPPED


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"other": {}}', b'{"models": []}'])
def test_parse_without_a_models_object_is_none(body: bytes) -> None:
    assert parse_models(body, created=1) is None


async def test_fetch_sends_the_legacy_request(upstream: tuple[str, dict[str, Base]], client: UpstreamClient) -> None:
    url, bases = upstream
    bases["a"] = Base()
    models = await fetch_models(client, view(f"{url}/a/", user_agent="antigravity/9.9 linux/amd64"))
    assert models is not None and [m.id for m in models] == ["gemini-2.5-flash"]
    [call] = bases["a"].calls
    assert call["body"] == b"{}"
    assert call["headers"]["Authorization"] == "Bearer at-1"
    assert call["headers"]["Content-Type"] == "application/json"
    assert call["headers"]["User-Agent"] == "antigravity/9.9 linux/amd64"


@pytest.mark.parametrize(("first", "tries_next"), [(429, True), (401, False), (500, False)])
async def test_fallback_only_on_429_or_transport(upstream: tuple[str, dict[str, Base]], client: UpstreamClient,
                                                 monkeypatch: pytest.MonkeyPatch, first: int, tries_next: bool) -> None:
    url, bases = upstream
    bases["a"] = Base(status=first, body={"error": {}})
    bases["b"] = Base()
    monkeypatch.setattr("handlers.credentials.antigravity_models.BASE_URLS", (f"{url}/a", f"{url}/b"))
    models = await fetch_models(client, view())
    assert (models is not None) is tries_next
    assert len(bases["b"].calls) == (1 if tries_next else 0)


async def test_transport_failure_moves_to_the_next_base(upstream: tuple[str, dict[str, Base]], client: UpstreamClient,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    url, bases = upstream
    bases["b"] = Base()
    monkeypatch.setattr("handlers.credentials.antigravity_models.BASE_URLS", ("http://127.0.0.1:1/a", f"{url}/b"))
    models = await fetch_models(client, view())
    assert models is not None and len(bases["b"].calls) == 1


async def test_no_token_means_no_request(upstream: tuple[str, dict[str, Base]], client: UpstreamClient) -> None:
    url, bases = upstream
    bases["a"] = Base()
    assert await fetch_models(client, view(f"{url}/a", token="")) is None
    assert bases["a"].calls == []


async def test_feed_fetches_once_per_file_and_forgets(upstream: tuple[str, dict[str, Base]],
                                                      client: UpstreamClient) -> None:
    url, bases = upstream
    bases["a"] = Base()
    changed = asyncio.Event()
    feed = AntigravityModelFeed(client, changed.set)
    cred = view(f"{url}/a")
    feed.track("antigravity-a.json", [cred])
    feed.track("antigravity-a.json", [cred])  # already on its way: no second request
    await asyncio.wait_for(changed.wait(), 10)
    models = feed.models("antigravity-a.json")
    assert models is not None and [m.id for m in models] == ["gemini-2.5-flash"]
    feed.track("antigravity-a.json", [cred])  # known: not asked again
    await asyncio.sleep(0)
    assert len(bases["a"].calls) == 1
    feed.forget("antigravity-a.json")
    assert feed.models("antigravity-a.json") is None
    await feed.close()


async def test_feed_ignores_other_providers_and_disabled_files(client: UpstreamClient) -> None:
    feed = AntigravityModelFeed(client, lambda: None)
    other = OAuthCredential(id="claude-a.json", provider="claude", tokens=StaticToken("t"))
    disabled = OAuthCredential(id="antigravity-b.json", provider="antigravity", tokens=StaticToken("t"),
                               disabled=True)
    feed.track("claude-a.json", [other])
    feed.track("antigravity-b.json", [disabled])
    assert feed.fetching == frozenset()
    await feed.close()


async def test_failed_fetch_registers_nothing_and_is_retried(upstream: tuple[str, dict[str, Base]],
                                                             client: UpstreamClient) -> None:
    url, bases = upstream
    bases["a"] = Base(status=403, body={"error": {}})
    calls: list[int] = []
    feed = AntigravityModelFeed(client, lambda: calls.append(1))
    cred = view(f"{url}/a")
    feed.track("antigravity-a.json", [cred])
    for _ in range(500):
        if not feed.fetching:
            break
        await asyncio.sleep(0.01)
    assert feed.models("antigravity-a.json") is None and calls == []
    bases["a"].status, bases["a"].body = 200, {"models": {"gemini-3-flash": {}}}
    feed.track("antigravity-a.json", [cred])  # the file changed: asked again
    for _ in range(500):
        if calls:
            break
        await asyncio.sleep(0.01)
    models = feed.models("antigravity-a.json")
    assert models is not None and [m.id for m in models] == ["gemini-3-flash"]
    await feed.close()


async def test_hung_fetch_times_out_and_close_cancels(upstream: tuple[str, dict[str, Base]],
                                                      client: UpstreamClient) -> None:
    url, bases = upstream
    bases["a"] = Base(hang=asyncio.Event())
    feed = AntigravityModelFeed(client, lambda: None, timeout=0.2)
    feed.track("antigravity-a.json", [view(f"{url}/a")])
    for _ in range(500):
        if not feed.fetching:
            break
        await asyncio.sleep(0.01)
    assert feed.models("antigravity-a.json") is None
    # A second hung fetch is cancelled by close, leaving nothing running.
    feed.track("antigravity-a.json", [view(f"{url}/a")])
    await feed.close()
    assert feed.fetching == frozenset()
    bases["a"].hang.set()  # type: ignore[union-attr]


async def test_at_most_a_few_fetches_at_once(upstream: tuple[str, dict[str, Base]], client: UpstreamClient) -> None:
    url, bases = upstream
    bases["a"] = Base(hang=asyncio.Event())
    arrived: list[int] = []
    feed = AntigravityModelFeed(client, lambda: arrived.append(1))
    names = [f"antigravity-{n}.json" for n in range(MAX_CONCURRENT_FETCHES + 3)]
    for name in names:
        feed.track(name, [view(f"{url}/a")])
    for _ in range(500):
        if len(bases["a"].calls) >= MAX_CONCURRENT_FETCHES:
            break
        await asyncio.sleep(0.01)
    for _ in range(20):  # give any call beyond the cap the chance to arrive
        await asyncio.sleep(0.01)
    assert len(bases["a"].calls) == MAX_CONCURRENT_FETCHES
    bases["a"].hang.set()  # type: ignore[union-attr]
    for _ in range(500):
        if len(arrived) == len(names):
            break
        await asyncio.sleep(0.01)
    assert len(bases["a"].calls) == len(names) and all(feed.models(name) for name in names)
    await feed.close()


@pytest.mark.parametrize(("configured", "expected"), [
    ("http://h/ag", ("http://h/ag",)),
    ("http://h/ag/", ("http://h/ag",)),
    # Only one "/" goes, and the path follows what is left: ``x//`` asks ``x//v1internal:…``.
    (" http://h/ag// ", ("http://h/ag/",)),
    ("/", BASE_URLS),
    ("", BASE_URLS),
])
def test_a_custom_base_loses_one_trailing_slash(configured: str, expected: tuple[str, ...]) -> None:
    assert base_urls(view(configured)) == expected


# The legacy asks fetchAvailableModels across antigravityBaseURLFallbackOrder, the list its chats
# use (antigravity_executor.go:942-987): with ``inference-base-url`` plus ``inference-fallback-urls``
# a 429 on the first base must not leave the credential with no models while its chats would serve.
def test_models_use_the_executors_base_order() -> None:
    configured = view("http://ag1/", fallbacks=("http://ag2", "http://ag3"))
    assert base_urls(configured) == ("http://ag1", "http://ag2", "http://ag3")
    assert base_urls(configured) == AntigravityExecutor(client=None).base_urls(configured)


async def test_a_429_on_the_configured_base_moves_to_its_fallback(upstream: tuple[str, dict[str, Base]],
                                                                  client: UpstreamClient) -> None:
    url, bases = upstream
    bases.update(ag1=Base(status=429, body={"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}}), ag2=Base(),
                 ag3=Base())
    models = await fetch_models(client, view(f"{url}/ag1", fallbacks=(f"{url}/ag2", f"{url}/ag3")))
    assert models is not None and [m.id for m in models] == ["gemini-2.5-flash"]
    assert [len(bases[name].calls) for name in ("ag1", "ag2", "ag3")] == [1, 1, 0]
