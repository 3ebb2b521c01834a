"""Writing the per-request log files (``logging/request_logger.go``): every non-GET call of the
client API while ``request-log`` is on, and, while it is off, only the ones answered with an
error, as ``error-…`` files of which the newest ten are kept."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from handlers.providers.upstream_log import api_section, go_headers
from quotio_gateway import __version__
from quotio_gateway.config.models import Config
from quotio_gateway.logging import redact_query

from .request_logs import ERROR_PREFIX, is_error_log

KEEP_ERROR_LOGS = 10
# Where a native stream leaves the bytes it sent while request-log is on (a request state key).
STREAMED_BODY_KEY = "quotio_streamed_body"
# The native stream's response once its head is committed, while request-log is on (a request
# state key): a client that hangs up leaves the dispatcher only its 499 to report.
STREAM_RESPONSE_KEY = "quotio_stream_response"
# The answer the legacy's handler leaves after its client hung up, which only the request log sees
# (a request state key): a non-stream handler's error for the cancelled upstream call, or a stream
# handler's empty 200 when nothing had been written yet.
GONE_ANSWER_KEY = "quotio_gone_answer"
# A ``TerminalError`` (a request state key): an error written into an answer whose 200 had gone
# out, under a status its handler set, which the legacy's log records (with request-log off, as
# an error log).
TERMINAL_ERROR_KEY = "quotio_terminal_error"
# The request's ``UpstreamLog`` while request-log is on (a request state key).
UPSTREAM_LOG_KEY = "quotio_upstream_log"
# Set on an error answer built from a failed call (the legacy's WriteErrorResponse): with
# request-log off, its body is the only upstream-side section an error log file has.
ERROR_ANSWER_KEY = "quotio_error_answer"
# Go's server takes these out of the request's header map (into Request.Host and
# Request.TransferEncoding), so the legacy's file never lists them.
_SERVER_MOVED = frozenset({"Host", "Transfer-Encoding"})
_UNSAFE = re.compile(r'[<>:"|?*\s]')
_DASHES = re.compile(r"-+")


@dataclass(frozen=True, slots=True)
class TerminalError:
    """An error written after the answer's 200 went out, once its handler set the error's
    ``status`` (``c.Status``: a Claude stream's terminal frame, code_handlers.go:282; an error
    after non-stream keep-alives, handlers.go:692). The client keeps the 200, but the legacy's
    writer wrapper takes the status (response_writer.go:136-171). With request-log off it keeps
    only what is written from then on (``tail``) and logs it as a forced error log. With it on,
    a stream (``streams``) switches to the streaming writer, which also keeps only ``tail`` and
    writes its own form; a non-stream answer keeps its whole body."""

    status: int
    tail: bytes
    timestamp: str  # when the status was set: the streaming log's REQUEST INFO time
    streams: bool


def records_requests(cfg: Config) -> bool:
    """Whether a request's log file content is gathered as it is served: ``request-log`` on and
    ``commercial-mode`` off (that mode leaves the request-logging middleware out)."""
    return cfg.request_log and not cfg.commercial_mode


def should_log(method: str, path: str) -> bool:
    """GETs and the management API are never logged; under ``/api`` only ``/api/provider``."""
    if method == "GET":
        return False
    if path.startswith("/v0/management") or path.startswith("/management"):
        return False
    if path.startswith("/api"):
        return path.startswith("/api/provider")
    return True


def sanitize_for_filename(path: str) -> str:
    path = path.split("?", 1)[0]
    if path.startswith("/"):
        path = path[1:]
    cleaned = _DASHES.sub("-", _UNSAFE.sub("-", path.replace("/", "-").replace(":", "-"))).strip("-")
    return cleaned or "root"


def file_name(path: str, request_id: str, local_stamp: str, *, error: bool) -> str:
    """``v1-chat-completions-2026-01-20T101112-<request id>.log``, ``error-`` first for a forced one."""
    name = f"{sanitize_for_filename(path)}-{local_stamp}-{request_id}.log"
    return ERROR_PREFIX + name if error else name


def render(*, url: str, method: str, headers: Iterable[tuple[str, str]], body: bytes, timestamp: str,
           status: int, response_headers: Iterable[tuple[str, str]], response_body: bytes | None,
           api_request: bytes = b"", api_response: bytes = b"", streaming: bool = False) -> bytes:
    """The file: request info, headers (secrets masked), body, the upstream calls, then the answer.
    ``streaming``: the legacy's streaming writer's form, whose answer ends without a newline of
    its own (request_logger.go:1160)."""
    parts: list[bytes] = [
        b"=== REQUEST INFO ===\n",
        f"Version: {__version__}\nURL: {redact_query(url)}\nMethod: {method}\nTimestamp: {timestamp}\n\n".encode(),
        b"=== HEADERS ===\n",
    ]
    parts += [f"{name}: {value}\n".encode("utf-8", "replace")
              for name, values in go_headers(headers, _SERVER_MOVED).items() for value in values]
    parts += [b"\n=== REQUEST BODY ===\n", body, b"\n\n",
              api_section("=== API REQUEST ===\n", "=== API REQUEST", api_request),
              api_section("=== API RESPONSE ===\n", "=== API RESPONSE", api_response),
              b"=== RESPONSE ===\n", f"Status: {status}\n".encode()]
    parts += [f"{name}: {value}\n".encode("utf-8", "replace") for name, value in response_headers]
    parts.append(b"\n")
    parts.append(response_body if response_body is not None else b"[body not recorded]")
    if not streaming:
        parts.append(b"\n")
    return b"".join(parts)


def write_log(directory: Path, name: str, content: bytes) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / name, "wb") as handle:
        handle.write(content)


def prune_error_logs(directory: Path, keep: int = KEEP_ERROR_LOGS) -> int:
    """Delete all but the ``keep`` newest ``error-*.log`` files; how many went."""
    found: list[tuple[float, str]] = []
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False) or not is_error_log(entry.name):
                continue
            try:
                found.append((entry.stat().st_mtime, entry.name))
            except OSError:
                continue
    if len(found) <= keep:
        return 0
    found.sort(reverse=True)
    removed = 0
    for _, name in found[keep:]:
        try:
            (directory / name).unlink()
            removed += 1
        except OSError:
            continue
    return removed
