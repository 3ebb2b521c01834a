"""DELETE /v0/management/auth-files with names the token store cannot hold (DeleteAuthFile,
auth_files.go:604-668): they answered 500 "internal error in the gateway" (an uncaught ValueError)."""

from __future__ import annotations

import json

from tests.handlers.credentials.auth_files_gateway import CLAUDE, GEMINI, Gateway


async def test_delete_of_a_name_no_credential_can_have_is_not_found(gateway: Gateway) -> None:
    (gateway.auths / ".hidden.json").write_text(json.dumps(CLAUDE))
    # A Gemini project's runtime-only id (as listed), a non-JSON name, a dot file: the legacy's
    # os.Remove of <auth-dir>/<name> finds no credential there.
    for name in ("gemini-bob@example.com-all.json::p1", "notes.txt", ".hidden.json"):
        status, _, body = await gateway.call("DELETE", "auth-files", params={"name": name})
        assert (status, json.loads(body)) == (404, {"error": "file not found"}), name
    assert (gateway.auths / "gemini-bob@example.com-all.json").exists()


async def test_delete_all_leaves_dot_files_and_deletes_the_rest(gateway: Gateway) -> None:
    (gateway.auths / ".hidden.json").write_text(json.dumps(GEMINI))
    status, _, body = await gateway.call("DELETE", "auth-files", params={"all": "true"})
    assert (status, json.loads(body)) == (200, {"deleted": 3, "status": "ok"})
    assert sorted(p.name for p in gateway.auths.iterdir() if p.suffix == ".json") == [".hidden.json"]
    assert await gateway.files() == []
