"""A config reload starts the rotation state over for the credentials it re-registers, as the
legacy swaps in fresh auths for them; the others keep theirs."""

from __future__ import annotations

from typing import Any

from quotio_gateway.appkeys import CONFIG_STORE
from tests.fakes.llm_upstream import FakeLLM, status
from tests.handlers.inference.test_faults import CLAUDE_MODEL, MakeGateway, chat, upstreams_config

AUTH_UNAVAILABLE = {"error": {"code": "internal_server_error", "message": "auth_unavailable: no auth available",
                              "type": "server_error"}}


async def cooled(gateway: MakeGateway, fake_llm: FakeLLM) -> Any:
    """A gateway whose only Claude key has just been cooled down for 30 minutes by a 401."""
    client = await gateway(upstreams_config(fake_llm.root))
    fake_llm.script("sk-claude", status(401))
    assert (await client.post("/v1/chat/completions", json=chat(CLAUDE_MODEL))).status == 401
    resp = await client.post("/v1/chat/completions", json=chat(CLAUDE_MODEL))
    assert resp.status == 500 and await resp.json() == AUTH_UNAVAILABLE
    assert len(fake_llm.requests) == 1
    return client


async def test_a_changed_entry_starts_over(gateway: MakeGateway, fake_llm: FakeLLM) -> None:
    client = await cooled(gateway, fake_llm)
    store = client.server.app[CONFIG_STORE]
    edited = store.current.model_copy(deep=True)
    edited.claude_api_key[0].headers = {"X-Team": "a"}
    await store.save(edited)
    resp = await client.post("/v1/chat/completions", json=chat(CLAUDE_MODEL))
    assert resp.status == 200
    assert fake_llm.requests[-1].headers["X-Team"] == "a"


async def test_force_model_prefix_re_registers_every_credential(gateway: MakeGateway, fake_llm: FakeLLM) -> None:
    client = await cooled(gateway, fake_llm)
    store = client.server.app[CONFIG_STORE]
    edited = store.current.model_copy(deep=True)
    edited.force_model_prefix = True
    await store.save(edited)
    assert (await client.post("/v1/chat/completions", json=chat(CLAUDE_MODEL))).status == 200


async def test_an_unrelated_change_keeps_the_cooldown(gateway: MakeGateway, fake_llm: FakeLLM) -> None:
    client = await cooled(gateway, fake_llm)
    store = client.server.app[CONFIG_STORE]
    edited = store.current.model_copy(deep=True)
    edited.gemini_api_key[0].headers = {"X-Other": "1"}
    edited.request_retry = 1
    await store.save(edited)
    resp = await client.post("/v1/chat/completions", json=chat(CLAUDE_MODEL))
    assert resp.status == 500 and await resp.json() == AUTH_UNAVAILABLE
    assert len(fake_llm.requests) == 1
