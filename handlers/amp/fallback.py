"""``fallback_handlers.go``: who serves a POST on an Amp provider route.

After the client key check the body is read and the model found (the body's string ``model``,
else the Gemini action's part before ``:``, which, as in the legacy, keeps the leading ``/`` of
Gin's catch-all value). Then, with ``ampcode.force-model-mappings`` the mapping is tried first and
the local providers after; without it the other way round. A mapped request is served locally with
the target model in its body and the requested name written back into the answer; a model no
local provider serves goes to the Amp upstream when one is configured; otherwise the local handler
answers (its own "unknown provider" error). Served locally, the client's ``Anthropic-Beta`` loses
``context-1m-2025-08-07``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import structlog
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from handlers.inference.pipeline import CLIENT_HEADERS, STREAM_REWRITE
from handlers.inference.routes import BadRequest, read_raw_body
from handlers.inference.runtime import INFERENCE
from handlers.models.registry import split_thinking_suffix
from handlers.usage.reporter import CLIENT_KEY
from quotio_gateway.appkeys import CONFIG_STORE
from quotio_gateway.gostrings import go_trim

from .state import AMP, upstream_base
from .upstream import proxy_request

log = structlog.get_logger("handlers.amp.fallback")

Endpoint = Callable[[web.Request], Awaitable[web.StreamResponse]]
Authorise = Callable[[web.Request], web.Response | None]

_CONTEXT_1M = "context-1m-2025-08-07"
# The mapped model, for a handler that names its model outside the body (the Gemini bridge).
MAPPED_MODEL = "quotio.amp_mapped_model"
_MODEL_PATHS = (("model",), ("modelVersion",), ("response", "modelVersion"), ("message", "model"))


def model_in_request(body: bytes, request: web.Request) -> str:
    """``extractModelFromRequest``: the body's ``model`` when it is a JSON string (even ""), else
    the model part of a Gemini action, else the ``<model>`` of a bridge path's
    ``/models/<model>:<method>``, else ""."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("model"), str):
        return doc["model"]
    action = request.match_info.get("action")
    if action is not None:
        return ("/" + action).split(":")[0]
    path = request.match_info.get("path")
    if path is not None:
        at = ("/" + path).find("/models/")
        if at >= 0:
            rest = ("/" + path)[at + len("/models/"):]
            colon = rest.find(":")
            if colon > 0:
                return rest[:colon]
    return ""


def rewrite_request_model(body: bytes, model: str) -> bytes:
    """``rewriteModelInRequest``: the body's ``model`` replaced, when it has one."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body
    if not isinstance(doc, dict) or "model" not in doc:
        return body
    doc["model"] = model
    return orjson.dumps(doc)


def filter_beta(header: str) -> str:
    """``filterBetaFeatures``: the comma list without the 1M-context feature (trimmed, empties gone)."""
    kept = [part.strip() for part in header.split(",") if part.strip() and part.strip() != _CONTEXT_1M]
    return ",".join(kept)


def _local_headers(request: web.Request) -> None:
    beta = request.headers.get("Anthropic-Beta", "")
    if not beta:
        return
    headers: CIMultiDict[str] = CIMultiDict(request.headers)
    filtered = filter_beta(beta)
    if filtered:
        headers["Anthropic-Beta"] = filtered
    else:
        headers.popall("Anthropic-Beta", None)
    request[CLIENT_HEADERS] = CIMultiDictProxy(headers)


# --- answers rewritten back to the requested model (response_rewriter.go) ---------------------


def _without_thinking(doc: dict[str, Any]) -> None:
    # Amp's client cannot take thinking blocks next to tool_use ones in one answer.
    content = doc.get("content")
    if not isinstance(content, list):
        return
    if not any(isinstance(item, dict) and item.get("type") == "tool_use" for item in content):
        return
    kept = [item for item in content if isinstance(item, dict) and "type" in item and item["type"] != "thinking"]
    if len(kept) < len(content):
        doc["content"] = kept


def rewrite_answer(data: bytes, requested: str) -> bytes:
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        return data
    if not isinstance(doc, dict):
        return data
    _without_thinking(doc)
    for path in _MODEL_PATHS:
        holder: Any = doc
        for key in path[:-1]:
            holder = holder.get(key) if isinstance(holder, dict) else None
        if isinstance(holder, dict) and path[-1] in holder:
            holder[path[-1]] = requested
    return orjson.dumps(doc)


def rewrite_stream_chunk(chunk: bytes, requested: str) -> bytes:
    lines = chunk.split(b"\n")
    for index, line in enumerate(lines):
        if line.startswith(b"data: ") and line[6:7] == b"{":
            lines[index] = b"data: " + rewrite_answer(line[6:], requested)
    return b"\n".join(lines)


def _rewritten(response: web.StreamResponse, requested: str) -> web.StreamResponse:
    if response.prepared or not isinstance(response, web.Response):
        return response  # a stream: its writes went through STREAM_REWRITE
    body = response.body
    if not isinstance(body, bytes) or not body or "stream" in response.headers.get("Content-Type", ""):
        return response
    response.body = rewrite_answer(body, requested)
    return response


# --- the wrapper --------------------------------------------------------------------------------


def with_amp_fallback(handler: Endpoint, authorise: Authorise) -> Endpoint:
    """A provider-alias POST: the client key check, then ``serve_with_fallback``."""
    async def endpoint(request: web.Request) -> web.StreamResponse:
        if (denied := authorise(request)) is not None:
            return denied
        return await serve_with_fallback(request, handler, cors=True)

    return endpoint


async def serve_with_fallback(request: web.Request, handler: Endpoint, *, cors: bool) -> web.StreamResponse:
    """``FallbackHandler.WrapHandler`` after the key check. ``cors``: whether an answer proxied to
    the Amp upstream carries the gateway's CORS headers (not under the control-plane group)."""
    try:
        body = await read_raw_body(request)
    except BadRequest as exc:
        return exc.response()
    requested = model_in_request(body, request)
    if not requested:
        return await handler(request)
    settings = request.app[CONFIG_STORE].current.ampcode
    providers = request.app[INFERENCE].registry.current.providers
    mapper = request.app[AMP].mapper(settings)
    split = split_thinking_suffix(requested)
    normalized = split.name

    def mapped_target() -> str:
        target = go_trim(mapper.map(requested, providers) or mapper.map(normalized, providers))
        if not target:
            return ""
        if split.suffix is not None and split_thinking_suffix(target).suffix is None:
            target += f"({split.suffix})"
        return target if providers(split_thinking_suffix(target).name) else ""

    target = ""
    found: list[str] = []
    if settings.force_model_mappings:
        target = mapped_target()
        if not target:
            found = providers(normalized) if normalized else []
    else:
        found = providers(normalized) if normalized else []
        if not found:
            target = mapped_target()
    if not target and not found:
        base = upstream_base(settings)
        if base:
            log.warning("amp.fallback.upstream", model=requested, path=request.path)
            client_key = request.get(CLIENT_KEY) or ""
            upstream_key = request.app[AMP].secret.key_for(settings, client_key)
            return await proxy_request(request, base, upstream_key, client_key, body, cors=cors)
        return await handler(request)
    _local_headers(request)
    if not target:
        return await handler(request)
    request._read_bytes = rewrite_request_model(body, target)  # what the handler's read() returns
    request[MAPPED_MODEL] = target
    request[STREAM_REWRITE] = lambda chunk: rewrite_stream_chunk(chunk, requested)
    return _rewritten(await handler(request), requested)
