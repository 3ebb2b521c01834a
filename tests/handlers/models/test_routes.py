"""Native model-list routes over real sockets: auth, the three shapes, lookups and hot reload."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aiohttp import web

from handlers.models.availability import STANDING
from handlers.models.catalog import CLAUDE, GEMINI, GEMINI_CLI
from handlers.models.registry import CredentialRecord, registry_for
from handlers.models.routes import get_gemini_model, get_gemini_models, get_v1_models, setup_model_routes
from handlers.rotation.state import RotationState
from quotio_gateway.appkeys import CONFIG_STORE
from quotio_gateway.config import ConfigStore
from quotio_gateway.config.models import ClaudeKey, ModelAlias
from quotio_gateway.native import NativeRegistry

CONFIG = """
gemini-api-key:
  - api-key: g-upstream
    prefix: teamA
openai-compatibility:
  - name: Local
    base-url: http://127.0.0.1:9/v1
    prefix: teamA
    models: [{name: llama, alias: m1}]
"""
MISSING = b'{"error":"Missing API key"}'
INVALID = b'{"error":"Invalid API key"}'
NOT_FOUND = b'{"error":{"message":"Not Found","type":"not_found"}}'


async def _client(aiohttp_client: Any, tmp_path: Path, text: str,
                  standing: RotationState | None = None) -> tuple[Any, ConfigStore]:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    store = ConfigStore(path)
    registry = NativeRegistry()
    setup_model_routes(registry)
    app = web.Application()
    app[CONFIG_STORE] = store
    if standing is not None:
        app[STANDING] = standing
    for route in registry.routes:
        app.router.add_route(route.method, route.path, route.handler)
    return await aiohttp_client(app), store


def test_routes_registered() -> None:
    registry = NativeRegistry()
    setup_model_routes(registry)
    assert [(r.method, r.path, r.handler) for r in registry.routes] == [
        ("GET", "/v1/models", get_v1_models),
        ("GET", "/v1beta/models", get_gemini_models),
        ("GET", "/v1beta/models/{action:.*}", get_gemini_model),
    ]


async def test_openai_and_claude_lists_when_open(aiohttp_client: Any, tmp_path: Path) -> None:
    client, _ = await _client(aiohttp_client, tmp_path, CONFIG)
    response = await client.get("/v1/models", headers={"User-Agent": "OpenAI/Python 1.0"})
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    body = json.loads(await response.read())
    expected_ids = [i for m in GEMINI for i in (m.id, f"teamA/{m.id}")] + ["m1", "teamA/m1"]
    assert [item["id"] for item in body["data"]] == expected_ids
    assert body["object"] == "list"
    assert body["data"][0] == {"created": 1750118400, "id": "gemini-2.5-pro", "object": "model",
                               "owned_by": "google"}
    assert set(body["data"][-1]) == {"created", "id", "object", "owned_by"}

    response = await client.get("/v1/models", headers={"User-Agent": "claude-cli/2.0.0 (external, cli)"})
    body = json.loads(await response.read())
    assert list(body) == ["data"]
    assert body["data"][0] == {"created": 1750118400, "display_name": "Gemini 2.5 Pro", "id": "gemini-2.5-pro",
                               "object": "model", "owned_by": "google", "type": "gemini"}
    assert body["data"][-1]["type"] == "openai-compatibility"
    assert body["data"][-1]["owned_by"] == "Local"


async def test_gemini_list_and_get(aiohttp_client: Any, tmp_path: Path) -> None:
    client, _ = await _client(aiohttp_client, tmp_path, CONFIG)
    body = json.loads(await (await client.get("/v1beta/models")).read())
    first = body["models"][0]
    assert first["name"] == "models/gemini-2.5-pro"
    assert first["displayName"] == first["description"] == "models/gemini-2.5-pro"
    assert body["models"][-1] == {"description": "teamA/m1", "displayName": "teamA/m1", "name": "models/teamA/m1",
                                  "supportedGenerationMethods": ["generateContent"]}

    for path in ("/v1beta/models/gemini-2.5-pro", "/v1beta/models/models/gemini-2.5-pro"):
        response = await client.get(path)
        assert response.status == 200
        item = json.loads(await response.read())
        assert item["name"] == "models/gemini-2.5-pro"
        assert item["displayName"] == "Gemini 2.5 Pro"
    response = await client.get("/v1beta/models/teamA/m1")
    assert await response.read() == b'{"displayName":"m1","name":"models/teamA/m1"}'

    # A prefixed catalogue model keeps the catalogue's Gemini name, so its prefixed ID is not found.
    for path in ("/v1beta/models/teamA/gemini-2.5-pro", "/v1beta/models/", "/v1beta/models/nope",
                 "/v1beta/models/gemini-2.5-pro:generateContent"):  # GET looks a model up by that name
        response = await client.get(path)
        assert response.status == 404
        assert response.headers["Content-Type"] == "application/json; charset=utf-8"
        assert await response.read() == NOT_FOUND


async def test_client_auth_on_every_route(aiohttp_client: Any, tmp_path: Path) -> None:
    client, _ = await _client(aiohttp_client, tmp_path, "api-keys: [sk-client]\n" + CONFIG)
    for path in ("/v1/models", "/v1beta/models", "/v1beta/models/gemini-2.5-pro", "/v1beta/models/nope"):
        missing = await client.get(path)
        assert (missing.status, await missing.read()) == (401, MISSING)
        assert missing.headers["Content-Type"] == "application/json; charset=utf-8"
        invalid = await client.get(path, headers={"Authorization": "Bearer sk-other"})
        assert (invalid.status, await invalid.read()) == (401, INVALID)
    ok = await client.get("/v1/models", headers={"Authorization": "Bearer sk-client"})
    assert ok.status == 200
    ok = await client.get("/v1beta/models?key=sk-client")
    assert ok.status == 200
    ok = await client.get("/v1beta/models/gemini-2.5-pro", headers={"X-Goog-Api-Key": "sk-client"})
    assert ok.status == 200
    ok = await client.get("/v1/models", headers={"X-Api-Key": "sk-client", "User-Agent": "claude-cli/1"})
    assert ok.status == 200


async def test_config_changes_apply_at_once(aiohttp_client: Any, tmp_path: Path) -> None:
    client, store = await _client(aiohttp_client, tmp_path, CONFIG)
    update = {
        "api_keys": ["sk-new"],
        "gemini_api_key": [],
        "openai_compatibility": [],
        "claude_api_key": [ClaudeKey(api_key="c", models=[ModelAlias(name="claude-opus-4-5-20251101", alias="opus")])],
    }
    await store.save(store.current.model_copy(update=update))
    response = await client.get("/v1/models")
    assert (response.status, await response.read()) == (401, MISSING)
    response = await client.get("/v1/models", headers={"Authorization": "sk-new"})
    body = json.loads(await response.read())
    assert [item["id"] for item in body["data"]] == ["opus"]
    assert body["data"][0]["owned_by"] == "anthropic"


SONNET = "claude-sonnet-4-5-20250929"
ONE_CLAUDE_KEY = "claude-api-key:\n  - api-key: c-upstream\n"


async def _lists(client: Any) -> tuple[list[str], list[str], list[str]]:
    """The IDs of the OpenAI and Claude lists and the names of the Gemini list."""
    openai = json.loads(await (await client.get("/v1/models")).read())
    claude = json.loads(await (await client.get("/v1/models", headers={"User-Agent": "claude-cli/2"})).read())
    gemini = json.loads(await (await client.get("/v1beta/models")).read())
    return ([m["id"] for m in openai["data"]], [m["id"] for m in claude["data"]],
            [m["name"] for m in gemini["models"]])


async def test_a_model_whose_only_key_answered_401_leaves_every_list(aiohttp_client: Any, tmp_path: Path) -> None:
    """``GetAvailableModels`` (model_registry.go:704-751) feeds all three handlers and the Gemini
    get-model lookup, so a model nobody else serves disappears from each, and its get answers 404."""
    state = RotationState(lambda: 1_000_000.0)
    client, store = await _client(aiohttp_client, tmp_path, ONE_CLAUDE_KEY, state)
    every = [m.id for m in CLAUDE]
    assert await _lists(client) == (every, every, [f"models/{i}" for i in every])

    [key] = registry_for(store).current.clients(SONNET)
    state.mark_failure(key, SONNET, 401)
    rest = [i for i in every if i != SONNET]
    assert await _lists(client) == (rest, rest, [f"models/{i}" for i in rest])
    response = await client.get(f"/v1beta/models/{SONNET}")
    assert (response.status, await response.read()) == (404, NOT_FOUND)

    # A quota answer never hides a model (only-quota-cooling clients keep it listed).
    state.mark_success(key, SONNET)
    state.mark_failure(key, SONNET, 429)
    assert await _lists(client) == (every, every, [f"models/{i}" for i in every])
    response = await client.get(f"/v1beta/models/{SONNET}")
    assert response.status == 200
    assert json.loads(await response.read())["name"] == f"models/{SONNET}"


async def test_a_suspended_bare_id_is_still_found_by_its_prefixed_twins_gemini_name(
        aiohttp_client: Any, tmp_path: Path) -> None:
    """The registry suspends one ID; ``teamA/gemini-2.5-pro`` is another registration whose Gemini
    name is still ``models/gemini-2.5-pro`` (applyModelPrefixes copies the ModelInfo and changes only
    the ID), so the Gemini list keeps one entry of that name and the get still answers it."""
    state = RotationState(lambda: 1_000_000.0)
    client, store = await _client(aiohttp_client, tmp_path, CONFIG, state)
    pro = "gemini-2.5-pro"
    [key] = registry_for(store).current.clients(pro)
    _, _, names = await _lists(client)
    assert names.count(f"models/{pro}") == 2
    state.mark_failure(key, pro, 403)
    openai, claude, names = await _lists(client)
    assert pro not in openai and pro not in claude
    assert f"teamA/{pro}" in openai and f"teamA/{pro}" in claude
    assert names.count(f"models/{pro}") == 1
    response = await client.get(f"/v1beta/models/{pro}")
    assert response.status == 200
    assert json.loads(await response.read())["name"] == f"models/{pro}"


async def test_forced_prefix_lists_only_prefixed_ids_but_gemini_names_stay_bare(
        aiohttp_client: Any, tmp_path: Path) -> None:
    client, _ = await _client(aiohttp_client, tmp_path, "force-model-prefix: true\n" + CONFIG)
    openai, claude, names = await _lists(client)
    assert openai == claude == [f"teamA/{m.id}" for m in GEMINI] + ["teamA/m1"]
    assert names == [m.name for m in GEMINI] + ["models/teamA/m1"]
    response = await client.get("/v1beta/models/gemini-2.5-pro")
    assert response.status == 200
    response = await client.get("/v1beta/models/teamA/gemini-2.5-pro")
    assert (response.status, await response.read()) == (404, NOT_FOUND)
    response = await client.get("/v1beta/models/m1")
    assert (response.status, await response.read()) == (404, NOT_FOUND)


async def test_oauth_credentials_list_with_exclusions_aliases_and_prefix(aiohttp_client: Any, tmp_path: Path) -> None:
    """service.go:679-863: an OAuth record gets ``oauth-excluded-models[provider]``, then
    ``oauth-model-alias`` (renaming the Gemini ``name`` too), then its prefix; the API key beside it
    keeps the catalogue and ignores both OAuth sections."""
    text = """
