"""The native client endpoints: OpenAI chat/completions/responses, Claude messages, Gemini, Gemini CLI.

Each endpoint authenticates like the legacy ``AuthMiddleware`` (``/v1internal:*`` is loopback-only
and unauthenticated, as in the legacy router), reads and checks the body, decides stream or not
with the legacy's per-protocol rule (surface §6) and hands an ``InferenceCall`` to the pipeline.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from handlers.client_auth import authenticate, go_query_first
from handlers.models.listing import unknown_model_response
from handlers.models.registry import UnknownModelError
from handlers.translation.gjson_values import text_of
from handlers.usage.reporter import CLIENT_KEY
from quotio_gateway.appkeys import CONFIG_STORE
from quotio_gateway.errors import UnreadableBody, invalid_request, read_request_body
from quotio_gateway.errors import error_response as gateway_error
from quotio_gateway.goquery import go_query_lookup
from quotio_gateway.legacy.peer_guard import cli_peer_allowed, cli_refusal
from quotio_gateway.management.responses import json_response
from quotio_gateway.native import NativeRegistry

from . import protocols
from .body_json import NOT_JSON, lenient_json
from .cli_passthrough import forward_cli_method
from .count_tokens import count_pairs
from .pairs_codex_openai import COMPLETIONS, chat_body_from_responses
from .pipeline import InferenceCall, serve
from .runtime import INFERENCE, InferenceRuntime


class BadRequest(Exception):
    """A client body the pipeline cannot start with (answered before any upstream work)."""

    def __init__(self, message: str, answer: web.Response | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.answer = answer

    def response(self) -> web.Response:
        return self.answer if self.answer is not None else invalid_request(self.message)


async def read_raw_body(request: web.Request) -> bytes:
    """The body's bytes; one that does not decode or is over the limit raises ``BadRequest``."""
    try:
        return await read_request_body(request)
    except UnreadableBody as exc:
        raise BadRequest(str(exc)) from exc
    except web.HTTPRequestEntityTooLarge as exc:
        # The same protocol-shaped answer the dispatcher gives when it reads the body itself
        # (model-matching routes), so the flag table never changes what the client sees.
        message = f"request body exceeds {request.client_max_size} bytes"
        raise BadRequest(message, gateway_error(request.path, 413, message)) from exc


async def read_json_object(request: web.Request) -> tuple[dict[str, Any], bytes]:
    raw = await read_raw_body(request)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        try:
            body = lenient_json(raw)
        except RecursionError:
            # Past orjson's 1024 levels Python's decoder runs out of stack: still JSON, but deeper
            # than anything the translators could walk, so it is refused as the client's fault.
            raise BadRequest("Invalid request: body nests too deeply") from None
        if body is NOT_JSON:
            raise BadRequest(f"Invalid request: body is not valid JSON ({exc.msg})") from exc
    if not isinstance(body, dict):
        raise BadRequest("Invalid request: body must be a JSON object")
    return body, raw


def model_of(body: dict[str, Any]) -> str:
    # gjson ``.String()``: "" for none or null, a number as Go spells it (``1.0`` -> ``1``),
    # true/false, and an object or array as JSON text (compact here, where gjson keeps the
    # client's spacing).
    return text_of(body.get("model"))


def require_messages(body: dict[str, Any], key: str = "messages") -> None:
    value = body.get(key)
    if not isinstance(value, list):
        raise BadRequest(f"Invalid request: `{key}` must be an array")
    if not value:
        raise BadRequest(f"Invalid request: `{key}` must not be empty")


# An endpoint body after authentication and body reading: (request, parsed body, raw bytes).
_BodyHandler = Callable[[web.Request, dict[str, Any], bytes], Awaitable[web.StreamResponse]]


def _authorised(request: web.Request) -> web.Response | None:
    verdict = authenticate(request, request.app[CONFIG_STORE].current.api_keys)
    if isinstance(verdict, web.Response):
        return verdict
    if verdict:
        request[CLIENT_KEY] = verdict  # the usage statistics' bucket (the legacy's ``apiKey``)
    return None


