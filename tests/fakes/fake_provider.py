"""A deterministic OpenAI-style upstream used behind the stand-in legacy server and the gateway.

It answers like a minimal OpenAI-compatible provider and remembers every request it saw, so a test
can assert what the proxy sent upstream (path, headers, rewritten model, api key) via
``GET /__requests``. ``DELETE /__requests`` clears the log.

Run standalone with ``python -m tests.fakes.fake_provider --port N``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from aiohttp import web

REQUESTS_KEY = web.AppKey("fake_provider_requests", list)

# Models the provider claims to serve on GET /v1/models; chat accepts any model name.
PROVIDER_MODELS = ("fake-model", "fake-model-mini")
STREAM_WORDS = ("Hello", " from", " the", " fake", " provider")


def _completion_id(model: str) -> str:
    return f"chatcmpl-fake-{model}"


def chat_completion_body(model: str) -> dict[str, Any]:
    """The fixed non-stream answer for ``model``; tests compare against this."""
    return {
        "id": _completion_id(model),
        "object": "chat.completion",
        "created": 1700000000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "".join(STREAM_WORDS)},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": len(STREAM_WORDS), "total_tokens": 3 + len(STREAM_WORDS)},
    }


def chat_stream_chunks(model: str) -> list[dict[str, Any]]:
    """The fixed SSE chunk sequence for ``model`` (one content delta per word, then a stop chunk)."""
    chunks: list[dict[str, Any]] = []
    for index, word in enumerate(STREAM_WORDS):
        delta: dict[str, Any] = {"content": word}
        if index == 0:
            delta = {"role": "assistant", "content": word}
        chunks.append(
            {
                "id": _completion_id(model),
                "object": "chat.completion.chunk",
                "created": 1700000000,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
            }
        )
    chunks.append(
        {
            "id": _completion_id(model),
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": model,
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        }
    )
    return chunks


async def _record(request: web.Request) -> Any:
    raw = await request.read()
    body: Any = None
    if raw:
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
    request.app[REQUESTS_KEY].append(
        {
            "method": request.method,
            "path": request.path,
            "query": request.query_string,
            "headers": dict(request.headers),
            "json": body,
        }
    )
    return body


async def chat_completions(request: web.Request) -> web.StreamResponse:
    body = await _record(request)
    if not isinstance(body, dict):
        return web.json_response(
            {"error": {"message": "body must be a JSON object", "type": "invalid_request_error"}}, status=400
        )
    model = str(body.get("model", ""))
    # A test can ask the provider to fail by naming the status in the model, e.g. "fail-429".
    if model.startswith("fail-") and model[5:].isdigit():
        status = int(model[5:])
        return web.json_response(
            {"error": {"message": f"forced failure {status}", "type": "fake_error", "code": status}},
            status=status,
        )
    if body.get("stream") is not True:
        return web.json_response(chat_completion_body(model))
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(request)
    for chunk in chat_stream_chunks(model):
        await response.write(b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n")
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response


async def list_models(request: web.Request) -> web.Response:
    await _record(request)
    data = [{"id": m, "object": "model", "created": 1700000000, "owned_by": "fake"} for m in PROVIDER_MODELS]
    return web.json_response({"object": "list", "data": data})


async def get_requests(request: web.Request) -> web.Response:
    return web.json_response(request.app[REQUESTS_KEY])


async def clear_requests(request: web.Request) -> web.Response:
    request.app[REQUESTS_KEY].clear()
    return web.json_response({"cleared": True})


def create_provider_app() -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[REQUESTS_KEY] = []
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_get("/v1/models", list_models)
    app.router.add_get("/__requests", get_requests)
    app.router.add_delete("/__requests", clear_requests)
    return app


async def start_fake_provider(port: int = 0) -> tuple[web.AppRunner, str]:
    """Start the provider on 127.0.0.1:``port`` (0 = free port); returns the runner and base URL."""
    runner = web.AppRunner(create_provider_app(), access_log=None, handler_cancellation=True, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    bound = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{bound}"


def main() -> None:
    parser = argparse.ArgumentParser(description="Fake OpenAI-compatible upstream for tests")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    web.run_app(
        create_provider_app(),
        host=args.host,
        port=args.port,
        access_log=None,
        print=None,
        handler_cancellation=True,
        shutdown_timeout=1.0,
    )


if __name__ == "__main__":
    main()
