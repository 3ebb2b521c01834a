"""Test-only ``/__fault/*`` endpoints on the stand-in legacy server. The real binary has none of
these; they let the gateway's forwarder tests provoke slow, broken and odd upstream behaviour."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import os
import socket
import struct

from aiohttp import web

SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "Connection": "keep-alive"}
# When the stand-in runs in-process (inside pytest) die-mid-stream must not kill the test runner.
ALLOW_PROCESS_EXIT = web.AppKey("legacy_allow_process_exit", bool)


def _int_query(request: web.Request, name: str, default: int) -> int:
    try:
        return int(request.query.get(name, default))
    except ValueError:
        return default


def _sse_chunk(index: int) -> bytes:
    return b"data: " + json.dumps({"index": index}, separators=(",", ":")).encode() + b"\n\n"


async def fault_sse(request: web.Request) -> web.StreamResponse:
    count = _int_query(request, "n", 5)
    delay = _int_query(request, "delay_ms", 0) / 1000
    response = web.StreamResponse(headers=SSE_HEADERS)
    await response.prepare(request)
    for index in range(count):
        if index and delay:
            await asyncio.sleep(delay)
        await response.write(_sse_chunk(index))
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response


async def fault_slow(request: web.Request) -> web.Response:
    delay_ms = _int_query(request, "delay_ms", 1000)
    await asyncio.sleep(delay_ms / 1000)
    return web.json_response({"slept_ms": delay_ms})


async def fault_die_mid_stream(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers=SSE_HEADERS)
    await response.prepare(request)
    for index in range(_int_query(request, "n", 3)):
        await response.write(_sse_chunk(index))
    await asyncio.sleep(0.05)
    if request.app[ALLOW_PROCESS_EXIT]:
        os._exit(1)
    _hard_close(request)
    return response


def _hard_close(request: web.Request) -> None:
    """Close with RST (SO_LINGER 0) so the peer sees a reset, not a clean end of stream."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    transport.abort()


async def fault_reset(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.content_length = 1000
    await response.prepare(request)
    await response.write(b'{"partial":')
    await asyncio.sleep(0.05)
    _hard_close(request)
    return response


async def fault_echo(request: web.Request) -> web.Response:
    digest = hashlib.sha256()
    length = 0
    async for chunk in request.content.iter_chunked(1 << 16):
        digest.update(chunk)
        length += len(chunk)
    return web.json_response(
        {
            "method": request.method,
            "path": request.path,
            "raw_path": request.raw_path,
            "query": request.query_string,
            "headers": dict(request.headers),
            "header_list": [[k, v] for k, v in request.headers.items()],
            "body_length": length,
            "body_sha256": digest.hexdigest(),
        }
    )


async def fault_gzip(request: web.Request) -> web.Response:
    payload = json.dumps({"gzip": True, "text": "compressed by the stand-in"}).encode()
    return web.Response(
        body=gzip.compress(payload),
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )


async def fault_status(request: web.Request) -> web.Response:
    code_text = request.match_info["code"]
    if not code_text.isdigit() or not 200 <= int(code_text) <= 599:
        return web.json_response({"error": {"message": f"bad status {code_text}", "type": "fault"}}, status=400)
    code = int(code_text)
    body = {"error": {"message": f"fault status {code}", "type": "fault", "code": code}}
    if code in (204, 304):
        return web.Response(status=code)
    return web.json_response(body, status=code)


async def fault_headers(request: web.Request) -> web.Response:
    response = web.json_response({"headers": [[k, v] for k, v in request.query.items()]})
    for name, value in request.query.items():
        response.headers.add(name, value)
    return response


async def fault_stall(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers=SSE_HEADERS)
    await response.prepare(request)
    await response.write(_sse_chunk(0))
    # Hold the connection until the client goes away (the handler is then cancelled).
    await asyncio.Event().wait()
    return response


def register_faults(app: web.Application) -> None:
    routes = [
        ("/__fault/sse", fault_sse),
        ("/__fault/slow", fault_slow),
        ("/__fault/die-mid-stream", fault_die_mid_stream),
        ("/__fault/reset", fault_reset),
        ("/__fault/echo", fault_echo),
        ("/__fault/gzip", fault_gzip),
        ("/__fault/status/{code}", fault_status),
        ("/__fault/headers", fault_headers),
        ("/__fault/stall", fault_stall),
    ]
    for path, handler in routes:
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            app.router.add_route(method, path, handler)
