"""File store specifics: modes, atomicity, bad files, a read-only or missing auth-dir, the watcher, two
processes, and the 1,000-file start-up load."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

import quotio_gateway.fileio
from handlers.auth.credential import new_credential
from handlers.auth.stores import StoreUnavailable
from handlers.auth.stores.file_store import LOCK_NAME, AuthChange, AuthDirWatcher, FileTokenStore

ANN = "claude-ann@example.com.json"
REPO_ROOT = str(Path(__file__).resolve().parents[4])


def claude_meta(token: str = "at-1") -> dict[str, object]:
    return {"type": "claude", "email": "ann@example.com", "access_token": token}


async def started(auth_dir: Path) -> FileTokenStore:
    store = FileTokenStore(auth_dir)
    await store.start()
    return store


def listing(path: Path) -> list[str]:
    return sorted(os.listdir(path))


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_start_creates_a_missing_auth_dir_owner_only(tmp_path: Path) -> None:
    store = await started(tmp_path / "deep" / "auth")
    assert mode_of(tmp_path / "deep" / "auth") == 0o700
    assert (await store.load_all()).credentials == {}


async def test_start_fails_clearly_when_the_auth_dir_cannot_exist(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file where a directory should be")
    with pytest.raises(StoreUnavailable) as info:
        await FileTokenStore(tmp_path / "blocker" / "auth").start()
    assert str(info.value) == f"file store: cannot create auth dir {tmp_path / 'blocker' / 'auth'}: Not a directory"


async def test_listing_a_missing_auth_dir_is_empty_with_a_warning(tmp_path: Path) -> None:
    with capture_logs() as logs:
        result = await FileTokenStore(tmp_path / "never-created").load_all()
    assert (result.credentials, result.skipped) == ({}, {})
    assert {"event": "auth dir missing", "path": str(tmp_path / "never-created"),
            "log_level": "warning"} in logs


async def test_auth_dir_removed_mid_run_is_recreated_on_the_next_write(tmp_path: Path) -> None:
    store = await started(tmp_path / "auth")
    shutil.rmtree(tmp_path / "auth")
    await store.save(new_credential(ANN, claude_meta()))
    assert mode_of(tmp_path / "auth") == 0o700
    assert list((await store.load_all()).credentials) == [ANN]


async def test_written_files_are_0600_compact_json_and_leave_no_temp_files(tmp_path: Path) -> None:
    store = await started(tmp_path)
    outside = tmp_path / ANN
    outside.write_text(json.dumps(claude_meta()))
    os.chmod(outside, 0o644)
    await store.save(new_credential(ANN, claude_meta("at-2")))
    assert mode_of(outside) == 0o600
    assert outside.read_bytes() == b'{"access_token":"at-2","email":"ann@example.com","type":"claude"}'
    assert listing(tmp_path) == [LOCK_NAME, ANN]


async def test_bad_files_are_skipped_with_a_warning_and_the_rest_load(tmp_path: Path) -> None:
    store = await started(tmp_path)
    await store.save(new_credential(ANN, claude_meta()))
    (tmp_path / "corrupt.json").write_bytes(b'{"type": "claude", "access_token": "sk-SECRET"')
    (tmp_path / "empty.json").write_bytes(b"")
    (tmp_path / "cursor-x.json").write_bytes(b'{"type": "cursor"}')
    (tmp_path / ".oauth-claude-state.oauth").write_text("{}")
    (tmp_path / ".claude-ann@example.com.json.abc.tmp").write_text("{")
    (tmp_path / "notes.txt").write_text("not a credential")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "nested.json").write_text(json.dumps(claude_meta()))
    with capture_logs() as logs:
        result = await store.load_all()
    assert list(result.credentials) == [ANN]
    assert {name: err.reason for name, err in result.skipped.items()} == {
        "corrupt.json": "corrupt", "cursor-x.json": "unknown_type", "empty.json": "empty"}
    warnings = [(e["file"], e["reason"]) for e in logs if e["event"] == "skipping credential"]
    assert warnings == [("corrupt.json", "corrupt"), ("cursor-x.json", "unknown_type"), ("empty.json", "empty")]
    assert "SECRET" not in repr(logs)


@contextlib.contextmanager
def read_only_dir(path: Path) -> Iterator[None]:
    """Make a directory refuse new entries, even for root (which ignores mode bits)."""
    if os.geteuid() == 0:
        if shutil.which("chattr") is None:
            pytest.skip("running as root without chattr: cannot make a directory read-only")
        if subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False).returncode != 0:
            pytest.skip("this filesystem does not support the immutable attribute")
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)
    else:
        os.chmod(path, 0o500)
        try:
            yield
        finally:
            os.chmod(path, 0o700)


async def test_read_only_auth_dir_reads_fine_and_refuses_writes_without_touching_files(tmp_path: Path) -> None:
    store = await started(tmp_path)
    await store.save(new_credential(ANN, claude_meta()))
    before = (tmp_path / ANN).read_bytes()
    with read_only_dir(tmp_path):
        assert list((await store.load_all()).credentials) == [ANN]
        with pytest.raises(StoreUnavailable) as info:
            await store.save(new_credential(ANN, claude_meta("at-2")))
        assert str(info.value).startswith(f"file store: cannot write {ANN} in {tmp_path}: ")
        with pytest.raises(StoreUnavailable) as info:
            await store.delete(ANN)
        assert str(info.value).startswith(f"file store: cannot delete {ANN}: ")
        assert (tmp_path / ANN).read_bytes() == before
    assert listing(tmp_path) == [LOCK_NAME, ANN]


async def test_a_write_that_fails_half_way_keeps_the_old_file_whole(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    store = await started(tmp_path)
    await store.save(new_credential(ANN, claude_meta()))
    before = (tmp_path / ANN).read_bytes()

    def disk_full(src: str, dst: str) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(quotio_gateway.fileio.os, "replace", disk_full)
    with pytest.raises(StoreUnavailable) as info:
        await store.save(new_credential(ANN, claude_meta("at-2")))
    assert str(info.value) == f"file store: cannot write {ANN} in {tmp_path}: No space left on device"
    assert (tmp_path / ANN).read_bytes() == before
    assert listing(tmp_path) == [LOCK_NAME, ANN]


# -- watcher -------------------------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.events: list[AuthChange] = []
        self._arrived = asyncio.Event()

    async def __call__(self, change: AuthChange) -> None:
        self.events.append(change)
        self._arrived.set()

    async def next(self, within: float = 3.0) -> AuthChange:
        deadline = time.monotonic() + within
        while not self.events:
            self._arrived.clear()
            await asyncio.wait_for(self._arrived.wait(), max(0.01, deadline - time.monotonic()))
        return self.events.pop(0)

    async def quiet_for(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        assert [(e.kind, e.file_name) for e in self.events] == []


@pytest.fixture
async def watched(tmp_path: Path) -> AsyncIterator[tuple[FileTokenStore, AuthDirWatcher, Recorder]]:
    store = await started(tmp_path)
    await store.save(new_credential(ANN, claude_meta()))
    recorder = Recorder()
    watcher = store.watch(recorder, interval=0.03)
    result = await watcher.start()
    assert list(result.credentials) == [ANN]
    yield store, watcher, recorder
    await store.close()


def quotio_style_rewrite(path: Path, meta: dict[str, object]) -> None:
    """What the Quotio app does: write a temp file, then rename it over the credential."""
    tmp = path.with_name(f".{path.name}.quotio")
    tmp.write_text(json.dumps(meta))
    os.replace(tmp, path)


async def test_outside_atomic_rewrite_reloads_without_restart(watched, tmp_path: Path) -> None:
    _, watcher, recorder = watched
    quotio_style_rewrite(tmp_path / ANN, claude_meta("from-quotio"))
    change = await recorder.next()
    assert (change.kind, change.file_name) == ("upsert", ANN)
    assert change.credential is not None and change.credential.metadata["access_token"] == "from-quotio"
    assert watcher.credentials[ANN].metadata["access_token"] == "from-quotio"
    await recorder.quiet_for(0.15)


async def test_outside_in_place_edit_new_file_and_removal(watched, tmp_path: Path) -> None:
    _, watcher, recorder = watched
    (tmp_path / ANN).write_text(json.dumps(claude_meta("edited")))
    change = await recorder.next()
    assert (change.kind, change.credential.metadata["access_token"]) == ("upsert", "edited")
    (tmp_path / "codex-new.json").write_text(json.dumps({"type": "codex", "email": "n@example.com"}))
    change = await recorder.next()
    assert (change.kind, change.file_name, change.credential.provider) == ("upsert", "codex-new.json", "codex")
    (tmp_path / ANN).unlink()
    change = await recorder.next()
    assert (change.kind, change.file_name, change.credential) == ("remove", ANN, None)
    assert sorted(watcher.credentials) == ["codex-new.json"]


async def test_own_writes_and_touches_raise_no_event(watched, tmp_path: Path) -> None:
    store, watcher, recorder = watched
    saved = await store.save(new_credential(ANN, claude_meta("own")))
    assert watcher.credentials[ANN].revision == saved.revision
    os.utime(tmp_path / ANN)
    (tmp_path / "ignored.txt").write_text("x")
    await recorder.quiet_for(0.2)
    await store.delete(ANN)
    await recorder.quiet_for(0.15)
    assert watcher.credentials == {}


async def test_corrupt_outside_write_keeps_last_good_copy(watched, tmp_path: Path) -> None:
    _, watcher, recorder = watched
    (tmp_path / ANN).write_text('{"type": "claude", "access_token": ')
    change = await recorder.next()
    assert (change.kind, change.file_name, change.error.reason) == ("invalid", ANN, "corrupt")
    assert watcher.credentials[ANN].metadata["access_token"] == "at-1"
    (tmp_path / ANN).write_text(json.dumps(claude_meta("fixed")))
    change = await recorder.next()
    assert (change.kind, change.credential.metadata["access_token"]) == ("upsert", "fixed")


async def test_delete_then_recreate_inside_the_replace_window_is_an_update(watched, tmp_path: Path) -> None:
    _, _, recorder = watched
    (tmp_path / ANN).unlink()
    (tmp_path / ANN).write_text(json.dumps(claude_meta("recreated")))
    change = await recorder.next()
    assert (change.kind, change.credential.metadata["access_token"]) == ("upsert", "recreated")
    await recorder.quiet_for(0.15)


async def test_removing_the_auth_dir_removes_its_credentials(watched, tmp_path: Path) -> None:
    _, watcher, recorder = watched
    shutil.rmtree(tmp_path)
    change = await recorder.next()
    assert (change.kind, change.file_name) == ("remove", ANN)
    assert watcher.credentials == {}


async def test_second_removal_of_a_path_inside_one_second_is_held_then_applied(watched, tmp_path: Path) -> None:
    _, watcher, recorder = watched
    (tmp_path / ANN).unlink()
    assert (await recorder.next()).kind == "remove"
    (tmp_path / ANN).write_text(json.dumps(claude_meta("back")))
    assert (await recorder.next()).kind == "upsert"
    (tmp_path / ANN).unlink()
    await recorder.quiet_for(0.3)
    assert ANN in watcher.credentials
    change = await recorder.next(within=2.0)
    assert (change.kind, change.file_name) == ("remove", ANN)
    assert watcher.credentials == {}


async def test_watching_a_missing_auth_dir_picks_up_files_once_it_appears(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "later")
    recorder = Recorder()
    watcher = store.watch(recorder, interval=0.03)
    assert (await watcher.start()).credentials == {}
    try:
        (tmp_path / "later").mkdir()
        (tmp_path / "later" / ANN).write_text(json.dumps(claude_meta()))
        change = await recorder.next()
        assert (change.kind, change.file_name) == ("upsert", ANN)
    finally:
        await watcher.stop()


# -- two processes, and start-up load time -------------------------------------------------------

REFRESHER = """
import asyncio, sys
from pathlib import Path
from handlers.auth.stores import StoreConflict
from handlers.auth.stores.file_store import FileTokenStore

