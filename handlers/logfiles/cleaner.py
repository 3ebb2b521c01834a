"""``logs-max-total-size-mb``: the oldest log files go until the directory fits
(``logging/log_dir_cleaner.go``). The live ``main.log`` is never deleted."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from quotio_gateway.gostrings import go_lower, go_trim

INTERVAL_SECONDS = 60.0


def _is_log_name(name: str) -> bool:
    lowered = go_lower(go_trim(name))
    return bool(lowered) and (lowered.endswith(".log") or lowered.endswith(".log.gz"))


def enforce_size_limit(directory: Path, max_bytes: int, protected: Path | None) -> int:
    """Delete the oldest ``*.log``/``*.log.gz`` files until their total is at most ``max_bytes``;
    the number deleted. A missing directory or a limit ≤ 0 deletes nothing."""
    if max_bytes <= 0:
        return 0
    files: list[tuple[float, int, str]] = []
    total = 0
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False) or not _is_log_name(entry.name):
                    continue
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if not stat.S_ISREG(info.st_mode):
                    continue
                files.append((info.st_mtime, info.st_size, entry.path))
                total += info.st_size
    except FileNotFoundError:
        return 0
    if total <= max_bytes:
        return 0
    keep = os.path.normpath(protected) if protected is not None else None
    deleted = 0
    for _, size, path in sorted(files):
        if total <= max_bytes:
            break
        if keep is not None and os.path.normpath(path) == keep:
            continue
        try:
            os.remove(path)
        except OSError:
            continue
        total -= size
        deleted += 1
    return deleted
