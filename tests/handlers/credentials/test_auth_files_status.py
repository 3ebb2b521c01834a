"""PATCH /v0/management/auth-files/status, the Quotio app's account switch (v6.8's
PatchAuthFileStatus; quotio-client-contract.md §1.3, §8 row 14)."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

from tests.handlers.credentials.auth_files_gateway import CLAUDE, Gateway

CLAUDE_FILE = "claude-ann@example.com.json"


async def patch(gateway: Gateway, body: Any, *, raw: bytes | None = None) -> tuple[int, Any]:
    data = raw if raw is not None else json.dumps(body).encode()
    # The app sends Content-Type: application/json on every call (contract §1.0).
    status, _, payload = await gateway.call("PATCH", "auth-files/status", data=data)
    return status, json.loads(payload)


async def client_models(gateway: Gateway) -> set[str]:
    async with gateway.session.get(gateway.url + "/v1/models",
                                   headers={"Authorization": "Bearer client-key"}) as resp:
        assert resp.status == 200
        return {m["id"] for m in (await resp.json())["data"]}


async def models_become(gateway: Gateway, wanted: bool, model: str = "claude-sonnet-4-5-20250929") -> None:
    """The model list follows a switch once the registry's short debounce has run."""
    async with asyncio.timeout(5):
        while (model in await client_models(gateway)) != wanted:  # noqa: ASYNC110 - an HTTP answer, no event
            await asyncio.sleep(0.02)


async def test_disable_and_enable_reach_the_list_the_file_and_routing(gateway: Gateway) -> None:
    served = await client_models(gateway)
    assert "claude-sonnet-4-5-20250929" in served

    assert await patch(gateway, {"name": CLAUDE_FILE, "disabled": True}) == (200, {"disabled": True, "status": "ok"})
    entry = next(f for f in await gateway.files() if f["name"] == CLAUDE_FILE)
    assert (entry["disabled"], entry["status"], entry["unavailable"]) == (True, "disabled", False)
    # Kept in the file (as v6.8's store keeps it), every other field as it was.
    assert json.loads((gateway.auths / CLAUDE_FILE).read_text()) == {**CLAUDE, "disabled": True}
    await models_become(gateway, False)

    # Quotio re-applies its disabled accounts after every start: the same switch again writes nothing.
    written = (gateway.auths / CLAUDE_FILE).stat().st_mtime_ns
    os.utime(gateway.auths / CLAUDE_FILE, ns=(written - 10**9, written - 10**9))
    assert await patch(gateway, {"name": CLAUDE_FILE, "disabled": True}) == (200, {"disabled": True, "status": "ok"})
    assert (gateway.auths / CLAUDE_FILE).stat().st_mtime_ns == written - 10**9

    assert await patch(gateway, {"name": f"  {CLAUDE_FILE} ", "disabled": False}) == (
        200, {"disabled": False, "status": "ok"})
    entry = next(f for f in await gateway.files() if f["name"] == CLAUDE_FILE)
    assert (entry["disabled"], entry["status"]) == (False, "active")
    assert json.loads((gateway.auths / CLAUDE_FILE).read_text()) == {**CLAUDE, "disabled": False}
    await models_become(gateway, True)
    assert await client_models(gateway) == served


async def test_bad_requests_change_nothing(gateway: Gateway) -> None:
    before = {p.name: p.read_bytes() for p in gateway.auths.iterdir()}
    cases: list[tuple[Any, bytes | None, int, dict[str, str]]] = [
        (None, b"", 400, {"error": "invalid request body"}),
        (None, b"{not json", 400, {"error": "invalid request body"}),
        ({"name": CLAUDE_FILE, "disabled": 1}, None, 400, {"error": "invalid request body"}),
        ({"name": CLAUDE_FILE, "disabled": "true"}, None, 400, {"error": "invalid request body"}),
        ({"name": 7, "disabled": True}, None, 400, {"error": "invalid request body"}),
        ({"disabled": True}, None, 400, {"error": "name is required"}),
        ({"name": "   ", "disabled": True}, None, 400, {"error": "name is required"}),
        (None, b"null", 400, {"error": "name is required"}),
        ({"name": CLAUDE_FILE}, None, 400, {"error": "disabled is required"}),
        ({"name": CLAUDE_FILE, "disabled": None}, None, 400, {"error": "disabled is required"}),
        ({"name": "claude-nobody@example.com.json", "disabled": True}, None, 404, {"error": "auth file not found"}),
        # A Gemini project's runtime-only entry has no file of its own.
        ({"name": "gemini-bob@example.com-all.json::p1", "disabled": True}, None, 404,
         {"error": "auth file not found"}),
        ({"name": "notes.txt", "disabled": True}, None, 404, {"error": "auth file not found"}),
    ]
    for body, raw, status, answer in cases:
        assert await patch(gateway, body, raw=raw) == (status, answer), (body, raw)
    assert {p.name: p.read_bytes() for p in gateway.auths.iterdir()} == before
    assert all(not f["disabled"] for f in await gateway.files() if f["name"] == CLAUDE_FILE)


async def test_needs_the_management_key(gateway: Gateway) -> None:
    async with gateway.session.patch(gateway.url + "/v0/management/auth-files/status",
                                     json={"name": CLAUDE_FILE, "disabled": True}) as resp:
        assert resp.status == 401
    assert "disabled" not in json.loads((gateway.auths / CLAUDE_FILE).read_text())
