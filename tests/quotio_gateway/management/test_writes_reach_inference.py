"""Management writes reach native inference and the model list from the next request on, over
HTTP through the whole app (every route native): the legacy saves the file and its watcher reloads
it, which then applies as an edit on disk would (reference surface §10)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from tests.conftest import SECRET, GatewayFactory, auth
from tests.fakes.llm_upstream import FakeLLM

OK = (200, b'{"status":"ok"}')
HAIKU = "claude-haiku-4-5-20251001"


class Gateway:
    def __init__(self, url: str, session: aiohttp.ClientSession, fake: FakeLLM) -> None:
        self.url, self.session, self.fake = url, session, fake

    async def manage(self, method: str, path: str, **kwargs: Any) -> tuple[int, bytes]:
        async with self.session.request(method, f"{self.url}/v0/management/{path}", headers=auth(SECRET),
                                        **kwargs) as resp:
            return resp.status, await resp.read()

    async def chat(self, model: str, key: str = "client-key") -> tuple[int, bytes]:
        body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
        async with self.session.post(f"{self.url}/v1/chat/completions", json=body,
                                     headers={"Authorization": f"Bearer {key}"}) as resp:
            return resp.status, await resp.read()

    async def model_ids(self) -> list[str]:
        async with self.session.get(f"{self.url}/v1/models", headers={"Authorization": "Bearer client-key"}) as resp:
            assert resp.status == 200
            return sorted(m["id"] for m in (await resp.json())["data"])

    def sent(self) -> list[tuple[str, str]]:
        """(key, model) of every upstream call so far."""
        return [(r.key, r.body["model"]) for r in self.fake.requests]


@pytest.fixture
async def gateway(make_gateway: GatewayFactory, tmp_path: Path, fake_llm: FakeLLM) -> AsyncIterator[Gateway]:
    (tmp_path / "auths").mkdir()
    app = await make_gateway({"default": "native"})
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    async with aiohttp.ClientSession() as session:
        yield Gateway(str(server.make_url("")).rstrip("/"), session, fake_llm)
    await server.close()


def unknown(model: str) -> tuple[int, bytes]:
    return 400, b'{"error":{"message":"unknown provider for model ' + model.encode() + \
        b'","type":"invalid_request_error"}}'


async def test_a_claude_key_put_patched_and_deleted(gateway: Gateway) -> None:
    entry = {"api-key": "sk-a", "base-url": gateway.fake.root, "models": [{"name": HAIKU, "alias": "fast"}]}
    assert await gateway.manage("PUT", "claude-api-key", json=[entry]) == OK
    assert await gateway.model_ids() == ["fast"]
    assert (await gateway.chat("fast"))[0] == 200
    assert await gateway.manage("PATCH", "claude-api-key", json={"index": 0, "value": {"prefix": "team"}}) == OK
    assert await gateway.model_ids() == ["fast", "team/fast"]
    assert (await gateway.chat("team/fast"))[0] == 200
    assert await gateway.manage("DELETE", "claude-api-key?api-key=sk-a") == OK
    assert await gateway.chat("fast") == unknown("fast")
    assert await gateway.model_ids() == []
    assert gateway.sent() == [("sk-a", HAIKU)] * 2


async def test_client_keys_replaced_patched_and_deleted(gateway: Gateway) -> None:
    entry = {"api-key": "sk-a", "base-url": gateway.fake.root}
    assert await gateway.manage("PUT", "claude-api-key", json=[entry]) == OK
    assert await gateway.manage("PUT", "api-keys", json=["k2"]) == OK
    assert await gateway.chat(HAIKU) == (401, b'{"error":"Invalid API key"}')
    assert (await gateway.chat(HAIKU, "k2"))[0] == 200
    assert await gateway.manage("PATCH", "api-keys", json={"old": "k2", "new": "k3"}) == OK
    assert await gateway.chat(HAIKU, "k2") == (401, b'{"error":"Invalid API key"}')
    assert (await gateway.chat(HAIKU, "k3"))[0] == 200
    assert await gateway.manage("DELETE", "api-keys?value=k3") == OK
    # No client key left: the legacy's access manager has no provider and lets every call in.
    assert (await gateway.chat(HAIKU, "anything"))[0] == 200


async def test_an_openai_compatible_provider_put_then_deleted(gateway: Gateway) -> None:
    provider = {"name": "local", "base-url": gateway.fake.root + "/v1", "api-key-entries": [{"api-key": "sk-o"}],
                "models": [{"name": "upstream-model", "alias": "m1"}]}
    assert await gateway.manage("PUT", "openai-compatibility", json=[provider]) == OK
    assert await gateway.model_ids() == ["m1"]
    assert (await gateway.chat("m1"))[0] == 200
    assert await gateway.manage("DELETE", "openai-compatibility?name=local") == OK
    assert await gateway.chat("m1") == unknown("m1")
    assert gateway.sent() == [("sk-o", "upstream-model")]


async def test_a_whole_config_put_applies_at_once(gateway: Gateway, tmp_path: Path) -> None:
    text = (tmp_path / "config.yaml").read_text()
    text += f"gemini-api-key:\n  - api-key: sk-g\n    base-url: {gateway.fake.root}\n"
    assert await gateway.manage("PUT", "config.yaml", data=text) == (200, b'{"changed":["config"],"ok":true}')
    assert (await gateway.chat("gemini-2.5-flash"))[0] == 200
    assert gateway.sent() == [("sk-g", "gemini-2.5-flash")]


async def test_a_routing_strategy_put_applies_to_the_next_request(gateway: Gateway) -> None:
    """A deliberate difference (docs/compatibility.md, Rotation): the legacy's handler changes the
    strategy in the config its service compares against on reload (config_basic.go:297,
    service.go:509-545), so it keeps round-robin until restarted; here fill-first applies."""
    entries = [{"api-key": key, "base-url": gateway.fake.root} for key in ("sk-a", "sk-b")]
    assert await gateway.manage("PUT", "claude-api-key", json=entries) == OK
    for _ in range(2):
        assert (await gateway.chat(HAIKU))[0] == 200
    assert sorted(key for key, _ in gateway.sent()) == ["sk-a", "sk-b"]  # round-robin took both
    assert await gateway.manage("PUT", "routing/strategy", json={"value": "fill-first"}) == OK
    for _ in range(3):
        assert (await gateway.chat(HAIKU))[0] == 200
    assert len({key for key, _ in gateway.sent()[2:]}) == 1
