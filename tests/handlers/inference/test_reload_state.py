"""A config reload starts the rotation state over for the credentials it re-registers, as the
legacy swaps in fresh auths for them; the others keep theirs."""

from __future__ import annotations

from typing import Any

from handlers.models.registry import CredentialRecord
from quotio_gateway.appkeys import CONFIG_STORE
from tests.fakes.llm_upstream import FakeLLM, status
from tests.handlers.inference.test_faults import CLAUDE_MODEL, MakeGateway, chat, runtime_of, upstreams_config

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


async def test_a_key_removed_and_added_back_starts_over(gateway: MakeGateway, fake_llm: FakeLLM) -> None:
    """dispatcher.go:118-127: removing a key deletes its auth; adding it back adds a new one."""
    client = await cooled(gateway, fake_llm)
    store = client.server.app[CONFIG_STORE]
    original = store.current.model_copy(deep=True)
    without = store.current.model_copy(deep=True)
    without.claude_api_key = []
    await store.save(without)
    resp = await client.post("/v1/chat/completions", json=chat(CLAUDE_MODEL))
    assert resp.status == 400  # no key serves the model now
    await store.save(original)
    assert (await client.post("/v1/chat/completions", json=chat(CLAUDE_MODEL))).status == 200


async def test_a_global_proxy_change_keeps_the_cooldown(gateway: MakeGateway, fake_llm: FakeLLM) -> None:
    """The legacy's auths carry only their entry's own proxy-url (synthesizer/config.go:120-127):
    the top-level one changing re-registers nothing."""
    client = await cooled(gateway, fake_llm)
    store = client.server.app[CONFIG_STORE]
    edited = store.current.model_copy(deep=True)
    edited.proxy_url = "http://127.0.0.1:9"
    await store.save(edited)
    resp = await client.post("/v1/chat/completions", json=chat(CLAUDE_MODEL))
    assert resp.status == 500 and await resp.json() == AUTH_UNAVAILABLE
    assert len(fake_llm.requests) == 1


async def test_oauth_excluded_models_start_that_providers_files_over(gateway: MakeGateway, fake_llm: FakeLLM) -> None:
    """config_reload.go:109: a change of a provider's ``oauth-excluded-models`` re-registers that
    provider's credential files; other files and the API keys keep their state."""
    records = [CredentialRecord("claude", id="claude-a.json"), CredentialRecord("codex", id="codex-a.json")]
    client = await gateway(upstreams_config(fake_llm.root), records=records)
    runtime = runtime_of(client)
    runtime.retry_settings()  # the runtime takes the first config, as on its first request
    api_key = runtime.registry.current.credentials[0].id
    assert api_key.startswith("gemini:apikey:")
    for ident in ("claude-a.json", "codex-a.json", api_key):
        runtime.state.mark_failure(ident, CLAUDE_MODEL, 401, reason="unauthorized")
    store = client.server.app[CONFIG_STORE]
    edited = store.current.model_copy(deep=True)
    edited.oauth_excluded_models = {"claude": ["nothing-*"]}
    await store.save(edited)
    runtime.retry_settings()  # the runtime takes the new config on its next request
    assert runtime.state.get("claude-a.json", CLAUDE_MODEL) is None
    assert runtime.state.get("codex-a.json", CLAUDE_MODEL) is not None
    assert runtime.state.get(api_key, CLAUDE_MODEL) is not None


async def test_a_file_registered_again_since_the_last_reload_keeps_its_new_state(gateway: MakeGateway,
                                                                                fake_llm: FakeLLM) -> None:
    """A credential file that changed on disk starts over when it is registered again; a later,
    unrelated config reload does not reset it a second time."""
    records = [CredentialRecord("claude", id="claude-a.json")]
    client = await gateway(upstreams_config(fake_llm.root), records=records)
    runtime = runtime_of(client)
    runtime.retry_settings()
    records[0] = CredentialRecord("claude", prefix="team", id="claude-a.json")  # the file changed
    runtime.registry.refresh()
    runtime.state.mark_failure("claude-a.json", CLAUDE_MODEL, 401, reason="unauthorized")
    store = client.server.app[CONFIG_STORE]
    edited = store.current.model_copy(deep=True)
    edited.request_retry = 2
    await store.save(edited)
    runtime.retry_settings()
    assert runtime.state.get("claude-a.json", CLAUDE_MODEL) is not None
