"""A fast, deterministic Anthropic Messages upstream for the native-inference benchmarks.

    python benchmarks/fake_claude.py PORT

It answers ``POST .../v1/messages`` with the same content the anchors' ``mock_upstream.py``
gives OpenAI clients, so a translated request through the gateway and a pass-through request
through the naive proxy carry the same payload:

* the *full* answer: one 800-character text block, usage 10 in / 200 out. Streamed, it is the
  smallest event sequence Anthropic sends for it (``message_start``, ``content_block_start``, one
  ``text_delta``, ``content_block_stop``, ``message_delta``, ``message_stop``);
* the *token* stream: ``n`` text deltas ``"tok{i} "`` with ``delay_ms`` after each, like the
  mock's ``?n=&delay_ms=`` stream.

The gateway appends ``/v1/messages`` to a key's ``base-url`` and forwards no client query, so the
shape is chosen by a path prefix put in the base URL: ``/toks/{n}/{delay_ms}/v1/messages`` for
the token stream, anything else ending in ``/messages`` for the full answer. Whether to stream is
read from the body's ``stream`` field, as Anthropic does. The full answer's frames are built once
at start-up; a token frame is built when it is written, as the mock builds each of its chunks.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from aiohttp import web

MODEL = "claude-bench"
TEXT = "x" * 800
INPUT_TOKENS = 10
OUTPUT_TOKENS = 200
MESSAGE_ID = "msg_bench"


def _event(name: str, payload: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(payload, separators=(',', ':'))}\n\n".encode()


def _head() -> bytes:
    message = {"id": MESSAGE_ID, "type": "message", "role": "assistant", "model": MODEL, "content": [],
               "stop_reason": None, "stop_sequence": None,
               "usage": {"input_tokens": INPUT_TOKENS, "output_tokens": 1}}
    return (_event("message_start", {"type": "message_start", "message": message})
            + _event("content_block_start", {"type": "content_block_start", "index": 0,
                                             "content_block": {"type": "text", "text": ""}}))


def text_delta(text: str) -> bytes:
    return _event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                          "delta": {"type": "text_delta", "text": text}})


def _tail() -> bytes:
    return (_event("content_block_stop", {"type": "content_block_stop", "index": 0})
            + _event("message_delta", {"type": "message_delta",
                                       "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                                       "usage": {"output_tokens": OUTPUT_TOKENS}})
            + _event("message_stop", {"type": "message_stop"}))


HEAD = _head()
TAIL = _tail()
FULL_STREAM = HEAD + text_delta(TEXT) + TAIL
FULL_JSON = json.dumps({
    "id": MESSAGE_ID, "type": "message", "role": "assistant", "model": MODEL,
    "content": [{"type": "text", "text": TEXT}], "stop_reason": "end_turn", "stop_sequence": None,
    "usage": {"input_tokens": INPUT_TOKENS, "output_tokens": OUTPUT_TOKENS},
}).encode()
SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}


def wants_stream(body: bytes) -> bool:
    # The gateway renders compact JSON and LiteLLM spaced JSON; both forms are plain booleans.
    return b'"stream":true' in body or b'"stream": true' in body


def token_shape(path: str) -> tuple[int, float] | None:
    """``(n, delay seconds)`` for a ``/toks/{n}/{delay_ms}/...`` path, else None."""
    parts = path.split("/")
    if len(parts) > 4 and parts[1] == "toks":
        return int(parts[2]), float(parts[3]) / 1000
    return None


async def messages(request: web.Request) -> web.StreamResponse:
    body = await request.read()
    if not request.path.endswith("/messages"):
        raise web.HTTPNotFound()
    shape = token_shape(request.path)
    if not wants_stream(body):
        return web.Response(body=FULL_JSON, content_type="application/json")
    response = web.StreamResponse(headers=SSE_HEADERS)
    await response.prepare(request)
    if shape is None:
        await response.write(FULL_STREAM)
        return response
    count, delay = shape
    await response.write(HEAD)
    for i in range(count):
        await response.write(text_delta(f"tok{i} "))
        if delay:
            await asyncio.sleep(delay)
    await response.write(TAIL)
    return response


def make_app() -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/{tail:.*}", messages)
    return app


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    web.run_app(make_app(), host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