oauth-excluded-models:
  gemini-cli: ["*flash*"]
oauth-model-alias:
  gemini-cli:
    - {name: gemini-2.5-pro, alias: g-pro}
"""
    client, store = await _client(aiohttp_client, tmp_path, text)
    registry_for(store).set_credentials(lambda: [CredentialRecord(provider="gemini-cli", prefix="me", id="a.json")])
    kept = [m for m in GEMINI_CLI if "flash" not in m.id]
    ids = [("g-pro" if m.id == "gemini-2.5-pro" else m.id) for m in kept]
    openai, claude, names = await _lists(client)
    assert openai == claude == [i for base in ids for i in (base, f"me/{base}")]
    assert names[:2] == ["models/g-pro", "models/g-pro"]
    body = json.loads(await (await client.get("/v1/models", headers={"User-Agent": "claude-cli/2"})).read())
    assert body["data"][0] == {"created": 1750118400, "display_name": "Gemini 2.5 Pro", "id": "g-pro",
                               "object": "model", "owned_by": "google", "type": "gemini"}
    response = await client.get("/v1beta/models/g-pro")
    item = json.loads(await response.read())
    assert (item["name"], item["displayName"]) == ("models/g-pro", "Gemini 2.5 Pro")
    response = await client.get("/v1beta/models/gemini-2.5-pro")
    assert response.status == 404
