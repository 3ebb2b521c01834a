"""Model list answers in the three client dialects, and the legacy error body for unknown models.

Shapes follow CLIProxyAPI v6.7.15: the registry's per-dialect view (``convertModelToMap``), then
the handler's trimming (``OpenAIModels``, ``ClaudeModels``, ``GeminiModels``, ``GeminiGetHandler``).
Go marshals ``map[string]any`` with sorted keys, so every object here is built key-sorted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from aiohttp import web

from quotio_gateway.config.gojson import go_json_dumps
from quotio_gateway.errors import openai_error_type
from quotio_gateway.gostrings import go_trim
from quotio_gateway.management.responses import json_response

from .catalog import ModelInfo

GEMINI_DEFAULT_METHODS = ("generateContent",)
CLAUDE_CLI_AGENT_PREFIX = "claude-cli"


def _sorted(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {key: fields[key] for key in sorted(fields)}


# --- per-model views ------------------------------------------------------------------------


def openai_item(model: ModelInfo) -> dict[str, Any]:
    """``OpenAIModels`` keeps id, object, created (when set) and owned_by (always)."""
    item: dict[str, Any] = {"id": model.id, "object": "model", "owned_by": model.owned_by}
    if model.created > 0:
        item["created"] = model.created
    return _sorted(item)


def claude_item(model: ModelInfo) -> dict[str, Any]:
    item: dict[str, Any] = {"id": model.id, "object": "model", "owned_by": model.owned_by}
    if model.created > 0:
        item["created"] = model.created
    if model.type:
        item["type"] = model.type
    if model.display_name:
        item["display_name"] = model.display_name
    return _sorted(item)


def gemini_view(model: ModelInfo) -> dict[str, Any]:
    """The registry's Gemini view: ``name`` falls back to the ID; empty fields are left out."""
    item: dict[str, Any] = {"name": model.name or model.id}
    if model.version:
        item["version"] = model.version
    if model.display_name:
        item["displayName"] = model.display_name
    if model.description:
        item["description"] = model.description
    if model.input_token_limit > 0:
        item["inputTokenLimit"] = model.input_token_limit
    if model.output_token_limit > 0:
        item["outputTokenLimit"] = model.output_token_limit
    if model.supported_generation_methods:
        item["supportedGenerationMethods"] = list(model.supported_generation_methods)
    return item


def _with_models_prefix(name: str) -> str:
    return name if name.startswith("models/") else "models/" + name


def gemini_list_item(model: ModelInfo) -> dict[str, Any]:
    """``GeminiModels`` rewrites each entry: ``models/`` prefix on the name, and displayName and
    description both replaced by the name as it was before the prefix."""
    item = gemini_view(model)
    name = item["name"]
    if name:
        item["name"] = _with_models_prefix(name)
        item["displayName"] = name
        item["description"] = name
    item.setdefault("supportedGenerationMethods", list(GEMINI_DEFAULT_METHODS))
    return _sorted(item)


# --- whole answers --------------------------------------------------------------------------


def openai_models_body(models: Iterable[ModelInfo]) -> dict[str, Any]:
    return {"data": [openai_item(m) for m in models], "object": "list"}


def claude_models_body(models: Iterable[ModelInfo]) -> dict[str, Any]:
    return {"data": [claude_item(m) for m in models]}


def gemini_models_body(models: Iterable[ModelInfo]) -> dict[str, Any]:
    return {"models": [gemini_list_item(m) for m in models]}


def is_claude_cli(user_agent: str) -> bool:
    """``GET /v1/models`` answers in the Claude shape only for a case-sensitive ``claude-cli``
    User-Agent prefix."""
    return user_agent.startswith(CLAUDE_CLI_AGENT_PREFIX)


def v1_models_response(models: Iterable[ModelInfo], user_agent: str) -> web.Response:
    if is_claude_cli(user_agent):
        return json_response(200, claude_models_body(models))
    return json_response(200, openai_models_body(models))


def gemini_models_response(models: Iterable[ModelInfo]) -> web.Response:
    return json_response(200, gemini_models_body(models))


def gemini_model_response(models: Iterable[ModelInfo], action: str) -> web.Response:
    """``GET /v1beta/models/*action``: the first model whose Gemini name is the action (Gin's
    catch-all value minus its leading ``/``) or ``models/<action>``; displayName is *not*
    rewritten here."""
    wanted = action.removeprefix("/")
    for model in models:
        item = gemini_view(model)
        name = item["name"]
        if name in (wanted, "models/" + wanted):
            if name:
                item["name"] = _with_models_prefix(name)
            return json_response(200, _sorted(item))
    return json_response(404, {"error": {"message": "Not Found", "type": "not_found"}})


# --- errors ---------------------------------------------------------------------------------

