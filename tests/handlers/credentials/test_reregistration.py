"""A credential file registered again wipes that credential's rotation state.

CLIProxyAPI v6.7.15 (9b72ea9ef): an auth file whose JSON changed, or that comes back after a
removal, reaches the service as Add/Modify (internal/watcher/dispatcher.go:117-127); the service
re-registers its models, which clears the client's suspension and quota marks
(sdk/cliproxy/service.go:271-293, internal/registry/model_registry.go:364-369), and swaps in the
freshly parsed auth, which has no per-model state (sdk/cliproxy/auth/conductor.go:418-434). A
file rewritten with the same JSON is no change (dispatcher.go:120, 234-250).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from handlers.auth.credential import new_credential
from handlers.auth.stores import LoadResult
from handlers.auth.stores.file_store import FileTokenStore
from handlers.credentials import CredentialRuntime
from handlers.inference.runtime import InferenceRuntime, install
from handlers.providers import Timeouts, UpstreamClient
from quotio_gateway.appkeys import CONFIG_STORE
from quotio_gateway.config import ConfigStore
from tests.conftest import eventually, serve_inference
from tests.fakes.loopback import serve_on_loopback

SONNET = "claude-sonnet-4-5-20250929"
ANSWER = {"id": "msg_1", "type": "message", "role": "assistant", "model": SONNET,
          "content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn", "stop_sequence": None,
          "usage": {"input_tokens": 1, "output_tokens": 1}}
NAME = "claude-a.json"


def write(auth_dir: Path, name: str, payload: dict[str, Any], *, indent: int | None = None) -> None:
    (auth_dir / name).write_text(json.dumps(payload, indent=indent))



class Upstream:
    """A Claude upstream that answers ``status`` (404 by default) and records the tokens it saw."""

    def __init__(self) -> None:
        self.status = 404
        self.tokens: list[str] = []
        self.runner: web.AppRunner | None = None
        self.root = ""

    async def handle(self, request: web.Request) -> web.Response:
        await request.read()
        self.tokens.append(request.headers.get("Authorization", ""))
        if self.status != 200:
            return web.json_response({"type": "error", "error": {"type": "not_found_error", "message": "nope"}},
                                     status=self.status)
        return web.json_response(ANSWER)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/messages", self.handle)
        self.runner, self.root = await serve_on_loopback(app)


class Gateway:
    def __init__(self, client: TestClient[Any, Any], inference: InferenceRuntime, creds: CredentialRuntime,
                 auth_dir: Path) -> None:
        self.client = client
        self.inference = inference
        self.creds = creds
        self.auth_dir = auth_dir

    async def listed(self) -> list[str]:
        resp = await self.client.get("/v1/models")
        assert resp.status == 200
        return [m["id"] for m in (await resp.json())["data"]]

    async def ask(self) -> int:
        resp = await self.client.post("/v1/messages", json={"model": SONNET, "max_tokens": 5,
                                                            "messages": [{"role": "user", "content": "hi"}]})
        await resp.read()
        return resp.status


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    fake = Upstream()
    await fake.start()
    yield fake
    assert fake.runner is not None
    await fake.runner.cleanup()


@pytest.fixture
async def gateway(tmp_path: Path, upstream: Upstream) -> AsyncIterator[Gateway]:
    config = tmp_path / "config.yaml"
    config.write_text("debug: false\n")
    store = ConfigStore(config)
    await store.start()
    app = web.Application()
    app[CONFIG_STORE] = store
    inference = install(app, store)
    auth_dir = tmp_path / "auths"
    auth_dir.mkdir()
    write(auth_dir, NAME, {"type": "claude", "access_token": "tok-1", "email": "a@x"})
    creds = CredentialRuntime(FileTokenStore(auth_dir), inference.client, registry=inference.registry,
                              config=lambda: store.current, base_url=lambda provider: upstream.root,
                              watch_interval=0.02)
    await creds.start()
    inference.oauth = creds
    creds.follow_reregistration(inference.state.forget)  # as handlers/credentials/wiring.py does
    client = await serve_inference(app)
    yield Gateway(client, inference, creds, auth_dir)
    await client.close()
    await creds.stop()
    await store.stop()


async def suspend(gw: Gateway, upstream: Upstream) -> None:
    """A 404 suspends the only Claude credential for SONNET: the lists drop it, requests fail."""
    assert SONNET in await gw.listed()
    assert await gw.ask() == 404
    assert SONNET not in await gw.listed()
    assert await gw.ask() == 500  # auth_unavailable: the credential is cooling for 12 h
    assert len(upstream.tokens) == 1


async def test_changed_file_brings_the_model_back_and_the_credential_serves(gateway: Gateway,
                                                                            upstream: Upstream) -> None:
    gw = gateway
    await suspend(gw, upstream)
    write(gw.auth_dir, NAME, {"type": "claude", "access_token": "tok-2", "email": "a@x"})
    await eventually(lambda: (gw.creds.file_credential(NAME) or new_credential(NAME, {"type": "claude"}))
                     .metadata.get("access_token") == "tok-2")
    assert gw.inference.state.get(NAME, SONNET) is None
    assert SONNET in await gw.listed()
    upstream.status = 200
    assert await gw.ask() == 200
    assert upstream.tokens == ["Bearer tok-1", "Bearer tok-2"]


async def test_re_added_file_brings_the_model_back(gateway: Gateway, upstream: Upstream) -> None:
    gw = gateway
    await suspend(gw, upstream)
    (gw.auth_dir / NAME).unlink()
    await eventually(lambda: gw.creds.get(NAME) is None)
    write(gw.auth_dir, NAME, {"type": "claude", "access_token": "tok-1", "email": "a@x"})  # same content
    await eventually(lambda: gw.creds.get(NAME) is not None)
    assert SONNET in await gw.listed()
    upstream.status = 200
    assert await gw.ask() == 200
    assert upstream.tokens == ["Bearer tok-1", "Bearer tok-1"]


async def test_same_json_rewritten_keeps_the_suspension(gateway: Gateway, upstream: Upstream) -> None:
    gw = gateway
    await suspend(gw, upstream)
    before = gw.creds.file_credential(NAME)
    assert before is not None
    # Other bytes, same JSON: the legacy sees no change in the auth and re-registers nothing.
    write(gw.auth_dir, NAME, {"type": "claude", "access_token": "tok-1", "email": "a@x"}, indent=2)
    await eventually(lambda: (gw.creds.file_credential(NAME) or before).revision != before.revision)
    assert SONNET not in await gw.listed()
    upstream.status = 200
    assert await gw.ask() == 500
    assert len(upstream.tokens) == 1


class Recorder:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, ids: Iterable[str]) -> None:
        self.calls.append(list(ids))


class MemoryStore:
    """A store without a watcher: ``reload`` reads whatever ``files`` holds now."""

    kind = "memory"

    def __init__(self) -> None:
        self.files: dict[str, dict[str, Any]] = {}

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def load_all(self) -> LoadResult:
        return LoadResult({name: new_credential(name, dict(meta))
                           for name, meta in self.files.items()}, {})


async def test_listeners_hear_of_changes_re_adds_and_removals_only() -> None:
    pool = UpstreamClient(Timeouts(connect=1.0, first_byte=1.0, idle=1.0))
    store = MemoryStore()
    store.files = {"gemini-a.json": {"type": "gemini", "access_token": "t", "project_id": "p1,p2"},
                   "claude-b.json": {"type": "claude", "access_token": "t"}}
    runtime = CredentialRuntime(store, pool)  # type: ignore[arg-type]
    await runtime.start()
    heard = Recorder()
    runtime.follow_reregistration(heard)
    runtime.follow_reregistration(heard)  # once is enough
    try:
        same = runtime.file_credential("claude-b.json")
        assert same is not None
        runtime.apply(same.with_revision("other"))  # same JSON: nothing to tell
        assert heard.calls == []
        runtime.apply(new_credential("claude-b.json", {"type": "claude", "access_token": "u"}))
        assert heard.calls == [["claude-b.json"]]
        heard.calls.clear()
        # Every view of a multi-project Gemini file, including ones the new copy no longer has.
        runtime.apply(new_credential("gemini-a.json",
                                     {"type": "gemini", "access_token": "t", "project_id": "p1"}))
        assert heard.calls == [["gemini-a.json", "gemini-a.json::p1", "gemini-a.json::p2"]]
        heard.calls.clear()
        runtime.forget("claude-b.json")
        assert heard.calls == [["claude-b.json"]]
        heard.calls.clear()
        # A rescan tells of each file that came, went or changed, and of no other.
        store.files = {"gemini-a.json": {"type": "gemini", "access_token": "t", "project_id": "p1"},
                       "claude-b.json": {"type": "claude", "access_token": "t"},
                       "codex-c.json": {"type": "codex", "access_token": "t"}}
        await runtime.reload()
        assert sorted(call[0] for call in heard.calls) == ["claude-b.json", "codex-c.json"]
    finally:
        await runtime.stop()
        await pool.close()
