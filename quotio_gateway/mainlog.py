"""``main.log``: the gateway's log lines in CLIProxyAPI's file format, for ``logging-to-file``.

The legacy sends its whole log to ``<log dir>/main.log`` when ``logging-to-file`` is on, one line
per entry, ``[2006-01-02 15:04:05] [<request id or 8 dashes>] [<level padded to 5>] <message>``,
rotated at 10 MB into ``main-<UTC time>.log`` (lumberjack's naming). The Quotio app reads those
lines through ``GET /v0/management/logs``, which parses the leading timestamp, so the format is
part of the contract. The gateway keeps its own stdout output as it is and writes this file
beside it.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

MAIN_LOG = "main.log"
MAX_BYTES = 10 * 1024 * 1024  # lumberjack MaxSize: 10 (megabytes)
NO_REQUEST_ID = "--------"
_LEVEL_NAMES = {"warning": "warn", "critical": "fatal", "exception": "error"}


def level_name(level: str) -> str:
    """A logrus level name: ``warning`` prints as ``warn``."""
    lowered = level.lower()
    return _LEVEL_NAMES.get(lowered, lowered)


def format_line(when: float, request_id: str | None, level: str, message: str) -> str:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(when))
    message = message.rstrip("\r\n")
    return f"[{stamp}] [{request_id or NO_REQUEST_ID}] [{level_name(level):<5}] {message}\n"


def go_millis_duration(seconds: float) -> str:
    """Go's ``Duration.String()`` of a latency truncated to milliseconds (to seconds past a minute),
    as the legacy access line shows it: ``0s``, ``12ms``, ``1.5s``, ``2m3s``."""
    if seconds > 60:
        whole = int(seconds)
        hours, rest = divmod(whole, 3600)
        minutes, secs = divmod(rest, 60)
        return (f"{hours}h{minutes}m{secs}s" if hours else f"{minutes}m{secs}s")
    millis = int(seconds * 1000)
    if millis == 0:
        return "0s"
    if millis < 1000:
        return f"{millis}ms"
    whole, frac = divmod(millis, 1000)
    text = f"{whole}.{frac:03d}".rstrip("0").rstrip(".")
    return f"{text}s"


def access_message(status: int, seconds: float, client_ip: str, method: str, path_qs: str) -> str:
    """The legacy access line's message (``gin_logger.go``): status, latency, client, method, path."""
    return f'{status:3d} | {go_millis_duration(seconds):>13} | {client_ip:>15} | {method:<7} "{path_qs}"'


class MainLogFile:
    """Appends lines to ``<directory>/main.log``, moving it aside once it would pass ``max_bytes``.

    Lines are written as they come (line-buffered), so a ``GET /logs`` right after a request sees
    its line. A lock keeps lines whole when a worker thread logs too.
    """

    def __init__(self, directory: Path, *, max_bytes: int = MAX_BYTES) -> None:
        self.directory = directory
        self.path = directory / MAIN_LOG
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        directory.mkdir(parents=True, exist_ok=True)
        self._handle = open(self.path, "a", encoding="utf-8", errors="replace", buffering=1)
        self._size = self._handle.tell()

    def write(self, line: str) -> None:
        size = len(line.encode("utf-8", errors="replace"))
        with self._lock:
            if self._handle.closed:
                return
            try:
                if self._size and self._size + size > self.max_bytes:
                    # The count can be stale: DELETE /logs truncates the file under us.
                    self._size = os.fstat(self._handle.fileno()).st_size
                    if self._size and self._size + size > self.max_bytes:
                        self._rotate()
                self._handle.write(line)
                self._size += size
            except OSError:
                pass  # a full disk must not take the request down with it

    def _rotate(self) -> None:
        self._handle.close()
        now = datetime.now(UTC)
        stamp = now.strftime("%Y-%m-%dT%H-%M-%S") + f".{now.microsecond // 1000:03d}"
        try:
            os.replace(self.path, self.directory / f"main-{stamp}.log")
        except FileNotFoundError:
            pass
        self._handle = open(self.path, "a", encoding="utf-8", errors="replace", buffering=1)
        self._size = 0

    def close(self) -> None:
        with self._lock:
            self._handle.close()


_current: MainLogFile | None = None


def main_log() -> MainLogFile | None:
    """The open ``main.log`` while ``logging-to-file`` is on, else None."""
    return _current


def open_main_log(directory: Path) -> MainLogFile:
    """Send log lines to ``<directory>/main.log`` (closing any file opened before)."""
    global _current
    opened = MainLogFile(directory)
    previous, _current = _current, opened
    if previous is not None:
        previous.close()
    return opened


def close_main_log() -> None:
    global _current
    previous, _current = _current, None
    if previous is not None:
        previous.close()
