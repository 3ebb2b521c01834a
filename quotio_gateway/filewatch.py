"""Polling file watcher: cheap stat() calls, SHA-256 to ignore touches and our own writes."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import structlog

from .tasks import cancel_and_wait

log = structlog.get_logger("quotio_gateway.filewatch")


def file_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FileWatcher:
    """Calls ``on_change(data)`` when the file's content changes; debounced like CLIProxyAPI (150 ms).

    The poll interval is below the debounce so that an edit takes effect about when the
    legacy's would (150 ms after it, a poll later at most); a stat() ten times a second costs nothing.
    """

    def __init__(self, path: Path, on_change: Callable[[bytes], Awaitable[None]], *,
                 interval: float = 0.1, debounce: float = 0.15) -> None:
        self.path = path
        self._on_change = on_change
        self._interval = interval
        self._debounce = debounce
        self._task: asyncio.Task[None] | None = None
        self._stat: tuple[int, int, int] | None = None
        self.digest: str | None = None

    def _current_stat(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def remember(self, data: bytes) -> None:
        """Record content we wrote ourselves so the next poll does not treat it as an edit."""
        self.digest = file_digest(data)
        self._stat = self._current_stat()

    async def start(self) -> None:
        self._stat = self._current_stat()
        if self.digest is None and self._stat is not None:
            with contextlib.suppress(OSError):
                self.digest = file_digest(self.path.read_bytes())
        self._task = asyncio.create_task(self._run(), name=f"watch:{self.path.name}")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    def _settle_wait(self) -> float:
        """How much longer to wait before reading the file: the rest of the debounce since its
        last change.

        CLIProxyAPI reloads 150 ms after the last write or rename event (its debounce timer
        restarts on each one). A poll notices a change up to one interval late, and waiting the
        full debounce from there put that lag on top (up to 400 ms after the edit). The inode's
        change time (set by writes and by a rename over the path) tells when the last event was.
        A clock that puts it in the future (network mounts) gets the full debounce.
        """
        try:
            st = os.stat(self.path)
        except OSError:
            return 0.0
        age = time.time() - max(st.st_mtime_ns, st.st_ctime_ns) / 1e9
        if age < 0:
            return self._debounce
        return max(0.0, self._debounce - age)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            stat = self._current_stat()
            if stat is None or stat == self._stat:
                continue
            # Wait until the file has been quiet for the debounce, as the legacy's timer does.
            while stat is not None:
                wait = self._settle_wait()
                if wait <= 0:
                    break
                await asyncio.sleep(wait)
                later = self._current_stat()
                if later == stat:
                    break
                stat = later
            self._stat = self._current_stat()
            try:
                data = self.path.read_bytes()
            except OSError as exc:
                log.warning("watched file unreadable", path=str(self.path), error=str(exc))
                continue
            if not data.strip():
                continue
            digest = file_digest(data)
            if digest == self.digest:
                continue
            self.digest = digest
            try:
                await self._on_change(data)
            except Exception:  # a bad reload must never kill the watcher
                log.exception("reload callback failed", path=str(self.path))

