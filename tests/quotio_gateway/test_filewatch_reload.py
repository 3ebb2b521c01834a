"""When a watched file's edit takes effect: CLIProxyAPI reloads config.yaml 150 ms after the last
write or rename event (internal/watcher/config_reload.go:29-41, watcher.go:76). The poll that
notices the edit must not add its own lag on top of that debounce."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from quotio_gateway import filewatch
from quotio_gateway.filewatch import FileWatcher


async def _watch(path: Path, *, interval: float, debounce: float) -> tuple[FileWatcher, asyncio.Queue[bytes]]:
    seen: asyncio.Queue[bytes] = asyncio.Queue()

    async def on_change(data: bytes) -> None:
        seen.put_nowait(data)

    watcher = FileWatcher(path, on_change, interval=interval, debounce=debounce)
    await watcher.start()
    return watcher, seen


async def test_an_edit_quiet_for_the_debounce_is_read_when_the_poll_sees_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("port: 1\n")
    watcher, seen = await _watch(path, interval=0.02, debounce=5.0)
    try:
        path.write_text("port: 2\n")
        # The wall clock says the edit is 10 s old: the legacy's timer would long have fired,
        # so the reload must not wait another full debounce after the poll.
        real = time.time
        monkeypatch.setattr(filewatch.time, "time", lambda: real() + 10.0)
        assert await asyncio.wait_for(seen.get(), 1.0) == b"port: 2\n"
    finally:
        await watcher.stop()


async def test_a_fresh_edit_still_waits_out_the_debounce(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("port: 1\n")
    watcher, seen = await _watch(path, interval=0.01, debounce=0.4)
    try:
        started = time.monotonic()
        path.write_text("port: 2\n")
        assert await asyncio.wait_for(seen.get(), 2.0) == b"port: 2\n"
        assert time.monotonic() - started >= 0.35
    finally:
        await watcher.stop()


async def test_a_write_inside_the_debounce_restarts_it_and_only_the_last_content_loads(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("port: 1\n")
    watcher, seen = await _watch(path, interval=0.01, debounce=0.4)
    try:
        path.write_text("port: 2\n")
        await asyncio.sleep(0.2)
        second = time.monotonic()
        path.write_text("port: 3\n")
        assert await asyncio.wait_for(seen.get(), 2.0) == b"port: 3\n"
        assert time.monotonic() - second >= 0.35
        await asyncio.sleep(0.3)
        assert seen.empty()
    finally:
        await watcher.stop()