def _runtime(request: web.Request) -> InferenceRuntime:
    return request.app[INFERENCE]


def gemini_alt(request: web.Request) -> str:
    """``GetAlt``: ``alt`` (else ``$alt``) from the query, ``sse`` meaning the default."""
    raw = request.rel_url.raw_query_string
    # Presence as Go's parser sees it: an ``alt`` pair it drops (``;``, a bad escape) is absent.
    alt = go_query_lookup(raw, "alt")
    if alt is None:
        alt = go_query_first(raw, "$alt")
    return "" if alt == "sse" else alt


async def _read_body(request: web.Request,
                     check: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
                     ) -> tuple[dict[str, Any], bytes] | web.Response:
    """The JSON object body and its raw bytes, passed through ``check`` (which may replace or refuse
    it); a bad body comes back as the response to send instead."""
    try:
        body, raw = await read_json_object(request)
    except BadRequest as exc:
        return exc.response()
    if check is not None:
        try:
            body = check(body)
        except BadRequest as exc:
            # The legacy looks the model up before anything reads the messages: a model no
            # credential serves is named as such whatever else the body lacks.
            model = model_of(body)
            if not _servable(request, model):
                return unknown_model_response(model)
            return exc.response()
    return body, raw


def _servable(request: web.Request, model: str) -> bool:
    runtime = _runtime(request)
    try:
        runtime.registry.current.resolve(model, runtime.pick_auto)
    except UnknownModelError:
        return False
    return True


