"""``GET /v1/ws``: where an AI Studio relay client connects (``AttachWebsocketRoute``).

With ``ws-auth: true`` the client API keys apply as on every ``/v1`` route (a browser passes one
as ``?key=``); the setting is read per connection, so a reload takes effect at once.
"""

from __future__ import annotations

from aiohttp import web

from handlers.client_auth import authenticate
from quotio_gateway.appkeys import CONFIG_STORE
from quotio_gateway.native import NativeRegistry

from .manager import RELAY
from .session import MAX_MESSAGE


async def relay_socket(request: web.Request) -> web.StreamResponse:
    cfg = request.app[CONFIG_STORE].current
    if cfg.ws_auth:
        verdict = authenticate(request, cfg.api_keys)
        if isinstance(verdict, web.StreamResponse):
            return verdict
    ws = web.WebSocketResponse(autoping=False, max_msg_size=MAX_MESSAGE)
    if not ws.can_prepare(request).ok:
        # gorilla's Upgrader answers a plain request with the status text.
        return web.Response(status=400, text="Bad Request\n", headers={"Sec-Websocket-Version": "13"})
    await ws.prepare(request)
    session = request.app[RELAY].attach(ws)
    await session.run()
    return ws


def setup_wsrelay_routes(registry: NativeRegistry) -> None:
    registry.get("/v1/ws", relay_socket)
