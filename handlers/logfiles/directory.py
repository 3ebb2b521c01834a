"""Where the log files live (``logging.ResolveLogDirectory``, ``util.WritablePath``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from handlers.auth.stores import lookup_env

LOG_DIR_NAME = "logs"


def _writable_dir(path: Path) -> bool:
    """The legacy's test: an existing directory in which a probe file can be created."""
    if not path.is_dir():
        return False
    probe = path / ".perm_test"
    try:
        with open(probe, "w"):
            pass
    except OSError:
        return False
    try:
        probe.unlink()
    except OSError:
        pass
    return True


def resolve_log_dir(auth_dir: str, environ: Mapping[str, str], cwd: Path) -> Path:
    """``$WRITABLE_PATH/logs`` when that is set; else ``./logs`` when it is a writable directory;
    else ``<auth-dir>/logs`` (``./logs`` again with no auth-dir). Resolved once at start-up, as
    the legacy's management handler does."""
    base = lookup_env(environ, "WRITABLE_PATH")
    if base:
        return Path(os.path.normpath(base)) / LOG_DIR_NAME
    local = cwd / LOG_DIR_NAME
    if not _writable_dir(local) and auth_dir.strip():
        return Path(auth_dir.strip()).expanduser() / LOG_DIR_NAME
    return local
