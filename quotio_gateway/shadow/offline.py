"""Native legs without a client connection: find a route's native handler and run it on a built request.

The front door never builds aiohttp Request objects for the requests it passes through, so a
shadowed request's native leg is run later (in the shadow worker process) on a request made from
the recorded head and body. The request is aiohttp's own Request class, built as its server builds
one (parsed head, body stream, routed match info) on a stand-in connection that reports the
original client's address, so handlers see the same method, target, headers, body, match info and
peer as on the aiohttp lane. Building it relies on aiohttp internals (``RawRequestMessage``,
``Request._match_info``); tests/quotio_gateway/shadow/test_offline.py fails if they change.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.http import HttpVersion11
from aiohttp.http_parser import RawRequestMessage
from aiohttp.streams import EMPTY_PAYLOAD, StreamReader
from aiohttp.web_urldispatcher import UrlMappingMatchInfo
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from ..frontdoor_http import aiohttp_text
from .capture import CapturingWriter, Handler, whole_body_reader
from .types import Captured


@dataclass(frozen=True, slots=True)
class _Probe:
    """The two things aiohttp's router reads from a request to resolve it."""

    method: str
    rel_url: URL


async def _match(app: web.Application, method: str, path: str) -> UrlMappingMatchInfo:
    return await app.router.resolve(_Probe(method, URL.build(path=path, encoded=True)))  # type: ignore[arg-type]


async def resolve_native(app: web.Application, method: str, path: str) -> tuple[Handler | None, dict[str, str]]:
    """The native handler the app routes (method, path) to, and its match info; (None, {}) if none."""
    match_info = await _match(app, method, path)
    native = getattr(match_info.handler, "quotio_native", None)
    return native, (dict(match_info) if native is not None else {})


class _PeerTransport:
    """Stands in for the client's socket: only its addresses are ever asked for."""

    def __init__(self, peer: str) -> None:
        self._extra: dict[str, Any] = {"peername": (peer, 0) if peer else None, "sockname": None,
                                       "sslcontext": None}

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._extra.get(name, default)

    def is_closing(self) -> bool:
        return False


class _Origin:
    """What web.Request reads from the connection it came on: a transport, addresses, parser limits."""

    max_field_size = 8190
    max_line_length = 8190
    max_headers = 128
    ssl_context = None
    sockname = None

    def __init__(self, peer: str, writer: CapturingWriter) -> None:
        self.transport = _PeerTransport(peer)
        self.peername = (peer, 0) if peer else None
        self.writer = writer


def build_request(app: web.Application, match_info: UrlMappingMatchInfo, *, method: str, target: str,
                  headers: list[tuple[str, str]], body: bytes, peer: str, writer: CapturingWriter) -> web.Request:
    """An aiohttp Request as the server would have made it for this head (the front door's latin-1
    text of it, as recorded), answering into ``writer``."""
    loop = asyncio.get_running_loop()
    if body:
        payload: StreamReader = whole_body_reader(body)
    else:
        payload = EMPTY_PAYLOAD  # as aiohttp's parser gives a bodiless request (body_exists False)
    path, _, query = target.partition("?")
    # The recorded head is the front door's latin-1 text: handlers get aiohttp's UTF-8 reading.
    proxy = CIMultiDictProxy(CIMultiDict((aiohttp_text(k), aiohttp_text(v)) for k, v in headers))
    raw = tuple((k.encode("latin-1"), v.encode("latin-1")) for k, v in headers)
    message = RawRequestMessage(method, aiohttp_text(target), HttpVersion11, proxy, raw, False, None, False, False,
                                URL.build(path=aiohttp_text(path), query_string=aiohttp_text(query), encoded=True))
    request = web.Request(message, payload, _Origin(peer, writer), writer, asyncio.current_task(), loop,  # type: ignore[arg-type]
                          client_max_size=max(len(body), 1024**2))
    match_info.add_app(app)
    match_info.freeze()
    # The same step aiohttp's app runs after routing (web_app._handle).
    request._match_info = match_info
    return request


async def run_native(app: web.Application, *, method: str, target: str, headers: list[tuple[str, str]],
                     body: bytes, peer: str, max_bytes: int) -> Captured:
    """What the route's native handler answers to this request; never raises (errors are captured)."""
    started = time.monotonic()
    writer = CapturingWriter(max_bytes)
    try:
        match_info = await _match(app, method, aiohttp_text(target.split("?", 1)[0]))
        native = getattr(match_info.handler, "quotio_native", None)
        if native is None:
            return Captured(status=0, headers=[], body=b"", error="NoNativeHandler")
        request = build_request(app, match_info, method=method, target=target, headers=headers, body=body,
                                peer=peer, writer=writer)
        try:
            response = await native(request)
        except web.HTTPException as exc:
            response = exc  # aiohttp sends a raised HTTP exception as the answer
        if not isinstance(response, web.StreamResponse):
            raise TypeError(f"handler returned {type(response).__name__}, not a response")
        await response.prepare(request)
        await response.write_eof()
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        return Captured(status=500, headers=[], body=b"", error=type(exc).__name__,
                        elapsed=time.monotonic() - started)
    return writer.tee.result(response.status, writer.headers, time.monotonic() - started)