# Go's ``http.StatusText``: what an error answer says when the error has no text of its own
# (an upstream status with a blank body, say). Go's wording, not Python's ("I'm a teapot",
# "Request URI Too Long"); "" for a status Go does not name.
_STATUS_TEXT = {
    100: "Continue", 101: "Switching Protocols", 102: "Processing", 103: "Early Hints",
    200: "OK", 201: "Created", 202: "Accepted", 203: "Non-Authoritative Information", 204: "No Content",
    205: "Reset Content", 206: "Partial Content", 207: "Multi-Status", 208: "Already Reported", 226: "IM Used",
    300: "Multiple Choices", 301: "Moved Permanently", 302: "Found", 303: "See Other", 304: "Not Modified",
    305: "Use Proxy", 307: "Temporary Redirect", 308: "Permanent Redirect",
    400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 406: "Not Acceptable", 407: "Proxy Authentication Required",
    408: "Request Timeout", 409: "Conflict", 410: "Gone", 411: "Length Required", 412: "Precondition Failed",
    413: "Request Entity Too Large", 414: "Request URI Too Long", 415: "Unsupported Media Type",
    416: "Requested Range Not Satisfiable", 417: "Expectation Failed", 418: "I'm a teapot",
    421: "Misdirected Request", 422: "Unprocessable Entity", 423: "Locked", 424: "Failed Dependency",
    425: "Too Early", 426: "Upgrade Required", 428: "Precondition Required", 429: "Too Many Requests",
    431: "Request Header Fields Too Large", 451: "Unavailable For Legal Reasons",
    500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable",
    504: "Gateway Timeout", 505: "HTTP Version Not Supported", 506: "Variant Also Negotiates",
    507: "Insufficient Storage", 508: "Loop Detected", 510: "Not Extended",
    511: "Network Authentication Required",
}


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def _is_json(text: str) -> bool:
    """``json.Valid``: Python's extra literals (NaN, Infinity) are not JSON to Go."""
    try:
        json.loads(text, parse_constant=_reject_constant)
    except ValueError:
        return False
    except RecursionError:
        # Python's decoder recurses per nesting level and gives up near 1000; Go's scanner
        # accepts up to 10000 (encoding/json maxNestingDepth).
        return _is_deep_json(text)
    return True


_JSON_TOKEN = re.compile(r"""[ \t\n\r]*(?:
    (?P<open>[\[{]) | (?P<close>[\]}]) | (?P<colon>:) | (?P<comma>,)
    | (?P<string>"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*")
    | (?P<scalar>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null))""", re.VERBOSE)
_GO_MAX_DEPTH = 10000  # encoding/json scanner.go maxNestingDepth


def _is_deep_json(text: str) -> bool:
    """``json.Valid`` without recursion, for documents nested past Python's recursion limit."""
    closers: list[str] = []  # the closing bracket of each open container
    # value: one is due; first: right after an opening bracket; key, colon: inside an object;
    # more: a value ended inside a container; end: the top-level value ended.
    expect = "value"
    pos = 0
    while expect != "end":
        match = _JSON_TOKEN.match(text, pos)
        if match is None:
            return False
        pos = match.end()
        kind = match.lastgroup
        in_object = bool(closers) and closers[-1] == "}"
        if kind == "close" and expect in ("first", "more"):
            if match.group("close") != closers[-1]:
                return False
            closers.pop()
        elif kind == "comma" and expect == "more":
            expect = "key" if in_object else "value"
            continue
        elif kind == "string" and (expect == "key" or (expect == "first" and in_object)):
            expect = "colon"
            continue
        elif kind == "colon" and expect == "colon":
            expect = "value"
            continue
        elif kind in ("open", "string", "scalar") and (expect == "value" or (expect == "first" and not in_object)):
            if kind == "open":
                if len(closers) >= _GO_MAX_DEPTH:
                    return False
                closers.append("}" if match.group("open") == "{" else "]")
                expect = "first"
                continue
        else:
            return False
        expect = "more" if closers else "end"
    return text[pos:].strip(" \t\n\r") == ""


def build_error_body(status: int, text: str) -> bytes:
    """``BuildErrorResponseBody``: JSON text passes through verbatim; anything else becomes an
    OpenAI-style error whose type/code follow the status."""
    if status <= 0:
        status = 500
    if not go_trim(text):
        text = _STATUS_TEXT.get(status, "")
    trimmed = go_trim(text)
    if trimmed and _is_json(trimmed):
        # ``surrogateescape``: an upstream body's bytes that are not UTF-8 go back as they came.
        return trimmed.encode("utf-8", "surrogateescape")
    kind, code = openai_error_type(status)
    detail: dict[str, Any] = {"message": text, "type": kind}
    if code:
        detail["code"] = code
    return go_json_dumps({"error": detail})


def error_response(status: int, text: str) -> web.Response:
    """``WriteErrorResponse`` for an error raised before any byte was written."""
    message = go_trim(text) or _STATUS_TEXT.get(status, "")
    return web.Response(status=status, body=build_error_body(status, message),
                        headers={"Content-Type": "application/json"})


def unknown_model_response(requested: str) -> web.Response:
    """400 ``unknown provider for model <requested>`` (the text is trimmed, like Go's)."""
    return error_response(400, f"unknown provider for model {requested}")
