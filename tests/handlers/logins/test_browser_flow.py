from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from handlers.auth.credential import Credential
from handlers.auth.stores import StoreUnavailable
from handlers.auth.stores.file_store import FileTokenStore
from handlers.logins.authcode import AuthCodeLogin, LoginFailed
from handlers.logins.browser_flow import LoginCancelled, complete_login
from handlers.logins.claude import ClaudeLogin
from handlers.logins.codex import CodexLogin
from handlers.logins.google import AntigravityLogin, GeminiCliLogin
from handlers.logins.iflow import IFlowLogin
from handlers.logins.login_cli import run_browser_login
from handlers.logins.sessions import LoginSessions
from tests.handlers.logins.browser_env import browser_env

# (login, fake family, file the successful login would write, messages for malformed JSON / HTTP 500)
FAULT_CASES = [
    (ClaudeLogin, "claude", "claude-user@example.com.json",
     "Failed to parse token response", "token exchange failed with status 500"),
    (CodexLogin, "codex", "codex-user@example.com-Plus.json",
     "Failed to parse token response", "Token exchange failed with status 500"),
    (GeminiCliLogin, "google", "user@example.com-p1.json", "Failed to exchange token", "Failed to exchange token"),
    (AntigravityLogin, "google", "antigravity-user_example_com.json",
     "Failed to parse token response", "Token exchange failed: 500"),
    (IFlowLogin, "iflow", None, "Authentication failed", "Authentication failed"),
]
OLD = b'{"type":"claude","access_token":"old-but-valid"}'


@pytest.mark.parametrize(("cls", "family", "file_name", "malformed", "http500"), FAULT_CASES)
@pytest.mark.parametrize("fault", ["malformed", "http500"])
async def test_token_endpoint_faults_fail_cleanly_and_keep_old_file(
        tmp_path: Path, cls: type[AuthCodeLogin], family: str, file_name: str | None, malformed: str, http500: str,
        fault: str) -> None:
    async with browser_env(tmp_path) as env:
        env.fake.token_fault[family] = fault
        if file_name:
            (env.auth_dir / file_name).write_bytes(OLD)
        options = {"project_id": "p1"} if cls is GeminiCliLogin else {}
        with pytest.raises(LoginFailed) as info:
            await run_browser_login(cls, env.http, env.endpoints(cls.provider), env.store, env.io(), port=0,
                                    wait_seconds=10, **options)
        assert info.value.message == (malformed if fault == "malformed" else http500)
        names = sorted(p.name for p in env.auth_dir.iterdir())
        assert names == ([file_name] if file_name else [])
        if file_name:
            assert (env.auth_dir / file_name).read_bytes() == OLD


@pytest.mark.parametrize(("cls", "message"), [
    (ClaudeLogin, "Bad request"), (CodexLogin, "Bad Request"), (GeminiCliLogin, "Authentication failed"),
    (AntigravityLogin, "Authentication failed"), (IFlowLogin, "Authentication failed"),
])
async def test_consent_denied(tmp_path: Path, cls: type[AuthCodeLogin], message: str) -> None:
    async with browser_env(tmp_path) as env:
        env.fake.deny_consent = True
        with pytest.raises(LoginFailed) as info:
            await run_browser_login(cls, env.http, env.endpoints(cls.provider), env.store, env.io(), port=0,
                                    wait_seconds=10)
        assert info.value.message == message
        assert list(env.auth_dir.iterdir()) == []
        assert env.fake.seen(f"/{'google' if cls in (GeminiCliLogin, AntigravityLogin) else cls.provider}/token") == []


async def test_a_successful_relogin_replaces_the_file(tmp_path: Path) -> None:
    async with browser_env(tmp_path) as env:
        (env.auth_dir / "claude-user@example.com.json").write_bytes(OLD)
        await run_browser_login(ClaudeLogin, env.http, env.endpoints("claude"), env.store, env.io(), port=0,
                                wait_seconds=10)
        assert (env.auth_dir / "claude-user@example.com.json").read_bytes() != OLD


async def test_timeout_sets_the_legacy_message(tmp_path: Path) -> None:
    async with browser_env(tmp_path) as env:
        sessions = LoginSessions()
        login = GeminiCliLogin(env.http, env.endpoints("gemini-cli"), port=1)
        sessions.register(login.state, login.session_key)
        with pytest.raises(LoginFailed) as info:
            await complete_login(login, sessions, env.store, wait_seconds=0.05)
        assert info.value.message == "OAuth flow timed out"
        assert sessions.status_body(login.state) == (200, {"status": "error", "error": "OAuth flow timed out"})


class RefusingStore(FileTokenStore):
    async def save(self, credential: Credential, *, if_revision: str | None = None) -> Credential:
        raise StoreUnavailable("file store: save failed: read-only file system")


async def test_save_failure_sets_the_legacy_message(tmp_path: Path) -> None:
    async with browser_env(tmp_path) as env:
        store = RefusingStore(env.auth_dir)
        with pytest.raises(LoginFailed) as info:
            await run_browser_login(AntigravityLogin, env.http, env.endpoints("antigravity"), store, env.io(), port=0,
                                    wait_seconds=10)
        assert info.value.message == "Failed to save token to file"
        assert "read-only" in info.value.detail


async def test_session_ended_elsewhere_cancels_the_login(tmp_path: Path) -> None:
    async with browser_env(tmp_path) as env:
        sessions = LoginSessions()
        login = ClaudeLogin(env.http, env.endpoints("claude"), port=1)
        sessions.register(login.state, login.session_key)
        task = asyncio.ensure_future(complete_login(login, sessions, env.store, wait_seconds=5))
        await asyncio.sleep(0.01)
        sessions.complete_provider("anthropic")
        with pytest.raises(LoginCancelled):
            await task


async def test_busy_callback_port(tmp_path: Path) -> None:
    async with browser_env(tmp_path) as env:
        port = int(env.fake.url.rsplit(":", 1)[1])  # already taken by the fake itself
        with pytest.raises(LoginFailed) as info:
            await run_browser_login(ClaudeLogin, env.http, env.endpoints("claude"), env.store, env.io(), port=port,
                                    wait_seconds=1)
        assert info.value.message == "failed to start callback server"

