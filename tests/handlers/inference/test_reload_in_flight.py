"""A config reload while a request is in flight: the call already made finishes on the credential
it went to, and any later pick of the same request is made from the credentials current then, as
the legacy's conductor reads its auths afresh at every pick (conductor.go:568-614, 1746-1783)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from quotio_gateway.appkeys import CONFIG_STORE
from tests.conftest import eventually
from tests.fakes.llm_upstream import FakeLLM
from tests.fakes.loopback import serve_on_loopback
from tests.handlers.inference.test_faults import MakeGateway, chat
from tests.handlers.inference.test_faults_stream import GatedUpstream

SONNET = "claude-sonnet-4-5-20250929"
HAIKU = "claude-haiku-4-5-20251001"
RATE_LIMITED = {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}


class HeldUpstream:
    """A Claude upstream that answers 429 once ``gate`` is set, so a call can be kept in flight."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.arrived = asyncio.Event()
        self.root = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/messages", self.messages)
        self._runner, self.root = await serve_on_loopback(app)

    async def stop(self) -> None:
        self.gate.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def messages(self, request: web.Request) -> web.Response:
        await request.read()
        self.arrived.set()
        await self.gate.wait()
        return web.json_response(RATE_LIMITED, status=429)


@pytest.fixture
async def held() -> AsyncIterator[HeldUpstream]:
    upstream = HeldUpstream()
    await upstream.start()
    yield upstream
    await upstream.stop()


def entry(key: str, root: str, upstream: str, *, priority: int = 0) -> str:
    """A Claude key serving the alias ``fast`` as ``upstream``."""
    return (f"  - api-key: {key}\n    base-url: {root}\n    priority: {priority}\n"
            f"    models:\n      - name: {upstream}\n        alias: fast\n")


async def rewrite(client: Any, text: str, keys: list[str]) -> None:
    """Edit config.yaml on disk and wait until the watcher has applied it."""
    store = client.server.app[CONFIG_STORE]
    await asyncio.to_thread(Path(store.path).write_text, text)
    await eventually(lambda: [k.api_key for k in store.current.claude_api_key] == keys, what="config reload")


@pytest.mark.parametrize("stream", [False, True])
async def test_the_next_pick_after_a_reload_uses_the_new_keys(gateway: MakeGateway, fake_llm: FakeLLM,
                                                               held: HeldUpstream, stream: bool) -> None:
    """sk-a (highest priority) is asked first and answers only after the reload, with a 429. The
    key removed meanwhile (sk-b) is not tried; the one added (sk-c) is, with its own alias target."""
    first = entry("sk-a", held.root, SONNET, priority=1)
    client = await gateway("claude-api-key:\n" + first + entry("sk-b", fake_llm.root, SONNET))
    pending = asyncio.ensure_future(client.post("/v1/chat/completions", json=chat("fast", stream=stream)))
    await asyncio.wait_for(held.arrived.wait(), 5)
    await rewrite(client, "claude-api-key:\n" + first + entry("sk-c", fake_llm.root, HAIKU), ["sk-a", "sk-c"])
    held.gate.set()
    resp = await asyncio.wait_for(pending, 5)
    assert resp.status == 200, await resp.text()
    await resp.read()
    assert [(r.key, r.body["model"]) for r in fake_llm.requests] == [("sk-c", HAIKU)]


async def test_the_call_in_flight_finishes_on_its_removed_key(gateway: MakeGateway, fake_llm: FakeLLM,
                                                              gated: GatedUpstream) -> None:
    """The legacy's executor holds its own copy of the auth it picked: removing that key while its
    upstream is answering does not stop the answer reaching the client."""
    client = await gateway("claude-api-key:\n" + entry("sk-a", gated.root, SONNET))
    pending = asyncio.ensure_future(client.post("/v1/chat/completions", json=chat("fast", stream=True)))
    await asyncio.wait_for(gated.arrived.get(), 5)
    await rewrite(client, "claude-api-key:\n" + entry("sk-c", fake_llm.root, HAIKU), ["sk-c"])
    gated.gate.set()
    resp = await asyncio.wait_for(pending, 5)
    assert resp.status == 200
    raw = await resp.read()
    assert raw.endswith(b"data: [DONE]\n\n") and b"later" in raw
    assert fake_llm.requests == []
