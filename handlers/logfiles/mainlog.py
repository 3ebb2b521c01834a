"""Reading and clearing ``main.log`` and its rotated files (``management/logs.go``).

Pure file logic: the routes turn its results and errors into answers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from quotio_gateway.gostrings import go_decimal
from quotio_gateway.mainlog import MAIN_LOG

# bufio.Scanner's limit in the legacy reader: a longer line fails the whole read.
MAX_LINE_BYTES = 8 * 1024 * 1024
_INT64_MAX = 2**63 - 1
_STAMP = re.compile(rb"\A(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})")
_ROTATED_STAMP = re.compile(r"\A([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2})-([0-9]{2})-([0-9]{2})\Z")


class LineTooLong(OSError):
    def __str__(self) -> str:
        return "bufio.Scanner: token too long"


def _local_unix(parts: tuple[bytes | str, ...]) -> int | None:
    """Seconds since the epoch of a wall-clock time in the server's zone; None when not a date."""
    try:
        return int(datetime(*(int(p) for p in parts)).timestamp())  # type: ignore[misc]
    except (ValueError, OverflowError, OSError):
        return None


def parse_timestamp(line: bytes) -> int:
    """The ``YYYY-MM-DD HH:MM:SS`` a line starts with (after an optional ``[``), else 0."""
    if line.startswith(b"["):
        line = line[1:]
    match = _STAMP.match(line[:19])
    if match is None:
        return 0
    return _local_unix(match.groups()) or 0


def rotation_order(name: str) -> int | None:
    """Sort key of a rotated main log (larger is older): ``main.log.<N>`` or lumberjack's
    ``main-<2006-01-02T15-04-05>[.<ms>].log[.gz]``; None for any other file."""
    if name.startswith(MAIN_LOG + "."):
        return go_decimal(name[len(MAIN_LOG) + 1:])
    if not name.startswith("main-"):
        return None
    clean = name[len("main-"):]
    if clean.endswith(".gz"):
        clean = clean[:-3]
    if not clean.endswith(".log"):
        return None
    clean = clean[:-4].split(".", 1)[0]
    match = _ROTATED_STAMP.match(clean)
    if match is None:
        return None
    when = _local_unix(match.groups())
    return None if when is None else _INT64_MAX - when


def log_files(directory: Path) -> list[Path]:
    """``main.log`` and its rotated files, oldest first (``main.log`` last). Raises
    FileNotFoundError when the directory is missing."""
    ordered: list[tuple[int, Path]] = []
    for entry in directory.iterdir():
        if entry.is_dir():
            continue
        order = 0 if entry.name == MAIN_LOG else rotation_order(entry.name)
        if order is not None:
            ordered.append((order, entry))
    ordered.sort(key=lambda pair: pair[0], reverse=True)
    return [path for _, path in ordered]


def _lines(path: Path) -> Iterator[bytes]:
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        return
    with handle:
        for raw in handle:
            if len(raw) > MAX_LINE_BYTES + 1:
                raise LineTooLong()
            if raw.endswith(b"\n"):
                raw = raw[:-1]
            yield raw


class LogWindow:
    """The lines a ``GET /logs`` answers: those after ``cutoff`` (continuation lines follow the
    timestamped line above them), the last ``limit`` of them (0: all)."""

    def __init__(self, cutoff: int, limit: int) -> None:
        self.cutoff = cutoff
        self.limit = limit
        self.lines: list[str] = []
        self.total = 0
        self.latest = 0
        self._include = False

    def consume(self, path: Path) -> None:
        for raw in _lines(path):
            self._add(raw.rstrip(b"\r"))
        if self.limit and len(self.lines) > self.limit:
            del self.lines[:-self.limit]

    def _add(self, line: bytes) -> None:
        self.total += 1
        stamp = parse_timestamp(line)
        if stamp > self.latest:
            self.latest = stamp
        if stamp > 0:
            self._include = self.cutoff == 0 or stamp > self.cutoff
        if self.cutoff == 0 or self._include:
            self.lines.append(line.decode("utf-8", errors="replace"))
            if self.limit and len(self.lines) > 2 * self.limit + 1024:
                del self.lines[:-self.limit]


def clear_logs(directory: Path) -> int:
    """Truncate ``main.log`` and delete its rotated files; the number deleted. Raises
    FileNotFoundError when the directory is missing, OSError (with ``.step``) on a failure."""
    removed = 0
    for entry in sorted(directory.iterdir()):
        if entry.is_dir():
            continue
        if entry.name == MAIN_LOG:
            try:
                with open(entry, "r+b") as handle:
                    handle.truncate(0)
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise ClearError(f"failed to truncate log file: {exc.strerror or exc}") from exc
            continue
        if rotation_order(entry.name) is not None:
            try:
                entry.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise ClearError(f"failed to remove {entry.name}: {exc.strerror or exc}") from exc
            removed += 1
    return removed


class ClearError(Exception):
    """A file ``clear_logs`` could not truncate or delete; the text is the answer's message."""
