"""Finding the per-request log files the management API lists and hands out (``management/logs.go``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ERROR_PREFIX = "error-"
LOG_SUFFIX = ".log"


def is_error_log(name: str) -> bool:
    return name.startswith(ERROR_PREFIX) and name.endswith(LOG_SUFFIX)


@dataclass(frozen=True)
class LogFileInfo:
    name: str
    size: int
    modified: int  # Unix seconds

    def as_json(self) -> dict[str, object]:
        return {"name": self.name, "size": self.size, "modified": self.modified}


def error_logs(directory: Path) -> list[LogFileInfo]:
    """The ``error-*.log`` files, newest first. Raises FileNotFoundError for a missing directory."""
    found: list[LogFileInfo] = []
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False) or not is_error_log(entry.name):
                continue
            stat = entry.stat()
            found.append(LogFileInfo(entry.name, stat.st_size, int(stat.st_mtime)))
    found.sort(key=lambda info: info.modified, reverse=True)
    return found


def find_by_request_id(directory: Path, request_id: str) -> str | None:
    """The first file (directory order) whose name ends ``-<id>.log``: request logs and error logs
    alike. Raises FileNotFoundError for a missing directory."""
    suffix = f"-{request_id}{LOG_SUFFIX}"
    with os.scandir(directory) as entries:
        for entry in entries:
            if not entry.is_dir(follow_symlinks=False) and entry.name.endswith(suffix):
                return entry.name
    return None


def inside(directory: Path, name: str) -> Path | None:
    """``<directory>/<name>`` when it stays inside the directory (``filepath.Clean``), else None."""
    base = os.path.abspath(directory)
    full = os.path.normpath(os.path.join(base, name))
    return Path(full) if full.startswith(base + os.sep) else None
