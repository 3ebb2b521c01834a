"""Protocol-shaped error answers produced by the gateway itself (legacy down, body too large, ...).

Each client protocol gets the error body its SDKs parse: OpenAI-style for /v1 OpenAI routes (the
shape CLIProxyAPI's BuildErrorResponseBody uses), Anthropic's envelope for /v1/messages, Google's
for Gemini routes and the plain ``{"error": "..."}`` of the management API.
"""

from __future__ import annotations

import orjson
from aiohttp import web

from .config.gojson import go_json_dumps

_GOOGLE_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                  413: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 502: "UNAVAILABLE",
                  503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}


def protocol_of(path: str) -> str:
    if path.startswith("/v1/messages") or path.startswith("/api/provider/anthropic"):
        return "claude"
    if path.startswith(("/v1beta", "/v1internal", "/api/provider/google")):
        return "gemini"
    if path.startswith(("/v0/", "/management")):
        return "management"
    return "openai"


def openai_error_type(status: int) -> tuple[str, str | None]:
    """(``type``, ``code``) of CLIProxyAPI's OpenAI-style error for a status (``BuildErrorResponseBody``)."""
    if status == 401:
        return "authentication_error", "invalid_api_key"
    if status == 403:
        return "permission_error", "insufficient_quota"
    if status == 404:
        return "invalid_request_error", "model_not_found"
    if status == 429:
        return "rate_limit_error", "rate_limit_exceeded"
    if status >= 500:
        return "server_error", "internal_server_error"
    return "invalid_request_error", None


def error_body(path: str, status: int, message: str) -> dict:
    protocol = protocol_of(path)
    if protocol == "claude":
        kind = "overloaded_error" if status == 503 else ("request_too_large" if status == 413 else "api_error")
        return {"type": "error", "error": {"type": kind, "message": message}}
    if protocol == "gemini":
        return {"error": {"code": status, "message": message, "status": _GOOGLE_STATUS.get(status, "UNKNOWN")}}
    if protocol == "management":
        return {"error": message}
    kind, code = openai_error_type(status)
    err: dict = {"message": message, "type": kind}
    if code:
        err["code"] = code
    return {"error": err}


class UnreadableBody(Exception):
    """A request body aiohttp's reader refused: most often one labelled with a Content-Encoding it
    is not in. The legacy reads bodies raw (``c.GetRawData``) and never meets this."""


async def read_request_body(request: web.Request) -> bytes:
    """``request.read()``, with a body that does not decode raising ``UnreadableBody``."""
    try:
        return await request.read()
    except web.RequestPayloadError as exc:
        coding = request.headers.get("Content-Encoding", "").strip()
        detail = (f"the body does not decode as its Content-Encoding ({coding})" if coding
                  else "the body could not be read")
        raise UnreadableBody(f"Invalid request: {detail}") from exc


def invalid_request(message: str) -> web.Response:
    """The legacy inference handlers' 400 for a body they cannot start with (their own error
    shape, without a ``code``, on every protocol's routes), written as Gin's ``c.JSON`` writes
    it: HTML-safe escapes and the charset in the Content-Type."""
    detail = {"message": message, "type": "invalid_request_error"}
    return web.Response(status=400, body=go_json_dumps({"error": detail}),
                        content_type="application/json", charset="utf-8")


def error_response(path: str, status: int, message: str) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(error_body(path, status, message)),
                        content_type="application/json")


def sse_error_frame(path: str, message: str) -> bytes:
    """The in-stream error a client of this protocol understands, once headers are already out."""
    protocol = protocol_of(path)
    if protocol == "claude":
        # Mid-stream, CLIProxyAPI's Claude handler always says api_error.
        body = orjson.dumps({"type": "error", "error": {"type": "api_error", "message": message}})
        return b"event: error\ndata: " + body + b"\n\n"
    body = orjson.dumps(error_body(path, 502, message))
    if protocol == "gemini" or path.startswith("/v1/responses"):
        return b"event: error\ndata: " + body + b"\n\n"
    return b"data: " + body + b"\n\n"
