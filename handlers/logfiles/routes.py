"""``/v0/management/logs``, ``/request-error-logs`` and ``/request-log-by-id``, answered from the
log directory (``internal/api/handlers/management/logs.go``)."""

from __future__ import annotations

import stat
from pathlib import Path
from urllib.parse import quote_plus

from aiohttp import web

from quotio_gateway.appkeys import CONFIG_STORE
from quotio_gateway.goquery import query_value
from quotio_gateway.gostrings import go_decimal, go_trim
from quotio_gateway.management.auth import guarded
from quotio_gateway.management.responses import error_response, gin_h, json_response
from quotio_gateway.native import NativeRegistry
from quotio_gateway.servefile import open_error, serve_content

from .mainlog import ClearError, LogWindow, clear_logs, log_files
from .request_logs import error_logs, find_by_request_id, inside, is_error_log

PREFIX = "/v0/management"
LOG_DIR = web.AppKey("quotio_log_dir", Path)


def log_dir(request: web.Request) -> Path:
    return request.app[LOG_DIR]


def _cutoff(raw: str) -> int:
    """``after``: Unix seconds; anything else, or ≤ 0, means no cut-off (never an error)."""
    number = go_decimal(go_trim(raw))
    return number if number is not None and 0 < number < 2**63 else 0


def _limit(raw: str) -> int | str:
    """``limit``: 0 (absent) or a positive count; an error message otherwise."""
    value = go_trim(raw)
    if not value:
        return 0
    number = go_decimal(value)
    if number is None or not -2**63 <= number < 2**63:
        return "invalid limit: must be a positive integer"
    return number if number > 0 else "invalid limit: must be greater than zero"


def _logging_to_file(request: web.Request) -> bool:
    return request.app[CONFIG_STORE].current.logging_to_file


async def get_logs(request: web.Request) -> web.StreamResponse:
    if not _logging_to_file(request):
        return error_response(400, "logging to file disabled")
    directory = log_dir(request)
    try:
        files = log_files(directory)
    except FileNotFoundError:
        return json_response(200, {"lines": [], "line-count": 0,
                                   "latest-timestamp": _cutoff(query_value(request, "after"))})
    except OSError as exc:
        return error_response(500, f"failed to list log files: {_os_error(exc)}")
    limit = _limit(query_value(request, "limit"))
    if isinstance(limit, str):
        return error_response(400, limit)
    cutoff = _cutoff(query_value(request, "after"))
    window = LogWindow(cutoff, limit)
    for path in files:
        try:
            window.consume(path)
        except OSError as exc:
            return error_response(500, f"failed to read log file {path}: {_os_error(exc)}")
    latest = window.latest if window.latest >= cutoff else cutoff
    return json_response(200, gin_h(lines=window.lines, **{"line-count": window.total,
                                                           "latest-timestamp": latest}))


async def delete_logs(request: web.Request) -> web.StreamResponse:
    if not _logging_to_file(request):
        return error_response(400, "logging to file disabled")
    try:
        removed = clear_logs(log_dir(request))
    except FileNotFoundError:
        return error_response(404, "log directory not found")
    except ClearError as exc:
        return error_response(500, str(exc))
    except OSError as exc:
        return error_response(500, f"failed to list log directory: {_os_error(exc)}")
    return json_response(200, gin_h(success=True, message="Logs cleared successfully", removed=removed))


async def get_request_error_logs(request: web.Request) -> web.StreamResponse:
    if request.app[CONFIG_STORE].current.request_log:
        return json_response(200, {"files": []})
    try:
        files = error_logs(log_dir(request))
    except FileNotFoundError:
        return json_response(200, {"files": []})
    except OSError as exc:
        return error_response(500, f"failed to list request error logs: {_os_error(exc)}")
    return json_response(200, {"files": [info.as_json() for info in files]})


async def download_request_error_log(request: web.Request) -> web.StreamResponse:
    name = go_trim(request.match_info.get("name", ""))
    if not name or "/" in name or "\\" in name:
        return error_response(400, "invalid log file name")
    if not is_error_log(name):
        return error_response(404, "log file not found")
    return _attachment(request, log_dir(request), name, missing="log file not found")


async def request_log_by_id(request: web.Request) -> web.StreamResponse:
    request_id = go_trim(request.match_info.get("id", "")) or go_trim(query_value(request, "id"))
    if not request_id:
        return error_response(400, "missing request ID")
    if "/" in request_id or "\\" in request_id:
        return error_response(400, "invalid request ID")
    directory = log_dir(request)
    try:
        name = find_by_request_id(directory, request_id)
    except FileNotFoundError:
        return error_response(404, "log directory not found")
    except OSError as exc:
        return error_response(500, f"failed to list log directory: {_os_error(exc)}")
    if name is None:
        return error_response(404, "log file not found for the given request ID")
    return _attachment(request, directory, name, missing="log file not found")


def _attachment(request: web.Request, directory: Path, name: str, *, missing: str) -> web.StreamResponse:
    path = inside(directory, name)
    if path is None:
        return error_response(400, "invalid log file path")
    try:
        info = path.stat()
    except FileNotFoundError:
        return error_response(404, missing)
    except OSError as exc:
        return error_response(500, f"failed to read log file: {_os_error(exc)}")
    if stat.S_ISDIR(info.st_mode):
        return error_response(400, "invalid log file")
    # Gin's c.FileAttachment: the disposition header first, then http.ServeFile, whose conditional
    # and range handling (and its plain-text errors) keep that header.
    try:
        data = path.read_bytes()
    except OSError as exc:
        response = open_error(exc)
    else:
        response = serve_content(request.method, request.headers, data, info.st_mtime, _sniffed_type(data))
    response.headers["Content-Disposition"] = _disposition(name)
    return response


def _disposition(name: str) -> str:
    if name.isascii():
        escaped = name.replace("\\", "\\\\").replace('"', '\\"')
        return f'attachment; filename="{escaped}"'
    return "attachment; filename*=UTF-8''" + quote_plus(name, safe="")


# Bytes that make Go's http.DetectContentType call content binary.
_BINARY = frozenset([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x1B), *range(0x1C, 0x20)])


def _sniffed_type(data: bytes) -> str:
    """What Go's ServeContent sends for a ``.log`` file (an extension it has no type for): the
    sniffed type of the first 512 bytes, text for a request log."""
    return "application/octet-stream" if any(byte in _BINARY for byte in data[:512]) else "text/plain; charset=utf-8"


def _os_error(exc: OSError) -> str:
    return exc.strerror or str(exc)


def setup_log_routes(registry: NativeRegistry) -> None:
    registry.add("GET", f"{PREFIX}/logs", guarded(get_logs))
    registry.add("DELETE", f"{PREFIX}/logs", guarded(delete_logs))
    registry.add("GET", f"{PREFIX}/request-error-logs", guarded(get_request_error_logs))
    registry.add("GET", f"{PREFIX}/request-error-logs/{{name}}", guarded(download_request_error_log))
    registry.add("GET", f"{PREFIX}/request-log-by-id/{{id}}", guarded(request_log_by_id))
