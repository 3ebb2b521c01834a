"""The relay's JSON envelope (``internal/wsrelay/message.go``, ``http.go``).

Every frame is ``{"id", "type", "payload"}``. The gateway sends ``http_request`` frames and reads
back ``http_response`` (a whole answer), or ``stream_start`` / ``stream_chunk``\u2026 /
``stream_end``, or ``error``; either side may send ``ping`` and gets ``pong`` with the same id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from quotio_gateway.gostrings import go_canonical_header_key

HTTP_REQUEST = "http_request"
HTTP_RESPONSE = "http_response"
STREAM_START = "stream_start"
STREAM_CHUNK = "stream_chunk"
STREAM_END = "stream_end"
ERROR = "error"
PING = "ping"
PONG = "pong"

# The frames after which nothing more comes for that id.
TERMINAL = frozenset({HTTP_RESPONSE, ERROR, STREAM_END})


class BadFrame(ValueError):
    """A frame Go's ``ReadJSON`` into ``Message`` would refuse; the session ends on it."""


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    type: str
    payload: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.payload:  # ``omitempty``: an empty map is left out too
            out["payload"] = self.payload
        return out


def parse_message(raw: Any) -> Message:
    """A decoded frame as ``Message``. Fields Go decodes into typed slots must have that type
    (or be null); unknown fields are ignored, as ``encoding/json`` does."""
    if not isinstance(raw, dict):
        raise BadFrame("frame is not a JSON object")
    ident, kind, payload = raw.get("id"), raw.get("type"), raw.get("payload")
    if ident is not None and not isinstance(ident, str):
        raise BadFrame("id is not a string")
    if kind is not None and not isinstance(kind, str):
        raise BadFrame("type is not a string")
    if payload is not None and not isinstance(payload, dict):
        raise BadFrame("payload is not an object")
    return Message(ident or "", kind or "", payload)


@dataclass(frozen=True, slots=True)
class RelayRequest:
    method: str
    url: str
    headers: dict[str, list[str]]
    body: bytes

    def payload(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "url": self.url,
            "headers": {name: list(values) for name, values in self.headers.items()},
            "body": self.body.decode("utf-8", errors="replace"),
            "sent_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        }


@dataclass(slots=True)
class RelayResponse:
    status: int = 200
    headers: dict[str, list[str]] = field(default_factory=dict)
    body: bytes = b""

    def header_map(self) -> dict[str, str]:
        return {name: values[0] for name, values in self.headers.items() if values}


def decode_response(payload: dict[str, Any] | None) -> RelayResponse:
    """``decodeResponse``: no payload is a 502; a missing status is 200."""
    if payload is None:
        return RelayResponse(status=502)
    out = RelayResponse()
    status = payload.get("status")
    if isinstance(status, int | float) and not isinstance(status, bool):
        out.status = int(status)
    headers = payload.get("headers")
    if isinstance(headers, dict):
        for name, raw in headers.items():
            # Go's http.Header.Add canonicalises the key (content-type -> Content-Type).
            key = go_canonical_header_key(name)
            if isinstance(raw, list):
                values = [v for v in raw if isinstance(v, str)]
                if values:
                    out.headers.setdefault(key, []).extend(values)
            elif isinstance(raw, str):
                out.headers[key] = [raw]
    body = payload.get("body")
    if isinstance(body, str):
        out.body = body.encode()
    return out


def decode_chunk(payload: dict[str, Any] | None) -> bytes:
    data = payload.get("data") if payload is not None else None
    return data.encode() if isinstance(data, str) else b""


def decode_error(payload: dict[str, Any] | None) -> str:
    """``decodeError``'s text: the relay's message and its status (0 when it gave none)."""
    if payload is None:
        return "wsrelay: unknown error"
    message = payload.get("error")
    message = message if isinstance(message, str) and message else "wsrelay: upstream error"
    status = payload.get("status")
    code = int(status) if isinstance(status, int | float) and not isinstance(status, bool) else 0
    return f"{message} (status={code})"
