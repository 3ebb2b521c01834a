"""The live config: last good ``Config``, hot reload from the file, saves from the management API.

Reload follows CLIProxyAPI's watcher: poll, 150 ms debounce, skip empty files and unchanged
content (SHA-256), load strictly, keep the old config on any error. Our own writes record the
resulting file hash so the watcher does not reload them a second time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import structlog

from ..fileio import atomic_write
from ..filewatch import FileWatcher
from .loader import ConfigError, default_config, load_config, normalize_config, parse_config, resolve_auth_dir
from .models import Config
from .writer import save_config_preserving

log = structlog.get_logger("quotio_gateway.config")

Listener = Callable[[Config, Config], None]


class ConfigStore:
    def __init__(self, path: Path | None, *, on_reload: Callable[[bool], None] | None = None) -> None:
        """Load ``path`` now (a ``ConfigError`` here is a startup failure); ``None`` means the
        embedded defaults, kept in memory only."""
        self.path = Path(path) if path is not None else None
        # Public so the app factory can attach its metrics callback after construction.
        self.on_reload = on_reload
        self._listeners: list[Listener] = []
        self._lock = asyncio.Lock()
        self._current = load_config(self.path) if self.path is not None else default_config()
        self._watcher = FileWatcher(self.path, self._on_file_change) if self.path is not None else None
        self.last_error: str | None = None
        # Set by an empty ``PUT /config.yaml`` until the next config is applied: the legacy's
        # management handler then holds an empty config (no secret, no remote access) while the
        # rest of the server keeps the one it had (see ``save_raw``).
        self.emptied_by_management = False

    @property
    def current(self) -> Config:
        return self._current

    def subscribe(self, listener: Listener) -> None:
        """``listener(old, new)`` runs after every successful reload or save."""
        self._listeners.append(listener)

    async def start(self) -> None:
        if self._watcher is not None:
            self._remember_file()
            await self._watcher.start()

    async def stop(self) -> None:
        if self._watcher is not None:
            await self._watcher.stop()

    # --- reload -------------------------------------------------------------------------------

    async def _on_file_change(self, data: bytes) -> None:
        assert self.path is not None
        async with self._lock:
            try:
                new = await asyncio.to_thread(load_config, self.path)
            except ConfigError as exc:
                self.last_error = str(exc)
                log.error("config reload rejected, keeping the last good config",
                          file=exc.file, key=exc.key, line=exc.line, reason=exc.reason)
                self._report(False)
                return
            # Loading may rewrite the file (hashed secret, migrations); that is not a new edit.
            self._remember_file()
            self.last_error = None
            self._swap(new)
        log.info("config reloaded", file=str(self.path))
        self._report(True)

    def _report(self, ok: bool) -> None:
        if self.on_reload is None:
            return
        try:
            self.on_reload(ok)
        except Exception:
            log.exception("config on_reload callback failed")

    def _swap(self, new: Config) -> None:
        self.emptied_by_management = False
        old, self._current = self._current, new
        for listener in list(self._listeners):
            try:
                listener(old, new)
            except Exception:  # one broken subscriber must not block the others
                log.exception("config listener failed", listener=getattr(listener, "__qualname__", "?"))

    def _remember_file(self) -> None:
        if self._watcher is None or self.path is None:
            return
        with contextlib.suppress(OSError):
            self._watcher.remember(self.path.read_bytes())

    # --- writes -------------------------------------------------------------------------------

    async def save(self, cfg: Config) -> None:
        """Persist like ``SaveConfigPreserveComments`` and make the result current at once.

        ``current`` becomes what a reload of the written file yields (as in Go, where the
        watcher's reload is what takes effect). Without a file the config lives in memory.
        """
        async with self._lock:
            if self.path is None:
                new = cfg.model_copy(deep=True)
                normalize_config(new)
            else:
                new = await asyncio.to_thread(self._write_and_reload, cfg)
            self._swap(new)

    def _write_and_reload(self, cfg: Config) -> Config:
        assert self.path is not None
        # The legacy saves its in-memory config, whose auth-dir it resolved when it loaded it.
        resolved = resolve_auth_dir(cfg.auth_dir)
        if resolved != cfg.auth_dir:
            cfg = cfg.model_copy(update={"auth_dir": resolved})
        save_config_preserving(self.path, cfg)
        self._remember_file()
        new = load_config(self.path)
        self._remember_file()
        return new

    async def save_raw(self, text: bytes) -> Config:
        """``PUT /config.yaml``: validate a copy next to the file, replace, reload.

        Raises ``ConfigError``; ``kind`` tells a YAML/type problem (Go answers 400 invalid_yaml)
        from a load failure (422 invalid_config). The file is untouched on error.
        """
        async with self._lock:
            if self.path is None:
                new = parse_config(text, Path("config.yaml"), persist=False)
            else:
                new = await asyncio.to_thread(self._replace_raw, text)
            if not text and self.path is not None:
                # The legacy writes an empty file but only its management handler takes the
                # empty config: the watcher skips empty files (config_reload.go:49-52), so the
                # server keeps serving with the keys it had. Swapping here would drop api-keys
                # and leave inference open to anyone.
                self.emptied_by_management = True
                return self.current
            self._swap(new)
            return new

    def _replace_raw(self, text: bytes) -> Config:
        assert self.path is not None
        directory = self.path.parent
        fd, tmp_name = tempfile.mkstemp(prefix="config-validate-", suffix=".yaml", dir=directory)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(text)
            load_config(tmp)
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()
        atomic_write(self.path, text)
        self._remember_file()
        new = load_config(self.path)
        self._remember_file()
        return new
