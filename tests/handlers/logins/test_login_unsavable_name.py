"""A login whose credential file name the store refuses ends with the save failure in
get-auth-status, instead of a crashed task whose session reads "wait" and, once expired, "ok"."""

from __future__ import annotations

from pathlib import Path

import pytest

from handlers.logins.claude import ClaudeLogin
from tests.handlers.logins.test_routes import api


async def test_project_id_with_a_path_separator_fails_the_login(tmp_path: Path) -> None:
    async with api(tmp_path) as a:
        _, body = await a.call("GET", "gemini-cli-auth-url", params={"project_id": "a\\b", "is_webui": "true"})
        await a.env.consent(body["url"])
        assert await a.status_until_done(body["state"]) == \
            {"status": "error", "error": "Failed to save token to file"}
        assert [p.name for p in a.env.auth_dir.iterdir() if not p.name.startswith(".")] == []



async def test_an_unexpected_error_in_a_login_is_reported_not_left_pending(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(self: ClaudeLogin, callback: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(ClaudeLogin, "finish", broken)
    async with api(tmp_path) as a:
        _, body = await a.call("GET", "anthropic-auth-url")
        await a.call("POST", "oauth-callback", json={"provider": "claude", "state": body["state"], "code": "c"})
        assert await a.status_until_done(body["state"]) == {"status": "error", "error": "Authentication failed"}
