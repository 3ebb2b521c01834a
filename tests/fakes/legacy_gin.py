"""Gin framework behaviour the legacy binary inherits: JSON rendering, the default 404, trusted
X-Forwarded-For handling in ClientIP, and the shared per-process state of the stand-in."""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from .legacy_schema import go_json_bytes

GIN_JSON = "application/json; charset=utf-8"
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, PUT, PATCH, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "*",
}
NOT_FOUND_BODY = b"404 page not found"


def gin_json(status: int, obj: Any, headers: dict[str, str] | None = None) -> web.Response:
    """c.JSON: Go-marshalled body, gin's content type."""
    response = web.Response(status=status, body=go_json_bytes(obj), headers=headers)
    response.headers["Content-Type"] = GIN_JSON
    return response


def gin_not_found() -> web.Response:
    response = web.Response(status=404, body=NOT_FOUND_BODY)
    response.headers["Content-Type"] = "text/plain"
    return response


def bare_status(status: int) -> web.Response:
    """c.AbortWithStatus: a status with an empty body and no content type."""
    response = web.Response(status=status, body=b"")
    response.headers.popall("Content-Type", None)
    return response


def _valid_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def client_ip(request: web.Request) -> str:
    """gin.Context.ClientIP with gin.New() defaults: every peer is a trusted proxy, so the leftmost
    parseable X-Forwarded-For entry (then X-Real-IP) wins over the socket address."""
    for header in ("X-Forwarded-For", "X-Real-IP"):
        value = request.headers.get(header, "")
        if not value:
            continue
        items = [item.strip() for item in value.split(",")]
        # Gin walks right to left and gives up on the header at the first unparseable entry.
        if all(_valid_ip(item) for item in items):
            return items[0]
    peer = request.transport.get_extra_info("peername") if request.transport else None
    return str(peer[0]) if peer else ""


@dataclass
class Attempt:
    count: int = 0
    blocked_until: float = 0.0
    last_activity: float = field(default_factory=time.monotonic)


@dataclass
class LegacyState:
    """Everything the running stand-in knows; handlers share one instance via the app."""

    config_path: Path
    cfg: dict[str, Any]
    file_digest: str
    env_secret: str = ""
    local_password: str = ""
    mgmt_registered: bool = False
    mgmt_enabled: bool = False
    failed_attempts: dict[str, Attempt] = field(default_factory=dict)
    # bcrypt at cost 10 takes ~50 ms; remember verdicts by (hash, digest of the candidate).
    bcrypt_cache: dict[tuple[str, str], bool] = field(default_factory=dict)
    model_created: dict[str, int] = field(default_factory=dict)
    ws_sessions: set[web.WebSocketResponse] = field(default_factory=set)
    reload_count: int = 0


STATE_KEY = web.AppKey("legacy_state", LegacyState)
