"""Stand-in for the CLIProxyAPI v6.7.15 binary, written from the reference notes and the Go
source, independently of the gateway's own handlers.

Run it exactly like launchers run the Go binary::

    python -m tests.fakes.legacy_server -config /path/config.yaml

or in-process with :func:`start_legacy`. What it imitates is listed in tests/fakes/README.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from http import HTTPStatus
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import WSMsgType, web

from .legacy_completions import completions
from .legacy_config import ConfigError, load_config
from .legacy_faults import ALLOW_PROCESS_EXIT, register_faults
from .legacy_flags import parse_flags
from .legacy_gemini_models import register_gemini_models
from .legacy_gin import CORS_HEADERS, STATE_KEY, LegacyState, gin_json, gin_not_found
from .legacy_inference import register_inference
from .legacy_mgmt import register_management
from .legacy_schema import go_json_bytes

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SESSION_KEY = web.AppKey("legacy_upstream_session", aiohttp.ClientSession)
RELOAD_TASK_KEY = web.AppKey("legacy_reload_task", asyncio.Task)
POLL_SECONDS = 0.25
# Like Go's request context: a client that goes away cancels its handler (and so the upstream
# call); stalled fault handlers must not hold runner.cleanup() for aiohttp's default 60 s.
RUNNER_OPTIONS: dict[str, Any] = {"handler_cancellation": True, "shutdown_timeout": 1.0}
ROOT_BODY = {
    "endpoints": ["POST /v1/chat/completions", "POST /v1/completions", "GET /v1/models"],
    "message": "CLI Proxy API Server",
}


# --- Gin-wide behaviour ------------------------------------------------------------------------


@web.middleware
async def gin_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """CORS short-circuit for OPTIONS, then Gin's 404 (and trailing-slash redirect) for no route."""
    if request.method == "OPTIONS":
        response = web.Response(status=204)
        response.headers.popall("Content-Type", None)
        return response
    if request.match_info.http_exception is not None:
        return await _trailing_slash_redirect(request) or gin_not_found()
    return await handler(request)


async def _trailing_slash_redirect(request: web.Request) -> web.Response | None:
    path = request.path
    if len(path) <= 1 or not path.endswith("/"):
        return None
    # Gin drops exactly one trailing slash and keeps the query string.
    stripped = path[:-1]
    resolved = await request.app.router.resolve(request.clone(rel_url=stripped))
    if resolved.http_exception is not None:
        return None
    target = stripped + (f"?{request.query_string}" if request.query_string else "")
    code = 301 if request.method == "GET" else 307
    body = f'<a href="{target}">{"Moved Permanently" if code == 301 else "Temporary Redirect"}</a>.\n\n'
    response = web.Response(status=code, body=body.encode() if request.method == "GET" else b"")
    response.headers["Location"] = target
    if request.method == "GET":
        response.headers["Content-Type"] = "text/html; charset=utf-8"
    else:
        response.headers.popall("Content-Type", None)
    return response


