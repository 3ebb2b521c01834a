"""``GET /v0/management/auth-files`` lists a connected /v1/ws channel as the legacy's runtime-only
``aistudio`` auth, and drops it when the session ends."""

from __future__ import annotations

import asyncio
from typing import Any

from handlers.auth.credential import stable_index
from tests.handlers.credentials.auth_files_gateway import Gateway


async def _relay_entries(gw: Gateway) -> list[dict[str, Any]]:
    return [f for f in await gw.files() if f["provider"] == "aistudio"]


async def test_a_relay_channel_is_listed_while_connected(gateway: Gateway) -> None:
    ws = await gateway.session.ws_connect(gateway.url + "/v1/ws")
    try:
        for _ in range(400):
            entries = await _relay_entries(gateway)
            if entries:
                break
            await asyncio.sleep(0.01)
        [entry] = entries
        name = entry["id"]
        assert name.startswith("aistudio-")
        times = {entry[k] for k in ("created_at", "modtime", "updated_at")}
        assert len(times) == 1
        assert entry == {"account": name, "account_type": "oauth", "auth_index": stable_index("id:" + name),
                         "created_at": entry["created_at"], "disabled": False, "email": name, "id": name,
                         "label": name, "modtime": entry["created_at"], "name": name, "provider": "aistudio",
                         "runtime_only": True, "size": 0, "source": "memory", "status": "active",
                         "status_message": "", "type": "aistudio", "unavailable": False,
                         "updated_at": entry["created_at"]}
        assert list(entry) == sorted(entry)
    finally:
        await ws.close()
    for _ in range(400):
        if not await _relay_entries(gateway):
            break
        await asyncio.sleep(0.01)
    assert await _relay_entries(gateway) == []
    assert len(await gateway.files()) == 5  # the three files (one with two projects) as before
