"""The default token store: ``*.json`` files in CLIProxyAPI's auth-dir, plus a watcher for outside edits.

Writes are atomic (temp file beside the target, fsync, rename) with mode 0600, so the Quotio app and
a second gateway process never see a torn file, and a failed write leaves the old file whole. A
lock file in the directory serialises writers across processes for conditional saves.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import structlog

from handlers.auth.credential import Credential, CredentialError, content_digest, parse_credential, validate_file_name
from handlers.auth.stores import LoadResult, RetryPolicy, StoreConflict, StoreUnavailable, TokenStore, skip_bad
from quotio_gateway.fileio import atomic_write
from quotio_gateway.tasks import cancel_and_wait

log = structlog.get_logger("handlers.auth.file_store")

LOCK_NAME = ".quotio-gateway-auth.lock"
# internal/watcher/watcher.go: wait this long after a remove/rename before believing it, because an
# atomic replace shows up as a rename; the same path is not removed twice within the window.
REPLACE_CHECK_DELAY = 0.05
REMOVE_DEBOUNCE_WINDOW = 1.0
# How often the auth-dir's own stat is checked for files created, renamed over or deleted.
DIR_CHECK_INTERVAL = 0.05

StatKey = tuple[int, int, int]


def _is_credential_name(name: str) -> bool:
    return name.lower().endswith(".json") and not name.startswith(".")


def _read_one(path: Path) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


class FileTokenStore(TokenStore):
    kind = "file"

    def __init__(self, auth_dir: Path, retry: RetryPolicy | None = None) -> None:
        super().__init__(retry)
        self.auth_dir = Path(auth_dir)
        self._lock = asyncio.Lock()
        self._watchers: list[AuthDirWatcher] = []

    async def start(self) -> None:
        # CLIProxyAPI creates a missing auth-dir at start-up; so do we, owner-only.
        try:
            self.auth_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailable(f"file store: cannot create auth dir {self.auth_dir}: {exc.strerror}") from exc
        if not self.auth_dir.is_dir():
            raise StoreUnavailable(f"file store: auth dir {self.auth_dir} is not a directory")

    async def close(self) -> None:
        for watcher in list(self._watchers):
            await watcher.stop()

    def path_for(self, file_name: str) -> Path:
        return self.auth_dir / validate_file_name(file_name)

    # -- reads -----------------------------------------------------------------------------------

    def _scan(self) -> LoadResult:
        result = LoadResult()
        try:
            entries = sorted(entry.name for entry in os.scandir(self.auth_dir)
                             if _is_credential_name(entry.name) and entry.is_file())
        except FileNotFoundError:
            log.warning("auth dir missing", path=str(self.auth_dir))
            return result
        except OSError as exc:
            raise StoreUnavailable(f"file store: cannot list auth dir {self.auth_dir}: {exc.strerror}") from exc
        for name in entries:
            try:
                data = _read_one(self.auth_dir / name)
            except FileNotFoundError:
                continue
            except OSError as exc:
                skip_bad(result, CredentialError(name, "unreadable", exc.strerror or str(exc)), self.kind)
                continue
            try:
                result.credentials[name] = parse_credential(name, data, content_digest(data))
            except CredentialError as err:
                skip_bad(result, err, self.kind)
        return result

    async def load_all(self) -> LoadResult:
        return await asyncio.to_thread(self._scan)

    def _get(self, file_name: str) -> Credential | None:
        try:
            data = _read_one(self.path_for(file_name))
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreUnavailable(f"file store: cannot read {file_name}: {exc.strerror}") from exc
        return parse_credential(file_name, data, content_digest(data))

    async def get(self, file_name: str) -> Credential | None:
        return await asyncio.to_thread(self._get, file_name)

    # -- writes ----------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _dir_lock(self) -> Iterator[None]:
        try:
            # Someone may have removed the directory while we run; CLIProxyAPI recreates it on write.
            self.auth_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.auth_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StoreUnavailable(f"file store: auth dir {self.auth_dir} is not writable: {exc.strerror}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _current_revision(self, path: Path) -> str | None:
        try:
            return content_digest(_read_one(path))
        except FileNotFoundError:
            return None

    def _save(self, credential: Credential, if_revision: str | None) -> Credential:
        path = self.path_for(credential.file_name)
        data = credential.to_bytes()
        with self._dir_lock():
            if if_revision is not None and self._current_revision(path) != if_revision:
                raise StoreConflict(credential.file_name)
            try:
                atomic_write(path, data, mode=0o600)
            except OSError as exc:
                raise StoreUnavailable(
                    f"file store: cannot write {credential.file_name} in {self.auth_dir}: {exc.strerror}"
                ) from exc
        return credential.with_revision(content_digest(data))

    async def save(self, credential: Credential, *, if_revision: str | None = None) -> Credential:
        async with self._lock:
            saved = await asyncio.to_thread(self._save, credential, if_revision)
        for watcher in self._watchers:
            watcher.note_own_write(saved)
        return saved

    def _delete(self, file_name: str) -> bool:
        path = self.path_for(file_name)
        with self._dir_lock():
            try:
                path.unlink()
            except FileNotFoundError:
                return False
            except OSError as exc:
                raise StoreUnavailable(f"file store: cannot delete {file_name}: {exc.strerror}") from exc
        return True

    async def delete(self, file_name: str) -> bool:
        async with self._lock:
            removed = await asyncio.to_thread(self._delete, file_name)
        for watcher in self._watchers:
            watcher.note_own_delete(file_name)
        return removed

    def watch(self, on_change: Callable[[AuthChange], Awaitable[None]], *,
              interval: float = 0.25) -> AuthDirWatcher:
        return AuthDirWatcher(self, on_change, interval=interval)


@dataclass(frozen=True)
class AuthChange:
    """One outside change: ``upsert`` (credential set), ``remove``, or ``invalid`` (error set; the
    last good copy stays live, because a half-edited file must not log an account out)."""

    kind: str
    file_name: str
    credential: Credential | None = None
    error: CredentialError | None = None


class AuthDirWatcher:
    """Polls the auth-dir (stat per file, SHA-256 on change) and keeps ``credentials`` current.

    Polling instead of inotify keeps this dependency-free and works on network and bind mounts;
    a 0.25 s poll of 1,000 files is a few milliseconds of stat() calls.
    """

    def __init__(self, store: FileTokenStore, on_change: Callable[[AuthChange], Awaitable[None]], *,
                 interval: float = 0.25) -> None:
        self.store = store
        self.credentials: dict[str, Credential] = {}
        self._on_change = on_change
        self._interval = interval
        self._stats: dict[str, StatKey] = {}
        self._digests: dict[str, str] = {}
        self._removed_at: dict[str, float] = {}
        self._pending_removals: set[str] = set()
        self._dir_seen: StatKey | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> LoadResult:
        """Load everything once, then watch; returns the initial load (with skipped files)."""
        # Taken before the scan, so that a file created during the load is noticed at once.
        self._dir_seen = self._dir_key()
        try:
            self._stats = await asyncio.to_thread(self._stat_all)
        except FileNotFoundError:
            self._stats = {}
        result = await self.store.load_all()
        self.credentials = dict(result.credentials)
        self._digests = {name: cred.revision or "" for name, cred in result.credentials.items()}
        for name in result.skipped:
            self._digests[name] = ""
        self.store._watchers.append(self)
        self._task = asyncio.create_task(self._run(), name=f"watch-auth:{self.store.auth_dir}")
        return result

    async def stop(self) -> None:
        if self in self.store._watchers:
            self.store._watchers.remove(self)
        await cancel_and_wait(self._task)
        self._task = None

    def note_own_write(self, credential: Credential) -> None:
        self.credentials[credential.file_name] = credential
        self._digests[credential.file_name] = credential.revision or ""

    def note_own_delete(self, file_name: str) -> None:
        self.credentials.pop(file_name, None)
        self._digests.pop(file_name, None)

    def _stat_all(self) -> dict[str, StatKey]:
        stats: dict[str, StatKey] = {}
        with os.scandir(self.store.auth_dir) as entries:
            for entry in entries:
                if not _is_credential_name(entry.name):
                    continue
                try:
                    st = entry.stat()
                except FileNotFoundError:
                    continue
                stats[entry.name] = (st.st_mtime_ns, st.st_size, st.st_ino)
        return stats

    def _dir_key(self) -> StatKey | None:
        try:
            st = os.stat(self.store.auth_dir)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    async def _run(self) -> None:
        # CLIProxyAPI's fsnotify watcher takes a created, replaced or deleted file at once (a
        # removal after 50 ms: internal/watcher/events.go:67-125). Those change the directory's
        # own mtime, so one stat() of the directory every DIR_CHECK_INTERVAL finds them; the full
        # scan every ``interval`` is still needed for files rewritten in place.
        loop = asyncio.get_running_loop()
        dir_key = self._dir_seen
        scanned = loop.time()
        while True:
            await asyncio.sleep(min(DIR_CHECK_INTERVAL, self._interval))
            key = self._dir_key()
            if key == dir_key and loop.time() - scanned < self._interval:
                continue
            dir_key, scanned = key, loop.time()
            try:
                await self.poll_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("auth dir watcher poll failed", path=str(self.store.auth_dir))

    async def poll_once(self) -> None:
        try:
            stats = await asyncio.to_thread(self._stat_all)
        except FileNotFoundError:
            stats = {}
        except OSError as exc:
            # An unreadable directory says nothing about the files in it: keep what is live.
            log.warning("auth dir unreadable", path=str(self.store.auth_dir), error=exc.strerror)
            return
        vanished = [name for name in self._stats if name not in stats]
        if vanished:
            await asyncio.sleep(REPLACE_CHECK_DELAY)
            try:
                stats = await asyncio.to_thread(self._stat_all)
            except OSError:
                stats = {}
        previous, self._stats = self._stats, stats
        gone = {name for name in previous if name not in stats}
        gone |= {name for name in self._pending_removals if name not in stats}
        self._pending_removals -= set(stats)
        for name in sorted(gone):
            await self._removed(name)
        for name, key in sorted(stats.items()):
            if previous.get(name) != key:
                await self._changed(name)

    async def _removed(self, name: str) -> None:
        now = time.monotonic()
        last = self._removed_at.get(name)
        if last is not None and now - last < REMOVE_DEBOUNCE_WINDOW:
            # A second removal of one path inside the window is held back, not lost: the next poll
            # after the window applies it if the file is still gone.
            self._pending_removals.add(name)
            return
        self._pending_removals.discard(name)
        self._digests.pop(name, None)
        if self.credentials.pop(name, None) is None:
            return
        self._removed_at[name] = now
        log.info("credential file removed", file=name)
        await self._on_change(AuthChange("remove", name))

    async def _changed(self, name: str) -> None:
        try:
            data = await asyncio.to_thread(_read_one, self.store.auth_dir / name)
        except FileNotFoundError:
            return  # gone again; the next poll reports the removal
        except OSError as exc:
            log.warning("credential file unreadable", file=name, error=exc.strerror)
            return
        digest = content_digest(data)
        if self._digests.get(name) == digest:
            return
        self._digests[name] = digest
        try:
            credential = parse_credential(name, data, digest)
        except CredentialError as err:
            log.warning("credential file changed but unusable; keeping last good copy",
                        file=name, reason=err.reason, detail=err.detail)
            await self._on_change(AuthChange("invalid", name, self.credentials.get(name), err))
            return
        self.credentials[name] = credential
        log.info("credential file changed", file=name, provider=credential.provider)
        await self._on_change(AuthChange("upsert", name, credential))