async def _on_prepare(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(CORS_HEADERS)
    # net/http sends no Server header.
    response.headers.popall("Server", None)


async def root(request: web.Request) -> web.Response:
    return gin_json(200, ROOT_BODY)


def resolve_auth_dir(auth_dir: str) -> str:
    """util.ResolveAuthDir: one leading "~" is $HOME (no ~user form), then filepath.Clean."""
    if not auth_dir:
        return ""
    if auth_dir.startswith("~"):
        rest = auth_dir[1:].lstrip("/\\").replace("\\", "/")
        auth_dir = os.path.join(os.environ["HOME"], rest) if rest else os.environ["HOME"]
    cleaned = os.path.normpath(auth_dir)
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


# --- client API keys ----------------------------------------------------------------------------


def _client_auth_error(request: web.Request) -> web.Response | None:
    keys = {k for k in request.app[STATE_KEY].cfg["api-keys"] or [] if k}
    if not keys:
        return None
    authorization = request.headers.get("Authorization", "")
    query = request.query
    candidates = [
        _bearer(authorization),
        request.headers.get("X-Goog-Api-Key", ""),
        request.headers.get("X-Api-Key", ""),
        query.get("key", ""),
        query.get("auth_token", ""),
    ]
    if not authorization and not any(candidates[1:]):
        return gin_json(401, {"error": "Missing API key"})
    if any(candidate and candidate in keys for candidate in candidates):
        return None
    return gin_json(401, {"error": "Invalid API key"})


def _bearer(header: str) -> str:
    scheme, sep, rest = header.partition(" ")
    if not sep or scheme.lower() != "bearer":
        return header
    return rest.strip()


def api_auth(handler: Handler) -> Handler:
    async def wrapper(request: web.Request) -> web.StreamResponse:
        return _client_auth_error(request) or await handler(request)

    return wrapper


# --- models and chat completions ------------------------------------------------------------


def _registered_models(state: LegacyState) -> list[tuple[str, dict[str, Any], str]]:
    """(client model id, compat entry, upstream model name) in config order, first one wins."""
    cfg = state.cfg
    seen: set[str] = set()
    out: list[tuple[str, dict[str, Any], str]] = []
    for compat in cfg["openai-compatibility"] or []:
        prefix = compat["prefix"].strip()
        for model in compat["models"] or []:
            base = (model["alias"] or model["name"]).strip()
            if not base:
                continue
            ids = [base]
            if prefix:
                ids = ([base] if not cfg["force-model-prefix"] or prefix == base else []) + [f"{prefix}/{base}"]
            for model_id in ids:
                out.append((model_id, compat, model["name"] or model["alias"]))
                if model_id not in seen:
                    seen.add(model_id)
                    state.model_created.setdefault(model_id, int(time.time()))
    return out


async def list_models(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    claude = request.headers.get("User-Agent", "").startswith("claude-cli")
    data: list[dict[str, Any]] = []
    listed: set[str] = set()
    for model_id, compat, _ in _registered_models(state):
        if model_id in listed:
            continue
        listed.add(model_id)
        created = state.model_created[model_id]
        if claude:
            item = {
                "created": created,
                "display_name": model_id,
                "id": model_id,
                "object": "model",
                "owned_by": compat["name"],
                "type": "openai-compatibility",
            }
        else:
            item = {"created": created, "id": model_id, "object": "model", "owned_by": compat["name"]}
        data.append(item)
    return gin_json(200, {"data": data} if claude else {"data": data, "object": "list"})


def _split_thinking_suffix(model: str) -> str:
    if model.endswith(")") and "(" in model:
        return model[: model.rindex("(")]
    return model


def _candidates(state: LegacyState, requested: str) -> list[tuple[dict[str, Any], str, str]]:
    """(compat entry, upstream model, api key) for every credential serving ``requested``."""
    models = _registered_models(state)
    base = _split_thinking_suffix(requested)
    matches = [(compat, upstream) for model_id, compat, upstream in models if model_id == base]
    if not matches:
        matches = [(compat, upstream) for model_id, compat, upstream in models if model_id == requested]
    matches.sort(key=lambda match: -match[0]["priority"])
    out = []
    for compat, upstream in matches:
        keys = [entry["api-key"] for entry in compat["api-key-entries"] or []] or [""]
        out.extend((compat, upstream, key) for key in keys)
    return out


def error_body(status: int, text: str) -> bytes:
    """BuildErrorResponseBody: JSON upstream text verbatim, otherwise an OpenAI-style wrapper."""
    trimmed = text.strip()
    if trimmed:
        try:
            json.loads(trimmed)
            return trimmed.encode()
        except ValueError:
            pass
    error_type, code = "invalid_request_error", ""
    if status == 401:
        error_type, code = "authentication_error", "invalid_api_key"
    elif status == 403:
        error_type, code = "permission_error", "insufficient_quota"
    elif status == 429:
        error_type, code = "rate_limit_error", "rate_limit_exceeded"
    elif status == 404:
        code = "model_not_found"
    elif status >= 500:
        error_type, code = "server_error", "internal_server_error"
    detail: dict[str, Any] = {"message": text, "type": error_type}
    if code:
        detail["code"] = code
    return go_json_bytes({"error": detail})


# http.StatusText where Go's wording differs from Python's HTTPStatus phrase.
_GO_STATUS_TEXT = {413: "Request Entity Too Large", 414: "Request URI Too Long", 416: "Requested Range Not Satisfiable",
                   418: "I'm a teapot", 422: "Unprocessable Entity"}


def status_text(status: int) -> str:
    if status in _GO_STATUS_TEXT:
        return _GO_STATUS_TEXT[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def write_error(status: int, text: str) -> web.Response:
    """WriteErrorResponse (handlers.go:647-694): the error's text trimmed, the status text when
    that leaves nothing."""
    text = text.strip() or status_text(status)
    response = web.Response(status=status, body=error_body(status, text))
    response.headers["Content-Type"] = "application/json"
    return response


async def chat_upstream(request: web.Request, body: dict[str, Any] | None, model_text: str, stream: bool
                        ) -> aiohttp.ClientResponse | bytes | web.Response:
    """A chat request through the OpenAI-compatible executor, credential by credential: the open
    upstream stream, the upstream body of a non-stream answer, or the error answer (unknown model,
    the last credential's failure)."""
    state = request.app[STATE_KEY]
    candidates = _candidates(state, model_text)
    if not candidates:
        return write_error(400, f"unknown provider for model {model_text}")
    session = request.app[SESSION_KEY]
    last_status, last_text = 500, ""
    for compat, upstream_model, api_key in candidates:
        payload = dict(body) if isinstance(body, dict) else {}
        payload["model"] = _split_thinking_suffix(upstream_model)
        headers = {"Content-Type": "application/json", "User-Agent": "cli-proxy-openai-compat"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        headers.update(compat["headers"] or {})
        if stream:
            headers.update({"Accept": "text/event-stream", "Cache-Control": "no-cache"})
        url = compat["base-url"].rstrip("/") + "/chat/completions"
        try:
            # Go's http.Client sends no Accept of its own (aiohttp would add */*).
            upstream = await session.post(url, data=json.dumps(payload, separators=(",", ":")), headers=headers,
                                          skip_auto_headers=("Accept",))
        except aiohttp.ClientError as exc:
            last_status, last_text = 500, _go_transport_error(url, exc)
            continue
        if not 200 <= upstream.status < 300:
            try:
                last_status, last_text = upstream.status, (await upstream.read()).decode("utf-8", "replace")
            except aiohttp.ClientError:
                last_status, last_text = upstream.status, ""
            upstream.release()
            continue
        if stream:
            return upstream
        try:
            return await upstream.read()
        except aiohttp.ClientError:
            last_status, last_text = 500, "unexpected EOF"
            continue
        finally:
            upstream.release()
    return write_error(last_status, last_text)


async def chat_completions(request: web.Request) -> web.StreamResponse:
    raw = await request.read()
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    model = body.get("model") if isinstance(body, dict) else None
    model_text = model if isinstance(model, str) else ("" if model is None else json.dumps(model))
    stream = isinstance(body, dict) and body.get("stream") is True
    answer = await chat_upstream(request, body, model_text, stream)
    if isinstance(answer, web.Response):
        return answer
    if isinstance(answer, bytes):
        response = web.Response(body=answer)
        response.headers["Content-Type"] = "application/json"
        return response
    return await _relay_stream(request, answer)


def _go_transport_error(url: str, exc: aiohttp.ClientError) -> str:
    """The text Go's http.Client error would carry, for the common refused-connection case."""
    if isinstance(exc, aiohttp.ClientConnectorError) and isinstance(exc.os_error, ConnectionRefusedError):
        return f'Post "{url}": dial tcp {exc.host}:{exc.port}: connect: connection refused'
    return f'Post "{url}": {exc}'


async def _upstream_lines(upstream: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    """bufio.Scanner lines (no 64 KiB cap like aiohttp's readline): split on LF, drop a final CR."""
    pending = b""
    async for piece in upstream.content.iter_any():
        pending += piece
        *lines, pending = pending.split(b"\n")
        for line in lines:
            yield line.removesuffix(b"\r")
    if pending:
        yield pending.removesuffix(b"\r")


async def _relay_stream(request: web.Request, upstream: aiohttp.ClientResponse) -> web.StreamResponse:
    """Headers wait for the first data line; each ``data:`` line becomes one SSE event."""
    response = web.StreamResponse(status=200)
    sse_headers = {
        "Content-Type": "text/event-stream",
        "Cache-Control": "no-cache",
        "Connection": "keep-alive",
        "Access-Control-Allow-Origin": "*",
    }
    try:
        async for line in _upstream_lines(upstream):
            if not line.startswith(b"data:"):
                continue
            chunk = line[5:].strip()
            if chunk == b"[DONE]":
                continue
            if not response.prepared:
                response.headers.update(sse_headers)
                await response.prepare(request)
            await response.write(b"data: " + chunk + b"\n\n")
    except aiohttp.ClientError as exc:
        # bufio.Scanner reports a cut-off body as io.ErrUnexpectedEOF.
        text = "unexpected EOF" if isinstance(exc, aiohttp.ClientPayloadError) else str(exc)
        if response.prepared:
            await response.write(b"data: " + error_body(500, text) + b"\n\n")
            await response.write_eof()
            return response
        return write_error(500, text)
    finally:
        upstream.release()
    if not response.prepared:
        response.headers.update(sse_headers)
        await response.prepare(request)
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response


# --- provider websocket relay (echo stand-in) --------------------------------------------------


async def websocket(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    if state.cfg["ws-auth"]:
        denied = _client_auth_error(request)
        if denied is not None:
            return denied
    ws = web.WebSocketResponse()
    if not ws.can_prepare(request).ok:
        # gorilla/websocket's Upgrader answers a plain request with http.Error(400).
        response = web.Response(status=400, body=b"Bad Request\n")
        response.headers["Content-Type"] = "text/plain; charset=utf-8"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Sec-Websocket-Version"] = "13"
        return response
    await ws.prepare(request)
    state.ws_sessions.add(ws)
    try:
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                await ws.send_str(message.data)
            elif message.type == WSMsgType.BINARY:
                await ws.send_bytes(message.data)
    finally:
        state.ws_sessions.discard(ws)
    return ws


# --- hot reload -------------------------------------------------------------------------------


def apply_management_availability(state: LegacyState) -> None:
    has_secret = bool(state.cfg["remote-management"]["secret-key"] or state.env_secret)
    if has_secret:
        state.mgmt_registered = True
        state.mgmt_enabled = True
    elif state.mgmt_registered:
        state.mgmt_enabled = False


async def _reload_once(state: LegacyState) -> None:
    try:
        data = state.config_path.read_bytes()
    except OSError:
        return
    digest = hashlib.sha256(data).hexdigest()
    if not data or digest == state.file_digest:
        return
    state.file_digest = digest
    try:
        new_cfg = load_config(state.config_path)
    except ConfigError as exc:
        print(f"config reload failed, keeping previous config: {exc}", file=sys.stderr)
        return
    new_cfg["auth-dir"] = resolve_auth_dir(new_cfg["auth-dir"])  # config_reload.go:93-97
    ws_auth_turned_on = new_cfg["ws-auth"] and not state.cfg["ws-auth"]
    state.cfg = new_cfg
    state.reload_count += 1
    apply_management_availability(state)
    if ws_auth_turned_on:
        for ws in list(state.ws_sessions):
            await ws.close()


async def _watch_config(state: LegacyState) -> None:
    last_stat: tuple[int, int, int] | None = None
    while True:
        await asyncio.sleep(POLL_SECONDS)
        try:
            stat = state.config_path.stat()
        except OSError:
            continue
        current = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        if current != last_stat:
            last_stat = current
            try:
                await _reload_once(state)
            except Exception as exc:  # a reload bug must not stop watching, like Go's watcher goroutine
                print(f"config reload error: {exc!r}", file=sys.stderr)


async def _startup(app: web.Application) -> None:
    app[SESSION_KEY] = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))
    app[RELOAD_TASK_KEY] = asyncio.create_task(_watch_config(app[STATE_KEY]))


async def _cleanup(app: web.Application) -> None:
    app[RELOAD_TASK_KEY].cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await app[RELOAD_TASK_KEY]
    for ws in list(app[STATE_KEY].ws_sessions):
        await ws.close()
    await app[SESSION_KEY].close()


# --- assembly -------------------------------------------------------------------------------


def create_legacy_app(
    config_path: str | Path, *, local_password: str = "", allow_exit: bool = False
) -> web.Application:
    """Load the config (hashing a plaintext secret into the file) and build the app."""
    path = Path(config_path).resolve()
    cfg = load_config(path)
    cfg["auth-dir"] = resolve_auth_dir(cfg["auth-dir"])  # main.go:420-425
    if cfg["auth-dir"]:
        # main.go creates the credential directory at startup.
        Path(cfg["auth-dir"]).expanduser().mkdir(parents=True, exist_ok=True)
    state = LegacyState(
        config_path=path,
        cfg=cfg,
        file_digest=hashlib.sha256(path.read_bytes()).hexdigest(),
        env_secret=os.environ.get("MANAGEMENT_PASSWORD", "").strip(),
        local_password=local_password,
    )
    apply_management_availability(state)
    app = web.Application(middlewares=[gin_middleware], client_max_size=512 * 1024 * 1024)
    app[STATE_KEY] = state
    app[ALLOW_PROCESS_EXIT] = allow_exit
    app.on_response_prepare.append(_on_prepare)
    app.on_startup.append(_startup)
    app.on_cleanup.append(_cleanup)
    app.router.add_get("/", root, allow_head=False)
    app.router.add_get("/v1/models", api_auth(list_models), allow_head=False)
    app.router.add_post("/v1/chat/completions", api_auth(chat_completions))
    app.router.add_post("/v1/completions", api_auth(completions))
    register_inference(app, api_auth)
    register_gemini_models(app, api_auth)
    app.router.add_get("/v1/ws", websocket, allow_head=False)
    register_management(app)
    register_faults(app)
    return app


async def start_legacy(
    config_path: str | Path, *, host: str = "127.0.0.1", port: int | None = 0
) -> tuple[web.AppRunner, str]:
    """Run the stand-in in this event loop. ``port=0`` picks a free port, ``None`` uses the config's."""
    app = create_legacy_app(config_path)
    state = app[STATE_KEY]
    bind_port = state.cfg["port"] if port is None else port
    runner = web.AppRunner(app, access_log=None, **RUNNER_OPTIONS)
    await runner.setup()
    site = web.TCPSite(runner, host, bind_port)
    await site.start()
    bound = runner.addresses[0][1]
    return runner, f"http://{host}:{bound}"


async def _serve_forever(config_path: str, password: str) -> None:
    try:
        app = create_legacy_app(config_path, local_password=password, allow_exit=True)
    except ConfigError as exc:
        print(f"failed to load config: {exc}", file=sys.stderr)
        raise SystemExit(1) from exc
    cfg = app[STATE_KEY].cfg
    runner = web.AppRunner(app, access_log=None, **RUNNER_OPTIONS)
    await runner.setup()
    # Go's http.Server with host "" listens on every interface.
    site = web.TCPSite(runner, cfg["host"] or None, cfg["port"])
    await site.start()
    print("CLIProxyAPI Version: dev, Commit: none, BuiltAt: unknown", flush=True)
    print(f"API server started successfully on: {cfg['host']}:{runner.addresses[0][1]}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    flags = parse_flags(sys.argv[1:] if argv is None else argv)
    if flags.login_mode:
        print(f"-{flags.login_mode} is not supported by the stand-in legacy server", file=sys.stderr)
        raise SystemExit(1)
    config_path = flags.config or str(Path.cwd() / "config.yaml")
    asyncio.run(_serve_forever(config_path, flags.password))


if __name__ == "__main__":
    main()
