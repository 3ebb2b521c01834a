"""A Gemini CLI token refreshed by the gateway itself does not wipe the file's rotation state.

CLIProxyAPI v6.7.15 (9b72ea9ef) refreshes a Gemini CLI token in memory only: the executor's
oauth2 token source puts the new token into the request's copy of the auth, or into the shared
credential of a multi-project file (internal/runtime/executor/gemini_cli_executor.go:561-638,
internal/runtime/geminicli/state.go), its ``Refresh`` does nothing (gemini_cli_executor.go:557-559)
and the background refresher skips the provider (sdk/auth/gemini.go:26-28). Nothing reaches the
file, so the watcher never registers it again and every project keeps its cooldowns, quota marks
and backoff levels (a 404 stays cooled for 12 h). The gateway writes the refreshed token back;
that write must not count as a re-registration. An outside edit of the file still does, and so
does an own refresh of a provider the legacy refreshes by rewriting the file (Claude here).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from handlers.auth.credential import Credential
from handlers.auth.stores.file_store import FileTokenStore
from handlers.credentials import CredentialRuntime
from handlers.providers import Timeouts, UpstreamClient
from handlers.rotation import RotationState
from tests.conftest import eventually

GEMINI = "gemini-u1-all.json"
CLAUDE = "claude-a.json"
MODEL = "gemini-2.5-pro"


def stamp(minutes: float) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def write(auth_dir: Path, name: str, payload: dict[str, Any]) -> None:
    (auth_dir / name).write_text(json.dumps(payload))


def gemini_file(token: str, expiry: str) -> dict[str, Any]:
    return {"type": "gemini", "email": "u1@x.com", "project_id": "p1,p2",
            "token": {"access_token": token, "refresh_token": "rt", "token_type": "Bearer", "expiry": expiry}}


async def refresher(credential: Credential) -> Credential:
    """Stands in for the refresh manager: a new token an hour ahead (it saves the file too)."""
    if credential.provider == "gemini-cli":
        return credential.with_metadata(token={"access_token": "fresh", "refresh_token": "rt",
                                               "token_type": "Bearer", "expiry": stamp(60)})
    return credential.with_metadata(access_token="fresh", expired=stamp(60))


async def unauthorized(file_name: str, used_token: str) -> Credential | None:
    return None


@pytest.fixture
async def client() -> AsyncIterator[UpstreamClient]:
    pool = UpstreamClient(Timeouts(connect=1.0, first_byte=1.0, idle=1.0))
    yield pool
    await pool.close()


async def started(auth_dir: Path, client: UpstreamClient, state: RotationState, **hooks: Any) -> CredentialRuntime:
    runtime = CredentialRuntime(FileTokenStore(auth_dir), client, refresher=refresher, watch_interval=0.02,
                                **hooks)
    await runtime.start()
    runtime.follow_reregistration(state.forget)
    return runtime


def cool(state: RotationState) -> None:
    state.mark_failure(f"{GEMINI}::p2", MODEL, 404)
    state.mark_failure(f"{GEMINI}::p1", MODEL, 429, retry_after=3600.0)
    state.mark_failure(CLAUDE, "claude-sonnet-4-5-20250929", 403)


async def test_a_gemini_token_refreshed_on_use_keeps_every_projects_cooldowns(tmp_path: Path, client) -> None:
    write(tmp_path, GEMINI, gemini_file("stale", stamp(-1)))
    state = RotationState()
    runtime = await started(tmp_path, client, state)
    try:
        cool(state)
        view = runtime.get(f"{GEMINI}::p1")
        assert view is not None
        assert await view.tokens.access_token() == "fresh"
        assert state.block(f"{GEMINI}::p2", MODEL).reason == "other"
        assert state.block(f"{GEMINI}::p1", MODEL).reason == "cooldown"
    finally:
        await runtime.stop()


async def test_a_gemini_token_refreshed_after_a_401_keeps_the_state(tmp_path: Path, client) -> None:
    write(tmp_path, GEMINI, gemini_file("old", stamp(60)))
    state = RotationState()

    async def refused_once(file_name: str, used_token: str) -> Credential | None:
        current = runtime.file_credential(file_name)
        assert current is not None
        return await refresher(current)

    runtime = await started(tmp_path, client, state, unauthorized=refused_once)
    try:
        cool(state)
        assert await runtime.refresh_now(f"{GEMINI}::p1") is True
        assert state.block(f"{GEMINI}::p2", MODEL).blocked
        assert state.block(f"{GEMINI}::p1", MODEL).blocked
    finally:
        await runtime.stop()


async def test_an_outside_edit_of_a_gemini_file_still_starts_over(tmp_path: Path, client) -> None:
    write(tmp_path, GEMINI, gemini_file("old", stamp(60)))
    state = RotationState()
    runtime = await started(tmp_path, client, state)
    try:
        cool(state)
        write(tmp_path, GEMINI, gemini_file("edited", stamp(60)))
        await eventually(lambda: not state.block(f"{GEMINI}::p2", MODEL).blocked)
        assert not state.block(f"{GEMINI}::p1", MODEL).blocked
    finally:
        await runtime.stop()


async def test_a_claude_token_refreshed_by_the_gateway_still_starts_over(tmp_path: Path, client) -> None:
    """The legacy refreshes Claude in the background and rewrites the file: registered again."""
    write(tmp_path, CLAUDE, {"type": "claude", "access_token": "stale", "expired": stamp(-1)})
    state = RotationState()
    runtime = await started(tmp_path, client, state)
    try:
        cool(state)
        view = runtime.get(CLAUDE)
        assert view is not None
        assert await view.tokens.access_token() == "fresh"
        assert not state.block(CLAUDE, "claude-sonnet-4-5-20250929").blocked
    finally:
        await runtime.stop()