async def main(auth_dir, name, times):
    store = FileTokenStore(Path(auth_dir))
    await store.start()
    conflicts = 0
    for _ in range(times):
        while True:
            current = await store.get(name)
            try:
                await store.save(current.with_metadata(counter=current.metadata["counter"] + 1,
                                                       access_token=f"at-{current.metadata['counter'] + 1}"),
                                 if_revision=current.revision)
                break
            except StoreConflict:
                conflicts += 1
    print(conflicts)

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


async def test_two_gateway_processes_refreshing_one_credential(tmp_path: Path) -> None:
    store = await started(tmp_path / "auth")
    await store.save(new_credential(ANN, {**claude_meta(), "counter": 0}))
    procs = [await asyncio.create_subprocess_exec(
        sys.executable, "-c", REFRESHER, str(tmp_path / "auth"), ANN, "25",
        cwd=REPO_ROOT, stdout=asyncio.subprocess.PIPE) for _ in range(2)]
    outputs = [await proc.communicate() for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0]
    final = await store.get(ANN)
    assert final is not None
    assert (final.metadata["counter"], final.metadata["access_token"]) == (50, "at-50")
    print("conflicts seen by each process:", [out.decode().strip() for out, _ in outputs])


async def test_loading_1000_credential_files(tmp_path: Path) -> None:
    for i in range(1000):
        (tmp_path / f"codex-user{i}@example.com.json").write_bytes(json.dumps({
            "type": "codex", "email": f"user{i}@example.com", "access_token": "x" * 1200, "refresh_token": "r" * 60,
            "id_token": "i" * 900, "account_id": f"acct-{i}", "expired": "2030-01-01T00:00:00Z",
            "last_refresh": "2029-12-01T00:00:00Z"}).encode())
    store = await started(tmp_path)
    began = time.perf_counter()
    result = await store.load_all()
    elapsed = time.perf_counter() - began
    assert len(result.credentials) == 1000 and result.skipped == {}
    print(f"loaded 1000 credential files in {elapsed * 1000:.1f} ms")
