"""The access log: one line per answered request, at a level that follows the status."""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
import structlog

from .logging import access_sink, redact_query
from .mainlog import access_message, format_line, main_log

MANAGEMENT_PREFIX = "/v0/management"
# A lazy proxy, so it follows setup_logging() even when that runs after this import.
_log = structlog.get_logger("quotio_gateway.access")
_LEVEL_NAMES = {logging.INFO: "info", logging.WARNING: "warning", logging.ERROR: "error"}
# The formatted second, reused by every line written within it (one line per request).
_second: list[object] = [-1, ""]


def _timestamp(now: float) -> str:
    """ISO 8601 UTC with microseconds, as structlog's TimeStamper(fmt="iso", utc=True) writes it."""
    whole = int(now)
    if _second[0] != whole:
        _second[0], _second[1] = whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
    return f"{_second[1]}.{int(now % 1 * 1e6):06d}Z"


def _render(fields: tuple[Any, ...]) -> str:
    bound, now, levelno, request_id, method, path_qs, status, duration, route, mode, side, peer = fields
    line: dict[str, object] = bound
    line.update(event="access", level=_LEVEL_NAMES[levelno], timestamp=_timestamp(now),
                logger="quotio_gateway.access", request_id=request_id, method=method, path=redact_query(path_qs),
                status=status, duration_ms=round(duration * 1000.0, 3), route=route, mode=mode, side=side,
                peer=peer)
    return orjson.dumps(line).decode() + "\n"


def log_access(
    *,
    request_id: str,
    method: str,
    path_qs: str,
    status: int,
    duration: float,
    route: str | None,
    mode: str | None,
    side: str | None,
    peer: str | None,
) -> None:
    """Write the access line: info below 400, warning for 4xx, error for 5xx.

    ``duration`` is in seconds (request head to last response byte) and is logged as
    ``duration_ms``; ``path_qs`` is the raw request target, logged as ``path`` with sensitive
    query values masked.
    """
    file = main_log()
    # Management calls stay out of main.log: the Quotio app polls GET /logs every few seconds, and
    # each poll would otherwise add a line to the log it reads (the legacy's does; compatibility.md).
    if file is not None and not path_qs.startswith(MANAGEMENT_PREFIX):
        level = "error" if status >= 500 else "warn" if status >= 400 else "info"
        file.write(format_line(time.time(), request_id, level,
                               access_message(status, duration, peer or "", method, redact_query(path_qs))))
    sink = access_sink()
    if sink is not None:
        levelno = logging.ERROR if status >= 500 else logging.WARNING if status >= 400 else logging.INFO
        if levelno < sink.levelno:
            return
        # Rendered at the sink's next flush; what the line says is fixed now (time, bound context).
        sink.write_later(_render, (structlog.contextvars.get_contextvars(), time.time(), levelno, request_id, method,
                                   path_qs, status, duration, route, mode, side, peer))
        return
    if status >= 500:
        emit = _log.error
    elif status >= 400:
        emit = _log.warning
    else:
        emit = _log.info
    emit(
        "access",
        request_id=request_id,
        method=method,
        path=redact_query(path_qs),
        status=status,
        duration_ms=round(duration * 1000.0, 3),
        route=route,
        mode=mode,
        side=side,
        peer=peer,
    )
