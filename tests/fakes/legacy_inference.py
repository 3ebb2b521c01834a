"""The stand-in legacy server's same-protocol inference routes (Claude, Gemini, Codex/Responses).

CLIProxyAPI registers no translator for a client whose upstream speaks its own protocol, so these
paths are near pass-through there, and that is what is reproduced: the body goes upstream with
``model`` rewritten to the configured upstream name, the answer comes back as the upstream sent it
(SSE lines relayed as they arrive; headers held until the first line), an upstream error is
answered with its status and body (``BuildErrorResponseBody``), and the next credential is tried
after a failure. Only ``models:`` aliases of the key sections are served here (no static
catalogues): shadow tests configure their models explicitly.

Independent of the gateway's own code on purpose: the shadow tests compare the two.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web

from tests.fakes.legacy_gin import STATE_KEY

Section = str
_CLAUDE_ANTHROPIC = "https://api.anthropic.com"


def _error(status: int, text: str) -> web.Response:
    # Imported here: legacy_server imports this module to register the routes.
    from tests.fakes.legacy_server import write_error

    return write_error(status, text)


def _session(request: web.Request) -> aiohttp.ClientSession:
    from tests.fakes.legacy_server import SESSION_KEY

    return request.app[SESSION_KEY]


def _credentials(cfg: dict[str, Any], section: Section, requested: str) -> list[tuple[dict[str, Any], str]]:
    base = requested[: requested.rindex("(")] if requested.endswith(")") and "(" in requested else requested
    out = []
    for entry in cfg.get(section) or []:
        if not (entry.get("api-key") or "").strip():
            continue
        for model in entry.get("models") or []:
            if (model.get("alias") or model.get("name")) == base:
                out.append((entry, model.get("name") or base))
                break
    return out


async def _relay_lines(request: web.Request, upstream: aiohttp.ClientResponse, *,
                       sse_headers: dict[str, str]) -> web.StreamResponse:
    """Each upstream line goes out as it arrives (the executors scan lines and re-add ``\\n``)."""
    response = web.StreamResponse(status=200)
    try:
        pending = b""
        async for piece in upstream.content.iter_any():
            pending += piece
            *lines, pending = pending.split(b"\n")
            if not lines:
                continue
            if not response.prepared:
                response.headers.update(sse_headers)
                await response.prepare(request)
            await response.write(b"".join(line + b"\n" for line in lines))
        if pending:
            if not response.prepared:
                response.headers.update(sse_headers)
                await response.prepare(request)
            await response.write(pending + b"\n")
    finally:
        upstream.release()
    if not response.prepared:
        response.headers.update(sse_headers)
        await response.prepare(request)
    await response.write_eof()
    return response


SSE = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "Connection": "keep-alive",
       "Access-Control-Allow-Origin": "*"}

Build = Callable[[dict[str, Any], str, dict[str, Any]], tuple[str, dict[str, str], dict[str, Any]]]


async def _serve(request: web.Request, section: Section, model: str, body: dict[str, Any], stream: bool,
                 build: Build, fold: Callable[[bytes], bytes] | None = None) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    candidates = _credentials(state.cfg, section, model)
    if not candidates:
        return _error(400, f"unknown provider for model {model}")
    session = _session(request)
    last_status, last_text = 500, ""
    for entry, upstream_model in candidates:
        url, headers, payload = build(entry, upstream_model, body)
        try:
            upstream = await session.post(url, data=json.dumps(payload), headers=headers)
        except aiohttp.ClientError as exc:
            last_status, last_text = 500, str(exc)
            continue
        if not 200 <= upstream.status < 300:
            last_status, last_text = upstream.status, (await upstream.read()).decode("utf-8", "replace")
            upstream.release()
            continue
        if stream:
            return await _relay_lines(request, upstream, sse_headers=SSE)
        data = await upstream.read()
        upstream.release()
        if fold is not None:
            data = fold(data)
        return web.Response(body=data, headers={"Content-Type": "application/json"})
    return _error(last_status, last_text)


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.read())
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _model_text(body: dict[str, Any]) -> str:
    model = body.get("model")
    return model if isinstance(model, str) else ("" if model is None else json.dumps(model))


async def claude_messages(request: web.Request) -> web.StreamResponse:
    body = await _json_body(request)
    stream = "stream" in body and body["stream"] is not False

    def build(entry: dict[str, Any], model: str, body: dict[str, Any]) -> tuple[str, dict[str, str], dict[str, Any]]:
        base = (entry.get("base-url") or _CLAUDE_ANTHROPIC).rstrip("/")
        headers = {"Content-Type": "application/json", "Anthropic-Version": "2023-06-01"}
        if base == _CLAUDE_ANTHROPIC:
            headers["x-api-key"] = entry["api-key"]
        else:
            headers["Authorization"] = f"Bearer {entry['api-key']}"
        return f"{base}/v1/messages?beta=true", headers, {**body, "model": model}

    return await _serve(request, "claude-api-key", _model_text(body), body, stream, build)


async def claude_count_tokens(request: web.Request) -> web.StreamResponse:
    body = await _json_body(request)

    def build(entry: dict[str, Any], model: str, body: dict[str, Any]) -> tuple[str, dict[str, str], dict[str, Any]]:
        base = (entry.get("base-url") or _CLAUDE_ANTHROPIC).rstrip("/")
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {entry['api-key']}"}
        return f"{base}/v1/messages/count_tokens?beta=true", headers, {**body, "model": model}

    return await _serve(request, "claude-api-key", _model_text(body), body, False, build)


async def gemini_models_post(request: web.Request) -> web.StreamResponse:
    action = request.match_info["action"].lstrip("/").split(":")
    if len(action) != 2:
        return web.json_response({"error": {"message": f"{request.path} not found.",
                                            "type": "invalid_request_error"}}, status=404)
    model, method = action
    if method not in ("generateContent", "streamGenerateContent", "countTokens"):
        return web.Response(status=200)
    body = await _json_body(request)
    stream = method == "streamGenerateContent"

    def build(entry: dict[str, Any], upstream: str, body: dict[str, Any]) -> tuple[str, dict[str, str], dict[str, Any]]:
        base = (entry.get("base-url") or "https://generativelanguage.googleapis.com").rstrip("/")
        url = f"{base}/v1beta/models/{upstream}:{method}" + ("?alt=sse" if stream else "")
        payload = dict(body)
        if method == "countTokens":
            for key in ("tools", "generationConfig", "safetySettings"):
                payload.pop(key, None)
        return url, {"Content-Type": "application/json", "x-goog-api-key": entry["api-key"]}, payload

    def fold_count(data: bytes) -> bytes:
        count = json.loads(data).get("totalTokens", 0)
        return json.dumps({"totalTokens": count,
                           "promptTokensDetails": [{"modality": "TEXT", "tokenCount": count}]}).encode()

    return await _serve(request, "gemini-api-key", model, body, stream, build,
                        fold_count if method == "countTokens" else None)


async def responses(request: web.Request) -> web.StreamResponse:
    body = await _json_body(request)
    stream = body.get("stream") is True

    def build(entry: dict[str, Any], model: str, body: dict[str, Any]) -> tuple[str, dict[str, str], dict[str, Any]]:
        base = (entry.get("base-url") or "https://api.openai.com/v1").rstrip("/")
        payload = {**body, "model": model, "stream": True, "store": False}
        for key in ("temperature", "top_p", "max_output_tokens", "previous_response_id"):
            payload.pop(key, None)
        return f"{base}/responses", {"Content-Type": "application/json",
                                     "Authorization": f"Bearer {entry['api-key']}",
                                     "Accept": "text/event-stream"}, payload

    def completed(data: bytes) -> bytes:
        # The Codex upstream always streams; a non-stream client gets response.completed's object.
        for line in data.split(b"\n"):
            if line.startswith(b"data:"):
                event = json.loads(line[5:])
                if event.get("type") == "response.completed":
                    return json.dumps(event["response"]).encode()
        return b'{"error":{"message":"stream closed before response.completed","type":"server_error"}}'

    return await _serve(request, "codex-api-key", _model_text(body), body, stream, build, None if stream else completed)


def register_inference(app: web.Application, auth: Callable[[Callable[[web.Request], Awaitable[Any]]], Any]) -> None:
    app.router.add_post("/v1/messages", auth(claude_messages))
    app.router.add_post("/v1/messages/count_tokens", auth(claude_count_tokens))
    app.router.add_post("/v1beta/models/{action:.*}", auth(gemini_models_post))
    app.router.add_post("/v1/responses", auth(responses))