def _json_endpoint(check: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
                   ) -> Callable[[_BodyHandler], Callable[[web.Request], Awaitable[web.StreamResponse]]]:
    """Wrap an endpoint taking ``(request, body, raw)`` with the client key check and body reading
    every authenticated endpoint starts with, in that order (a bad key wins over a bad body)."""
    def wrap(inner: _BodyHandler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        @functools.wraps(inner)
        async def endpoint(request: web.Request) -> web.StreamResponse:
            if (denied := _authorised(request)) is not None:
                return denied
            read = await _read_body(request, check)
            if isinstance(read, web.Response):
                return read
            return await inner(request, *read)
        return endpoint
    return wrap


def _chat_body(body: dict[str, Any]) -> dict[str, Any]:
    # Some clients send Responses-shaped bodies here; the legacy converts them to chat first.
    converted = chat_body_from_responses(body)
    if converted is not None:
        return converted
    require_messages(body)
    return body


def _with_messages(body: dict[str, Any]) -> dict[str, Any]:
    require_messages(body)
    return body


@_json_endpoint(_chat_body)
async def chat_completions(request: web.Request, body: dict[str, Any], raw: bytes) -> web.StreamResponse:
    stream = body.get("stream") is True
    call = InferenceCall(protocols.OPENAI_CHAT, body, model_of(body), stream, raw, derive=_chat_body)
    return await serve(request, _runtime(request), call)


@_json_endpoint()
async def completions(request: web.Request, body: dict[str, Any], raw: bytes) -> web.StreamResponse:
    """Legacy text completions, served over the chat pairs (``prompt`` -> one user message)."""
    chat = _completions_chat(body)
    call = InferenceCall(protocols.OPENAI_COMPLETIONS, chat, model_of(chat), body.get("stream") is True, raw,
                         wrap=COMPLETIONS.wrap, derive=_completions_chat)
    return await serve(request, _runtime(request), call)


def _completions_chat(body: dict[str, Any]) -> dict[str, Any]:
    chat = COMPLETIONS.request(body)
    # Whether to stream is the client's JSON ``true`` (openai_handlers.go:168), not the converted
    # body's ``stream``, which the conversion also sets from "true" or 1. The legacy then still
    # sends that ``stream: true`` upstream on its non-stream path and cannot read the stream that
    # comes back (compatibility row 19j): the converted body says what is asked.
    if "stream" in chat:
        chat["stream"] = body.get("stream") is True
    return chat


@_json_endpoint()
async def responses(request: web.Request, body: dict[str, Any], raw: bytes) -> web.StreamResponse:
    call = InferenceCall(protocols.RESPONSES, body, model_of(body), body.get("stream") is True, raw)
    return await serve(request, _runtime(request), call)


@_json_endpoint(_with_messages)
async def claude_messages(request: web.Request, body: dict[str, Any], raw: bytes) -> web.StreamResponse:
    # The Claude handler streams unless ``stream`` is absent or JSON false (surface §6).
    stream = "stream" in body and body["stream"] is not False
    call = InferenceCall(protocols.CLAUDE, body, model_of(body), stream, raw)
    return await serve(request, _runtime(request), call)


@_json_endpoint()
async def claude_count_tokens(request: web.Request, body: dict[str, Any], raw: bytes) -> web.StreamResponse:
    runtime = _runtime(request)
    call = InferenceCall(protocols.CLAUDE_COUNT, body, model_of(body), False, raw, alt=gemini_alt(request),
                         action="countTokens", pairs=count_pairs(runtime.pairs))
    return await serve(request, runtime, call)


_GEMINI_METHODS = {"generateContent": False, "streamGenerateContent": True, "countTokens": False}


async def gemini_models_post(request: web.Request) -> web.StreamResponse:
    if (denied := _authorised(request)) is not None:
        return denied
    # Gin's catch-all value is "/" + the rest and the legacy trims exactly that one "/", so a
    # doubled slash stays part of the model name (gemini_handlers.go:136).
    parts = request.match_info["action"].split(":")
    if len(parts) != 2 or parts[1] not in _GEMINI_METHODS:
        # The legacy answers a two-part action with an unknown method with an empty 200 (its
        # switch has no default); a 404 tells the client what happened (docs/compatibility.md).
        # Either way the 404 is Gin's c.JSON: charset in the Content-Type, HTML-escaped text.
        return json_response(404, {"error": {"message": f"{request.path} not found.",
                                             "type": "invalid_request_error"}})
    model, method = parts
    read = await _read_body(request)
    if isinstance(read, web.Response):
        return read
    body, raw = read
    runtime = _runtime(request)
    if method == "countTokens":
        call = InferenceCall(protocols.GEMINI_COUNT, body, model, False, raw, alt=gemini_alt(request),
                             action="countTokens", pairs=count_pairs(runtime.pairs))
    else:
        call = InferenceCall(protocols.GEMINI, body, model, _GEMINI_METHODS[method], raw, alt=gemini_alt(request))
    return await serve(request, runtime, call)


async def gemini_cli(request: web.Request) -> web.StreamResponse:
    peer = request.transport.get_extra_info("peername") if request.transport else None
    if not peer or not cli_peer_allowed(peer[0]):
        return cli_refusal()
    method = request.match_info["method"]
    if method not in ("generateContent", "streamGenerateContent"):
        try:
            raw = await read_raw_body(request)
        except BadRequest as exc:
            return exc.response()
        return await forward_cli_method(request, _runtime(request), raw)
    read = await _read_body(request)
    if isinstance(read, web.Response):
        return read
    body, raw = read
    call = InferenceCall(protocols.GEMINI_CLI, body, model_of(body), _GEMINI_METHODS[method], raw,
                         alt=gemini_alt(request), alt_upstream=False)
    return await serve(request, _runtime(request), call)


def setup_inference_routes(registry: NativeRegistry) -> None:
    registry.post("/v1/chat/completions", chat_completions)
    registry.post("/v1/completions", completions)
    registry.post("/v1/responses", responses)
    registry.post("/v1/messages", claude_messages)
    registry.post("/v1/messages/count_tokens", claude_count_tokens)
    registry.post("/v1beta/models/{action:.*}", gemini_models_post)
    registry.post("/v1internal:{method}", gemini_cli)
