"""The main server's ``/<provider>/callback`` under stray and refused callbacks (compatibility rows
41a, 44): what the browser gets, what ``get-auth-status`` says, and that no file is written."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from tests.handlers.logins.test_routes import api


async def test_a_callback_with_state_but_no_code_is_ignored_and_the_login_keeps_waiting(tmp_path: Path) -> None:
    async with api(tmp_path) as a:
        _, body = await a.call("GET", "anthropic-auth-url")
        state = body["state"]
        status, text = await a.call("GET", "/anthropic/callback", headers={}, params={"state": state})
        assert status == 200 and "Authentication successful!" in text
        assert await a.call("GET", "get-auth-status", params={"state": state}) == (200, {"status": "wait"})
        assert a.env.fake.seen("/claude/token") == []
        # The real callback still finishes it.
        async with a.env.http.get(body["url"], allow_redirects=False) as resp:
            query = parse_qs(urlsplit(resp.headers["Location"]).query)
        status, _ = await a.call("GET", "/anthropic/callback", headers={},
                                 params={"code": query["code"][0], "state": state})
        assert status == 200
        assert await a.status_until_done(state) == {"status": "ok"}
        assert [p.name for p in a.env.auth_dir.glob("*.json")] == ["claude-user@example.com.json"]


async def test_a_provider_error_on_the_main_callback_ends_the_login_with_the_legacy_words(tmp_path: Path) -> None:
    async with api(tmp_path) as a:
        _, body = await a.call("GET", "codex-auth-url")
        status, text = await a.call("GET", "/codex/callback", headers={},
                                    params={"state": body["state"], "error": "access_denied"})
        assert status == 200 and "Authentication successful!" in text  # the legacy's page, whatever it held
        assert await a.status_until_done(body["state"]) == {"status": "error", "error": "Bad Request"}
        assert a.env.fake.seen("/codex/token") == []
        assert list(a.env.auth_dir.iterdir()) == []
