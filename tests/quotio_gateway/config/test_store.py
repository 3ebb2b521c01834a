from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import bcrypt
import pytest
import yaml

from quotio_gateway.config.loader import ConfigError
from quotio_gateway.config.models import Config
from quotio_gateway.config.store import ConfigStore

BASE = "# managed by hand\nport: 8317\ndebug: false\noauth-model-alias: {}\n"


class Recorder:
    def __init__(self) -> None:
        self.reloads: list[bool] = []
        self.changes: list[tuple[Config, Config]] = []
        self._queue: asyncio.Queue[bool] = asyncio.Queue()

    def on_reload(self, ok: bool) -> None:
        self.reloads.append(ok)
        self._queue.put_nowait(ok)

    async def next_reload(self) -> bool:
        return await asyncio.wait_for(self._queue.get(), 5.0)

    def listener(self, old: Config, new: Config) -> None:
        self.changes.append((old, new))


def _edit(path: Path, text: str) -> None:
    path.write_text(text)
    # Make sure the poller sees a new stat even on coarse-mtime filesystems.
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[tuple[ConfigStore, Recorder, Path]]:
    path = tmp_path / "config.yaml"
    path.write_text(BASE)
    rec = Recorder()
    store = ConfigStore(path, on_reload=rec.on_reload)
    store.subscribe(rec.listener)
    await store.start()
    yield store, rec, path
    await store.stop()


async def test_edit_reloads(running: tuple[ConfigStore, Recorder, Path]) -> None:
    store, rec, path = running
    assert store.current.debug is False and store.path == path
    _edit(path, BASE.replace("debug: false", "debug: true"))
    assert await rec.next_reload() is True
    assert store.current.debug is True
    assert len(rec.changes) == 1
    old, new = rec.changes[0]
    assert old.debug is False and new is store.current


async def test_bad_edit_keeps_last_good(running: tuple[ConfigStore, Recorder, Path]) -> None:
    store, rec, path = running
    before = store.current
    _edit(path, "port: [unclosed\n")
    assert await rec.next_reload() is False
    assert store.current is before and rec.changes == []
    assert store.last_error is not None and "line 2" in store.last_error
    _edit(path, "port: not-a-number\n")
    assert await rec.next_reload() is False
    assert store.current is before
    assert store.last_error == f"invalid config {path}: key 'port': Input should be a valid integer"
    _edit(path, BASE.replace("8317", "9000"))
    assert await rec.next_reload() is True
    assert store.current.port == 9000 and store.last_error is None


async def test_touch_and_empty_file_do_not_reload(running: tuple[ConfigStore, Recorder, Path]) -> None:
    store, rec, path = running
    _edit(path, BASE)  # same bytes, new mtime
    _edit(path, "")
    await asyncio.sleep(0.8)
    assert rec.reloads == [] and store.current.port == 8317


async def test_plaintext_secret_edit_hashed_once(running: tuple[ConfigStore, Recorder, Path]) -> None:
    store, rec, path = running
    _edit(path, BASE + "remote-management:\n  secret-key: pw\n")
    assert await rec.next_reload() is True
    hashed = store.current.remote_management.secret_key
    assert bcrypt.checkpw(b"pw", hashed.encode())
    assert yaml.safe_load(path.read_text())["remote-management"]["secret-key"] == hashed
    await asyncio.sleep(0.8)  # the write-back of the hash is not a second reload
    assert rec.reloads == [True]


async def test_save_updates_at_once_without_reload_loop(running: tuple[ConfigStore, Recorder, Path]) -> None:
    store, rec, path = running
    cfg = store.current.model_copy(deep=True)
    cfg.debug = True
    cfg.api_keys = ["k1"]
    await store.save(cfg)
    assert store.current.debug is True and store.current.api_keys == ["k1"]
    assert path.read_text().startswith("# managed by hand\nport: 8317\ndebug: true\n")
    assert len(rec.changes) == 1
    await asyncio.sleep(0.8)
    assert rec.reloads == [] and len(rec.changes) == 1


async def test_concurrent_saves_are_serialised(running: tuple[ConfigStore, Recorder, Path]) -> None:
    store, _, path = running
    configs = []
    for retry in range(1, 6):
        cfg = store.current.model_copy(deep=True)
        cfg.request_retry = retry
        configs.append(cfg)
    await asyncio.gather(*(store.save(c) for c in configs))
    assert store.current.request_retry == 5
    assert yaml.safe_load(path.read_text())["request-retry"] == 5


async def test_save_raw_validates_then_replaces(running: tuple[ConfigStore, Recorder, Path]) -> None:
    store, rec, path = running
    new = await store.save_raw(b"port: 8317\nws-auth: true\nremote-management:\n  secret-key: pw2\n"
                               b"oauth-model-alias: {}\n")
    assert new is store.current and new.ws_auth is True
    assert bcrypt.checkpw(b"pw2", new.remote_management.secret_key.encode())
    assert "pw2" not in path.read_text()
    before = path.read_bytes()
    with pytest.raises(ConfigError) as info:
        await store.save_raw(b"port: [\n")
    assert info.value.kind == "yaml"
    with pytest.raises(ConfigError) as info:
        await store.save_raw(b"debug: 7\n")
    assert (info.value.kind, info.value.key) == ("schema", "debug")
    assert path.read_bytes() == before and store.current is new
    assert sorted(p.name for p in path.parent.iterdir()) == ["config.yaml"]
    await asyncio.sleep(0.8)
    assert rec.reloads == []


async def test_listener_errors_do_not_stop_others(running: tuple[ConfigStore, Recorder, Path]) -> None:
    store, rec, _ = running

    def broken(old: Config, new: Config) -> None:
        raise RuntimeError("boom")

    store.subscribe(broken)
    seen: list[int] = []
    store.subscribe(lambda old, new: seen.append(new.port))
    cfg = store.current.model_copy(deep=True)
    cfg.port = 1234
    await store.save(cfg)
    assert seen == [1234] and len(rec.changes) == 1


async def test_without_a_file_everything_stays_in_memory(tmp_path: Path) -> None:
    store = ConfigStore(None)
    await store.start()
    assert store.current.port == 8317 and store.path is None
    cfg = store.current.model_copy(deep=True)
    cfg.routing.strategy = "ff"
    await store.save(cfg)
    assert store.current.routing.effective_strategy == "fill-first"
    new = await store.save_raw(b"port: 1\n")
    assert new.port == 1 and store.current is new
    with pytest.raises(ConfigError):
        await store.save_raw(b"port: x\n")
    await store.stop()
    assert not await asyncio.to_thread(lambda: any(tmp_path.iterdir()))


def test_startup_with_a_broken_file_raises(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("tls: 5\n")
    with pytest.raises(ConfigError) as info:
        ConfigStore(path)
    assert info.value.key == "tls"


async def test_on_reload_can_be_attached_after_construction(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(BASE)
    store = ConfigStore(path)
    rec = Recorder()
    store.on_reload = rec.on_reload
    await store.start()
    try:
        _edit(path, BASE.replace("8317", "8318"))
        assert await rec.next_reload() is True
    finally:
        await store.stop()
    assert rec.reloads == [True] and store.current.port == 8318
