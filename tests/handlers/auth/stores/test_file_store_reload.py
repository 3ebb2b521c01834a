"""How soon an outside change to the auth-dir reaches the watcher.

CLIProxyAPI's fsnotify watcher handles a created or replaced credential file at once and a deleted
one after 50 ms (internal/watcher/events.go:67-125, watcher.go:75). Those changes touch the
directory itself, so they must not wait for the next full scan of the files.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from handlers.auth.credential import new_credential
from handlers.auth.stores.file_store import AuthChange, AuthDirWatcher, FileTokenStore

ANN = "claude-ann@example.com.json"
FULL_SCAN = 30.0  # far longer than any wait below: only the directory check can see the change


def claude_meta(token: str) -> dict[str, object]:
    return {"type": "claude", "email": "ann@example.com", "access_token": token}


@pytest.fixture
async def slow_scan(tmp_path: Path) -> AsyncIterator[tuple[AuthDirWatcher, asyncio.Queue[AuthChange]]]:
    store = FileTokenStore(tmp_path)
    await store.start()
    await store.save(new_credential(ANN, claude_meta("at-1")))
    changes: asyncio.Queue[AuthChange] = asyncio.Queue()

    async def on_change(change: AuthChange) -> None:
        changes.put_nowait(change)

    watcher = store.watch(on_change, interval=FULL_SCAN)
    await watcher.start()
    yield watcher, changes
    await store.close()


async def test_a_new_file_is_seen_without_waiting_for_the_full_scan(
        slow_scan: tuple[AuthDirWatcher, asyncio.Queue[AuthChange]], tmp_path: Path) -> None:
    _, changes = slow_scan
    (tmp_path / "codex-new.json").write_text(json.dumps({"type": "codex", "email": "n@example.com"}))
    change = await asyncio.wait_for(changes.get(), 2.0)
    assert (change.kind, change.file_name) == ("upsert", "codex-new.json")


async def test_an_atomic_replace_is_seen_without_waiting_for_the_full_scan(
        slow_scan: tuple[AuthDirWatcher, asyncio.Queue[AuthChange]], tmp_path: Path) -> None:
    watcher, changes = slow_scan
    tmp = tmp_path / f".{ANN}.quotio"
    tmp.write_text(json.dumps(claude_meta("from-quotio")))
    os.replace(tmp, tmp_path / ANN)
    change = await asyncio.wait_for(changes.get(), 2.0)
    assert (change.kind, change.file_name) == ("upsert", ANN)
    assert watcher.credentials[ANN].metadata["access_token"] == "from-quotio"


async def test_a_deleted_file_is_removed_without_waiting_for_the_full_scan(
        slow_scan: tuple[AuthDirWatcher, asyncio.Queue[AuthChange]], tmp_path: Path) -> None:
    watcher, changes = slow_scan
    (tmp_path / ANN).unlink()
    change = await asyncio.wait_for(changes.get(), 2.0)
    assert (change.kind, change.file_name) == ("remove", ANN)
    assert watcher.credentials == {}
