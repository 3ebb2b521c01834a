"""config.yaml edited the way the Quotio app edits it while the server runs (contract §2.3).

The app rewrites single lines by regex (``allow-remote`` on tunnel start, custom-provider sections)
and saves with an atomic write: a temp file renamed over config.yaml, so the inode changes. An
editor or script may also rewrite the file in place. Both must reach the running config.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from quotio_gateway.config.store import ConfigStore

QUOTIO = ('host: "127.0.0.1"\nport: 8317\nauth-dir: "/tmp/quotio-auth"\nproxy-url: ""\n'
          'api-keys:\n  - "quotio-local-1"\n'
          'remote-management:\n  allow-remote: false\n'
          '  secret-key: "$2a$10$abcdefghijklmnopqrstuu5mGAjsFv4rF8bJpCXD3d6N3hnqkE3mW"\n'
          "debug: false\nlogging-to-file: false\nusage-statistics-enabled: true\n"
          'routing:\n  strategy: "round-robin"\n'
          "quota-exceeded:\n  switch-project: true\n  switch-preview-model: true\n"
          "request-retry: 3\nmax-retry-interval: 30\noauth-model-alias: {}\n")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[tuple[ConfigStore, asyncio.Queue[bool]]]:
    path = tmp_path / "config.yaml"
    path.write_text(QUOTIO)
    reloads: asyncio.Queue[bool] = asyncio.Queue()
    config_store = ConfigStore(path, on_reload=reloads.put_nowait)
    await config_store.start()
    yield config_store, reloads
    await config_store.stop()


def atomic_rewrite(path: Path, old: str, new: str) -> None:
    """What `String.write(to:atomically: true)` does: write a sibling temp file, rename it over."""
    text = path.read_text()
    assert text.count(old) == 1
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".config.yaml.")
    with os.fdopen(fd, "w") as fh:
        fh.write(text.replace(old, new))
    os.rename(tmp, path)


async def test_atomic_rename_edits_reload(store: tuple[ConfigStore, asyncio.Queue[bool]]) -> None:
    config_store, reloads = store
    assert config_store.path is not None
    inode = config_store.path.stat().st_ino
    atomic_rewrite(config_store.path, "allow-remote: false", "allow-remote: true")
    assert config_store.path.stat().st_ino != inode
    assert await asyncio.wait_for(reloads.get(), 5) is True
    assert config_store.current.remote_management.allow_remote is True

    # The watcher follows the new file: the next rename (tunnel stopped) is seen as well.
    atomic_rewrite(config_store.path, "allow-remote: true", "allow-remote: false")
    assert await asyncio.wait_for(reloads.get(), 5) is True
    assert config_store.current.remote_management.allow_remote is False


async def test_in_place_rewrite_reloads(store: tuple[ConfigStore, asyncio.Queue[bool]]) -> None:
    config_store, reloads = store
    assert config_store.path is not None
    inode = config_store.path.stat().st_ino
    text = config_store.path.read_text()
    # Path.write_text truncates and writes: the same inode.
    config_store.path.write_text(text.replace('strategy: "round-robin"', 'strategy: "fill-first"'))
    assert config_store.path.stat().st_ino == inode
    assert await asyncio.wait_for(reloads.get(), 5) is True
    assert config_store.current.routing.strategy == "fill-first"
