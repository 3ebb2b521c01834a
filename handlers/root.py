"""``GET /``: the legacy server's greeting (``internal/api/server.go`` root route), no auth."""

from __future__ import annotations

from aiohttp import web

from quotio_gateway.management.responses import gin_h, json_response
from quotio_gateway.native import NativeRegistry

ROOT_MESSAGE = "CLI Proxy API Server"
ROOT_ENDPOINTS = ("POST /v1/chat/completions", "POST /v1/completions", "GET /v1/models")


async def get_root(request: web.Request) -> web.StreamResponse:
    return json_response(200, gin_h(message=ROOT_MESSAGE, endpoints=list(ROOT_ENDPOINTS)))


def setup_root(registry: NativeRegistry) -> None:
    registry.get("/", get_root)
